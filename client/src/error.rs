//! [`ClientError`]: everything that can go wrong between a client and the daemon.
//!
//! The one distinction every caller needs is *who* failed: the daemon answered with an error about the
//! work ([`ClientError::Daemon`], carrying the JSON-RPC code and the structured [`ErrorData`]), or the
//! daemon could not be reached, started or understood (every other variant). [`ClientError::exit_code`]
//! and [`ClientError::hint`] turn either into what a command-line tool reports.

use std::path::PathBuf;

use espctl_protocol::{ErrorCode, ErrorData};

/// An error from talking to `espctld`.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The daemon answered the call with a JSON-RPC error.
    #[error("{message}")]
    Daemon {
        /// The JSON-RPC error code; one of [`ErrorCode`] for the daemon's own errors.
        code: i32,
        message: String,
        /// The structured data the daemon attaches to its errors, if it parsed.
        data: Option<ErrorData>,
    },

    /// Nothing listens on the socket and starting the daemon was not asked for.
    #[error("espctld is not running (nothing listens on {})", socket.display())]
    NotRunning { socket: PathBuf },

    /// Connecting failed for another reason than "nothing listens" (permissions, a path that is not a
    /// socket, a path too long).
    #[error("cannot connect to espctld at {}: {source}", socket.display())]
    Connect {
        socket: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The daemon could not be started.
    #[error("{message}")]
    Start {
        message: String,
        /// How to find out more.
        hint: String,
    },

    /// The daemon speaks another protocol version than this client.
    #[error(
        "espctld at {} speaks protocol version {daemon}, but this espctl speaks version {client}",
        socket.display()
    )]
    VersionMismatch {
        socket: PathBuf,
        daemon: u32,
        client: u32,
    },

    /// The connection failed after it was established: the daemon went away, the WebSocket handshake
    /// failed, a request timed out.
    #[error("connection to espctld failed: {0}")]
    Transport(String),

    /// The daemon answered with something this client does not understand.
    #[error("unexpected answer from espctld: {0}")]
    Protocol(String),
}

impl ClientError {
    /// The process exit code a command-line tool reports for this error: the daemon's own choice for
    /// daemon errors (2 for configuration and invalid input, 1 for runtime failures), 2 for a version
    /// mismatch (an installation problem), 1 for everything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            ClientError::Daemon { code, data, .. } => data
                .as_ref()
                .map(|d| d.exit_code)
                .or_else(|| ErrorCode::from_code(*code).map(ErrorCode::exit_code))
                .unwrap_or(1),
            ClientError::VersionMismatch { .. } => 2,
            ClientError::NotRunning { .. }
            | ClientError::Connect { .. }
            | ClientError::Start { .. }
            | ClientError::Transport(_)
            | ClientError::Protocol(_) => 1,
        }
    }

    /// What the user can do about it, when there is something to say.
    pub fn hint(&self) -> Option<String> {
        match self {
            ClientError::Daemon { data, .. } => data.as_ref().and_then(|d| d.hint.clone()),
            ClientError::NotRunning { .. } => {
                Some("start it with `espctl daemon start` (any other command starts it too)".into())
            }
            ClientError::Connect { .. } => Some(
                "check the path given with --socket or ESPCTL_SOCKET; the socket's directory must \
                 belong to you"
                    .into(),
            ),
            ClientError::Start { hint, .. } => Some(hint.clone()),
            ClientError::VersionMismatch { .. } => Some(
                "restart the daemon so that it matches this espctl: \
                 `espctl daemon stop && espctl daemon start`"
                    .into(),
            ),
            ClientError::Transport(_) => {
                Some("see the daemon's log with `espctl daemon logs`".into())
            }
            ClientError::Protocol(_) => None,
        }
    }

    /// The task a daemon error belongs to, when the failed work ran as a task.
    pub fn task_id(&self) -> Option<String> {
        match self {
            ClientError::Daemon { data, .. } => data.as_ref().and_then(|d| d.task_id.clone()),
            _ => None,
        }
    }

    /// The stable snake_case kind: the daemon's [`ErrorData::kind`] for daemon errors, otherwise a
    /// client-side kind. Used in `--json` error objects.
    pub fn kind(&self) -> String {
        match self {
            ClientError::Daemon { code, data, .. } => data
                .as_ref()
                .map(|d| d.kind.clone())
                .or_else(|| ErrorCode::from_code(*code).map(|c| c.name().to_string()))
                .unwrap_or_else(|| "rpc".to_string()),
            ClientError::NotRunning { .. } => "not_running".into(),
            ClientError::Connect { .. } => "connect".into(),
            ClientError::Start { .. } => "daemon_start".into(),
            ClientError::VersionMismatch { .. } => "version_mismatch".into(),
            ClientError::Transport(_) => "transport".into(),
            ClientError::Protocol(_) => "protocol".into(),
        }
    }

    /// The daemon's error code, if this is a daemon error with one of [`ErrorCode`].
    pub fn error_code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Daemon { code, .. } => ErrorCode::from_code(*code),
            _ => None,
        }
    }
}

