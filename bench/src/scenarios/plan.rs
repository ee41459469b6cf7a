//! The planner: `generate_build_plan` on an ESP-IDF-sized tree (first plan in a fresh daemon,
//! re-plans with nothing changed and after a component's `CMakeLists.txt` changed) against real
//! CMake configures of the same project, and `get_clean_plan` on a large real build directory
//! against `ninja -n -t clean`.
//!
//! The generated trees (see [`crate::trees`]) live in one temp dir for the whole run, shared by the
//! scenarios (with the daemon that planned the project and a copy of the project configured by
//! CMake), and removed when the bench exits.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use espctl_protocol::plan::{BuildPlan, BuildPlanParams, CleanPlan, CleanPlanParams, CleanScope};
use jsonrpsee::core::client::{Client, ClientT};
use jsonrpsee::core::params::ObjectParams;

use crate::cpu;
use crate::daemon::BenchDaemon;
use crate::harness::{Ctx, Figure, Goal, Outcome, Scenario, Unit};
use crate::rpc::ws_client;
use crate::standin::{self, IdfEnv};
use crate::stats::{Samples, nanos};
use crate::trees::{self, IdfTree, LargeProject, TreeSpec};

pub const PLAN_COLD: Scenario = Scenario {
    name: "plan-cold",
    area: "plan",
    measures: "first generate_build_plan of a project over a generated ESP-IDF-sized tree (150 \
               components, ~5,000 sources) in a freshly started daemon: median over fresh daemons",
    baseline: "real `cmake -G Ninja` configure of the same project and tree into a fresh build \
               directory (stand-in ESP-IDF, real kconfgen)",
    goal: "median <= 200 ms",
    run: plan_cold,
};

pub const PLAN_REPLAN: Scenario = Scenario {
    name: "plan-replan",
    area: "plan",
    measures: "generate_build_plan again with nothing changed, in the daemon that planned the \
               project: median and p90",
    baseline: "CMake re-configure of an already configured copy of the project (nothing changed)",
    goal: "median <= 10 ms",
    run: plan_replan,
};

pub const PLAN_REPLAN_CMAKELISTS: Scenario = Scenario {
    name: "plan-replan-cmakelists",
    area: "plan",
    measures: "generate_build_plan after one component's CMakeLists.txt was rewritten (a new \
               comment each time, every other time one more source): median and p90",
    baseline: "CMake re-configure of the configured copy after the same change",
    goal: "median <= 15 ms",
    run: plan_replan_cmakelists,
};

pub const CLEAN_PLAN_20K: Scenario = Scenario {
    name: "clean-plan-20k",
    area: "plan",
    measures: "get_clean_plan (scope clean) of a real CMake + Ninja build directory of ~20,000 \
               files (an ESP-IDF project of 10,000 sources built with the stand-in): median",
    baseline: "`ninja -C build -n -t clean`, run for run",
    goal: "median <= ninja's median",
    run: clean_plan_20k,
};

/// The generated tree: full size, and `--quick` size.
const TREE_FULL: TreeSpec = TreeSpec {
    components: 150,
    source_files: 5_000,
};
const TREE_QUICK: TreeSpec = TreeSpec {
    components: 20,
    source_files: 500,
};

/// Sources of the large build: two files each in the build directory (object and kept depfile).
const LARGE_SOURCES_FULL: usize = 10_000;
const LARGE_SOURCES_QUICK: usize = 300;

/// Everything the scenarios share within one run, removed at exit. Fields drop in order: the
/// daemon before the directory it works in.
struct Shared {
    tree: Option<TreeState>,
    large: Option<LargeState>,
    root: tempfile::TempDir,
}

struct TreeState {
    /// A daemon that has planned the project (warm caches), when one is left.
    daemon: Option<BenchDaemon>,
    tree: IdfTree,
    env: IdfEnv,
    /// A copy of the project configured by CMake: (project, build dir).
    configured: Option<(PathBuf, PathBuf)>,
    /// Copies made so far (each CMake run from scratch gets its own).
    copies: usize,
    generated_in: Duration,
}

struct LargeState {
    project: LargeProject,
    build: PathBuf,
    env: IdfEnv,
    files: usize,
    built_in: Duration,
}

static SHARED: Mutex<Option<Shared>> = Mutex::new(None);
static CLEANUP: Once = Once::new();

