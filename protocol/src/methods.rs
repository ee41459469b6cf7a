//! One marker type per method, tying the method's wire name to its params and result types.
//!
//! Type names follow the method names: `build.status` is [`BuildStatus`], with [`BuildStatusParams`] and a
//! result of [`TaskInfo`]. Subscriptions name the notification they send instead of a result.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::bundle::Manifest;
use crate::log::LogChunk;
use crate::plan::{
    BuildOverrides, BuildPlan, BuildPlanParams, CleanPlan, CleanPlanParams, Profile,
    SetTargetParams, SetTargetResult,
};
use crate::task::{TaskId, TaskInfo, TaskKind, TaskStatus};

/// A method of the catalog.
pub trait Method {
    /// The wire name.
    const NAME: &'static str;
    type Params: Serialize + DeserializeOwned + JsonSchema;
    /// For a call, its result; for a subscription, the payload of each notification.
    type Result: Serialize + DeserializeOwned + JsonSchema;
}

macro_rules! method {
    ($(#[$doc:meta])* $marker:ident, $name:literal, $params:ty, $result:ty) => {
        $(#[$doc])*
        pub enum $marker {}
        impl Method for $marker {
            const NAME: &'static str = $name;
            type Params = $params;
            type Result = $result;
        }
    };
}

/// Params of a method that takes none. Accepts `{}`, `[]` or no params at all.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

// ---------------------------------------------------------------------------------------------
// daemon.*

method!(
    /// `daemon.info`: what this daemon is and what it speaks.
    DaemonInfo, "daemon.info", NoParams, DaemonInfoResult
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DaemonInfoResult {
    /// The daemon's crate version.
    pub version: String,
    /// [`crate::PROTOCOL_VERSION`] of the daemon.
    pub protocol_version: u32,
    pub pid: u32,
    pub uptime_secs: u64,
    /// The socket it listens on.
    pub socket: String,
    /// Where it keeps its state and logs.
    pub data_dir: String,
    /// Every method name it answers, aliases included.
    pub methods: Vec<String>,
    /// Tasks that are pending or running right now.
    pub active_tasks: u32,
    /// Seconds of inactivity before the daemon exits by itself; 0 when disabled.
    pub idle_timeout_secs: u64,
    /// True when the listening socket was handed over by a service manager (socket activation).
    pub socket_activated: bool,
    /// Projects open through `project.watch`, with how each is watched.
    #[serde(default)]
    pub watched_projects: Vec<crate::watch::WatchedProject>,
}

method!(
    /// `daemon.shutdown`: drain and exit.
    DaemonShutdown, "daemon.shutdown", NoParams, DaemonShutdownResult
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DaemonShutdownResult {
    /// Always true: the daemon stops accepting work and exits once running tasks are canceled.
    pub shutting_down: bool,
    /// Tasks that were still running and are being canceled.
    pub canceling_tasks: u32,
}

// ---------------------------------------------------------------------------------------------
// task.*

method!(
    /// `task.list`: tasks, newest first.
    TaskList, "task.list", TaskListParams, TaskListResult
);

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskListParams {
    /// Only tasks in one of these states.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub status: Vec<TaskStatus>,
    /// Only tasks of one of these kinds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kind: Vec<TaskKind>,
    /// At most this many (default 50, at most 10000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TaskListResult {
    pub tasks: Vec<TaskInfo>,
}

method!(
    /// `task.subscribe`: a `task.status` notification on every change of one task, or of all tasks.
    TaskSubscribe, "task.subscribe", TaskSubscribeParams, TaskInfo
);

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskSubscribeParams {
    /// One task; omit to follow every task. The current state of the task is sent at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<TaskId>,
}

// ---------------------------------------------------------------------------------------------
// build.*

/// Params of the methods that address one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskIdParams {
    /// The id `build`, `build.rust_elf` or `task.list` returned.
    pub task_id: TaskId,
}

method!(
    /// `build.status`: the state of any task.
    BuildStatus, "build.status", TaskIdParams, TaskInfo
);

method!(
    /// `build.cancel`: stop a pending or running task.
    BuildCancel, "build.cancel", TaskIdParams, BuildCancelResult
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BuildCancelResult {
    pub task_id: TaskId,
    /// `canceled`, or the final status the task had already reached.
    pub status: TaskStatus,
}

method!(
    /// `build.log`: replay a task's log from an offset, then follow it until the task ends.
    BuildLog, "build.log", BuildLogParams, LogChunk
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BuildLogParams {
    pub task_id: TaskId,
    /// First line to send (0-based, default 0).
    #[serde(default)]
    pub offset: u64,
}

method!(
    /// `build.log_read`: a bounded range of log lines.
    BuildLogRead, "build.log_read", BuildLogReadParams, LogChunk
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BuildLogReadParams {
    pub task_id: TaskId,
    /// First line (0-based). Omit it to read the last `limit` lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// At most this many lines (default 1000, at most 10000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

method!(
    /// `build.rust_elf`: a flash bundle from a Rust no_std ELF.
    BuildRustElf, "build.rust_elf", BuildRustElfParams, BuildRustElfResult
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BuildRustElfParams {
    /// Absolute path of the ELF (relative paths are taken from the daemon's view and are refused).
    pub elf_path: String,
    /// Chip: esp32, esp32s2, esp32s3, esp32c2, esp32c3, esp32c6 or esp32h2. Default esp32s3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Where to write the bundle. Default: `<elf basename without .elf>-flash-bundle.tar.gz` next to the ELF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_path: Option<String>,
    /// `qio`, `qout`, `dio` (default) or `dout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flash_mode: Option<String>,
    /// For example `40mhz` or `80mhz` (default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flash_freq: Option<String>,
    /// `1mb` to `128mb`; default `16mb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flash_size: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BuildRustElfResult {
    pub bundle_path: String,
    pub bundle_size_bytes: u64,
    pub manifest: Manifest,
    pub task_id: TaskId,
}

// ---------------------------------------------------------------------------------------------
// Planning

method!(
    /// `generate_build_plan`: what a build would do, without doing it.
    GenerateBuildPlan, "generate_build_plan", BuildPlanParams, BuildPlan
);

method!(
    /// `get_clean_plan`: what `idf.py clean` or `fullclean` would delete, without deleting.
    GetCleanPlan, "get_clean_plan", CleanPlanParams, CleanPlan
);

method!(
    /// `set_target`: record the project's default target in `.espctl.toml` (configuration only).
    SetTarget, "set_target", SetTargetParams, SetTargetResult
);

method!(
    /// `project.watch`: keep a project open; a `plan.changed` notification after every settled
    /// batch of changes (the first one carries the current state).
    ProjectWatch, "project.watch", crate::watch::ProjectWatchParams, crate::watch::PlanChanged
);

// ---------------------------------------------------------------------------------------------
// Builds

method!(
    /// `build.start` (alias `build`): start an ESP-IDF project build; returns at once.
    BuildStart, "build.start", BuildStartParams, BuildStartResult
);

/// Params of `build.start`: those of `generate_build_plan`, plus what to keep.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BuildStartParams {
    /// The project directory (absolute).
    pub path: String,
    /// Chip (esp32, esp32s2, esp32s3, esp32c2, esp32c3, esp32c5, esp32c6, esp32c61, esp32h2, esp32p4).
    /// Omit it to use the project's default_target, then the configured one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `debug` (default: build/, sdkconfig) or `release` (build-release/, sdkconfig.release).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    /// Pin an ESP-IDF version; written to `.idf-version` when the project has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idf_version: Option<String>,
    /// Full clean first.
    #[serde(default)]
    pub clean: bool,
    #[serde(default)]
    pub params: BuildOverrides,
    /// Also write an SPDX SBOM to `<build_dir>/sbom.spdx`.
    #[serde(default)]
    pub sbom: bool,
    /// Keep a copy of the unstripped app ELF in the daemon's artifact store (`build.elf` fetches it).
    #[serde(default)]
    pub elf: bool,
    /// Run without network access inside the sandbox.
    #[serde(default)]
    pub no_network: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
}

impl BuildStartParams {
    /// The plan this build executes.
    pub fn plan_params(&self) -> BuildPlanParams {
        BuildPlanParams {
            path: self.path.clone(),
            target: self.target.clone(),
            profile: self.profile,
            idf_version: self.idf_version.clone(),
            clean: self.clean,
            params: self.params.clone(),
            env: self.env.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BuildStartResult {
    pub task_id: TaskId,
    /// `pending` (waiting for its build dir or a free slot) or `running`.
    pub status: TaskStatus,
}

/// The result of a successful build task (`build.status` → `result`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BuildResult {
    pub project_dir: String,
    pub project_name: String,
    pub target: String,
    pub profile: Profile,
    pub build_dir: String,
    pub idf_version: String,
    /// The ESP-IDF tree the build used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idf_path: Option<String>,
    pub recipe_id: String,
    /// The app ELF, `.bin` files, the map file, flasher_args.json and project_description.json that exist.
    pub artifacts: Vec<String>,
    /// The flash bundle, when the recipe makes one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle_size_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<crate::bundle::Manifest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sbom_path: Option<String>,
    /// Where the retained ELF is kept, when `elf` was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retained_elf: Option<String>,
    /// `bubblewrap` or `none`.
    pub sandbox: String,
    /// The C compiler the build used, and the first line of its `--version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compiler: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compiler_version: Option<String>,
    pub duration_secs: f64,
    /// The steps that ran, with their durations.
    pub steps: Vec<StepReport>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct StepReport {
    pub name: String,
    pub duration_secs: f64,
}

method!(
    /// `set_target.run`: idf.py set-target as a task.
    SetTargetRun, "set_target.run", SetTargetRunParams, SetTargetRunResult
);

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetTargetRunParams {
    /// The project directory (absolute).
    pub path: String,
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SetTargetRunResult {
    pub task_id: TaskId,
    pub target: String,
    /// Always `idf_set_target`.
    pub recipe_id: String,
}

method!(
    /// `sbom.create`: an SPDX SBOM for a finished, successful build task.
    SbomCreate, "sbom.create", TaskIdParams, SbomCreateResult
);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SbomCreateResult {
    pub task_id: TaskId,
    /// `<build_dir>/sbom.spdx`.
    pub sbom_path: String,
    /// Packages in the document: the project, each component, the toolchain.
    pub packages: u32,
}

method!(
    /// `build.elf`: copy a retained application ELF out of the artifact store.
    BuildElf, "build.elf", BuildElfParams, BuildElfResult
);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BuildElfParams {
    pub task_id: TaskId,
    /// Where to write it (absolute). Default: the retained file's own path is returned and nothing is copied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_path: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BuildElfResult {
    pub task_id: TaskId,
    pub path: String,
    pub size_bytes: u64,
}
