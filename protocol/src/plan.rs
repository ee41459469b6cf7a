//! Build and clean plans: what a build or a clean would do, without doing it.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One step of a command pipeline: a process the build runs, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PipelineStep {
    /// Short stable name: `fullclean`, `set-target`, `cmake-configure`, `ninja-build`, `make`, `bundle`...
    pub name: String,
    /// The program and its arguments. Internal steps the daemon performs itself (deleting files,
    /// writing the bundle) have an argv starting with `espctld:` and are not spawned.
    pub argv: Vec<String>,
    /// Working directory (absolute).
    pub cwd: String,
    /// Environment variables the step adds to the build environment.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Why the step is needed, for example `build.ninja missing` or `CMakeLists.txt changed since last configure`.
    pub reason: String,
}

/// `idf.py clean` or `idf.py fullclean`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CleanScope {
    /// What `ninja clean` removes: built outputs (generator outputs kept) and CMake's additional clean files.
    Clean,
    /// The whole build directory's contents.
    Fullclean,
}

/// What a clean would delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CleanPlan {
    pub scope: CleanScope,
    /// Paths relative to the project directory, de-duplicated, sorted. Directories end with `/`.
    pub would_delete: Vec<String>,
    /// Files (not directories) that would be deleted, counting those inside listed directories.
    pub total_files: u64,
    /// Their total size in bytes.
    pub total_bytes: u64,
}

/// `debug` (the default) or `release`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    #[default]
    Debug,
    Release,
}

impl Profile {
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Debug => "debug",
            Profile::Release => "release",
        }
    }
}

/// Recipe-specific overrides (`params` of `build`, `generate_build_plan`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BuildOverrides {
    /// Extra CMake cache entries, passed as `-D<KEY>=<VALUE>` to the configure step.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub cmake_cache: BTreeMap<String, String>,
    /// sdkconfig overrides (`CONFIG_` prefix optional), applied on top of the project's configuration
    /// for this build.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sdkconfig: BTreeMap<String, String>,
    /// Build directory, relative to the project or absolute. Default `build` (debug) or
    /// `build-release` (release), unless `.espctl.toml` says otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_dir: Option<String>,
    /// Parallel jobs for Ninja or make (default: Ninja's own choice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jobs: Option<u32>,
}

/// The names of the caller-environment variables clients forward (IDF_CCACHE_ENABLE too: ESP-IDF's
/// switch for ccache).
pub const FORWARDED_ENV: [&str; 7] = [
    "IDF_PATH",
    "IDF_TOOLS_PATH",
    "IDF_TARGET",
    "ESPPORT",
    "ESPBAUD",
    "PATH",
    "IDF_CCACHE_ENABLE",
];

/// Params of `generate_build_plan` (and, later, of `build`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BuildPlanParams {
    /// The project directory (absolute).
    pub path: String,
    /// Chip; see the target precedence in the documentation. Omit to use the project's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    /// Pin an ESP-IDF version (`v5.3.1`, `5.3`); default from `.idf-version`, then `.espctl.toml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idf_version: Option<String>,
    /// Plan a full clean first.
    #[serde(default)]
    pub clean: bool,
    #[serde(default)]
    pub params: BuildOverrides,
    /// The caller's environment, the variables of [`FORWARDED_ENV`] (clients send them; the daemon
    /// never uses its own environment for resolving the IDF, the target or tools).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
}

/// Where a value of the plan came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Sourced {
    pub value: String,
    /// For example `param`, `.espctl.toml`, `sdkconfig`, `build dir`, `IDF_TARGET`, `sdkconfig.defaults`, `default`.
    pub source: String,
}

/// The ESP-IDF version the plan uses and the install that provides it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IdfVersionResolved {
    /// The version asked for (pin), if any.
    pub requested: Option<String>,
    /// Where the request came from: `param`, `.idf-version`, `.espctl.toml` or `daemon default`.
    pub requested_from: Option<String>,
    /// The version of the install found (`5.3.1`), or null when none was found.
    pub version: Option<String>,
    /// The install's IDF_PATH.
    pub idf_path: Option<String>,
    /// How the install was found: `IDF_PATH`, `eim_idf.json`, `~/esp`, `daemon config`.
    pub found_via: Option<String>,
    /// Other installs found, with their versions.
    #[serde(default)]
    pub installed: Vec<IdfInstall>,
    /// Why no install could be used (none found, or the pinned version is not installed), with what
    /// to do about it. A build refuses to start while this is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IdfInstall {
    pub path: String,
    pub version: Option<String>,
    pub found_via: String,
}