/// Kills the shared daemon and removes the generated trees when the bench exits.
extern "C" fn cleanup_at_exit() {
    let mut guard = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    drop(guard.take());
}

/// Runs `f` with the shared state, creating it (and its temp dir) on first use.
fn with_shared<T>(f: impl FnOnce(&mut Shared) -> anyhow::Result<T>) -> anyhow::Result<T> {
    let mut guard = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if guard.is_none() {
        let root = tempfile::Builder::new()
            .prefix("espctl-bench-plan")
            .tempdir()
            .context("cannot create a temp dir")?;
        *guard = Some(Shared {
            tree: None,
            large: None,
            root,
        });
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

/// Runs `f` with the generated ESP-IDF-sized tree (written on first use) and its `export.sh`
/// environment: the tree the planner scenarios use, shared with the watch scenarios.
pub(crate) fn with_tree<T>(
    quick: bool,
    f: impl FnOnce(&IdfTree, &IdfEnv) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    with_shared(|shared| {
        let state = shared.tree(quick)?;
        f(&state.tree, &state.env)
    })
}

impl Shared {
    /// The generated tree (written on first use) and the environment of its `export.sh`.
    fn tree(&mut self, quick: bool) -> anyhow::Result<&mut TreeState> {
        if self.tree.is_none() {
            // The tools first: no point writing thousands of files to fail afterwards.
            standin::require_tools()?;
            standin::kconfgen_python()?;
            let standin = standin::standin_idf()?;
            let spec = if quick { TREE_QUICK } else { TREE_FULL };
            let dir = self.root.path().join("tree");
            let start = Instant::now();
            let tree = trees::idf_tree(&dir, &standin, spec)?;
            let generated_in = start.elapsed();
            let env = IdfEnv::from_export(&tree.idf)?;
            self.tree = Some(TreeState {
                daemon: None,
                tree,
                env,
                configured: None,
                copies: 0,
                generated_in,
            });
        }
        Ok(self.tree.as_mut().expect("just set"))
    }
}

impl TreeState {
    /// A fresh copy of the project (never configured), for CMake to configure.
    fn project_copy(&mut self) -> anyhow::Result<PathBuf> {
        self.copies += 1;
        let dir = self
            .tree
            .project
            .with_file_name(format!("cmake-project-{}", self.copies));
        trees::copy_tree(&self.tree.project, &dir)?;
        Ok(dir)
    }

    /// Configures a fresh copy of the project with CMake; returns the wall time.
    fn configure_copy(&mut self) -> anyhow::Result<Duration> {
        let copy = self.project_copy()?;
        let build = copy.join("build");
        let took = standin::cmake_configure(&self.env, &copy, &build, trees::TARGET)?;
        self.configured = Some((copy, build));
        Ok(took)
    }

    /// The configured copy, configuring one (untimed) if there is none yet.
    fn configured(&mut self) -> anyhow::Result<(PathBuf, PathBuf)> {
        if self.configured.is_none() {
            self.configure_copy()?;
        }
        Ok(self.configured.clone().expect("just set"))
    }

    fn plan_params(&self) -> BuildPlanParams {
        BuildPlanParams {
            path: self.tree.project.display().to_string(),
            target: Some(trees::TARGET.to_string()),
            env: self.env.forwarded(),
            ..BuildPlanParams::default()
        }
    }

    /// The shared daemon, started and made to plan the project once if there is none.
    fn warm_daemon(&mut self, ctx: &Ctx) -> anyhow::Result<&BenchDaemon> {
        if self.daemon.is_none() {
            let daemon = BenchDaemon::start(&ctx.opts.bins)?;
            let params = self.plan_params();
            ctx.rt.block_on(async {
                let client = ws_client(daemon.socket()).await?;
                generate_build_plan(&client, &params).await
            })?;
            self.daemon = Some(daemon);
        }
        Ok(self.daemon.as_ref().expect("just set"))
    }

    fn details(&self, outcome: Outcome) -> Outcome {
        let t = &self.tree;
        outcome
            .detail("tree_generated_components", t.generated_components)
            .detail("tree_unsupported_components", t.unsupported_components)
            .detail("tree_standin_components", t.standin_components)
            .detail("tree_generated_sources", t.generated_sources)
            .detail("tree_kconfig_symbols", t.kconfig_symbols)
            .detail("tree_idf_files", t.idf_files)
            .detail("tree_generated_ms", self.generated_in.as_secs_f64() * 1e3)
    }
}

/// A params struct as JSON-RPC named params.
fn object_params(value: &impl serde::Serialize) -> anyhow::Result<ObjectParams> {
    let serde_json::Value::Object(map) = serde_json::to_value(value)? else {
        bail!("params are not an object");
    };
    let mut p = ObjectParams::new();
    for (k, v) in map {
        p.insert(&k, v)?;
    }
    Ok(p)
}

async fn generate_build_plan(
    client: &Client,
    params: &BuildPlanParams,
) -> anyhow::Result<BuildPlan> {
    client
        .request::<BuildPlan, _>("generate_build_plan", object_params(params)?)
        .await
        .with_context(|| format!("generate_build_plan of {}", params.path))
}

async fn get_clean_plan(client: &Client, params: &CleanPlanParams) -> anyhow::Result<CleanPlan> {
    client
        .request::<CleanPlan, _>("get_clean_plan", object_params(params)?)
        .await
        .with_context(|| format!("get_clean_plan of {}", params.path))
}

/// Fails when the plan has errors: a plan the build would refuse measures the wrong thing.
fn check_plan(plan: &BuildPlan) -> anyhow::Result<()> {
    if !plan.errors.is_empty() {
        let first: Vec<String> = plan
            .errors
            .iter()
            .take(5)
            .map(|e| {
                format!(
                    "{} ({}:{})",
                    e.message,
                    e.file.as_deref().unwrap_or("-"),
                    e.line.unwrap_or(0)
                )
            })
            .collect();
        bail!(
            "the plan of the generated project has {} errors: {}",
            plan.errors.len(),
            first.join("; ")
        );
    }
    Ok(())
}

/// Differences between the plan and what CMake configured (`project_description.json`): the
/// components of the build and each one's sources. Paths under the configured copy of the project
/// are read as the same paths under the planned project.
fn compare_with_configure(
    plan: &BuildPlan,
    planned_project: &Path,
    copy: &Path,
    build: &Path,
) -> anyhow::Result<Vec<String>> {
    let path = build.join("project_description.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let desc: serde_json::Value = serde_json::from_str(&text)?;
    let copy_prefix = copy.display().to_string();
    let planned_prefix = planned_project.display().to_string();
    let configured: BTreeSet<String> = desc["build_components"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let planned: BTreeSet<String> = plan.build_order.iter().cloned().collect();
    let mut diffs = Vec::new();
    for missing in configured.difference(&planned) {
        diffs.push(format!("{missing}: configured, not planned"));
    }
    for extra in planned.difference(&configured) {
        diffs.push(format!("{extra}: planned, not configured"));
    }
    for c in &plan.components {
        let Some(info) = desc["build_component_info"].get(&c.name) else {
            continue;
        };
        let real: BTreeSet<String> = info["sources"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str())
                    .map(|s| s.replacen(&copy_prefix, &planned_prefix, 1))
                    .collect()
            })
            .unwrap_or_default();
        let ours: BTreeSet<String> = c.sources.iter().cloned().collect();
        if real != ours {
            diffs.push(format!(
                "{}: {} sources planned, {} configured ({} only planned, {} only configured)",
                c.name,
                ours.len(),
                real.len(),
                ours.difference(&real).count(),
                real.difference(&ours).count()
            ));
        }
    }
    Ok(diffs)
}

fn plan_cold(ctx: &mut Ctx) -> anyhow::Result<Outcome> {
    let runs = ctx.iters(5, 2);
    let base_runs = ctx.iters(3, 1);
    let quick = ctx.quick();
    with_shared(|shared| {
        let state = shared.tree(quick)?;
        // Any daemon left from before has warm caches: this scenario starts its own.
        state.daemon = None;
        let params = state.plan_params();
        let mut ours = Vec::with_capacity(runs);
        let mut daemon_cpu = Vec::with_capacity(runs);
        let mut base = Vec::with_capacity(base_runs);
        let mut last_plan = None;
        // Run for run, so a burst of background load hits both alike.
        for r in 0..runs.max(base_runs) {
            if r < runs {
                let daemon = BenchDaemon::start(&ctx.opts.bins)?;
                let pid = daemon.pid()?;
                let (plan, took, cpu_used) = ctx.rt.block_on(async {
                    let client = ws_client(daemon.socket()).await?;
                    let cpu_before = cpu::process(pid)?;
                    let start = Instant::now();
                    let plan = generate_build_plan(&client, &params).await?;
                    let took = start.elapsed();
                    let cpu_used = cpu::process(pid)?.saturating_sub(cpu_before);
                    anyhow::Ok((plan, took, cpu_used))
                })?;
                check_plan(&plan)?;
                ours.push(nanos(took));
                daemon_cpu.push(nanos(cpu_used));
                last_plan = Some(plan);
                // The last one stays, warm, for the re-plan scenarios.
                state.daemon = Some(daemon);
            }
            if r < base_runs {
                base.push(nanos(state.configure_copy()?));
            }
        }
        let plan = last_plan.context("no plan")?;
        let (copy, build) = state.configured()?;
        let diffs = compare_with_configure(&plan, &state.tree.project, &copy, &build)?;
        let plan_sources: usize = plan.components.iter().map(|c| c.sources.len()).sum();
        let plan_bytes = serde_json::to_string(&plan)?.len();
        let ours = Samples::from_nanos(ours);
        let base = Samples::from_nanos(base);
        let daemon_cpu = Samples::from_nanos(daemon_cpu);
        let mut outcome = Outcome::default()
            .figure(
                Figure::time("median", Unit::Millis, ours.median(), Some(base.median()))
                    .goal(Goal::AtMost(200.0)),
            )
            .detail("runs", runs)
            .detail("baseline_runs", base_runs)
            .detail("plan_components", plan.components.len())
            .detail("plan_sources", plan_sources)
            .detail("plan_json_bytes", plan_bytes)
            .detail("plan_warnings", plan.warnings.len())
            .detail("plan_vs_configure_differences", diffs.clone())
            .detail("daemon_cpu_ms_median", daemon_cpu.median() as f64 / 1e6)
            .detail("ours", ours.summary_json())
            .detail("baseline", base.summary_json())
            .note(format!(
                "plan-cold: tree of {} generated + {} stand-in components, {} generated sources; \
                 the plan has {} components and {} sources",
                state.tree.generated_components,
                state.tree.standin_components,
                state.tree.generated_sources,
                plan.components.len(),
                plan_sources
            ));
        if !diffs.is_empty() {
            outcome = outcome.note(format!(
                "plan-cold: the plan differs from CMake's configure in {} places, first: {}",
                diffs.len(),
                diffs[..diffs.len().min(3)].join("; ")
            ));
        }
        Ok(state.details(outcome))
    })
}

/// What [`replans`] measured.
struct Replans {
    ours: Vec<u64>,
    base: Vec<u64>,
    /// CPU time over the whole loop (the baseline's processes are not counted: the daemon and the
    /// bench wait while they run).
    daemon_cpu: Duration,
    client_cpu: Duration,
}

/// Re-plans `n` times on one client (after one untimed plan on it), interleaved in `blocks` with
/// `between` (the baseline); `before_each` runs before each timed plan and `check` looks at each
/// plan.
#[allow(clippy::too_many_arguments)]
fn replans(
    ctx: &Ctx,
    daemon: &BenchDaemon,
    params: &BuildPlanParams,
    n: usize,
    blocks: usize,
    before_each: &mut dyn FnMut(usize) -> anyhow::Result<()>,
    check: &mut dyn FnMut(usize, &BuildPlan) -> anyhow::Result<()>,
    between: &mut dyn FnMut() -> anyhow::Result<Duration>,
) -> anyhow::Result<Replans> {
    let socket = daemon.socket();
    let pid = daemon.pid()?;
    let client = ctx.rt.block_on(async {
        let client = ws_client(socket).await?;
        generate_build_plan(&client, params).await?;
        anyhow::Ok(client)
    })?;
    let per_block = n.div_ceil(blocks.max(1));
    let mut ours = Vec::with_capacity(n);
    let mut base = Vec::with_capacity(blocks);
    let mut i = 0;
    let daemon_before = cpu::process(pid)?;
    let client_before = cpu::this_process();
    while i < n || base.len() < blocks {
        for _ in 0..per_block.min(n - i) {
            before_each(i)?;
            let start = Instant::now();
            let plan = ctx.rt.block_on(generate_build_plan(&client, params))?;
            ours.push(nanos(start.elapsed()));
            check_plan(&plan)?;
            check(i, &plan)?;
            i += 1;
        }
        if base.len() < blocks {
            base.push(nanos(between()?));
        }
    }
    Ok(Replans {
        ours,
        base,
        daemon_cpu: cpu::process(pid)?.saturating_sub(daemon_before),
        client_cpu: cpu::this_process().saturating_sub(client_before),
    })
}

fn replan_outcome(name: &str, r: Replans, goal_ms: f64) -> Outcome {
    let n = r.ours.len();
    let base_runs = r.base.len();
    let daemon_ms = r.daemon_cpu.as_secs_f64() * 1e3 / n.max(1) as f64;
    let client_ms = r.client_cpu.as_secs_f64() * 1e3 / n.max(1) as f64;
    let ours = Samples::from_nanos(r.ours);
    let base = Samples::from_nanos(r.base);
    Outcome::default()
        .figure(
            Figure::time("median", Unit::Millis, ours.median(), Some(base.median()))
                .goal(Goal::AtMost(goal_ms)),
        )
        .figure(Figure::time(
            "p90",
            Unit::Millis,
            ours.percentile(90.0),
            Some(base.percentile(90.0)),
        ))
        .detail("plans", n)
        .detail("baseline_runs", base_runs)
        .detail("daemon_cpu_ms_per_plan", daemon_ms)
        .detail("client_cpu_ms_per_plan", client_ms)
        .note(format!(
            "{name}: CPU per plan: daemon {daemon_ms:.1} ms, client {client_ms:.1} ms (the wall \
             time adds waiting for a core on a loaded machine)"
        ))
        .detail("ours", ours.summary_json())
        .detail("baseline", base.summary_json())
}

fn plan_replan(ctx: &mut Ctx) -> anyhow::Result<Outcome> {
    let n = ctx.iters(50, 20);
    let base_runs = ctx.iters(3, 1);
    let quick = ctx.quick();
    with_shared(|shared| {
        let state = shared.tree(quick)?;
        let (copy, build) = state.configured()?;
        let params = state.plan_params();
        let env = state.env.clone();
        let daemon = state.warm_daemon(ctx)?;
        let mut first: Option<(usize, usize)> = None;
        let r = replans(
            ctx,
            daemon,
            &params,
            n,
            base_runs,
            &mut |_| Ok(()),
            &mut |_, plan| {
                let shape = (
                    plan.components.len(),
                    plan.components.iter().map(|c| c.sources.len()).sum(),
                );
                match first {
                    None => first = Some(shape),
                    Some(f) if f != shape => {
                        bail!("a re-plan with nothing changed changed the plan")
                    }
                    Some(_) => {}
                }
                Ok(())
            },
            &mut || standin::cmake_configure(&env, &copy, &build, trees::TARGET),
        )?;
        Ok(state.details(replan_outcome("plan-replan", r, 10.0)))
    })
}

/// Puts the edited `CMakeLists.txt` back however the scenario ends.
struct Restore<'a>(&'a trees::EditTarget);

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        let _ = self.0.restore();
    }
}

