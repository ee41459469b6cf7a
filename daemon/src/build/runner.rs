//! Running builds: `build.start` and `set_target.run` as daemon tasks.
//!
//! A build executes exactly the `command_pipeline` that `generate_build_plan` returns for the same
//! inputs: the plan is computed first, then each step runs in order. Process steps run through
//! [`crate::proc`] (their own process group, PDEATHSIG) in the activated ESP-IDF environment, inside
//! the sandbox when there is one; `espctld:` steps are done here (fullclean, the sdkconfig rename, the
//! bundle).
//!
//! Invariants:
//! - One build per build directory at a time: later requests wait as `pending`, first come first served
//!   (a fair mutex per directory). A semaphore caps concurrent builds across projects.
//! - Cancel sends SIGINT to the step's process group (Ninja cleans up partial outputs), leaving out
//!   bubblewrap's own processes, which would end the sandbox at once; the task machinery forces
//!   SIGKILL after the grace period.
//! - Progress is monotonic within a phase; every line of every step reaches the task log in order.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use espctl_protocol::ErrorCode;
use espctl_protocol::methods::{BuildResult, StepReport};
use espctl_protocol::plan::{BuildPlan, PipelineStep};
use espctl_protocol::task::Diagnostic;
use tokio::sync::Semaphore;

use super::env::{self, Activated, EnvCache};
use super::output::{DiagnosticParser, ninja_progress, phase_of};
use crate::error::DaemonError;
use crate::proc::{SpawnRequest, Spawner};
use crate::project::{idf, pipeline};
use crate::sandbox::{self, Sandbox};
use crate::sync::LockExt;
use crate::tasks::TaskContext;

/// Shared by all builds of a daemon.
pub struct Builder {
    spawner: Spawner,
    env_cache: EnvCache,
    sandbox: OnceLock<Sandbox>,
    locks: Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>,
    slots: Arc<Semaphore>,
    pub max_concurrent: usize,
    /// `<compiler> --version` per compiler file (path, modification time, size): running it on
    /// every build would add a process start to a build with nothing to do.
    compiler_versions: Mutex<HashMap<CompilerKey, Option<String>>>,
}

type CompilerKey = (PathBuf, Option<std::time::SystemTime>, u64);

/// The default cap on concurrent builds: one per two cores.
pub fn default_max_concurrent() -> usize {
    std::thread::available_parallelism()
        .map(|n| (n.get() / 2).max(1))
        .unwrap_or(1)
}

impl Builder {
    pub fn new(max_concurrent: usize) -> std::io::Result<Builder> {
        let max_concurrent = max_concurrent.max(1);
        Ok(Builder {
            spawner: Spawner::start()?,
            env_cache: EnvCache::default(),
            sandbox: OnceLock::new(),
            locks: Mutex::new(HashMap::new()),
            slots: Arc::new(Semaphore::new(max_concurrent)),
            max_concurrent,
            compiler_versions: Mutex::new(HashMap::new()),
        })
    }

    /// The sandbox builds use here (detected once).
    pub fn sandbox(&self) -> &Sandbox {
        self.sandbox.get_or_init(|| sandbox::detect(None))
    }

    /// Whether a build holds `build_dir` right now (what a file watcher needs to tell the
    /// build's own writes, such as the configure's sdkconfig, from the user's).
    pub fn building(&self, build_dir: &Path) -> bool {
        let key = std::fs::canonicalize(build_dir).unwrap_or_else(|_| build_dir.to_path_buf());
        self.locks
            .locked()
            .get(&key)
            .is_some_and(|lock| lock.try_lock().is_err())
    }

    /// The first line of `<compiler> --version`, run once per compiler file.
    fn compiler_version(&self, compiler: &Path, env: &BTreeMap<String, String>) -> Option<String> {
        let meta = std::fs::metadata(compiler).ok()?;
        let key = (compiler.to_path_buf(), meta.modified().ok(), meta.len());
        if let Some(v) = self.compiler_versions.locked().get(&key) {
            return v.clone();
        }
        let version = super::sbom::compiler_version(compiler, env);
        self.compiler_versions.locked().insert(key, version.clone());
        version
    }

