//! The JSON-RPC surface: one handler per catalog method, registered from the catalog.
//!
//! Invariants:
//! - [`build_module`] walks `espctl_protocol::catalog()` and registers exactly one handler per entry
//!   (plus its aliases); a catalog entry without a handler is a startup panic caught by the tests, and
//!   nothing outside the catalog is registered.
//! - Params are parsed by name into the method's params type; a parse failure is `-32602 Invalid params`
//!   with serde's message. Every other error is a [`DaemonError`] converted in `error.rs`.

use std::future::Future;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use espctl_protocol::catalog::{MethodKind, catalog};
use espctl_protocol::log::{LogChunk, SubscriptionEnded};
use espctl_protocol::methods::{self as m, Method};
use espctl_protocol::task::{TaskId, TaskInfo, TaskKind, TaskStatus};
use espctl_protocol::{ErrorCode, PROTOCOL_VERSION};
use jsonrpsee::core::server::SubscriptionCloseResponse;
use jsonrpsee::types::{ErrorObjectOwned, Params};
use jsonrpsee::{PendingSubscriptionSink, RpcModule, SubscriptionMessage, SubscriptionSink};
use serde_json::value::RawValue;
use tokio::sync::broadcast::error::RecvError;

use crate::bundle;
use crate::error::DaemonError;
use crate::server::Daemon;
use crate::sync::LockExt;

/// Lines per `build.log` notification and the default/maximum of `build.log_read`.
const LOG_CHUNK_LINES: u64 = 1000;
const LOG_READ_MAX: u64 = 10_000;

/// Builds the module serving every catalog method.
pub fn build_module(daemon: Arc<Daemon>) -> RpcModule<Daemon> {
    let mut module = RpcModule::from_arc(daemon);
    for spec in catalog() {
        match spec.name {
            m::DaemonInfo::NAME => call::<m::DaemonInfo, _, _>(&mut module, daemon_info),
            m::DaemonShutdown::NAME => {
                call::<m::DaemonShutdown, _, _>(&mut module, daemon_shutdown)
            }
            m::TaskList::NAME => call::<m::TaskList, _, _>(&mut module, task_list),
            m::BuildStatus::NAME => call_now::<m::BuildStatus, _>(&mut module, build_status),
            m::BuildCancel::NAME => call::<m::BuildCancel, _, _>(&mut module, build_cancel),
            m::BuildLogRead::NAME => call::<m::BuildLogRead, _, _>(&mut module, build_log_read),
            m::BuildRustElf::NAME => call::<m::BuildRustElf, _, _>(&mut module, build_rust_elf),
            m::GenerateBuildPlan::NAME => {
                call::<m::GenerateBuildPlan, _, _>(&mut module, generate_build_plan)
            }
            m::GetCleanPlan::NAME => call::<m::GetCleanPlan, _, _>(&mut module, get_clean_plan),
            m::SetTarget::NAME => call::<m::SetTarget, _, _>(&mut module, set_target),
            m::BuildStart::NAME => call::<m::BuildStart, _, _>(&mut module, build_start),
            m::SetTargetRun::NAME => call::<m::SetTargetRun, _, _>(&mut module, set_target_run),
            m::SbomCreate::NAME => call::<m::SbomCreate, _, _>(&mut module, sbom_create),
            m::BuildElf::NAME => call::<m::BuildElf, _, _>(&mut module, build_elf),
            m::BuildLog::NAME => {
                subscription::<m::BuildLog, _, _>(&mut module, spec.kind, build_log)
            }
            m::TaskSubscribe::NAME => {
                subscription::<m::TaskSubscribe, _, _>(&mut module, spec.kind, task_subscribe)
            }
            m::ProjectWatch::NAME => subscription::<m::ProjectWatch, _, _>(
                &mut module,
                spec.kind,
                crate::watch::subscription::project_watch,
            ),
            other => panic!("catalog method {other} has no handler in the daemon"),
        }
        for alias in spec.aliases {
            module
                .register_alias(alias, spec.name)
                .unwrap_or_else(|e| panic!("alias {alias}: {e}"));
        }
    }
    module
}

