//! espctl-bench: benchmarks of the espctl daemon and CLI, each figure measured side by side with its
//! baseline in the same run.
//!
//! - [`scenarios`]: the registry, one module per area (`rpc`, `cli`, `lifecycle`, `bundle`);
//! - [`harness`]: what a scenario is and returns, and the context it runs in;
//! - [`daemon`], [`rpc`], [`echo`]: real daemons on temp sockets, clients, the raw-socket baseline;
//! - [`stats`]: percentiles over sorted samples; [`cpu`]: where the CPU time went; [`procs`]: a
//!   build's processes in the process table;
//! - [`report`]: the table and the JSON.
//!
//! Real figures need release builds: `cargo build --release --workspace && target/release/espctl-bench`.

pub mod bins;
pub mod cpu;
pub mod daemon;
pub mod echo;
pub mod harness;
pub mod procs;
pub mod report;
pub mod rpc;
pub mod scenarios;
pub mod standin;
pub mod stats;
pub mod trees;

use std::time::Instant;

use harness::{Ctx, Options, Scenario};
use report::ScenarioResult;

/// Runs `selected` in order and collects their results; a scenario that fails does not stop the
/// others. `progress` gets a line as each starts and ends.
pub fn run(
    opts: Options,
    selected: &[&'static Scenario],
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<Vec<ScenarioResult>> {
    let mut ctx = Ctx::new(opts)?;
    let mut results = Vec::with_capacity(selected.len());
    for scenario in selected {
        progress(&format!("running {} ...", scenario.name));
        let start = Instant::now();
        let outcome = (scenario.run)(&mut ctx).map_err(|e| format!("{e:#}"));
        let seconds = start.elapsed().as_secs_f64();
        match &outcome {
            Ok(_) => progress(&format!("  {} done in {seconds:.1} s", scenario.name)),
            Err(e) => progress(&format!(
                "  {} FAILED after {seconds:.1} s: {e}",
                scenario.name
            )),
        }
        results.push(ScenarioResult {
            scenario,
            outcome,
            seconds,
        });
    }
    Ok(results)
}

/// The machine's facts for the header: cores, CPU model, load average.
pub fn machine() -> (usize, String, Vec<f64>) {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    (cores, cpu, loadavg())
}

/// The 1, 5 and 15 minute load averages (empty when unknown).
pub fn loadavg() -> Vec<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| {
            s.split_whitespace()
                .take(3)
                .filter_map(|v| v.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}