    fn dir_lock(&self, build_dir: &Path) -> Arc<tokio::sync::Mutex<()>> {
        let key = std::fs::canonicalize(build_dir).unwrap_or_else(|_| build_dir.to_path_buf());
        self.locks.locked().entry(key).or_default().clone()
    }
}

/// Why a plan cannot be built: its first error, or a missing ESP-IDF.
pub fn refuse_unbuildable(plan: &BuildPlan) -> Result<(), DaemonError> {
    if let Some(e) = plan.errors.first() {
        let at = match (&e.file, e.line) {
            (Some(f), Some(l)) => format!("{f}:{l}: "),
            (Some(f), None) => format!("{f}: "),
            _ => String::new(),
        };
        let more = if plan.errors.len() > 1 {
            format!(" (and {} more)", plan.errors.len() - 1)
        } else {
            String::new()
        };
        return Err(
            DaemonError::new(ErrorCode::Config, format!("{at}{}{more}", e.message))
                .with_hint("`espctl plan` shows every problem the plan found"),
        );
    }
    if let Some(problem) = &plan.idf_version_resolved.problem {
        return Err(DaemonError::new(
            ErrorCode::Config,
            format!("cannot build {}: {problem}", plan.project_name),
        )
        .with_hint("`espctl build --local` (or `espctl plan`) shows what the build would do without ESP-IDF"));
    }
    Ok(())
}

/// What a build task needs besides the plan.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    pub plan: BuildPlan,
    pub caller_env: BTreeMap<String, String>,
    pub sbom: bool,
    pub keep_elf: bool,
    pub network: bool,
    /// `idf_version` param: written to `.idf-version` when the project has none.
    pub pin_idf_version: Option<String>,
    /// The release profile's overlay file, written before configuring.
    pub release_overlay: Option<PathBuf>,
    /// Record the target as the project's default (set_target.run).
    pub record_default_target: bool,
}

/// Progress and phase, kept monotonic within a phase.
struct ProgressTracker {
    phase: String,
    progress: f64,
}

/// The order phases come in; a build's phase only moves forward.
const PHASE_ORDER: [&str; 8] = [
    "queued",
    "cleaning",
    "cmake-configure",
    "compiling",
    "linking",
    "generating-binaries",
    "bundling",
    "done",
];

fn phase_rank(p: &str) -> usize {
    PHASE_ORDER.iter().position(|x| *x == p).unwrap_or(0)
}

impl ProgressTracker {
    fn update(&mut self, ctx: &TaskContext, phase: &str, progress: f64) {
        // A sub-build (the bootloader) links and makes binaries while the app still compiles: the
        // phase shown never goes back, only the progress moves.
        let phase = if phase_rank(phase) < phase_rank(&self.phase) && phase != "cleaning" {
            self.phase.clone()
        } else {
            phase.to_string()
        };
        let phase = phase.as_str();
        if phase != self.phase {
            self.phase = phase.to_string();
            self.progress = progress;
            ctx.progress(progress, phase);
        } else if progress > self.progress + 0.0001 {
            self.progress = progress;
            ctx.progress(progress, phase);
        }
    }
}