/// Parses by-name params into `P`. Missing params and `[]` mean `{}`.
fn parse_params<P: serde::de::DeserializeOwned>(
    params: &Params<'_>,
) -> Result<P, ErrorObjectOwned> {
    let raw = params.as_str().map(str::trim).unwrap_or("");
    let text = if raw.is_empty() || raw == "null" || raw == "[]" {
        "{}"
    } else {
        raw
    };
    if text.starts_with('[') {
        return Err(ErrorObjectOwned::owned(
            jsonrpsee::types::error::INVALID_PARAMS_CODE,
            "params must be an object with named members (positional params are not supported)",
            None::<()>,
        ));
    }
    serde_json::from_str(text).map_err(|e| {
        ErrorObjectOwned::owned(
            jsonrpsee::types::error::INVALID_PARAMS_CODE,
            format!("invalid params: {e}"),
            None::<()>,
        )
    })
}

fn call<M, F, Fut>(module: &mut RpcModule<Daemon>, handler: F)
where
    M: Method,
    M::Result: Clone + 'static,
    F: Fn(Arc<Daemon>, M::Params) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<M::Result, DaemonError>> + Send + 'static,
{
    module
        .register_async_method(M::NAME, move |params, daemon, _| {
            let handler = handler.clone();
            async move {
                daemon.activity.touch();
                let params: M::Params = parse_params(&params)?;
                handler(daemon, params)
                    .await
                    .map_err(ErrorObjectOwned::from)
            }
        })
        .unwrap_or_else(|e| panic!("register {}: {e}", M::NAME));
}

/// A result already rendered as JSON text, from a value of type `T` (the method's result type).
pub struct Rendered<T> {
    json: Arc<RawValue>,
    of: PhantomData<fn() -> T>,
}

impl<T> Rendered<T> {
    /// `json` must be the serialisation of a `T`.
    pub fn of(json: Arc<RawValue>) -> Rendered<T> {
        Rendered {
            json,
            of: PhantomData,
        }
    }
}

impl<T> Clone for Rendered<T> {
    fn clone(&self) -> Self {
        Rendered::of(self.json.clone())
    }
}

impl<T> serde::Serialize for Rendered<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.json.serialize(serializer)
    }
}

/// Registers a method whose handler never waits (it reads state the daemon holds in memory). It
/// runs inline in the call, without a future of its own, and answers with JSON it has already
/// rendered.
fn call_now<M, F>(module: &mut RpcModule<Daemon>, handler: F)
where
    M: Method,
    M::Result: 'static,
    F: Fn(&Daemon, M::Params) -> Result<Rendered<M::Result>, DaemonError> + Send + Sync + 'static,
{
    module
        .register_method(M::NAME, move |params, daemon, _| {
            daemon.activity.touch();
            let params: M::Params = parse_params(&params)?;
            handler(daemon, params).map_err(ErrorObjectOwned::from)
        })
        .unwrap_or_else(|e| panic!("register {}: {e}", M::NAME));
}

fn subscription<M, F, Fut>(module: &mut RpcModule<Daemon>, kind: MethodKind, handler: F)
where
    M: Method,
    M::Params: Send,
    F: Fn(Arc<Daemon>, M::Params, PendingSubscriptionSink) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Option<String>> + Send + 'static,
{
    let MethodKind::Subscription {
        notification,
        unsubscribe,
    } = kind
    else {
        panic!("{} is not a subscription in the catalog", M::NAME)
    };
    module
        .register_subscription(
            M::NAME,
            notification,
            unsubscribe,
            move |params, pending, daemon, _| {
                let handler = handler.clone();
                async move {
                    daemon.activity.touch();
                    let ended = match parse_params::<M::Params>(&params) {
                        Ok(p) => handler(daemon, p, pending).await,
                        Err(e) => {
                            pending.reject(e).await;
                            None
                        }
                    };
                    match ended {
                        Some(reason) => {
                            SubscriptionCloseResponse::NotifErr(subscription_ended(reason))
                        }
                        None => SubscriptionCloseResponse::None,
                    }
                }
            },
        )
        .unwrap_or_else(|e| panic!("register {}: {e}", M::NAME));
}

