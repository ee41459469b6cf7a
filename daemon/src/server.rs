//! The transport: a local socket (Unix domain socket; a named pipe on Windows) serving jsonrpsee's
//! HTTP and WebSocket on every connection.
//!
//! [`bind`] prepares the listener: it creates the socket's directory 0700 and checks its owner, takes the
//! single-instance lock, detects a live daemon, replaces a stale socket file, or adopts a listening
//! socket handed over by a service manager (`LISTEN_FDS`). [`serve`] runs the accept loop until a
//! shutdown is requested (signal, `daemon.shutdown` or idle timeout), then drains.
//!
//! Invariants: a peer with another uid is refused before a byte is read; the idle timeout never fires
//! while a connection is open or a task is active.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use interprocess::local_socket::tokio::{Listener, Stream};
use interprocess::local_socket::traits::StreamCommon as _;
use interprocess::local_socket::traits::tokio::Listener as _;
use interprocess::local_socket::{GenericFilePath, ListenerOptions, ToFsName};
use tokio_util::sync::CancellationToken;

use crate::tasks::{TaskSettings, Tasks};

/// Largest request body accepted (bigger ones get an error and the connection goes on).
pub const MAX_REQUEST_BYTES: u32 = 4 * 1024 * 1024;

/// Everything the method handlers share.
pub struct Daemon {
    pub tasks: Arc<Tasks>,
    pub started: Instant,
    pub socket: PathBuf,
    pub data_dir: PathBuf,
    pub idle_timeout: Duration,
    pub socket_activated: bool,
    /// Cancelled when the daemon should drain and exit.
    pub shutdown: CancellationToken,
    pub activity: Activity,
    /// Every method name served, aliases included (for `daemon.info`).
    pub method_names: Vec<String>,
    /// The project planner and its caches.
    pub planner: Arc<crate::project::planner::Planner>,
    /// Runs builds: spawner thread, environment cache, build-dir locks, concurrency cap.
    pub builder: Arc<crate::build::runner::Builder>,
    /// Watched projects (`project.watch`).
    pub watches: Arc<crate::watch::Watches>,
}

/// What the idle timeout looks at. Every call touches it, so it is lock-free: the last activity is
/// kept as milliseconds since a fixed origin in an atomic.
pub struct Activity {
    origin: Instant,
    /// Milliseconds from `origin` to the last activity.
    last_ms: AtomicU64,
    connections: AtomicUsize,
}

impl Default for Activity {
    fn default() -> Self {
        Activity {
            origin: Instant::now(),
            last_ms: AtomicU64::new(0),
            connections: AtomicUsize::new(0),
        }
    }
}

impl Activity {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    pub fn touch(&self) {
        // `fetch_max`: a late store from a slow thread never moves the mark backwards.
        self.last_ms.fetch_max(self.now_ms(), Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        let last = self.last_ms.load(Ordering::Relaxed);
        Duration::from_millis(self.now_ms().saturating_sub(last))
    }