/// Runs a build (or set-target) task to its end.
pub async fn run(
    builder: Arc<Builder>,
    ctx: TaskContext,
    req: BuildRequest,
) -> Result<serde_json::Value, DaemonError> {
    let plan = &req.plan;
    let build_dir = PathBuf::from(&plan.build_dir);
    let project_dir = PathBuf::from(&plan.project_dir);
    ctx.progress(0.0, "queued");
    ctx.log(&format!(
        "espctld: {} for {} ({} profile) in {}",
        plan.project_name,
        plan.target,
        plan.profile.as_str(),
        build_dir.display()
    ));

    // Queue: this build dir first (FIFO), then a slot.
    let lock = builder.dir_lock(&build_dir);
    let _dir_guard = tokio::select! {
        g = lock.lock_owned() => g,
        _ = ctx.cancel.cancelled() => return Err(DaemonError::new(ErrorCode::Runtime, "canceled while queued")),
    };
    let _slot = tokio::select! {
        s = builder.slots.clone().acquire_owned() => s.map_err(|_| DaemonError::internal("build slots closed"))?,
        _ = ctx.cancel.cancelled() => return Err(DaemonError::new(ErrorCode::Runtime, "canceled while queued")),
    };
    ctx.set_running();
    let started = Instant::now();

    // The IDF environment and the tools.
    let idf_path = plan
        .idf_version_resolved
        .idf_path
        .as_ref()
        .map(PathBuf::from);
    let activated: Arc<Activated> = match &idf_path {
        Some(p) => {
            let install = idf::Install {
                path: p.clone(),
                version: idf::read_version(p),
                found_via: "plan",
                activation_script: None,
                tools_path: req.caller_env.get("IDF_TOOLS_PATH").map(PathBuf::from),
            };
            let caller = req.caller_env.clone();
            let b = builder.clone();
            ctx.log(&format!(
                "espctld: activating ESP-IDF {} ({})",
                plan.idf_version_resolved.version.as_deref().unwrap_or("?"),
                p.display()
            ));
            tokio::task::spawn_blocking(move || b.env_cache.activate(&install, &caller))
                .await
                .map_err(|e| DaemonError::internal(format!("activation stopped: {e}")))??
        }
        None => Arc::new(Activated {
            vars: env::base_env(&req.caller_env),
            via: "caller environment".into(),
        }),
    };
    let mut tools_note = String::new();
    if plan.recipe_id == "idf-cmake" {
        let needs_ninja = plan
            .command_pipeline
            .iter()
            .any(|s| s.argv.first().is_some_and(|a| a == "ninja"));
        let tools = env::check_tools(
            &activated.vars,
            idf_path.as_deref(),
            &plan.target,
            needs_ninja,
        )?;
        tools_note = format!(
            "cmake {}, ninja {}, compiler {}",
            tools.cmake.display(),
            tools.ninja.display(),
            tools.compiler.display()
        );
    } else if env::which("make", &activated.vars).is_none() {
        return Err(DaemonError::new(
            ErrorCode::Config,
            "make was not found on the build environment's PATH",
        )
        .with_hint("install GNU make"));
    }
    if !tools_note.is_empty() {
        ctx.log(&format!("espctld: tools: {tools_note}"));
    }

    let sandbox = builder.sandbox().clone();
    match &sandbox {
        Sandbox::Bubblewrap { version, .. } => ctx.log(&format!("espctld: sandbox: {version}")),
        Sandbox::Unsandboxed { reason } => ctx.log(&format!("espctld: not sandboxed: {reason}")),
    }
    if let Some(pin) = &req.pin_idf_version {
        let file = project_dir.join(".idf-version");
        if !file.exists() {
            std::fs::write(&file, format!("{pin}\n")).map_err(|e| {
                DaemonError::new(
                    ErrorCode::Runtime,
                    format!("cannot write {}: {e}", file.display()),
                )
            })?;
            ctx.log(&format!("espctld: wrote {} ({pin})", file.display()));
        }
    }

    let mut spec = sandbox::Spec {
        writable: vec![project_dir.clone(), build_dir.clone()],
        readonly: Vec::new(),
        network: req.network,
        cwd: project_dir.clone(),
    };
    if let Some(ccache_dir) = activated
        .vars
        .get("CCACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            activated
                .vars
                .get("HOME")
                .map(|h| PathBuf::from(h).join(".cache/ccache"))
        })
    {
        let _ = std::fs::create_dir_all(&ccache_dir);
        spec.writable.push(ccache_dir);
    }
    if let Some(idf) = &idf_path {
        spec.readonly.push(idf.clone());
    }
    for var in ["IDF_TOOLS_PATH", "IDF_PYTHON_ENV_PATH"] {
        if let Some(v) = activated.vars.get(var) {
            spec.readonly.push(PathBuf::from(v));
        }
    }
    // Components that live outside the project and the IDF (EXTRA_COMPONENT_DIRS elsewhere, and
    // the copies they shadow, which CMake still reads) stay readable too: without them a project
    // under /tmp would lose its shared components behind the private /tmp.
    let inside_known = |dir: &Path| {
        dir.starts_with(&project_dir) || idf_path.as_ref().is_some_and(|i| dir.starts_with(i))
    };
    for c in &plan.components {
        for dir in std::iter::once(&c.dir).chain(&c.shadowed) {
            // Component dirs may be spelled with `..` (EXTRA_COMPONENT_DIRS relative to the
            // project): compare and bind the real path.
            let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| PathBuf::from(dir));
            if !inside_known(&dir) && !spec.readonly.contains(&dir) {
                spec.readonly.push(dir);
            }
        }
    }
    // Every PATH entry stays readable (toolchains unpacked under /tmp, for example).
    if let Some(path) = activated.vars.get("PATH") {
        spec.readonly
            .extend(std::env::split_paths(path).filter(|p| p.starts_with("/tmp")));
    }

    let mut parser = DiagnosticParser::default();
    let components: Vec<(String, PathBuf)> = plan
        .components
        .iter()
        .map(|c| (c.name.clone(), PathBuf::from(&c.dir)))
        .collect();
    let mut tracker = ProgressTracker {
        phase: "queued".into(),
        progress: 0.0,
    };
    let mut reports = Vec::new();
    let mut bundle: Option<(PathBuf, u64, espctl_protocol::bundle::Manifest)> = None;
    for step in &plan.command_pipeline {
        let step_started = Instant::now();
        ctx.log(&format!("espctld: step {}: {}", step.name, step.reason));
        ctx.log(&format!("espctld: $ {}", step.argv.join(" ")));
        match step.argv.first().map(String::as_str) {
            Some(pipeline::FULLCLEAN) => {
                tracker.update(&ctx, "cleaning", 0.0);
                fullclean(&project_dir, &build_dir, &ctx)?;
            }
            Some(pipeline::RENAME) => {
                let (from, to) = (&step.argv[1], &step.argv[2]);
                std::fs::rename(from, to).map_err(|e| {
                    DaemonError::new(
                        ErrorCode::Runtime,
                        format!("cannot rename {from} to {to}: {e}"),
                    )
                })?;
                ctx.log(&format!("espctld: renamed {from} to {to}"));
            }
            Some(pipeline::BUNDLE) => {
                tracker.update(&ctx, "bundling", 0.0);
                let flasher = crate::project::metadata::read_flasher_args(&build_dir)
                    .map_err(|e| DaemonError::new(ErrorCode::Runtime, e))?;
                let who = super::bundle::Provenance {
                    project: plan.project_name.clone(),
                    task_id: ctx.id.to_string(),
                    idf_version: plan
                        .idf_version_resolved
                        .version
                        .clone()
                        .unwrap_or_else(|| "unknown".into()),
                    target: plan.target.clone(),
                    project_dir: project_dir.clone(),
                };
                let b = tokio::task::spawn_blocking({
                    let build_dir = build_dir.clone();
                    move || super::bundle::write_idf_bundle(&build_dir, &flasher, &who)
                })
                .await
                .map_err(|e| DaemonError::internal(format!("bundling stopped: {e}")))??;
                ctx.log(&format!("espctld: wrote {} ({} bytes)", b.0.display(), b.1));
                tracker.update(&ctx, "bundling", 1.0);
                bundle = Some(b);
            }
            Some(program) if program.starts_with("espctld:") => {
                return Err(DaemonError::internal(format!(
                    "unknown internal step {program}"
                )));
            }
            Some(_) => {
                if step.name == "cmake-configure" {
                    tracker.update(&ctx, "cmake-configure", 0.0);
                    if let Some(overlay) = &req.release_overlay {
                        write_release_overlay(overlay)?;
                    }
                }
                let code = run_process(
                    &builder,
                    &ctx,
                    step,
                    &activated,
                    &sandbox,
                    &spec,
                    &mut parser,
                    &components,
                    &project_dir,
                    &plan.project_name,
                    &mut tracker,
                )
                .await?;
                if code != 0 {
                    let diagnostics = parser_snapshot(&parser, &components, &build_dir);
                    ctx.set_diagnostics(diagnostics.clone());
                    let first = diagnostics.iter().find(|d| d.severity == "error");
                    let message = match first {
                        Some(d) => format!(
                            "{}{}",
                            d.file
                                .as_ref()
                                .map(|f| format!(
                                    "{f}:{}: ",
                                    d.line.map(|l| l.to_string()).unwrap_or_default()
                                ))
                                .unwrap_or_default(),
                            d.message
                        ),
                        None => format!("{} failed with exit code {code}", step.name),
                    };
                    return Err(DaemonError::new(ErrorCode::Runtime, message)
                        .with_hint(format!("`espctl logs {}` shows the whole log", ctx.id)));
                }
            }
            None => {
                return Err(DaemonError::internal(format!(
                    "step {} has no argv",
                    step.name
                )));
            }
        }
        reports.push(StepReport {
            name: step.name.clone(),
            duration_secs: step_started.elapsed().as_secs_f64(),
        });
    }
    let diagnostics = parser_snapshot(&parser, &components, &build_dir);
    if !diagnostics.is_empty() {
        ctx.set_diagnostics(diagnostics);
    }

    // After a successful build: what it made, and what was asked to keep.
    let artifacts = existing_artifacts(&build_dir, &plan.project_name);
    // The compiler the build used, recorded so that an SBOM made later names the same toolchain.
    let compiler = env::cross_compiler(idf_path.as_deref(), &plan.target);
    let compiler_version = match env::which(&compiler, &activated.vars) {
        Some(c) => {
            let b = builder.clone();
            let vars = activated.vars.clone();
            tokio::task::spawn_blocking(move || b.compiler_version(&c, &vars))
                .await
                .ok()
                .flatten()
        }
        None => None,
    };
    let mut retained_elf = None;
    if req.keep_elf {
        let elf = app_elf(&build_dir, &plan.project_name);
        let dir = ctx.artifacts_dir();
        std::fs::create_dir_all(&dir).map_err(|e| {
            DaemonError::new(
                ErrorCode::Runtime,
                format!("cannot create {}: {e}", dir.display()),
            )
        })?;
        let dest = dir.join(elf.file_name().unwrap_or_default());
        std::fs::copy(&elf, &dest).map_err(|e| {
            DaemonError::new(
                ErrorCode::Runtime,
                format!("cannot keep {}: {e}", elf.display()),
            )
        })?;
        ctx.log(&format!(
            "espctld: kept {} as {}",
            elf.display(),
            dest.display()
        ));
        retained_elf = Some(dest.display().to_string());
    }
    if req.record_default_target {
        crate::project::config::set_default_target(&project_dir, &plan.target)
            .map_err(|e| DaemonError::new(e.code(), e.to_string()))?;
        ctx.log(&format!(
            "espctld: recorded default_target = {} in .espctl.toml",
            plan.target
        ));
    }
    let duration = started.elapsed().as_secs_f64();
    let mut result = BuildResult {
        project_dir: plan.project_dir.clone(),
        project_name: plan.project_name.clone(),
        target: plan.target.clone(),
        profile: plan.profile,
        build_dir: plan.build_dir.clone(),
        idf_version: plan
            .idf_version_resolved
            .version
            .clone()
            .unwrap_or_else(|| "unknown".into()),
        idf_path: plan.idf_version_resolved.idf_path.clone(),
        recipe_id: plan.recipe_id.clone(),
        artifacts,
        bundle_path: bundle.as_ref().map(|b| b.0.display().to_string()),
        bundle_size_bytes: bundle.as_ref().map(|b| b.1),
        manifest: bundle.map(|b| b.2),
        sbom_path: None,
        retained_elf,
        sandbox: sandbox.name().to_string(),
        compiler: Some(compiler),
        compiler_version,
        duration_secs: duration,
        steps: reports,
    };
    if req.sbom {
        let (path, _) = write_sbom(&result, ctx.id.as_str())?;
        ctx.log(&format!("espctld: wrote {path}"));
        result.sbom_path = Some(path);
    }
    serde_json::to_value(result)
        .map_err(|e| DaemonError::internal(format!("cannot encode the result: {e}")))
}

