//! `espctl mcp`, the MCP server on stdio, as an assistant's client drives it: a real shim process,
//! newline-delimited JSON-RPC on its pipes, the warm daemon behind it.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

use anyhow::{Context as _, bail};
use jsonrpsee::core::client::ClientT;
use serde_json::{Value, json};

use crate::harness::{Ctx, Figure, Goal, Outcome, Scenario, Unit};
use crate::rpc::{task_params, ws_client};
use crate::stats::{Samples, nanos};

pub const MCP_SHIM: Scenario = Scenario {
    name: "mcp-shim",
    area: "mcp",
    measures: "`espctl mcp` over its stdio pipes with the warm daemon: tools/call build.status round \
               trip through the shim (p50, p99), and shim start (spawn) to the initialize answer \
               (median, p90)",
    baseline: "round trip: the same build.status call straight to the daemon on a WebSocket client, \
               interleaved; start: spawning `espctl --version` to its exit, run for run",
    goal: "round trip p50 <= 2 ms; start to initialize median <= 50 ms",
    run: mcp_shim,
};

/// Interleaved blocks of shim calls and direct calls.
const BLOCKS: usize = 10;

/// The `initialize` request a client sends first.
const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"espctl-bench","version":"0"}}}"#;

/// A running shim with its pipes.
struct Shim {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    line: String,
}

impl Shim {
    fn spawn(
        espctl: &Path,
        socket: &Path,
        data_dir: &Path,
        espctld: &Path,
    ) -> anyhow::Result<Shim> {
        let mut child = Command::new(espctl)
            .arg("mcp")
            .env(espctl_protocol::ENV_SOCKET, socket)
            .env(espctl_protocol::ENV_HOME, data_dir)
            .env(espctl_protocol::ENV_DAEMON_BIN, espctld)
            .env_remove("CONTROL_BASE_URL")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot run {} mcp", espctl.display()))?;
        let stdin = child.stdin.take().context("no stdin pipe")?;
        let stdout = BufReader::new(child.stdout.take().context("no stdout pipe")?);
        Ok(Shim {
            child,
            stdin,
            stdout,
            line: String::new(),
        })
    }

    /// Write one line; read lines until a response (notifications are skipped) and return it.
    fn exchange(&mut self, request: &str) -> anyhow::Result<&str> {
        self.stdin.write_all(request.as_bytes())?;
        self.stdin.write_all(b"\n")?;
        self.stdin.flush()?;
        loop {
            self.line.clear();
            if self.stdout.read_line(&mut self.line)? == 0 {
                bail!("espctl mcp closed its output");
            }
            // A notification carries a method; a response does not (checked cheaply, as text).
            if !self.line.contains("\"method\"") {
                return Ok(&self.line);
            }
        }
    }
}

impl Drop for Shim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn status_request(id: u64, task_id: &str) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
           "params": {"name": "build.status", "arguments": {"task_id": task_id}}})
    .to_string()
}

