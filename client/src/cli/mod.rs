//! The `espctl` command line: argument definitions, dispatch, and how errors become exit codes.
//!
//! Every command connects through [`espctl::Client`] (starting the daemon when needed, except where
//! noted), makes one or a few calls, and renders the answer as text or, with `--json`, as the JSON that
//! `client/JSON.md` documents.
//!
//! Exit codes: 0 success; 1 runtime failure (the work failed, the daemon could not be reached);
//! 2 configuration or invalid input (bad flags, an unknown task, an invalid target, a daemon speaking
//! another protocol version); 3 from `espctl daemon status` when the daemon is not running.

mod build;
mod daemon;
mod output;
mod plan;
mod project_build;
mod rpc;
mod tasks;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};
use espctl::{Client, ClientError, ConnectOptions};
use espctl_protocol::TaskId;
use espctl_protocol::task::{TaskKind, TaskStatus};

use output::{Color, Output};

/// Drive ESP32 firmware work through the espctld daemon.
#[derive(Debug, Parser)]
#[command(
    name = "espctl",
    version,
    propagate_version = true,
    after_help = "Exit codes: 0 success, 1 runtime failure, 2 invalid input or configuration, \
                  3 not running (`daemon status` only)."
)]
pub struct Cli {
    /// Print machine-readable JSON on stdout (formats in JSON.md) instead of text
    #[arg(long, global = true)]
    pub json: bool,

    /// The daemon's socket [default: $ESPCTL_SOCKET, else $XDG_RUNTIME_DIR/espctl/espctld.sock]
    #[arg(long, global = true, value_name = "PATH")]
    pub socket: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build firmware; `--rust-elf` turns a Rust no_std ELF into a flash bundle
    Build(build::BuildArgs),
    /// Show what a build would do, without doing it (same as `build --local`)
    Plan(plan::PlanArgs),
    /// List the build's components; --why NAME shows what pulls NAME in
    Components(plan::ComponentsArgs),
    /// Show what `idf.py clean` (or fullclean with --full) would delete, without deleting
    CleanPlan(plan::CleanPlanArgs),
    /// Run idf.py set-target: full clean, sdkconfig kept as sdkconfig.old, configure for CHIP
    SetTarget {
        /// The new target chip
        target: String,
        /// Project directory [default: .]
        path: Option<PathBuf>,
    },
    /// Write an SPDX SBOM (build/sbom.spdx) for a finished build task
    Sbom {
        /// Task id of a successful build
        task: TaskId,
    },
    /// Fetch the unstripped application ELF a build kept with --elf
    Elf {
        /// Task id of a successful build started with --elf
        task: TaskId,
        /// Where to write it [default: ./<name>.elf]
        #[arg(short, long, value_name = "PATH")]
        output: Option<PathBuf>,
    },
    /// List tasks, newest first
    Tasks(TasksArgs),
    /// Show one task, or with --project how the daemon watches a project
    Status {
        /// Task id (32 hex characters, as `espctl tasks` shows)
        #[arg(required_unless_present = "project")]
        task: Option<TaskId>,
        /// Show whether and how the daemon watches the project at PATH instead
        #[arg(long, value_name = "PATH", conflicts_with = "task")]
        project: Option<PathBuf>,
    },
    /// Follow a project: re-planned on every save, with what the next build will cost
    Watch(watch::WatchArgs),
    /// Cancel a pending or running task (a no-op for finished ones)
    Cancel {
        /// Task id
        task: TaskId,
    },
    /// Print a task's log
    Logs(LogsArgs),
    /// Manage the espctld daemon
    #[command(subcommand)]
    Daemon(DaemonCommand),
    /// Print a shell completion script
    Completions {
        /// bash, zsh, fish, elvish or powershell
        shell: clap_complete::Shell,
    },
    /// Bridge newline-delimited JSON-RPC on stdin/stdout to the daemon (for editors and scripts)
    ///
    /// Each stdin line is sent to the daemon as one JSON-RPC message; every message the daemon sends
    /// (responses and subscription notifications) is written to stdout as one line. On stdin EOF the
    /// bridge waits for outstanding responses, then exits 0; it also exits 0 when the daemon closes
    /// the connection. The daemon is started if it is not running.
    Rpc,
    /// Serve the Model Context Protocol on stdin/stdout, for AI assistants
    ///
    /// The tools and resources are the daemon's methods (from its method catalog); see "Using espctl
    /// with AI assistants" in the README for client configuration. The daemon is started on demand;
    /// without it, tools/list still answers and each tool call says why it cannot run. With
    /// CONTROL_BASE_URL set, `build` only returns the build plan (planning mode).
    Mcp,
}

#[derive(Debug, Args)]
pub struct TasksArgs {
    /// Only tasks in this status (repeat or separate with commas): pending, running, succeeded,
    /// failed, canceled
    #[arg(long, value_name = "STATUS", value_delimiter = ',')]
    pub status: Vec<TaskStatus>,
    /// Only tasks of this kind (repeat or separate with commas): rust_elf
    #[arg(long, value_name = "KIND", value_delimiter = ',')]
    pub kind: Vec<TaskKind>,
    /// At most this many tasks [default: 50]
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Task id
    pub task: TaskId,
    /// Follow the log until the task ends
    #[arg(short, long)]
    pub follow: bool,
}

