//! The stand-in ESP-IDF and the real tools around it: where the stand-in is, the environment its
//! `export.sh` sets up, and timed runs of CMake and Ninja (the baselines of the planner and clean
//! benchmarks).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// The stand-in ESP-IDF of the source tree this bench was built from.
pub fn standin_idf() -> anyhow::Result<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("tests")
        .join("fixtures")
        .join("standin-idf");
    std::fs::canonicalize(&path).with_context(|| {
        format!(
            "cannot find the stand-in ESP-IDF at {} (the planner benchmarks need the source tree)",
            path.display()
        )
    })
}

/// How to get a Python with kconfgen, for error messages.
pub const KCONFGEN_HINT: &str = "the planner benchmarks configure with the real kconfgen: install \
     esp-idf-kconfig into a Python (`python3 -m venv /tmp/espvenv && /tmp/espvenv/bin/pip install \
     esp-idf-kconfig`) and point IDF_PYTHON at it (`IDF_PYTHON=/tmp/espvenv/bin/python`), or make \
     `python3` on PATH one that can `import kconfgen`";

/// A Python that can `import kconfgen`: `$IDF_PYTHON`, else `python3` on PATH.
pub fn kconfgen_python() -> anyhow::Result<PathBuf> {
    let candidate = std::env::var_os("IDF_PYTHON")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("python3"));
    let works = Command::new(&candidate)
        .args(["-c", "import kconfgen"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !works {
        bail!(
            "{} cannot `import kconfgen`: {KCONFGEN_HINT}",
            candidate.display()
        );
    }
    Ok(candidate)
}

/// Fails with a clear message when CMake, Ninja or bash is missing.
pub fn require_tools() -> anyhow::Result<()> {
    for tool in ["cmake", "ninja", "bash"] {
        let ok = Command::new(tool)
            .arg("--version")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            bail!(
                "`{tool}` is not on PATH: the planner and clean benchmarks compare with real CMake \
                 and Ninja configures and builds (install cmake, ninja-build and bash)"
            );
        }
    }
    Ok(())
}

/// The environment an ESP-IDF tree's `export.sh` sets up.
#[derive(Debug, Clone)]
pub struct IdfEnv {
    /// IDF_PATH, PATH, IDF_PYTHON_ENV_PATH, ESP_IDF_VERSION.
    pub vars: Vec<(String, String)>,
}

impl IdfEnv {
    /// Sources `<idf>/export.sh` in bash with `IDF_PYTHON` set to a Python that has kconfgen.
    pub fn from_export(idf: &Path) -> anyhow::Result<IdfEnv> {
        require_tools()?;
        let python = kconfgen_python()?;
        let export = idf.join("export.sh");
        let script = format!(
            ". '{}' >/dev/null && printf '%s\\0' \"$IDF_PATH\" \"$PATH\" \"$IDF_PYTHON_ENV_PATH\" \
             \"$ESP_IDF_VERSION\"",
            export.display()
        );
        let out = Command::new("bash")
            .args(["-c", &script])
            .env("IDF_PYTHON", &python)
            .env_remove("IDF_PATH")
            .stdin(Stdio::null())
            .output()
            .context("cannot run bash")?;
        if !out.status.success() {
            bail!(
                "sourcing {} failed ({}): {}",
                export.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let text = String::from_utf8(out.stdout).context("export.sh printed non-UTF-8")?;
        let names = ["IDF_PATH", "PATH", "IDF_PYTHON_ENV_PATH", "ESP_IDF_VERSION"];
        let values: Vec<&str> = text.split('\0').collect();
        if values.len() < names.len() {
            bail!("sourcing {} printed no environment", export.display());
        }
        Ok(IdfEnv {
            vars: names
                .iter()
                .zip(values)
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
        })
    }

    /// What a client forwards to the daemon (`IDF_PATH` and `PATH`).
    pub fn forwarded(&self) -> BTreeMap<String, String> {
        self.vars
            .iter()
            .filter(|(k, _)| k == "IDF_PATH" || k == "PATH")
            .cloned()
            .collect()
    }

    /// A command with this environment (and no `IDF_TARGET` from the bench's own).
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.envs(self.vars.iter().map(|(k, v)| (k, v)))
            .env_remove("IDF_TARGET")
            .stdin(Stdio::null());
        cmd
    }
}

/// Runs `cmd`, failing with its output when it fails; returns the output and the wall time.
pub fn run_timed(cmd: &mut Command, what: &str) -> anyhow::Result<(Output, Duration)> {
    let start = Instant::now();
    let out = cmd.output().with_context(|| format!("cannot run {what}"))?;
    let took = start.elapsed();
    if !out.status.success() {
        let tail = |b: &[u8]| {
            let s = String::from_utf8_lossy(b);
            let lines: Vec<&str> = s.lines().collect();
            lines[lines.len().saturating_sub(30)..].join("\n")
        };
        bail!(
            "{what} failed with {}:\n{}\n{}",
            out.status,
            tail(&out.stdout),
            tail(&out.stderr)
        );
    }
    Ok((out, took))
}

/// `cmake -G Ninja -S project -B build -DIDF_TARGET=target`: the first configure of a fresh build
/// directory, or a re-configure of an existing one. Returns the wall time.
pub fn cmake_configure(
    env: &IdfEnv,
    project: &Path,
    build: &Path,
    target: &str,
) -> anyhow::Result<Duration> {
    let mut cmd = env.command("cmake");
    cmd.arg("-G")
        .arg("Ninja")
        .arg("-S")
        .arg(project)
        .arg("-B")
        .arg(build)
        .arg(format!("-DIDF_TARGET={target}"));
    let (_, took) = run_timed(
        &mut cmd,
        &format!("cmake configure of {}", project.display()),
    )?;
    Ok(took)
}

/// `ninja -C build -d keepdepfile`: builds, keeping the compilers' depfiles (so the build
/// directory holds one more file per object).
pub fn ninja_build(env: &IdfEnv, build: &Path) -> anyhow::Result<Duration> {
    let mut cmd = env.command("ninja");
    cmd.arg("-C").arg(build).args(["-d", "keepdepfile"]);
    let (_, took) = run_timed(&mut cmd, &format!("ninja build in {}", build.display()))?;
    Ok(took)
}

/// `ninja -C build -n -t clean`: what `ninja clean` would remove, without removing it. Returns the
/// wall time and the paths listed (as Ninja names them: relative to `build`, or absolute).
pub fn ninja_clean_dry_run(build: &Path) -> anyhow::Result<(Duration, Vec<String>)> {
    let mut cmd = Command::new("ninja");
    cmd.arg("-C")
        .arg(build)
        .args(["-n", "-t", "clean"])
        .stdin(Stdio::null());
    let (out, took) = run_timed(&mut cmd, "ninja -n -t clean")?;
    let listed = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("Remove "))
        .map(str::to_string)
        .collect();
    Ok((took, listed))
}

/// Files (not directories) under `dir`, not following links.
pub fn count_files(dir: &Path) -> usize {
    let mut count = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in rd.flatten() {
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(entry.path()),
                Ok(_) => count += 1,
                Err(_) => {}
            }
        }
    }
    count
}
