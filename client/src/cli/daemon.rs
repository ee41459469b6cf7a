//! `espctl daemon start|stop|status|install|logs`: the daemon's lifecycle.
//!
//! `status`, `stop` and `logs` never start the daemon, and neither they nor `install` check its
//! protocol version: they must work against a daemon of another version, which is exactly when a user
//! needs them.

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use espctl::connect::{self, ConnectOptions};
use espctl::service::{self, InstallInputs, InstallPlan, ServiceManager};
use espctl::{Client, ClientError};
use espctl_protocol::methods::DaemonInfoResult;
use espctl_protocol::{Method, PROTOCOL_VERSION, methods, paths};
use serde::Serialize;
use serde_json::Value;

use super::output::{self, Color, Output};
use super::{CliError, DaemonCommand, Outcome};

/// Exit code of `espctl daemon status` when the daemon is not running (the LSB and `systemctl status`
/// convention for "program is not running").
pub const EXIT_NOT_RUNNING: i32 = 3;

/// How long `stop` waits for the daemon to exit after `daemon.shutdown` (it cancels running tasks
/// first, which may take a few seconds per task).
const STOP_TIMEOUT: Duration = Duration::from_secs(40);

/// After the socket went quiet, how long `stop` waits for the daemon's process to exit.
const PROCESS_EXIT_WAIT: Duration = Duration::from_secs(5);

/// Daemon log files are `espctld.log.YYYY-MM-DD` under `<data dir>/logs/`.
const DAEMON_LOG_PREFIX: &str = "espctld.log";

/// How often `daemon logs -f` looks for new lines.
const FOLLOW_INTERVAL: Duration = Duration::from_millis(200);

pub async fn run(command: DaemonCommand, socket: &Path, out: Output) -> Outcome {
    match command {
        DaemonCommand::Start => start(socket, out).await,
        DaemonCommand::Stop => stop(socket, out).await,
        DaemonCommand::Status => status(socket, out).await,
        DaemonCommand::Install { dry_run } => install(dry_run, socket, out).await,
        DaemonCommand::Logs { follow, lines } => logs(follow, lines, socket, out).await,
    }
}

/// Connect without starting anything and without the version check.
async fn connect_existing(socket: &Path) -> Result<Client, ClientError> {
    Client::connect(
        &ConnectOptions::new(socket.to_path_buf())
            .autostart(false)
            .check_version(false),
    )
    .await
}

/// `daemon.info` as untyped JSON, so that a daemon of another version still answers.
async fn info_json(client: &Client) -> Result<Value, ClientError> {
    client
        .call_json(methods::DaemonInfo::NAME, &serde_json::json!({}))
        .await
}

#[derive(Serialize)]
struct StartReport<'a> {
    /// True when this command started the daemon; false when it was already running.
    started: bool,
    #[serde(flatten)]
    info: &'a DaemonInfoResult,
}

async fn start(socket: &Path, out: Output) -> Outcome {
    let client = super::connect(socket).await?;
    let info = client
        .daemon_info()
        .context("the daemon did not describe itself")?;
    let started = client.started_pid().is_some();
    if out.json {
        output::json_line(&StartReport { started, info })?;
        return Ok(0);
    }
    let what = if started {
        out.paint(Color::Green, "started")
    } else {
        "is already running".to_string()
    };
    output::line(&format!(
        "espctld {} {what} (pid {})",
        info.version, info.pid
    ))?;
    output::line(&format!("socket    {}", info.socket))?;
    output::line(&format!("data      {}", info.data_dir))?;
    output::line(&format!("protocol  {}", info.protocol_version))?;
    Ok(0)
}

async fn status(socket: &Path, out: Output) -> Outcome {
    let client = match connect_existing(socket).await {
        Ok(client) => client,
        Err(ClientError::NotRunning { socket }) => {
            if out.json {
                output::json_line(&serde_json::json!({
                    "running": false,
                    "socket": socket.to_string_lossy(),
                }))?;
            } else {
                output::line(&format!(
                    "espctld is not running (socket {})",
                    socket.display()
                ))?;
            }
            return Ok(EXIT_NOT_RUNNING);
        }
        Err(err) => return Err(err.into()),
    };
    let info = info_json(&client).await?;
    let protocol = info.get("protocol_version").and_then(Value::as_u64);
    let compatible = protocol == Some(u64::from(PROTOCOL_VERSION));
    if out.json {
        let mut report = serde_json::json!({
            "running": true,
            "protocol_compatible": compatible,
        });
        if let (Some(report), Some(info)) = (report.as_object_mut(), info.as_object()) {
            report.extend(info.clone());
        }
        output::json_line(&report)?;
        return Ok(0);
    }
    for line in status_lines(&info, compatible, &out) {
        output::line(&line)?;
    }
    Ok(0)
}

