//! ESP-IDF builds through the daemon, against the same CMake and Ninja commands run directly: a full
//! build, a build with nothing to do, a cancel, and a build that prints 100,000 lines to a log
//! subscriber.
//!
//! The four scenarios share one generated project (`tests/fixtures/projects/many/gen.sh`, built with
//! the stand-in ESP-IDF of the source tree) and one daemon, kept for the run in a temp dir that is
//! removed when the bench exits. The commands of the baselines are the process steps of the plan
//! the daemon makes for the project (`generate_build_plan`'s `command_pipeline`), with the
//! environment of the stand-in's `export.sh` and each step's own variables.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, bail};
use jsonrpsee::core::client::{ClientT, SubscriptionClientT};
use jsonrpsee::core::params::ObjectParams;
use serde_json::{Value, json};

use crate::bins::Bins;
use crate::daemon::BenchDaemon;
use crate::harness::{Ctx, Figure, Goal, Outcome, Scenario, Unit};
use crate::procs::{self, Tracker};
use crate::rpc::{http_call, ws_client};
use crate::standin::{self, IdfEnv};
use crate::stats::{Samples, nanos};

pub const BUILD_OVERHEAD_300: Scenario = Scenario {
    name: "build-overhead-300",
    area: "build",
    measures: "wall time of a whole `espctl build` of a 300-source ESP-IDF project (stand-in \
               ESP-IDF, real CMake and Ninja) into a fresh build directory, daemon warm: median",
    baseline: "the plan's own cmake configure and ninja commands run directly (output to \
               /dev/null) into a fresh build directory, run for run",
    goal: "median <= 1.05 x the baseline's median",
    run: build_overhead,
};

pub const BUILD_NOOP: Scenario = Scenario {
    name: "build-noop",
    area: "build",
    measures: "wall time of a whole `espctl build` process on an up-to-date build (daemon warm): \
               median and p95",
    baseline: "the plan's ninja command in the same build directory (nothing to do), run for run",
    goal: "median <= the baseline's median + 50 ms",
    run: build_noop,
};

pub const BUILD_CANCEL: Scenario = Scenario {
    name: "build-cancel",
    area: "build",
    measures: "build.cancel of a build whose compile steps are slow, sent once a compile step \
               runs, to the moment the last process of the build is gone (its process group and \
               every descendant, from /proc); steps that stop on SIGINT, and steps that ignore it \
               (the forced path): medians and the worst",
    baseline: "the same ninja command run directly in a process group of its own, interrupted \
               with SIGINT to its group as Ctrl-C does, everything SIGKILLed after the same grace \
               period",
    goal: "each <= the daemon's grace period + 0.5 s",
    run: build_cancel,
};

pub const BUILD_LOG_100K: Scenario = Scenario {
    name: "build-log-100k",
    area: "build",
    measures: "a build that prints 100,000 lines, from build.start to the last line received by a \
               build.log subscriber on the socket (every line checked: none lost, none repeated, \
               in order): median",
    baseline: "the same build's ninja command run directly with its output sent to /dev/null, \
               run for run",
    goal: "median <= the baseline's median + 1 s",
    run: build_log_100k,
};

const TARGET: &str = "esp32c3";
/// What gen.sh names the project.
const PROJECT_NAME: &str = "many";
const SOURCES_FULL: usize = 300;
const SOURCES_QUICK: usize = 30;
/// The daemon's default grace period, so that the full run measures what users get.
const GRACE_FULL_SECS: &str = "3";
const GRACE_QUICK_SECS: &str = "1";
const FLOOD_FULL: u64 = 100_000;
const FLOOD_QUICK: u64 = 20_000;
/// Long enough that no compile step of a build that is about to be canceled finishes.
const SLOW_MS: &str = "60000";
/// Bounds on waits for events (a wait that runs out is an error, not a figure).
const START_TIMEOUT: Duration = Duration::from_secs(120);
const GONE_AFTER_GRACE: Duration = Duration::from_secs(10);

/// The process steps of the plan: what the baselines run.
#[derive(Debug, Clone)]
struct Step {
    name: String,
    argv: Vec<String>,
    cwd: PathBuf,
    env: BTreeMap<String, String>,
}

/// Everything the build scenarios share within one run. Fields drop in order: the daemon before
/// the directory its project lives in.
struct Shared {
    daemon: BenchDaemon,
    bins: Bins,
    env: IdfEnv,
    project: PathBuf,
    sources: usize,
    grace: Duration,
    /// The plan's steps for a fresh build directory, in order, `espctld:` steps included.
    plan_steps: Vec<String>,
    /// Its process steps.
    steps: Vec<Step>,
    sandbox: String,
    /// The project has a complete build in `project/build`.
    built: bool,
    /// The temp dir holding the project, removed when dropped (last).
    _root: tempfile::TempDir,
}

