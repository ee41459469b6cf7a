//! Watched projects (`project.watch`): save to `plan.changed`, re-plan compute, watch setup and
//! memory on the generated ESP-IDF-sized tree, and the predicted rebuild set against real
//! `ninja -n` on a built stand-in project.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use espctl_protocol::plan::BuildPlanParams;
use jsonrpsee::core::client::{Client, ClientT, Subscription, SubscriptionClientT};
use jsonrpsee::core::params::ObjectParams;
use notify::Watcher as _;
use serde_json::{Value, json};

use crate::daemon::BenchDaemon;
use crate::harness::{Ctx, Figure, Goal, Outcome, Scenario, Unit};
use crate::rpc::ws_client;
use crate::standin::{self, IdfEnv};
use crate::stats::{Samples, nanos};
use crate::trees::{self, IdfTree};

/// The daemon's default debounce, which these scenarios measure against.
const DEBOUNCE_MS: f64 = 100.0;
/// The longest a notification may take before the scenario fails.
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(60);

pub const WATCH_SAVE_LATENCY: Scenario = Scenario {
    name: "watch-save-latency",
    area: "watch",
    measures: "time from writing a source of the watched ESP-IDF-sized project to its \
               plan.changed notification at the client (debounce 100 ms, the default): p50, p95",
    baseline: "the raw inotify event for the same write (notify, no debounce), interleaved; the \
               debounce itself is the floor",
    goal: "p95 <= debounce + 30 ms (130 ms)",
    run: save_latency,
};

pub const WATCH_REPLAN: Scenario = Scenario {
    name: "watch-replan",
    area: "watch",
    measures: "re-plan compute in the daemon for a one-file change of the ESP-IDF-sized tree \
               (replan_ms of each plan.changed): median and p95 for an edit of main's source, \
               which no evaluation reads (the plan is reused once its inputs are known to be \
               untouched), and median and p95 for an edit of main's CMakeLists.txt, which \
               re-evaluates that component",
    baseline: "a generate_build_plan round trip of the same project with nothing changed, in the \
               same daemon",
    goal: "median <= 5 ms",
    run: replan,
};

pub const WATCH_SETUP: Scenario = Scenario {
    name: "watch-setup",
    area: "watch",
    measures: "project.watch on the ESP-IDF-sized tree until its first notification (the walk, \
               the watches, the plan, the cost) with the planner warm; the watch is closed \
               between runs: median",
    baseline: "a warm generate_build_plan of the same project (what the setup plans)",
    goal: "median <= 250 ms",
    run: setup,
};

pub const WATCH_RSS: Scenario = Scenario {
    name: "watch-rss",
    area: "watch",
    measures: "resident memory of a daemon watching the ESP-IDF-sized tree (after a few changes)",
    baseline: "the same daemon after planning the tree, before the watch",
    goal: "<= 60 MiB",
    run: rss,
};

pub const WATCH_PREDICT_NINJA: Scenario = Scenario {
    name: "watch-predict-ninja",
    area: "watch",
    measures: "the objects plan.changed predicts after touching a widely included header \
               (esp_err.h) of a built stand-in project, compared with what `ninja -n` lists: \
               match in % (shared / all), and the prediction's time",
    baseline: "`ninja -n` on the same build directory (its object list, and its wall time)",
    goal: "match >= 100 %",
    run: predict_ninja,
};

fn object_params(v: Value) -> anyhow::Result<ObjectParams> {
    let mut p = ObjectParams::new();
    for (k, v) in v.as_object().context("params must be an object")? {
        p.insert(k, v.clone())?;
    }
    Ok(p)
}

fn watch_params(tree_project: &Path, env: &IdfEnv) -> Value {
    json!({"path": tree_project, "target": trees::TARGET, "env": env.forwarded()})
}

async fn subscribe(client: &Client, params: &Value) -> anyhow::Result<Subscription<Value>> {
    client
        .subscribe::<Value, _>(
            "project.watch",
            object_params(params.clone())?,
            "project.unwatch",
        )
        .await
        .context("project.watch")
}

/// The next notification about changed files (build directory reports skipped).
async fn next_change(sub: &mut Subscription<Value>) -> anyhow::Result<Value> {
    loop {
        let n = match tokio::time::timeout(NOTIFY_TIMEOUT, sub.next()).await {
            Ok(Some(Ok(v))) => v,
            Ok(other) => bail!("the watch ended: {other:?}"),
            Err(_) => bail!("no plan.changed within {NOTIFY_TIMEOUT:?}"),
        };
        if n["kind"] == "changed" {
            return Ok(n);
        }
    }
}

async fn first(sub: &mut Subscription<Value>) -> anyhow::Result<Value> {
    match tokio::time::timeout(NOTIFY_TIMEOUT, sub.next()).await {
        Ok(Some(Ok(v))) => Ok(v),
        other => bail!("no initial plan.changed: {other:?}"),
    }
}

