//! Task logs: append-only, one per task, addressed by line number.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::task::{TaskId, TaskStatus};

/// A run of consecutive log lines. Returned by `build.log_read` and sent by `build.log` notifications.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LogChunk {
    pub task_id: TaskId,
    /// Line number (0-based) of `lines[0]`.
    pub offset: u64,
    /// The lines, without their line terminators.
    pub lines: Vec<String>,
    /// Line number to ask for next.
    pub next_offset: u64,
    /// Total number of lines the log holds right now.
    pub total_lines: u64,
    /// True when the task has finished and `next_offset` is the end of the log: nothing more will come.
    pub eof: bool,
    /// The task's status when the chunk was read.
    pub status: TaskStatus,
}