/// The closing message of a subscription the daemon ends (see `SubscriptionEnded`).
fn subscription_ended(reason: String) -> jsonrpsee::core::SubscriptionError {
    let end = SubscriptionEnded {
        ended: true,
        reason,
    };
    match serde_json::value::to_raw_value(&end) {
        Ok(raw) => jsonrpsee::core::SubscriptionError::from_json(raw),
        Err(_) => jsonrpsee::core::SubscriptionError::from("subscription ended"),
    }
}

async fn send_json<T: serde::Serialize>(sink: &SubscriptionSink, value: &T) -> bool {
    match serde_json::value::to_raw_value(value) {
        Ok(raw) => sink.send(SubscriptionMessage::from(raw)).await.is_ok(),
        Err(e) => {
            tracing::error!("cannot serialize a notification: {e}");
            false
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Handlers

async fn daemon_info(d: Arc<Daemon>, _: m::NoParams) -> Result<m::DaemonInfoResult, DaemonError> {
    Ok(m::DaemonInfoResult {
        version: env!("CARGO_PKG_VERSION").to_string(),
        protocol_version: PROTOCOL_VERSION,
        pid: std::process::id(),
        uptime_secs: d.started.elapsed().as_secs(),
        socket: d.socket.display().to_string(),
        data_dir: d.data_dir.display().to_string(),
        methods: d.method_names.clone(),
        active_tasks: d.tasks.active_count() as u32,
        idle_timeout_secs: d.idle_timeout.as_secs(),
        socket_activated: d.socket_activated,
        watched_projects: d.watches.list(),
    })
}

async fn daemon_shutdown(
    d: Arc<Daemon>,
    _: m::NoParams,
) -> Result<m::DaemonShutdownResult, DaemonError> {
    let canceling = d.tasks.active_count() as u32;
    tracing::info!("shutdown requested over the socket");
    // Answer first; the shutdown starts right after this response is on its way.
    let token = d.shutdown.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        token.cancel();
    });
    Ok(m::DaemonShutdownResult {
        shutting_down: true,
        canceling_tasks: canceling,
    })
}

async fn task_list(d: Arc<Daemon>, p: m::TaskListParams) -> Result<m::TaskListResult, DaemonError> {
    let limit = p.limit.unwrap_or(50).clamp(1, 10_000);
    Ok(m::TaskListResult {
        tasks: d.tasks.list(&p.status, &p.kind, limit)?,
    })
}

fn build_status(d: &Daemon, p: m::TaskIdParams) -> Result<Rendered<TaskInfo>, DaemonError> {
    d.tasks.get_json(&p.task_id).map(Rendered::of)
}

async fn build_cancel(
    d: Arc<Daemon>,
    p: m::TaskIdParams,
) -> Result<m::BuildCancelResult, DaemonError> {
    let info = d.tasks.cancel(&p.task_id).await?;
    Ok(m::BuildCancelResult {
        task_id: info.task_id,
        status: info.status,
    })
}

fn chunk(
    d: &Daemon,
    id: &TaskId,
    offset: u64,
    limit: u64,
    status: TaskStatus,
) -> Result<LogChunk, DaemonError> {
    let range = d.tasks.logs().read(id, offset, limit).map_err(|e| {
        DaemonError::new(
            ErrorCode::Runtime,
            format!("cannot read the log of task {id}: {e}"),
        )
    })?;
    Ok(LogChunk {
        task_id: id.clone(),
        offset: range.offset,
        eof: status.is_final() && range.next_offset >= range.total_lines,
        lines: range.lines,
        next_offset: range.next_offset,
        total_lines: range.total_lines,
        status,
    })
}

async fn build_log_read(d: Arc<Daemon>, p: m::BuildLogReadParams) -> Result<LogChunk, DaemonError> {
    // Status first: if it is final, every line is already in the file, so `eof` is exact.
    let status = d.tasks.get(&p.task_id)?.status;
    let limit = u64::from(p.limit.unwrap_or(LOG_CHUNK_LINES as u32)).clamp(1, LOG_READ_MAX);
    let offset = match p.offset {
        Some(o) => o,
        None => {
            let total = d.tasks.logs().line_count(&p.task_id).unwrap_or(0);
            total.saturating_sub(limit)
        }
    };
    chunk(&d, &p.task_id, offset, limit, status)
}

async fn build_log(
    d: Arc<Daemon>,
    p: m::BuildLogParams,
    pending: PendingSubscriptionSink,
) -> Option<String> {
    if let Err(e) = d.tasks.get(&p.task_id) {
        pending.reject(ErrorObjectOwned::from(e)).await;
        return None;
    }
    let Ok(sink) = pending.accept().await else {
        return None;
    };
    let id = p.task_id;
    let mut offset = p.offset;
    // The first chunk is sent even when empty, so the subscriber knows the stream is live.
    let mut sent_any = false;
    loop {
        // Take the follow handle before reading so no append between the two is missed.
        let mut follow = d.tasks.logs().follow(&id);
        let status = match d.tasks.get(&id) {
            Ok(t) => t.status,
            Err(_) => return Some("the task no longer exists".into()),
        };
        loop {
            let c = match chunk(&d, &id, offset, LOG_CHUNK_LINES, status) {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!("build.log: {e}");
                    return Some(e.message);
                }
            };
            let caught_up = c.lines.is_empty() || c.next_offset >= c.total_lines;
            let eof = c.eof;
            if !c.lines.is_empty() || eof || !sent_any {
                sent_any = true;
                offset = c.next_offset;
                if !send_json(&sink, &c).await {
                    return None;
                }
            }
            if eof {
                return Some(format!("task {status}; the whole log was sent"));
            }
            if caught_up {
                break;
            }
        }
        match follow.as_mut() {
            Some(rx) => {
                tokio::select! {
                    _ = rx.changed() => {}
                    _ = sink.closed() => return None,
                }
            }
            // Not live and not final cannot last: the task is being finished right now.
            None => tokio::time::sleep(std::time::Duration::from_millis(5)).await,
        }
    }
}