#[derive(Debug, Subcommand)]
pub enum DaemonCommand {
    /// Start the daemon if it is not running, and show it
    Start,
    /// Stop the daemon: running tasks are canceled
    Stop,
    /// Show whether the daemon runs (exit code 3 when it does not); never starts it
    Status,
    /// Install espctld as a user service (systemd socket activation on Linux, a LaunchAgent on macOS)
    Install {
        /// Print what would be written and run, and change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Print the daemon's own log (the newest log file)
    Logs {
        /// Keep printing lines as they are written
        #[arg(short, long)]
        follow: bool,
        /// Print only the last N lines
        #[arg(short = 'n', long = "lines", value_name = "N")]
        lines: Option<usize>,
    },
}

/// An error the CLI itself raises: bad flag combinations, features this version does not have.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CliError {
    pub message: String,
    pub exit_code: i32,
    pub hint: Option<String>,
}

impl CliError {
    /// Invalid input or configuration: exit code 2.
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
            exit_code: 2,
            hint: None,
        }
    }

    /// A runtime failure: exit code 1.
    pub fn runtime(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
            exit_code: 1,
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> CliError {
        self.hint = Some(hint.into());
        self
    }
}

/// What a command hands back: the exit code of a command that did its job.
pub type Outcome = anyhow::Result<i32>;

/// Parse the arguments, run the command on a single-threaded runtime, report errors, exit.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let out = Output::detect(cli.json);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            report(
                &out,
                &anyhow::Error::new(err).context("cannot start the async runtime"),
            );
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(run(cli, out));
    // A bridge may leave a blocking stdin read behind; do not wait for it.
    runtime.shutdown_background();
    match result {
        Ok(code) => exit_code(code),
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            report(&out, &err);
            exit_code(error_exit_code(&err))
        }
    }
}

fn exit_code(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

async fn run(cli: Cli, out: Output) -> Outcome {
    let socket = espctl::connect::resolve_socket(cli.socket.as_deref());
    match cli.command {
        Command::Build(args) => build::run(args, &socket, out).await,
        Command::Plan(args) => plan::plan(args, &socket, out).await,
        Command::Components(args) => plan::components(args, &socket, out).await,
        Command::CleanPlan(args) => plan::clean_plan(args, &socket, out).await,
        Command::SetTarget { target, path } => set_target(target, path, &socket, out).await,
        Command::Sbom { task } => sbom(task, &socket, out).await,
        Command::Elf { task, output } => elf(task, output, &socket, out).await,
        Command::Tasks(args) => tasks::list(args, &socket, out).await,
        Command::Status {
            project: Some(project),
            ..
        } => watch::project_status(&project, &socket, out).await,
        Command::Status {
            task: Some(task), ..
        } => tasks::status(task, &socket, out).await,
        Command::Status { .. } => Err(CliError::usage("name a task id or --project PATH").into()),
        Command::Watch(args) => watch::run(args, &socket, out).await,
        Command::Cancel { task } => tasks::cancel(task, &socket, out).await,
        Command::Logs(args) => tasks::logs(args, &socket, out).await,
        Command::Daemon(command) => daemon::run(command, &socket, out).await,
        Command::Completions { shell } => {
            // Generated into memory first: clap_complete panics on a write error such as a closed pipe.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "espctl", &mut script);
            let mut stdout = std::io::stdout().lock();
            std::io::Write::write_all(&mut stdout, &script)?;
            std::io::Write::flush(&mut stdout)?;
            Ok(0)
        }
        Command::Rpc => rpc::run(&socket).await,
        Command::Mcp => espctl::mcp::run(&socket).await,
    }
}

/// `espctl set-target`: start `set_target.run` and follow it like a build.
async fn set_target(
    target: String,
    path: Option<PathBuf>,
    socket: &std::path::Path,
    out: Output,
) -> Outcome {
    use espctl_protocol::methods::{SetTargetRun, SetTargetRunParams};
    let client = connect(socket).await?;
    let started = client
        .call::<SetTargetRun>(&SetTargetRunParams {
            path: plan::project_path(path.as_deref())?,
            target,
            profile: None,
            env: plan::caller_env(),
        })
        .await?;
    let code = project_build::follow(&client, &started.task_id, "set_target", out).await?;
    if code == 0 && !out.json {
        output::line(&format!(
            "target is now {} (recorded in .espctl.toml)",
            started.target
        ))?;
    }
    Ok(code)
}

/// `espctl sbom <task>`.
async fn sbom(task: TaskId, socket: &std::path::Path, out: Output) -> Outcome {
    use espctl_protocol::methods::{SbomCreate, TaskIdParams};
    let client = connect(socket).await?;
    let r = client
        .call::<SbomCreate>(&TaskIdParams { task_id: task })
        .await?;
    if out.json {
        output::json_line(&r)?;
    } else {
        output::line(&format!("wrote {} ({} packages)", r.sbom_path, r.packages))?;
    }
    Ok(0)
}

/// `espctl elf <task> [-o PATH]`.
async fn elf(
    task: TaskId,
    dest: Option<PathBuf>,
    socket: &std::path::Path,
    out: Output,
) -> Outcome {
    use espctl_protocol::methods::{BuildElf, BuildElfParams};
    let client = connect(socket).await?;
    let kept = client
        .call::<BuildElf>(&BuildElfParams {
            task_id: task.clone(),
            out_path: None,
        })
        .await?;
    let file_name = std::path::Path::new(&kept.path)
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "app.elf".into());
    let dest = std::path::absolute(dest.unwrap_or_else(|| PathBuf::from(file_name)))?;
    let r = client
        .call::<BuildElf>(&BuildElfParams {
            task_id: task,
            out_path: Some(dest.display().to_string()),
        })
        .await?;
    if out.json {
        output::json_line(&r)?;
    } else {
        output::line(&format!(
            "wrote {} ({})",
            r.path,
            output::size(r.size_bytes)
        ))?;
    }
    Ok(0)
}

