//! End-to-end tests: the real daemon on a real socket, the real CLI. One test binary, a module per area.

mod build;
mod clean;
mod cli;
mod daemon;
mod make;
mod mcp;
mod plan;
mod service_files;
mod standin;
mod tasks;
mod watch;
