//! The daemon's error type and its one conversion into a JSON-RPC error.

use espctl_protocol::{ErrorCode, ErrorData};
use jsonrpsee::types::ErrorObjectOwned;

/// An error a method returns to its caller: a code from the protocol, a message that says what went
/// wrong, and a hint that says what to do.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct DaemonError {
    pub code: ErrorCode,
    pub message: String,
    pub hint: Option<String>,
    /// The task that failed, when the work ran as one.
    pub task_id: Option<String>,
}

impl DaemonError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        DaemonError {
            code,
            message: message.into(),
            hint: None,
            task_id: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidInput, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }

    pub fn task_not_found(id: &str) -> Self {
        Self::new(ErrorCode::TaskNotFound, format!("no task with id {id}"))
            .with_hint("`espctl tasks` lists known tasks; old ones are pruned by retention")
    }

    pub fn exit_code(&self) -> i32 {
        self.code.exit_code()
    }
}

impl From<DaemonError> for ErrorObjectOwned {
    fn from(e: DaemonError) -> Self {
        let data = ErrorData {
            kind: e.code.name().to_string(),
            exit_code: e.code.exit_code(),
            hint: e.hint,
            task_id: e.task_id,
        };
        ErrorObjectOwned::owned(e.code.code(), e.message, Some(data))
    }
}

impl From<crate::store::StoreError> for DaemonError {
    fn from(e: crate::store::StoreError) -> Self {
        DaemonError::internal(format!("task store: {e}"))
            .with_hint("the daemon log (`espctl daemon logs`) has details")
    }
}
