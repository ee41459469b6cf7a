//! The build sandbox: bubblewrap on Linux when it is installed and works.
//!
//! A sandboxed step sees a read-only system, a private `/tmp`, and writable binds of exactly the
//! project dir, the build dir and the ccache dir (re-bound after the private `/tmp`, so a project that
//! lives under `/tmp` stays visible). The IDF tree and its tools stay readable through the read-only
//! root. The network is shared unless the build asks for none.
//!
//! Signals: the step runs with `--unshare-pid` and `--die-with-parent`, but without `--new-session`,
//! so the sandbox's processes stay in the process group `proc` created, and a group signal from the
//! daemon (SIGINT on cancel, then SIGKILL) reaches them through the PID namespace.

use std::path::{Path, PathBuf};

/// Which sandbox steps run in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sandbox {
    Bubblewrap {
        bwrap: PathBuf,
        version: String,
    },
    /// No sandbox, and why: the plan warns about it.
    Unsandboxed {
        reason: String,
    },
}

impl Sandbox {
    /// `bubblewrap` or `none`, for plans and status.
    pub fn name(&self) -> &'static str {
        match self {
            Sandbox::Bubblewrap { .. } => "bubblewrap",
            Sandbox::Unsandboxed { .. } => "none",
        }
    }
}

/// Finds bubblewrap on `path` (the caller's PATH plus the usual system dirs) and checks that it can
/// create a sandbox here (it cannot in some containers).
pub fn detect(path: Option<&str>) -> Sandbox {
    if !cfg!(target_os = "linux") {
        return Sandbox::Unsandboxed {
            reason: "builds are sandboxed on Linux only (with bubblewrap)".into(),
        };
    }
    let mut dirs: Vec<PathBuf> = path
        .map(|p| std::env::split_paths(p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/bin", "/bin", "/usr/local/bin"].map(PathBuf::from));
    let Some(bwrap) = dirs.iter().map(|d| d.join("bwrap")).find(|p| p.is_file()) else {
        return Sandbox::Unsandboxed {
            reason: "bubblewrap is not installed (apt install bubblewrap / dnf install bubblewrap)"
                .into(),
        };
    };
    let probe = std::process::Command::new(&bwrap)
        .args([
            "--ro-bind",
            "/",
            "/",
            "--dev",
            "/dev",
            "--proc",
            "/proc",
            "--unshare-pid",
        ])
        .args(["--die-with-parent", "--", "true"])
        .stdin(std::process::Stdio::null())
        .output();
    match probe {
        Ok(out) if out.status.success() => {
            let version = std::process::Command::new(&bwrap)
                .arg("--version")
                .output()
                .ok()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                .unwrap_or_default();
            Sandbox::Bubblewrap { bwrap, version }
        }
        Ok(out) => Sandbox::Unsandboxed {
            reason: format!(
                "bubblewrap cannot create a sandbox here: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        },
        Err(e) => Sandbox::Unsandboxed {
            reason: format!("bubblewrap cannot run: {e}"),
        },
    }
}

/// What a sandboxed step may touch.
#[derive(Debug, Clone, Default)]
pub struct Spec {
    /// Writable binds: project dir, build dir, ccache dir.
    pub writable: Vec<PathBuf>,
    /// Extra read-only binds for paths the read-only root would hide (inside `/tmp`, for example an
    /// IDF tree or toolchain unpacked there).
    pub readonly: Vec<PathBuf>,
    pub network: bool,
    pub cwd: PathBuf,
}

/// The argv that runs `argv` inside the sandbox (or `argv` unchanged without one).
pub fn wrap(sandbox: &Sandbox, spec: &Spec, argv: &[String]) -> Vec<String> {
    let Sandbox::Bubblewrap { bwrap, .. } = sandbox else {
        return argv.to_vec();
    };
    let s = |p: &Path| p.display().to_string();
    let mut out = vec![
        s(bwrap),
        "--ro-bind".into(),
        "/".into(),
        "/".into(),
        "--dev".into(),
        "/dev".into(),
        "--proc".into(),
        "/proc".into(),
        "--tmpfs".into(),
        "/tmp".into(),
    ];
    // Later binds win over the private /tmp, so paths under /tmp stay reachable. Parents first.
    let mut readonly: Vec<&PathBuf> = spec.readonly.iter().filter(|p| p.exists()).collect();
    readonly.sort_by_key(|p| p.components().count());
    for p in readonly {
        out.extend(["--ro-bind".into(), s(p), s(p)]);
    }
    let mut writable: Vec<&PathBuf> = spec.writable.iter().filter(|p| p.exists()).collect();
    writable.sort_by_key(|p| p.components().count());
    writable.dedup();
    for p in writable {
        out.extend(["--bind".into(), s(p), s(p)]);
    }
    if !spec.network {
        out.push("--unshare-net".into());
    }
    out.extend([
        "--unshare-pid".into(),
        "--die-with-parent".into(),
        "--chdir".into(),
        s(&spec.cwd),
        "--".into(),
    ]);
    out.extend(argv.iter().cloned());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bwrap_or_skip() -> Option<Sandbox> {
        match detect(None) {
            s @ Sandbox::Bubblewrap { .. } => Some(s),
            Sandbox::Unsandboxed { reason } => {
                assert!(
                    std::env::var("ESPCTL_REQUIRE_PEERS").as_deref() != Ok("1"),
                    "bubblewrap required: {reason}"
                );
                eprintln!("skipping: {reason}");
                None
            }
        }
    }

    #[test]
    fn inside_only_the_binds_are_writable() {
        let Some(sandbox) = bwrap_or_skip() else {
            return;
        };
        let project = tempfile::tempdir().unwrap();
        let home_like = tempfile::tempdir_in(std::env::var("HOME").unwrap_or("/root".into()))
            .unwrap_or_else(|_| tempfile::tempdir().unwrap());
        let spec = Spec {
            writable: vec![project.path().to_path_buf()],
            readonly: vec![],
            network: false,
            cwd: project.path().to_path_buf(),
        };
        let script = format!(
            "touch ok.txt && (touch /etc/espctl-x 2>/dev/null && echo etc-writable || echo etc-ro) && \
             (touch {}/x 2>/dev/null && echo home-writable || echo home-ro) && ls /tmp | wc -l",
            home_like.path().display()
        );
        let argv = wrap(&sandbox, &spec, &["sh".into(), "-c".into(), script]);
        let out = std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            project.path().join("ok.txt").exists(),
            "the project under /tmp stays visible and writable"
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[..2], ["etc-ro", "home-ro"], "{text}");
        // A private /tmp: only the re-bound project's ancestors are in it.
        assert!(lines[2].trim().parse::<u32>().unwrap() <= 1, "{text}");
    }

    #[test]
    fn no_network_means_no_interfaces_but_loopback() {
        let Some(sandbox) = bwrap_or_skip() else {
            return;
        };
        let spec = Spec {
            cwd: std::env::temp_dir(),
            network: false,
            ..Default::default()
        };
        let argv = wrap(&sandbox, &spec, &["cat".into(), "/proc/net/dev".into()]);
        let out = std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let ifaces: Vec<&str> = text
            .lines()
            .skip(2)
            .filter_map(|l| l.split(':').next())
            .map(str::trim)
            .collect();
        assert_eq!(ifaces, ["lo"], "{text}");
    }

    #[test]
    fn without_bubblewrap_argv_is_unchanged() {
        let none = Sandbox::Unsandboxed { reason: "x".into() };
        let argv = vec!["ninja".to_string()];
        assert_eq!(wrap(&none, &Spec::default(), &argv), argv);
        assert_eq!(none.name(), "none");
    }
}