static SHARED: Mutex<Option<Shared>> = Mutex::new(None);
static CLEANUP: Once = Once::new();

/// Kills the daemon and removes the project when the bench exits.
extern "C" fn cleanup_at_exit() {
    let mut guard = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    drop(guard.take());
}

/// Runs `f` with the shared state, creating it on first use.
fn with_shared<T>(
    ctx: &Ctx,
    f: impl FnOnce(&mut Shared) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let mut guard = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if guard.is_none() {
        *guard = Some(Shared::new(ctx)?);
        CLEANUP.call_once(|| {
            // SAFETY: registers a function without arguments that runs at exit; it only takes the
            // state out of the mutex and drops it.
            unsafe {
                libc::atexit(cleanup_at_exit);
            }
        });
    }
    f(guard.as_mut().expect("just set"))
}

impl Shared {
    fn new(ctx: &Ctx) -> anyhow::Result<Shared> {
        let standin = standin::standin_idf()?;
        let env = IdfEnv::from_export(&standin)?;
        let (sources, components, grace) = if ctx.quick() {
            (SOURCES_QUICK, 3, GRACE_QUICK_SECS)
        } else {
            (SOURCES_FULL, 10, GRACE_FULL_SECS)
        };
        let root = tempfile::Builder::new()
            .prefix("espctl-bench-build")
            .tempdir()
            .context("cannot create a temp dir")?;
        let project = root.path().join(PROJECT_NAME);
        let gen_sh = standin
            .parent()
            .context("the stand-in has no parent directory")?
            .join("projects")
            .join("many")
            .join("gen.sh");
        standin::run_timed(
            Command::new("sh")
                .arg(&gen_sh)
                .arg(sources.to_string())
                .arg(&project)
                .arg(components.to_string())
                .stdin(Stdio::null()),
            &format!("{} {sources}", gen_sh.display()),
        )?;
        let project = std::fs::canonicalize(&project)?;
        let daemon = BenchDaemon::start_with(&ctx.opts.bins, &["--cancel-grace", grace])?;
        let mut shared = Shared {
            daemon,
            bins: ctx.opts.bins.clone(),
            env,
            project,
            sources,
            grace: Duration::from_secs_f64(grace.parse()?),
            plan_steps: Vec::new(),
            steps: Vec::new(),
            sandbox: String::new(),
            built: false,
            _root: root,
        };
        let plan = shared.call(
            "generate_build_plan",
            json!({"path": shared.project, "target": TARGET, "env": shared.caller_env(&[])}),
        )?;
        if let Some(first) = plan["errors"].as_array().and_then(|e| e.first()) {
            bail!("the plan of the generated project has errors: {first}");
        }
        shared.sandbox = plan["sandbox"].as_str().unwrap_or("unknown").to_string();
        for step in plan["command_pipeline"]
            .as_array()
            .context("the plan has no command_pipeline")?
        {
            let name = step["name"].as_str().unwrap_or_default().to_string();
            let argv: Vec<String> = serde_json::from_value(step["argv"].clone())?;
            shared.plan_steps.push(name.clone());
            if argv.first().is_some_and(|a| a.starts_with("espctld:")) {
                continue;
            }
            shared.steps.push(Step {
                name,
                argv,
                cwd: PathBuf::from(step["cwd"].as_str().unwrap_or_default()),
                env: serde_json::from_value(step["env"].clone()).unwrap_or_default(),
            });
        }
        for needed in ["cmake-configure", "ninja-build"] {
            if !shared.steps.iter().any(|s| s.name == needed) {
                bail!(
                    "the plan of a fresh build has no {needed} step: {:?}",
                    shared.plan_steps
                );
            }
        }
        Ok(shared)
    }

    fn build_dir(&self) -> PathBuf {
        self.project.join("build")
    }

    fn call(&self, method: &str, params: Value) -> anyhow::Result<Value> {
        http_call(self.daemon.socket(), method, &params.to_string())
    }

    fn daemon_pid(&self) -> anyhow::Result<i32> {
        Ok(self.daemon.pid()? as i32)
    }

    /// What a client forwards (IDF_PATH, PATH; ccache off on both sides), plus the stand-in's knobs.
    fn caller_env(&self, knobs: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut env = self.env.forwarded();
        env.insert("IDF_CCACHE_ENABLE".into(), "0".into());
        for (k, v) in knobs {
            env.insert(k.to_string(), v.to_string());
        }
        env
    }

