//! Tasks: every long job is a task with an id, a status, progress, a log and a result.
//!
//! [`Tasks`] owns the live tasks. Invariants:
//! - Every transition is written to the [`Store`] before it is announced on the watch channel of the
//!   task and on the broadcast channel that feeds `task.subscribe`.
//! - A task's work runs as its own tokio task; a panic in it fails the task, never the daemon.
//! - Cancel asks first (the work's [`CancellationToken`]), then forces after the grace period: the work's
//!   future is dropped and its recorded process group killed.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use espctl_protocol::ErrorCode;
use espctl_protocol::task::{TaskId, TaskInfo, TaskKind, TaskStatus};
use futures::FutureExt;
use serde_json::value::RawValue;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use crate::error::DaemonError;
use crate::logs::{LogStore, LogWriter};
use crate::store::{ProcessGroupRecord, Store};
use crate::sync::LockExt;

/// How many finished tasks `get` and `get_json` keep in memory.
const FINISHED_CACHE: usize = 1024;

/// The message a task gets when the daemon died under it.
pub const RESTART_ERROR: &str = "daemon restarted while the task was running";

/// Retention and cancel settings.
#[derive(Debug, Clone)]
pub struct TaskSettings {
    /// How long cancel waits for work to stop by itself before forcing it.
    pub cancel_grace: Duration,
    /// Finished tasks older than this many days are pruned with their logs.
    pub retention_days: u32,
    /// At most this many tasks are kept; older finished ones are pruned.
    pub retention_tasks: u32,
}

impl Default for TaskSettings {
    fn default() -> Self {
        TaskSettings {
            cancel_grace: Duration::from_secs(3),
            retention_days: 30,
            retention_tasks: 1000,
        }
    }
}

pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn new_task_id() -> TaskId {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random source is unavailable");
    TaskId::from_bytes(bytes)
}

struct LiveTask {
    /// Current state; receivers wait on it for the end of the task.
    state: watch::Sender<TaskInfo>,
    cancel: CancellationToken,
    group: Option<ProcessGroupRecord>,
}

pub struct Tasks {
    store: Store,
    logs: LogStore,
    artifacts_dir: PathBuf,
    live: Mutex<HashMap<TaskId, LiveTask>>,
    /// Recently finished tasks, so status calls for them need no database read.
    finished: Mutex<HashMap<TaskId, Arc<Finished>>>,
    events: broadcast::Sender<TaskInfo>,
    settings: TaskSettings,
    accepting: AtomicBool,
}

/// A finished task in memory. It can no longer change, so its JSON is rendered once and every status
/// call shares it.
struct Finished {
    info: TaskInfo,
    json: Arc<RawValue>,
}

impl Finished {
    fn new(info: TaskInfo) -> Finished {
        let json = render(&info);
        Finished { info, json }
    }
}

/// A task that is not live, as [`Tasks::recorded`] finds it.
enum Recorded {
    Finished(Arc<Finished>),
    Unfinished(Box<TaskInfo>),
}

/// A task's state as JSON text.
fn render(info: &TaskInfo) -> Arc<RawValue> {
    // A `TaskInfo` is plain data (strings, numbers, a JSON value): serialising it cannot fail.
    serde_json::value::to_raw_value(info)
        .expect("a TaskInfo always serializes")
        .into()
}

/// What a task's work uses to report: log lines, progress, and whether it was asked to stop.
#[derive(Clone)]
pub struct TaskContext {
    pub id: TaskId,
    tasks: Arc<Tasks>,
    log: Arc<Mutex<LogWriter>>,
    pub cancel: CancellationToken,
}

impl TaskContext {
    pub fn log(&self, line: &str) {
        self.log_lines(&[line]);
    }

    pub fn log_lines(&self, lines: &[&str]) {
        let mut w = self.log.locked();
        if let Err(e) = w.append(lines) {
            tracing::error!(task = %self.id, "cannot write task log: {e}");
        }
    }

    /// Sets progress (0.0-1.0) and phase.
    pub fn progress(&self, progress: f64, phase: &str) {
        let progress = progress.clamp(0.0, 1.0);
        self.tasks.transition(&self.id, |t| {
            t.progress = progress;
            t.phase = phase.to_string();
        });
    }

    /// Moves the task from `pending` to `running` (once).
    pub fn set_running(&self) {
        self.tasks.transition(&self.id, |t| {
            if t.status == TaskStatus::Pending {
                t.status = TaskStatus::Running;
                t.started_at = Some(now_secs());
            }
        });
    }