fn plan_replan_cmakelists(ctx: &mut Ctx) -> anyhow::Result<Outcome> {
    let n = ctx.iters(40, 20);
    let base_runs = ctx.iters(3, 1);
    let quick = ctx.quick();
    with_shared(|shared| {
        let state = shared.tree(quick)?;
        let (copy, build) = state.configured()?;
        let params = state.plan_params();
        let env = state.env.clone();
        let edit = state.tree.edit.clone();
        let daemon = state.warm_daemon(ctx)?;
        let _restore = Restore(&edit);
        let extra = edit.extra_source.display().to_string();
        let r = replans(
            ctx,
            daemon,
            &params,
            n,
            base_runs,
            &mut |i| {
                let (text, _) = edit.revision(i);
                std::fs::write(&edit.cmakelists, text)
                    .with_context(|| format!("cannot write {}", edit.cmakelists.display()))
            },
            &mut |i, plan| {
                let (_, added) = edit.revision(i);
                let c = plan
                    .components
                    .iter()
                    .find(|c| c.name == edit.component)
                    .with_context(|| format!("{} is not in the plan", edit.component))?;
                if c.sources.contains(&extra) != added {
                    bail!(
                        "the re-plan after revision {i} of {} does not reflect it (extra source \
                         {}listed)",
                        edit.cmakelists.display(),
                        if added { "not " } else { "" }
                    );
                }
                Ok(())
            },
            &mut || standin::cmake_configure(&env, &copy, &build, trees::TARGET),
        )?;
        let local = in_process_replans(&params, &edit, n)?;
        let with_changes = Samples::from_nanos(local.with_changes);
        let plain = Samples::from_nanos(local.plain);
        Ok(state
            .details(replan_outcome("plan-replan-cmakelists", r, 15.0))
            .figure(
                Figure::time(
                    "with_changes_median",
                    Unit::Millis,
                    with_changes.median(),
                    // Side by side: a plain re-plan in the same process, which stats every input.
                    Some(plain.median()),
                )
                .goal(Goal::AtMost(5.0)),
            )
            .detail("with_changes", with_changes.summary_json())
            .detail("in_process_plan", plain.summary_json())
            .note(format!(
                "plan-replan-cmakelists: in the bench's own process, without socket or JSON: \
                 Planner::plan_with_changes told the edited file {:.1} ms, Planner::plan {:.1} ms \
                 (medians)",
                Unit::Millis.from_nanos(with_changes.median()),
                Unit::Millis.from_nanos(plain.median())
            ))
            .detail("edited_component", edit.component.clone()))
    })
}

