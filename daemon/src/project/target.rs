//! Which chip a build is for.
//!
//! Precedence, first that applies:
//! 1. the explicit `target` param (`--target`);
//! 2. `default_target` in `.espctl.toml` (kept up to date by `set_target` and `set_target.run`);
//! 3. the target already configured in the build dir (`CMakeCache.txt`) or in `sdkconfig`;
//! 4. `IDF_TARGET` in the caller's environment;
//! 5. `CONFIG_IDF_TARGET` in the sdkconfig defaults files;
//! 6. `esp32`.
//!
//! A chosen target that differs from the configured one is not an error (as it is for idf.py): the
//! plan adds the set-target steps instead.

use std::path::Path;

use espctl_protocol::{Chip, ErrorCode};

use crate::error::DaemonError;

/// Checks a target name: one of the ten chips, or `linux` when the IDF tree supports host builds.
pub fn validate(name: &str, linux_supported: bool) -> Result<String, DaemonError> {
    let trimmed = name.trim();
    if trimmed == "linux" {
        if linux_supported {
            return Ok("linux".into());
        }
        return Err(DaemonError::new(
            ErrorCode::InvalidTarget,
            "target `linux` is not supported by this ESP-IDF (it has no tools/cmake/toolchain-linux.cmake)",
        )
        .with_hint(format!("valid targets: {}", Chip::list(&Chip::ALL))));
    }
    match trimmed.parse::<Chip>() {
        Ok(chip) => Ok(chip.name().to_string()),
        Err(_) => {
            let mut valid = Chip::list(&Chip::ALL);
            if linux_supported {
                valid.push_str(", linux");
            }
            Err(DaemonError::new(
                ErrorCode::InvalidTarget,
                format!("unknown target `{trimmed}`; valid targets are: {valid}"),
            )
            .with_hint("pass --target with one of them"))
        }
    }
}

/// The target recorded in the build dir's CMake cache, else in the sdkconfig, with where it was found.
pub fn configured_target(build_dir: &Path, sdkconfig: &Path) -> Option<(String, &'static str)> {
    if let Ok(cache) = std::fs::read_to_string(build_dir.join("CMakeCache.txt")) {
        for line in cache.lines() {
            if let Some(v) = line.strip_prefix("IDF_TARGET:")
                && let Some((_, value)) = v.split_once('=')
                && !value.trim().is_empty()
            {
                return Some((value.trim().to_string(), "build dir (CMakeCache.txt)"));
            }
        }
    }
    let text = std::fs::read_to_string(sdkconfig).ok()?;
    sdkconfig_target(&text).map(|t| (t, "sdkconfig"))
}

/// `CONFIG_IDF_TARGET="..."` in sdkconfig-style text.
pub fn sdkconfig_target(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let v = l.trim().strip_prefix("CONFIG_IDF_TARGET=")?;
        let v = v.trim().trim_matches('"');
        (!v.is_empty()).then(|| v.to_string())
    })
}

/// What the target choice looked at.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    pub explicit: Option<String>,
    pub espctl_toml: Option<String>,
    pub configured: Option<(String, &'static str)>,
    pub env: Option<String>,
    /// From the defaults files, with the file name.
    pub defaults: Option<(String, String)>,
    pub linux_supported: bool,
}

/// The chosen target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub target: String,
    pub source: String,
    /// The target the build dir or sdkconfig is configured for, when it differs from the choice.
    pub reconfigure_from: Option<String>,
}

pub fn choose(inputs: &Inputs) -> Result<Choice, DaemonError> {
    let (raw, source) = if let Some(t) = &inputs.explicit {
        (t.clone(), "param".to_string())
    } else if let Some(t) = &inputs.espctl_toml {
        (t.clone(), ".espctl.toml default_target".to_string())
    } else if let Some((t, from)) = &inputs.configured {
        (t.clone(), from.to_string())
    } else if let Some(t) = inputs.env.as_ref().filter(|t| !t.is_empty()) {
        (t.clone(), "IDF_TARGET environment variable".to_string())
    } else if let Some((t, file)) = &inputs.defaults {
        (t.clone(), format!("CONFIG_IDF_TARGET in {file}"))
    } else {
        ("esp32".to_string(), "default".to_string())
    };
    let target = validate(&raw, inputs.linux_supported).map_err(|mut e| {
        e.message = format!("{} (from {source})", e.message);
        e
    })?;
    let reconfigure_from = inputs
        .configured
        .as_ref()
        .map(|(t, _)| t.clone())
        .filter(|t| *t != target);
    Ok(Choice {
        target,
        source,
        reconfigure_from,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence() {
        let mut i = Inputs {
            explicit: Some("esp32s3".into()),
            espctl_toml: Some("esp32c6".into()),
            configured: Some(("esp32c3".into(), "sdkconfig")),
            env: Some("esp32h2".into()),
            defaults: Some(("esp32c2".into(), "sdkconfig.defaults".into())),
            linux_supported: false,
        };
        let c = choose(&i).unwrap();
        assert_eq!((c.target.as_str(), c.source.as_str()), ("esp32s3", "param"));
        assert_eq!(c.reconfigure_from.as_deref(), Some("esp32c3"));
        i.explicit = None;
        assert_eq!(choose(&i).unwrap().target, "esp32c6");
        i.espctl_toml = None;
        let c = choose(&i).unwrap();
        assert_eq!((c.target.as_str(), c.reconfigure_from), ("esp32c3", None));
        i.configured = None;
        assert_eq!(choose(&i).unwrap().target, "esp32h2");
        i.env = None;
        assert_eq!(
            choose(&i).unwrap().source,
            "CONFIG_IDF_TARGET in sdkconfig.defaults"
        );
        i.defaults = None;
        assert_eq!(choose(&i).unwrap().target, "esp32");
    }

    #[test]
    fn invalid_targets_list_the_valid_ones() {
        let e = choose(&Inputs {
            explicit: Some("esp8266".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidTarget);
        assert!(
            e.message.contains("esp32c61") && e.message.contains("(from param)"),
            "{}",
            e.message
        );
        assert!(validate("linux", false).is_err());
        assert_eq!(validate("linux", true).unwrap(), "linux");
        assert_eq!(validate("ESP32-C3", false).unwrap(), "esp32c3");
    }

    #[test]
    fn reads_the_configured_target() {
        let t = tempfile::tempdir().unwrap();
        let build = t.path().join("build");
        std::fs::create_dir_all(&build).unwrap();
        let sdk = t.path().join("sdkconfig");
        std::fs::write(&sdk, "CONFIG_IDF_TARGET=\"esp32s2\"\n").unwrap();
        assert_eq!(
            configured_target(&build, &sdk),
            Some(("esp32s2".into(), "sdkconfig"))
        );
        std::fs::write(
            build.join("CMakeCache.txt"),
            "FOO:BOOL=ON\nIDF_TARGET:STRING=esp32c3\n",
        )
        .unwrap();
        assert_eq!(
            configured_target(&build, &sdk),
            Some(("esp32c3".into(), "build dir (CMakeCache.txt)"))
        );
    }
}
