//! Finding the daemon's socket, connecting to it, and starting the daemon when nothing listens.
//!
//! The socket is the `--socket` flag, else `ESPCTL_SOCKET`, else the per-user default of
//! [`espctl_protocol::paths::default_socket_path`]. When connecting finds nothing listening (no socket
//! file, or a stale one that refuses connections) and the caller allows it, [`open`] starts
//! `espctld --foreground --socket <path>` detached in its own session and polls the socket until it
//! answers.
//!
//! Starting is single-flight: a start lock next to the socket serializes clients that race, and a
//! client that waited for the lock finds the daemon the winner started. A daemon that still loses a race
//! (one started by hand, or by a service manager) exits with [`DAEMON_EXIT_ALREADY_RUNNING`]; that is
//! not a failure, the client keeps polling and talks to the winner.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use espctl_protocol::paths;
use interprocess::local_socket::tokio::Stream;
use interprocess::local_socket::tokio::prelude::*;
use interprocess::local_socket::{GenericFilePath, ToFsName};

use crate::error::ClientError;

/// The exit code of an `espctld` that found another live daemon already serving its socket.
pub const DAEMON_EXIT_ALREADY_RUNNING: i32 = 3;

/// How long a client waits for a daemon it started (or saw being started) to answer.
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(10);

/// How often the socket is polled while the daemon starts.
const POLL_INTERVAL: Duration = Duration::from_millis(5);

/// File name of the daemon's standard error capture under `<data dir>/logs/`.
pub const START_LOG_FILE_NAME: &str = "espctld-start.log";

/// How to reach the daemon.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// The socket to connect to.
    pub socket: PathBuf,
    /// Start the daemon when nothing listens on the socket.
    pub autostart: bool,
    /// Call `daemon.info` after connecting and refuse a daemon with another protocol version.
    pub check_version: bool,
    /// How long to wait for a daemon that is being started.
    pub start_timeout: Duration,
}

impl ConnectOptions {
    /// Connect to `socket`, starting the daemon if needed and checking its protocol version.
    pub fn new(socket: PathBuf) -> ConnectOptions {
        ConnectOptions {
            socket,
            autostart: true,
            check_version: true,
            start_timeout: DEFAULT_START_TIMEOUT,
        }
    }

    /// Options for the socket `flag` (from `--socket`) names, else `ESPCTL_SOCKET`, else the default.
    pub fn resolve(flag: Option<&Path>) -> ConnectOptions {
        ConnectOptions::new(resolve_socket(flag))
    }

    pub fn autostart(mut self, autostart: bool) -> ConnectOptions {
        self.autostart = autostart;
        self
    }

    pub fn check_version(mut self, check_version: bool) -> ConnectOptions {
        self.check_version = check_version;
        self
    }
}

/// The socket path: `flag` (from `--socket`) when given and non-empty, else `ESPCTL_SOCKET`, else the
/// per-user default.
pub fn resolve_socket(flag: Option<&Path>) -> PathBuf {
    match flag {
        Some(path) if !path.as_os_str().is_empty() => path.to_path_buf(),
        _ => paths::default_socket_path(),
    }
}

/// An open stream to the daemon.
#[derive(Debug)]
pub struct Connection {
    pub stream: Stream,
    /// The pid of the daemon this call started, when it started one that now serves the socket.
    pub started_pid: Option<u32>,
}

/// True for the connect errors that mean "no daemon listens here": no socket file, or a stale one.
pub fn is_not_listening(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
    )
}

/// Connect to the socket once, without starting anything.
pub async fn connect_stream(socket: &Path) -> io::Result<Stream> {
    let name = socket.to_fs_name::<GenericFilePath>()?;
    Stream::connect(name).await
}

