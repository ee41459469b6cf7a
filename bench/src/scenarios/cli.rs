//! The CLI: wall time of whole `espctl` processes against a warm daemon.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context as _, bail};

use crate::harness::{Ctx, Figure, Goal, Outcome, Scenario, Unit};
use crate::stats::{Samples, nanos};

pub const CLI_STATUS_WALL: Scenario = Scenario {
    name: "cli-status-wall",
    area: "cli",
    measures: "wall time of a whole `espctl status <task_id>` process (spawn to exit) with the daemon \
               warm, median and p90",
    baseline: "`python3 -c pass` (the interpreter sys.executable names, not a wrapper script), \
               spawned and timed the same way in the same run",
    goal: "median <= 10 ms",
    run: cli_status_wall,
};

fn cli_status_wall(ctx: &mut Ctx) -> anyhow::Result<Outcome> {
    let runs = ctx.iters(30, 5);
    let warmup = ctx.iters(3, 1);
    let bins = ctx.opts.bins.clone();
    let warm = ctx.warm()?;
    let socket = warm.daemon.socket().to_path_buf();
    let data_dir = warm.daemon.data_dir().to_path_buf();
    let task_id = warm.task_id.clone();

    let espctl = || {
        let mut cmd = Command::new(&bins.espctl);
        cmd.arg("status")
            .arg(&task_id)
            .env(espctl_protocol::ENV_SOCKET, &socket)
            .env(espctl_protocol::ENV_HOME, &data_dir)
            .env(espctl_protocol::ENV_DAEMON_BIN, &bins.espctld)
            .env("NO_COLOR", "1");
        cmd
    };
    // The interpreter itself: `python3` on PATH may be a wrapper script (pyenv, asdf) whose own
    // start-up would be timed otherwise.
    let interpreter = python_interpreter();
    let python = || {
        let mut cmd = Command::new(interpreter.as_deref().unwrap_or(Path::new("python3")));
        cmd.args(["-c", "pass"]);
        cmd
    };

    let mut python_ok = timed_run(python()).is_ok();
    for _ in 0..warmup {
        check_status_output(timed_run(espctl())?.1, &task_id)?;
        if python_ok {
            python_ok = timed_run(python()).is_ok();
        }
    }
    let mut ours = Vec::with_capacity(runs);
    let mut base = Vec::with_capacity(runs);
    for _ in 0..runs {
        let (ns, out) = timed_run(espctl())?;
        check_status_output(out, &task_id)?;
        ours.push(ns);
        if python_ok {
            base.push(timed_run(python())?.0);
        }
    }
    let ours = Samples::from_nanos(ours);
    let base = python_ok.then(|| Samples::from_nanos(base));
    let mut outcome = Outcome::default()
        .figure(
            Figure::time(
                "median",
                Unit::Millis,
                ours.median(),
                base.as_ref().map(Samples::median),
            )
            .goal(Goal::AtMost(10.0)),
        )
        .figure(Figure::time(
            "p90",
            Unit::Millis,
            ours.percentile(90.0),
            base.as_ref().map(|b| b.percentile(90.0)),
        ))
        .detail("runs", runs)
        .detail("warmup_runs", warmup)
        .detail("ours", ours.summary_json())
        .detail(
            "baseline_interpreter",
            interpreter
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "python3".into()),
        );
    match &base {
        Some(b) => outcome = outcome.detail("baseline", b.summary_json()),
        None => {
            outcome = outcome.note("cli-status-wall: python3 is not runnable here; no baseline")
        }
    }
    Ok(outcome)
}

/// Runs `cmd` to completion with its output captured; fails unless it exits 0. Returns the wall time
/// from just before the spawn to the reaped exit, and stdout.
fn timed_run(mut cmd: Command) -> anyhow::Result<(u64, Vec<u8>)> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {:?}", cmd.get_program()))?;
    let elapsed = nanos(start.elapsed());
    if !out.status.success() {
        bail!(
            "{:?} {:?} exited with {}: {}",
            cmd.get_program(),
            cmd.get_args().collect::<Vec<_>>(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok((elapsed, out.stdout))
}

fn check_status_output(stdout: Vec<u8>, task_id: &str) -> anyhow::Result<()> {
    let text = String::from_utf8_lossy(&stdout);
    if !text.contains(task_id) || !text.contains("succeeded") {
        bail!("`espctl status {task_id}` printed something unexpected:\n{text}");
    }
    Ok(())
}

/// The real interpreter `python3` runs (`sys.executable`), when it can be asked.
fn python_interpreter() -> Option<PathBuf> {
    let out = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    (out.status.success() && path.is_file()).then_some(path)
}
