//! Watched projects: `project.watch` keeps a project open in the daemon, re-plans it after every
//! settled batch of file changes and predicts what the next build must do.
//!
//! - [`Watches`]: the registry, one [`project::ProjectWatch`] per project directory, counted by
//!   reference: each subscription holds a [`WatchGuard`]; the last one dropped (unsubscribe or
//!   disconnect) closes the watcher. It also keeps the daemon-wide budget of native watches.
//! - [`project`]: one project's watcher: its views (one per target and profile asked for), the
//!   processing of each debounced batch (classify, re-plan, predict, notify).
//! - [`fs`]: what is watched (the project and its components without build directories) and the
//!   notify watcher behind its debouncer, native or polling.
//! - [`classify`]: what a changed path means (reconfigure, recompile, relink only, nothing).
//! - [`cost`]: the next build's objects, components, relink and time, from Ninja's files.
//! - [`subscription`]: the `project.watch` handler.
//!
//! Invariants: a watcher never watches a build directory for planning (only the files that mark
//! a configure or a build finishing); a failing re-plan becomes a notification with its
//! diagnostics, never a stopped watcher; a project's watcher exists exactly while a subscription
//! holds it.

pub mod classify;
pub mod cost;
pub mod fs;
pub mod project;
pub mod subscription;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use espctl_protocol::plan::{BuildPlan, BuildPlanParams};
use espctl_protocol::watch::{PlanChanged, ProjectWatchParams, WatchedProject};

use crate::error::DaemonError;
use crate::sync::LockExt;
use project::ProjectWatch;

/// Watch settings (daemon flags).
#[derive(Debug, Clone)]
pub struct WatchSettings {
    /// How long a path must be quiet before its change is processed.
    pub debounce: Duration,
    /// Native watches (inotify: one per directory) the daemon may use across projects; a project
    /// that would go past it is polled instead.
    pub max_watches: u64,
    /// How often a polled project is scanned.
    pub poll_interval: Duration,
}

impl Default for WatchSettings {
    fn default() -> Self {
        WatchSettings {
            debounce: Duration::from_millis(100),
            max_watches: default_max_watches(),
            poll_interval: Duration::from_secs(1),
        }
    }
}

/// The system's inotify limit for this user.
pub const INOTIFY_LIMIT_FILE: &str = "/proc/sys/fs/inotify/max_user_watches";

/// Three quarters of the user's inotify watches (editors and other tools need the rest), or
/// 8192 where the limit cannot be read.
pub fn default_max_watches() -> u64 {
    std::fs::read_to_string(INOTIFY_LIMIT_FILE)
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .map(|n| n / 4 * 3)
        .unwrap_or(8192)
}

/// How the watcher plans: the daemon's planner with its context (history, sandbox, ccache),
/// told which paths changed since the previous plan of the same params (`None`: plan from
/// scratch).
pub type PlanFn =
    dyn Fn(&BuildPlanParams, Option<&[PathBuf]>) -> Result<BuildPlan, DaemonError> + Send + Sync;

/// Whether a build runs in a build directory right now.
pub type BuildingFn = dyn Fn(&Path) -> bool + Send + Sync;

/// Every watched project.
pub struct Watches {
    settings: WatchSettings,
    plan: Arc<PlanFn>,
    building: Arc<BuildingFn>,
    planner: Arc<crate::project::planner::Planner>,
    /// Native watches in use across projects.
    budget_used: Arc<AtomicU64>,
    next_id: AtomicU64,
    projects: Mutex<HashMap<PathBuf, Entry>>,
}

/// A registry entry: the watcher and its subscribers per view.
struct Entry {
    watch: Arc<ProjectWatch>,
    refs: BTreeMap<String, u32>,
}

/// Held by a subscription; dropping it releases the subscription's reference.
pub struct WatchGuard {
    watches: Arc<Watches>,
    project_dir: PathBuf,
    watch_id: u64,
    view: String,
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        self.watches
            .release(&self.project_dir, self.watch_id, &self.view);
    }
}

/// A new subscription: the current state, then every change.
pub struct Subscribed {
    pub initial: PlanChanged,
    pub changes: tokio::sync::broadcast::Receiver<Arc<PlanChanged>>,
    pub guard: WatchGuard,
    pub watch: Arc<ProjectWatch>,
    pub view: String,
}

/// The key of a view: what a plan of the project depends on besides its files.
pub fn view_key(params: &BuildPlanParams) -> String {
    serde_json::to_string(params).unwrap_or_default()
}

impl Watches {
    pub fn new(
        settings: WatchSettings,
        planner: Arc<crate::project::planner::Planner>,
        plan: Arc<PlanFn>,
        building: Arc<BuildingFn>,
    ) -> Watches {
        Watches {
            settings,
            plan,
            building,
            planner,
            budget_used: Arc::new(AtomicU64::new(0)),
            next_id: AtomicU64::new(1),
            projects: Mutex::new(HashMap::new()),
        }
    }

