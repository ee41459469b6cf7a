//! `espctl tasks`, `status`, `cancel` and `logs`: the task commands.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use espctl_protocol::log::LogChunk;
use espctl_protocol::methods::{
    BuildCancel, BuildLog, BuildLogParams, BuildLogRead, BuildLogReadParams, BuildStatus,
    TaskIdParams, TaskList, TaskListParams,
};
use espctl_protocol::{TaskId, TaskInfo, TaskStatus};

use super::output::{self, Color, Output};
use super::{CliError, LogsArgs, Outcome, TasksArgs};

/// Log lines read per `build.log_read` call.
const LOG_PAGE: u32 = 1000;

pub async fn list(args: TasksArgs, socket: &Path, out: Output) -> Outcome {
    let client = super::connect(socket).await?;
    let params = TaskListParams {
        status: args.status,
        kind: args.kind,
        limit: args.limit,
    };
    let result = client.call::<TaskList>(&params).await?;
    if out.json {
        output::json_line(&result)?;
        return Ok(0);
    }
    if result.tasks.is_empty() {
        output::line("no tasks")?;
        return Ok(0);
    }
    for line in task_table(&result.tasks, output::now_unix(), &out) {
        output::line(&line)?;
    }
    Ok(0)
}

/// The `espctl tasks` table, newest first as the daemon sorts them.
pub fn task_table(tasks: &[TaskInfo], now: i64, out: &Output) -> Vec<String> {
    let rows: Vec<Vec<String>> = tasks
        .iter()
        .map(|task| {
            vec![
                task.task_id.to_string(),
                task.kind.to_string(),
                task.status.to_string(),
                output::percent(task.progress),
                output::age(now - task.created_at),
                task.title.clone(),
            ]
        })
        .collect();
    output::table(
        &["ID", "KIND", "STATUS", "PROGRESS", "AGE", "TITLE"],
        &rows,
        |column, cell| match column {
            2 => match cell.trim_end().parse::<TaskStatus>() {
                Ok(status) => out.paint(status_color(status), cell),
                Err(_) => out.paint(Color::Bold, cell),
            },
            _ => cell.to_string(),
        },
    )
}

fn status_color(status: TaskStatus) -> Color {
    match status {
        TaskStatus::Pending => Color::Dim,
        TaskStatus::Running => Color::Cyan,
        TaskStatus::Succeeded => Color::Green,
        TaskStatus::Failed => Color::Red,
        TaskStatus::Canceled => Color::Yellow,
    }
}

pub async fn status(task: TaskId, socket: &Path, out: Output) -> Outcome {
    let client = super::connect(socket).await?;
    let info = client
        .call::<BuildStatus>(&TaskIdParams { task_id: task })
        .await?;
    if out.json {
        output::json_line(&info)?;
    } else {
        for line in task_details(&info, output::now_unix(), &out) {
            output::line(&line)?;
        }
    }
    Ok(0)
}

/// `espctl status`: one labelled line per known fact.
pub fn task_details(task: &TaskInfo, now: i64, out: &Output) -> Vec<String> {
    let label = |name: &str| out.paint(Color::Bold, &format!("{name:<9}"));
    let when = |t: i64| format!("{} ({} ago)", output::timestamp(t), output::age(now - t));
    let mut lines = vec![
        format!("{} {}", label("Task"), task.task_id),
        format!("{} {}", label("Kind"), task.kind),
        format!(
            "{} {}",
            label("Status"),
            out.paint(status_color(task.status), task.status.as_str())
        ),
        format!("{} {}", label("Progress"), output::percent(task.progress)),
    ];
    if !task.phase.is_empty() {
        lines.push(format!("{} {}", label("Phase"), task.phase));
    }
    if !task.title.is_empty() {
        lines.push(format!("{} {}", label("Title"), task.title));
    }
    lines.push(format!("{} {}", label("Created"), when(task.created_at)));
    if let Some(started) = task.started_at {
        lines.push(format!("{} {}", label("Started"), when(started)));
    }
    if let Some(finished) = task.finished_at {
        lines.push(format!("{} {}", label("Finished"), when(finished)));
        if let Some(started) = task.started_at {
            let took = u64::try_from(finished - started).unwrap_or(0);
            lines.push(format!("{} {}", label("Took"), output::duration(took)));
        }
    } else {
        lines.push(format!("{} {}", label("Updated"), when(task.updated_at)));
    }
    if let Some(error) = &task.error {
        let code = task
            .exit_code
            .map(|c| format!(" (exit code {c})"))
            .unwrap_or_default();
        lines.push(format!(
            "{} {}{code}",
            label("Error"),
            out.paint(Color::Red, error)
        ));
    }
    if let Some(result) = &task.result {
        lines.extend(result_lines(result, &label));
    }
    lines
}

/// A task result: its scalar members one per line, anything nested as compact JSON.
fn result_lines(result: &serde_json::Value, label: &dyn Fn(&str) -> String) -> Vec<String> {
    let Some(members) = result.as_object() else {
        return vec![format!("{} {result}", label("Result"))];
    };
    let mut lines = Vec::new();
    for (key, value) in members {
        let text = match value {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Object(_) | serde_json::Value::Array(_) => continue,
            other => other.to_string(),
        };
        let name = if lines.is_empty() { "Result" } else { "" };
        lines.push(format!("{} {key}: {text}", label(name)));
    }
    lines
}

pub async fn cancel(task: TaskId, socket: &Path, out: Output) -> Outcome {
    let client = super::connect(socket).await?;
    let result = client
        .call::<BuildCancel>(&TaskIdParams {
            task_id: task.clone(),
        })
        .await?;
    if out.json {
        output::json_line(&result)?;
    } else if result.status == TaskStatus::Canceled {
        output::line(&format!(
            "{} {}",
            result.task_id,
            out.paint(Color::Yellow, "canceled")
        ))?;
    } else {
        output::line(&format!(
            "{} already {}; nothing to cancel",
            result.task_id, result.status
        ))?;
    }
    Ok(0)
}