fn parser_snapshot(
    parser: &DiagnosticParser,
    components: &[(String, PathBuf)],
    cwd: &Path,
) -> Vec<Diagnostic> {
    parser.snapshot(components, cwd)
}

#[allow(clippy::too_many_arguments)]
async fn run_process(
    builder: &Builder,
    ctx: &TaskContext,
    step: &PipelineStep,
    activated: &Activated,
    sandbox: &Sandbox,
    spec: &sandbox::Spec,
    parser: &mut DiagnosticParser,
    components: &[(String, PathBuf)],
    project_dir: &Path,
    project_name: &str,
    tracker: &mut ProgressTracker,
) -> Result<i32, DaemonError> {
    let mut env = activated.vars.clone();
    env.extend(step.env.clone());
    // Make tools print plainly: no colours or progress rewriting into the log.
    env.insert("TERM".into(), "dumb".into());
    env.entry("NINJA_STATUS".into())
        .or_insert_with(|| "[%f/%t] ".into());
    let mut step_spec = spec.clone();
    step_spec.cwd = PathBuf::from(&step.cwd);
    let argv = sandbox::wrap(sandbox, &step_spec, &step.argv);
    let spawned = builder
        .spawner
        .spawn(SpawnRequest {
            argv,
            cwd: PathBuf::from(&step.cwd),
            env,
        })
        .await
        .map_err(|e| {
            DaemonError::new(
                if e.kind() == std::io::ErrorKind::NotFound {
                    ErrorCode::Config
                } else {
                    ErrorCode::Runtime
                },
                format!("cannot start {}: {e}", step.argv[0]),
            )
        })?;
    ctx.set_process_group(Some(spawned.group));
    let group = spawned.group;
    let (output, waiter) = spawned.into_parts();
    let is_configure = step.name == "cmake-configure";
    let app_elf_name = format!("{project_name}.elf");
    let is_make = step.argv.first().is_some_and(|a| a == "make");
    let mut published = 0usize;
    let reader = crate::proc::read_lines(output, |lines| {
        ctx.log_lines(lines);
        for line in lines {
            parser.feed(line);
            if is_configure {
                continue;
            }
            let phase = match phase_of(line) {
                // Only the app's own link and image count; sub-builds have their own.
                Some("linking") if !line.contains(&app_elf_name) => "compiling",
                Some(p) => p,
                None => "compiling",
            };
            if let Some((n, m)) = ninja_progress(line).filter(|(_, m)| *m > 0) {
                tracker.update(ctx, phase, n as f64 / m as f64);
            } else if is_make && phase != "compiling" {
                tracker.update(ctx, phase, tracker.progress);
            }
        }
        if parser.diagnostics.len() != published {
            published = parser.diagnostics.len();
            ctx.set_diagnostics(parser_snapshot(parser, components, project_dir));
        }
    });
    let waiting = waiter.wait();
    tokio::pin!(waiting);
    let reader = reader;
    tokio::pin!(reader);
    let mut reader_done = false;
    let mut interrupted = false;
    let status = loop {
        tokio::select! {
            status = &mut waiting => break status,
            _ = ctx.cancel.cancelled(), if !interrupted => {
                interrupted = true;
                ctx.log("espctld: cancel requested: interrupting the step (SIGINT)");
                interrupt(sandbox, group);
            }
            r = &mut reader, if !reader_done => {
                reader_done = true;
                if let Err(e) = r {
                    tracing::warn!("reading build output: {e}");
                }
            }
        }
    };
    // Output written just before exit: give the reader a moment to drain it (a grandchild that
    // keeps the pipe open must not hold the build up).
    if !reader_done {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), &mut reader).await;
    }
    ctx.set_process_group(None);
    let status = status.map_err(|e| {
        DaemonError::new(
            ErrorCode::Runtime,
            format!("waiting for {}: {e}", step.name),
        )
    })?;
    if interrupted {
        // The task machinery tells a canceled task from a failed one by which it sees first, the
        // cancel or the end of the work. Give it one turn to see the cancel (which came first)
        // before this error ends the work.
        tokio::task::yield_now().await;
        return Err(DaemonError::new(
            ErrorCode::Runtime,
            format!("{} was interrupted", step.name),
        ));
    }
    Ok(status
        .code()
        .unwrap_or(128 + std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0)))
}