    pub fn settings(&self) -> &WatchSettings {
        &self.settings
    }

    /// Opens (or joins) the watch of the project `params` names. Validates the project first: a
    /// path that is not a project is an error, not a watch.
    pub async fn subscribe(
        self: &Arc<Self>,
        params: ProjectWatchParams,
    ) -> Result<Subscribed, DaemonError> {
        let project_dir = crate::project::planner::project_dir(&params.path)?;
        if !project_dir.is_dir() {
            return Err(DaemonError::invalid_input(format!(
                "{} is not a directory",
                project_dir.display()
            )));
        }
        crate::project::detect::detect(&project_dir)?;
        let plan_params = BuildPlanParams {
            path: project_dir.display().to_string(),
            target: params.target.clone(),
            profile: params.profile,
            env: params.env.clone(),
            ..Default::default()
        };
        let view = view_key(&plan_params);
        let watch = {
            let mut projects = self.projects.locked();
            let entry = projects.entry(project_dir.clone()).or_insert_with(|| {
                let id = self.next_id.fetch_add(1, Ordering::Relaxed);
                Entry {
                    watch: ProjectWatch::start(id, project_dir.clone(), self.shared()),
                    refs: BTreeMap::new(),
                }
            });
            *entry.refs.entry(view.clone()).or_default() += 1;
            entry.watch.clone()
        };
        // From here on the guard releases the reference whatever happens.
        let guard = WatchGuard {
            watches: self.clone(),
            project_dir: project_dir.clone(),
            watch_id: watch.id,
            view: view.clone(),
        };
        let opened = watch.clone();
        let key = view.clone();
        let (initial, changes) =
            tokio::task::spawn_blocking(move || opened.open_view(&key, plan_params))
                .await
                .map_err(|e| DaemonError::internal(format!("the watcher stopped: {e}")))??;
        Ok(Subscribed {
            initial,
            changes,
            guard,
            watch,
            view,
        })
    }

    fn shared(&self) -> project::Shared {
        project::Shared {
            settings: self.settings.clone(),
            plan: self.plan.clone(),
            building: self.building.clone(),
            planner: self.planner.clone(),
            budget_used: self.budget_used.clone(),
            budget_max: self.settings.max_watches,
        }
    }

    /// Drops one reference; the last one of a view drops the view, the last one of the project
    /// closes its watcher.
    fn release(&self, project_dir: &Path, watch_id: u64, view: &str) {
        let mut projects = self.projects.locked();
        let Some(entry) = projects.get_mut(project_dir) else {
            return;
        };
        if entry.watch.id != watch_id {
            return;
        }
        if let Some(n) = entry.refs.get_mut(view) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                entry.refs.remove(view);
                entry.watch.close_view(view);
            }
        }
        if entry.refs.is_empty() {
            let entry = projects.remove(project_dir).expect("present");
            entry.watch.close();
            tracing::info!(project = %project_dir.display(), "watch closed: no subscriber left");
        }
    }

    /// The watched projects, for `daemon.info` and `espctl status --project`.
    pub fn list(&self) -> Vec<WatchedProject> {
        let projects = self.projects.locked();
        let mut out: Vec<WatchedProject> = projects
            .iter()
            .map(|(dir, entry)| WatchedProject {
                project_dir: dir.display().to_string(),
                status: entry.watch.status(),
                subscribers: entry.refs.values().sum(),
                views: entry.refs.keys().map(|k| view_label(k)).collect(),
                debounce_ms: self.settings.debounce.as_millis() as u64,
            })
            .collect();
        out.sort_by(|a, b| a.project_dir.cmp(&b.project_dir));
        out
    }

    /// Native watches in use across projects.
    pub fn native_watches_used(&self) -> u64 {
        self.budget_used.load(Ordering::SeqCst)
    }
}

/// `target/profile` of a view key, for people.
fn view_label(key: &str) -> String {
    let params: BuildPlanParams = serde_json::from_str(key).unwrap_or_default();
    format!(
        "{}/{}",
        params.target.as_deref().unwrap_or("default"),
        params.profile.unwrap_or_default().as_str()
    )
}

/// Plans as `generate_build_plan` does, incrementally when told what changed
/// ([`crate::rpc::plan_in_daemon`]).
pub fn daemon_plan_fn(
    planner: Arc<crate::project::planner::Planner>,
    tasks: Arc<crate::tasks::Tasks>,
    builder: Arc<crate::build::runner::Builder>,
) -> Arc<PlanFn> {
    Arc::new(
        move |params: &BuildPlanParams, changed: Option<&[PathBuf]>| {
            crate::rpc::plan_in_daemon(&planner, &tasks, &builder, params, changed)
        },
    )
}
