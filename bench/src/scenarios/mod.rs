//! The registry: every scenario, one module per area.
//!
//! To add a scenario, define a `pub const NAME: Scenario` in the module of its area (a new module for
//! a new area) and add one line to [`SCENARIOS`]. They run in this order; scenarios that use the
//! shared warm daemon ([`crate::harness::Ctx::warm`]) come first so it is started once.

use crate::harness::Scenario;

pub mod build;
pub mod bundle;
pub mod cli;
pub mod lifecycle;
pub mod mcp;
pub mod plan;
pub mod rpc;
pub mod watch;

/// Every scenario, in run order.
pub static SCENARIOS: &[Scenario] = &[
    rpc::STATUS_ROUNDTRIP,
    rpc::CONCURRENT_64,
    cli::CLI_STATUS_WALL,
    bundle::RUST_ELF_BUNDLE,
    mcp::MCP_SHIM,
    lifecycle::DAEMON_COLD_START,
    lifecycle::DAEMON_IDLE_RSS,
    plan::PLAN_COLD,
    plan::PLAN_REPLAN,
    plan::PLAN_REPLAN_CMAKELISTS,
    plan::CLEAN_PLAN_20K,
    build::BUILD_OVERHEAD_300,
    build::BUILD_NOOP,
    build::BUILD_CANCEL,
    build::BUILD_LOG_100K,
    watch::WATCH_SAVE_LATENCY,
    watch::WATCH_REPLAN,
    watch::WATCH_SETUP,
    watch::WATCH_RSS,
    watch::WATCH_PREDICT_NINJA,
];

/// The scenario called `name`.
pub fn find(name: &str) -> Option<&'static Scenario> {
    SCENARIOS.iter().find(|s| s.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_well_formed() {
        let mut names: Vec<&str> = SCENARIOS.iter().map(|s| s.name).collect();
        for name in &names {
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{name}"
            );
        }
        names.sort();
        names.dedup();
        assert_eq!(names.len(), SCENARIOS.len(), "duplicate scenario names");
    }

    #[test]
    fn every_scenario_is_documented_in_the_readme() {
        let readme = include_str!("../../README.md");
        for s in SCENARIOS {
            assert!(
                readme.contains(&format!("`{}`", s.name)),
                "bench/README.md does not document {}",
                s.name
            );
        }
    }
}
