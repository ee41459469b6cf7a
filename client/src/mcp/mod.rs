//! `espctl mcp`: a Model Context Protocol server on stdio that forwards everything to `espctld`.
//!
//! The shim holds no state of its own and no tool logic. What an assistant sees is derived from the
//! protocol's method catalog ([`espctl_protocol::catalog`]):
//!
//! - **Tools** ([`tools`]): every catalog method with [`Audience::Tool`](espctl_protocol::catalog::Audience),
//!   under its name and each of its aliases, with the catalog's description and its params and result
//!   JSON Schemas as `inputSchema` and `outputSchema`. Administrative methods and subscriptions are
//!   never tools. A method the catalog marks as a tool tomorrow is a tool tomorrow, with no change here.
//! - **Resources** ([`resources`]): every subscription with a `resource_template` is an MCP resource
//!   template. `resources/read` calls the subscription's reader (the catalog method named
//!   `<subscription>_read`, for example `build.log_read`); `resources/subscribe` opens the daemon's
//!   subscription and sends `notifications/resources/updated` while it delivers, until the daemon ends
//!   it (for a log: when the task ends).
//! - **Calls** ([`call`]): arguments are forwarded as the method's params, the daemon's result comes
//!   back as `structuredContent` plus a short text summary, and daemon errors come back as `isError`
//!   results with the daemon's message and hint. Only protocol misuse (an unknown tool, arguments that
//!   are not an object, malformed JSON-RPC) is a JSON-RPC error.
//!
//! What the shim adds on top of forwarding, and nothing else:
//!
//! - Project-scoped tools take `path`, the absolute project directory (an assistant has no meaningful
//!   working directory). Methods whose params have an `env` member get the shim's own values of
//!   [`FORWARDED_ENV`](espctl_protocol::plan::FORWARDED_ENV) there, as the CLI forwards its caller's
//!   environment; `env` is therefore not part of their input schema.
//! - `wait_secs` on the tools that start a task ([`call::WAITABLE`]): block up to that long for the task
//!   to finish (following the daemon's `task.subscribe`), then return the task's `build.status`. While
//!   it waits, a call carrying a `progressToken` gets the daemon's `task.status` changes as MCP progress
//!   notifications.
//! - Planning mode ([`call::Planning`]): when `CONTROL_BASE_URL` is set, `build` returns the build plan
//!   with `"status": "planning"` and the reason, and starts nothing.
//!
//! The daemon is started on demand exactly as `espctl` starts it ([`crate::connect::open`]). The shim
//! answers `initialize` and `tools/list` without it, so an assistant always sees the tools; when the
//! daemon cannot be reached or started, each tool call returns an `isError` result that says why and
//! what to do.
//!
//! # Why not an MCP SDK crate
//!
//! The MCP framing on stdio is newline-delimited JSON-RPC 2.0, a few hundred lines here ([`wire`],
//! [`server`]). The Rust SDK (rmcp) is built around tools declared one by one as typed Rust functions;
//! a catalog-driven server would bypass that layer and implement its handler trait by hand anyway
//! (dynamic `tools/list`, `tools/call` by name, resource templates, subscriptions, progress forwarding),
//! while taking on its dependency tree, its compile time and its own schedule for protocol versions.
//! Doing the framing here keeps the four negotiated protocol versions, their differences (structured
//! output exists from 2025-06-18 on) and the start-up time (the `initialize` answer does not wait for
//! anything) under this crate's control and tested by the official Python SDK (`tests/mcp/`).

pub mod call;
pub mod daemon;
pub mod resources;
pub mod server;
pub mod summary;
pub mod tools;
pub mod wire;

use std::path::Path;

pub use server::serve;

/// The name `serverInfo` reports.
pub const SERVER_NAME: &str = "espctl";

/// The version `serverInfo` reports: this crate's.
pub const SERVER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// An MCP protocol revision this server negotiates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProtocolVersion {
    V2024_11_05,
    V2025_03_26,
    V2025_06_18,
    V2025_11_25,
}

impl ProtocolVersion {
    /// Every supported revision, oldest first.
    pub const ALL: [ProtocolVersion; 4] = [
        ProtocolVersion::V2024_11_05,
        ProtocolVersion::V2025_03_26,
        ProtocolVersion::V2025_06_18,
        ProtocolVersion::V2025_11_25,
    ];

    /// The newest supported revision: the answer to a client asking for one this server does not know.
    pub const LATEST: ProtocolVersion = ProtocolVersion::V2025_11_25;

    pub fn as_str(self) -> &'static str {
        match self {
            ProtocolVersion::V2024_11_05 => "2024-11-05",
            ProtocolVersion::V2025_03_26 => "2025-03-26",
            ProtocolVersion::V2025_06_18 => "2025-06-18",
            ProtocolVersion::V2025_11_25 => "2025-11-25",
        }
    }

    pub fn parse(text: &str) -> Option<ProtocolVersion> {
        Self::ALL.into_iter().find(|v| v.as_str() == text)
    }

    /// The revision to answer a client that asked for `requested`: the same one when supported, else
    /// the latest (the client then decides whether it can speak it).
    pub fn negotiate(requested: &str) -> ProtocolVersion {
        Self::parse(requested).unwrap_or(Self::LATEST)
    }

    /// `structuredContent` in tool results and `outputSchema` on tools exist from 2025-06-18 on.
    pub fn has_structured_output(self) -> bool {
        self >= ProtocolVersion::V2025_06_18
    }

    /// Progress notifications carry a `message` from 2025-03-26 on.
    pub fn has_progress_message(self) -> bool {
        self >= ProtocolVersion::V2025_03_26
    }
}

/// `espctl mcp`: serve MCP on this process's stdin and stdout until stdin closes, talking to the daemon
/// on `socket` (started when it is not running). Returns the exit code (0).
pub async fn run(socket: &Path) -> anyhow::Result<i32> {
    let options = crate::ConnectOptions::new(socket.to_path_buf());
    serve(
        tokio::io::stdin(),
        tokio::io::stdout(),
        server::Config::from_env(options),
    )
    .await?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_negotiate_to_themselves_or_the_latest() {
        for v in ProtocolVersion::ALL {
            assert_eq!(ProtocolVersion::negotiate(v.as_str()), v);
        }
        assert_eq!(
            ProtocolVersion::negotiate("1999-01-01"),
            ProtocolVersion::V2025_11_25
        );
        assert_eq!(ProtocolVersion::negotiate(""), ProtocolVersion::LATEST);
        assert!(!ProtocolVersion::V2025_03_26.has_structured_output());
        assert!(ProtocolVersion::V2025_06_18.has_structured_output());
        assert!(!ProtocolVersion::V2024_11_05.has_progress_message());
    }
}