/// Where a component comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ComponentSource {
    Idf,
    Extra,
    Project,
    Managed,
}

/// One component of the build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlanComponent {
    pub name: String,
    pub dir: String,
    pub source: ComponentSource,
    /// Declared public requirements (as in ESP-IDF's build_component_info; common ones are listed once
    /// in `common_requirements`).
    pub reqs: Vec<String>,
    pub priv_reqs: Vec<String>,
    /// Source files (absolute).
    pub sources: Vec<String>,
    /// Public include dirs (absolute).
    pub include_dirs: Vec<String>,
    /// Other copies of a component with this name that lost to this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shadowed: Vec<String>,
    /// The CMakeLists.txt (or component.mk) the component was read from.
    pub file: String,
    /// What first pulled the component into the build; null for a root (every component is a root
    /// unless COMPONENTS trims the build).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_by: Option<RequiredBy>,
}

/// An edge of the requirement graph: `component` requires this one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RequiredBy {
    pub component: String,
    /// `REQUIRES`, `PRIV_REQUIRES` or `common requirement`.
    pub kind: String,
}

/// A warning or error about the plan, with its place when there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlanDiagnostic {
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

/// `configured` when the plan came from fresh build metadata, `estimated` otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Exactness {
    Configured,
    Estimated,
}

/// The result of `generate_build_plan`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BuildPlan {
    /// `idf-cmake`, `idf-make` or `rust-elf`.
    pub recipe_id: String,
    pub project_dir: String,
    pub project_name: String,
    pub idf_version_resolved: IdfVersionResolved,
    pub target: String,
    /// Which rule chose the target.
    pub target_source: String,
    pub profile: Profile,
    pub build_dir: String,
    /// The steps a build runs, in order.
    pub command_pipeline: Vec<PipelineStep>,
    /// Files the build produces (absolute).
    pub expected_artifacts: Vec<String>,
    /// Components of the build, in build order.
    // Shared (`Arc`): a re-plan hands out the components that did not change without copying
    // them. The JSON is the same as for plain values.
    pub components: Vec<std::sync::Arc<PlanComponent>>,
    /// The requirements every component has implicitly.
    pub common_requirements: Vec<String>,
    /// Component names, dependencies first (ESP-IDF's BUILD_COMPONENTS order).
    pub build_order: Vec<String>,
    /// Requirement cycles, each as the full path `a -> b -> ... -> a`.
    #[serde(default)]
    pub cycles: Vec<Vec<String>>,
    pub warnings: Vec<PlanDiagnostic>,
    /// Problems a build would stop on (an unknown requirement, an unsupported target). A plan with
    /// errors is still returned so that it can be inspected; `build` refuses it.
    pub errors: Vec<PlanDiagnostic>,
    pub exactness: Exactness,
    /// Configuration symbols whose values were guessed (from defaults files or Kconfig defaults
    /// rather than from the project's sdkconfig).
    pub guessed_config: Vec<String>,
    /// From past runs of this project, target and profile; null with `estimate_note` saying why.
    pub estimated_duration_secs: Option<f64>,
    pub estimate_note: String,
    /// The caller environment the plan used.
    pub environment: BTreeMap<String, String>,
    /// The sandbox the build's steps would run in: `bubblewrap` or `none` (then `warnings` says why).
    #[serde(default)]
    pub sandbox: String,
}

/// Params of `get_clean_plan`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CleanPlanParams {
    /// The project directory (absolute).
    pub path: String,
    /// `clean` (default) or `fullclean`.
    #[serde(default = "default_scope")]
    pub scope: CleanScope,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    #[serde(default)]
    pub params: BuildOverrides,
    /// The caller's environment, the variables of [`FORWARDED_ENV`] (clients send them; the daemon
    /// never uses its own environment for resolving the IDF, the target or tools).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
}

fn default_scope() -> CleanScope {
    CleanScope::Clean
}

/// Params of `set_target`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetTargetParams {
    /// The project directory (absolute).
    pub path: String,
    pub target: String,
}

/// Result of `set_target`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SetTargetResult {
    pub target: String,
    /// The file that records it (`<path>/.espctl.toml`).
    pub config_file: String,
    /// The target previously recorded there, if any.
    pub previous: Option<String>,
}
