//! One project's watcher: the file system watch, the views planned for its subscribers (one per
//! distinct target, profile and environment), and the processing of every debounced batch.
//!
//! A batch is processed on a blocking thread, views one after the other: the changed paths are
//! classified with what the view's last plan knows (components, sources, globs), the project is
//! planned again, the next build's cost is predicted from the build directory, and a
//! `plan.changed` notification goes to the view's subscribers. A batch of nothing but editor
//! temporary files or `.git` traffic is reported without re-planning.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use espctl_protocol::plan::{BuildPlan, BuildPlanParams, PlanDiagnostic};
use espctl_protocol::watch::{
    BuildCost, ChangeClass, PathChange, PlanChangeKind, PlanChanged, PlanSummary, WatchMode,
    WatchStatus,
};
use notify::EventKind;
use notify::event::{ModifyKind, RenameMode};
use tokio::sync::broadcast;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio_util::sync::CancellationToken;

use super::classify::{self, ComponentDir, PathEvent};
use super::cost::NinjaCache;
use super::fs::{self, Batch, Exclusions, FsWatch, Roots, Timing};
use super::{BuildingFn, PlanFn, WatchSettings};
use crate::error::DaemonError;
use crate::ninja::canon::lexical_normalize;
use crate::project::cmake::{GlobRecord, glob_result_changed};
use crate::project::planner::Planner;
use crate::sync::LockExt;

/// Files in the build directory whose change means a configure or a build finished.
const BUILD_MARKERS: [&str; 4] = [
    "build.ninja",
    ".ninja_log",
    "CMakeCache.txt",
    "flash_bundle.tar.gz",
];

/// The least quiet time of the build directory before its markers are reported.
const MARKER_SETTLE: std::time::Duration = std::time::Duration::from_millis(500);

/// What processing a batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Processed {
    /// Nothing to report.
    Nothing,
    /// Notifications went out.
    Published,
    /// Only build directory markers moved: report them once the directory is quiet.
    MarkersPending,
}

/// Notifications buffered per view for a slow subscriber (it then gets the latest state).
const VIEW_BUFFER: usize = 64;

/// Files of a new directory reported as created at most (a copied tree).
const NEW_DIR_FILES: usize = 10_000;

/// What every project watcher shares with the registry.
#[derive(Clone)]
pub struct Shared {
    pub settings: WatchSettings,
    pub plan: Arc<PlanFn>,
    pub building: Arc<BuildingFn>,
    pub planner: Arc<Planner>,
    pub budget_used: Arc<AtomicU64>,
    pub budget_max: u64,
}

/// A watched project.
pub struct ProjectWatch {
    /// Tells this watcher from a later one of the same directory.
    pub id: u64,
    pub project_dir: PathBuf,
    shared: Shared,
    /// Everything the processing touches; locked only on blocking threads.
    state: Mutex<State>,
    /// What `daemon.info` shows, readable while a batch is processed.
    status: Mutex<WatchStatus>,
    /// Ends the processing loop and the file system watch.
    cancel: CancellationToken,
    /// Where the debouncer sends batches (cloned into each watcher made).
    sender: UnboundedSender<Batch>,
}

struct State {
    fs: Option<FsWatch>,
    /// Native watches this project holds in the daemon's budget.
    reserved: u64,
    views: HashMap<String, View>,
    /// Content hashes of the configuration files, to tell a rewrite from a change.
    config_hashes: HashMap<PathBuf, Option<u64>>,
    /// The project directory is gone; nothing more is processed.
    removed: bool,
}

/// One (target, profile, environment) the project is planned for.
struct View {
    params: BuildPlanParams,
    /// The last plan that succeeded: what classification knows about the project.
    plan: Option<BuildPlan>,
    ninja: NinjaCache,
    sequence: u64,
    sender: broadcast::Sender<Arc<PlanChanged>>,
    last: Option<Arc<PlanChanged>>,
    /// Paths changed since the last plan in batches that did not re-plan (editor files, the
    /// running build's sdkconfig): the next incremental plan must not trust them.
    unplanned: Vec<PathBuf>,
    /// The sources of `plan`'s components, lexically normalized (events name real paths).
    sources: Arc<HashSet<PathBuf>>,
}

impl View {
    fn build_dir(&self, project_dir: &Path) -> PathBuf {
        self.plan
            .as_ref()
            .map(|p| PathBuf::from(&p.build_dir))
            .unwrap_or_else(|| project_dir.join("build"))
    }

    /// The sdkconfig a configure of this view writes.
    fn sdkconfig(&self, project_dir: &Path) -> PathBuf {
        self.plan
            .iter()
            .flat_map(|p| &p.command_pipeline)
            .flat_map(|s| &s.argv)
            .find_map(|a| a.strip_prefix("-DSDKCONFIG="))
            .map(PathBuf::from)
            .unwrap_or_else(|| project_dir.join("sdkconfig"))
    }