/// Connect to the daemon, starting it first when nothing listens and `options.autostart` is set.
pub async fn open(options: &ConnectOptions) -> Result<Connection, ClientError> {
    match connect_stream(&options.socket).await {
        Ok(stream) => Ok(Connection {
            stream,
            started_pid: None,
        }),
        Err(err) if is_not_listening(&err) => {
            if options.autostart {
                start_and_connect(&options.socket, options.start_timeout).await
            } else {
                Err(ClientError::NotRunning {
                    socket: options.socket.clone(),
                })
            }
        }
        Err(source) => Err(ClientError::Connect {
            socket: options.socket.clone(),
            source,
        }),
    }
}

/// The `espctld` binary a client starts: `ESPCTLD_BIN`, else an `espctld` next to the running
/// executable, else the first `espctld` on `PATH`.
pub fn daemon_binary() -> Result<PathBuf, ClientError> {
    if let Some(bin) =
        std::env::var_os(espctl_protocol::ENV_DAEMON_BIN).filter(|value| !value.is_empty())
    {
        let bin = PathBuf::from(bin);
        if bin.is_file() {
            return Ok(bin);
        }
        return Err(ClientError::Start {
            message: format!(
                "{} names {}, which is not a file",
                espctl_protocol::ENV_DAEMON_BIN,
                bin.display()
            ),
            hint: format!(
                "point {} at the espctld binary, or unset it to use the espctld next to espctl",
                espctl_protocol::ENV_DAEMON_BIN
            ),
        });
    }
    let file_name = format!("espctld{}", std::env::consts::EXE_SUFFIX);
    if let Some(sibling) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(&file_name)))
        .filter(|path| path.is_file())
    {
        return Ok(sibling);
    }
    find_on_path(&file_name).ok_or_else(|| ClientError::Start {
        message: "cannot find the espctld binary".into(),
        hint: format!(
            "install espctld next to espctl or on PATH, or set {} to its path",
            espctl_protocol::ENV_DAEMON_BIN
        ),
    })
}

/// The first executable file called `name` in the directories of `PATH`.
pub fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata()
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// Where a started daemon's standard error goes: `<data dir>/logs/espctld-start.log`.
pub fn start_log_path() -> PathBuf {
    paths::default_data_dir()
        .join("logs")
        .join(START_LOG_FILE_NAME)
}

/// Create `dir` and its missing parents, readable by the owner only.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