    /// A whole `espctl build` of the project, as a user runs it (human view, output captured).
    fn espctl_build(&self) -> Command {
        let mut cmd = Command::new(&self.bins.espctl);
        cmd.args(["build", "--target", TARGET])
            .arg(&self.project)
            .env(espctl_protocol::ENV_SOCKET, self.daemon.socket())
            .env(espctl_protocol::ENV_HOME, self.daemon.data_dir())
            .env(espctl_protocol::ENV_DAEMON_BIN, &self.bins.espctld)
            .env("NO_COLOR", "1")
            .envs(self.caller_env(&[]))
            .stdin(Stdio::null());
        for var in espctl_protocol::plan::FORWARDED_ENV {
            if !["IDF_PATH", "PATH", "IDF_CCACHE_ENABLE"].contains(&var) {
                cmd.env_remove(var);
            }
        }
        cmd
    }

    /// Runs `espctl build`, failing unless it built; returns its wall time.
    fn cli_build(&self) -> anyhow::Result<Duration> {
        let start = Instant::now();
        let out = self
            .espctl_build()
            .output()
            .context("cannot run espctl build")?;
        let took = start.elapsed();
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() || !stdout.contains("Built") {
            bail!(
                "espctl build failed ({}):\n{stdout}\n{}",
                out.status,
                tail(&String::from_utf8_lossy(&out.stderr), 30)
            );
        }
        Ok(took)
    }

    /// The newest task, which must be a build that succeeded with exactly `steps`.
    fn check_last_build(&self, steps: &[String]) -> anyhow::Result<Value> {
        let list = self.call("task.list", json!({"limit": 1}))?;
        let task = list["tasks"][0].clone();
        if task["status"] != "succeeded" {
            bail!("the last build did not succeed: {task}");
        }
        let ran: Vec<String> = task["result"]["steps"]
            .as_array()
            .context("the build's result has no steps")?
            .iter()
            .filter_map(|s| s["name"].as_str().map(str::to_string))
            .collect();
        if ran != steps {
            bail!("the build ran {ran:?}, expected {steps:?}");
        }
        Ok(task)
    }

    /// A process step as a shell runs it: the stand-in's environment, the step's variables.
    fn step_command(&self, step: &Step, knobs: &[(&str, &str)]) -> Command {
        let (program, args) = step
            .argv
            .split_first()
            .expect("a process step has a program");
        let mut cmd = self.env.command(program);
        cmd.args(args)
            .current_dir(&step.cwd)
            .envs(&step.env)
            .env("IDF_CCACHE_ENABLE", "0")
            .envs(knobs.iter().copied());
        cmd
    }

    fn step(&self, name: &str) -> &Step {
        self.steps
            .iter()
            .find(|s| s.name == name)
            .expect("checked when the plan was read")
    }

    /// Runs every process step of the plan in order, output to /dev/null; returns the wall time.
    fn shell_build(&self, knobs: &[(&str, &str)]) -> anyhow::Result<Duration> {
        let start = Instant::now();
        for step in &self.steps {
            let status = self
                .step_command(step, knobs)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .with_context(|| format!("cannot run {}", step.argv[0]))?;
            if !status.success() {
                bail!(
                    "{} failed with {status}: {}",
                    step.name,
                    step.argv.join(" ")
                );
            }
        }
        Ok(start.elapsed())
    }

    /// Removes the build directory.
    fn fresh(&mut self) -> anyhow::Result<()> {
        self.built = false;
        let build = self.build_dir();
        if build.exists() {
            std::fs::remove_dir_all(&build)
                .with_context(|| format!("cannot remove {}", build.display()))?;
        }
        Ok(())
    }

    /// Makes sure the project has a complete build (one untimed `espctl build` when it has none).
    fn ensure_built(&mut self) -> anyhow::Result<()> {
        if !self.built {
            eprintln!(
                "  building the generated project of {} sources once",
                self.sources
            );
            self.cli_build()?;
            self.built = true;
        }
        Ok(())
    }

    fn app_elf(&self) -> PathBuf {
        self.build_dir().join(format!("{PROJECT_NAME}.elf"))
    }

    fn task_status(&self, task_id: &str) -> anyhow::Result<Value> {
        self.call("build.status", json!({"task_id": task_id}))
    }

