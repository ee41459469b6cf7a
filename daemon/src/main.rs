//! `espctld`: the espctl daemon binary.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use espctld::server::{self, BindError, Config};
use espctld::tasks::TaskSettings;
use tokio_util::sync::CancellationToken;

/// Exit code when another daemon already serves the socket (clients starting one treat it as success).
const EXIT_ALREADY_RUNNING: u8 = 3;

/// The espctl daemon: owns builds, flash bundles and tasks, and serves JSON-RPC on a local socket.
/// Clients (`espctl`, `espctl mcp`, editors) start it on demand; run it by hand with --foreground.
#[derive(Debug, Parser)]
#[command(name = "espctld", version)]
struct Args {
    /// Stay attached to the terminal and log to stderr too (otherwise detach and run in the background).
    #[arg(long)]
    foreground: bool,
    /// In the foreground, do not copy logs to stderr (the log file still gets them). Clients that
    /// start the daemon use it, so its captured start-up output stays small.
    #[arg(long)]
    quiet: bool,
    /// Socket path [default: $ESPCTL_SOCKET, else $XDG_RUNTIME_DIR/espctl/espctld.sock, else /tmp/espctl-UID/espctld.sock].
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Where state and logs live [default: $ESPCTL_HOME, else the platform data dir].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Exit after this many seconds with no client connected and no task running; 0 disables it.
    #[arg(long, value_name = "SECS", default_value_t = 1800)]
    idle_timeout: u64,
    /// Seconds a canceled task gets to stop by itself before it is forced.
    #[arg(long, value_name = "SECS", default_value_t = 3.0)]
    cancel_grace: f64,
    /// Keep finished tasks and their logs for this many days.
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    retention_days: u32,
    /// Keep at most this many tasks (older finished ones are pruned).
    #[arg(long, value_name = "N", default_value_t = 1000)]
    retention_tasks: u32,
    /// Builds that may run at once across projects [default: one per two cores].
    #[arg(long, value_name = "N")]
    max_builds: Option<usize>,
    /// Watched projects: milliseconds a changed file must stay quiet before it is processed.
    #[arg(long, value_name = "MS", default_value_t = 100)]
    watch_debounce_ms: u64,
    /// Native file watches (inotify: one per directory) the daemon may use across watched
    /// projects; a project past it is polled [default: 3/4 of fs.inotify.max_user_watches].
    #[arg(long, value_name = "N")]
    max_watches: Option<u64>,
    /// Milliseconds between two scans of a polled project.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    watch_poll_ms: u64,
}

/// A plan allocates and frees many small strings and paths; with jemalloc a re-plan takes about a
/// quarter less time than with the system allocator, at the same resident memory (see the bench).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings, read at its first allocation: one arena (the daemon's threads mostly wait;
/// per-core arenas would only hold more memory), and freed pages returned within a second.
#[cfg(not(target_env = "msvc"))]
#[allow(non_upper_case_globals)]
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static malloc_conf: &[u8; 47] = b"narenas:1,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

