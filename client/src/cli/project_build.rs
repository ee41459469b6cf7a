//! `espctl build [path]`: an ESP-IDF project build in the local daemon (`build.start`), followed live.
//!
//! Human output: a stage line per phase (configure, compile with N/M, link, ...) with a progress bar
//! on a terminal, the last lines of the log and the diagnostics on failure, a manifest summary on
//! success. `--json`: `PipelineEvent`s, one per line, ending with `manifest` or `error`. `--detach`:
//! only the task id.
//!
//! Ctrl-C cancels the build: espctl asks the daemon to cancel the task, waits until it has stopped
//! (its processes get SIGINT, then SIGKILL after the daemon's grace period) and exits with 130, as a
//! shell reports a command that Ctrl-C stopped. Ctrl-C is listened for before the build is started,
//! so one pressed while the daemon plans still cancels the build once it exists.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use espctl_protocol::events::PipelineEvent;
use espctl_protocol::log::LogChunk;
use espctl_protocol::methods::{
    BuildCancel, BuildLog, BuildLogParams, BuildResult, BuildStart, BuildStartParams, BuildStatus,
    TaskIdParams, TaskSubscribe, TaskSubscribeParams,
};
use espctl_protocol::task::{TaskInfo, TaskStatus};
use indicatif::{ProgressBar, ProgressStyle};

use super::output::{self, Color, Output};
use super::{CliError, Outcome};

/// How many log lines a failure shows.
const TAIL_ON_FAILURE: usize = 25;

/// The exit code of a build that Ctrl-C canceled: 128 + SIGINT, what a shell reports for a command
/// that Ctrl-C stopped.
pub const EXIT_INTERRUPTED: i32 = 130;

/// Ctrl-C, listened for from the moment this is created (without it, a Ctrl-C would end espctl and
/// leave the build running in the daemon).
pub struct CtrlC {
    signal: Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>>,
    pressed: bool,
}

impl CtrlC {
    pub async fn listen() -> CtrlC {
        let mut signal: Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>> =
            Box::pin(tokio::signal::ctrl_c());
        // The first poll installs the handler.
        let pressed = futures::poll!(signal.as_mut()).is_ready();
        CtrlC { signal, pressed }
    }

    /// Resolves when Ctrl-C is pressed (at once when it already was).
    async fn pressed(&mut self) {
        if !self.pressed {
            let _ = self.signal.as_mut().await;
            self.pressed = true;
        }
    }
}

/// What `espctl build` sends, already validated.
pub struct ProjectBuildArgs {
    pub params: BuildStartParams,
    pub detach: bool,
}

pub async fn run(args: ProjectBuildArgs, socket: &Path, out: Output) -> Outcome {
    let mut ctrl_c = (!args.detach).then_some(CtrlC::listen().await);
    let client = super::connect(socket).await?;
    if ctrl_c.as_ref().is_some_and(|c| c.pressed) {
        return Err(CliError {
            message: "interrupted by Ctrl-C before the build was started".into(),
            exit_code: EXIT_INTERRUPTED,
            hint: None,
        }
        .into());
    }
    // The request is not abandoned on Ctrl-C: the daemon may already have created the task, which
    // is canceled as soon as its id is known.
    let start = client.call::<BuildStart>(&args.params);
    tokio::pin!(start);
    let started = loop {
        tokio::select! {
            r = &mut start => break r?,
            _ = async { ctrl_c.as_mut().expect("guarded").pressed().await },
                if ctrl_c.as_ref().is_some_and(|c| !c.pressed) => {}
        }
    };
    let task_id = started.task_id.clone();
    let Some(ctrl_c) = ctrl_c else {
        if out.json {
            output::json_line(&serde_json::json!({"task_id": task_id}))?;
        } else {
            output::line(task_id.as_str())?;
        }
        return Ok(0);
    };
    follow_with(&client, &task_id, "build", out, ctrl_c).await
}

/// Follows a build-like task to its end, rendering it; the exit code is the task's, or
/// [`EXIT_INTERRUPTED`] when Ctrl-C canceled it.
pub async fn follow(
    client: &espctl::Client,
    task_id: &espctl_protocol::TaskId,
    kind: &str,
    out: Output,
) -> Outcome {
    follow_with(client, task_id, kind, out, CtrlC::listen().await).await
}