async fn start_and_connect(socket: &Path, timeout: Duration) -> Result<Connection, ClientError> {
    let deadline = Instant::now() + timeout;
    let socket_dir = socket
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    create_private_dir(socket_dir).map_err(|err| ClientError::Start {
        message: format!(
            "cannot create the socket directory {}: {err}",
            socket_dir.display()
        ),
        hint: "choose another socket path with --socket or ESPCTL_SOCKET".into(),
    })?;

    // Take the start lock, unless a daemon some other client is starting answers first.
    let _lock = loop {
        match StartLock::try_acquire(socket) {
            LockAttempt::Acquired(lock) => break Some(lock),
            LockAttempt::Unavailable => break None,
            LockAttempt::Busy => {}
        }
        if let Some(connection) = poll_connect(socket, None).await? {
            return Ok(connection);
        }
        if Instant::now() >= deadline {
            return Err(ClientError::Start {
                message: format!(
                    "another espctl is starting espctld on {} and it did not answer within {}s",
                    socket.display(),
                    timeout.as_secs()
                ),
                hint: start_hint(socket, &start_log_path()),
            });
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    };

    // The previous lock holder may have started the daemon just before releasing the lock.
    if let Some(connection) = poll_connect(socket, None).await? {
        return Ok(connection);
    }

    let mut daemon = spawn_daemon(socket)?;
    let pid = daemon.child.id();
    let mut lost_race = false;
    loop {
        if let Some(connection) = poll_connect(socket, (!lost_race).then_some(pid)).await? {
            daemon.reap_in_background();
            return Ok(connection);
        }
        if !lost_race && let Ok(Some(status)) = daemon.child.try_wait() {
            if status.code() == Some(DAEMON_EXIT_ALREADY_RUNNING) {
                // Another daemon serves (or is about to serve) the socket: talk to that one.
                lost_race = true;
            } else {
                return Err(daemon.failure(socket, &describe_exit(status)));
            }
        }
        if Instant::now() >= deadline {
            let what = format!(
                "did not answer within {}s (it is still running as pid {pid})",
                timeout.as_secs()
            );
            let err = daemon.failure(socket, &what);
            daemon.reap_in_background();
            return Err(err);
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// One connection attempt while a daemon starts: `Some` once it answers, `None` while nothing listens.
async fn poll_connect(
    socket: &Path,
    started_pid: Option<u32>,
) -> Result<Option<Connection>, ClientError> {
    match connect_stream(socket).await {
        Ok(stream) => Ok(Some(Connection {
            stream,
            started_pid,
        })),
        Err(err) if is_not_listening(&err) => Ok(None),
        Err(source) => Err(ClientError::Connect {
            socket: socket.to_path_buf(),
            source,
        }),
    }
}

fn describe_exit(status: std::process::ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exited with code {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("was killed by signal {signal}");
        }
    }
    format!("exited ({status})")
}

fn start_hint(socket: &Path, log: &Path) -> String {
    format!(
        "run `espctld --foreground --socket {}` by hand to see what goes wrong; the output of the \
         last automatic start is in {}",
        socket.display(),
        log.display()
    )
}

/// A daemon process this client spawned.
struct SpawnedDaemon {
    child: std::process::Child,
    binary: PathBuf,
    log_path: PathBuf,
}

impl SpawnedDaemon {
    /// The error for a daemon that did not come up, with the tail of what it wrote to standard error.
    fn failure(&self, socket: &Path, what: &str) -> ClientError {
        let mut message = format!(
            "espctld ({}) {what} before it answered on {}",
            self.binary.display(),
            socket.display()
        );
        let output = read_tail(&self.log_path, 4096);
        let output = output.trim();
        if !output.is_empty() {
            message.push_str(":\n");
            message.push_str(output);
        }
        ClientError::Start {
            message,
            hint: start_hint(socket, &self.log_path),
        }
    }

    /// Reap the daemon when it exits, so that a long-lived client does not keep a zombie.
    fn reap_in_background(self) {
        let mut child = self.child;
        std::thread::spawn(move || {
            let _ = child.wait();
        });
    }
}

fn spawn_daemon(socket: &Path) -> Result<SpawnedDaemon, ClientError> {
    let binary = daemon_binary()?;
    let log_path = start_log_path();
    let start_error = |what: String| ClientError::Start {
        message: what,
        hint: format!(
            "set {} (data) or ESPCTL_SOCKET (socket) to writable locations",
            espctl_protocol::ENV_HOME
        ),
    };
    if let Some(dir) = log_path.parent() {
        create_private_dir(dir)
            .map_err(|err| start_error(format!("cannot create {}: {err}", dir.display())))?;
    }
    let log = File::create(&log_path)
        .map_err(|err| start_error(format!("cannot create {}: {err}", log_path.display())))?;

    let mut command = Command::new(&binary);
    command
        .arg("--foreground")
        .arg("--quiet")
        .arg("--socket")
        .arg(socket)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log));
    detach(&mut command);
    let child = command.spawn().map_err(|err| ClientError::Start {
        message: format!("cannot start {}: {err}", binary.display()),
        hint: format!(
            "check that {} is an executable espctld, or set {} to one",
            binary.display(),
            espctl_protocol::ENV_DAEMON_BIN
        ),
    })?;
    Ok(SpawnedDaemon {
        child,
        binary,
        log_path,
    })
}

/// Run the daemon in a session of its own, so that it outlives this client and does not receive the
/// terminal's signals (Ctrl-C in the shell that ran `espctl`).
#[cfg(unix)]
fn detach(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child before exec and only calls setsid(2), which is
    // async-signal-safe and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            nix::unistd::setsid().map_err(io::Error::from)?;
            Ok(())
        });
    }
}