    pub fn open_connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// Daemon settings from the command line.
#[derive(Debug, Clone)]
pub struct Config {
    pub socket: PathBuf,
    pub data_dir: PathBuf,
    /// Zero disables the idle timeout.
    pub idle_timeout: Duration,
    pub tasks: TaskSettings,
    /// Builds that may run at once across projects.
    pub max_builds: usize,
    /// Debounce, native watch budget and polling interval of watched projects.
    pub watch: crate::watch::WatchSettings,
}

/// Why the daemon could not start listening.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("espctld is already running on {socket}{}", pid.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    AlreadyRunning { socket: PathBuf, pid: Option<u32> },
    #[error("{0:#}")]
    Other(#[from] anyhow::Error),
}

/// A bound (or inherited) listener and what must be cleaned up with it.
pub struct Bound {
    pub listener: Listener,
    pub path: PathBuf,
    pub activated: bool,
    /// Held for the daemon's life: the single-instance lock.
    _lock: Option<File>,
}

impl Bound {
    /// Removes the socket file and the lock file (not for an inherited socket, which the service manager owns).
    pub fn cleanup(&self) {
        if !self.activated {
            let _ = std::fs::remove_file(&self.path);
            let _ = std::fs::remove_file(lock_path(&self.path));
        }
    }
}

fn lock_path(socket: &Path) -> PathBuf {
    let mut name = socket.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    socket.with_file_name(name)
}

/// Creates the socket's parent directory 0700 when missing and checks that the user owns it.
#[cfg(unix)]
pub fn prepare_socket_dir(socket: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let dir = socket
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create the socket directory {}", dir.display()))?;
    }
    let meta = std::fs::metadata(dir)
        .with_context(|| format!("cannot inspect the socket directory {}", dir.display()))?;
    let me = espctl_protocol::paths::current_uid();
    if meta.uid() != me {
        bail!(
            "the socket directory {} belongs to uid {}, not to you (uid {me}); refusing to listen there. \
             Remove it, or set ESPCTL_SOCKET to a path in a directory you own",
            dir.display(),
            meta.uid()
        );
    }
    Ok(())
}

/// The fd a service manager passed (`LISTEN_FDS`/`LISTEN_PID`, first fd 3), if it is meant for us.
#[cfg(unix)]
fn inherited_listener_fd() -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    let pid: u32 = std::env::var("LISTEN_PID").ok()?.parse().ok()?;
    let fds: u32 = std::env::var("LISTEN_FDS").ok()?.parse().ok()?;
    if pid != std::process::id() || fds < 1 {
        return None;
    }
    // Only adopt fd 3 when it really is a socket; anything else is a misconfigured manager.
    // SAFETY: fstat on a raw fd number only reads its metadata.
    let is_socket = nix::sys::stat::fstat(unsafe { std::os::fd::BorrowedFd::borrow_raw(3) })
        .map(|st| (st.st_mode & libc::S_IFMT) == libc::S_IFSOCK)
        .unwrap_or(false);
    if !is_socket {
        eprintln!("espctld: LISTEN_FDS is set but fd 3 is not a socket; ignoring it");
        return None;
    }
    // So children (builds) do not think the socket is theirs.
    // SAFETY: called on the main thread before the runtime spawns threads that read the environment.
    unsafe {
        std::env::remove_var("LISTEN_PID");
        std::env::remove_var("LISTEN_FDS");
        std::env::remove_var("LISTEN_FDNAMES");
    }
    // SAFETY: by the socket-activation protocol fd 3 is an open listening socket handed to this process.
    let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(3) };
    let _ = nix::fcntl::fcntl(
        &fd,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    );
    Some(fd)
}

/// Takes the socket-activation fd if there is one. Must run before the tokio runtime starts threads.
#[cfg(unix)]
pub fn take_inherited() -> Option<std::os::fd::OwnedFd> {
    inherited_listener_fd()
}

/// The path a listening Unix socket is bound to.
#[cfg(unix)]
fn bound_path(fd: &std::os::fd::OwnedFd) -> Option<PathBuf> {
    use std::os::fd::AsRawFd;
    let addr: nix::sys::socket::UnixAddr = nix::sys::socket::getsockname(fd.as_raw_fd()).ok()?;
    addr.path().map(Path::to_path_buf)
}