    /// Publishes the diagnostics found so far (they go to the store with the next state change).
    pub fn set_diagnostics(&self, diagnostics: Vec<espctl_protocol::task::Diagnostic>) {
        self.tasks
            .transition(&self.id, |t| t.diagnostics = diagnostics);
    }

    /// The task's current phase and progress, as last set.
    pub fn current(&self) -> Option<TaskInfo> {
        self.tasks.watch(&self.id).map(|w| w.borrow().clone())
    }

    /// Records the process group the work's children run in.
    pub fn set_process_group(&self, group: Option<ProcessGroupRecord>) {
        self.tasks.set_process_group(&self.id, group);
    }

    pub fn is_canceled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Directory for this task's retained artifacts (created on demand, pruned with the task).
    pub fn artifacts_dir(&self) -> PathBuf {
        self.tasks.artifacts_dir.join(self.id.as_str())
    }
}

impl Tasks {
    /// Opens the store and logs under `data_dir` and fails every task a previous daemon left running.
    pub fn open(data_dir: &std::path::Path, settings: TaskSettings) -> anyhow::Result<Arc<Tasks>> {
        use anyhow::Context;
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("cannot create data dir {}", data_dir.display()))?;
        let store = Store::open(&data_dir.join("espctl.db"))
            .with_context(|| format!("cannot open task store in {}", data_dir.display()))?;
        let logs = LogStore::new(data_dir.join("logs").join("tasks"))
            .context("cannot create the task log dir")?;
        let (events, _) = broadcast::channel(4096);
        let tasks = Arc::new(Tasks {
            store,
            logs,
            artifacts_dir: data_dir.join("artifacts"),
            live: Mutex::new(HashMap::new()),
            finished: Mutex::new(HashMap::new()),
            events,
            settings,
            accepting: AtomicBool::new(true),
        });
        tasks.sweep_after_restart()?;
        tasks.prune();
        Ok(tasks)
    }

    pub fn logs(&self) -> &LogStore {
        &self.logs
    }

    pub fn settings(&self) -> &TaskSettings {
        &self.settings
    }

    /// Fails tasks a dead daemon left pending or running, after killing their recorded process groups.
    fn sweep_after_restart(&self) -> anyhow::Result<()> {
        let now = now_secs();
        for (mut task, group) in self.store.unfinished()? {
            if let Some(group) = group {
                #[cfg(unix)]
                if crate::proc::signal_group(group, nix::sys::signal::Signal::SIGKILL) {
                    tracing::warn!(task = %task.task_id, pgid = group.pgid, "killed leftover process group");
                }
            }
            let was_running = task.status == TaskStatus::Running;
            task.status = TaskStatus::Failed;
            task.error = Some(if was_running {
                RESTART_ERROR.to_string()
            } else {
                "daemon restarted before the task started".to_string()
            });
            task.exit_code = Some(1);
            task.updated_at = now;
            task.finished_at = Some(now);
            self.store.update(&task)?;
            self.store.set_process_group(&task.task_id, None)?;
            if let Ok(mut w) = self.logs.writer(&task.task_id) {
                let _ = w.append(&[&format!(
                    "espctld: {}; the task is marked failed",
                    task.error.as_deref().unwrap_or_default()
                )]);
            }
            self.logs.finish(&task.task_id);
            tracing::warn!(task = %task.task_id, "task failed: {}", task.error.as_deref().unwrap_or_default());
        }
        Ok(())
    }

    /// Deletes finished tasks (and their logs and artifacts) that fall outside retention.
    pub fn prune(&self) {
        let cutoff = now_secs() - i64::from(self.settings.retention_days) * 86_400;
        let ids = match self.store.prunable(cutoff, self.settings.retention_tasks) {
            Ok(ids) => ids,
            Err(e) => {
                tracing::error!("cannot list tasks to prune: {e}");
                return;
            }
        };
        if ids.is_empty() {
            return;
        }
        if let Err(e) = self.store.delete(&ids) {
            tracing::error!("cannot prune tasks: {e}");
            return;
        }
        {
            let mut cache = self.finished.locked();
            for id in &ids {
                cache.remove(id);
            }
        }
        for id in &ids {
            self.logs.remove(id);
            let _ = std::fs::remove_dir_all(self.artifacts_dir.join(id.as_str()));
        }
        tracing::info!(count = ids.len(), "pruned tasks outside retention");
    }

    /// Starts `work` as a new task and returns its initial state. The task is `running` from the
    /// moment its work starts.
    pub fn spawn<F, Fut>(
        self: &Arc<Self>,
        kind: TaskKind,
        title: String,
        params: serde_json::Value,
        work: F,
    ) -> Result<TaskInfo, DaemonError>
    where
        F: FnOnce(TaskContext) -> Fut + Send + 'static,
        Fut: Future<Output = Result<serde_json::Value, DaemonError>> + Send + 'static,
    {
        self.spawn_with(kind, title, params, true, work)
    }

    /// Like [`Tasks::spawn`], but the task stays `pending` until its work calls
    /// [`TaskContext::set_running`] (a build waiting for its build dir or a free slot).
    pub fn spawn_queued<F, Fut>(
        self: &Arc<Self>,
        kind: TaskKind,
        title: String,
        params: serde_json::Value,
        work: F,
    ) -> Result<TaskInfo, DaemonError>
    where
        F: FnOnce(TaskContext) -> Fut + Send + 'static,
        Fut: Future<Output = Result<serde_json::Value, DaemonError>> + Send + 'static,
    {
        self.spawn_with(kind, title, params, false, work)
    }

    fn spawn_with<F, Fut>(
        self: &Arc<Self>,
        kind: TaskKind,
        title: String,
        params: serde_json::Value,
        running_at_start: bool,
        work: F,
    ) -> Result<TaskInfo, DaemonError>
    where
        F: FnOnce(TaskContext) -> Fut + Send + 'static,
        Fut: Future<Output = Result<serde_json::Value, DaemonError>> + Send + 'static,
    {
        if !self.accepting.load(Ordering::SeqCst) {
            return Err(DaemonError::new(
                ErrorCode::ShuttingDown,
                "the daemon is shutting down and takes no new work",
            )
            .with_hint("run the command again: it starts a fresh daemon"));
        }
        let now = now_secs();
        let id = new_task_id();
        let info = TaskInfo {
            task_id: id.clone(),
            kind,
            status: TaskStatus::Pending,
            progress: 0.0,
            phase: "queued".to_string(),
            created_at: now,
            started_at: None,
            updated_at: now,
            finished_at: None,
            error: None,
            exit_code: None,
            title,
            result: None,
            diagnostics: Vec::new(),
        };
        let writer = self
            .logs
            .writer(&id)
            .map_err(|e| DaemonError::internal(format!("cannot create the task log: {e}")))?;
        let cancel = CancellationToken::new();
        {
            let mut live = self.live.locked();
            self.store.insert(&info, Some(&params.to_string()))?;
            let (state, _) = watch::channel(info.clone());
            live.insert(
                id.clone(),
                LiveTask {
                    state,
                    cancel: cancel.clone(),
                    group: None,
                },
            );
        }
        let _ = self.events.send(info.clone());
        let ctx = TaskContext {
            id: id.clone(),
            tasks: self.clone(),
            log: Arc::new(Mutex::new(writer)),
            cancel,
        };
        let tasks = self.clone();
        tokio::spawn(async move { tasks.run(ctx, running_at_start, work).await });
        Ok(info)
    }

    async fn run<F, Fut>(self: Arc<Self>, ctx: TaskContext, running_at_start: bool, work: F)
    where
        F: FnOnce(TaskContext) -> Fut + Send + 'static,
        Fut: Future<Output = Result<serde_json::Value, DaemonError>> + Send + 'static,
    {
        let id = ctx.id.clone();
        let cancel = ctx.cancel.clone();
        if cancel.is_cancelled() {
            ctx.log("canceled before it started");
            self.finish(&id, Outcome::Canceled("canceled before it started".into()));
            return;
        }
        if running_at_start {
            ctx.set_running();
        }
        let fut = std::panic::AssertUnwindSafe(work(ctx.clone())).catch_unwind();
        tokio::pin!(fut);
        let outcome = tokio::select! {
            // The work may end (interrupted) in the same poll as the cancel that interrupted it:
            // an error then is the cancel's doing, not a failure.
            r = &mut fut => Outcome::from_work(r, cancel.is_cancelled()),
            _ = cancel.cancelled() => {
                match tokio::time::timeout(self.settings.cancel_grace, &mut fut).await {
                    Ok(r) => Outcome::from_work(r, true),
                    Err(_) => {
                        self.kill_group(&id);
                        Outcome::Canceled(format!(
                            "canceled; the work did not stop within {:.1} s and was forced",
                            self.settings.cancel_grace.as_secs_f64()
                        ))
                    }
                }
            }
        };
        // A process group that outlived the work (a grandchild that ignored the signal) goes too.
        self.kill_group(&id);
        match &outcome {
            Outcome::Succeeded(_) => ctx.log("task succeeded"),
            Outcome::Failed(e) => ctx.log(&format!("task failed: {}", e.message)),
            Outcome::Canceled(m) => ctx.log(m),
        }
        self.finish(&id, outcome);
    }

    fn kill_group(&self, id: &TaskId) {
        let group = self.live.locked().get(id).and_then(|t| t.group);
        #[cfg(unix)]
        if let Some(group) = group
            && crate::proc::group_alive(group.pgid)
        {
            #[cfg(target_os = "linux")]
            crate::proc::kill_tree(group);
            #[cfg(not(target_os = "linux"))]
            crate::proc::signal_group(group, nix::sys::signal::Signal::SIGKILL);
        }
    }

    fn finish(&self, id: &TaskId, outcome: Outcome) {
        let now = now_secs();
        self.transition(id, |t| {
            t.finished_at = Some(now);
            match outcome {
                Outcome::Succeeded(result) => {
                    t.status = TaskStatus::Succeeded;
                    t.progress = 1.0;
                    t.phase = "done".into();
                    t.result = Some(result);
                }
                Outcome::Failed(e) => {
                    t.status = TaskStatus::Failed;
                    t.exit_code = Some(e.exit_code());
                    t.error = Some(match e.hint {
                        Some(h) => format!("{} ({h})", e.message),
                        None => e.message,
                    });
                }
                Outcome::Canceled(m) => {
                    t.status = TaskStatus::Canceled;
                    t.error = Some(m);
                }
            }
        });
        let _ = self.store.set_process_group(id, None);
        self.logs.finish(id);
        let last = self
            .live
            .locked()
            .remove(id)
            .map(|t| t.state.borrow().clone());
        if let Some(info) = last {
            self.remember_finished(info);
        }
    }

    /// Keeps a finished task in memory (a bounded number of them), rendered.
    fn remember_finished(&self, info: TaskInfo) -> Arc<Finished> {
        let finished = Arc::new(Finished::new(info));
        let mut cache = self.finished.locked();
        if cache.len() >= FINISHED_CACHE {
            cache.clear();
        }
        cache.insert(finished.info.task_id.clone(), finished.clone());
        finished
    }

    /// A task that is not live: from the cache, else from the store (cached when finished).
    fn recorded(&self, id: &TaskId) -> Result<Recorded, DaemonError> {
        if let Some(t) = self.finished.locked().get(id) {
            return Ok(Recorded::Finished(t.clone()));
        }
        match self.store.get(id)? {
            Some(info) if info.status.is_final() => {
                Ok(Recorded::Finished(self.remember_finished(info)))
            }
            // A task a dead daemon left unfinished, which the restart sweep has not reached yet.
            Some(info) => Ok(Recorded::Unfinished(Box::new(info))),
            None => Err(DaemonError::task_not_found(id.as_str())),
        }
    }

    /// Applies a change to a live task: store first, then announce.
    fn transition(&self, id: &TaskId, change: impl FnOnce(&mut TaskInfo)) {
        let info = {
            let live = self.live.locked();
            let Some(task) = live.get(id) else { return };
            let mut info = task.state.borrow().clone();
            change(&mut info);
            info.updated_at = now_secs();
            if let Err(e) = self.store.update(&info) {
                tracing::error!(task = %id, "cannot record task state: {e}");
            }
            task.state.send_replace(info.clone());
            info
        };
        let _ = self.events.send(info);
    }

    fn set_process_group(&self, id: &TaskId, group: Option<ProcessGroupRecord>) {
        let mut live = self.live.locked();
        if let Some(task) = live.get_mut(id) {
            if let Err(e) = self.store.set_process_group(id, group) {
                tracing::error!(task = %id, "cannot record process group: {e}");
            }
            task.group = group;
        }
    }

    /// The current state of any task, live or recorded.
    pub fn get(&self, id: &TaskId) -> Result<TaskInfo, DaemonError> {
        if let Some(t) = self.live.locked().get(id) {
            return Ok(t.state.borrow().clone());
        }
        Ok(match self.recorded(id)? {
            Recorded::Finished(t) => t.info.clone(),
            Recorded::Unfinished(info) => *info,
        })
    }

    /// [`Tasks::get`] as JSON text, what `build.status` answers. A finished task's JSON is rendered
    /// once and shared, so asking about it again copies no state and serialises nothing.
    pub fn get_json(&self, id: &TaskId) -> Result<Arc<RawValue>, DaemonError> {
        if let Some(t) = self.live.locked().get(id) {
            return Ok(render(&t.state.borrow()));
        }
        Ok(match self.recorded(id)? {
            Recorded::Finished(t) => t.json.clone(),
            Recorded::Unfinished(info) => render(&info),
        })
    }

    /// The store, for records that belong to no single task (build durations).
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn list(
        &self,
        statuses: &[TaskStatus],
        kinds: &[TaskKind],
        limit: u32,
    ) -> Result<Vec<TaskInfo>, DaemonError> {
        Ok(self.store.list(statuses, kinds, limit)?)
    }

    /// Waits until the task reaches a final status and returns it.
    pub async fn wait(&self, id: &TaskId) -> Result<TaskInfo, DaemonError> {
        let rx = self.live.locked().get(id).map(|t| t.state.subscribe());
        if let Some(mut rx) = rx {
            // The sender is dropped once the task is removed from the live map, after the final state.
            let _ = rx.wait_for(|t| t.status.is_final()).await;
        }
        self.get(id)
    }

    /// Cancels a pending or running task and waits for it to stop. A finished task is returned unchanged.
    pub async fn cancel(&self, id: &TaskId) -> Result<TaskInfo, DaemonError> {
        let token = self.live.locked().get(id).map(|t| t.cancel.clone());
        match token {
            Some(token) => {
                token.cancel();
                self.wait(id).await
            }
            None => self.get(id),
        }
    }

    /// Every change of every task.
    pub fn subscribe(&self) -> broadcast::Receiver<TaskInfo> {
        self.events.subscribe()
    }

    /// A watch on one live task, or None once it has finished.
    pub fn watch(&self, id: &TaskId) -> Option<watch::Receiver<TaskInfo>> {
        self.live.locked().get(id).map(|t| t.state.subscribe())
    }

    /// Pending and running tasks.
    pub fn active_count(&self) -> usize {
        self.live.locked().len()
    }

    /// Refuses new work, cancels what runs and waits (bounded) for it to stop.
    pub async fn shutdown(&self) -> usize {
        self.accepting.store(false, Ordering::SeqCst);
        let running: Vec<(TaskId, CancellationToken)> = self
            .live
            .locked()
            .iter()
            .map(|(id, t)| (id.clone(), t.cancel.clone()))
            .collect();
        for (_, token) in &running {
            token.cancel();
        }
        let deadline = self.settings.cancel_grace + Duration::from_secs(2);
        let waits = running.iter().map(|(id, _)| self.wait(id));
        let _ = tokio::time::timeout(deadline, futures::future::join_all(waits)).await;
        running.len()
    }

    pub fn is_accepting(&self) -> bool {
        self.accepting.load(Ordering::SeqCst)
    }
}

