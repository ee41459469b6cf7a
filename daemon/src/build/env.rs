//! The environment builds run in: an ESP-IDF install activated once (its `export.sh`, or the ESP-IDF
//! Installation Manager's activation script) with the result cached per install, and a check that the
//! tools a build needs are there.
//!
//! Activation starts from the caller's environment (the variables the client forwarded, plus the
//! user's HOME and locale), never from the daemon's own.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use espctl_protocol::ErrorCode;

use crate::error::DaemonError;
use crate::project::idf::Install;
use crate::sync::LockExt;

/// An activated environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activated {
    pub vars: BTreeMap<String, String>,
    /// What produced it, for plans and logs: `export.sh` or the activation script's path.
    pub via: String,
}

/// (install path, the caller's environment): an activation depends on both.
type EnvKey = (PathBuf, Vec<(String, String)>);

/// An activation and the modification time of the script that produced it.
type EnvEntry = (Option<SystemTime>, Arc<Activated>);

/// Activated environments, per install and caller environment, invalidated when the script changes.
#[derive(Default)]
pub struct EnvCache {
    entries: Mutex<HashMap<EnvKey, EnvEntry>>,
}

/// The variables of the daemon's own environment that describe the user rather than a shell session,
/// and so belong in every build environment.
const USER_VARS: [&str; 6] = ["HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TMPDIR"];

/// The base environment: the caller's forwarded variables over the user's identity variables.
pub fn base_env(caller: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = USER_VARS
        .iter()
        .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
        .collect();
    env.entry("PATH".into())
        .or_insert_with(|| "/usr/local/bin:/usr/bin:/bin".into());
    for (k, v) in caller {
        env.insert(k.clone(), v.clone());
    }
    env
}

impl EnvCache {
    /// Activates `install` (or returns the cached activation).
    pub fn activate(
        &self,
        install: &Install,
        caller: &BTreeMap<String, String>,
    ) -> Result<Arc<Activated>, DaemonError> {
        let (script, via) = match &install.activation_script {
            Some(s) if s.is_file() => (s.clone(), s.display().to_string()),
            _ => (install.path.join("export.sh"), "export.sh".to_string()),
        };
        if !script.is_file() {
            return Err(DaemonError::new(
                ErrorCode::Config,
                format!(
                    "the ESP-IDF at {} has no export.sh to activate it",
                    install.path.display()
                ),
            )
            .with_hint(
                "check the install (run its install.sh), or point IDF_PATH at a complete ESP-IDF",
            ));
        }
        let stamp = std::fs::metadata(&script).and_then(|m| m.modified()).ok();
        let key = (
            install.path.clone(),
            caller.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        );
        if let Some((cached_stamp, env)) = self.entries.locked().get(&key)
            && *cached_stamp == stamp
        {
            return Ok(env.clone());
        }
        let mut base = base_env(caller);
        base.insert("IDF_PATH".into(), install.path.display().to_string());
        if let Some(tools) = &install.tools_path {
            base.insert("IDF_TOOLS_PATH".into(), tools.display().to_string());
        }
        let vars = run_activation(&script, &install.path, &base)?;
        let activated = Arc::new(Activated { vars, via });
        self.entries
            .locked()
            .insert(key, (stamp, activated.clone()));
        Ok(activated)
    }
}

