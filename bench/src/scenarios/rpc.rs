//! The JSON-RPC path: `build.status` round trips over the daemon's socket, one client and many.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use std::borrow::Cow;

use espctl_protocol::task::{Diagnostic, TaskKind};
use espctl_protocol::{TaskInfo, TaskStatus};
use jsonrpsee::core::client::{Client, ClientT};
use serde_json::value::RawValue;

use crate::cpu;
use crate::echo::{self, EchoClient, EchoServer};
use crate::harness::{Ctx, Figure, Goal, Outcome, Scenario, Unit};
use crate::rpc::{LeanWsClient, task_params, ws_client};
use crate::stats::{Samples, nanos};

pub const STATUS_ROUNDTRIP: Scenario = Scenario {
    name: "status-roundtrip",
    area: "rpc",
    measures: "build.status round trip on one persistent WebSocket client, sequential calls after a \
               warm-up: p50 and p99",
    baseline: "raw Unix-socket echo (blocking threads), same request and response sizes, same count",
    goal: "p99 <= 200 µs",
    run: status_roundtrip,
};

/// The 64 clients are [`LeanWsClient`]s: each its own connection to the daemon's socket, its own
/// blocking thread, doing real JSON-RPC `build.status` calls over WebSocket, one in flight, and
/// parsing and checking every answer (JSON-RPC envelope and id, then the whole `TaskInfo`: the
/// seed task, succeeded). They are lean so that the clients, which share the cores with the daemon,
/// cost as little CPU as a client can: a call is one write and usually one read, with no async
/// runtime or request bookkeeping of a general-purpose client in between.
pub const CONCURRENT_64: Scenario = Scenario {
    name: "concurrent-64",
    area: "rpc",
    measures: "64 WebSocket clients (lean blocking JSON-RPC clients, one thread and connection each) \
               x 1,000 build.status calls each, all at once, every answer parsed and checked: \
               per-call p50/p99 and total throughput",
    baseline: "raw Unix-socket echo with 64 concurrent clients, same sizes and counts",
    goal: "p99 <= 2 ms",
    run: concurrent_64,
};

/// Clients of `concurrent-64` (and of the load `daemon-idle-rss` applies).
pub const CONCURRENT_CLIENTS: usize = 64;

/// Interleaved blocks: the RPC and the echo samples are taken in turns, so a burst of background load
/// hits both alike.
const BLOCKS: usize = 10;

/// The sizes of a `build.status` request and response on the wire (JSON text, without WebSocket
/// framing), for the echo baseline.
fn wire_sizes(task_id: &str, info: &serde_json::Value) -> (usize, usize) {
    let request = serde_json::json!({
        "jsonrpc": "2.0", "id": 1000, "method": "build.status", "params": {"task_id": task_id}
    });
    let response = serde_json::json!({"jsonrpc": "2.0", "id": 1000, "result": info});
    (request.to_string().len(), response.to_string().len())
}

/// One `build.status` call, checked once for the task's presence and answer.
async fn status(client: &Client, task_id: &str) -> anyhow::Result<TaskInfo> {
    Ok(client
        .request::<TaskInfo, _>("build.status", task_params(task_id))
        .await?)
}

/// Asks once, checks the answer, and returns the wire sizes of the exchange.
async fn probe(client: &Client, task_id: &str) -> anyhow::Result<(usize, usize)> {
    let info: serde_json::Value = client
        .request("build.status", task_params(task_id))
        .await
        .context("build.status")?;
    if info["status"] != "succeeded" {
        bail!("the seed task is {} instead of succeeded", info["status"]);
    }
    Ok(wire_sizes(task_id, &info))
}