/// What [`in_process_replans`] measured.
struct LocalReplans {
    with_changes: Vec<u64>,
    plain: Vec<u64>,
}

/// The same edits planned by a planner in this process: `n` times by
/// `Planner::plan_with_changes` told the edited file (the file watcher's entry point), then `n`
/// times by `Planner::plan`. Each plan is checked against the edit.
fn in_process_replans(
    params: &BuildPlanParams,
    edit: &trees::EditTarget,
    n: usize,
) -> anyhow::Result<LocalReplans> {
    use espctld::project::planner::{PlanContext, Planner};
    let history = |_: &Path, _: &str, _: espctl_protocol::plan::Profile| None;
    let ctx = PlanContext {
        home: None,
        idf_paths: Vec::new(),
        default_idf_version: None,
        history: &history,
        ccache: false,
        sandbox: ("none".into(), None),
    };
    let planner = Planner::new();
    let plan_err = |e: espctld::error::DaemonError| anyhow::anyhow!("plan: {}", e.message);
    planner.plan(params, &ctx).map_err(plan_err)?;
    let extra = edit.extra_source.display().to_string();
    let changed = [edit.cmakelists.clone()];
    let mut with_changes = Vec::with_capacity(n);
    let mut plain = Vec::with_capacity(n);
    for i in 0..2 * n {
        // Revisions the daemon's loop did not write, so each one is a change.
        let rev = 1_000 + i;
        let (text, added) = edit.revision(rev);
        std::fs::write(&edit.cmakelists, text)
            .with_context(|| format!("cannot write {}", edit.cmakelists.display()))?;
        let start = Instant::now();
        let plan = if i < n {
            planner.plan_with_changes(params, &ctx, &changed)
        } else {
            planner.plan(params, &ctx)
        }
        .map_err(plan_err)?;
        let took = nanos(start.elapsed());
        if i < n {
            with_changes.push(took);
        } else {
            plain.push(took);
        }
        check_plan(&plan)?;
        let c = plan
            .components
            .iter()
            .find(|c| c.name == edit.component)
            .with_context(|| format!("{} is not in the plan", edit.component))?;
        if c.sources.contains(&extra) != added {
            bail!("the in-process re-plan after revision {rev} does not reflect it");
        }
    }
    Ok(LocalReplans {
        with_changes,
        plain,
    })
}

