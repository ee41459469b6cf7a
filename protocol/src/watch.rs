//! Watched projects: `project.watch` and its `plan.changed` notifications.
//!
//! A watch keeps a project open in the daemon. Every settled batch of file changes is classified
//! ([`ChangeClass`]), the project is re-planned, and, when a configured build directory exists, the
//! next build's cost is predicted from Ninja's own files ([`BuildCost`]).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::plan::{Exactness, PlanDiagnostic, Profile};

/// Params of `project.watch`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectWatchParams {
    /// The project directory (absolute).
    pub path: String,
    /// Chip, as for `generate_build_plan`; omit to use the project's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `debug` (default) or `release`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    /// The caller's environment (the variables of `plan::FORWARDED_ENV`), used for every re-plan.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
}

/// What a batch of changes means for the next build, from the most to the least expensive.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ChangeClass {
    /// CMake must run again: a CMakeLists.txt, a `.cmake` file, a Kconfig file, an sdkconfig
    /// file, an `idf_component.yml` or the project's espctl settings changed, or a file appeared
    /// or vanished where a SRC_DIRS or file(GLOB) looks (CMake would not notice that by itself).
    Reconfigure,
    /// Sources or headers changed: some objects compile again.
    Recompile,
    /// Only the link runs again (a linker fragment or script, a prebuilt library).
    RelinkOnly,
    /// Nothing the build depends on: editor temp files, `.git`, files outside every component.
    Nothing,
}

impl ChangeClass {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeClass::Reconfigure => "reconfigure",
            ChangeClass::Recompile => "recompile",
            ChangeClass::RelinkOnly => "relink_only",
            ChangeClass::Nothing => "nothing",
        }
    }
}

impl std::fmt::Display for ChangeClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a `plan.changed` notification was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlanChangeKind {
    /// The state when the watch started (the first notification of every subscription).
    Initial,
    /// Files of the project changed.
    Changed,
    /// A configure or a build finished in the build directory: the cost was predicted again.
    BuildDir,
    /// The project directory was deleted: the watch ends after this notification.
    Removed,
}

/// One changed path and what it means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PathChange {
    /// Absolute path.
    pub path: String,
    /// `created`, `modified` or `removed`.
    pub event: String,
    pub class: ChangeClass,
    pub reason: String,
}

/// The plan after the change, in short (`generate_build_plan` gives the whole of it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlanSummary {
    pub recipe_id: String,
    pub project_name: String,
    pub target: String,
    pub profile: Profile,
    pub build_dir: String,
    /// The ESP-IDF version of the install the plan uses, when one was found.
    pub idf_version: Option<String>,
    /// Components in the build.
    pub components: u32,
    pub exactness: Exactness,
    pub warnings: u32,
    pub errors: u32,
    /// Names of the steps a build would run now (`cmake-configure`, `ninja-build`, `bundle`...).
    pub steps: Vec<String>,
}

/// What the next `ninja` would do, predicted from `build.ninja`, `.ninja_deps`, `.ninja_log` and
/// file times, exactly as Ninja decides (header dependencies included).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BuildCost {
    /// Object files Ninja would compile.
    pub objects_to_rebuild: u32,
    /// Those objects, as Ninja names them (relative to the build directory), in build order.
    pub objects: Vec<String>,
    /// The components the objects belong to, sorted.
    pub components: Vec<String>,
    /// Whether the application ELF links again.
    pub relink: bool,
    /// Whether Ninja would first re-run CMake (its `build.ninja` is older than an input CMake
    /// recorded). `ninja -n` stops after that step; `objects` are then computed on the current
    /// `build.ninja`.
    pub reconfigure: bool,
    /// Every step Ninja would run (compiles, archives, links, generators).
    pub steps: u32,
    /// Estimated wall time of those steps, from their past durations in `.ninja_log`.
    pub estimated_secs: f64,
    /// What makes the prediction less certain.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// How a project's files are watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WatchMode {
    /// The operating system reports changes (inotify, FSEvents, ReadDirectoryChangesW).
    Native,
    /// The daemon scans the files periodically: the native watch limit was reached.
    Polling,
}

impl WatchMode {
    pub fn as_str(self) -> &'static str {
        match self {
            WatchMode::Native => "native",
            WatchMode::Polling => "polling",
        }
    }
}

/// The watch of a project, as `plan.changed`, `daemon.info` and `espctl status --project` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WatchStatus {
    pub mode: WatchMode,
    /// Directories (native mode: one watch each) or files (polling) being watched.
    pub paths_watched: u64,
    /// Why the watch polls, and how to let it be native again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A `plan.changed` notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlanChanged {
    /// Numbers the notifications of one watch, from 0 (the initial state).
    pub sequence: u64,
    pub kind: PlanChangeKind,
    pub project_dir: String,
    /// The most expensive class of the batch (`nothing` for `initial`, `build_dir` and `removed`).
    pub class: ChangeClass,
    /// Why, in words: the path that decided the class and what it means.
    pub reason: String,
    /// The changed paths (absolute).
    pub paths: Vec<String>,
    /// Each changed path with its own class and reason.
    pub changes: Vec<PathChange>,
    /// The plan after the change; null when planning failed or the project is gone.
    pub plan: Option<PlanSummary>,
    /// The plan's errors, or why planning failed.
    pub diagnostics: Vec<PlanDiagnostic>,
    /// The next build's cost; null without a configured build directory (`cost_note` says why).
    pub cost: Option<BuildCost>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_note: Option<String>,
    pub watch: WatchStatus,
    /// Time the daemon spent re-planning and predicting for this notification, in milliseconds.
    pub replan_ms: f64,
    pub predict_ms: f64,
}

/// One watched project in `daemon.info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct WatchedProject {
    pub project_dir: String,
    #[serde(flatten)]
    pub status: WatchStatus,
    /// Subscriptions following it.
    pub subscribers: u32,
    /// The (target, profile) views planned for its subscribers, as `target/profile`
    /// (`default` when the subscriber named no target).
    pub views: Vec<String>,
    /// The debounce, in milliseconds.
    pub debounce_ms: u64,
}

/// One line of `espctl watch --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum WatchEvent {
    /// A `plan.changed` notification, as the daemon sent it.
    PlanChanged(Box<PlanChanged>),
    /// `--build` started an incremental build after change `sequence`.
    BuildStarted { task_id: String, sequence: u64 },
    /// The daemon refused to start the build for change `sequence` (for example: the plan has
    /// errors); the watch goes on.
    BuildRefused { sequence: u64, error: String },
    /// A newer change made the running build stale: it was canceled.
    BuildCanceled {
        task_id: String,
        /// The change that superseded it.
        superseded_by: u64,
    },
    /// A build `--build` started ended.
    BuildFinished {
        task_id: String,
        /// `succeeded`, `failed` or `canceled`.
        status: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// The daemon ended the watch (the project was deleted, the daemon is stopping).
    Ended { reason: String },
}