/// Prepares the listener: adopts an inherited socket, or binds `config.socket` after the checks.
pub async fn bind(
    config: &Config,
    #[cfg(unix)] inherited: Option<std::os::fd::OwnedFd>,
) -> Result<Bound, BindError> {
    #[cfg(unix)]
    if let Some(fd) = inherited {
        let path = bound_path(&fd).unwrap_or_else(|| config.socket.clone());
        let std_listener = std::os::unix::net::UnixListener::from(fd);
        std_listener
            .set_nonblocking(true)
            .context("cannot configure the inherited socket")?;
        let listener = interprocess::os::unix::uds_local_socket::tokio::Listener::try_from(
            std::os::fd::OwnedFd::from(std_listener),
        )
        .context("the inherited fd is not a listening Unix socket")?;
        return Ok(Bound {
            listener: Listener::from(listener),
            path,
            activated: true,
            _lock: None,
        });
    }

    let socket = &config.socket;
    #[cfg(unix)]
    prepare_socket_dir(socket)?;

    // The lock makes "is one running? if not, bind" atomic between daemons starting at the same time.
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(lock_path(socket))
        .with_context(|| format!("cannot open the lock file next to {}", socket.display()))?;
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: flock on an fd we own.
        let rc = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc != 0 {
            return Err(BindError::AlreadyRunning {
                socket: socket.clone(),
                pid: read_pid(&lock),
            });
        }
    }

    if socket.exists() {
        if std::os::unix::net::UnixStream::connect(socket).is_ok() {
            return Err(BindError::AlreadyRunning {
                socket: socket.clone(),
                pid: None,
            });
        }
        tracing::info!(socket = %socket.display(), "replacing a stale socket file");
        std::fs::remove_file(socket)
            .with_context(|| format!("cannot remove the stale socket {}", socket.display()))?;
    }

    let name = socket
        .as_path()
        .to_fs_name::<GenericFilePath>()
        .with_context(|| format!("{} is not a valid socket path", socket.display()))?;
    let mut options = ListenerOptions::new().name(name);
    #[cfg(target_os = "linux")]
    {
        use interprocess::os::unix::local_socket::ListenerOptionsExt;
        options = options.mode(0o600);
    }
    let listener = options.create_tokio().with_context(|| {
        format!(
            "cannot listen on {} (paths are limited to about 100 bytes)",
            socket.display()
        )
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot restrict {} to its owner", socket.display()))?;
        write_pid(&lock);
    }
    Ok(Bound {
        listener,
        path: socket.clone(),
        activated: false,
        _lock: Some(lock),
    })
}

fn write_pid(mut lock: &File) {
    use std::io::{Seek, Write};
    let _ = lock.set_len(0);
    let _ = lock.seek(std::io::SeekFrom::Start(0));
    let _ = writeln!(lock, "{}", std::process::id());
}

fn read_pid(lock: &File) -> Option<u32> {
    let mut s = String::new();
    use std::io::Read;
    let mut f = lock;
    f.read_to_string(&mut s).ok()?;
    s.trim().parse().ok()
}