async fn task_subscribe(
    d: Arc<Daemon>,
    p: m::TaskSubscribeParams,
    pending: PendingSubscriptionSink,
) -> Option<String> {
    // Subscribe to changes before reading the current state, so no change falls in between.
    let mut events = d.tasks.subscribe();
    let current = match &p.task_id {
        Some(id) => match d.tasks.get(id) {
            Ok(t) => Some(t),
            Err(e) => {
                pending.reject(ErrorObjectOwned::from(e)).await;
                return None;
            }
        },
        None => None,
    };
    let Ok(sink) = pending.accept().await else {
        return None;
    };
    if let Some(t) = current {
        let done = t.status.is_final();
        if !send_json(&sink, &t).await {
            return None;
        }
        if done {
            return Some(format!("task {}", t.status));
        }
    }
    loop {
        let event = tokio::select! {
            e = events.recv() => e,
            _ = sink.closed() => return None,
        };
        match event {
            Ok(t) => {
                if p.task_id.as_ref().is_some_and(|id| *id != t.task_id) {
                    continue;
                }
                let done = p.task_id.is_some() && t.status.is_final();
                if !send_json(&sink, &t).await {
                    return None;
                }
                if done {
                    return Some(format!("task {}", t.status));
                }
            }
            Err(RecvError::Lagged(_)) => {
                // Too slow to see every change: resend the current state of what it follows.
                let resync = match &p.task_id {
                    Some(id) => d.tasks.get(id).into_iter().collect(),
                    None => d
                        .tasks
                        .list(&[TaskStatus::Pending, TaskStatus::Running], &[], 1000)
                        .unwrap_or_default(),
                };
                for t in resync {
                    let done = p.task_id.is_some() && t.status.is_final();
                    if !send_json(&sink, &t).await {
                        return None;
                    }
                    if done {
                        return Some(format!("task {}", t.status));
                    }
                }
            }
            Err(RecvError::Closed) => return Some("the daemon is shutting down".into()),
        }
    }
}