fn mcp_shim(ctx: &mut Ctx) -> anyhow::Result<Outcome> {
    let calls = ctx.iters(5_000, 200);
    let warmup = ctx.iters(500, 20);
    let starts = ctx.iters(20, 3);
    let bins = ctx.opts.bins.clone();
    let warm = ctx.warm()?;
    let socket = warm.daemon.socket().to_path_buf();
    let data_dir = warm.daemon.data_dir().to_path_buf();
    let task_id = warm.task_id.clone();
    let spawn = || Shim::spawn(&bins.espctl, &socket, &data_dir, &bins.espctld);

    // Round trips: one shim, one persistent direct client, taking turns in blocks.
    let mut shim = spawn()?;
    let init: Value = serde_json::from_str(shim.exchange(INITIALIZE)?)?;
    if init["result"]["serverInfo"]["name"] != "espctl" {
        bail!("unexpected initialize answer: {init}");
    }
    let answer: Value = serde_json::from_str(shim.exchange(&status_request(1, &task_id))?)?;
    if answer["result"]["isError"] != false
        || answer["result"]["structuredContent"]["status"] != "succeeded"
    {
        bail!("tools/call build.status through the shim answered {answer}");
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = rt.block_on(ws_client(&socket))?;
    let direct = |task_id: &str| -> anyhow::Result<()> {
        let info: Value = rt.block_on(client.request("build.status", task_params(task_id)))?;
        if info["status"] != "succeeded" {
            bail!("build.status answered {info}");
        }
        Ok(())
    };
    let mut id = 2;
    for _ in 0..warmup {
        shim.exchange(&status_request(id, &task_id))?;
        id += 1;
        direct(&task_id)?;
    }
    let mut ours = Vec::with_capacity(calls);
    let mut base = Vec::with_capacity(calls);
    let per_block = calls.div_ceil(BLOCKS);
    while ours.len() < calls {
        let count = per_block.min(calls - ours.len());
        for _ in 0..count {
            let request = status_request(id, &task_id);
            id += 1;
            let start = Instant::now();
            let answer = shim.exchange(&request)?;
            ours.push(nanos(start.elapsed()));
            if !answer.contains("\"isError\":false") {
                bail!("tools/call build.status failed through the shim: {answer}");
            }
        }
        for _ in 0..count {
            let start = Instant::now();
            direct(&task_id)?;
            base.push(nanos(start.elapsed()));
        }
    }
    drop(shim);

    // Start-up: spawn to the initialize answer, against spawning `espctl --version` to its exit.
    // One untimed start first, so the binary is in the page cache for every timed run alike.
    let mut shim = spawn()?;
    shim.exchange(INITIALIZE)?;
    drop(shim);
    let mut start_ours = Vec::with_capacity(starts);
    let mut start_base = Vec::with_capacity(starts);
    for _ in 0..starts {
        let start = Instant::now();
        let mut shim = spawn()?;
        let answer = shim.exchange(INITIALIZE)?;
        start_ours.push(nanos(start.elapsed()));
        if !answer.contains("\"protocolVersion\":\"2025-11-25\"") {
            bail!("unexpected initialize answer: {answer}");
        }
        drop(shim);

        let start = Instant::now();
        let status = Command::new(&bins.espctl)
            .arg("--version")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .context("cannot run espctl --version")?;
        start_base.push(nanos(start.elapsed()));
        anyhow::ensure!(status.success(), "espctl --version exited with {status}");
    }

    let ours = Samples::from_nanos(ours);
    let base = Samples::from_nanos(base);
    let start_ours = Samples::from_nanos(start_ours);
    let start_base = Samples::from_nanos(start_base);
    Ok(Outcome::default()
        .figure(
            Figure::time(
                "status_p50",
                Unit::Micros,
                ours.median(),
                Some(base.median()),
            )
            .goal(Goal::AtMost(2000.0)),
        )
        .figure(Figure::time(
            "status_p99",
            Unit::Micros,
            ours.percentile(99.0),
            Some(base.percentile(99.0)),
        ))
        .figure(
            Figure::time(
                "start_median",
                Unit::Millis,
                start_ours.median(),
                Some(start_base.median()),
            )
            .goal(Goal::AtMost(50.0)),
        )
        .figure(Figure::time(
            "start_p90",
            Unit::Millis,
            start_ours.percentile(90.0),
            Some(start_base.percentile(90.0)),
        ))
        .note(format!(
            "mcp-shim: the shim adds {:.0} µs to a build.status call at the median",
            (ours.median() as f64 - base.median() as f64) / 1e3
        ))
        .detail("calls", calls)
        .detail("warmup_calls", warmup)
        .detail("starts", starts)
        .detail("ours", ours.summary_json())
        .detail("baseline", base.summary_json())
        .detail("start_ours", start_ours.summary_json())
        .detail("start_baseline", start_base.summary_json()))
}