/// The human `daemon status` report, from `daemon.info` read leniently.
fn status_lines(info: &Value, compatible: bool, out: &Output) -> Vec<String> {
    let text = |key: &str| {
        info.get(key)
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .unwrap_or_else(|| "?".into())
    };
    let number = |key: &str| info.get(key).and_then(Value::as_u64);
    let label = |name: &str| out.paint(Color::Bold, &format!("{name:<10}"));
    let mut lines = vec![format!("espctld is {}", out.paint(Color::Green, "running"))];
    lines.push(format!(
        "{} {} (protocol {})",
        label("version"),
        text("version"),
        text("protocol_version")
    ));
    lines.push(format!("{} {}", label("pid"), text("pid")));
    if let Some(uptime) = number("uptime_secs") {
        lines.push(format!("{} {}", label("uptime"), output::duration(uptime)));
    }
    lines.push(format!("{} {}", label("socket"), text("socket")));
    lines.push(format!("{} {}", label("data"), text("data_dir")));
    if let Some(active) = number("active_tasks") {
        lines.push(format!("{} {active} active", label("tasks")));
    }
    match number("idle_timeout_secs") {
        Some(0) => lines.push(format!("{} never", label("idle exit"))),
        Some(secs) => lines.push(format!(
            "{} after {} without clients or tasks",
            label("idle exit"),
            output::duration(secs)
        )),
        None => {}
    }
    let activated = info.get("socket_activated").and_then(Value::as_bool);
    if let Some(activated) = activated {
        let how = if activated {
            "systemd (socket activation)"
        } else {
            "started directly"
        };
        lines.push(format!("{} {how}", label("managed")));
    }
    if !compatible {
        lines.push(format!(
            "{} this espctl speaks protocol {PROTOCOL_VERSION}; restart the daemon: \
             `espctl daemon stop && espctl daemon start`",
            out.paint(Color::Red, "mismatch  ")
        ));
    }
    lines
}

#[derive(Serialize)]
struct StopReport {
    /// False when no daemon answered on the socket; nothing was done.
    was_running: bool,
    /// True once the daemon no longer serves the socket.
    stopped: bool,
    /// True when the daemon's process has also exited (it may linger briefly after closing its socket).
    process_exited: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pid: Option<u32>,
    /// Tasks that were running and got canceled.
    canceled_tasks: u64,
    /// True when systemd listens on the socket and will start the daemon again on the next connection.
    socket_activated: bool,
}

async fn stop(socket: &Path, out: Output) -> Outcome {
    let client = match connect_existing(socket).await {
        Ok(client) => client,
        Err(ClientError::NotRunning { .. }) => {
            let report = StopReport {
                was_running: false,
                stopped: false,
                process_exited: false,
                pid: None,
                canceled_tasks: 0,
                socket_activated: false,
            };
            if out.json {
                output::json_line(&report)?;
            } else {
                output::line("espctld is not running")?;
            }
            return Ok(0);
        }
        Err(err) => return Err(err.into()),
    };
    let report = shutdown_and_wait(client, socket).await?;
    if out.json {
        output::json_line(&report)?;
        return Ok(0);
    }
    let pid = report
        .pid
        .map(|pid| format!(" (pid {pid})"))
        .unwrap_or_default();
    output::line(&format!("stopped espctld{pid}"))?;
    if !report.process_exited {
        output::note(&format!(
            "{} espctld{pid} closed its socket but its process has not exited after {}s",
            out.paint_err(Color::Yellow, "warning:"),
            PROCESS_EXIT_WAIT.as_secs()
        ));
    }
    if report.canceled_tasks > 0 {
        output::line(&format!("canceled {} running tasks", report.canceled_tasks))?;
    }
    if report.socket_activated {
        output::line(
            "systemd still listens on the socket and starts espctld on the next connection; \
             to stop it for good: systemctl --user stop espctld.socket",
        )?;
    }
    Ok(0)
}