/// Serves until shutdown, then drains: running tasks are canceled (and recorded), connections get a
/// graceful close.
pub async fn serve(
    config: Config,
    bound: Bound,
    external_stop: CancellationToken,
) -> anyhow::Result<()> {
    let tasks = Tasks::open(&config.data_dir, config.tasks.clone())?;
    let mut method_names: Vec<String> = espctl_protocol::catalog()
        .iter()
        .flat_map(|m| {
            let mut v: Vec<String> = m.all_names().map(str::to_string).collect();
            if let espctl_protocol::MethodKind::Subscription { unsubscribe, .. } = m.kind {
                v.push(unsubscribe.to_string());
            }
            v
        })
        .collect();
    method_names.sort();
    let planner = Arc::new(crate::project::planner::Planner::new());
    let builder = Arc::new(
        crate::build::runner::Builder::new(config.max_builds)
            .context("cannot start the process spawner thread")?,
    );
    let daemon = Arc::new(Daemon {
        tasks: tasks.clone(),
        started: Instant::now(),
        socket: bound.path.clone(),
        data_dir: config.data_dir.clone(),
        idle_timeout: config.idle_timeout,
        socket_activated: bound.activated,
        shutdown: external_stop.clone(),
        activity: Activity::default(),
        method_names,
        watches: Arc::new(crate::watch::Watches::new(
            config.watch.clone(),
            planner.clone(),
            crate::watch::daemon_plan_fn(planner.clone(), tasks.clone(), builder.clone()),
            {
                let builder = builder.clone();
                Arc::new(move |dir: &Path| builder.building(dir))
            },
        )),
        planner,
        builder,
    });
    daemon.activity.touch();
    let module = crate::rpc::build_module(daemon.clone());
    let (stop_handle, server_handle) = jsonrpsee::server::stop_channel();
    let server_config = jsonrpsee::server::ServerConfig::builder()
        .max_request_body_size(MAX_REQUEST_BYTES)
        .max_response_body_size(64 * 1024 * 1024)
        .max_connections(4096)
        .max_subscriptions_per_connection(4096)
        .set_message_buffer_capacity(4096)
        .build();
    let service_builder = jsonrpsee::server::Server::builder()
        .set_config(server_config)
        .to_service_builder();

    spawn_maintenance(daemon.clone());
    tracing::info!(
        socket = %bound.path.display(),
        data_dir = %config.data_dir.display(),
        activated = bound.activated,
        pid = std::process::id(),
        "espctld ready"
    );

    let my_uid = espctl_protocol::paths::current_uid();
    let connections = tokio_util::task::TaskTracker::new();
    loop {
        let stream = tokio::select! {
            _ = external_stop.cancelled() => break,
            accepted = bound.listener.accept() => match accepted {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        if !peer_allowed(&stream, my_uid) {
            continue;
        }
        let service = service_builder
            .clone()
            .build(module.clone(), stop_handle.clone());
        let stopped = stop_handle.clone().shutdown();
        let daemon = daemon.clone();
        daemon.activity.connections.fetch_add(1, Ordering::SeqCst);
        daemon.activity.touch();
        connections.spawn(async move {
            if let Err(e) =
                jsonrpsee::server::serve_with_graceful_shutdown(stream, service, stopped).await
            {
                tracing::debug!("connection ended: {e}");
            }
            daemon.activity.connections.fetch_sub(1, Ordering::SeqCst);
            daemon.activity.touch();
        });
    }

    tracing::info!("draining: canceling running tasks");
    let canceled = tasks.shutdown().await;
    if canceled > 0 {
        tracing::info!(canceled, "running tasks were canceled by the shutdown");
    }
    let _ = server_handle.stop();
    connections.close();
    if tokio::time::timeout(Duration::from_secs(2), connections.wait())
        .await
        .is_err()
    {
        tracing::warn!("some connections did not close in time");
    }
    bound.cleanup();
    tracing::info!("espctld stopped");
    Ok(())
}

fn peer_allowed(stream: &Stream, my_uid: u32) -> bool {
    #[cfg(unix)]
    {
        match stream.peer_creds() {
            Ok(creds) => match creds.euid() {
                Some(uid) if uid == my_uid => true,
                Some(uid) => {
                    tracing::warn!(peer_uid = uid, pid = ?creds.pid(), "refused a connection from another user");
                    false
                }
                None => {
                    tracing::warn!("refused a connection whose user cannot be determined");
                    false
                }
            },
            Err(e) => {
                tracing::warn!("refused a connection: cannot read peer credentials: {e}");
                false
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (stream, my_uid);
        true
    }
}

/// Idle timeout and retention pruning.
fn spawn_maintenance(daemon: Arc<Daemon>) {
    let idle = daemon.idle_timeout;
    let check_every = if idle.is_zero() {
        Duration::from_secs(60)
    } else {
        (idle / 4).clamp(Duration::from_millis(100), Duration::from_secs(5))
    };
    tokio::spawn(async move {
        let mut last_prune = Instant::now();
        loop {
            tokio::select! {
                _ = daemon.shutdown.cancelled() => return,
                _ = tokio::time::sleep(check_every) => {}
            }
            if last_prune.elapsed() > Duration::from_secs(3600) {
                last_prune = Instant::now();
                let tasks = daemon.tasks.clone();
                let _ = tokio::task::spawn_blocking(move || tasks.prune()).await;
            }
            if idle.is_zero() {
                continue;
            }
            let busy = daemon.activity.open_connections() > 0 || daemon.tasks.active_count() > 0;
            if busy {
                daemon.activity.touch();
                continue;
            }
            if daemon.activity.idle_for() >= idle {
                tracing::info!(idle_secs = idle.as_secs(), "idle timeout: shutting down");
                daemon.shutdown.cancel();
                return;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_measures_idleness_from_the_last_touch() {
        let activity = Activity::default();
        std::thread::sleep(Duration::from_millis(300));
        assert!(activity.idle_for() >= Duration::from_millis(250));
        activity.touch();
        assert!(activity.idle_for() < Duration::from_millis(250));
        assert_eq!(activity.open_connections(), 0);
    }
}