async fn build_rust_elf(
    d: Arc<Daemon>,
    p: m::BuildRustElfParams,
) -> Result<m::BuildRustElfResult, DaemonError> {
    let target = bundle::validate_rust_target(p.target.as_deref()).map_err(bundle_error)?;
    let elf_path = PathBuf::from(&p.elf_path);
    if !elf_path.is_absolute() {
        return Err(DaemonError::invalid_input(format!(
            "elf_path `{}` is relative; the daemon needs an absolute path",
            p.elf_path
        ))
        .with_hint("pass the full path (`espctl build --rust-elf` makes it absolute for you)"));
    }
    let out_path = p.out_path.as_ref().map(PathBuf::from);
    if let Some(out) = &out_path
        && !out.is_absolute()
    {
        return Err(DaemonError::invalid_input(format!(
            "out_path `{}` is relative; the daemon needs an absolute path",
            out.display()
        )));
    }
    let title = format!("{} ({target})", elf_path.display());
    let failure: Arc<std::sync::Mutex<Option<DaemonError>>> = Default::default();
    let failure_slot = failure.clone();
    let params_json = serde_json::to_value(&p).unwrap_or_default();
    let started = d.tasks.spawn(
        TaskKind::RustElf,
        title,
        params_json,
        move |ctx| async move {
            ctx.progress(0.0, "bundling");
            ctx.log(&format!(
                "bundling {} for {target} (merged image: bootloader + partition table + app)",
                elf_path.display()
            ));
            let request = bundle::RustElfRequest {
                elf_path,
                target,
                out_path,
                flash_mode: p.flash_mode,
                flash_freq: p.flash_freq,
                flash_size: p.flash_size,
                task_id: Some(ctx.id.to_string()),
            };
            let log_ctx = ctx.clone();
            let begun = Instant::now();
            let outcome = tokio::task::spawn_blocking(move || {
                bundle::build_rust_elf_bundle(&request, &mut |line| log_ctx.log(line))
            })
            .await
            .map_err(|e| DaemonError::internal(format!("bundle worker stopped: {e}")))
            .and_then(|r| r.map_err(bundle_error));
            match outcome {
                Ok(out) => {
                    ctx.log(&format!("bundled in {} ms", begun.elapsed().as_millis()));
                    let result = m::BuildRustElfResult {
                        bundle_path: out.bundle_path.display().to_string(),
                        bundle_size_bytes: out.bundle_size_bytes,
                        manifest: out.manifest,
                        task_id: ctx.id.clone(),
                    };
                    serde_json::to_value(result).map_err(|e| {
                        DaemonError::internal(format!("cannot encode the result: {e}"))
                    })
                }
                Err(e) => {
                    *failure_slot.locked() = Some(e.clone());
                    Err(e)
                }
            }
        },
    )?;
    let done = d.tasks.wait(&started.task_id).await?;
    match done.status {
        TaskStatus::Succeeded => done
            .result
            .ok_or_else(|| DaemonError::internal("task succeeded without a result"))
            .and_then(|v| {
                serde_json::from_value(v)
                    .map_err(|e| DaemonError::internal(format!("cannot decode the result: {e}")))
            }),
        _ => {
            let recorded = failure.locked().take();
            let mut err = recorded.unwrap_or_else(|| {
                DaemonError::new(
                    ErrorCode::Runtime,
                    done.error
                        .unwrap_or_else(|| format!("task {}", done.status)),
                )
            });
            err.task_id = Some(started.task_id.to_string());
            if err.hint.is_none() {
                err.hint = Some(format!(
                    "`espctl logs {}` shows the task's log",
                    started.task_id
                ));
            }
            Err(err)
        }
    }
}