fn append(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

/// The source every edit touches: `main`'s only source.
fn edited_source(tree: &IdfTree) -> PathBuf {
    tree.project.join("main").join("bench_main.c")
}

/// Waits (bounded) for a raw notify event on `path`.
fn raw_event(
    rx: &std::sync::mpsc::Receiver<notify::Result<notify::Event>>,
    path: &Path,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(Ok(e))
                if !matches!(e.kind, notify::EventKind::Access(_))
                    && e.paths.iter().any(|p| p == path) =>
            {
                return Ok(());
            }
            Ok(_) => {}
            Err(_) => bail!("no raw inotify event for {}", path.display()),
        }
    }
}

fn save_latency(ctx: &mut Ctx) -> anyhow::Result<Outcome> {
    let n = ctx.iters(40, 6);
    let quick = ctx.quick();
    super::plan::with_tree(quick, |tree, env| {
        let daemon = BenchDaemon::start(&ctx.opts.bins)?;
        let source = edited_source(tree);
        let params = watch_params(&tree.project, env);
        let (tx, rx) = std::sync::mpsc::channel();
        let mut raw = notify::recommended_watcher(tx)?;
        raw.watch(
            source.parent().context("no parent")?,
            notify::RecursiveMode::NonRecursive,
        )?;
        let mut ours = Vec::with_capacity(n);
        let mut base = Vec::with_capacity(n);
        ctx.rt.block_on(async {
            let client = ws_client(daemon.socket()).await?;
            let mut sub = subscribe(&client, &params).await?;
            first(&mut sub).await?;
            for i in 0..n {
                while rx.try_recv().is_ok() {}
                let start = Instant::now();
                append(&source, &format!("/* save {i} */\n"))?;
                raw_event(&rx, &source)?;
                base.push(nanos(start.elapsed()));
                let n = next_change(&mut sub).await?;
                ours.push(nanos(start.elapsed()));
                if n["class"] != "recompile" {
                    bail!("a source edit was classified {}", n["class"]);
                }
            }
            anyhow::Ok(())
        })?;
        let ours = Samples::from_nanos(ours);
        let base = Samples::from_nanos(base);
        Ok(Outcome::default()
            .figure(Figure::time(
                "p50",
                Unit::Millis,
                ours.median(),
                Some(base.median()),
            ))
            .figure(
                Figure::time(
                    "p95",
                    Unit::Millis,
                    ours.percentile(95.0),
                    Some(base.percentile(95.0)),
                )
                .goal(Goal::AtMost(DEBOUNCE_MS + 30.0)),
            )
            .detail("saves", ours.len())
            .detail("debounce_ms", DEBOUNCE_MS)
            .detail("ours", ours.summary_json())
            .detail("baseline", base.summary_json())
            .note(format!(
                "watch-save-latency: above the {DEBOUNCE_MS} ms debounce, p50 {:.1} ms, p95 \
                 {:.1} ms (re-plan, prediction, notification)",
                ours.median() as f64 / 1e6 - DEBOUNCE_MS,
                ours.percentile(95.0) as f64 / 1e6 - DEBOUNCE_MS
            )))
    })
}

fn replan(ctx: &mut Ctx) -> anyhow::Result<Outcome> {
    let n = ctx.iters(40, 6);
    let quick = ctx.quick();
    super::plan::with_tree(quick, |tree, env| {
        let daemon = BenchDaemon::start(&ctx.opts.bins)?;
        let source = edited_source(tree);
        let params = watch_params(&tree.project, env);
        let plan_params = BuildPlanParams {
            path: tree.project.display().to_string(),
            target: Some(trees::TARGET.to_string()),
            env: env.forwarded(),
            ..BuildPlanParams::default()
        };
        let cmakelists = tree.project.join("main").join("CMakeLists.txt");
        let mut ours = Vec::with_capacity(n);
        let mut lists = Vec::with_capacity(n);
        let mut base = Vec::with_capacity(n);
        ctx.rt.block_on(async {
            let client = ws_client(daemon.socket()).await?;
            let mut sub = subscribe(&client, &params).await?;
            first(&mut sub).await?;
            for i in 0..n {
                append(&source, &format!("/* replan {i} */\n"))?;
                let n = next_change(&mut sub).await?;
                let ms = n["replan_ms"].as_f64().context("no replan_ms")?;
                ours.push((ms * 1e6) as u64);
                append(&cmakelists, &format!("# replan {i}\n"))?;
                let n = next_change(&mut sub).await?;
                if n["class"] != "reconfigure" {
                    bail!(
                        "an edit of main/CMakeLists.txt was classified {}",
                        n["class"]
                    );
                }
                let ms = n["replan_ms"].as_f64().context("no replan_ms")?;
                lists.push((ms * 1e6) as u64);
                let start = Instant::now();
                client
                    .request::<Value, _>(
                        "generate_build_plan",
                        object_params(serde_json::to_value(&plan_params)?)?,
                    )
                    .await?;
                base.push(nanos(start.elapsed()));
            }
            anyhow::Ok(())
        })?;
        let ours = Samples::from_nanos(ours);
        let lists = Samples::from_nanos(lists);
        let base = Samples::from_nanos(base);
        // Median (with the goal) and p95 of one kind of change, each next to the baseline's.
        let figures = |outcome: Outcome, keys: (&'static str, &'static str), samples: &Samples| {
            outcome
                .figure(
                    Figure::time(keys.0, Unit::Millis, samples.median(), Some(base.median()))
                        .goal(Goal::AtMost(5.0)),
                )
                .figure(Figure::time(
                    keys.1,
                    Unit::Millis,
                    samples.percentile(95.0),
                    Some(base.percentile(95.0)),
                ))
        };
        let outcome = figures(Outcome::default(), ("median", "p95"), &ours);
        let keys = ("median, CMakeLists.txt edit", "p95, CMakeLists.txt edit");
        Ok(figures(outcome, keys, &lists)
            .detail("changes", ours.len() + lists.len())
            .detail("ours", ours.summary_json())
            .detail("cmakelists", lists.summary_json())
            .detail("baseline", base.summary_json()))
    })
}