/// [`follow`] with Ctrl-C already listened for (and perhaps already pressed).
async fn follow_with(
    client: &espctl::Client,
    task_id: &espctl_protocol::TaskId,
    kind: &str,
    out: Output,
    mut ctrl_c: CtrlC,
) -> Outcome {
    let task_id = task_id.clone();
    if out.json {
        output::json_line(&PipelineEvent::Task {
            task_id: task_id.to_string(),
            kind: kind.into(),
        })?;
    }
    let mut view = View::new(out);
    let mut tasks = client
        .subscribe::<TaskSubscribe>(&TaskSubscribeParams {
            task_id: Some(task_id.clone()),
        })
        .await?;
    let mut log = client
        .subscribe::<BuildLog>(&BuildLogParams {
            task_id: task_id.clone(),
            offset: 0,
        })
        .await?;
    let mut log_open = true;
    let mut tasks_open = true;
    let mut last: Option<TaskInfo> = None;
    let mut cancel_sent = false;
    if ctrl_c.pressed {
        cancel_sent = true;
        view.note("cancelling the build (Ctrl-C was pressed while it started)");
        let _ = client
            .call::<BuildCancel>(&TaskIdParams {
                task_id: task_id.clone(),
            })
            .await;
    }
    loop {
        if !tasks_open && !log_open {
            break;
        }
        tokio::select! {
            t = tasks.next(), if tasks_open => match t {
                Some(Ok(info)) => {
                    view.task(&info)?;
                    last = Some(info);
                }
                _ => tasks_open = false,
            },
            c = log.next(), if log_open => match c {
                Some(Ok(chunk)) => {
                    view.log(&chunk)?;
                    if chunk.eof {
                        log_open = false;
                    }
                }
                _ => log_open = false,
            },
            _ = ctrl_c.pressed(), if !cancel_sent => {
                cancel_sent = true;
                view.note("cancelling the build (Ctrl-C again is ignored; it stops within the grace period)");
                let _ = client.call::<BuildCancel>(&TaskIdParams { task_id: task_id.clone() }).await;
            }
        }
        if last.as_ref().is_some_and(|t| t.status.is_final()) && !log_open {
            break;
        }
    }
    // The final state, whatever the subscriptions delivered.
    let info = client
        .call::<BuildStatus>(&TaskIdParams {
            task_id: task_id.clone(),
        })
        .await?;
    // Give a log that is still draining a moment.
    if log_open {
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(Ok(chunk)) = log.next().await {
                let _ = view.log(&chunk);
                if chunk.eof {
                    break;
                }
            }
        })
        .await;
    }
    view.finish(&info, cancel_sent)
}

/// Renders a build as it goes.
struct View {
    out: Output,
    bar: Option<ProgressBar>,
    phase: String,
    tail: std::collections::VecDeque<String>,
    diagnostics_seen: usize,
}