/// Whether builds use ccache: ESP-IDF's IDF_CCACHE_ENABLE semantics (0 disables it), and only when
/// ccache is on the caller's PATH.
pub fn ccache_enabled(env: &std::collections::BTreeMap<String, String>) -> bool {
    env.get("IDF_CCACHE_ENABLE").map(String::as_str) != Some("0")
        && crate::build::env::which("ccache", env).is_some()
}

/// Plans as `generate_build_plan` does: the daemon's planner with past build durations from the
/// store, the sandbox builds would use, and ccache from the caller's environment. With `changed`,
/// incrementally (see [`crate::project::planner::Planner::plan_with_changes`]). Blocking.
pub fn plan_in_daemon(
    planner: &crate::project::planner::Planner,
    tasks: &crate::tasks::Tasks,
    builder: &crate::build::runner::Builder,
    params: &espctl_protocol::plan::BuildPlanParams,
    changed: Option<&[PathBuf]>,
) -> Result<espctl_protocol::plan::BuildPlan, DaemonError> {
    let sandbox = match builder.sandbox() {
        crate::sandbox::Sandbox::Bubblewrap { .. } => ("bubblewrap".to_string(), None),
        crate::sandbox::Sandbox::Unsandboxed { reason } => {
            ("none".to_string(), Some(reason.clone()))
        }
    };
    let history =
        |project: &std::path::Path, target: &str, profile: espctl_protocol::plan::Profile| {
            tasks
                .store()
                .median_build_duration(&project.display().to_string(), target, profile.as_str())
                .ok()
                .flatten()
        };
    let ctx = crate::project::planner::PlanContext {
        home: std::env::var_os("HOME").map(PathBuf::from),
        idf_paths: Vec::new(),
        default_idf_version: None,
        history: &history,
        ccache: ccache_enabled(&params.env),
        sandbox,
    };
    match changed {
        Some(changed) => planner.plan_with_changes(params, &ctx, changed),
        None => planner.plan(params, &ctx),
    }
}

/// Plans `params` on a blocking thread ([`plan_in_daemon`]).
async fn plan_blocking(
    d: &Daemon,
    params: espctl_protocol::plan::BuildPlanParams,
) -> Result<espctl_protocol::plan::BuildPlan, DaemonError> {
    let planner = d.planner.clone();
    let tasks = d.tasks.clone();
    let builder = d.builder.clone();
    tokio::task::spawn_blocking(move || plan_in_daemon(&planner, &tasks, &builder, &params, None))
        .await
        .map_err(|e| DaemonError::internal(format!("planner stopped: {e}")))?
}

async fn generate_build_plan(
    d: Arc<Daemon>,
    p: espctl_protocol::plan::BuildPlanParams,
) -> Result<espctl_protocol::plan::BuildPlan, DaemonError> {
    plan_blocking(&d, p).await
}

async fn get_clean_plan(
    d: Arc<Daemon>,
    p: espctl_protocol::plan::CleanPlanParams,
) -> Result<espctl_protocol::plan::CleanPlan, DaemonError> {
    let planner = d.planner.clone();
    tokio::task::spawn_blocking(move || planner.clean_plan(&p))
        .await
        .map_err(|e| DaemonError::internal(format!("planner stopped: {e}")))?
}

async fn set_target(
    _d: Arc<Daemon>,
    p: espctl_protocol::plan::SetTargetParams,
) -> Result<espctl_protocol::plan::SetTargetResult, DaemonError> {
    use crate::project::config as project_config;
    let project_dir = crate::project::planner::project_dir(&p.path)?;
    crate::project::detect::detect(&project_dir)?;
    let target = crate::project::target::validate(&p.target, true)?;
    let (toml, _) = project_config::load_espctl_toml(&project_dir)
        .map_err(|e| DaemonError::new(e.code(), e.to_string()))?;
    project_config::set_default_target(&project_dir, &target)
        .map_err(|e| DaemonError::new(e.code(), e.to_string()))?;
    Ok(espctl_protocol::plan::SetTargetResult {
        target,
        config_file: project_dir.join(".espctl.toml").display().to_string(),
        previous: toml.default_target,
    })
}