fn clean_plan_20k(ctx: &mut Ctx) -> anyhow::Result<Outcome> {
    let runs = ctx.iters(7, 3);
    let quick = ctx.quick();
    with_shared(|shared| {
        if shared.large.is_none() {
            let standin = standin::standin_idf()?;
            let env = IdfEnv::from_export(&standin)?;
            let n = if quick {
                LARGE_SOURCES_QUICK
            } else {
                LARGE_SOURCES_FULL
            };
            eprintln!(
                "  clean-plan-20k: building an ESP-IDF project of {n} sources with the stand-in \
                 (real CMake and Ninja){}",
                if quick { "" } else { "; this takes minutes" }
            );
            let start = Instant::now();
            let project = trees::large_project(&shared.root.path().join("large"), n)?;
            let build = project.project.join("build");
            standin::cmake_configure(&env, &project.project, &build, trees::TARGET)?;
            standin::ninja_build(&env, &build)?;
            let files = standin::count_files(&build);
            shared.large = Some(LargeState {
                project,
                build,
                env,
                files,
                built_in: start.elapsed(),
            });
        }
        let large = shared.large.as_ref().expect("just set");
        let daemon = BenchDaemon::start(&ctx.opts.bins)?;
        let params = CleanPlanParams {
            path: large.project.project.display().to_string(),
            scope: CleanScope::Clean,
            profile: None,
            params: Default::default(),
            env: large.env.forwarded(),
        };
        let client = ctx.rt.block_on(ws_client(daemon.socket()))?;
        // One untimed run of each first: both then find build.ninja and the tree in the page cache.
        let plan = ctx.rt.block_on(get_clean_plan(&client, &params))?;
        let (_, listed) = standin::ninja_clean_dry_run(&large.build)?;
        let mut ours = Vec::with_capacity(runs);
        let mut base = Vec::with_capacity(runs);
        for _ in 0..runs {
            let start = Instant::now();
            let p = ctx.rt.block_on(get_clean_plan(&client, &params))?;
            ours.push(nanos(start.elapsed()));
            if p.would_delete.len() != plan.would_delete.len() {
                bail!("two clean plans of the same build directory differ");
            }
            base.push(nanos(standin::ninja_clean_dry_run(&large.build)?.0));
        }
        let (only_plan, only_ninja, ninja_unique) =
            compare_clean(&plan, &large.project.project, &large.build, &listed);
        let ours = Samples::from_nanos(ours);
        let base = Samples::from_nanos(base);
        let base_ms = Unit::Millis.from_nanos(base.median());
        let mut outcome = Outcome::default()
            .figure(
                Figure::time("median", Unit::Millis, ours.median(), Some(base.median()))
                    .goal(Goal::AtMost(base_ms)),
            )
            .detail("runs", runs)
            .detail("build_dir_files", large.files)
            .detail("project_sources", large.project.sources)
            .detail("project_components", large.project.components)
            .detail("build_seconds", large.built_in.as_secs_f64())
            .detail("would_delete", plan.would_delete.len())
            .detail("total_files", plan.total_files)
            .detail("total_bytes", plan.total_bytes)
            .detail("ninja_listed", listed.len())
            .detail("ninja_listed_unique", ninja_unique)
            .detail("only_in_plan", only_plan.clone())
            .detail("only_in_ninja", only_ninja.clone())
            .detail("ours", ours.summary_json())
            .detail("baseline", base.summary_json())
            .note(format!(
                "clean-plan-20k: build directory of {} files; the plan deletes {} paths ({} files), \
                 ninja -n -t clean lists {} ({ninja_unique} different files: it names some under \
                 an absolute and a relative path)",
                large.files,
                plan.would_delete.len(),
                plan.total_files,
                listed.len()
            ));
        if !only_plan.is_empty() || !only_ninja.is_empty() {
            let first = |v: &[String]| v[..v.len().min(3)].join(", ");
            outcome = outcome.note(format!(
                "clean-plan-20k: {} paths only in the plan (CMake's additional clean files are \
                 expected there; first: {}), {} only in ninja's list (first: {})",
                only_plan.len(),
                first(&only_plan),
                only_ninja.len(),
                first(&only_ninja)
            ));
        }
        Ok(outcome)
    })
}

/// The paths only the clean plan lists and those only Ninja lists, both as absolute paths (the
/// plan's are relative to the project, Ninja's to the build directory, directories end with `/`),
/// and the number of different paths Ninja lists.
fn compare_clean(
    plan: &CleanPlan,
    project: &Path,
    build: &Path,
    ninja: &[String],
) -> (Vec<String>, Vec<String>, usize) {
    let abs = |base: &Path, p: &str| -> String {
        let p = p.trim_end_matches('/');
        if Path::new(p).is_absolute() {
            p.to_string()
        } else {
            base.join(p).display().to_string()
        }
    };
    let ours: BTreeSet<String> = plan.would_delete.iter().map(|p| abs(project, p)).collect();
    let theirs: BTreeSet<String> = ninja.iter().map(|p| abs(build, p)).collect();
    (
        ours.difference(&theirs).cloned().collect(),
        theirs.difference(&ours).cloned().collect(),
        theirs.len(),
    )
}