impl View {
    fn new(out: Output) -> View {
        let bar = (!out.json && std::io::IsTerminal::is_terminal(&std::io::stderr())).then(|| {
            let bar = ProgressBar::new(1000);
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix:>18} [{bar:30}] {pos:>4}‰ {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        View {
            out,
            bar,
            phase: String::new(),
            tail: std::collections::VecDeque::new(),
            diagnostics_seen: 0,
        }
    }

    fn note(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None if !self.out.json => output::note(text),
            None => {}
        }
    }

    fn task(&mut self, info: &TaskInfo) -> anyhow::Result<()> {
        if info.phase != self.phase && !info.phase.is_empty() {
            if self.out.json {
                if !self.phase.is_empty() {
                    output::json_line(&PipelineEvent::StageEnd {
                        stage: self.phase.clone(),
                        ok: true,
                    })?;
                }
                output::json_line(&PipelineEvent::StageStart {
                    stage: info.phase.clone(),
                })?;
            } else if let Some(bar) = &self.bar {
                bar.set_prefix(info.phase.clone());
            } else if info.phase != "done" {
                output::note(&format!("==> {}", info.phase));
            }
            self.phase = info.phase.clone();
        }
        if self.out.json {
            output::json_line(&PipelineEvent::Progress {
                stage: info.phase.clone(),
                progress: info.progress,
            })?;
            for d in info.diagnostics.iter().skip(self.diagnostics_seen) {
                output::json_line(&PipelineEvent::Diagnostic {
                    severity: d.severity.clone(),
                    message: d.message.clone(),
                    file: d.file.clone(),
                    line: d.line,
                    column: d.column,
                })?;
            }
        } else if let Some(bar) = &self.bar {
            bar.set_position((info.progress * 1000.0) as u64);
        }
        self.diagnostics_seen = self.diagnostics_seen.max(info.diagnostics.len());
        Ok(())
    }

    fn log(&mut self, chunk: &LogChunk) -> anyhow::Result<()> {
        for line in &chunk.lines {
            if self.out.json {
                output::json_line(&PipelineEvent::Log { line: line.clone() })?;
            } else if let Some(bar) = &self.bar {
                bar.set_message(truncate(line, 60));
            }
            self.tail.push_back(line.clone());
            if self.tail.len() > TAIL_ON_FAILURE {
                self.tail.pop_front();
            }
        }
        Ok(())
    }

    /// Renders the end of the task; `interrupted`: Ctrl-C asked for the cancel.
    fn finish(self, info: &TaskInfo, interrupted: bool) -> Outcome {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        let interrupted = interrupted && info.status == TaskStatus::Canceled;
        let code = match info.status {
            TaskStatus::Succeeded => 0,
            TaskStatus::Failed => info.exit_code.unwrap_or(1),
            _ if interrupted => EXIT_INTERRUPTED,
            _ => 1,
        };
        let interrupted_message = || match info.error.as_deref() {
            Some(e) if e != "canceled" => format!("build canceled by Ctrl-C ({e})"),
            _ => "build canceled by Ctrl-C".to_string(),
        };
        if self.out.json {
            if !self.phase.is_empty() {
                output::json_line(&PipelineEvent::StageEnd {
                    stage: self.phase.clone(),
                    ok: info.status == TaskStatus::Succeeded,
                })?;
            }
            if info.status == TaskStatus::Succeeded {
                let result: BuildResult =
                    serde_json::from_value(info.result.clone().unwrap_or_default())?;
                match (
                    result.bundle_path,
                    result.bundle_size_bytes,
                    result.manifest,
                ) {
                    (Some(path), Some(size), Some(manifest)) => {
                        output::json_line(&PipelineEvent::Manifest {
                            task_id: info.task_id.to_string(),
                            bundle_path: path,
                            bundle_size_bytes: size,
                            manifest: Box::new(manifest),
                        })?
                    }
                    _ => output::json_line(&serde_json::json!({
                        "event": "done",
                        "task_id": info.task_id,
                        "artifacts": result.artifacts,
                    }))?,
                }
            } else {
                output::json_line(&PipelineEvent::Error {
                    message: if interrupted {
                        interrupted_message()
                    } else {
                        info.error
                            .clone()
                            .unwrap_or_else(|| format!("build {}", info.status))
                    },
                    kind: if interrupted {
                        "interrupted".into()
                    } else if code == 2 {
                        "config".into()
                    } else {
                        "runtime".into()
                    },
                    exit_code: code,
                    hint: Some(format!(
                        "`espctl logs {}` shows the whole log",
                        info.task_id
                    )),
                    task_id: Some(info.task_id.to_string()),
                })?;
            }
            return Ok(code);
        }
        let out = &self.out;
        match info.status {
            TaskStatus::Succeeded => {
                let result: BuildResult =
                    serde_json::from_value(info.result.clone().unwrap_or_default())?;
                let label = |name: &str| out.paint(Color::Bold, &format!("{name:<9}"));
                output::line(&format!(
                    "{} {} for {} in {:.1} s ({})",
                    out.paint(Color::Green, "Built"),
                    result.project_name,
                    result.target,
                    result.duration_secs,
                    result.profile.as_str()
                ))?;
                if let (Some(path), Some(size), Some(manifest)) = (
                    &result.bundle_path,
                    result.bundle_size_bytes,
                    &result.manifest,
                ) {
                    output::line(&format!(
                        "{} {path} ({})",
                        label("Bundle"),
                        output::size(size)
                    ))?;
                    for s in &manifest.flash.segments {
                        output::line(&format!(
                            "{} {:<8} {}  sha256 {}",
                            label(""),
                            s.offset,
                            s.file,
                            output::short_hash(&s.sha256)
                        ))?;
                    }
                    output::line(&format!(
                        "{} mode {}, freq {}, size {}",
                        label("Flash"),
                        manifest.flash.flash_mode,
                        manifest.flash.flash_freq,
                        manifest.flash.flash_size
                    ))?;
                }
                if let Some(sbom) = &result.sbom_path {
                    output::line(&format!("{} {sbom}", label("SBOM")))?;
                }
                if let Some(elf) = &result.retained_elf {
                    output::line(&format!(
                        "{} {elf} (`espctl elf {}`)",
                        label("Kept ELF"),
                        info.task_id
                    ))?;
                }
                let warnings = info
                    .diagnostics
                    .iter()
                    .filter(|d| d.severity == "warning")
                    .count();
                if warnings > 0 {
                    output::line(&format!(
                        "{} {warnings} compiler warnings",
                        label("Warnings")
                    ))?;
                }
                output::line(&format!("{} {}", label("Task"), info.task_id))?;
            }
            _ if interrupted => {
                return Err(CliError {
                    message: interrupted_message(),
                    exit_code: code,
                    hint: Some(format!("`espctl logs {}` shows its log", info.task_id)),
                }
                .into());
            }
            _ => {
                output::note(&out.paint_err(Color::Dim, "--- last lines of the log"));
                for l in &self.tail {
                    output::note(l);
                }
                for d in info.diagnostics.iter().filter(|d| d.severity == "error") {
                    let place = match (&d.file, d.line, d.column) {
                        (Some(f), Some(l), Some(c)) => format!("{f}:{l}:{c}: "),
                        (Some(f), Some(l), None) => format!("{f}:{l}: "),
                        (Some(f), None, _) => format!("{f}: "),
                        _ => String::new(),
                    };
                    output::note(&format!(
                        "{}{place}{}",
                        out.paint_err(Color::Red, "error: "),
                        d.message
                    ));
                }
                let message = info
                    .error
                    .clone()
                    .unwrap_or_else(|| format!("build {}", info.status));
                // The task's error already says where the whole log is.
                return Err(CliError {
                    message: format!("build {}: {message}", info.status),
                    exit_code: code,
                    hint: None,
                }
                .into());
            }
        }
        Ok(code)
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let cut: String = s.chars().take(n.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}