fn status_roundtrip(ctx: &mut Ctx) -> anyhow::Result<Outcome> {
    let n = ctx.iters(10_000, 1_000);
    let warmup = ctx.iters(1_000, 100);
    let warm = ctx.warm()?;
    let socket = warm.daemon.socket().to_path_buf();
    let task_id = warm.task_id.clone();
    let daemon_pid = warm.daemon.pid()?;

    // The CLI's shape: a current-thread runtime, the client's I/O task on the same thread.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (ours, base, sizes, cpu) = rt.block_on(async {
        let client = ws_client(&socket).await?;
        let (req_len, resp_len) = probe(&client, &task_id).await?;
        let server = EchoServer::start(resp_len)?;
        let mut echo_client = EchoClient::connect(server.path(), req_len)?;
        for _ in 0..warmup {
            let info = status(&client, &task_id).await?;
            if info.status != TaskStatus::Succeeded {
                bail!("build.status answered {} for the seed task", info.status);
            }
            echo_client.round_trip()?;
        }
        let mut ours = Vec::with_capacity(n);
        let mut base = Vec::with_capacity(n);
        let per_block = n.div_ceil(BLOCKS);
        // The client runs on this thread alone; the daemon is idle while the echo runs.
        let mut client_cpu = Duration::ZERO;
        let daemon_cpu_before = cpu::process(daemon_pid)?;
        while ours.len() < n {
            let count = per_block.min(n - ours.len());
            let cpu_before = cpu::this_thread();
            for _ in 0..count {
                let start = Instant::now();
                status(&client, &task_id).await?;
                ours.push(nanos(start.elapsed()));
            }
            client_cpu += cpu::this_thread().saturating_sub(cpu_before);
            base.extend(echo_client.timed(count)?);
        }
        let daemon_cpu = cpu::process(daemon_pid)?.saturating_sub(daemon_cpu_before);
        anyhow::Ok((ours, base, (req_len, resp_len), (client_cpu, daemon_cpu)))
    })?;
    let ours = Samples::from_nanos(ours);
    let base = Samples::from_nanos(base);
    Ok(Outcome::default()
        .figure(Figure::time(
            "p50",
            Unit::Micros,
            ours.median(),
            Some(base.median()),
        ))
        .figure(
            Figure::time(
                "p99",
                Unit::Micros,
                ours.percentile(99.0),
                Some(base.percentile(99.0)),
            )
            .goal(Goal::AtMost(200.0)),
        )
        .detail("calls", n)
        .detail("warmup_calls", warmup)
        .detail("client_cpu_us_per_call", cpu::us_per_call(cpu.0, n))
        .detail("daemon_cpu_us_per_call", cpu::us_per_call(cpu.1, n))
        .note(format!(
            "status-roundtrip: CPU per call: daemon {:.1} µs, client {:.1} µs",
            cpu::us_per_call(cpu.1, n),
            cpu::us_per_call(cpu.0, n)
        ))
        .detail("request_bytes", sizes.0)
        .detail("response_bytes", sizes.1)
        .detail("ours", ours.summary_json())
        .detail("baseline", base.summary_json()))
}

/// The result of a concurrent `build.status` load.
pub struct LoadResult {
    pub samples: Vec<u64>,
    pub wall: Duration,
    /// CPU time of the whole bench process (the clients) during the timed part.
    pub client_cpu: Duration,
    /// CPU time of the daemon during the timed part, when its pid was given.
    pub daemon_cpu: Option<Duration>,
}

