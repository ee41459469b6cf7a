//! espctld: the espctl daemon.
//!
//! It owns everything long-lived in firmware work and answers JSON-RPC 2.0 on a local socket:
//! - [`server`]: the socket, the single-instance lock, socket activation, the accept loop, idle and drain;
//! - [`rpc`]: one handler per method of `espctl_protocol::catalog()`;
//! - [`tasks`]: the life of every long job (status, progress, cancel), backed by [`store`] (SQLite)
//!   and [`logs`] (one append-only file per task);
//! - [`bundle`]: flash bundles, and merged images from Rust no_std ELFs;
//! - [`proc`]: process groups, so nothing a task starts outlives it;
//! - [`watch`]: watched projects, re-planned on every save, with the next build's cost.
pub mod build;
pub mod bundle;
pub mod error;
pub mod logs;
pub mod ninja;
pub mod proc;
pub mod project;
pub mod rpc;
pub mod sandbox;
pub mod server;
pub mod store;
pub mod sync;
pub mod tasks;
pub mod watch;