/// Ask the daemon to shut down, then wait until it is gone: its socket no longer answers (unless
/// systemd holds the socket) and its process has exited.
async fn shutdown_and_wait(client: Client, socket: &Path) -> anyhow::Result<StopReport> {
    let info = info_json(&client).await?;
    let pid = info
        .get("pid")
        .and_then(Value::as_u64)
        .and_then(|p| u32::try_from(p).ok());
    let socket_activated = info
        .get("socket_activated")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let canceled_tasks = match client
        .call_json(methods::DaemonShutdown::NAME, &serde_json::json!({}))
        .await
    {
        Ok(result) => result
            .get("canceling_tasks")
            .and_then(Value::as_u64)
            .unwrap_or(0),
        // The daemon may close the connection before its answer arrives: it is stopping either way.
        Err(ClientError::Transport(_)) => 0,
        Err(err) => return Err(err.into()),
    };
    drop(client);

    // Stopped means: the socket no longer answers. With socket activation systemd keeps answering on
    // it (and connecting would start a new daemon), so there only the process tells.
    let start = Instant::now();
    let still_running = |what: &str| {
        let pid_text = pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
        let kill = pid
            .map(|p| format!("`kill {p}`"))
            .unwrap_or_else(|| "kill it".into());
        CliError::runtime(format!(
            "espctld{pid_text} {what} {}s after it was asked to stop",
            STOP_TIMEOUT.as_secs()
        ))
        .with_hint(format!(
            "see `espctl daemon logs` for what it is waiting for, or {kill}"
        ))
    };
    if socket_activated {
        while !pid.is_none_or(process_gone) {
            if start.elapsed() > STOP_TIMEOUT {
                return Err(still_running("is still running").into());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    } else {
        while socket_answers(socket).await {
            if start.elapsed() > STOP_TIMEOUT {
                return Err(still_running("still answers on its socket").into());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    // Give the process a moment to finish exiting, so that a `start` right after finds it gone.
    let exit_deadline = Instant::now() + PROCESS_EXIT_WAIT;
    let mut process_exited = pid.is_none_or(process_gone);
    while !process_exited && Instant::now() < exit_deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
        process_exited = pid.is_none_or(process_gone);
    }
    Ok(StopReport {
        was_running: true,
        stopped: true,
        process_exited,
        pid,
        canceled_tasks,
        socket_activated,
    })
}

async fn socket_answers(socket: &Path) -> bool {
    connect::connect_stream(socket).await.is_ok()
}

/// True once process `pid` no longer exists (an unreaped zombie counts as gone: it runs no code).
fn process_gone(pid: u32) -> bool {
    #[cfg(unix)]
    {
        use nix::errno::Errno;
        use nix::sys::signal::kill;
        use nix::unistd::Pid;
        let Ok(raw) = i32::try_from(pid) else {
            return true;
        };
        match kill(Pid::from_raw(raw), None) {
            Err(Errno::ESRCH) => true,
            Err(_) => false,
            Ok(()) => is_zombie(pid),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

#[cfg(unix)]
fn is_zombie(pid: u32) -> bool {
    // Linux exposes the state; elsewhere a zombie only lingers until its parent reaps it.
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

// ---------------------------------------------------------------------------------------------
// install

#[derive(Serialize)]
struct InstallReport {
    manager: &'static str,
    dry_run: bool,
    files: Vec<InstallFile>,
    commands: Vec<Vec<String>>,
    /// True when the commands were run; false when they are left for the user (dry run, or the
    /// service manager is not reachable from here).
    commands_ran: bool,
    warnings: Vec<String>,
}

#[derive(Serialize)]
struct InstallFile {
    path: String,
    contents: String,
}

async fn install(dry_run: bool, socket: &Path, out: Output) -> Outcome {
    let manager = ServiceManager::for_this_platform().ok_or_else(|| {
        CliError::usage("`espctl daemon install` supports Linux (systemd) and macOS (launchd)")
    })?;
    let espctld = connect::daemon_binary()?;
    let espctld = fs::canonicalize(&espctld)
        .with_context(|| format!("cannot resolve {}", espctld.display()))?;
    let home = directories::BaseDirs::new()
        .map(|dirs| dirs.home_dir().to_path_buf())
        .ok_or_else(|| CliError::usage("cannot find your home directory (is HOME set?)"))?;
    let inputs = InstallInputs {
        espctld,
        home,
        xdg_config_home: std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from),
        socket: socket.to_path_buf(),
        launchd_log: paths::default_data_dir()
            .join("logs")
            .join("espctld-launchd.log"),
        uid: paths::current_uid(),
    };
    let plan = service::install_plan(manager, &inputs);
    let warnings = install_warnings(manager, socket);
    for warning in &warnings {
        if !out.json {
            output::note(&format!(
                "{} {warning}",
                out.paint_err(Color::Yellow, "warning:")
            ));
        }
    }

    let mut commands_ran = false;
    if !dry_run {
        for file in &plan.files {
            write_file(&file.path, &file.contents)?;
            if !out.json {
                output::line(&format!("wrote {}", file.path.display()))?;
            }
        }
        if manager_reachable(manager) {
            take_over_from_running_daemon(socket, out).await?;
            run_commands(&plan, &inputs, out)?;
            commands_ran = true;
        } else if !out.json {
            output::line(&format!(
                "{} is not reachable from here; to finish, run:",
                match manager {
                    ServiceManager::Systemd => "the systemd user manager (systemctl --user)",
                    ServiceManager::Launchd => "launchctl",
                }
            ))?;
            for command in &plan.commands {
                output::line(&format!("  {}", service::shell_line(command)))?;
            }
        }
    } else if !out.json {
        for file in &plan.files {
            output::line(&format!("would write {}:", file.path.display()))?;
            for line in file.contents.lines() {
                output::line(&format!("    {line}"))?;
            }
        }
        for command in &plan.commands {
            output::line(&format!("would run: {}", service::shell_line(command)))?;
        }
    }

    if out.json {
        output::json_line(&InstallReport {
            manager: manager.name(),
            dry_run,
            files: plan
                .files
                .iter()
                .map(|f| InstallFile {
                    path: f.path.to_string_lossy().into_owned(),
                    contents: f.contents.clone(),
                })
                .collect(),
            commands: plan.commands.clone(),
            commands_ran,
            warnings,
        })?;
    }
    Ok(0)
}

/// Mismatches between where clients look for the socket and where the service listens.
fn install_warnings(manager: ServiceManager, socket: &Path) -> Vec<String> {
    let mut warnings = Vec::new();
    if manager != ServiceManager::Systemd {
        return warnings;
    }
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        None => warnings.push(
            "XDG_RUNTIME_DIR is not set in this shell, so espctl looks for the daemon elsewhere \
             than the socket unit listens ($XDG_RUNTIME_DIR/espctl/espctld.sock of your systemd \
             session)"
                .into(),
        ),
        Some(runtime) => {
            let listened = PathBuf::from(runtime).join(service::SYSTEMD_SOCKET_RELATIVE);
            if listened != socket {
                warnings.push(format!(
                    "espctl is set to use {} (--socket or ESPCTL_SOCKET), but the socket unit \
                     listens on {}",
                    socket.display(),
                    listened.display()
                ));
            }
        }
    }
    warnings
}

/// Write a file through a temporary sibling and a rename, creating its directory.
fn write_file(path: &Path, contents: &str) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .with_context(|| format!("{} has no directory", path.display()))?;
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut temporary = path.as_os_str().to_os_string();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    fs::write(&temporary, contents)
        .and_then(|()| fs::rename(&temporary, path))
        .with_context(|| format!("cannot write {}", path.display()))
}

fn manager_reachable(manager: ServiceManager) -> bool {
    match manager {
        ServiceManager::Systemd => std::process::Command::new("systemctl")
            .args(["--user", "show-environment"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success()),
        ServiceManager::Launchd => connect::find_on_path("launchctl").is_some(),
    }
}

/// A daemon that a client started holds the socket path the service is about to take: stop it so
/// that the service manager's daemon is the one clients reach.
async fn take_over_from_running_daemon(socket: &Path, out: Output) -> anyhow::Result<()> {
    let Ok(client) = connect_existing(socket).await else {
        return Ok(());
    };
    let info = info_json(&client).await?;
    if info.get("socket_activated").and_then(Value::as_bool) == Some(true) {
        return Ok(());
    }
    if !out.json {
        output::line(&format!(
            "stopping the running espctld (pid {}) so that the service manager takes over its socket",
            info.get("pid").and_then(Value::as_u64).unwrap_or(0)
        ))?;
    }
    shutdown_and_wait(client, socket).await?;
    Ok(())
}

fn run_commands(plan: &InstallPlan, inputs: &InstallInputs, out: Output) -> anyhow::Result<()> {
    if plan.manager == ServiceManager::Launchd {
        // Bootstrapping an agent that is already loaded fails; unload a previous version first.
        let _ = std::process::Command::new("launchctl")
            .arg("bootout")
            .arg(format!("gui/{}/{}", inputs.uid, service::LAUNCHD_LABEL))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
    for command in &plan.commands {
        let line = service::shell_line(command);
        let output = std::process::Command::new(&command[0])
            .args(&command[1..])
            .stdin(std::process::Stdio::null())
            .output()
            .with_context(|| format!("cannot run {line}"))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(CliError::runtime(format!(
                "`{line}` failed ({}): {}",
                output.status,
                stderr.trim()
            ))
            .with_hint(format!("the files are written; run `{line}` by hand"))
            .into());
        }
        if !out.json {
            output::line(&format!("ran: {line}"))?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// logs

async fn logs(follow: bool, lines: Option<usize>, socket: &Path, out: Output) -> Outcome {
    let data_dir = match connect_existing(socket).await {
        Ok(client) => info_json(&client).await.ok().and_then(|info| {
            info.get("data_dir")
                .and_then(Value::as_str)
                .map(PathBuf::from)
        }),
        Err(_) => None,
    }
    .unwrap_or_else(paths::default_data_dir);
    let dir = data_dir.join("logs");
    let Some(file) = newest_log(&dir) else {
        return Err(
            CliError::runtime(format!("no daemon log in {} yet", dir.display()))
                .with_hint("the daemon writes its log there once it runs: `espctl daemon start`")
                .into(),
        );
    };
    let mut printer = LogPrinter::new(out);
    let mut reader = LogFile::open(&file)?;
    let text = reader.read_new()?;
    let all: Vec<&str> = text.lines().collect();
    let skip = lines.map_or(0, |n| all.len().saturating_sub(n));
    for line in &all[skip..] {
        printer.print(&reader.path, line)?;
    }
    if !follow {
        return Ok(0);
    }
    tokio::select! {
        result = follow_logs(&dir, reader, &mut printer) => result,
        _ = tokio::signal::ctrl_c() => Ok(0),
    }
}

async fn follow_logs(dir: &Path, mut reader: LogFile, printer: &mut LogPrinter) -> Outcome {
    loop {
        tokio::time::sleep(FOLLOW_INTERVAL).await;
        let text = reader.read_new()?;
        for line in text.lines() {
            printer.print(&reader.path, line)?;
        }
        // Daily rotation: once a newer file appears, the current one is complete.
        if let Some(newest) = newest_log(dir)
            && newest != reader.path
        {
            let rest = reader.read_new()?;
            for line in rest.lines() {
                printer.print(&reader.path, line)?;
            }
            reader = LogFile::open(&newest)?;
        }
    }
}

/// The newest daemon log file: `espctld.log*` names sort by date, so the lexically last one.
fn newest_log(dir: &Path) -> Option<PathBuf> {
    fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| entry.ok())
        .filter(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            name == DAEMON_LOG_PREFIX || name.starts_with(&format!("{DAEMON_LOG_PREFIX}."))
        })
        .map(|entry| entry.path())
        .filter(|path| path.is_file())
        .max()
}

/// A log file read incrementally: complete lines only, restarting when it was truncated.
struct LogFile {
    path: PathBuf,
    file: fs::File,
    position: u64,
    /// A trailing line without its newline yet.
    partial: Vec<u8>,
}

impl LogFile {
    fn open(path: &Path) -> anyhow::Result<LogFile> {
        let file =
            fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        Ok(LogFile {
            path: path.to_path_buf(),
            file,
            position: 0,
            partial: Vec::new(),
        })
    }

    /// The complete lines written since the last call.
    fn read_new(&mut self) -> anyhow::Result<String> {
        let len = self.file.metadata()?.len();
        if len < self.position {
            self.position = 0;
            self.partial.clear();
        }
        self.file.seek(SeekFrom::Start(self.position))?;
        let mut bytes = std::mem::take(&mut self.partial);
        let read = (&mut self.file)
            .take(len - self.position)
            .read_to_end(&mut bytes)?;
        self.position += read as u64;
        let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        self.partial = bytes.split_off(complete);
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// Prints daemon log lines as text or as `{"file", "line"}` objects.
struct LogPrinter {
    out: Output,
    stdout: std::io::BufWriter<std::io::Stdout>,
}

impl LogPrinter {
    fn new(out: Output) -> LogPrinter {
        LogPrinter {
            out,
            stdout: std::io::BufWriter::new(std::io::stdout()),
        }
    }

    fn print(&mut self, file: &Path, line: &str) -> std::io::Result<()> {
        if self.out.json {
            serde_json::to_writer(
                &mut self.stdout,
                &serde_json::json!({"file": file.to_string_lossy(), "line": line}),
            )?;
            self.stdout.write_all(b"\n")?;
        } else {
            self.stdout.write_all(line.as_bytes())?;
            self.stdout.write_all(b"\n")?;
        }
        self.stdout.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_log_is_the_lexically_last_daily_file() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "espctld.log.2026-05-03",
            "espctld.log.2026-05-05",
            "espctld.log.2026-05-04",
            "espctld-start.log",
            "other.log",
        ] {
            fs::write(dir.path().join(name), "x\n").unwrap();
        }
        assert_eq!(
            newest_log(dir.path()).unwrap(),
            dir.path().join("espctld.log.2026-05-05")
        );
        assert_eq!(newest_log(&dir.path().join("missing")), None);
    }

    #[test]
    fn log_files_are_read_in_complete_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("espctld.log.2026-05-05");
        fs::write(&path, "one\ntw").unwrap();
        let mut reader = LogFile::open(&path).unwrap();
        assert_eq!(reader.read_new().unwrap(), "one\n");
        let mut file = fs::OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"o\nthree\n").unwrap();
        assert_eq!(reader.read_new().unwrap(), "two\nthree\n");
        assert_eq!(reader.read_new().unwrap(), "");
        fs::write(&path, "new\n").unwrap();
        assert_eq!(reader.read_new().unwrap(), "new\n");
    }

    #[test]
    fn status_report_reads_daemon_info_leniently() {
        let info = serde_json::json!({
            "version": "0.1.0",
            "protocol_version": PROTOCOL_VERSION,
            "pid": 42,
            "uptime_secs": 192,
            "socket": "/run/user/1000/espctl/espctld.sock",
            "data_dir": "/home/ada/.local/share/espctl",
            "active_tasks": 1,
            "idle_timeout_secs": 600,
            "socket_activated": true,
        });
        let lines = status_lines(&info, true, &Output::plain(false));
        assert_eq!(
            lines,
            vec![
                "espctld is running",
                "version    0.1.0 (protocol 1)",
                "pid        42",
                "uptime     3m 12s",
                "socket     /run/user/1000/espctl/espctld.sock",
                "data       /home/ada/.local/share/espctl",
                "tasks      1 active",
                "idle exit  after 10m 0s without clients or tasks",
                "managed    systemd (socket activation)",
            ]
        );
        let old = serde_json::json!({"version": "0.0.1", "protocol_version": 0, "pid": 7});
        let lines = status_lines(&old, false, &Output::plain(false));
        assert!(
            lines
                .last()
                .unwrap()
                .contains("espctl daemon stop && espctl daemon start")
        );
    }

    #[test]
    fn our_own_pid_is_alive_and_a_reaped_child_is_gone() {
        assert!(!process_gone(std::process::id()));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(process_gone(pid));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn an_unreaped_child_counts_as_gone() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        std::thread::sleep(Duration::from_millis(200));
        assert!(process_gone(pid));
        child.wait().unwrap();
    }
}