impl From<jsonrpsee::core::ClientError> for ClientError {
    fn from(err: jsonrpsee::core::ClientError) -> Self {
        use jsonrpsee::core::ClientError as E;
        match err {
            E::Call(obj) => ClientError::Daemon {
                code: obj.code(),
                message: obj.message().to_string(),
                data: obj
                    .data()
                    .and_then(|raw| serde_json::from_str::<ErrorData>(raw.get()).ok()),
            },
            E::ParseError(e) => ClientError::Protocol(e.to_string()),
            E::RequestTimeout => ClientError::Transport("the request timed out".into()),
            E::RestartNeeded(inner) => {
                ClientError::Transport(format!("the daemon went away ({inner})"))
            }
            other => ClientError::Transport(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonrpsee::types::ErrorObjectOwned;

    fn daemon_error(code: ErrorCode, hint: Option<&str>) -> ClientError {
        let data = ErrorData {
            kind: code.name().into(),
            exit_code: code.exit_code(),
            hint: hint.map(str::to_string),
            task_id: None,
        };
        ClientError::from(jsonrpsee::core::ClientError::Call(ErrorObjectOwned::owned(
            code.code(),
            "no task has id 0123",
            Some(data),
        )))
    }

    #[test]
    fn daemon_errors_keep_code_message_and_data() {
        let err = daemon_error(ErrorCode::TaskNotFound, Some("run `espctl tasks`"));
        assert_eq!(err.to_string(), "no task has id 0123");
        assert_eq!(err.exit_code(), 2);
        assert_eq!(err.hint().as_deref(), Some("run `espctl tasks`"));
        assert_eq!(err.kind(), "task_not_found");
        assert_eq!(err.error_code(), Some(ErrorCode::TaskNotFound));
        assert_eq!(daemon_error(ErrorCode::Runtime, None).exit_code(), 1);
    }

    #[test]
    fn errors_without_data_fall_back_to_the_code() {
        let err = ClientError::Daemon {
            code: ErrorCode::InvalidTarget.code(),
            message: "bad".into(),
            data: None,
        };
        assert_eq!(err.exit_code(), 2);
        assert_eq!(err.kind(), "invalid_target");
        let err = ClientError::Daemon {
            code: -32601,
            message: "Method not found".into(),
            data: None,
        };
        assert_eq!(err.exit_code(), 1);
        assert_eq!(err.kind(), "rpc");
    }

    #[test]
    fn connection_errors_exit_1_and_mismatch_exits_2() {
        let err = ClientError::NotRunning {
            socket: "/tmp/x.sock".into(),
        };
        assert_eq!(err.exit_code(), 1);
        assert!(err.hint().unwrap().contains("espctl daemon start"));
        let err = ClientError::VersionMismatch {
            socket: "/tmp/x.sock".into(),
            daemon: 7,
            client: 1,
        };
        assert_eq!(err.exit_code(), 2);
        let text = err.to_string();
        assert!(
            text.contains("version 7") && text.contains("version 1"),
            "{text}"
        );
        assert!(
            err.hint()
                .unwrap()
                .contains("espctl daemon stop && espctl daemon start")
        );
    }
}
