//! The espctl client library: the one way programs reach the `espctld` daemon.
//!
//! The daemon owns all state and all work; a client connects, forwards requests and renders answers.
//! This crate holds what every client shares:
//!
//! - [`connect`]: resolve the socket (`--socket`, `ESPCTL_SOCKET`, the per-user default), connect, and
//!   start the daemon when nothing listens ([`connect::open`], single-flight across racing clients).
//! - [`Client`]: a JSON-RPC connection with typed calls over the protocol's
//!   [`Method`](espctl_protocol::Method) markers ([`Client::call`], [`Client::subscribe`]); it checks the
//!   daemon's protocol version when it connects.
//! - [`mcp`]: `espctl mcp`, the Model Context Protocol server on stdio that assistants use.
//! - [`raw`]: an untyped WebSocket to the daemon, for bridges that forward JSON-RPC frames verbatim.
//! - [`service`]: the systemd and launchd files that run the daemon as a user service.
//! - [`ClientError`]: daemon errors (with their code and [`ErrorData`](espctl_protocol::ErrorData))
//!   kept apart from connection errors, each with an exit code and a hint.
//!
//! ```no_run
//! use espctl::{Client, ConnectOptions};
//! use espctl_protocol::methods::{TaskList, TaskListParams};
//!
//! # async fn run() -> Result<(), espctl::ClientError> {
//! let client = Client::connect(&ConnectOptions::resolve(None)).await?;
//! let tasks = client.call::<TaskList>(&TaskListParams::default()).await?;
//! println!("{} tasks", tasks.tasks.len());
//! # Ok(())
//! # }
//! ```

pub mod client;
pub mod connect;
pub mod error;
pub mod mcp;
pub mod raw;
pub mod service;

pub use client::{Client, Subscription};
pub use connect::ConnectOptions;
pub use error::ClientError;
