//! The espctl wire protocol.
//!
//! This crate is the single catalog of everything that crosses the socket between `espctld` and its
//! clients (the `espctl` CLI, the `espctl mcp` shim and editors):
//!
//! - [`catalog`]: every JSON-RPC method once, with its name (spelled as the build-lifecycle spec spells
//!   it), aliases, description, JSON Schemas and whether it is exposed to assistants as an MCP tool.
//!   The daemon dispatches from it, the CLI calls through it and the MCP shim derives its tools from it.
//! - [`methods`]: one marker type per method ([`Method`]) tying its name to its params and result types.
//! - [`task`], [`bundle`], [`chip`], [`log`]: the value types those methods carry.
//! - [`error`]: the JSON-RPC error codes and the structured error data (exit code, hint).
//! - [`watch`]: watched projects, `plan.changed` notifications and `espctl watch --json` events.
//! - [`events`]: [`events::PipelineEvent`], the line-delimited event stream `espctl build --json` prints.
//!
//! It depends on no other workspace crate, so a third-party client can use it alone.

pub mod bundle;
pub mod catalog;
pub mod chip;
pub mod error;
pub mod events;
pub mod log;
pub mod methods;
pub mod paths;
pub mod plan;
pub mod task;
pub mod watch;

pub use catalog::{MethodKind, MethodSpec, catalog, find_method};
pub use chip::Chip;
pub use error::{ErrorCode, ErrorData};
pub use methods::Method;
pub use task::{TaskId, TaskInfo, TaskStatus};

/// The protocol version. A client refuses to talk to a daemon that speaks another one: bump it on every
/// incompatible change of a method, a type or a notification.
pub const PROTOCOL_VERSION: u32 = 1;

/// Environment variable that overrides where the daemon's socket lives.
pub const ENV_SOCKET: &str = "ESPCTL_SOCKET";
/// Environment variable that overrides the daemon's data directory (state, logs, artifacts).
pub const ENV_HOME: &str = "ESPCTL_HOME";
/// Environment variable that overrides which `espctld` binary a client starts.
pub const ENV_DAEMON_BIN: &str = "ESPCTLD_BIN";
