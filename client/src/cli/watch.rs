//! `espctl watch [path]`: follow a project the daemon watches (`project.watch`), one line per
//! change with its class, reason and the next build's cost; `--json` prints one `WatchEvent` per
//! line. `--build` starts an incremental build after each change settles, canceling a build a
//! newer change made stale. Also `espctl status --project PATH`: how a project is watched.

use std::path::{Path, PathBuf};

use clap::Args;
use espctl_protocol::methods::{
    BuildCancel, BuildStart, BuildStartParams, DaemonInfo, NoParams, ProjectWatch, TaskIdParams,
    TaskSubscribe, TaskSubscribeParams,
};
use espctl_protocol::task::{TaskId, TaskInfo};
use espctl_protocol::watch::{
    BuildCost, ChangeClass, PlanChangeKind, PlanChanged, ProjectWatchParams, WatchEvent,
    WatchedProject,
};

use super::output::{self, Color, Output};
use super::plan::ProfileArg;
use super::{CliError, Outcome};

#[derive(Debug, Clone, Args)]
pub struct WatchArgs {
    /// Project directory [default: .]
    #[arg(value_name = "PATH")]
    pub path: Option<PathBuf>,
    /// Chip [default: the project's default_target, then the configured one]
    #[arg(long, value_name = "CHIP")]
    pub target: Option<String>,
    /// debug (default) or release
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<ProfileArg>,
    /// Build incrementally after each change settles; a newer change cancels a build it made
    /// stale and starts another
    #[arg(long)]
    pub build: bool,
    /// Flash PORT after each successful build (not available in this version)
    #[arg(long, value_name = "PORT")]
    pub flash: Option<String>,
}

/// The reason shown on a change's line is cut to this many characters.
const REASON_WIDTH: usize = 70;
/// Components named on a line before `+N`.
const COMPONENTS_SHOWN: usize = 3;

/// A build `--build` started and follows.
struct Running {
    task_id: TaskId,
    events: espctl::client::Subscription<TaskInfo>,
    /// A newer change asked for its cancel.
    superseded_by: Option<u64>,
}

/// What the main loop woke up for.
enum Wake {
    Plan(Option<Result<Box<PlanChanged>, espctl::ClientError>>),
    Task(Option<Result<TaskInfo, espctl::ClientError>>),
    Interrupt,
}

