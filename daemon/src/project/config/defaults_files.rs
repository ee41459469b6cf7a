//! Which defaults files a configure loads, in order, as ESP-IDF computes it.
//!
//! `tools/cmake/project.cmake` starts from `$ENV{SDKCONFIG_DEFAULTS}`; when that is empty (a CMake
//! false value) it takes `<project>/sdkconfig.defaults` if the file exists; a non-empty CMake variable
//! `SDKCONFIG_DEFAULTS` (set in the project's CMakeLists.txt before `project()`, or `-D` on the
//! command line / in the cache) replaces either. The value is a `;` list; each entry is made absolute
//! against the project directory and must exist. Then `tools/cmake/kconfig.cmake` passes each file
//! `F` to kconfgen followed by `F.<target>` when that exists. Later files override earlier ones.

use std::path::{Path, PathBuf};

use super::{ConfigError, absolutize};

/// One defaults file, in load order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultsFile {
    pub path: PathBuf,
    /// `F.<target>`, added after `F` because it exists.
    pub target_specific: bool,
}

/// The defaults files for a configure of `project_dir` for `target`.
///
/// `cmake_var` is the CMake variable `SDKCONFIG_DEFAULTS` (from the project CMakeLists or the cache),
/// `env_var` the environment variable of the same name. Errors when a listed file does not exist, as
/// the configure would.
pub fn defaults_files(
    project_dir: &Path,
    target: &str,
    cmake_var: Option<&str>,
    env_var: Option<&str>,
) -> Result<Vec<DefaultsFile>, ConfigError> {
    let (list, origin): (Vec<String>, &str) = match (cmake_var, env_var) {
        (Some(v), _) if !cmake_is_off(v) => {
            (split_cmake_list(v), "the SDKCONFIG_DEFAULTS CMake variable")
        }
        (_, Some(v)) if !cmake_is_off(v) => (
            split_cmake_list(v),
            "the SDKCONFIG_DEFAULTS environment variable",
        ),
        _ => {
            let default = project_dir.join("sdkconfig.defaults");
            if default.exists() {
                (
                    vec![default.to_string_lossy().into_owned()],
                    "the project directory",
                )
            } else {
                (Vec::new(), "")
            }
        }
    };
    let mut out = Vec::new();
    for entry in list {
        let path = absolutize(project_dir, Path::new(&entry));
        if !path.exists() {
            return Err(ConfigError::MissingDefaultsFile {
                path,
                origin: origin.to_string(),
            });
        }
        let mut target_file = path.clone().into_os_string();
        target_file.push(".");
        target_file.push(target);
        let target_file = PathBuf::from(target_file);
        out.push(DefaultsFile {
            path,
            target_specific: false,
        });
        if target_file.exists() {
            out.push(DefaultsFile {
                path: target_file,
                target_specific: true,
            });
        }
    }
    Ok(out)
}

/// CMake's list splitting of an unquoted `${var}`: on `;` not preceded by a backslash, dropping
/// empty elements.
fn split_cmake_list(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&';') => {
                cur.push(';');
                chars.next();
            }
            ';' => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            other => cur.push(other),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// CMake's false constants for `if(<variable>)`: empty, `0`, `OFF`, `NO`, `FALSE`, `N`, `IGNORE`,
/// `NOTFOUND`, or ending in `-NOTFOUND` (case-insensitive).
fn cmake_is_off(value: &str) -> bool {
    let upper = value.to_ascii_uppercase();
    matches!(
        upper.as_str(),
        "" | "0" | "OFF" | "NO" | "FALSE" | "N" | "IGNORE" | "NOTFOUND"
    ) || upper.ends_with("-NOTFOUND")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(dir: &Path, name: &str) -> PathBuf {
        let p = dir.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, "").unwrap();
        p
    }

    fn paths(files: &[DefaultsFile]) -> Vec<String> {
        files
            .iter()
            .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn nothing_when_no_defaults_file() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            defaults_files(dir.path(), "esp32", None, None)
                .unwrap()
                .is_empty()
        );
        // A target file alone is not picked up without its base file.
        touch(dir.path(), "sdkconfig.defaults.esp32");
        assert!(
            defaults_files(dir.path(), "esp32", None, None)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn project_defaults_then_target_file() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "sdkconfig.defaults");
        let files = defaults_files(dir.path(), "esp32c3", None, None).unwrap();
        assert_eq!(paths(&files), ["sdkconfig.defaults"]);
        touch(dir.path(), "sdkconfig.defaults.esp32c3");
        touch(dir.path(), "sdkconfig.defaults.esp32s3");
        let files = defaults_files(dir.path(), "esp32c3", None, None).unwrap();
        assert_eq!(
            paths(&files),
            ["sdkconfig.defaults", "sdkconfig.defaults.esp32c3"]
        );
        assert!(files[1].target_specific && !files[0].target_specific);
        assert_eq!(files[0].path, dir.path().join("sdkconfig.defaults"));
    }

    #[test]
    fn list_order_relative_paths_and_target_files() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "sdkconfig.defaults");
        touch(dir.path(), "cfg/a");
        touch(dir.path(), "cfg/a.esp32");
        touch(dir.path(), "b");
        let files = defaults_files(dir.path(), "esp32", Some("cfg/a;;./b"), None).unwrap();
        assert_eq!(paths(&files), ["a", "a.esp32", "b"]);
        assert_eq!(files[2].path, dir.path().join("b"));
        // The environment variable is used when the CMake variable is not set ...
        let files = defaults_files(dir.path(), "esp32", None, Some("b")).unwrap();
        assert_eq!(paths(&files), ["b"]);
        // ... and the CMake variable wins over it.
        let files = defaults_files(dir.path(), "esp32", Some("cfg/a"), Some("b")).unwrap();
        assert_eq!(paths(&files), ["a", "a.esp32"]);
        // Empty or false values fall back to sdkconfig.defaults.
        let files = defaults_files(dir.path(), "esp32", Some(""), Some("OFF")).unwrap();
        assert_eq!(paths(&files), ["sdkconfig.defaults"]);
        // Absolute entries stay as they are.
        let abs = dir.path().join("b");
        let files = defaults_files(
            Path::new("/nonexistent"),
            "esp32",
            Some(abs.to_str().unwrap()),
            None,
        )
        .unwrap();
        assert_eq!(files[0].path, abs);
    }

    #[test]
    fn missing_listed_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = defaults_files(dir.path(), "esp32", None, Some("nope;also")).unwrap_err();
        assert!(matches!(err, ConfigError::MissingDefaultsFile { .. }));
        let msg = err.to_string();
        assert!(
            msg.contains("nope") && msg.contains("environment variable"),
            "{msg}"
        );
        assert_eq!(err.code(), espctl_protocol::ErrorCode::Config);
    }

    #[test]
    fn cmake_list_rules() {
        assert_eq!(split_cmake_list("a;b;;c;"), ["a", "b", "c"]);
        assert_eq!(split_cmake_list("a\\;b;c"), ["a;b", "c"]);
        assert!(split_cmake_list("").is_empty());
        assert!(cmake_is_off("x-NOTFOUND") && cmake_is_off("no") && !cmake_is_off("0.0"));
    }
}
