//! `espctl mcp`, the MCP server on stdio, against the real daemon: the `tools/list` snapshot (the
//! catalog-to-tool mapping), protocol versions, protocol misuse, cancellation, start-up without a
//! daemon, and the official MCP Python SDK driving it (`tests/mcp/test_mcp.py`).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use espctl_protocol::catalog::{Audience, MethodKind, catalog};
use espctl_tests::{TestDaemon, copy_fixture, espctl_bin, espctld_bin, repo_path, standin_env};
use serde_json::{Value, json};

/// How long one answer may take (debug builds on a busy machine).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `espctl mcp` with its pipes.
struct Shim {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    next_id: u64,
    /// Notifications received while waiting for responses.
    notifications: Vec<Value>,
}

impl Shim {
    /// `espctl mcp` talking to `daemon`.
    fn start(daemon: &TestDaemon) -> Shim {
        Shim::start_with(&[
            ("ESPCTL_SOCKET", daemon.socket.as_os_str()),
            ("ESPCTL_HOME", daemon.data_dir.as_os_str()),
        ])
    }

    fn start_with(env: &[(&str, &std::ffi::OsStr)]) -> Shim {
        let mut cmd = Command::new(espctl_bin());
        cmd.arg("mcp")
            .env("ESPCTLD_BIN", espctld_bin())
            .env_remove("CONTROL_BASE_URL")
            .env_remove("MCP_AUTH_SECRET")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn espctl mcp");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Shim {
            child,
            stdin,
            lines,
            next_id: 1,
            notifications: Vec::new(),
        }
    }

    fn send_line(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").expect("write to espctl mcp");
        self.stdin.flush().unwrap();
    }

    fn send(&mut self, message: &Value) {
        self.send_line(&message.to_string());
    }

    fn next_message(&mut self, timeout: Duration) -> Option<Value> {
        let line = self.lines.recv_timeout(timeout).ok()?;
        Some(serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}")))
    }

    /// The next message that is not a notification; notifications are kept.
    fn response(&mut self) -> Value {
        let deadline = Instant::now() + ANSWER_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = self
                .next_message(left)
                .expect("espctl mcp did not answer in time");
            if message.get("method").is_some() {
                self.notifications.push(message);
            } else {
                return message;
            }
        }
    }

    /// Send a request and return the whole response message.
    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let response = self.response();
        assert_eq!(response["id"], id, "{response}");
        response
    }

    /// A request that must succeed; its result.
    fn call(&mut self, method: &str, params: Value) -> Value {
        let response = self.request(method, params);
        assert!(response.get("error").is_none(), "{method}: {response}");
        response["result"].clone()
    }

    fn initialize(&mut self, version: &str) -> Value {
        let result = self.call(
            "initialize",
            json!({"protocolVersion": version, "capabilities": {},
                   "clientInfo": {"name": "espctl-tests", "version": "0"}}),
        );
        self.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        result
    }

    fn tool(&mut self, name: &str, arguments: Value) -> Value {
        self.call("tools/call", json!({"name": name, "arguments": arguments}))
    }
}