pub async fn run(args: WatchArgs, socket: &Path, out: Output) -> Outcome {
    if let Some(port) = &args.flash {
        return Err(CliError::usage(format!(
            "`espctl watch --flash {port}` is not available: this version of espctl cannot flash yet"
        ))
        .with_hint(
            "use `espctl watch --build`; each build writes build/flash_bundle.tar.gz for flashing",
        )
        .into());
    }
    let client = super::connect(socket).await?;
    let path = super::plan::project_path(args.path.as_deref())?;
    let env = super::plan::caller_env();
    let params = ProjectWatchParams {
        path: path.clone(),
        target: args.target.clone(),
        profile: args.profile.map(Into::into),
        env: env.clone(),
    };
    let mut changes = client.subscribe::<ProjectWatch>(&params).await?;
    let mut view = View { out };
    let mut running: Option<Running> = None;
    // The change the next build is for, when one is wanted.
    let mut wanted: Option<u64> = None;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let code = loop {
        if args.build
            && running.is_none()
            && let Some(sequence) = wanted.take()
        {
            let started = match client
                .call::<BuildStart>(&BuildStartParams {
                    path: path.clone(),
                    target: args.target.clone(),
                    profile: args.profile.map(Into::into),
                    env: env.clone(),
                    ..Default::default()
                })
                .await
            {
                Ok(started) => started,
                Err(espctl::ClientError::Daemon { message, .. }) => {
                    view.event(&WatchEvent::BuildRefused {
                        sequence,
                        error: message,
                    })?;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let events = client
                .subscribe::<TaskSubscribe>(&TaskSubscribeParams {
                    task_id: Some(started.task_id.clone()),
                })
                .await?;
            view.event(&WatchEvent::BuildStarted {
                task_id: started.task_id.to_string(),
                sequence,
            })?;
            running = Some(Running {
                task_id: started.task_id,
                events,
                superseded_by: None,
            });
        }
        let wake = tokio::select! {
            n = changes.next() => Wake::Plan(n.map(|r| r.map(Box::new))),
            t = async {
                match running.as_mut() {
                    Some(r) => r.events.next().await,
                    None => std::future::pending().await,
                }
            } => Wake::Task(t),
            _ = &mut ctrl_c => Wake::Interrupt,
        };
        match wake {
            Wake::Plan(Some(Ok(n))) => {
                view.event(&WatchEvent::PlanChanged(n.clone()))?;
                if n.kind == PlanChangeKind::Removed {
                    view.event(&WatchEvent::Ended {
                        reason: n.reason.clone(),
                    })?;
                    break 1;
                }
                if args.build
                    && n.kind == PlanChangeKind::Changed
                    && n.class != ChangeClass::Nothing
                {
                    wanted = Some(n.sequence);
                    if let Some(r) = running.as_mut()
                        && r.superseded_by.is_none()
                    {
                        r.superseded_by = Some(n.sequence);
                        client
                            .call::<BuildCancel>(&TaskIdParams {
                                task_id: r.task_id.clone(),
                            })
                            .await?;
                        view.event(&WatchEvent::BuildCanceled {
                            task_id: r.task_id.to_string(),
                            superseded_by: n.sequence,
                        })?;
                    }
                }
            }
            Wake::Plan(Some(Err(e))) => return Err(e.into()),
            Wake::Plan(None) => {
                view.event(&WatchEvent::Ended {
                    reason: "the daemon ended the watch".into(),
                })?;
                break 1;
            }
            Wake::Task(Some(Ok(info))) => {
                if info.status.is_final() {
                    view.event(&WatchEvent::BuildFinished {
                        task_id: info.task_id.to_string(),
                        status: info.status.to_string(),
                        error: info.error.clone(),
                    })?;
                    running = None;
                }
            }
            Wake::Task(_) => {
                // The task's subscription ended without a final state: ask once.
                if let Some(r) = running.take() {
                    let info = client
                        .call::<espctl_protocol::methods::BuildStatus>(&TaskIdParams {
                            task_id: r.task_id.clone(),
                        })
                        .await?;
                    view.event(&WatchEvent::BuildFinished {
                        task_id: info.task_id.to_string(),
                        status: info.status.to_string(),
                        error: info.error.clone(),
                    })?;
                }
            }
            Wake::Interrupt => {
                if let Some(r) = running.take() {
                    let _ = client
                        .call::<BuildCancel>(&TaskIdParams { task_id: r.task_id })
                        .await;
                }
                break 0;
            }
        }
    };
    Ok(code)
}

/// Renders events: JSON lines, or one compact line each.
struct View {
    out: Output,
}

impl View {
    fn event(&mut self, event: &WatchEvent) -> std::io::Result<()> {
        if self.out.json {
            return output::json_line(event);
        }
        for line in render(event, &self.out, &clock()) {
            output::line(&line)?;
        }
        Ok(())
    }
}

fn clock() -> String {
    chrono::Local::now().format("%H:%M:%S").to_string()
}

fn class_color(class: ChangeClass) -> Color {
    match class {
        ChangeClass::Reconfigure => Color::Yellow,
        ChangeClass::Recompile => Color::Cyan,
        ChangeClass::RelinkOnly => Color::Green,
        ChangeClass::Nothing => Color::Dim,
    }
}

fn shorten(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let cut: String = text.chars().take(width.saturating_sub(1)).collect();
    format!("{cut}…")
}

/// `3 objects (main, log) · relink · ~1.2 s`, or `up to date`.
pub fn cost_text(cost: &BuildCost) -> String {
    let mut parts = Vec::new();
    if cost.reconfigure {
        parts.push("CMake first".to_string());
    }
    if cost.objects_to_rebuild > 0 {
        let mut names: Vec<&str> = cost
            .components
            .iter()
            .take(COMPONENTS_SHOWN)
            .map(String::as_str)
            .collect();
        let more = cost.components.len().saturating_sub(COMPONENTS_SHOWN);
        let more_text = format!("+{more}");
        if more > 0 {
            names.push(&more_text);
        }
        let noun = if cost.objects_to_rebuild == 1 {
            "object"
        } else {
            "objects"
        };
        parts.push(format!(
            "{} {noun} ({})",
            cost.objects_to_rebuild,
            names.join(", ")
        ));
    }
    if cost.relink {
        parts.push("relink".into());
    }
    if parts.is_empty() {
        if cost.steps == 0 {
            return "up to date".into();
        }
        parts.push(format!("{} steps", cost.steps));
    }
    parts.push(format!("~{:.1} s", cost.estimated_secs));
    parts.join(" · ")
}

fn plan_cost_text(n: &PlanChanged) -> String {
    match (&n.cost, &n.cost_note) {
        (Some(c), _) => cost_text(c),
        (None, Some(note)) => shorten(note, REASON_WIDTH),
        (None, None) => "cost unknown".into(),
    }
}

/// The lines of one event (without colors unless `out` allows them).
pub fn render(event: &WatchEvent, out: &Output, clock: &str) -> Vec<String> {
    let stamp = out.paint(Color::Dim, clock);
    let tag = |text: &str, color: Color| out.paint(color, &format!("{text:<11}"));
    let mut lines = Vec::new();
    match event {
        WatchEvent::PlanChanged(n) => {
            match n.kind {
                PlanChangeKind::Initial => {
                    let what = n
                        .plan
                        .as_ref()
                        .map(|p| format!("{} for {}", p.project_name, p.target))
                        .unwrap_or_else(|| "the project".into());
                    lines.push(format!(
                        "{stamp} {} {} ({}, {} paths) · {what} · {}",
                        tag("watching", Color::Bold),
                        n.project_dir,
                        n.watch.mode.as_str(),
                        n.watch.paths_watched,
                        plan_cost_text(n)
                    ));
                    if let Some(note) = &n.watch.note {
                        lines.push(format!("{stamp} {} {note}", tag("note", Color::Yellow)));
                    }
                }
                PlanChangeKind::Changed => lines.push(format!(
                    "{stamp} {} {} → {}",
                    tag(n.class.as_str(), class_color(n.class)),
                    shorten(&n.reason, REASON_WIDTH),
                    plan_cost_text(n)
                )),
                PlanChangeKind::BuildDir => lines.push(format!(
                    "{stamp} {} {}",
                    tag("build dir", Color::Dim),
                    plan_cost_text(n)
                )),
                PlanChangeKind::Removed => lines.push(format!(
                    "{stamp} {} {}",
                    tag("removed", Color::Red),
                    n.reason
                )),
            }
            if let Some(d) = n.diagnostics.first() {
                let place = match (&d.file, d.line) {
                    (Some(f), Some(l)) => format!(" ({f}:{l})"),
                    (Some(f), None) => format!(" ({f})"),
                    _ => String::new(),
                };
                let more = match n.diagnostics.len() {
                    1 => String::new(),
                    k => format!(" (+{} more)", k - 1),
                };
                lines.push(format!(
                    "{stamp} {} {}{place}{more}",
                    tag("error", Color::Red),
                    shorten(&d.message, REASON_WIDTH)
                ));
            }
        }
        WatchEvent::BuildStarted { task_id, sequence } => lines.push(format!(
            "{stamp} {} started {task_id} (change {sequence})",
            tag("build", Color::Bold)
        )),
        WatchEvent::BuildRefused { sequence, error } => lines.push(format!(
            "{stamp} {} not started for change {sequence}: {}",
            tag("build", Color::Red),
            shorten(error, REASON_WIDTH)
        )),
        WatchEvent::BuildCanceled {
            task_id,
            superseded_by,
        } => lines.push(format!(
            "{stamp} {} canceling {task_id}: change {superseded_by} made it stale",
            tag("build", Color::Yellow)
        )),
        WatchEvent::BuildFinished {
            task_id,
            status,
            error,
        } => {
            let color = match status.as_str() {
                "succeeded" => Color::Green,
                "failed" => Color::Red,
                _ => Color::Yellow,
            };
            let error = error
                .as_ref()
                .map(|e| format!(": {}", shorten(e, REASON_WIDTH)))
                .unwrap_or_default();
            lines.push(format!(
                "{stamp} {} {} {task_id}{error}",
                tag("build", color),
                out.paint(color, status)
            ));
        }
        WatchEvent::Ended { reason } => {
            lines.push(format!("{stamp} {} {reason}", tag("ended", Color::Bold)))
        }
    }
    lines
}

/// `espctl status --project PATH`: whether and how the daemon watches the project.
pub async fn project_status(path: &Path, socket: &Path, out: Output) -> Outcome {
    let dir = std::fs::canonicalize(path).map_err(|e| {
        CliError::usage(format!(
            "cannot open project directory {}: {e}",
            path.display()
        ))
    })?;
    let client = super::connect(socket).await?;
    let info = client.call::<DaemonInfo>(&NoParams {}).await?;
    let dir_text = dir.display().to_string();
    let watched: Option<WatchedProject> = info
        .watched_projects
        .into_iter()
        .find(|w| w.project_dir == dir_text);
    if out.json {
        output::json_line(&serde_json::json!({
            "project_dir": dir_text,
            "watched": watched.is_some(),
            "watch": watched,
        }))?;
        return Ok(0);
    }
    let label = |name: &str| out.paint(Color::Bold, &format!("{name:<9}"));
    output::line(&format!("{} {dir_text}", label("Project")))?;
    match watched {
        None => output::line(&format!(
            "{} not watched (`espctl watch` watches it)",
            label("Watch")
        ))?,
        Some(w) => {
            output::line(&format!(
                "{} {} ({} paths watched, debounce {} ms)",
                label("Watch"),
                w.status.mode.as_str(),
                w.status.paths_watched,
                w.debounce_ms
            ))?;
            output::line(&format!(
                "{} {} ({})",
                label("Clients"),
                w.subscribers,
                w.views.join(", ")
            ))?;
            if let Some(note) = &w.status.note {
                output::line(&format!("{} {note}", label("Note")))?;
            }
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use espctl_protocol::plan::{Exactness, Profile};
    use espctl_protocol::task::TaskStatus;
    use espctl_protocol::watch::{PlanSummary, WatchMode, WatchStatus};

    fn cost(objects: u32, components: &[&str], relink: bool) -> BuildCost {
        BuildCost {
            objects_to_rebuild: objects,
            objects: Vec::new(),
            components: components.iter().map(|s| s.to_string()).collect(),
            relink,
            reconfigure: false,
            steps: objects + u32::from(relink),
            estimated_secs: 1.25,
            notes: Vec::new(),
        }
    }

    fn changed(class: ChangeClass, reason: &str) -> PlanChanged {
        PlanChanged {
            sequence: 3,
            kind: PlanChangeKind::Changed,
            project_dir: "/p".into(),
            class,
            reason: reason.into(),
            paths: vec!["/p/main/a.c".into()],
            changes: Vec::new(),
            plan: Some(PlanSummary {
                recipe_id: "idf-cmake".into(),
                project_name: "hello".into(),
                target: "esp32c3".into(),
                profile: Profile::Debug,
                build_dir: "/p/build".into(),
                idf_version: Some("6.0.0".into()),
                components: 30,
                exactness: Exactness::Configured,
                warnings: 0,
                errors: 0,
                steps: vec!["ninja-build".into()],
            }),
            diagnostics: Vec::new(),
            cost: Some(cost(2, &["main", "log", "soc", "hal"], true)),
            cost_note: None,
            watch: WatchStatus {
                mode: WatchMode::Native,
                paths_watched: 12,
                note: None,
            },
            replan_ms: 1.0,
            predict_ms: 1.0,
        }
    }

    #[test]
    fn a_change_is_one_compact_plain_line() {
        let out = Output::plain(false);
        let lines = render(
            &WatchEvent::PlanChanged(Box::new(changed(
                ChangeClass::Recompile,
                "main/a.c changed: a source of component main",
            ))),
            &out,
            "12:00:00",
        );
        assert_eq!(
            lines,
            [
                "12:00:00 recompile   main/a.c changed: a source of component main → 2 objects \
              (main, log, soc, +1) · relink · ~1.2 s"
            ]
        );
        assert!(!lines[0].contains('\x1b'));
    }

    #[test]
    fn long_reasons_are_cut_and_up_to_date_builds_say_so() {
        let out = Output::plain(false);
        let mut n = changed(ChangeClass::Reconfigure, &"x".repeat(200));
        n.cost = Some(cost(0, &[], false));
        n.cost.as_mut().unwrap().steps = 0;
        let lines = render(&WatchEvent::PlanChanged(Box::new(n)), &out, "t");
        assert_eq!(lines.len(), 1);
        assert!(lines[0].ends_with("… → up to date"), "{}", lines[0]);
        assert!(lines[0].chars().count() < 110, "{}", lines[0]);
    }

    #[test]
    fn json_events_are_tagged() {
        let v = serde_json::to_value(WatchEvent::BuildCanceled {
            task_id: "abc".into(),
            superseded_by: 4,
        })
        .unwrap();
        assert_eq!(v["event"], "build_canceled");
        assert_eq!(v["superseded_by"], 4);
        let v = serde_json::to_value(WatchEvent::PlanChanged(Box::new(changed(
            ChangeClass::RelinkOnly,
            "r",
        ))))
        .unwrap();
        assert_eq!(v["event"], "plan_changed");
        assert_eq!(v["class"], "relink_only");
        assert_eq!(v["cost"]["objects_to_rebuild"], 2);
    }

    #[test]
    fn task_states_are_strings() {
        assert_eq!(TaskStatus::Canceled.to_string(), "canceled");
    }
}