    /// sdkconfig and its defaults, `.espctl.toml`, `.idf-version`.
    fn config_files(&self, project_dir: &Path) -> Vec<PathBuf> {
        let mut files = vec![
            project_dir.join(".espctl.toml"),
            project_dir.join(".idf-version"),
            project_dir.join("sdkconfig"),
            project_dir.join("sdkconfig.defaults"),
        ];
        if let Some(plan) = &self.plan {
            files.push(project_dir.join(format!("sdkconfig.defaults.{}", plan.target)));
            for step in &plan.command_pipeline {
                for arg in &step.argv {
                    for (flag, list) in [("-DSDKCONFIG=", false), ("-DSDKCONFIG_DEFAULTS=", true)] {
                        if let Some(v) = arg.strip_prefix(flag) {
                            if list {
                                files.extend(v.split(';').map(|f| lexical_normalize(Path::new(f))));
                            } else {
                                files.push(lexical_normalize(Path::new(v)));
                            }
                        }
                    }
                }
            }
        }
        files.sort();
        files.dedup();
        files
    }

    fn components(&self) -> Vec<ComponentDir> {
        self.plan
            .as_ref()
            .map(|p| {
                p.components
                    .iter()
                    .map(|c| ComponentDir {
                        name: c.name.clone(),
                        // `EXTRA_COMPONENT_DIRS` often climb out with `..`: events name real paths.
                        dir: lexical_normalize(Path::new(&c.dir)),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Takes a new plan; the source set is rebuilt only when the sources changed.
    fn set_plan(&mut self, plan: BuildPlan) {
        let same_sources = self.plan.as_ref().is_some_and(|old| {
            old.components.len() == plan.components.len()
                && old
                    .components
                    .iter()
                    .zip(&plan.components)
                    .all(|(a, b)| Arc::ptr_eq(a, b) || a.sources == b.sources)
        });
        if !same_sources {
            self.sources = Arc::new(plan_sources(&plan));
        }
        self.plan = Some(plan);
    }
}

fn plan_sources(plan: &BuildPlan) -> HashSet<PathBuf> {
    plan.components
        .iter()
        .flat_map(|c| c.sources.iter().map(|s| lexical_normalize(Path::new(s))))
        .collect()
}

fn summary(plan: &BuildPlan) -> PlanSummary {
    PlanSummary {
        recipe_id: plan.recipe_id.clone(),
        project_name: plan.project_name.clone(),
        target: plan.target.clone(),
        profile: plan.profile,
        build_dir: plan.build_dir.clone(),
        idf_version: plan.idf_version_resolved.version.clone(),
        components: plan.components.len() as u32,
        exactness: plan.exactness,
        warnings: plan.warnings.len() as u32,
        errors: plan.errors.len() as u32,
        steps: plan
            .command_pipeline
            .iter()
            .map(|s| s.name.clone())
            .collect(),
    }
}

fn failure_diagnostic(e: &DaemonError) -> PlanDiagnostic {
    PlanDiagnostic {
        message: match &e.hint {
            Some(h) => format!("{} ({h})", e.message),
            None => e.message.clone(),
        },
        file: None,
        line: None,
    }
}

fn content_hash(path: &Path) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let bytes = std::fs::read(path).ok()?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    Some(h.finish())
}

fn ms(since: Instant) -> f64 {
    (since.elapsed().as_secs_f64() * 1e6).round() / 1e3
}

/// The literal directory a glob pattern starts from (before its first wildcard).
fn glob_base(pattern: &str) -> &Path {
    let wild = pattern.find(['*', '?', '[']).unwrap_or(pattern.len());
    let cut = pattern[..wild].rfind('/').unwrap_or(0);
    Path::new(&pattern[..cut])
}

/// The pattern of the first glob whose result `path` changes.
fn glob_changed_by(globs: &[GlobRecord], path: &Path) -> Option<String> {
    globs
        .iter()
        .filter(|g| {
            g.patterns
                .iter()
                .any(|p| path.starts_with(lexical_normalize(glob_base(p))))
        })
        .find(|g| glob_result_changed(g))
        .map(|g| g.patterns.join(" "))
}

/// Merges the events of one path within a batch.
fn merge(old: PathEvent, new: PathEvent) -> PathEvent {
    match (old, new) {
        (PathEvent::Created, PathEvent::Modified) => PathEvent::Created,
        (PathEvent::Removed, PathEvent::Created) => PathEvent::Modified,
        (_, n) => n,
    }
}

/// What a batch holds once events are merged per path.
#[derive(Default)]
struct Digest {
    paths: BTreeMap<PathBuf, PathEvent>,
    rescan: bool,
    limit_reached: bool,
}

fn digest(batches: Vec<Batch>) -> Digest {
    let mut d = Digest::default();
    let add = |paths: &mut BTreeMap<PathBuf, PathEvent>, p: &Path, e: PathEvent| {
        paths
            .entry(p.to_path_buf())
            .and_modify(|old| *old = merge(*old, e))
            .or_insert(e);
    };
    for batch in batches {
        match batch {
            Ok(events) => {
                for ev in events {
                    if ev.need_rescan() {
                        d.rescan = true;
                    }
                    match ev.kind {
                        // notify reports every open and close: never a change.
                        EventKind::Access(_) => {}
                        EventKind::Create(_) => {
                            for p in &ev.paths {
                                add(&mut d.paths, p, PathEvent::Created);
                            }
                        }
                        EventKind::Remove(_) => {
                            for p in &ev.paths {
                                add(&mut d.paths, p, PathEvent::Removed);
                            }
                        }
                        EventKind::Modify(ModifyKind::Name(RenameMode::Both))
                            if ev.paths.len() == 2 =>
                        {
                            add(&mut d.paths, &ev.paths[0], PathEvent::Removed);
                            add(&mut d.paths, &ev.paths[1], PathEvent::Created);
                        }
                        EventKind::Modify(ModifyKind::Name(RenameMode::From)) => {
                            for p in &ev.paths {
                                add(&mut d.paths, p, PathEvent::Removed);
                            }
                        }
                        EventKind::Modify(ModifyKind::Name(RenameMode::To)) => {
                            for p in &ev.paths {
                                add(&mut d.paths, p, PathEvent::Created);
                            }
                        }
                        EventKind::Modify(_) | EventKind::Any | EventKind::Other => {
                            for p in &ev.paths {
                                add(&mut d.paths, p, PathEvent::Modified);
                            }
                        }
                    }
                }
            }
            Err(errors) => {
                for e in errors {
                    if fs::is_limit_error(&e) {
                        d.limit_reached = true;
                    } else {
                        tracing::warn!("file watch error: {e}");
                    }
                }
            }
        }
    }
    // The disk has the last word: a file saved by rename may look created, a temp file gone.
    for (path, event) in d.paths.iter_mut() {
        let exists = path.symlink_metadata().is_ok();
        *event = match (*event, exists) {
            (PathEvent::Removed, true) => PathEvent::Modified,
            (PathEvent::Created | PathEvent::Modified, false) => PathEvent::Removed,
            (e, _) => e,
        };
    }
    d
}

impl ProjectWatch {
    /// A watcher for `project_dir` with no view yet; its processing loop runs until
    /// [`ProjectWatch::close`].
    pub fn start(id: u64, project_dir: PathBuf, shared: Shared) -> Arc<ProjectWatch> {
        let (sender, receiver) = unbounded_channel();
        let watch = Arc::new(ProjectWatch {
            id,
            project_dir,
            shared,
            state: Mutex::new(State {
                fs: None,
                reserved: 0,
                views: HashMap::new(),
                config_hashes: HashMap::new(),
                removed: false,
            }),
            status: Mutex::new(WatchStatus {
                mode: WatchMode::Native,
                paths_watched: 0,
                note: None,
            }),
            cancel: CancellationToken::new(),
            sender,
        });
        tokio::spawn(watch.clone().run(receiver));
        watch
    }

    async fn run(self: Arc<Self>, mut receiver: UnboundedReceiver<Batch>) {
        // Build directory markers are reported once the build directory has been quiet this long,
        // not at every step a build finishes.
        let settle = (self.shared.settings.debounce * 4).max(MARKER_SETTLE);
        let mut flush_at: Option<tokio::time::Instant> = None;
        loop {
            let first = tokio::select! {
                b = receiver.recv() => b,
                _ = async {
                    match flush_at {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                } => {
                    flush_at = None;
                    let me = self.clone();
                    if let Err(e) = tokio::task::spawn_blocking(move || me.flush_markers()).await {
                        tracing::error!(project = %self.project_dir.display(), "watch processing failed: {e}");
                    }
                    continue;
                }
                _ = self.cancel.cancelled() => None,
            };
            let Some(first) = first else { break };
            let mut batches = vec![first];
            while let Ok(more) = receiver.try_recv() {
                batches.push(more);
            }
            let me = self.clone();
            match tokio::task::spawn_blocking(move || me.process(batches)).await {
                Ok(Processed::MarkersPending) => {
                    flush_at = Some(tokio::time::Instant::now() + settle);
                }
                Ok(Processed::Published) => flush_at = None,
                Ok(Processed::Nothing) => {}
                Err(e) => {
                    tracing::error!(project = %self.project_dir.display(), "watch processing failed: {e}");
                }
            }
        }
        let me = self.clone();
        let _ = tokio::task::spawn_blocking(move || me.teardown()).await;
    }

    /// Ends the watch: the loop stops and the file system watch is dropped.
    pub fn close(&self) {
        self.cancel.cancel();
    }

    fn teardown(&self) {
        let mut st = self.state.locked();
        st.fs = None;
        st.views.clear();
        let reserved = std::mem::take(&mut st.reserved);
        self.shared
            .budget_used
            .fetch_sub(reserved, Ordering::SeqCst);
    }

    pub fn status(&self) -> WatchStatus {
        self.status.locked().clone()
    }

    /// The latest notification of a view (for a subscriber that fell behind).
    pub fn latest(&self, view: &str) -> Option<Arc<PlanChanged>> {
        self.state
            .locked()
            .views
            .get(view)
            .and_then(|v| v.last.clone())
    }

    /// Drops a view no subscriber follows any more.
    pub fn close_view(self: &Arc<Self>, view: &str) {
        let me = self.clone();
        let view = view.to_string();
        let drop_it = move || {
            me.state.locked().views.remove(&view);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn_blocking(drop_it);
            }
            Err(_) => drop_it(),
        }
    }

    /// Joins or creates the view `key`: its current state (as an `initial` notification) and
    /// the receiver of its changes. Blocking: plans the project for a new view.
    pub fn open_view(
        self: &Arc<Self>,
        key: &str,
        params: BuildPlanParams,
    ) -> Result<(PlanChanged, broadcast::Receiver<Arc<PlanChanged>>), DaemonError> {
        let mut st = self.state.locked();
        if st.removed {
            return Err(DaemonError::invalid_input(format!(
                "{} was deleted",
                self.project_dir.display()
            )));
        }
        if let Some(view) = st.views.get(key)
            && let Some(last) = &view.last
        {
            let receiver = view.sender.subscribe();
            let mut initial = (**last).clone();
            initial.kind = PlanChangeKind::Initial;
            initial.class = ChangeClass::Nothing;
            initial.reason = "the current state".into();
            initial.paths.clear();
            initial.changes.clear();
            return Ok((initial, receiver));
        }
        let started = Instant::now();
        let plan = (self.shared.plan)(&params, None)?;
        let replan_ms = ms(started);
        let (sender, receiver) = broadcast::channel(VIEW_BUFFER);
        let view = View {
            params,
            sources: Arc::new(plan_sources(&plan)),
            plan: Some(plan),
            ninja: NinjaCache::default(),
            sequence: 0,
            sender,
            last: None,
            unplanned: Vec::new(),
        };
        for f in view.config_files(&self.project_dir) {
            st.config_hashes
                .entry(f.clone())
                .or_insert_with(|| content_hash(&f));
        }
        st.views.insert(key.to_string(), view);
        let watching = Instant::now();
        self.sync_roots(&mut st);
        let watch_ms = ms(watching);
        let status = self.status();
        let view = st.views.get_mut(key).expect("just inserted");
        let predicted = Instant::now();
        let (cost, cost_note) = predict(&self.project_dir, view, &[]);
        let predict_ms = ms(predicted);
        let plan = view.plan.as_ref().expect("planned");
        let initial = PlanChanged {
            sequence: 0,
            kind: PlanChangeKind::Initial,
            project_dir: self.project_dir.display().to_string(),
            class: ChangeClass::Nothing,
            reason: "the current state".into(),
            paths: Vec::new(),
            changes: Vec::new(),
            diagnostics: plan.errors.clone(),
            plan: Some(summary(plan)),
            cost,
            cost_note,
            watch: status.clone(),
            replan_ms,
            predict_ms,
        };
        view.last = Some(Arc::new(initial.clone()));
        tracing::info!(
            project = %self.project_dir.display(),
            mode = status.mode.as_str(),
            paths = status.paths_watched,
            "watch opened in {:.1} ms (plan {replan_ms:.1} ms, watches {watch_ms:.1} ms, cost \
             {predict_ms:.1} ms)",
            ms(started)
        );
        Ok((initial, receiver))
    }

    /// Reports settled build directory markers (blocking).
    fn flush_markers(self: &Arc<Self>) {
        let mut st = self.state.locked();
        if st.removed || self.cancel.is_cancelled() || !self.project_dir.is_dir() {
            return;
        }
        let build_dirs: Vec<PathBuf> = st
            .views
            .values()
            .map(|v| v.build_dir(&self.project_dir))
            .collect();
        let status = self.status();
        let empty = Digest::default();
        for view in st.views.values_mut() {
            self.publish_change(view, &empty, &[], &build_dirs, &status);
        }
        self.sync_roots(&mut st);
    }

    /// Processes debounced batches (blocking).
    fn process(self: &Arc<Self>, batches: Vec<Batch>) -> Processed {
        let mut st = self.state.locked();
        if st.removed || self.cancel.is_cancelled() {
            return Processed::Nothing;
        }
        let mut d = digest(batches);
        if d.limit_reached && st.fs.as_ref().is_some_and(FsWatch::is_native) {
            self.fall_back_to_polling(&mut st, limit_note(None));
        }
        if !self.project_dir.is_dir() {
            self.project_removed(&mut st);
            return Processed::Published;
        }
        let build_dirs: Vec<PathBuf> = st
            .views
            .values()
            .map(|v| v.build_dir(&self.project_dir))
            .collect();
        // Build directory traffic: only the markers count, and not as changes of the project.
        let mut markers = false;
        d.paths.retain(|path, _| {
            let Some(build_dir) = build_dirs.iter().find(|b| path.starts_with(b)) else {
                return true;
            };
            if path.parent() == Some(build_dir.as_path())
                && path
                    .file_name()
                    .is_some_and(|n| BUILD_MARKERS.iter().any(|m| n == *m))
            {
                markers = true;
            }
            false
        });
        // New directories: watch them (when the watch does not cover them yet) and report what
        // they already hold, which their watch was too late to see.
        let created_dirs: Vec<PathBuf> = d
            .paths
            .iter()
            .filter(|(p, e)| **e == PathEvent::Created && p.is_dir())
            .map(|(p, _)| p.clone())
            .collect();
        for dir in created_dirs {
            d.paths.remove(&dir);
            let exclusions = Exclusions {
                build_dirs: &build_dirs,
            };
            if exclusions.excludes(&dir) {
                continue;
            }
            // Under a recursive root the watcher follows new directories by itself; under a
            // flat one (the project's top level) it does not.
            let needs_watch = st.fs.as_ref().is_some_and(|f| {
                f.roots
                    .flat
                    .iter()
                    .any(|r| dir.parent() == Some(r.as_path()))
                    && !f.roots.recursive.iter().any(|r| dir.starts_with(r))
            });
            if needs_watch {
                self.add_roots(&mut st, fs::layout(&dir, &exclusions));
            }
            for file in files_under(&dir, NEW_DIR_FILES) {
                d.paths.entry(file).or_insert(PathEvent::Created);
            }
        }
        if d.paths.is_empty() && !d.rescan {
            if markers {
                // A new build directory needs its flat watch now, not when the build ends.
                self.sync_roots(&mut st);
                return Processed::MarkersPending;
            }
            return Processed::Nothing;
        }
        // Configuration files rewritten with the same content (a configure does that).
        let config_files: HashSet<PathBuf> = st
            .views
            .values()
            .flat_map(|v| v.config_files(&self.project_dir))
            .collect();
        let mut unchanged = Vec::new();
        for path in d.paths.keys().filter(|p| config_files.contains(*p)) {
            let now = content_hash(path);
            let before = st.config_hashes.insert(path.clone(), now);
            if before == Some(now) {
                unchanged.push(path.clone());
            }
        }
        let status = self.status();
        let keys: Vec<String> = st.views.keys().cloned().collect();
        for key in keys {
            let view = st.views.get_mut(&key).expect("listed");
            self.publish_change(view, &d, &unchanged, &build_dirs, &status);
        }
        self.sync_roots(&mut st);
        Processed::Published
    }

    /// Classifies, re-plans, predicts and notifies one view.
    fn publish_change(
        &self,
        view: &mut View,
        d: &Digest,
        unchanged: &[PathBuf],
        build_dirs: &[PathBuf],
        status: &WatchStatus,
    ) {
        let components = view.components();
        let sources = view.sources.clone();
        let config_files = view.config_files(&self.project_dir);
        let globs: Vec<GlobRecord> = if d.paths.values().any(|e| *e != PathEvent::Modified) {
            // The evaluator knows components by their directory as discovered (`..` and all).
            let raw: Vec<PathBuf> = view
                .plan
                .iter()
                .flat_map(|p| &p.components)
                .map(|c| PathBuf::from(&c.dir))
                .collect();
            let mut dirs: Vec<&Path> = components.iter().map(|c| c.dir.as_path()).collect();
            dirs.extend(raw.iter().map(PathBuf::as_path));
            dirs.push(&self.project_dir);
            self.shared.planner.evaluator.cached_globs(&dirs)
        } else {
            Vec::new()
        };
        let build_dir = view.build_dir(&self.project_dir);
        let written_by_build: Vec<PathBuf> = if (self.shared.building)(&build_dir) {
            vec![
                view.sdkconfig(&self.project_dir),
                self.project_dir.join("dependencies.lock"),
            ]
        } else {
            Vec::new()
        };
        let glob_change = |p: &Path| glob_changed_by(&globs, p);
        let ninja = &view.ninja;
        let known = |p: &Path| ninja.knows(p);
        let ctx = classify::Context {
            project_dir: &self.project_dir,
            build_dirs,
            components: &components,
            config_files: &config_files,
            unchanged_content: unchanged,
            written_by_build: &written_by_build,
            sources: &sources,
            glob_change: &glob_change,
            known_to_ninja: &known,
        };
        let mut changes: Vec<PathChange> = d
            .paths
            .iter()
            .map(|(path, event)| {
                let (class, reason) = classify::classify(path, *event, &ctx);
                PathChange {
                    path: path.display().to_string(),
                    event: event.as_str().into(),
                    class,
                    reason,
                }
            })
            .collect();
        if d.rescan {
            changes.push(PathChange {
                path: self.project_dir.display().to_string(),
                event: "modified".into(),
                class: ChangeClass::Reconfigure,
                reason: "the system dropped file events: everything is checked again".into(),
            });
        }
        let (kind, class, reason) = if changes.is_empty() {
            let build_dir = view.build_dir(&self.project_dir);
            (
                PlanChangeKind::BuildDir,
                ChangeClass::Nothing,
                format!(
                    "a configure or a build finished in {}",
                    classify::display(&build_dir, &self.project_dir)
                ),
            )
        } else {
            let (class, reason) = classify::summarize(&changes);
            (PlanChangeKind::Changed, class, reason)
        };
        let quiet = kind == PlanChangeKind::Changed && class == ChangeClass::Nothing;
        // The changed files, and the directories whose entries changed.
        let mut touched: Vec<PathBuf> = d.paths.keys().cloned().collect();
        for (path, event) in &d.paths {
            if *event != PathEvent::Modified
                && let Some(parent) = path.parent()
            {
                touched.push(parent.to_path_buf());
            }
        }
        let last = view.last.clone();
        let (plan, diagnostics, replan_ms) = if quiet {
            view.unplanned.extend(touched);
            (
                last.as_ref().and_then(|l| l.plan.clone()),
                last.as_ref()
                    .map(|l| l.diagnostics.clone())
                    .unwrap_or_default(),
                0.0,
            )
        } else {
            let mut changed = std::mem::take(&mut view.unplanned);
            changed.extend(touched);
            changed.sort();
            changed.dedup();
            let started = Instant::now();
            // A configure or a build changes what the planner reads from the build directory
            // (its metadata): plan that from scratch.
            let replanned = if d.rescan || view.plan.is_none() || d.paths.is_empty() {
                (self.shared.plan)(&view.params, None)
            } else {
                (self.shared.plan)(&view.params, Some(&changed))
            };
            match replanned {
                Ok(plan) => {
                    let s = summary(&plan);
                    let diagnostics = plan.errors.clone();
                    view.set_plan(plan);
                    (Some(s), diagnostics, ms(started))
                }
                Err(e) => {
                    tracing::info!(project = %self.project_dir.display(), "re-plan failed: {}", e.message);
                    (None, vec![failure_diagnostic(&e)], ms(started))
                }
            }
        };
        let (cost, cost_note, predict_ms) = if quiet {
            (
                last.as_ref().and_then(|l| l.cost.clone()),
                last.as_ref().and_then(|l| l.cost_note.clone()),
                0.0,
            )
        } else {
            let changed: Vec<PathBuf> = changes
                .iter()
                .filter(|c| c.class != ChangeClass::Nothing && c.event != "removed")
                .map(|c| PathBuf::from(&c.path))
                .collect();
            let started = Instant::now();
            let (cost, note) = predict(&self.project_dir, view, &changed);
            (cost, note, ms(started))
        };
        view.sequence += 1;
        let n = Arc::new(PlanChanged {
            sequence: view.sequence,
            kind,
            project_dir: self.project_dir.display().to_string(),
            class,
            reason,
            paths: d.paths.keys().map(|p| p.display().to_string()).collect(),
            changes,
            plan,
            diagnostics,
            cost,
            cost_note,
            watch: status.clone(),
            replan_ms,
            predict_ms,
        });
        view.last = Some(n.clone());
        let _ = view.sender.send(n);
    }

    fn project_removed(&self, st: &mut State) {
        st.removed = true;
        let status = self.status();
        for view in st.views.values_mut() {
            view.sequence += 1;
            let n = Arc::new(PlanChanged {
                sequence: view.sequence,
                kind: PlanChangeKind::Removed,
                project_dir: self.project_dir.display().to_string(),
                class: ChangeClass::Nothing,
                reason: format!("{} was deleted: the watch ends", self.project_dir.display()),
                paths: vec![self.project_dir.display().to_string()],
                changes: Vec::new(),
                plan: None,
                diagnostics: Vec::new(),
                cost: None,
                cost_note: None,
                watch: status.clone(),
                replan_ms: 0.0,
                predict_ms: 0.0,
            });
            view.last = Some(n.clone());
            let _ = view.sender.send(n);
        }
        // Subscribers see the channel close after the notification: their subscriptions end,
        // which releases the watch.
        st.views.clear();
        st.fs = None;
        let reserved = std::mem::take(&mut st.reserved);
        self.shared
            .budget_used
            .fetch_sub(reserved, Ordering::SeqCst);
        tracing::info!(project = %self.project_dir.display(), "watched project deleted");
    }

    /// Makes the watched roots match the views' plans: the project, component directories
    /// outside it, the build directories (flat, for their markers), configuration files elsewhere.
    fn sync_roots(&self, st: &mut State) {
        let build_dirs: Vec<PathBuf> = st
            .views
            .values()
            .map(|v| v.build_dir(&self.project_dir))
            .chain([self.project_dir.join("build")])
            .collect();
        let mut trees: Vec<PathBuf> = vec![self.project_dir.clone()];
        for view in st.views.values() {
            for c in view.components() {
                if !c.dir.starts_with(&self.project_dir) {
                    trees.push(c.dir);
                }
            }
        }
        trees.sort();
        trees.dedup();
        let trees = group_siblings(trees, &self.project_dir);
        let mut trees = trees;
        // Drop trees inside other trees.
        let all = trees.clone();
        trees.retain(|t| !all.iter().any(|o| o != t && t.starts_with(o)));
        let mut flats: Vec<PathBuf> = build_dirs.iter().filter(|b| b.is_dir()).cloned().collect();
        for view in st.views.values() {
            for f in view.config_files(&self.project_dir) {
                if let Some(parent) = f.parent()
                    && !trees.iter().any(|t| parent.starts_with(t))
                    && parent.is_dir()
                {
                    flats.push(parent.to_path_buf());
                }
            }
        }
        flats.sort();
        flats.dedup();
        let exclusions = Exclusions {
            build_dirs: &build_dirs,
        };
        let mut wanted = Roots::default();
        let current = st.fs.as_ref().map(|f| f.roots.clone()).unwrap_or_default();
        for tree in &trees {
            let known = current
                .recursive
                .iter()
                .chain(&current.flat)
                .any(|r| r == tree)
                || current.recursive.iter().any(|r| tree.starts_with(r));
            if !known {
                wanted.extend(if *tree == self.project_dir {
                    fs::layout_project(tree, &exclusions)
                } else {
                    fs::layout(tree, &exclusions)
                });
            }
        }
        for flat in &flats {
            if !current.flat.contains(flat)
                && !current.recursive.iter().any(|r| flat.starts_with(r))
            {
                wanted.extend(Roots {
                    flat: vec![flat.clone()],
                    dirs: 1,
                    ..Roots::default()
                });
            }
        }
        if let Some(fs) = st.fs.as_mut() {
            let keep = |root: &Path| {
                trees.iter().any(|t| root.starts_with(t)) || flats.iter().any(|f| f == root)
            };
            fs.retain(&keep);
        }
        if wanted.recursive.is_empty() && wanted.flat.is_empty() {
            if st.fs.is_some() {
                self.update_status(st);
            }
            return;
        }
        self.add_roots(st, wanted);
    }

    /// Adds roots to the watch, starting it if needed, within the daemon's budget of native
    /// watches; past it (or past the system's limit) the whole project is polled instead.
    fn add_roots(&self, st: &mut State, roots: Roots) {
        let native = st.fs.as_ref().is_none_or(FsWatch::is_native);
        if native {
            let needed = roots.native_cost();
            if !self.reserve(needed) {
                let used = self.shared.budget_used.load(Ordering::SeqCst);
                let total = st.fs.as_ref().map(|f| f.roots.native_cost()).unwrap_or(0) + needed;
                let note = limit_note(Some((total, self.shared.budget_max, used - st.reserved)));
                let mut all = st.fs.take().map(|f| f.roots).unwrap_or_default();
                all.extend(roots);
                self.start_polling(st, all, note);
                return;
            }
            st.reserved += needed;
            let result = match st.fs.as_mut() {
                Some(fs) => fs.add(roots.clone()),
                None => FsWatch::native(roots.clone(), self.timing(), self.sender.clone())
                    .map(|w| st.fs = Some(w)),
            };
            if let Err(e) = result {
                let note = if fs::is_limit_error(&e) {
                    limit_note(None)
                } else {
                    format!("the native watch failed ({e}); polling instead")
                };
                let mut all = st.fs.take().map(|f| f.roots).unwrap_or_default();
                all.extend(roots);
                self.start_polling(st, all, note);
                return;
            }
        } else if let Some(fs) = st.fs.as_mut()
            && let Err(e) = fs.add(roots)
        {
            tracing::warn!(project = %self.project_dir.display(), "cannot poll more paths: {e}");
        }
        self.update_status(st);
    }

    fn fall_back_to_polling(&self, st: &mut State, note: String) {
        let roots = st.fs.take().map(|f| f.roots).unwrap_or_default();
        self.start_polling(st, roots, note);
    }

    fn start_polling(&self, st: &mut State, roots: Roots, note: String) {
        st.fs = None;
        let reserved = std::mem::take(&mut st.reserved);
        self.shared
            .budget_used
            .fetch_sub(reserved, Ordering::SeqCst);
        tracing::warn!(project = %self.project_dir.display(), "{note}");
        match FsWatch::polling(roots, self.timing(), self.sender.clone()) {
            Ok(w) => st.fs = Some(w),
            Err(e) => tracing::error!(project = %self.project_dir.display(), "cannot poll: {e}"),
        }
        *self.status.locked() = WatchStatus {
            mode: WatchMode::Polling,
            paths_watched: st
                .fs
                .as_ref()
                .map(|f| f.roots.dirs + f.roots.files)
                .unwrap_or(0),
            note: Some(note),
        };
    }

    fn update_status(&self, st: &State) {
        let mut status = self.status.locked();
        match st.fs.as_ref() {
            Some(fs) if fs.is_native() => {
                status.mode = WatchMode::Native;
                status.paths_watched = fs.roots.native_cost();
                status.note = None;
            }
            Some(fs) => {
                status.mode = WatchMode::Polling;
                status.paths_watched = fs.roots.dirs + fs.roots.files;
            }
            None => status.paths_watched = 0,
        }
    }

    fn reserve(&self, n: u64) -> bool {
        let budget = &self.shared.budget_used;
        let mut used = budget.load(Ordering::SeqCst);
        loop {
            if used + n > self.shared.budget_max {
                return false;
            }
            match budget.compare_exchange(used, used + n, Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => return true,
                Err(now) => used = now,
            }
        }
    }

    fn timing(&self) -> Timing {
        Timing {
            debounce: self.shared.settings.debounce,
            poll_interval: self.shared.settings.poll_interval,
        }
    }
}

/// The next build's cost for a view, or why there is none.
fn predict(
    project_dir: &Path,
    view: &mut View,
    changed: &[PathBuf],
) -> (Option<BuildCost>, Option<String>) {
    let build_dir = view.build_dir(project_dir);
    let Some(plan) = view.plan.as_ref() else {
        return (None, Some("no plan: the cost cannot be predicted".into()));
    };
    if !NinjaCache::configured(&build_dir) {
        return (
            None,
            Some(format!(
                "{} is not configured yet (no build.ninja): the first build configures it and \
                 compiles everything",
                classify::display(&build_dir, project_dir)
            )),
        );
    }
    let app_elf = format!("{}.elf", plan.project_name);
    match view.ninja.predict(&build_dir, changed, &app_elf) {
        Ok(cost) => (Some(cost), None),
        Err(e) => (None, Some(format!("cannot predict the build: {e}"))),
    }
}

/// Component directories outside the project that are most of their parent's subdirectories
/// (ESP-IDF's `components/`) are watched through that parent: one recursive watch request instead
/// of one per component, for a few more directories watched.
fn group_siblings(trees: Vec<PathBuf>, project_dir: &Path) -> Vec<PathBuf> {
    let mut by_parent: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
    let mut out = Vec::new();
    for t in trees {
        match t.parent() {
            Some(parent) if t != project_dir && !project_dir.starts_with(parent) => {
                by_parent.entry(parent.to_path_buf()).or_default().push(t)
            }
            _ => out.push(t),
        }
    }
    for (parent, children) in by_parent {
        let siblings = std::fs::read_dir(&parent)
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .count()
            })
            .unwrap_or(usize::MAX);
        if children.len() >= 4 && children.len() * 2 >= siblings {
            out.push(parent);
        } else {
            out.extend(children);
        }
    }
    out.sort();
    out
}

/// Files under a new directory (bounded).
fn files_under(dir: &Path, limit: usize) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            if out.len() >= limit {
                return out;
            }
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(_) => out.push(e.path()),
                Err(_) => {}
            }
        }
    }
    out
}