impl Drop for Shim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn text_of(result: &Value) -> String {
    result["content"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `tools/list` output, compared with `tests/it/snapshots/mcp-tools.json` (refresh with
/// UPDATE_SNAPSHOTS=1): the whole catalog-to-tool mapping, names, descriptions and schemas.
#[test]
fn tools_list_matches_the_snapshot() {
    let daemon = TestDaemon::start();
    let mut shim = Shim::start(&daemon);
    shim.initialize("2025-11-25");
    let listed = shim.call("tools/list", json!({}));
    let got = serde_json::to_string_pretty(&listed).unwrap() + "\n";
    let file = repo_path("tests/it/snapshots/mcp-tools.json");
    if std::env::var("UPDATE_SNAPSHOTS").as_deref() == Ok("1") {
        std::fs::write(&file, &got).unwrap();
    } else {
        let want = std::fs::read_to_string(&file).unwrap_or_else(|_| {
            panic!(
                "{} is missing: run `UPDATE_SNAPSHOTS=1 cargo test -p espctl-tests --test it mcp`",
                file.display()
            )
        });
        if want != got {
            let line = want
                .lines()
                .zip(got.lines())
                .position(|(a, b)| a != b)
                .map(|i| i + 1)
                .unwrap_or_else(|| want.lines().count().min(got.lines().count()) + 1);
            panic!(
                "tools/list differs from {} from line {line} on (a catalog change?): review it, then \
                 refresh with `UPDATE_SNAPSHOTS=1 cargo test -p espctl-tests --test it mcp`\n\
                 got:\n{got}",
                file.display()
            );
        }
    }
    // Whatever the snapshot says: exactly the catalog's tools, each name and alias.
    let names: Vec<&str> = listed["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    let want: Vec<&str> = catalog()
        .iter()
        .filter(|m| m.audience == Audience::Tool)
        .flat_map(|m| m.all_names())
        .collect();
    assert_eq!(names, want);
}

#[test]
fn every_protocol_version_is_negotiated() {
    let daemon = TestDaemon::start();
    for (asked, answered) in [
        ("2024-11-05", "2024-11-05"),
        ("2025-03-26", "2025-03-26"),
        ("2025-06-18", "2025-06-18"),
        ("2025-11-25", "2025-11-25"),
        ("2099-01-01", "2025-11-25"),
    ] {
        let mut shim = Shim::start(&daemon);
        let init = shim.initialize(asked);
        assert_eq!(init["protocolVersion"], answered, "{asked}");
        assert_eq!(init["serverInfo"]["name"], "espctl");
        assert_eq!(init["serverInfo"]["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(init["capabilities"]["resources"]["subscribe"], true);
        let structured = answered >= "2025-06-18";
        let tools = shim.call("tools/list", json!({}));
        let status = tools["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "build.status")
            .unwrap()
            .clone();
        assert_eq!(status.get("outputSchema").is_some(), structured, "{asked}");
        let result = shim.tool("build.status", json!({"task_id": "0".repeat(32)}));
        assert_eq!(result["isError"], true);
        assert_eq!(
            result.get("structuredContent").is_some(),
            structured,
            "{asked}"
        );
    }
}

#[test]
fn protocol_misuse_is_a_json_rpc_error_and_tool_failures_are_results() {
    let daemon = TestDaemon::start();
    let mut shim = Shim::start(&daemon);
    shim.initialize("2025-11-25");
    let code = |response: &Value| response["error"]["code"].as_i64();

    let r = shim.request(
        "tools/call",
        json!({"name": "no.such.tool", "arguments": {}}),
    );
    assert_eq!(code(&r), Some(-32602), "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no.such.tool")
    );
    let r = shim.request("tools/call", json!({"name": "daemon.shutdown"}));
    assert_eq!(code(&r), Some(-32602), "admin methods are not tools: {r}");
    let r = shim.request(
        "tools/call",
        json!({"name": "build.status", "arguments": [1]}),
    );
    assert_eq!(code(&r), Some(-32602), "{r}");
    let r = shim.request("prompts/list", json!({}));
    assert_eq!(code(&r), Some(-32601), "{r}");
    let r = shim.request("resources/read", json!({"uri": "file:///etc/passwd"}));
    assert_eq!(code(&r), Some(-32002), "{r}");
    let r = shim.request("initialize", json!({}));
    assert_eq!(code(&r), Some(-32602), "{r}");
    shim.send_line("{not json");
    let r = shim.response();
    assert_eq!(code(&r), Some(-32700), "{r}");
    assert_eq!(r["id"], Value::Null);
    assert_eq!(shim.call("ping", json!({})), json!({}));

    // A batch (protocol 2025-03-26) is answered with a batch.
    shim.send_line(
        r#"[{"jsonrpc":"2.0","id":"a","method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":"b","method":"tools/list"}]"#,
    );
    let batch = shim.response();
    let ids: Vec<&Value> = batch
        .as_array()
        .expect("a batch answer")
        .iter()
        .map(|r| &r["id"])
        .collect();
    assert_eq!(ids, [&json!("a"), &json!("b")]);

    // Failures of the work itself are tool results the assistant can read.
    let r = shim.tool("build.status", json!({"task_id": "0".repeat(32)}));
    assert_eq!(r["isError"], true);
    let text = text_of(&r);
    assert!(text.contains("Hint: call task.list"), "{text}");
    assert_eq!(r["structuredContent"]["error"]["kind"], "task_not_found");
    let r = shim.tool("build.status", json!({"task_id": 7}));
    assert_eq!(r["isError"], true, "{r}");
    let r = shim.tool("get_clean_plan", json!({"path": "proj", "scope": "clean"}));
    assert_eq!(r["isError"], true);
    assert!(text_of(&r).contains("must be absolute"), "{r}");
}

/// `notifications/cancelled` drops the request (no response ever comes) while the session goes on;
/// a long call does not hold up the others.
#[test]
fn cancelled_requests_get_no_answer_and_others_go_on() {
    let daemon = TestDaemon::start();
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("slow.elf");
    espctl_tests::mkfifo(&fifo);
    let mut shim = Shim::start(&daemon);
    shim.initialize("2025-11-25");
    shim.send(&json!({"jsonrpc": "2.0", "id": "slow", "method": "tools/call",
        "params": {"name": "build.rust_elf", "arguments": {"elf_path": fifo, "target": "esp32c3"}}}));
    // The bundle task blocks on the FIFO; other requests are answered meanwhile.
    let tasks = shim.tool("task.list", json!({}));
    assert_eq!(tasks["isError"], false, "{tasks}");
    shim.send(
        &json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
        "params": {"requestId": "slow", "reason": "test"}}),
    );
    assert_eq!(shim.call("ping", json!({})), json!({}));
    // Let the task finish: the daemon reads garbage, fails the task, and would answer the call.
    std::fs::write(&fifo, b"not an elf").unwrap();
    let deadline = Instant::now() + Duration::from_secs(2);
    while let Some(message) = shim.next_message(deadline.saturating_duration_since(Instant::now()))
    {
        assert_ne!(
            message["id"], "slow",
            "a cancelled request was answered: {message}"
        );
    }
}

/// Without a daemon that can start, the shim still answers `initialize` and `tools/list`, and every
/// tool call says why it cannot run.
#[test]
fn without_a_daemon_tools_are_listed_and_calls_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("run").join("d.sock");
    let mut shim = Shim::start_with(&[
        ("ESPCTL_SOCKET", socket.as_os_str()),
        ("ESPCTL_HOME", dir.path().join("data").as_os_str()),
        ("ESPCTLD_BIN", Path::new("/bin/false").as_os_str()),
    ]);
    let started = Instant::now();
    let init = shim.initialize("2025-06-18");
    assert_eq!(init["serverInfo"]["name"], "espctl");
    eprintln!(
        "initialize answered {:?} after the spawn",
        started.elapsed()
    );
    let tools = shim.call("tools/list", json!({}));
    assert!(tools["tools"].as_array().unwrap().len() >= 7);
    let result = shim.tool("build.status", json!({"task_id": "0".repeat(32)}));
    assert_eq!(result["isError"], true);
    let text = text_of(&result);
    assert!(
        text.contains("cannot reach espctld")
            && text.contains("/bin/false")
            && text.contains("exited with code 1"),
        "{text}"
    );
    assert!(text.contains("Hint: "), "{text}");
    assert_eq!(result["structuredContent"]["error"]["kind"], "daemon_start");
    let listed = shim.call("resources/list", json!({}));
    assert_eq!(listed, json!({"resources": []}));
}

/// A Python that can `import mcp` (the official MCP SDK): `$ESPCTL_PYTHON`, `$IDF_PYTHON`, else
/// `python3`.
fn mcp_python() -> Option<PathBuf> {
    let candidates: Vec<PathBuf> = ["ESPCTL_PYTHON", "IDF_PYTHON"]
        .iter()
        .filter_map(|v| {
            std::env::var_os(v)
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
        })
        .chain([PathBuf::from("python3")])
        .collect();
    candidates.into_iter().find(|python| {
        Command::new(python)
            .args(["-c", "import mcp, jsonschema"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// The catalog as the Python test reads it.
fn catalog_json() -> Value {
    let methods: Vec<Value> = catalog()
        .iter()
        .map(|m| {
            json!({
                "name": m.name,
                "aliases": m.aliases,
                "audience": match m.audience {
                    Audience::Tool => "tool",
                    Audience::Client => "client",
                    Audience::Admin => "admin",
                },
                "kind": match m.kind {
                    MethodKind::Call => "call",
                    MethodKind::Subscription { .. } => "subscription",
                },
                "project_scoped": m.project_scoped,
                "resource_template": m.resource_template,
                "params_schema": serde_json::to_value(m.params_schema()).unwrap(),
            })
        })
        .collect();
    Value::Array(methods)
}

/// The official MCP Python SDK drives `espctl mcp` over stdio: see `tests/mcp/test_mcp.py`.
#[test]
fn the_python_sdk_drives_the_shim() {
    let Some(python) = mcp_python() else {
        let what = "no Python with the MCP SDK (`pip install mcp`) was found: set ESPCTL_PYTHON or \
                    IDF_PYTHON to one (scripts/test installs it into .venv)";
        if std::env::var("ESPCTL_REQUIRE_PEERS").as_deref() == Ok("1") {
            panic!("ESPCTL_REQUIRE_PEERS=1 but {what}");
        }
        eprintln!("skipping: {what}");
        return;
    };
    let daemon = TestDaemon::start();
    let work = tempfile::tempdir().unwrap();
    let mut env = serde_json::Map::new();
    env.insert("ESPCTL_SOCKET".into(), json!(daemon.socket));
    env.insert("ESPCTL_HOME".into(), json!(daemon.data_dir));
    env.insert("ESPCTLD_BIN".into(), json!(espctld_bin()));
    env.insert("CONTROL_BASE_URL".into(), Value::Null);
    env.insert("MCP_AUTH_SECRET".into(), Value::Null);
    let standin = standin_env();
    let projects = standin.as_ref().map(|vars| {
        for (k, v) in vars {
            if espctl_protocol::plan::FORWARDED_ENV.contains(&k.as_str()) {
                env.insert(k.clone(), json!(v));
            }
        }
        (copy_fixture("hello"), copy_fixture("hello"))
    });
    let canonical = |dir: &tempfile::TempDir| dir.path().canonicalize().unwrap();
    let config = json!({
        "espctl": espctl_bin(),
        "version": env!("CARGO_PKG_VERSION"),
        "env": env,
        "catalog": catalog_json(),
        "elf": repo_path("examples/blink-c3/blink-c3.elf").canonicalize().unwrap(),
        "work": work.path(),
        "project": projects.as_ref().map(|(p, _)| canonical(p)),
        "slow_project": projects.as_ref().map(|(_, p)| canonical(p)),
        "target": "esp32c3",
    });
    let config_path = work.path().join("config.json");
    std::fs::write(&config_path, serde_json::to_string_pretty(&config).unwrap()).unwrap();
    let out = Command::new(&python)
        .arg(repo_path("tests/mcp/test_mcp.py"))
        .env("ESPCTL_MCP_TEST_CONFIG", &config_path)
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run the Python MCP test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let shim_log = std::fs::read_to_string(work.path().join("shim-stderr.log")).unwrap_or_default();
    eprintln!("{stdout}");
    assert!(
        out.status.success(),
        "the Python MCP test failed ({:?}):\n{stdout}\n--- stderr\n{stderr}\n--- espctl mcp stderr\n{shim_log}",
        out.status.code()
    );
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
}
