//! Flash bundles: `build.rust_elf` through the daemon against the same library call in-process.

use std::time::Instant;

use anyhow::Context as _;
use espctld::bundle::{RustElfRequest, build_rust_elf_bundle, validate_rust_target};

use crate::harness::{Ctx, Figure, Outcome, Scenario, Unit};
use crate::rpc::{build_rust_elf_with, ws_client};
use crate::stats::{Samples, nanos};

pub const RUST_ELF_BUNDLE: Scenario = Scenario {
    name: "rust-elf-bundle",
    area: "bundle",
    measures: "wall time of build.rust_elf on examples/blink-c3/blink-c3.elf (esp32c3) through the \
               warm daemon, one persistent client, median and p90",
    baseline: "the in-process library call espctld::bundle::build_rust_elf_bundle with the same \
               request (the difference is the daemon's overhead: RPC, task bookkeeping, log file)",
    goal: "none; reports the daemon's overhead",
    run: rust_elf_bundle,
};

fn rust_elf_bundle(ctx: &mut Ctx) -> anyhow::Result<Outcome> {
    let runs = ctx.iters(20, 3);
    let elf = ctx.opts.elf.clone();
    let warm = ctx.warm()?;
    let socket = warm.daemon.socket().to_path_buf();
    let out_dir = tempfile::Builder::new()
        .prefix("espctl-bench-bundle")
        .tempdir()
        .context("cannot create a temp dir")?;
    let daemon_out = out_dir.path().join("daemon-flash-bundle.tar.gz");
    let request = RustElfRequest {
        elf_path: elf.clone(),
        target: validate_rust_target(Some("esp32c3"))?,
        out_path: Some(out_dir.path().join("library-flash-bundle.tar.gz")),
        flash_mode: None,
        flash_freq: None,
        flash_size: None,
        task_id: None,
    };
    let library = || -> anyhow::Result<u64> {
        let start = Instant::now();
        build_rust_elf_bundle(&request, &mut |_| {})
            .with_context(|| format!("bundling {} in-process", elf.display()))?;
        Ok(nanos(start.elapsed()))
    };

    let client = ctx.rt.block_on(ws_client(&socket))?;
    let daemon = || -> anyhow::Result<u64> {
        let start = Instant::now();
        ctx.rt
            .block_on(build_rust_elf_with(&client, &elf, &daemon_out))?;
        Ok(nanos(start.elapsed()))
    };

    // One of each untimed, then in turns.
    daemon()?;
    library()?;
    let mut ours = Vec::with_capacity(runs);
    let mut base = Vec::with_capacity(runs);
    for _ in 0..runs {
        ours.push(daemon()?);
        base.push(library()?);
    }
    let ours = Samples::from_nanos(ours);
    let base = Samples::from_nanos(base);
    let overhead_ms = (ours.median() as f64 - base.median() as f64) / 1e6;
    Ok(Outcome::default()
        .figure(Figure::time(
            "median",
            Unit::Millis,
            ours.median(),
            Some(base.median()),
        ))
        .figure(Figure::time(
            "p90",
            Unit::Millis,
            ours.percentile(90.0),
            Some(base.percentile(90.0)),
        ))
        .detail("runs", runs)
        .detail("daemon_overhead_median_ms", overhead_ms)
        .detail("ours", ours.summary_json())
        .detail("baseline", base.summary_json()))
}