enum Outcome {
    Succeeded(serde_json::Value),
    Failed(DaemonError),
    Canceled(String),
}

impl Outcome {
    fn from_work(
        r: Result<Result<serde_json::Value, DaemonError>, Box<dyn std::any::Any + Send>>,
        cancel_requested: bool,
    ) -> Outcome {
        match r {
            Ok(Ok(v)) => Outcome::Succeeded(v),
            Ok(Err(_)) if cancel_requested => Outcome::Canceled("canceled".into()),
            Ok(Err(e)) => Outcome::Failed(e),
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                tracing::error!("task work panicked: {what}");
                Outcome::Failed(DaemonError::internal(format!(
                    "internal error in the daemon: {what}"
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> (tempfile::TempDir, Arc<Tasks>) {
        let dir = tempfile::tempdir().unwrap();
        let settings = TaskSettings {
            cancel_grace: Duration::from_millis(200),
            ..Default::default()
        };
        let tasks = Tasks::open(dir.path(), settings).unwrap();
        (dir, tasks)
    }

    #[tokio::test]
    async fn success_failure_panic() {
        let (_d, tasks) = open();
        let ok = tasks
            .spawn(
                TaskKind::RustElf,
                "ok".into(),
                serde_json::json!({}),
                |ctx| async move {
                    ctx.log("hello");
                    ctx.progress(0.5, "bundling");
                    Ok(serde_json::json!({"x": 1}))
                },
            )
            .unwrap();
        let done = tasks.wait(&ok.task_id).await.unwrap();
        assert_eq!(done.status, TaskStatus::Succeeded);
        assert_eq!(done.result, Some(serde_json::json!({"x": 1})));
        assert!(done.started_at.is_some() && done.finished_at.is_some());
        let log = tasks.logs().read(&ok.task_id, 0, 10).unwrap();
        assert_eq!(log.lines[0], "hello");

        let bad = tasks
            .spawn(
                TaskKind::RustElf,
                "bad".into(),
                serde_json::json!({}),
                |_| async move { Err(DaemonError::invalid_input("no such file")) },
            )
            .unwrap();
        let done = tasks.wait(&bad.task_id).await.unwrap();
        assert_eq!(done.status, TaskStatus::Failed);
        assert_eq!(done.exit_code, Some(2));
        assert_eq!(done.error.as_deref(), Some("no such file"));

        let boom = tasks
            .spawn(
                TaskKind::RustElf,
                "boom".into(),
                serde_json::json!({}),
                |_| async move { panic!("kaboom") },
            )
            .unwrap();
        let done = tasks.wait(&boom.task_id).await.unwrap();
        assert_eq!(done.status, TaskStatus::Failed);
        assert!(done.error.unwrap().contains("kaboom"));
    }

    #[tokio::test]
    async fn cancel_is_forced_after_grace_and_idempotent() {
        let (_d, tasks) = open();
        let t = tasks
            .spawn(
                TaskKind::RustElf,
                "stuck".into(),
                serde_json::json!({}),
                |_| async move {
                    // Ignores the token on purpose: cancel must force it.
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    Ok(serde_json::json!(null))
                },
            )
            .unwrap();
        let start = std::time::Instant::now();
        let done = tasks.cancel(&t.task_id).await.unwrap();
        assert_eq!(done.status, TaskStatus::Canceled);
        assert!(start.elapsed() < Duration::from_secs(2));
        // Canceling again is a no-op returning the final state.
        assert_eq!(
            tasks.cancel(&t.task_id).await.unwrap().status,
            TaskStatus::Canceled
        );
        assert_eq!(tasks.active_count(), 0);
    }

    #[tokio::test]
    async fn status_json_is_the_task_info_live_finished_and_after_a_restart() {
        let (dir, tasks) = open();
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let t = tasks
            .spawn(
                TaskKind::RustElf,
                "json".into(),
                serde_json::json!({}),
                |ctx| async move {
                    ctx.progress(0.25, "bundling");
                    let _ = released.await;
                    Ok(serde_json::json!({"bundle": "x.tar.gz", "n": [1, 2]}))
                },
            )
            .unwrap();
        let id = t.task_id.clone();
        let parse = |json: &RawValue| serde_json::from_str::<TaskInfo>(json.get()).unwrap();
        let mut live = parse(&tasks.get_json(&id).unwrap());
        while live.phase != "bundling" {
            tokio::task::yield_now().await;
            live = parse(&tasks.get_json(&id).unwrap());
        }
        assert_eq!(live, tasks.get(&id).unwrap());
        assert_eq!(live.status, TaskStatus::Running);

        release.send(()).unwrap();
        let done = tasks.wait(&id).await.unwrap();
        let json = tasks.get_json(&id).unwrap();
        assert_eq!(parse(&json), done);
        // Rendered once, shared by later calls.
        assert!(Arc::ptr_eq(&json, &tasks.get_json(&id).unwrap()));

        // A restarted daemon reads it from the store and answers the same.
        let reopened = Tasks::open(dir.path(), tasks.settings().clone()).unwrap();
        assert_eq!(parse(&reopened.get_json(&id).unwrap()), done);
        assert_eq!(
            reopened
                .get_json(&TaskId::from_bytes([2; 16]))
                .unwrap_err()
                .code,
            ErrorCode::TaskNotFound
        );
    }

    #[tokio::test]
    async fn unknown_task_is_an_error() {
        let (_d, tasks) = open();
        let err = tasks.get(&TaskId::from_bytes([1; 16])).unwrap_err();
        assert_eq!(err.code, ErrorCode::TaskNotFound);
    }
}
