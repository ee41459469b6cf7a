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
