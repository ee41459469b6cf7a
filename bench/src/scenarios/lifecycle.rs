//! The daemon's own life: how fast a fresh one answers, how much memory an idle one holds.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::daemon::{BenchDaemon, proc_status_kib};
use crate::harness::{Ctx, Figure, Goal, Outcome, Scenario, Unit, settle};
use crate::scenarios::rpc::{CONCURRENT_CLIENTS, concurrent_status_load};
use crate::stats::{Samples, nanos};

pub const DAEMON_COLD_START: Scenario = Scenario {
    name: "daemon-cold-start",
    area: "lifecycle",
    measures: "time from spawning `espctld --foreground` (fresh socket and data dir each run) to its \
               first successful daemon.info answer, median and p90",
    baseline: "spawning `true` and waiting for it to exit",
    goal: "median <= 100 ms",
    run: daemon_cold_start,
};

pub const DAEMON_IDLE_RSS: Scenario = Scenario {
    name: "daemon-idle-rss",
    area: "lifecycle",
    measures: "VmRSS of an idle daemon right after start, and again once a build.rust_elf and the \
               64-client build.status load have finished",
    baseline: "after start: VmRSS of an idle `sleep` process (the floor of any process); after load: \
               the same daemon's after-start figure (the growth)",
    goal: "both <= 20 MiB",
    run: daemon_idle_rss,
};

/// How long a daemon is left alone before its resident set is read.
const IDLE_SETTLE: Duration = Duration::from_millis(500);

/// The longest a fresh daemon may take to answer.
const START_TIMEOUT: Duration = Duration::from_secs(20);

fn daemon_cold_start(ctx: &mut Ctx) -> anyhow::Result<Outcome> {
    let runs = ctx.iters(10, 3);
    let bins = ctx.opts.bins.clone();
    // One untimed start first, so the binary is in the page cache for every timed run alike.
    BenchDaemon::spawn(&bins)?.wait_answering(START_TIMEOUT)?;
    let mut ours = Vec::with_capacity(runs);
    let mut base = Vec::with_capacity(runs);
    for _ in 0..runs {
        let mut daemon = BenchDaemon::spawn(&bins)?;
        ours.push(nanos(daemon.wait_answering(START_TIMEOUT)?));
        drop(daemon);

        let start = Instant::now();
        let status = Command::new("true")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .context("cannot run `true`")?;
        base.push(nanos(start.elapsed()));
        anyhow::ensure!(status.success(), "`true` exited with {status}");
    }
    let ours = Samples::from_nanos(ours);
    let base = Samples::from_nanos(base);
    Ok(Outcome::default()
        .figure(
            Figure::time("median", Unit::Millis, ours.median(), Some(base.median()))
                .goal(Goal::AtMost(100.0)),
        )
        .figure(Figure::time(
            "p90",
            Unit::Millis,
            ours.percentile(90.0),
            Some(base.percentile(90.0)),
        ))
        .detail("runs", runs)
        .detail("ours", ours.summary_json())
        .detail("baseline", base.summary_json()))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn daemon_idle_rss(ctx: &mut Ctx) -> anyhow::Result<Outcome> {
    let per_client = ctx.iters(1_000, 50);
    let warmup = ctx.iters(20, 5);
    let bins = ctx.opts.bins.clone();

    let floor_kib = sleep_rss_kib()?;

    let daemon = BenchDaemon::start(&bins)?;
    settle(IDLE_SETTLE);
    let after_start = daemon.rss_kib()?;

    let out = daemon.dir().join("rss-flash-bundle.tar.gz");
    let result = ctx.rt.block_on(crate::rpc::build_rust_elf(
        daemon.socket(),
        &ctx.opts.elf,
        &out,
    ))?;
    let task_id = result["task_id"]
        .as_str()
        .context("build.rust_elf answered without a task_id")?
        .to_string();
    let load = concurrent_status_load(
        daemon.socket(),
        &task_id,
        CONCURRENT_CLIENTS,
        per_client,
        warmup,
        None,
    )?;
    // The clients are gone once the load returns; let the daemon notice and go idle.
    settle(IDLE_SETTLE);
    let after_load = daemon.rss_kib()?;
    let peak = daemon.peak_rss_kib()?;

    Ok(Outcome::default()
        .figure(
            Figure::new(
                "rss_after_start",
                Unit::MiB,
                mib(after_start),
                Some(mib(floor_kib)),
            )
            .goal(Goal::AtMost(20.0)),
        )
        .figure(
            Figure::new(
                "rss_after_load",
                Unit::MiB,
                mib(after_load),
                Some(mib(after_start)),
            )
            .goal(Goal::AtMost(20.0)),
        )
        .detail("peak_rss_mib", mib(peak))
        .detail("sleep_rss_mib", mib(floor_kib))
        .detail("load_calls", load.samples.len())
        .detail("load_throughput_per_s", load.throughput()))
}

/// VmRSS of an idle `sleep` process.
fn sleep_rss_kib() -> anyhow::Result<u64> {
    let mut child = Command::new("sleep")
        .arg("30")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot run `sleep`")?;
    // Wait until it has exec'ed `sleep` (its name changes from ours), then read it.
    let pid = child.id();
    let start = Instant::now();
    let rss = loop {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() == "sleep" || start.elapsed() > Duration::from_secs(5) {
            settle(Duration::from_millis(50));
            break proc_status_kib(pid, "VmRSS");
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let _ = child.kill();
    let _ = child.wait();
    rss
}
