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

/// The last message of a subscription the daemon ends by itself (for example `build.log` once the task
/// has finished and every line was sent). It arrives as the `error` member of a notification, the
/// JSON-RPC convention clients (jsonrpsee among them) use to close a subscription:
/// `{"method": "build.log", "params": {"subscription": ID, "error": {"ended": true, "reason": "..."}}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SubscriptionEnded {
    /// Always true.
    pub ended: bool,
    /// Why it ended, for example `task finished`.
    pub reason: String,
}