/// Starts a build (or set-target) task for `plan`.
fn start_build_task(
    d: &Arc<Daemon>,
    kind: TaskKind,
    title: String,
    params_json: serde_json::Value,
    req: crate::build::runner::BuildRequest,
) -> Result<TaskInfo, DaemonError> {
    let builder = d.builder.clone();
    let tasks = d.tasks.clone();
    let (project, target, profile) = (
        req.plan.project_dir.clone(),
        req.plan.target.clone(),
        req.plan.profile,
    );
    let record = kind == TaskKind::Build;
    d.tasks
        .spawn_queued(kind, title, params_json, move |ctx| async move {
            let result = crate::build::runner::run(builder, ctx, req).await;
            if record
                && let Ok(v) = &result
                && let Some(secs) = v["duration_secs"].as_f64()
                && let Err(e) =
                    tasks
                        .store()
                        .record_build_duration(&project, &target, profile.as_str(), secs)
            {
                tracing::warn!("cannot record the build duration: {e}");
            }
            result
        })
}

async fn build_start(
    d: Arc<Daemon>,
    p: m::BuildStartParams,
) -> Result<m::BuildStartResult, DaemonError> {
    let plan = plan_blocking(&d, p.plan_params()).await?;
    crate::build::runner::refuse_unbuildable(&plan)?;
    let release_overlay = (plan.profile == espctl_protocol::plan::Profile::Release).then(|| {
        crate::project::planner::release_overlay_path(std::path::Path::new(&plan.build_dir))
    });
    let title = format!(
        "{} ({}, {})",
        plan.project_name,
        plan.target,
        plan.profile.as_str()
    );
    let req = crate::build::runner::BuildRequest {
        caller_env: p.env.clone(),
        sbom: p.sbom,
        keep_elf: p.elf,
        network: !p.no_network,
        pin_idf_version: p.idf_version.clone(),
        release_overlay,
        record_default_target: false,
        plan,
    };
    let info = start_build_task(
        &d,
        TaskKind::Build,
        title,
        serde_json::to_value(&p).unwrap_or_default(),
        req,
    )?;
    Ok(m::BuildStartResult {
        task_id: info.task_id,
        status: info.status,
    })
}

async fn set_target_run(
    d: Arc<Daemon>,
    p: m::SetTargetRunParams,
) -> Result<m::SetTargetRunResult, DaemonError> {
    let target = crate::project::target::validate(&p.target, true)?;
    let plan_params = espctl_protocol::plan::BuildPlanParams {
        path: p.path.clone(),
        target: Some(target.clone()),
        profile: p.profile,
        env: p.env.clone(),
        ..Default::default()
    };
    let mut plan = plan_blocking(&d, plan_params).await?;
    if plan.recipe_id != "idf-cmake" {
        return Err(DaemonError::new(
            ErrorCode::Config,
            "set-target is for ESP-IDF CMake projects (legacy Make projects build for esp32 only)",
        ));
    }
    crate::build::runner::refuse_unbuildable(&plan)?;
    let project_dir = PathBuf::from(&plan.project_dir);
    let build_dir = PathBuf::from(&plan.build_dir);
    let configured =
        crate::project::target::configured_target(&build_dir, &project_dir.join("sdkconfig"));
    let cache = std::collections::BTreeMap::new();
    let sdkconfig = project_dir.join("sdkconfig");
    plan.command_pipeline =
        crate::project::pipeline::set_target_steps(&crate::project::pipeline::Inputs {
            project_dir: &project_dir,
            build_dir: &build_dir,
            target: &target,
            sdkconfig: &sdkconfig,
            sdkconfig_defaults: None,
            idf_path: plan
                .idf_version_resolved
                .idf_path
                .as_deref()
                .map(std::path::Path::new),
            clean: false,
            reconfigure_from: configured.as_ref().map(|(t, _)| t.as_str()),
            configure_inputs: &[],
            globbed: &[],
            cmake_cache: &cache,
            ccache: ccache_enabled(&p.env),
            jobs: None,
        });
    let req = crate::build::runner::BuildRequest {
        caller_env: p.env.clone(),
        sbom: false,
        keep_elf: false,
        network: true,
        pin_idf_version: None,
        release_overlay: None,
        record_default_target: true,
        plan,
    };
    let info = start_build_task(
        &d,
        TaskKind::SetTarget,
        format!("set-target {target} in {}", project_dir.display()),
        serde_json::to_value(&p).unwrap_or_default(),
        req,
    )?;
    Ok(m::SetTargetRunResult {
        task_id: info.task_id,
        target,
        recipe_id: "idf_set_target".into(),
    })
}