/// Sources `script` in bash and captures the environment it leaves (NUL-separated `env -0`).
fn run_activation(
    script: &Path,
    idf_path: &Path,
    base: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, DaemonError> {
    let shell_script = ". \"$ESPCTL_ACTIVATE\" >&2 || exit 97\nenv -0";
    let mut env = base.clone();
    env.insert("ESPCTL_ACTIVATE".into(), script.display().to_string());
    let out = std::process::Command::new("bash")
        .args(["--noprofile", "--norc", "-c", shell_script])
        .current_dir(idf_path)
        .env_clear()
        .envs(&env)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| {
            DaemonError::new(
                ErrorCode::Config,
                format!("cannot run bash to activate ESP-IDF: {e}"),
            )
            .with_hint("install bash")
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(DaemonError::new(
            ErrorCode::Config,
            format!(
                "activating ESP-IDF with {} failed:\n{}",
                script.display(),
                tail.join("\n")
            ),
        )
        .with_hint(format!(
            "run `. {}` in a shell to see the problem; usually `{}/install.sh` needs to run first",
            script.display(),
            idf_path.display()
        )));
    }
    let mut vars = BTreeMap::new();
    for entry in out.stdout.split(|b| *b == 0) {
        let entry = String::from_utf8_lossy(entry);
        if let Some((k, v)) = entry.split_once('=')
            && !k.is_empty()
        {
            vars.insert(k.to_string(), v.to_string());
        }
    }
    for noise in ["ESPCTL_ACTIVATE", "SHLVL", "_", "PWD", "OLDPWD"] {
        vars.remove(noise);
    }
    Ok(vars)
}

/// Finds `program` on the PATH of `env`.
pub fn which(program: &str, env: &BTreeMap<String, String>) -> Option<PathBuf> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        return p.is_file().then_some(p);
    }
    let path = env.get("PATH")?;
    std::env::split_paths(path)
        .map(|d| d.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The C compiler a target's toolchain file names, else Espressif's standard name.
pub fn cross_compiler(idf_path: Option<&Path>, target: &str) -> String {
    if let Some(idf) = idf_path
        && let Ok(text) =
            std::fs::read_to_string(idf.join(format!("tools/cmake/toolchain-{target}.cmake")))
    {
        for line in text.lines() {
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("set(CMAKE_C_COMPILER") {
                let name = rest.trim().trim_end_matches(')').trim().trim_matches('"');
                if !name.is_empty() && !name.contains("${") {
                    return name.to_string();
                }
            }
        }
    }
    match target {
        "esp32" | "esp32s2" | "esp32s3" => format!("xtensa-{target}-elf-gcc"),
        "linux" => "gcc".to_string(),
        _ => "riscv32-esp-elf-gcc".to_string(),
    }
}

/// The tools a build needs, found.
#[derive(Debug, Clone)]
pub struct Tools {
    pub cmake: PathBuf,
    pub ninja: PathBuf,
    pub python: PathBuf,
    pub compiler: PathBuf,
    pub ccache: Option<PathBuf>,
}

/// Checks cmake, ninja, Python and the target's cross compiler in `env`; the first missing one is a
/// configuration error naming it and how to install it.
pub fn check_tools(
    env: &BTreeMap<String, String>,
    idf_path: Option<&Path>,
    target: &str,
    needs_ninja: bool,
) -> Result<Tools, DaemonError> {
    let missing = |tool: &str, how: String| {
        DaemonError::new(
            ErrorCode::Config,
            format!("{tool} was not found on the build environment's PATH"),
        )
        .with_hint(how)
    };
    let install_sh = idf_path
        .map(|p| format!("{}/install.sh {target}", p.display()))
        .unwrap_or_else(|| "the ESP-IDF install.sh".into());
    let cmake = which("cmake", env).ok_or_else(|| {
        missing(
            "cmake",
            format!("run {install_sh} (it installs cmake into IDF_TOOLS_PATH), or install cmake 3.16+ from your distribution"),
        )
    })?;
    let ninja = match which("ninja", env) {
        Some(n) => n,
        None if !needs_ninja => PathBuf::new(),
        None => {
            return Err(missing(
                "ninja",
                format!("run {install_sh}, or install ninja-build from your distribution"),
            ));
        }
    };
    let python = env
        .get("IDF_PYTHON_ENV_PATH")
        .map(|p| PathBuf::from(p).join("bin/python"))
        .filter(|p| is_executable(p))
        .or_else(|| which("python", env))
        .or_else(|| which("python3", env))
        .ok_or_else(|| {
            missing(
                "python",
                format!("run {install_sh} to create ESP-IDF's Python environment"),
            )
        })?;
    let compiler_name = cross_compiler(idf_path, target);
    let compiler = which(&compiler_name, env).ok_or_else(|| {
        missing(
            &compiler_name,
            format!("the {target} toolchain is not installed: run {install_sh}, then build again"),
        )
    })?;
    let ccache = match env.get("IDF_CCACHE_ENABLE").map(String::as_str) {
        Some("0") => None,
        _ => which("ccache", env),
    };
    Ok(Tools {
        cmake,
        ninja,
        python,
        compiler,
        ccache,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_install(dir: &Path, export: &str) -> Install {
        std::fs::create_dir_all(dir.join("tools/cmake")).unwrap();
        std::fs::write(dir.join("export.sh"), export).unwrap();
        std::fs::write(
            dir.join("tools/cmake/toolchain-esp32c3.cmake"),
            "set(CMAKE_SYSTEM_NAME Generic)\nset(CMAKE_C_COMPILER riscv32-esp-elf-gcc)\n",
        )
        .unwrap();
        Install {
            path: dir.to_path_buf(),
            version: None,
            found_via: "IDF_PATH",
            activation_script: None,
            tools_path: None,
        }
    }

    #[test]
    fn activation_captures_and_caches_the_environment() {
        let t = tempfile::tempdir().unwrap();
        let bin = t.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let install = fake_install(
            &t.path().join("idf"),
            &format!(
                "export PATH=\"{}:$PATH\"\nexport IDF_PYTHON_ENV_PATH=/nowhere\necho activated >&2\ncount=$(cat {c} 2>/dev/null || echo 0); echo $((count+1)) > {c}\n",
                bin.display(),
                c = t.path().join("count").display()
            ),
        );
        let cache = EnvCache::default();
        let mut caller = BTreeMap::new();
        caller.insert("PATH".to_string(), "/usr/bin:/bin".to_string());
        caller.insert("ESPPORT".to_string(), "/dev/ttyUSB0".to_string());
        let a = cache.activate(&install, &caller).unwrap();
        assert!(a.vars["PATH"].starts_with(&bin.display().to_string()));
        assert_eq!(a.vars["IDF_PATH"], install.path.display().to_string());
        assert_eq!(a.vars["ESPPORT"], "/dev/ttyUSB0");
        assert!(!a.vars.contains_key("ESPCTL_ACTIVATE"));
        let again = cache.activate(&install, &caller).unwrap();
        assert!(Arc::ptr_eq(&a, &again));
        assert_eq!(
            std::fs::read_to_string(t.path().join("count"))
                .unwrap()
                .trim(),
            "1"
        );
    }

    #[test]
    fn a_failing_export_is_a_config_error_with_its_output() {
        let t = tempfile::tempdir().unwrap();
        let install = fake_install(
            &t.path().join("idf"),
            "echo 'tools missing: run install.sh' >&2\nreturn 1\n",
        );
        let err = EnvCache::default()
            .activate(&install, &BTreeMap::new())
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::Config);
        assert!(err.message.contains("tools missing"), "{}", err.message);
    }

    #[test]
    fn tool_check_names_what_is_missing() {
        let t = tempfile::tempdir().unwrap();
        let bin = t.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let install = fake_install(&t.path().join("idf"), "");
        let mk = |name: &str| {
            use std::os::unix::fs::PermissionsExt;
            let p = bin.join(name);
            std::fs::write(&p, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        let mut env = BTreeMap::new();
        env.insert("PATH".to_string(), bin.display().to_string());
        let err = check_tools(&env, Some(&install.path), "esp32c3", true).unwrap_err();
        assert!(
            err.message.starts_with("cmake was not found"),
            "{}",
            err.message
        );
        mk("cmake");
        mk("ninja");
        mk("python3");
        let err = check_tools(&env, Some(&install.path), "esp32c3", true).unwrap_err();
        assert!(
            err.message.starts_with("riscv32-esp-elf-gcc"),
            "{}",
            err.message
        );
        assert!(err.hint.unwrap().contains("install.sh esp32c3"));
        mk("riscv32-esp-elf-gcc");
        let tools = check_tools(&env, Some(&install.path), "esp32c3", true).unwrap();
        assert!(tools.compiler.ends_with("riscv32-esp-elf-gcc"));
        assert_eq!(cross_compiler(None, "esp32s3"), "xtensa-esp32s3-elf-gcc");
    }
}
