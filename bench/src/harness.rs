//! What a scenario is, what it reports, and the context it runs in.
//!
//! A [`Scenario`] is a name, three lines of documentation (what it measures, what it is compared
//! against, its goal) and a function that returns an [`Outcome`]: one or more [`Figure`]s, each with
//! our value, the baseline value measured in the same run, and an optional [`Goal`]. The registry in
//! [`crate::scenarios`] lists them; the runner in [`crate::run`] turns outcomes into the table and the
//! JSON.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;

use crate::bins::Bins;
use crate::daemon::BenchDaemon;

/// One benchmark.
#[derive(Clone, Copy)]
pub struct Scenario {
    /// The name `--only` takes, lowercase with dashes.
    pub name: &'static str,
    /// The area (module) it belongs to: `rpc`, `cli`, `lifecycle`, `bundle`, `plan`, `watch`.
    pub area: &'static str,
    /// What it measures.
    pub measures: &'static str,
    /// What it is compared against, measured in the same run.
    pub baseline: &'static str,
    /// The goal, in words (the figures carry it as numbers).
    pub goal: &'static str,
    pub run: fn(&mut Ctx) -> anyhow::Result<Outcome>,
}

impl std::fmt::Debug for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scenario")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The unit a figure is printed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Micros,
    Millis,
    /// Mebibytes (VmRSS is reported in KiB).
    MiB,
    PerSec,
    /// A share, 0 to 100.
    Percent,
}

impl Unit {
    pub fn symbol(self) -> &'static str {
        match self {
            Unit::Micros => "µs",
            Unit::Millis => "ms",
            Unit::MiB => "MiB",
            Unit::PerSec => "/s",
            Unit::Percent => "%",
        }
    }

    /// The ASCII name used in JSON keys and output.
    pub fn ascii(self) -> &'static str {
        match self {
            Unit::Micros => "us",
            Unit::Millis => "ms",
            Unit::MiB => "MiB",
            Unit::PerSec => "per_s",
            Unit::Percent => "percent",
        }
    }

    /// A value in this unit from nanoseconds (time units only).
    pub fn from_nanos(self, ns: u64) -> f64 {
        match self {
            Unit::Micros => ns as f64 / 1e3,
            Unit::Millis => ns as f64 / 1e6,
            Unit::MiB | Unit::PerSec | Unit::Percent => ns as f64,
        }
    }
}

/// A threshold a figure must meet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Goal {
    AtMost(f64),
    AtLeast(f64),
}

impl Goal {
    pub fn met_by(self, value: f64) -> bool {
        match self {
            Goal::AtMost(limit) => value <= limit,
            Goal::AtLeast(limit) => value >= limit,
        }
    }

    pub fn op(self) -> &'static str {
        match self {
            Goal::AtMost(_) => "<=",
            Goal::AtLeast(_) => ">=",
        }
    }

    pub fn value(self) -> f64 {
        match self {
            Goal::AtMost(v) | Goal::AtLeast(v) => v,
        }
    }
}

/// PASS, MISS, or no goal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Miss,
    NoGoal,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Miss => "MISS",
            Verdict::NoGoal => "-",
        }
    }
}

/// One measured figure with its same-run baseline.
#[derive(Debug, Clone)]
pub struct Figure {
    /// Short key, unique within the scenario (`p99`, `median`, `rss_after_load`).
    pub key: &'static str,
    pub unit: Unit,
    pub ours: f64,
    pub baseline: Option<f64>,
    pub goal: Option<Goal>,
}

impl Figure {
    pub fn new(key: &'static str, unit: Unit, ours: f64, baseline: Option<f64>) -> Figure {
        Figure {
            key,
            unit,
            ours,
            baseline,
            goal: None,
        }
    }

    /// A time figure from nanoseconds.
    pub fn time(key: &'static str, unit: Unit, ours_ns: u64, baseline_ns: Option<u64>) -> Figure {
        Figure::new(
            key,
            unit,
            unit.from_nanos(ours_ns),
            baseline_ns.map(|ns| unit.from_nanos(ns)),
        )
    }

    pub fn goal(mut self, goal: Goal) -> Figure {
        self.goal = Some(goal);
        self
    }

    pub fn verdict(&self) -> Verdict {
        match self.goal {
            Some(goal) if goal.met_by(self.ours) => Verdict::Pass,
            Some(_) => Verdict::Miss,
            None => Verdict::NoGoal,
        }
    }
}

/// What a scenario hands back.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub figures: Vec<Figure>,
    /// Sample counts, full distributions, throughput of the baseline: everything that is not a row of
    /// the table but helps to read it. Goes to the JSON.
    pub details: serde_json::Map<String, serde_json::Value>,
    /// Remarks printed under the table.
    pub notes: Vec<String>,
}

impl Outcome {
    pub fn figure(mut self, figure: Figure) -> Outcome {
        self.figures.push(figure);
        self
    }

    pub fn detail(mut self, key: &str, value: impl Into<serde_json::Value>) -> Outcome {
        self.details.insert(key.to_string(), value.into());
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Outcome {
        self.notes.push(note.into());
        self
    }
}

/// Run-wide settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// Fewer iterations, goals not enforced.
    pub quick: bool,
    pub bins: Bins,
    /// The example firmware ELF `rust-elf-bundle` and the seed task bundle.
    pub elf: PathBuf,
}

/// A daemon shared by the scenarios that want one warm, with one finished task in its store.
pub struct WarmDaemon {
    pub daemon: BenchDaemon,
    /// A `build.rust_elf` task that succeeded: what `build.status` and `espctl status` ask about.
    pub task_id: String,
}

/// What a scenario runs with.
pub struct Ctx {
    pub opts: Options,
    /// A multi-threaded runtime (one worker per core) for client work.
    pub rt: tokio::runtime::Runtime,
    warm: Option<WarmDaemon>,
}

impl Ctx {
    pub fn new(opts: Options) -> anyhow::Result<Ctx> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        Ok(Ctx {
            opts,
            rt,
            warm: None,
        })
    }

    pub fn quick(&self) -> bool {
        self.opts.quick
    }

    /// `full` normally, `quick` under `--quick`.
    pub fn iters(&self, full: usize, quick: usize) -> usize {
        if self.opts.quick { quick } else { full }
    }

    /// The shared warm daemon, started (and seeded with one `build.rust_elf` task) on first use.
    pub fn warm(&mut self) -> anyhow::Result<&WarmDaemon> {
        if self.warm.is_none() {
            let daemon = BenchDaemon::start(&self.opts.bins)?;
            let out = daemon.dir().join("seed-flash-bundle.tar.gz");
            let result = self
                .rt
                .block_on(crate::rpc::build_rust_elf(
                    daemon.socket(),
                    &self.opts.elf,
                    &out,
                ))
                .context("seeding the warm daemon with a build.rust_elf task")?;
            let task_id = result["task_id"]
                .as_str()
                .context("build.rust_elf answered without a task_id")?
                .to_string();
            self.warm = Some(WarmDaemon { daemon, task_id });
        }
        Ok(self.warm.as_ref().expect("just set"))
    }
}

/// Sleeps a little so the system settles between phases (page cache, sockets closing).
pub fn settle(d: Duration) {
    std::thread::sleep(d);
}