/// Why a project is polled, and what raises the limit. `budget`: (watches the project needs,
/// the daemon's limit, watches other projects hold) when the daemon's own budget decided.
fn limit_note(budget: Option<(u64, u64, u64)>) -> String {
    let system = std::fs::read_to_string(super::INOTIFY_LIMIT_FILE)
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let raise = "raise the limit with `sudo sysctl fs.inotify.max_user_watches=524288` (persist it \
                 in /etc/sysctl.d/), then restart espctld";
    match budget {
        Some((needed, max, others)) => format!(
            "polling: the project needs {needed} native watches but the daemon may use {max} \
             ({others} held by other watches; espctld --max-watches, default three quarters of \
             fs.inotify.max_user_watches = {system}); {raise}"
        ),
        None => format!(
            "polling: the system's inotify watch limit was reached (fs.inotify.max_user_watches = \
             {system}); {raise}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_bases_stop_before_the_first_wildcard() {
        assert_eq!(glob_base("/p/main/*.c"), Path::new("/p/main"));
        assert_eq!(glob_base("/p/src/*/x?.c"), Path::new("/p/src"));
        assert_eq!(glob_base("/p/a.c"), Path::new("/p"));
    }

    #[test]
    fn events_of_one_path_merge() {
        use PathEvent::*;
        assert_eq!(merge(Created, Modified), Created);
        assert_eq!(merge(Removed, Created), Modified);
        assert_eq!(merge(Modified, Removed), Removed);
    }

    #[test]
    fn limit_notes_name_the_sysctl() {
        let note = limit_note(Some((500, 10, 0)));
        assert!(note.contains("needs 500 native watches"), "{note}");
        assert!(
            note.contains("sysctl fs.inotify.max_user_watches="),
            "{note}"
        );
        assert!(limit_note(None).contains("inotify watch limit"));
    }
}
