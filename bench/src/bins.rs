//! Finding the `espctld` and `espctl` binaries the bench runs, and which profile they were built with.

use std::path::{Path, PathBuf};

use anyhow::bail;

/// The workspace binaries the bench starts.
#[derive(Debug, Clone)]
pub struct Bins {
    pub dir: PathBuf,
    pub espctld: PathBuf,
    pub espctl: PathBuf,
}

impl Bins {
    /// The binaries in `dir`, or next to this executable (`target/<profile>/`) when `dir` is `None`.
    pub fn find(dir: Option<&Path>) -> anyhow::Result<Bins> {
        let dir = match dir {
            Some(d) => d.to_path_buf(),
            None => own_dir()?,
        };
        let espctld = dir.join(exe_name("espctld"));
        let espctl = dir.join(exe_name("espctl"));
        let missing: Vec<String> = [&espctld, &espctl]
            .iter()
            .filter(|p| !p.is_file())
            .map(|p| p.display().to_string())
            .collect();
        if !missing.is_empty() {
            bail!(
                "missing {}: the bench runs the daemon and the CLI built next to it. Build them first: \
                 `cargo build --release --workspace` (then run target/release/espctl-bench), or \
                 `cargo build --workspace` for target/debug",
                missing.join(" and ")
            );
        }
        Ok(Bins {
            dir,
            espctld,
            espctl,
        })
    }

    /// The profile the binaries were built with, read from their directory's name (`release`,
    /// `debug`, or a custom profile).
    pub fn profile(&self) -> String {
        self.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "unknown".to_string())
    }
}

/// The profile this bench binary was compiled with.
pub fn own_profile() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}

/// The directory of this executable, leaving `deps/` (test binaries) or `examples/`.
fn own_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let mut dir = exe
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    if dir.ends_with("deps") || dir.ends_with("examples") {
        dir.pop();
    }
    Ok(dir)
}

fn exe_name(name: &str) -> String {
    format!("{name}{}", std::env::consts::EXE_SUFFIX)
}

/// The committed example ELF, found from the source tree this bench was built from.
pub fn default_elf() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("examples")
        .join("blink-c3")
        .join("blink-c3.elf")
}