    /// Waits (bounded) until the task has a final status.
    fn wait_final(&self, task_id: &str, timeout: Duration) -> anyhow::Result<Value> {
        let start = Instant::now();
        loop {
            let st = self.task_status(task_id)?;
            if ["succeeded", "failed", "canceled"].contains(&st["status"].as_str().unwrap_or("")) {
                return Ok(st);
            }
            if start.elapsed() > timeout {
                bail!("task {task_id} did not finish within {timeout:?}: {st}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log_lines(&self, task_id: &str) -> anyhow::Result<Vec<String>> {
        let r = self.call(
            "build.log_read",
            json!({"task_id": task_id, "offset": 0, "limit": 100000}),
        )?;
        Ok(serde_json::from_value(r["lines"].clone())?)
    }

    fn details(&self, outcome: Outcome) -> Outcome {
        outcome
            .detail("project_sources", self.sources)
            .detail("sandbox", self.sandbox.clone())
            .detail("plan_steps", self.plan_steps.clone())
    }
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn build_overhead(ctx: &mut Ctx) -> anyhow::Result<Outcome> {
    let runs = ctx.iters(5, 1);
    let warmup = ctx.iters(1, 0);
    with_shared(ctx, |s| {
        let full_steps = s.plan_steps.clone();
        for _ in 0..warmup {
            s.fresh()?;
            s.cli_build()?;
        }
        let mut ours = Vec::with_capacity(runs);
        let mut base = Vec::with_capacity(runs);
        let mut last = Value::Null;
        for i in 0..runs {
            // Take turns at going first, so that a trend in the background load hits both alike.
            for ours_turn in [i % 2 == 0, i % 2 != 0] {
                s.fresh()?;
                if ours_turn {
                    ours.push(s.cli_build()?);
                    last = s.check_last_build(&full_steps)?;
                } else {
                    base.push(s.shell_build(&[])?);
                }
                if !s.app_elf().is_file() {
                    bail!("{} was not built", s.app_elf().display());
                }
            }
        }
        s.built = true;
        let ratios: Vec<f64> = ours
            .iter()
            .zip(&base)
            .map(|(o, b)| o.as_secs_f64() / b.as_secs_f64())
            .collect();
        let ours = Samples::from_durations(ours);
        let base = Samples::from_durations(base);
        let base_ms = Unit::Millis.from_nanos(base.median());
        let overhead_pct = (ours.median() as f64 / base.median() as f64 - 1.0) * 100.0;
        let mut sorted = ratios.clone();
        sorted.sort_by(f64::total_cmp);
        let paired_pct = (sorted[(sorted.len() - 1) / 2] - 1.0) * 100.0;
        Ok(s.details(
            Outcome::default()
                .figure(
                    Figure::time("median", Unit::Millis, ours.median(), Some(base.median()))
                        .goal(Goal::AtMost(base_ms * 1.05)),
                )
                .detail("runs", runs)
                .detail("warmup_runs", warmup)
                .detail("overhead_pct_of_medians", overhead_pct)
                .detail("overhead_pct_paired_median", paired_pct)
                .detail("paired_ratios", ratios)
                .detail("last_build_steps", last["result"]["steps"].clone())
                .detail("ours", ours.summary_json())
                .detail("baseline", base.summary_json())
                .note(format!(
                    "build-overhead-300: espctl build {overhead_pct:+.1}% against cmake + ninja \
                     (medians of {runs} fresh builds of {} sources; sandbox: {})",
                    s.sources, s.sandbox
                )),
        ))
    })
}

fn build_noop(ctx: &mut Ctx) -> anyhow::Result<Outcome> {
    let runs = ctx.iters(30, 5);
    let warmup = ctx.iters(3, 1);
    with_shared(ctx, |s| {
        s.ensure_built()?;
        let ninja = s.step("ninja-build").clone();
        let noop_steps: Vec<String> = s
            .plan_steps
            .iter()
            .filter(|n| *n != "cmake-configure")
            .cloned()
            .collect();
        let ninja_noop = || -> anyhow::Result<Duration> {
            let start = Instant::now();
            let out = s
                .step_command(&ninja, &[])
                .output()
                .context("cannot run ninja")?;
            let took = start.elapsed();
            let stdout = String::from_utf8_lossy(&out.stdout);
            if !out.status.success() || !stdout.contains("no work to do") {
                bail!(
                    "ninja in an up-to-date build directory did work ({}):\n{}",
                    out.status,
                    tail(&stdout, 20)
                );
            }
            Ok(took)
        };
        for _ in 0..warmup {
            s.cli_build()?;
            ninja_noop()?;
        }
        s.check_last_build(&noop_steps)?;
        let mut ours = Vec::with_capacity(runs);
        let mut base = Vec::with_capacity(runs);
        for _ in 0..runs {
            ours.push(nanos(s.cli_build()?));
            base.push(nanos(ninja_noop()?));
        }
        let task = s.check_last_build(&noop_steps)?;
        let ours = Samples::from_nanos(ours);
        let base = Samples::from_nanos(base);
        let base_ms = Unit::Millis.from_nanos(base.median());
        Ok(s.details(
            Outcome::default()
                .figure(
                    Figure::time("median", Unit::Millis, ours.median(), Some(base.median()))
                        .goal(Goal::AtMost(base_ms + 50.0)),
                )
                .figure(Figure::time(
                    "p95",
                    Unit::Millis,
                    ours.percentile(95.0),
                    Some(base.percentile(95.0)),
                ))
                .detail("runs", runs)
                .detail("warmup_runs", warmup)
                .detail("last_build_steps", task["result"]["steps"].clone())
                .detail("ours", ours.summary_json())
                .detail("baseline", base.summary_json()),
        ))
    })
}

/// The sources of the project with their modification times, put back when dropped.
struct TouchedSources(Vec<(PathBuf, SystemTime)>);

impl TouchedSources {
    fn find(project: &Path) -> anyhow::Result<TouchedSources> {
        let mut out = Vec::new();
        let mut stack = vec![project.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir)? {
                let entry = entry?;
                let path = entry.path();
                if entry.file_type()?.is_dir() {
                    if path.file_name().is_some_and(|n| n != "build") {
                        stack.push(path);
                    }
                } else if path.extension().is_some_and(|e| e == "c") {
                    out.push((path, entry.metadata()?.modified()?));
                }
            }
        }
        if out.is_empty() {
            bail!("no C sources under {}", project.display());
        }
        Ok(TouchedSources(out))
    }

    fn set_all(&self, time: Option<SystemTime>) -> std::io::Result<()> {
        for (path, original) in &self.0 {
            std::fs::File::options()
                .write(true)
                .open(path)?
                .set_modified(time.unwrap_or(*original))?;
        }
        Ok(())
    }

    /// Makes every source newer than its object, so Ninja compiles them all again.
    fn touch(&self) -> std::io::Result<()> {
        self.set_all(Some(SystemTime::now()))
    }
}

impl Drop for TouchedSources {
    fn drop(&mut self) {
        let _ = self.set_all(None);
    }
}

/// One measured cancel.
struct Stopped {
    took: Duration,
    forced: bool,
    processes: usize,
    ninja_interrupted: bool,
}

/// How long the build's processes must stay the same before a cancel is sent: a shell that gets
/// SIGINT while it starts a program can lose the signal (the program runs on, and only the forced
/// stop ends it), so no step may be starting when the cancel is measured.
const QUIET_BEFORE_CANCEL: Duration = Duration::from_millis(200);

/// Waits (bounded) until compile steps run (the stand-in's slow compiles sleep) and the build's
/// processes have not changed for [`QUIET_BEFORE_CANCEL`]; returns the tracker.
fn wait_compiling(
    mut groups: impl FnMut() -> Vec<i32>,
    mut finished: impl FnMut() -> anyhow::Result<bool>,
) -> anyhow::Result<Tracker> {
    let start = Instant::now();
    let mut last_check = Instant::now();
    let mut last: (Vec<(i32, u64)>, Instant) = (Vec::new(), Instant::now());
    loop {
        let mut tracker = Tracker::new(groups());
        let live = tracker.update();
        let mut now: Vec<(i32, u64)> = live.iter().map(|p| (p.pid, p.start_time)).collect();
        now.sort_unstable();
        if now != last.0 {
            last = (now, Instant::now());
        } else if live.iter().any(|p| p.comm == "sleep") && last.1.elapsed() >= QUIET_BEFORE_CANCEL
        {
            return Ok(tracker);
        }
        if last_check.elapsed() > Duration::from_millis(500) {
            last_check = Instant::now();
            if finished()? {
                bail!("the build ended before any compile step ran");
            }
        }
        if start.elapsed() > START_TIMEOUT {
            bail!("no compile step ran within {START_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Polls the process table until every tracked process is gone; `at_grace` runs once when the
/// grace period has passed with processes left (and says whether it forced them).
fn wait_gone(
    tracker: &mut Tracker,
    started: Instant,
    grace: Duration,
    mut at_grace: impl FnMut(&[procs::Proc]) -> bool,
) -> anyhow::Result<(Duration, bool)> {
    let mut forced = false;
    loop {
        let live = tracker.update();
        if live.is_empty() {
            return Ok((started.elapsed(), forced));
        }
        if !forced && started.elapsed() >= grace {
            forced = at_grace(&live);
        }
        if started.elapsed() > grace + GONE_AFTER_GRACE {
            let names: Vec<String> = live
                .iter()
                .map(|p| format!("{} ({})", p.pid, p.comm))
                .collect();
            bail!(
                "processes of the build still live {:?} after the cancel: {}",
                started.elapsed(),
                names.join(", ")
            );
        }
        std::thread::sleep(Duration::from_micros(500));
    }
}

fn no_leftovers(s: &Shared, what: &str) -> anyhow::Result<()> {
    let left = procs::mentioning(&s.project, &[s.daemon_pid()?]);
    if !left.is_empty() {
        bail!(
            "{what} left processes behind:\n{}",
            left[..left.len().min(5)].join("\n")
        );
    }
    Ok(())
}

/// A cancel through the daemon.
fn cancel_ours(s: &Shared, stubborn: bool) -> anyhow::Result<Stopped> {
    let mut knobs = vec![("STANDIN_SLOW_MS", SLOW_MS)];
    if stubborn {
        knobs.push(("STANDIN_IGNORE_SIGINT", "1"));
    }
    let started = s.call(
        "build.start",
        json!({"path": s.project, "target": TARGET, "env": s.caller_env(&knobs)}),
    )?;
    let task_id = started["task_id"]
        .as_str()
        .context("build.start answered without a task_id")?
        .to_string();
    let daemon_pid = s.daemon_pid()?;
    let mut tracker = wait_compiling(
        || procs::step_groups(daemon_pid),
        || {
            let st = s.task_status(&task_id)?;
            Ok(st["status"] != "running" && st["status"] != "pending")
        },
    )?;
    let socket = s.daemon.socket().to_path_buf();
    let params = json!({"task_id": task_id}).to_string();
    let begun = Instant::now();
    let cancel = std::thread::spawn(move || http_call(&socket, "build.cancel", &params));
    let (took, _) = wait_gone(&mut tracker, begun, s.grace, |_| false)?;
    let answer = cancel
        .join()
        .map_err(|_| anyhow::anyhow!("the build.cancel thread panicked"))??;
    if answer["status"] != "canceled" {
        bail!("build.cancel answered {answer}");
    }
    no_leftovers(s, "the canceled build")?;
    let st = s.task_status(&task_id)?;
    let error = st["error"].as_str().unwrap_or_default();
    let forced = error.contains("forced");
    let ninja_interrupted = s
        .log_lines(&task_id)?
        .iter()
        .any(|l| l.contains("interrupted by user"));
    Ok(Stopped {
        took,
        forced,
        processes: tracker.seen(),
        ninja_interrupted,
    })
}

/// The same ninja command run directly and interrupted as a terminal's Ctrl-C does.
fn cancel_baseline(s: &Shared, stubborn: bool) -> anyhow::Result<Stopped> {
    let mut knobs = vec![("STANDIN_SLOW_MS", SLOW_MS)];
    if stubborn {
        knobs.push(("STANDIN_IGNORE_SIGINT", "1"));
    }
    let mut child = s
        .step_command(s.step("ninja-build"), &knobs)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .context("cannot run ninja")?;
    let pgid = child.id() as i32;
    let result: anyhow::Result<Stopped> = (|| {
        let mut tracker = wait_compiling(
            || vec![pgid],
            || Ok(child.try_wait().map(|s| s.is_some()).unwrap_or(true)),
        )?;
        let begun = Instant::now();
        // SAFETY: killpg(2) on the group of a child that has not been reaped yet.
        unsafe {
            libc::killpg(pgid, libc::SIGINT);
        }
        let (took, forced) = wait_gone(&mut tracker, begun, s.grace, |live| {
            procs::kill_all(live);
            true
        })?;
        Ok(Stopped {
            took,
            forced,
            processes: tracker.seen(),
            ninja_interrupted: false,
        })
    })();
    if result.is_err() {
        // SAFETY: as above; the child is reaped below.
        unsafe {
            libc::killpg(pgid, libc::SIGKILL);
        }
    }
    let _ = child.wait();
    let stopped = result?;
    no_leftovers(s, "the interrupted ninja")?;
    Ok(stopped)
}

fn build_cancel(ctx: &mut Ctx) -> anyhow::Result<Outcome> {
    let runs = ctx.iters(5, 1);
    with_shared(ctx, |s| {
        s.ensure_built()?;
        let sources = TouchedSources::find(&s.project)?;
        let mut polite = (Vec::new(), Vec::new());
        let mut forced = (Vec::new(), Vec::new());
        let mut processes = Vec::new();
        let mut ninja_interrupted = 0;
        for _ in 0..runs {
            for stubborn in [false, true] {
                sources.touch()?;
                let ours = cancel_ours(s, stubborn)?;
                let base = cancel_baseline(s, stubborn)?;
                if ours.forced != stubborn {
                    bail!(
                        "{}",
                        if stubborn {
                            "a build whose compile steps ignore SIGINT was not forced: it \
                             stopped within the grace period"
                        } else {
                            "an interrupted build did not stop within the grace period and was \
                             forced"
                        }
                    );
                }
                if base.forced != stubborn {
                    bail!(
                        "the baseline's ninja {} within the grace period",
                        if stubborn { "stopped" } else { "did not stop" }
                    );
                }
                if !stubborn && ours.ninja_interrupted {
                    ninja_interrupted += 1;
                }
                processes.push(ours.processes);
                let into = if stubborn { &mut forced } else { &mut polite };
                into.0.push(ours.took);
                into.1.push(base.took);
            }
        }
        drop(sources);
        let goal = ms(s.grace) + 500.0;
        let max = |v: &[Duration]| v.iter().copied().max().unwrap_or_default();
        let worst_ours = max(&polite.0).max(max(&forced.0));
        let worst_base = max(&polite.1).max(max(&forced.1));
        let polite_ours = Samples::from_durations(polite.0);
        let polite_base = Samples::from_durations(polite.1);
        let forced_ours = Samples::from_durations(forced.0);
        let forced_base = Samples::from_durations(forced.1);
        Ok(s.details(
            Outcome::default()
                .figure(
                    Figure::time(
                        "polite_median",
                        Unit::Millis,
                        polite_ours.median(),
                        Some(polite_base.median()),
                    )
                    .goal(Goal::AtMost(goal)),
                )
                .figure(
                    Figure::time(
                        "forced_median",
                        Unit::Millis,
                        forced_ours.median(),
                        Some(forced_base.median()),
                    )
                    .goal(Goal::AtMost(goal)),
                )
                .figure(
                    Figure::time(
                        "max",
                        Unit::Millis,
                        nanos(worst_ours),
                        Some(nanos(worst_base)),
                    )
                    .goal(Goal::AtMost(goal)),
                )
                .detail("grace_secs", s.grace.as_secs_f64())
                .detail("runs_each", runs)
                .detail("processes_tracked", processes)
                .detail("ninja_reported_interrupt", ninja_interrupted)
                .detail("polite_ours", polite_ours.summary_json())
                .detail("polite_baseline", polite_base.summary_json())
                .detail("forced_ours", forced_ours.summary_json())
                .detail("forced_baseline", forced_base.summary_json())
                .note(format!(
                    "build-cancel: grace period {:.1} s; Ninja reported the interrupt in {} of \
                     {runs} polite cancels (it stopped its jobs itself)",
                    s.grace.as_secs_f64(),
                    ninja_interrupted
                )),
        ))
    })
}

fn object_params(v: Value) -> anyhow::Result<ObjectParams> {
    let mut p = ObjectParams::new();
    for (k, v) in v.as_object().context("params must be an object")? {
        p.insert(k, v.clone())?;
    }
    Ok(p)
}

/// What a log subscriber received, checked line by line.
struct Received {
    took: Duration,
    lines: u64,
    flood: u64,
}

/// build.start, then every line of the task's log through a build.log subscription until its end.
async fn build_and_follow(
    socket: &Path,
    params: Value,
    flood_total: u64,
) -> anyhow::Result<(String, Received)> {
    let client = ws_client(socket).await?;
    let start = Instant::now();
    let started: Value = client
        .request("build.start", object_params(params)?)
        .await
        .context("build.start")?;
    let task_id = started["task_id"]
        .as_str()
        .context("build.start answered without a task_id")?
        .to_string();
    let mut sub = client
        .subscribe::<Value, _>(
            "build.log",
            object_params(json!({"task_id": task_id, "offset": 0}))?,
            "build.log_unsubscribe",
        )
        .await
        .context("build.log")?;
    let mut expected_offset = 0u64;
    let mut lines = 0u64;
    let mut flood = 0u64;
    loop {
        let chunk = match sub.next().await {
            Some(chunk) => chunk.context("build.log notification")?,
            None => bail!("the build.log subscription ended without its last chunk"),
        };
        if chunk["offset"].as_u64() != Some(expected_offset) {
            bail!(
                "build.log skipped or repeated lines: a chunk at offset {} after {expected_offset}",
                chunk["offset"]
            );
        }
        let batch = chunk["lines"].as_array().context("a chunk without lines")?;
        for line in batch {
            let line = line.as_str().context("a log line is not a string")?;
            if let Some(rest) = line.strip_prefix("standin flood line ") {
                let expected = format!("{} of {flood_total}", flood + 1);
                if rest != expected {
                    bail!("flood line out of order: `{line}` where `... {expected}` was due");
                }
                flood += 1;
            }
        }
        lines += batch.len() as u64;
        expected_offset = chunk["next_offset"]
            .as_u64()
            .context("a chunk without next_offset")?;
        if expected_offset != lines {
            bail!("next_offset {expected_offset} after {lines} lines");
        }
        if chunk["eof"] == true {
            break;
        }
    }
    Ok((
        task_id,
        Received {
            took: start.elapsed(),
            lines,
            flood,
        },
    ))
}

fn build_log_100k(ctx: &mut Ctx) -> anyhow::Result<Outcome> {
    let runs = ctx.iters(5, 1);
    let warmup = ctx.iters(1, 0);
    let flood = if ctx.quick() { FLOOD_QUICK } else { FLOOD_FULL };
    let rt = &ctx.rt;
    with_shared(ctx, |s| {
        s.ensure_built()?;
        let entry = s
            .build_dir()
            .join("CMakeFiles")
            .join(format!("{PROJECT_NAME}.elf.dir"))
            .join("standin_host_entry.c.obj");
        if !entry.is_file() {
            bail!(
                "{} is missing: the stand-in's host entry point is compiled elsewhere",
                entry.display()
            );
        }
        let flood_text = flood.to_string();
        let knobs = [("STANDIN_FLOOD_LINES", flood_text.as_str())];
        let noop_steps: Vec<String> = s
            .plan_steps
            .iter()
            .filter(|n| *n != "cmake-configure")
            .cloned()
            .collect();
        let params = json!({"path": s.project, "target": TARGET, "env": s.caller_env(&knobs)});
        let ours_run = || -> anyhow::Result<Received> {
            std::fs::remove_file(&entry)?;
            let (task_id, got) =
                rt.block_on(build_and_follow(s.daemon.socket(), params.clone(), flood))?;
            let st = s.wait_final(&task_id, Duration::from_secs(60))?;
            if st["status"] != "succeeded" {
                bail!("the flood build did not succeed: {st}");
            }
            s.check_last_build(&noop_steps)?;
            if got.flood != flood {
                bail!("received {} of the {flood} flood lines", got.flood);
            }
            let total = s.call(
                "build.log_read",
                json!({"task_id": task_id, "offset": 0, "limit": 1}),
            )?["total_lines"]
                .as_u64()
                .context("build.log_read without total_lines")?;
            if got.lines != total {
                bail!("received {} lines of a log of {total}", got.lines);
            }
            Ok(got)
        };
        for _ in 0..warmup {
            ours_run()?;
        }
        let mut ours = Vec::with_capacity(runs);
        let mut base = Vec::with_capacity(runs);
        let mut log_lines = 0;
        for _ in 0..runs {
            let got = ours_run()?;
            log_lines = got.lines;
            ours.push(got.took);
            std::fs::remove_file(&entry)?;
            let ninja = s.step("ninja-build");
            let start = Instant::now();
            let status = s
                .step_command(ninja, &knobs)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .context("cannot run ninja")?;
            base.push(start.elapsed());
            if !status.success() || !entry.is_file() {
                bail!("the flood build run directly failed: {status}");
            }
        }
        let ours = Samples::from_durations(ours);
        let base = Samples::from_durations(base);
        let base_ms = Unit::Millis.from_nanos(base.median());
        let added_ms = Unit::Millis.from_nanos(ours.median()) - base_ms;
        Ok(s.details(
            Outcome::default()
                .figure(
                    Figure::time("median", Unit::Millis, ours.median(), Some(base.median()))
                        .goal(Goal::AtMost(base_ms + 1000.0)),
                )
                .detail("runs", runs)
                .detail("warmup_runs", warmup)
                .detail("flood_lines", flood)
                .detail("log_lines", log_lines)
                .detail("added_ms", added_ms)
                .detail(
                    "lines_per_s",
                    log_lines as f64 / (ours.median() as f64 / 1e9),
                )
                .detail("ours", ours.summary_json())
                .detail("baseline", base.summary_json())
                .note(format!(
                    "build-log-100k: {log_lines} log lines ({flood} flood lines) received in \
                     order, none lost; {added_ms:+.0} ms against the build with its output to \
                     /dev/null"
                )),
        ))
    })
}
