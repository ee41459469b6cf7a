//! A real `espctld --foreground` on a throwaway socket and data directory, and what the bench reads
//! from it (readiness, resident memory).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::bins::Bins;

/// How long a daemon may take to answer before the bench gives up on it.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// A daemon process, killed and reaped when dropped (and killed with the bench, on Linux).
pub struct BenchDaemon {
    dir: tempfile::TempDir,
    socket: PathBuf,
    data_dir: PathBuf,
    child: Option<Child>,
    stderr_path: PathBuf,
    spawned_at: Instant,
}

impl BenchDaemon {
    /// Spawns a daemon and waits until it answers `daemon.info`.
    pub fn start(bins: &Bins) -> anyhow::Result<BenchDaemon> {
        let mut daemon = BenchDaemon::spawn(bins)?;
        daemon.wait_answering(READY_TIMEOUT)?;
        Ok(daemon)
    }

    /// [`BenchDaemon::start`] with more arguments for `espctld` (for example `--cancel-grace 1`).
    pub fn start_with(bins: &Bins, extra_args: &[&str]) -> anyhow::Result<BenchDaemon> {
        let mut daemon = BenchDaemon::spawn_with(bins, extra_args)?;
        daemon.wait_answering(READY_TIMEOUT)?;
        Ok(daemon)
    }

    /// Spawns a daemon on a fresh socket and data directory without waiting for it.
    /// [`BenchDaemon::spawned_at`] is taken just before the spawn.
    pub fn spawn(bins: &Bins) -> anyhow::Result<BenchDaemon> {
        BenchDaemon::spawn_with(bins, &[])
    }

    fn spawn_with(bins: &Bins, extra_args: &[&str]) -> anyhow::Result<BenchDaemon> {
        let dir = tempfile::Builder::new()
            .prefix("espctl-bench")
            .tempdir()
            .context("cannot create a temp dir")?;
        let socket = dir.path().join("run").join("espctld.sock");
        let data_dir = dir.path().join("data");
        let stderr_path = dir.path().join("espctld.stderr");
        let stderr = std::fs::File::create(&stderr_path)
            .with_context(|| format!("cannot create {}", stderr_path.display()))?;
        let mut cmd = Command::new(&bins.espctld);
        cmd.arg("--foreground")
            .arg("--quiet")
            .arg("--socket")
            .arg(&socket)
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--idle-timeout")
            .arg("0")
            .args(extra_args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        die_with_parent(&mut cmd);
        let spawned_at = Instant::now();
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", bins.espctld.display()))?;
        Ok(BenchDaemon {
            dir,
            socket,
            data_dir,
            child: Some(child),
            stderr_path,
            spawned_at,
        })
    }

    /// Polls until `daemon.info` answers; returns the time since the spawn.
    pub fn wait_answering(&mut self, timeout: Duration) -> anyhow::Result<Duration> {
        loop {
            if crate::rpc::http_call(&self.socket, "daemon.info", "{}").is_ok() {
                return Ok(self.spawned_at.elapsed());
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                bail!(
                    "espctld exited early with {status}: {}",
                    std::fs::read_to_string(&self.stderr_path)
                        .unwrap_or_default()
                        .trim()
                );
            }
            if self.spawned_at.elapsed() > timeout {
                bail!(
                    "espctld did not answer daemon.info on {} within {timeout:?}",
                    self.socket.display()
                );
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The temp dir holding the socket, the data dir and anything the scenario writes.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn pid(&self) -> anyhow::Result<u32> {
        Ok(self.child.as_ref().context("espctld is not running")?.id())
    }

    /// VmRSS of the daemon in KiB.
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        proc_status_kib(self.pid()?, "VmRSS")
    }

    /// VmHWM (peak resident set) of the daemon in KiB.
    pub fn peak_rss_kib(&self) -> anyhow::Result<u64> {
        proc_status_kib(self.pid()?, "VmHWM")
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for BenchDaemon {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A field of `/proc/<pid>/status` given in kB (`VmRSS`, `VmHWM`).
pub fn proc_status_kib(pid: u32, field: &str) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    status
        .lines()
        .find_map(|line| {
            let rest = line.strip_prefix(field)?.strip_prefix(':')?;
            rest.trim().trim_end_matches("kB").trim().parse().ok()
        })
        .with_context(|| format!("no {field} in {path}"))
}

/// On Linux, the child gets SIGKILL when the bench dies, so no daemon outlives an interrupted run.
fn die_with_parent(cmd: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cmd;
}