/// Interrupts a running step as Ctrl-C in a terminal does: SIGINT to every process of its group.
///
/// Inside bubblewrap, the sandbox's own processes are left out. bubblewrap does not forward signals:
/// an interrupted bwrap exits, and the sandbox's pid namespace, everything in it, ends with it at
/// once, so Ninja would never stop its jobs and remove their partial outputs. While only bubblewrap
/// runs (the step's program has not started yet) there is nothing to clean up, and the whole group
/// is interrupted.
fn interrupt(sandbox: &Sandbox, group: crate::store::ProcessGroupRecord) {
    #[cfg(target_os = "linux")]
    if let Sandbox::Bubblewrap { bwrap, .. } = sandbox {
        // The kernel keeps the first 15 bytes of a command's name.
        let name = bwrap
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = &name.as_bytes()[..name.len().min(15)];
        let signalled =
            crate::proc::signal_members(group, nix::sys::signal::Signal::SIGINT, |_, comm| {
                comm.as_bytes() == name
            });
        if signalled > 0 {
            return;
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = sandbox;
    crate::proc::signal_group(group, nix::sys::signal::Signal::SIGINT);
}

fn fullclean(project_dir: &Path, build_dir: &Path, ctx: &TaskContext) -> Result<(), DaemonError> {
    if !build_dir.exists() {
        ctx.log("espctld: nothing to clean: the build directory does not exist");
        return Ok(());
    }
    let plan = crate::project::clean::clean_plan(
        project_dir,
        build_dir,
        espctl_protocol::plan::CleanScope::Fullclean,
    )?;
    let report = crate::project::clean::delete_plan(project_dir, build_dir, &plan)?;
    ctx.log(&format!(
        "espctld: fullclean deleted {} entries ({} files)",
        report.deleted.len(),
        report.files_deleted
    ));
    Ok(())
}

fn write_release_overlay(path: &Path) -> Result<(), DaemonError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| {
            DaemonError::new(
                ErrorCode::Runtime,
                format!("cannot create {}: {e}", dir.display()),
            )
        })?;
    }
    std::fs::write(path, crate::project::planner::RELEASE_OVERLAY).map_err(|e| {
        DaemonError::new(
            ErrorCode::Runtime,
            format!("cannot write {}: {e}", path.display()),
        )
    })
}