fn main() -> ExitCode {
    let args = Args::parse();
    // Must happen before any thread starts: it reads and clears the activation environment.
    #[cfg(unix)]
    let inherited = server::take_inherited();

    let socket = args
        .socket
        .clone()
        .unwrap_or_else(espctl_protocol::paths::default_socket_path);
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(espctl_protocol::paths::default_data_dir);

    if !args.foreground {
        #[cfg(unix)]
        if inherited.is_none() {
            return detach(&socket, &data_dir);
        }
    }

    let _log_guard = match init_logging(&data_dir, args.foreground && !args.quiet) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("espctld: {e:#}");
            return ExitCode::from(2);
        }
    };
    if !(1..=60_000).contains(&args.watch_debounce_ms)
        || !(10..=600_000).contains(&args.watch_poll_ms)
    {
        eprintln!(
            "espctld: --watch-debounce-ms must be between 1 and 60000, --watch-poll-ms between 10 and 600000"
        );
        return ExitCode::from(2);
    }
    if !(0.0..=3600.0).contains(&args.cancel_grace) {
        eprintln!("espctld: --cancel-grace must be between 0 and 3600 seconds");
        return ExitCode::from(2);
    }
    let config = Config {
        socket,
        data_dir,
        idle_timeout: Duration::from_secs(args.idle_timeout),
        tasks: TaskSettings {
            cancel_grace: Duration::from_secs_f64(args.cancel_grace),
            retention_days: args.retention_days,
            retention_tasks: args.retention_tasks,
        },
        max_builds: args
            .max_builds
            .unwrap_or_else(espctld::build::runner::default_max_concurrent),
        watch: espctld::watch::WatchSettings {
            debounce: Duration::from_millis(args.watch_debounce_ms),
            max_watches: args
                .max_watches
                .unwrap_or_else(espctld::watch::default_max_watches),
            poll_interval: Duration::from_millis(args.watch_poll_ms),
        },
    };

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("espctld")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("espctld: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async move {
        // Handlers first: once the socket answers, a SIGTERM must already mean "drain".
        let stop = CancellationToken::new();
        spawn_signal_handlers(stop.clone());
        let bound = match server::bind(
            &config,
            #[cfg(unix)]
            inherited,
        )
        .await
        {
            Ok(b) => b,
            Err(e @ BindError::AlreadyRunning { .. }) => {
                eprintln!("espctld: {e}; nothing to do (stop it with `espctl daemon stop`)");
                return ExitCode::from(EXIT_ALREADY_RUNNING);
            }
            Err(BindError::Other(e)) => {
                tracing::error!("{e:#}");
                eprintln!("espctld: {e:#}");
                return ExitCode::from(2);
            }
        };
        match server::serve(config, bound, stop).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!("{e:#}");
                eprintln!("espctld: {e:#}");
                ExitCode::FAILURE
            }
        }
    });
    // Work abandoned by a forced cancel may still sit in a blocking thread (a read that never
    // returns): its task is already recorded as canceled, so do not wait for it.
    runtime.shutdown_timeout(Duration::from_millis(500));
    code
}

/// Installs the SIGTERM/SIGINT handlers before returning (so a signal that arrives right after is
/// already a drain, not the default death), then waits for one in a task.
fn spawn_signal_handlers(stop: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::error!("cannot install signal handlers");
            return;
        };
        tokio::spawn(async move {
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM: draining"),
                _ = int.recv() => tracing::info!("SIGINT: draining"),
            }
            stop.cancel();
        });
    }
}

/// Logs go to a daily-rotated file in `<data>/logs` (a week kept) and, in the foreground, to stderr.
fn init_logging(
    data_dir: &std::path::Path,
    foreground: bool,
) -> anyhow::Result<tracing_appender::non_blocking::WorkerGuard> {
    use anyhow::Context;
    use tracing_subscriber::prelude::*;
    let log_dir = data_dir.join("logs");
    std::fs::create_dir_all(&log_dir)
        .with_context(|| format!("cannot create the log directory {}", log_dir.display()))?;
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("espctld.log")
        .max_log_files(7)
        .build(&log_dir)
        .with_context(|| format!("cannot open a log file in {}", log_dir.display()))?;
    let (file_writer, guard) = tracing_appender::non_blocking(appender);
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("espctld=info"));
    let file_layer = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(file_writer);
    let stderr_layer = foreground.then(|| {
        let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::io::IsTerminal::is_terminal(&std::io::stderr());
        tracing_subscriber::fmt::layer()
            .with_ansi(color)
            .with_writer(std::io::stderr)
    });
    tracing_subscriber::registry()
        .with(filter)
        .with(file_layer)
        .with(stderr_layer)
        .init();
    Ok(guard)
}

/// Without --foreground: start a detached copy in the foreground mode and return once it answers.
#[cfg(unix)]
fn detach(socket: &std::path::Path, data_dir: &std::path::Path) -> ExitCode {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("espctld: cannot find my own executable: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    args.push("--foreground".into());
    args.push("--socket".into());
    args.push(socket.into());
    args.push("--data-dir".into());
    args.push(data_dir.into());
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: setsid is async-signal-safe; it detaches the child from our terminal and session.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            Ok(())
        });
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("espctld: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                use std::io::Read;
                let _ = e.read_to_string(&mut err);
            }
            eprint!("{err}");
            return ExitCode::from(status.code().unwrap_or(1).clamp(0, 255) as u8);
        }
        if std::os::unix::net::UnixStream::connect(socket).is_ok() {
            println!(
                "espctld started (pid {}) on {}",
                child.id(),
                socket.display()
            );
            return ExitCode::SUCCESS;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    eprintln!(
        "espctld: started (pid {}) but it did not answer on {} within 10 s; see the log in {}",
        child.id(),
        socket.display(),
        data_dir.join("logs").display()
    );
    ExitCode::FAILURE
}