pub async fn logs(args: LogsArgs, socket: &Path, out: Output) -> Outcome {
    let client = super::connect(socket).await?;
    let mut sink = LogSink::new(out);
    if !args.follow {
        read_log(&client, &args.task, &mut sink).await?;
        return Ok(0);
    }
    tokio::select! {
        result = follow_log(&client, &args.task, &mut sink) => result,
        // Ctrl-C while following just ends the command.
        _ = tokio::signal::ctrl_c() => Ok(0),
    }
}

/// Read the log as it is now, page by page, from the first line.
async fn read_log(
    client: &espctl::Client,
    task: &TaskId,
    sink: &mut LogSink,
) -> anyhow::Result<()> {
    let mut offset = 0;
    loop {
        let chunk = client
            .call::<BuildLogRead>(&BuildLogReadParams {
                task_id: task.clone(),
                offset: Some(offset),
                limit: Some(LOG_PAGE),
            })
            .await?;
        let read = chunk.lines.len();
        let done = chunk.eof || read == 0 || chunk.next_offset >= chunk.total_lines;
        offset = chunk.next_offset;
        sink.write(&chunk)?;
        if done {
            return Ok(());
        }
    }
}

/// Follow the log until the task ends. A subscription dropped because this side fell behind is
/// resumed from the last line written.
async fn follow_log(client: &espctl::Client, task: &TaskId, sink: &mut LogSink) -> Outcome {
    let mut offset = 0;
    loop {
        let mut subscription = client
            .subscribe::<BuildLog>(&BuildLogParams {
                task_id: task.clone(),
                offset,
            })
            .await?;
        while let Some(chunk) = subscription.next().await {
            let chunk = chunk.context("reading the log stream")?;
            offset = chunk.next_offset;
            sink.write(&chunk)?;
            if chunk.eof {
                return Ok(0);
            }
        }
        if !subscription.lagged() {
            return Err(CliError::runtime(
                "the daemon ended the log stream before the task finished",
            )
            .with_hint("see the daemon's log with `espctl daemon logs`")
            .into());
        }
    }
}

/// Writes log chunks: their lines as text, or each chunk as one JSON line.
struct LogSink {
    out: Output,
    stdout: std::io::BufWriter<std::io::Stdout>,
}

impl LogSink {
    fn new(out: Output) -> LogSink {
        LogSink {
            out,
            stdout: std::io::BufWriter::new(std::io::stdout()),
        }
    }

    fn write(&mut self, chunk: &LogChunk) -> std::io::Result<()> {
        if self.out.json {
            serde_json::to_writer(&mut self.stdout, chunk)?;
            self.stdout.write_all(b"\n")?;
        } else {
            for line in &chunk.lines {
                self.stdout.write_all(line.as_bytes())?;
                self.stdout.write_all(b"\n")?;
            }
        }
        self.stdout.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use espctl_protocol::task::TaskKind;

    fn task(status: TaskStatus) -> TaskInfo {
        TaskInfo {
            task_id: "0123456789abcdef0123456789abcdef".parse().unwrap(),
            kind: TaskKind::RustElf,
            status,
            progress: 1.0,
            phase: "done".into(),
            created_at: 1_000,
            started_at: Some(1_001),
            updated_at: 1_003,
            finished_at: Some(1_003),
            error: None,
            exit_code: None,
            title: "blink-c3.elf for esp32c3".into(),
            result: Some(serde_json::json!({
                "bundle_path": "/w/blink-c3-flash-bundle.tar.gz",
                "bundle_size_bytes": 4096,
                "manifest": {"schema_version": 1},
            })),
            diagnostics: Vec::new(),
        }
    }

    #[test]
    fn table_lists_tasks_with_age_and_progress() {
        let mut running = task(TaskStatus::Running);
        running.task_id = "ffffffffffffffffffffffffffffffff".parse().unwrap();
        running.progress = 0.5;
        running.created_at = 1_000 - 3600;
        let lines = task_table(
            &[task(TaskStatus::Succeeded), running],
            1_090,
            &Output::plain(false),
        );
        assert_eq!(
            lines,
            vec![
                "ID                                KIND      STATUS     PROGRESS  AGE  TITLE",
                "0123456789abcdef0123456789abcdef  rust_elf  succeeded  100%      1m   blink-c3.elf for esp32c3",
                "ffffffffffffffffffffffffffffffff  rust_elf  running    50%       1h   blink-c3.elf for esp32c3",
            ]
        );
    }

    #[test]
    fn details_show_timing_result_and_errors() {
        let lines = task_details(&task(TaskStatus::Succeeded), 1_063, &Output::plain(false));
        let text = lines.join("\n");
        assert!(text.contains("Status    succeeded"), "{text}");
        assert!(text.contains("Took      2s"), "{text}");
        assert!(
            text.contains("Result    bundle_path: /w/blink-c3-flash-bundle.tar.gz"),
            "{text}"
        );
        assert!(text.contains("          bundle_size_bytes: 4096"), "{text}");
        assert!(!text.contains("schema_version"), "{text}");

        let mut failed = task(TaskStatus::Failed);
        failed.error = Some("not an ELF".into());
        failed.exit_code = Some(2);
        failed.result = None;
        let text = task_details(&failed, 1_063, &Output::plain(false)).join("\n");
        assert!(
            text.contains("Error     not an ELF (exit code 2)"),
            "{text}"
        );
    }
}