#[cfg(not(unix))]
fn detach(_command: &mut Command) {}

/// Up to `max` bytes from the end of a file, as text; empty when it cannot be read.
fn read_tail(path: &Path, max: u64) -> String {
    let Ok(mut file) = File::open(path) else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len > max {
        let _ = file.seek(SeekFrom::Start(len - max));
    }
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The start lock: an exclusive `flock` on `<socket>.start-lock`, held while one client starts the
/// daemon. Released when dropped (or when the process dies).
struct StartLock {
    #[cfg(unix)]
    _lock: nix::fcntl::Flock<File>,
}

enum LockAttempt {
    Acquired(StartLock),
    /// Another client holds the lock.
    Busy,
    /// The lock file cannot be used here; start without it and let the daemon settle a race.
    Unavailable,
}

impl StartLock {
    fn path(socket: &Path) -> PathBuf {
        let mut name = socket
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        name.push(".start-lock");
        socket.with_file_name(name)
    }

    #[cfg(unix)]
    fn try_acquire(socket: &Path) -> LockAttempt {
        use nix::errno::Errno;
        use nix::fcntl::{Flock, FlockArg};
        use std::os::unix::fs::OpenOptionsExt;

        let Ok(file) = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(Self::path(socket))
        else {
            return LockAttempt::Unavailable;
        };
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => LockAttempt::Acquired(StartLock { _lock: lock }),
            Err((_, Errno::EWOULDBLOCK)) => LockAttempt::Busy,
            Err(_) => LockAttempt::Unavailable,
        }
    }

    #[cfg(not(unix))]
    fn try_acquire(_socket: &Path) -> LockAttempt {
        LockAttempt::Unavailable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_socket_flag_wins() {
        assert_eq!(
            resolve_socket(Some(Path::new("/tmp/a.sock"))),
            PathBuf::from("/tmp/a.sock")
        );
        assert_eq!(
            resolve_socket(Some(Path::new(""))),
            paths::default_socket_path()
        );
        assert_eq!(resolve_socket(None), paths::default_socket_path());
    }

    #[test]
    fn not_listening_means_missing_or_refused() {
        assert!(is_not_listening(&io::Error::from(io::ErrorKind::NotFound)));
        assert!(is_not_listening(&io::Error::from(
            io::ErrorKind::ConnectionRefused
        )));
        assert!(!is_not_listening(&io::Error::from(
            io::ErrorKind::PermissionDenied
        )));
    }

    #[test]
    fn start_lock_sits_next_to_the_socket() {
        assert_eq!(
            StartLock::path(Path::new("/run/user/1/espctl/espctld.sock")),
            PathBuf::from("/run/user/1/espctl/espctld.sock.start-lock")
        );
    }

    #[cfg(unix)]
    #[test]
    fn start_lock_is_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("d.sock");
        let first = match StartLock::try_acquire(&socket) {
            LockAttempt::Acquired(lock) => lock,
            _ => panic!("first lock attempt must succeed"),
        };
        assert!(matches!(StartLock::try_acquire(&socket), LockAttempt::Busy));
        drop(first);
        assert!(matches!(
            StartLock::try_acquire(&socket),
            LockAttempt::Acquired(_)
        ));
    }

    #[tokio::test]
    async fn missing_socket_without_autostart_is_not_running() {
        let dir = tempfile::tempdir().unwrap();
        let options = ConnectOptions::new(dir.path().join("none.sock")).autostart(false);
        let err = open(&options).await.unwrap_err();
        assert!(matches!(err, ClientError::NotRunning { .. }), "{err:?}");
    }

    #[test]
    fn read_tail_keeps_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        fs::write(&path, "0123456789").unwrap();
        assert_eq!(read_tail(&path, 4), "6789");
        assert_eq!(read_tail(&path, 100), "0123456789");
        assert_eq!(read_tail(&dir.path().join("missing"), 4), "");
    }
}