/// The result of a finished, successful build task.
fn build_result_of(
    d: &Daemon,
    id: &TaskId,
) -> Result<espctl_protocol::methods::BuildResult, DaemonError> {
    let t = d.tasks.get(id)?;
    if t.kind != TaskKind::Build {
        return Err(DaemonError::invalid_input(format!(
            "task {id} is a {} task, not a build",
            t.kind
        )));
    }
    if t.status != TaskStatus::Succeeded {
        return Err(DaemonError::invalid_input(format!(
            "task {id} is {}: only a successful build has artifacts",
            t.status
        )));
    }
    serde_json::from_value(t.result.unwrap_or_default())
        .map_err(|e| DaemonError::internal(format!("the task's result is unreadable: {e}")))
}

async fn sbom_create(
    d: Arc<Daemon>,
    p: m::TaskIdParams,
) -> Result<m::SbomCreateResult, DaemonError> {
    let result = build_result_of(&d, &p.task_id)?;
    let unique = p.task_id.to_string();
    let (path, packages) =
        tokio::task::spawn_blocking(move || crate::build::runner::write_sbom(&result, &unique))
            .await
            .map_err(|e| DaemonError::internal(format!("sbom stopped: {e}")))??;
    Ok(m::SbomCreateResult {
        task_id: p.task_id,
        sbom_path: path,
        packages,
    })
}

async fn build_elf(d: Arc<Daemon>, p: m::BuildElfParams) -> Result<m::BuildElfResult, DaemonError> {
    let result = build_result_of(&d, &p.task_id)?;
    let Some(kept) = result.retained_elf else {
        return Err(
            DaemonError::invalid_input(format!("task {} kept no ELF", p.task_id))
                .with_hint("build with --elf (`elf: true`) to keep the unstripped ELF"),
        );
    };
    let kept = PathBuf::from(kept);
    if !kept.exists() {
        return Err(DaemonError::new(
            ErrorCode::Runtime,
            format!("the kept ELF {} is gone", kept.display()),
        )
        .with_hint("retention may have pruned it; build again with --elf"));
    }
    let path = match &p.out_path {
        None => kept.clone(),
        Some(out) => {
            let out = PathBuf::from(out);
            if !out.is_absolute() {
                return Err(DaemonError::invalid_input("out_path must be absolute"));
            }
            let tmp = out.with_extension("elf.part");
            std::fs::copy(&kept, &tmp)
                .and_then(|_| std::fs::rename(&tmp, &out))
                .map_err(|e| {
                    let _ = std::fs::remove_file(&tmp);
                    DaemonError::new(
                        ErrorCode::Runtime,
                        format!("cannot write {}: {e}", out.display()),
                    )
                })?;
            out
        }
    };
    let size_bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    Ok(m::BuildElfResult {
        task_id: p.task_id,
        path: path.display().to_string(),
        size_bytes,
    })
}

fn bundle_error(e: bundle::BundleError) -> DaemonError {
    let mut err = DaemonError::new(e.code(), e.to_string());
    err.hint = e.hint();
    err
}
