//! `PipelineEvent`: the stream `espctl build --json` prints, one JSON object per line.
//!
//! Every object has an `event` member naming its variant. The stream ends with exactly one `manifest`
//! (success) or `error` (failure) event. Consumers must ignore event kinds and members they do not know,
//! so new ones can be added without a protocol bump.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::bundle::Manifest;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum PipelineEvent {
    /// The daemon accepted the work.
    Task { task_id: String, kind: String },
    /// A stage (`queued`, `bundling`, `cmake-configure`, `compiling`, `linking`, ...) began.
    StageStart { stage: String },
    /// A stage ended.
    StageEnd { stage: String, ok: bool },
    /// Overall progress, 0.0 to 1.0, within the current stage.
    Progress { stage: String, progress: f64 },
    /// One line of the task log.
    Log { line: String },
    /// A compiler or CMake diagnostic.
    Diagnostic {
        severity: String,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        line: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        column: Option<u32>,
    },
    /// Success: the bundle that was written and its manifest. Always the last event.
    Manifest {
        task_id: String,
        bundle_path: String,
        bundle_size_bytes: u64,
        manifest: Box<Manifest>,
    },
    /// Failure. Always the last event.
    Error {
        message: String,
        kind: String,
        exit_code: i32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hint: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        task_id: Option<String>,
    },
}