/// Connect for a command that works on tasks: start the daemon if needed, check its version.
async fn connect(socket: &std::path::Path) -> Result<Client, ClientError> {
    Client::connect(&ConnectOptions::new(socket.to_path_buf())).await
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The exit code for an error: the one a [`ClientError`] or [`CliError`] in the chain names, else 1.
pub fn error_exit_code(err: &anyhow::Error) -> i32 {
    for cause in err.chain() {
        if let Some(client) = cause.downcast_ref::<ClientError>() {
            return client.exit_code();
        }
        if let Some(cli) = cause.downcast_ref::<CliError>() {
            return cli.exit_code;
        }
    }
    1
}

/// The hint of the first [`ClientError`] or [`CliError`] in the chain.
pub fn error_hint(err: &anyhow::Error) -> Option<String> {
    err.chain().find_map(|cause| {
        if let Some(client) = cause.downcast_ref::<ClientError>() {
            return Some(client.hint());
        }
        cause.downcast_ref::<CliError>().map(|cli| cli.hint.clone())
    })?
}

fn report(out: &Output, err: &anyhow::Error) {
    output::note(&format!("{} {err:#}", out.paint_err(Color::Red, "error:")));
    if let Some(hint) = error_hint(err) {
        output::note(&format!("{} {hint}", out.paint_err(Color::Bold, "hint:")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use espctl_protocol::{ErrorCode, ErrorData};

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("espctl").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn malformed_task_ids_are_usage_errors() {
        let err = parse(&["status", "xyz"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("is not a task id"), "{err}");
        let id = "0123456789abcdef0123456789abcdef";
        assert!(parse(&["status", id]).is_ok());
        assert!(parse(&["logs", id, "-f"]).is_ok());
        assert_eq!(parse(&["cancel", "ABC"]).unwrap_err().exit_code(), 2);
    }

    #[test]
    fn global_flags_go_anywhere() {
        let cli = parse(&["tasks", "--json", "--socket", "/tmp/s"]).unwrap();
        assert!(cli.json);
        assert_eq!(cli.socket.as_deref(), Some(std::path::Path::new("/tmp/s")));
    }

    #[test]
    fn task_filters_repeat_and_split_on_commas() {
        let cli = parse(&[
            "tasks",
            "--status",
            "running,failed",
            "--status",
            "pending",
            "--kind",
            "rust_elf",
            "--limit",
            "3",
        ])
        .unwrap();
        let Command::Tasks(args) = cli.command else {
            panic!("not tasks")
        };
        assert_eq!(
            args.status,
            vec![TaskStatus::Running, TaskStatus::Failed, TaskStatus::Pending]
        );
        assert_eq!(args.kind, vec![TaskKind::RustElf]);
        assert_eq!(args.limit, Some(3));
        assert_eq!(
            parse(&["tasks", "--status", "done"])
                .unwrap_err()
                .exit_code(),
            2
        );
    }

    #[test]
    fn exit_codes_come_from_the_error_chain() {
        let daemon = ClientError::Daemon {
            code: ErrorCode::TaskNotFound.code(),
            message: "no such task".into(),
            data: Some(ErrorData {
                kind: "task_not_found".into(),
                exit_code: 2,
                hint: Some("list them".into()),
                task_id: None,
            }),
        };
        let err = anyhow::Error::new(daemon).context("reading the task");
        assert_eq!(error_exit_code(&err), 2);
        assert_eq!(error_hint(&err).as_deref(), Some("list them"));

        let err = anyhow::Error::new(CliError::usage("bad flags").with_hint("see --help"));
        assert_eq!(error_exit_code(&err), 2);
        assert_eq!(error_hint(&err).as_deref(), Some("see --help"));

        let err = anyhow::anyhow!("plain failure");
        assert_eq!(error_exit_code(&err), 1);
        assert_eq!(error_hint(&err), None);
    }

    #[test]
    fn broken_pipes_are_recognized_through_context() {
        let err = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
            .context("writing the table");
        assert!(is_broken_pipe(&err));
        assert!(!is_broken_pipe(&anyhow::anyhow!("other")));
    }
}