/// The app ELF: from project_description.json, else `<build>/<project>.elf`.
fn app_elf(build_dir: &Path, project: &str) -> PathBuf {
    crate::project::metadata::read_project_description(build_dir)
        .and_then(|d| d.app_elf)
        .map(|e| build_dir.join(e))
        .unwrap_or_else(|| build_dir.join(format!("{project}.elf")))
}

/// The artifacts a finished build left: ELF, .bin files, map, metadata.
fn existing_artifacts(build_dir: &Path, project: &str) -> Vec<String> {
    let mut out = Vec::new();
    let elf = app_elf(build_dir, project);
    let candidates = [
        elf.clone(),
        elf.with_extension("bin"),
        elf.with_extension("map"),
        build_dir.join("bootloader/bootloader.bin"),
        build_dir.join("partition_table/partition-table.bin"),
        build_dir.join("flasher_args.json"),
        build_dir.join("project_description.json"),
        build_dir.join("flash_bundle.tar.gz"),
    ];
    for c in candidates {
        if c.exists() {
            out.push(c.display().to_string());
        }
    }
    out
}

/// Writes `<build_dir>/sbom.spdx` for a finished build (the `--sbom` option and `sbom.create`):
/// returns its path and how many packages it lists.
pub fn write_sbom(result: &BuildResult, unique: &str) -> Result<(String, u32), DaemonError> {
    let build_dir = PathBuf::from(&result.build_dir);
    let description =
        crate::project::metadata::read_project_description(&build_dir).ok_or_else(|| {
            DaemonError::new(
                ErrorCode::Runtime,
                format!("{} has no project_description.json", build_dir.display()),
            )
            .with_hint("build the project again, then create the SBOM")
        })?;
    let idf_path = result.idf_path.as_deref().map(Path::new);
    let compiler = result
        .compiler
        .clone()
        .unwrap_or_else(|| env::cross_compiler(idf_path, &result.target));
    let text = super::sbom::render(&super::sbom::SbomInputs {
        project_dir: Path::new(&result.project_dir),
        description: &description,
        idf_version: &result.idf_version,
        idf_path,
        toolchain: (&compiler, result.compiler_version.clone()),
        unique,
    });
    let packages = text
        .lines()
        .filter(|l| l.starts_with("PackageName:"))
        .count() as u32;
    let path = build_dir.join("sbom.spdx");
    let tmp = build_dir.join(".sbom.spdx.tmp");
    std::fs::write(&tmp, text)
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|e| {
            DaemonError::new(
                ErrorCode::Runtime,
                format!("cannot write {}: {e}", path.display()),
            )
        })?;
    Ok((path.display().to_string(), packages))
}