fn setup(ctx: &mut Ctx) -> anyhow::Result<Outcome> {
    let n = ctx.iters(10, 3);
    let quick = ctx.quick();
    super::plan::with_tree(quick, |tree, env| {
        let daemon = BenchDaemon::start(&ctx.opts.bins)?;
        let params = watch_params(&tree.project, env);
        let mut ours = Vec::with_capacity(n);
        let mut base = Vec::with_capacity(n);
        let mut paths = 0;
        ctx.rt.block_on(async {
            let client = ws_client(daemon.socket()).await?;
            // Warm the planner once.
            client
                .request::<Value, _>("generate_build_plan", object_params(params.clone())?)
                .await?;
            for _ in 0..n {
                let start = Instant::now();
                client
                    .request::<Value, _>("generate_build_plan", object_params(params.clone())?)
                    .await?;
                base.push(nanos(start.elapsed()));
                let start = Instant::now();
                let mut sub = subscribe(&client, &params).await?;
                let initial = first(&mut sub).await?;
                ours.push(nanos(start.elapsed()));
                paths = initial["watch"]["paths_watched"].as_u64().unwrap_or(0);
                if initial["watch"]["mode"] != "native" {
                    bail!("the tree is polled: {}", initial["watch"]["note"]);
                }
                sub.unsubscribe().await?;
                // The watcher closes with its last subscription.
                let deadline = Instant::now() + Duration::from_secs(10);
                loop {
                    let info: Value = client.request("daemon.info", ObjectParams::new()).await?;
                    if info["watched_projects"]
                        .as_array()
                        .is_some_and(|a| a.is_empty())
                    {
                        break;
                    }
                    if Instant::now() > deadline {
                        bail!("the watch did not close");
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            anyhow::Ok(())
        })?;
        let ours = Samples::from_nanos(ours);
        let base = Samples::from_nanos(base);
        Ok(Outcome::default()
            .figure(
                Figure::time("median", Unit::Millis, ours.median(), Some(base.median()))
                    .goal(Goal::AtMost(250.0)),
            )
            .detail("setups", ours.len())
            .detail("paths_watched", paths)
            .detail("ours", ours.summary_json())
            .detail("baseline", base.summary_json())
            .note(format!("watch-setup: {paths} directories watched natively")))
    })
}

fn rss(ctx: &mut Ctx) -> anyhow::Result<Outcome> {
    let changes = ctx.iters(10, 3);
    let quick = ctx.quick();
    super::plan::with_tree(quick, |tree, env| {
        let daemon = BenchDaemon::start(&ctx.opts.bins)?;
        let params = watch_params(&tree.project, env);
        let source = edited_source(tree);
        let (before, after) = ctx.rt.block_on(async {
            let client = ws_client(daemon.socket()).await?;
            client
                .request::<Value, _>("generate_build_plan", object_params(params.clone())?)
                .await?;
            let before = daemon.rss_kib()?;
            let mut sub = subscribe(&client, &params).await?;
            first(&mut sub).await?;
            for i in 0..changes {
                append(&source, &format!("/* rss {i} */\n"))?;
                next_change(&mut sub).await?;
            }
            let after = daemon.rss_kib()?;
            anyhow::Ok((before, after))
        })?;
        let mib = |kib: u64| kib as f64 / 1024.0;
        Ok(Outcome::default()
            .figure(
                Figure::new("rss", Unit::MiB, mib(after), Some(mib(before)))
                    .goal(Goal::AtMost(60.0)),
            )
            .detail("rss_kib_watching", after)
            .detail("rss_kib_planned_only", before)
            .detail("changes", changes))
    })
}

/// Object files `ninja -n` lists, from CMake's "Building ... object X" lines.
fn ninja_dry_run_objects(build: &Path) -> anyhow::Result<(BTreeSet<String>, Duration)> {
    let start = Instant::now();
    let out = std::process::Command::new("ninja")
        .arg("-C")
        .arg(build)
        .args(["-n", "all"])
        .output()
        .context("cannot run ninja")?;
    let took = start.elapsed();
    if !out.status.success() {
        bail!("ninja -n failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let objects = text
        .lines()
        .filter_map(|l| {
            [
                "Building C object ",
                "Building CXX object ",
                "Building ASM object ",
            ]
            .iter()
            .find_map(|p| l.split_once(p).map(|(_, o)| o.trim().to_string()))
        })
        .collect();
    Ok((objects, took))
}

fn predict_ninja(ctx: &mut Ctx) -> anyhow::Result<Outcome> {
    let rounds = ctx.iters(5, 2);
    standin::require_tools()?;
    let root = tempfile::Builder::new()
        .prefix("espctl-bench-watch")
        .tempdir()
        .context("cannot create a temp dir")?;
    // A copy of the stand-in ESP-IDF, so its header can be touched, and a copy of `hello`.
    let standin = standin::standin_idf()?;
    let idf = root.path().join("idf");
    trees::copy_tree(&standin, &idf)?;
    let project = root.path().join("hello");
    trees::copy_tree(
        &standin
            .parent()
            .context("no fixtures dir")?
            .join("projects")
            .join("hello"),
        &project,
    )?;
    let env = IdfEnv::from_export(&idf)?;
    let build = project.join("build");
    standin::cmake_configure(&env, &project, &build, trees::TARGET)?;
    standin::ninja_build(&env, &build)?;
    let header = idf.join("components/esp_common/include/esp_err.h");
    let daemon = BenchDaemon::start(&ctx.opts.bins)?;
    let params = json!({"path": project, "target": trees::TARGET, "env": env.forwarded()});
    let mut matches = Vec::new();
    let mut predict_ns = Vec::new();
    let mut ninja_ns = Vec::new();
    let mut objects = 0usize;
    let mut differences = Vec::new();
    ctx.rt.block_on(async {
        let client = ws_client(daemon.socket()).await?;
        let mut sub = subscribe(&client, &params).await?;
        first(&mut sub).await?;
        for i in 0..rounds {
            append(&header, &format!("/* touched {i} */\n"))?;
            let n = next_change(&mut sub).await?;
            let predicted: BTreeSet<String> = n["cost"]["objects"]
                .as_array()
                .context("no cost in the notification")?
                .iter()
                .filter_map(|o| o.as_str().map(String::from))
                .collect();
            predict_ns.push((n["predict_ms"].as_f64().unwrap_or(0.0) * 1e6) as u64);
            let (listed, took) = ninja_dry_run_objects(&build)?;
            ninja_ns.push(nanos(took));
            let shared = predicted.intersection(&listed).count();
            let all = predicted.union(&listed).count().max(1);
            matches.push(shared as f64 * 100.0 / all as f64);
            objects = listed.len();
            for d in predicted.symmetric_difference(&listed).take(5) {
                differences.push(d.clone());
            }
            // Build, so the next round starts from an up-to-date directory.
            standin::ninja_build(&env, &build)?;
        }
        anyhow::Ok(())
    })?;
    let worst = matches.iter().copied().fold(100.0, f64::min);
    let predict = Samples::from_nanos(predict_ns);
    let ninja = Samples::from_nanos(ninja_ns);
    let mut outcome = Outcome::default()
        .figure(Figure::new("match", Unit::Percent, worst, Some(100.0)).goal(Goal::AtLeast(100.0)))
        .figure(Figure::time(
            "predict",
            Unit::Millis,
            predict.median(),
            Some(ninja.median()),
        ))
        .detail("rounds", rounds)
        .detail("objects_per_touch", objects)
        .detail("differences", differences.clone())
        .note(format!(
            "watch-predict-ninja: touching esp_err.h rebuilds {objects} objects; the worst round \
             matched ninja -n at {worst:.1} %"
        ));
    if !differences.is_empty() {
        outcome = outcome.note(format!(
            "watch-predict-ninja: differences: {}",
            differences.join(", ")
        ));
    }
    if objects < 2 {
        bail!("esp_err.h rebuilt {objects} objects: not a widely included header");
    }
    Ok(outcome)
}