impl LoadResult {
    pub fn throughput(&self) -> f64 {
        self.samples.len() as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

/// A `build.status` answer as the load's clients read it: every field of a [`TaskInfo`] with its
/// type checked, borrowing the text where it can. The task's `result` (the JSON the starting method
/// documents, here a bundle manifest) is checked to be JSON but not built into a tree.
#[derive(serde::Deserialize)]
#[allow(dead_code)] // Read to check the answer's shape; the load looks at the id and status only.
struct StatusView<'a> {
    #[serde(borrow)]
    task_id: Cow<'a, str>,
    kind: TaskKind,
    status: TaskStatus,
    progress: f64,
    #[serde(borrow)]
    phase: Cow<'a, str>,
    created_at: i64,
    started_at: Option<i64>,
    updated_at: i64,
    finished_at: Option<i64>,
    #[serde(borrow)]
    error: Option<Cow<'a, str>>,
    exit_code: Option<i32>,
    #[serde(borrow)]
    title: Cow<'a, str>,
    #[serde(borrow)]
    result: Option<&'a RawValue>,
    #[serde(default)]
    diagnostics: Vec<Diagnostic>,
}

/// `clients` [`LeanWsClient`]s, each on its own thread and connection, calling `build.status` on
/// `task_id` `per_client` times each, all released together after `warmup` untimed calls each. Every
/// answer must be the task, succeeded. With `daemon_pid`, the daemon's CPU time over the timed part
/// is read too.
pub fn concurrent_status_load(
    socket: &Path,
    task_id: &str,
    clients: usize,
    per_client: usize,
    warmup: usize,
    daemon_pid: Option<u32>,
) -> anyhow::Result<LoadResult> {
    let params = serde_json::json!({ "task_id": task_id }).to_string();
    let gate = Arc::new(std::sync::Barrier::new(clients + 1));
    // Every connection first, so a failure leaves no thread waiting at the gate.
    let connected = (0..clients)
        .map(|_| LeanWsClient::connect(socket))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut threads = Vec::with_capacity(clients);
    for mut client in connected {
        let gate = gate.clone();
        let params = params.clone();
        let task_id = task_id.to_string();
        let thread = std::thread::Builder::new()
            .name("status-client".into())
            .stack_size(256 * 1024)
            .spawn(move || -> anyhow::Result<Vec<u64>> {
                let mut call = || -> anyhow::Result<()> {
                    let info: StatusView<'_> = client.call_as("build.status", &params)?;
                    if info.task_id != task_id || info.status != TaskStatus::Succeeded {
                        bail!(
                            "build.status answered task {} {} for the seed task {task_id}",
                            info.task_id,
                            info.status
                        );
                    }
                    Ok(())
                };
                let warm = (0..warmup).try_for_each(|_| call());
                gate.wait();
                warm?;
                let mut samples = Vec::with_capacity(per_client);
                for _ in 0..per_client {
                    let start = Instant::now();
                    call()?;
                    samples.push(nanos(start.elapsed()));
                }
                Ok(samples)
            })
            .context("cannot start a client thread")?;
        threads.push(thread);
    }
    gate.wait();
    let start = Instant::now();
    let client_cpu_before = cpu::this_process();
    let daemon_cpu_before = daemon_pid.map(cpu::process).transpose()?;
    let mut samples = Vec::with_capacity(clients * per_client);
    for t in threads {
        samples.extend(
            t.join()
                .map_err(|_| anyhow::anyhow!("a client thread panicked"))??,
        );
    }
    let wall = start.elapsed();
    let client_cpu = cpu::this_process().saturating_sub(client_cpu_before);
    let daemon_cpu = match (daemon_pid, daemon_cpu_before) {
        (Some(pid), Some(before)) => Some(cpu::process(pid)?.saturating_sub(before)),
        _ => None,
    };
    Ok(LoadResult {
        samples,
        wall,
        client_cpu,
        daemon_cpu,
    })
}

fn concurrent_64(ctx: &mut Ctx) -> anyhow::Result<Outcome> {
    let per_client = ctx.iters(1_000, 50);
    let warmup = ctx.iters(20, 5);
    let warm = ctx.warm()?;
    let socket = warm.daemon.socket().to_path_buf();
    let task_id = warm.task_id.clone();
    let daemon_pid = warm.daemon.pid()?;

    let (req_len, resp_len) = ctx.rt.block_on(async {
        let client = ws_client(&socket).await?;
        probe(&client, &task_id).await
    })?;
    let ours = concurrent_status_load(
        &socket,
        &task_id,
        CONCURRENT_CLIENTS,
        per_client,
        warmup,
        Some(daemon_pid),
    )?;
    let server = EchoServer::start(resp_len)?;
    let (base_samples, base_wall) = echo::concurrent(
        server.path(),
        req_len,
        CONCURRENT_CLIENTS,
        per_client,
        warmup,
    )?;
    drop(server);
    let base_tp = base_samples.len() as f64 / base_wall.as_secs_f64().max(1e-9);
    let ours_tp = ours.throughput();
    let calls = ours.samples.len();
    let client_cpu = cpu::us_per_call(ours.client_cpu, calls);
    let daemon_cpu = ours.daemon_cpu.map(|c| cpu::us_per_call(c, calls));
    let ours_s = Samples::from_nanos(ours.samples);
    let base_s = Samples::from_nanos(base_samples);
    Ok(Outcome::default()
        .figure(Figure::time(
            "p50",
            Unit::Micros,
            ours_s.median(),
            Some(base_s.median()),
        ))
        .figure(
            Figure::time(
                "p99",
                Unit::Micros,
                ours_s.percentile(99.0),
                Some(base_s.percentile(99.0)),
            )
            .goal(Goal::AtMost(2_000.0)),
        )
        .figure(Figure::new(
            "throughput",
            Unit::PerSec,
            ours_tp,
            Some(base_tp),
        ))
        .detail("clients", CONCURRENT_CLIENTS)
        .detail("calls_per_client", per_client)
        .detail("warmup_calls_per_client", warmup)
        .detail("request_bytes", req_len)
        .detail("response_bytes", resp_len)
        .detail("ours_wall_ms", ours.wall.as_secs_f64() * 1e3)
        .detail("baseline_wall_ms", base_wall.as_secs_f64() * 1e3)
        .detail("client_cpu_us_per_call", client_cpu)
        .detail("daemon_cpu_us_per_call", daemon_cpu)
        .note(format!(
            "concurrent-64: CPU per call: daemon {}, the 64 clients {client_cpu:.1} µs (all on the \
             same cores); mean latency = clients / throughput",
            daemon_cpu
                .map(|c| format!("{c:.1} µs"))
                .unwrap_or_else(|| "unknown".into())
        ))
        .detail("ours", ours_s.summary_json())
        .detail("baseline", base_s.summary_json()))
}
