//! Error codes and the structured data every daemon error carries.
//!
//! Codes follow JSON-RPC 2.0: the standard ones (-32700 to -32600) for protocol misuse, and our own in the
//! server-error range for failures of the work itself. Each error's `data` is an [`ErrorData`] telling
//! clients which exit code to use and what the user can do about it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The daemon's own error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[repr(i32)]
pub enum ErrorCode {
    /// Params that do not make sense: a missing file, a file of the wrong kind, conflicting options.
    InvalidInput = -32001,
    /// A target that does not exist or is not supported by the method.
    InvalidTarget = -32002,
    /// The environment or configuration prevents the work (a missing tool, a bad config file).
    Config = -32003,
    /// No task has the given id.
    TaskNotFound = -32004,
    /// The work was attempted and failed (a compile error, an I/O error while writing).
    Runtime = -32010,
    /// The daemon is shutting down and takes no new work.
    ShuttingDown = -32011,
    /// A bug or an unexpected state in the daemon.
    Internal = -32099,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 7] = [
        ErrorCode::InvalidInput,
        ErrorCode::InvalidTarget,
        ErrorCode::Config,
        ErrorCode::TaskNotFound,
        ErrorCode::Runtime,
        ErrorCode::ShuttingDown,
        ErrorCode::Internal,
    ];

    pub fn code(self) -> i32 {
        self as i32
    }

    pub fn from_code(code: i32) -> Option<ErrorCode> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }

    /// The process exit code a CLI uses for this error: 2 for configuration and invalid input, 1 otherwise.
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorCode::InvalidInput
            | ErrorCode::InvalidTarget
            | ErrorCode::Config
            | ErrorCode::TaskNotFound => 2,
            ErrorCode::Runtime | ErrorCode::ShuttingDown | ErrorCode::Internal => 1,
        }
    }

    /// A stable snake_case name, for `--json` output.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::InvalidInput => "invalid_input",
            ErrorCode::InvalidTarget => "invalid_target",
            ErrorCode::Config => "config",
            ErrorCode::TaskNotFound => "task_not_found",
            ErrorCode::Runtime => "runtime",
            ErrorCode::ShuttingDown => "shutting_down",
            ErrorCode::Internal => "internal",
        }
    }
}

/// The `data` member of every error the daemon returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorData {
    /// [`ErrorCode::name`].
    pub kind: String,
    /// Exit code for a CLI: 1 runtime failure, 2 configuration or invalid input.
    pub exit_code: i32,
    /// What the user can do about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The task the failure belongs to, when the work ran as a task (its log has the details).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
}
