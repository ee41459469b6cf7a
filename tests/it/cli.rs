//! The real `espctl` binary against the real daemon: task commands and their `--json` output, exit
//! codes, the `rpc` bridge, the daemon lifecycle commands, completions, and auto-start from cold with
//! racing clients.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use espctl_protocol::chip::Arch;
use espctl_tests::{
    TestDaemon, describe, espctl_bin, espctld_bin, process_alive, stdout_of, wait_for,
};
use serde_json::{Value, json};

fn write_elf(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(
        &path,
        espctld::bundle::synth::synth_app_elf(Arch::Riscv, true),
    )
    .unwrap();
    path
}

/// A FIFO: a task reading it as its ELF keeps running until the test writes to it.
fn mkfifo(path: &Path) {
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
}

fn json_lines(out: &Output) -> Vec<Value> {
    stdout_of(out)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

fn json_one(out: &Output) -> Value {
    let lines = json_lines(out);
    assert_eq!(lines.len(), 1, "{}", describe(out));
    lines.into_iter().next().unwrap()
}

fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

/// Wait for a child with a deadline; kill it and fail if it does not exit.
fn wait_child(child: &mut Child, timeout: Duration, what: &str) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Lines of a child's stdout, read on a thread so that tests can wait with a timeout.
fn line_reader(stdout: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

#[test]
fn rust_elf_build_then_tasks_status_logs_and_cancel() {
    let d = TestDaemon::start();
    let elf = write_elf(d.dir.path(), "app.elf");

    // Human build output: the manifest summary, and the bundle next to the ELF.
    let out = d.run(&[
        "build",
        "--rust-elf",
        elf.to_str().unwrap(),
        "--target",
        "esp32c3",
    ]);
    assert_eq!(code(&out), Some(0), "{}", describe(&out));
    let text = stdout_of(&out);
    let bundle = d.dir.path().join("app-flash-bundle.tar.gz");
    assert!(bundle.exists());
    for expected in [
        format!("Bundle    {}", bundle.display()),
        "Target    esp32c3".to_string(),
        "Segments  0x0".to_string(),
        "Flash     mode dio, freq 80mhz, size 16mb".to_string(),
    ] {
        assert!(text.contains(&expected), "missing {expected:?} in\n{text}");
    }
    assert!(!text.contains('\x1b'), "no colors when not on a terminal");

    // --json: task, stage_start, the log, stage_end, manifest. Relative paths are taken from
    // espctl's working directory.
    let out = d
        .espctl()
        .current_dir(d.dir.path())
        .args([
            "build",
            "--rust-elf",
            "app.elf",
            "--target",
            "esp32c3",
            "--out",
            "custom.tar.gz",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(code(&out), Some(0), "{}", describe(&out));
    let events = json_lines(&out);
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds[..2], ["task", "stage_start"], "{kinds:?}");
    assert_eq!(
        kinds[kinds.len() - 2..],
        ["stage_end", "manifest"],
        "{kinds:?}"
    );
    assert!(
        kinds[2..kinds.len() - 2].iter().all(|k| *k == "log"),
        "{kinds:?}"
    );
    assert!(kinds.len() > 4, "the log has lines: {kinds:?}");
    let manifest = events.last().unwrap();
    let id = manifest["task_id"].as_str().unwrap().to_string();
    assert_eq!(events[0]["task_id"], id.as_str());
    assert_eq!(events[0]["kind"], "rust_elf");
    assert_eq!(
        manifest["bundle_path"],
        d.dir.path().join("custom.tar.gz").display().to_string()
    );
    assert_eq!(manifest["manifest"]["build"]["target"], "esp32c3");
    let logged: Vec<String> = events
        .iter()
        .filter(|e| e["event"] == "log")
        .map(|e| e["line"].as_str().unwrap().to_string())
        .collect();

    // tasks: newest first, as a table and as JSON.
    let out = d.run(&["tasks"]);
    assert_eq!(code(&out), Some(0), "{}", describe(&out));
    let table = stdout_of(&out);
    let mut rows = table.lines();
    assert_eq!(
        rows.next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["ID", "KIND", "STATUS", "PROGRESS", "AGE", "TITLE"]
    );
    let first = rows.next().unwrap();
    assert!(first.starts_with(&id), "{table}");
    assert!(first.contains("rust_elf") && first.contains("succeeded") && first.contains("100%"));
    assert_eq!(rows.count(), 1, "{table}");

    let list = json_one(&d.run(&["tasks", "--json", "--limit", "1"]));
    assert_eq!(list["tasks"].as_array().unwrap().len(), 1);
    assert_eq!(list["tasks"][0]["task_id"], id.as_str());
    let none = json_one(&d.run(&["tasks", "--json", "--status", "failed,canceled"]));
    assert_eq!(none["tasks"], json!([]));
    assert_eq!(
        stdout_of(&d.run(&["tasks", "--status", "running"])),
        "no tasks\n"
    );

    // status
    let out = d.run(&["status", &id]);
    assert_eq!(code(&out), Some(0), "{}", describe(&out));
    let text = stdout_of(&out);
    assert!(text.contains(&format!("Task      {id}")), "{text}");
    assert!(text.contains("Status    succeeded"), "{text}");
    let info = json_one(&d.run(&["status", &id, "--json"]));
    assert_eq!(info["task_id"], id.as_str());
    assert_eq!(info["status"], "succeeded");
    assert_eq!(info["result"]["bundle_path"], manifest["bundle_path"]);

    // logs: the same lines the build streamed, read or followed.
    let out = d.run(&["logs", &id]);
    assert_eq!(code(&out), Some(0), "{}", describe(&out));
    assert_eq!(stdout_of(&out).lines().collect::<Vec<_>>(), logged);
    let out = d.run(&["logs", &id, "--follow"]);
    assert_eq!(code(&out), Some(0), "{}", describe(&out));
    assert_eq!(stdout_of(&out).lines().collect::<Vec<_>>(), logged);
    let chunks = json_lines(&d.run(&["logs", &id, "--json"]));
    assert_eq!(chunks.last().unwrap()["eof"], true);
    let chunk_lines: Vec<String> = chunks
        .iter()
        .flat_map(|c| c["lines"].as_array().unwrap().clone())
        .map(|l| l.as_str().unwrap().to_string())
        .collect();
    assert_eq!(chunk_lines, logged);

    // cancel of a finished task is a no-op.
    let out = d.run(&["cancel", &id]);
    assert_eq!(code(&out), Some(0), "{}", describe(&out));
    assert_eq!(
        stdout_of(&out),
        format!("{id} already succeeded; nothing to cancel\n")
    );
    let canceled = json_one(&d.run(&["cancel", &id, "--json"]));
    assert_eq!(canceled, json!({"task_id": id, "status": "succeeded"}));
}

#[test]
fn unknown_and_malformed_task_ids_exit_2() {
    let d = TestDaemon::start();
    let unknown = "0123456789abcdef0123456789abcdef";
    for command in ["status", "cancel", "logs"] {
        let out = d.run(&[command, unknown]);
        assert_eq!(code(&out), Some(2), "{command}: {}", describe(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with("error: "), "{stderr}");
        assert!(stderr.contains(unknown), "{stderr}");
        assert!(out.stdout.is_empty());

        let out = d.run(&[command, "not-a-task"]);
        assert_eq!(code(&out), Some(2), "{command}: {}", describe(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("is not a task id"),
            "{}",
            describe(&out)
        );
    }
    let out = d.run(&["logs", unknown, "-f"]);
    assert_eq!(code(&out), Some(2), "{}", describe(&out));
}

#[test]
fn build_flag_validation_needs_no_daemon() {
    // Nothing listens here and the daemon binary does not exist: validation must fail first.
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(espctl_bin())
            .args(args)
            .env("ESPCTL_SOCKET", dir.path().join("none.sock"))
            .env("ESPCTL_HOME", dir.path().join("data"))
            .env("ESPCTLD_BIN", dir.path().join("no-espctld"))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    for flags in [
        &["--remote", "https://example.com"][..],
        &["--local"],
        &["--git-url", "https://github.com/espressif/esp-idf"],
        &["--git-ref", "v5.3.1"],
        &["--clean"],
        &["--sbom"],
        &["--idf-version", "v5.3.1"],
    ] {
        let mut args = vec!["build", "--rust-elf", "app.elf"];
        args.extend_from_slice(flags);
        let out = run(&args);
        assert_eq!(code(&out), Some(2), "{args:?}: {}", describe(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("--rust-elf cannot be combined with") && stderr.contains(flags[0]),
            "{stderr}"
        );
    }
    let out = run(&["build", "--out", "x.tar.gz"]);
    assert_eq!(code(&out), Some(2), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--out requires --rust-elf"));

    // A project build itself needs the daemon: here it cannot start one, and says why (exit 1).
    let out = run(&["build", "--target", "esp32s3"]);
    assert_eq!(code(&out), Some(1), "{}", describe(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ESPCTLD_BIN"));
    for remote in [
        &["build", "--remote", "https://staging.example.com"][..],
        &[
            "build",
            "--git-url",
            "https://github.com/espressif/esp-idf",
            "--git-ref",
            "v5.3.1",
        ],
    ] {
        let out = run(remote);
        assert_eq!(code(&out), Some(2), "{}", describe(&out));
        assert!(String::from_utf8_lossy(&out.stderr).contains("remote builds are not available"));
    }
    let out = run(&["build", "--remote", "https://x", "--local"]);
    assert_eq!(code(&out), Some(2), "{}", describe(&out));

    // With --json the stream still ends with one error event.
    let out = run(&["build", "--rust-elf", "app.elf", "--sbom", "--json"]);
    assert_eq!(code(&out), Some(2));
    let event = json_one(&out);
    assert_eq!(event["event"], "error");
    assert_eq!(event["exit_code"], 2);
    assert_eq!(event["kind"], "invalid_input");
    assert!(
        !dir.path().join("none.sock").exists(),
        "no daemon was started"
    );
}

#[test]
fn build_failures_exit_with_the_daemon_exit_code() {
    let d = TestDaemon::start();
    let not_elf = d.dir.path().join("notes.txt");
    std::fs::write(&not_elf, "hello").unwrap();
    let out = d.run(&[
        "build",
        "--rust-elf",
        not_elf.to_str().unwrap(),
        "--target",
        "esp32c3",
    ]);
    assert_eq!(code(&out), Some(2), "{}", describe(&out));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("error: "), "{stderr}");

    let elf = write_elf(d.dir.path(), "app.elf");
    let out = d.run(&[
        "build",
        "--rust-elf",
        elf.to_str().unwrap(),
        "--target",
        "esp99",
        "--json",
    ]);
    assert_eq!(code(&out), Some(2), "{}", describe(&out));
    let event = json_one(&out);
    assert_eq!(event["event"], "error");
    assert_eq!(event["kind"], "invalid_target");
    assert_eq!(event["exit_code"], 2);
    assert!(
        event["message"].as_str().unwrap().contains("esp99"),
        "{event}"
    );
}

#[test]
fn cancel_a_running_task_and_follow_a_log_to_its_end() {
    let d = TestDaemon::start();

    // A task that blocks on a FIFO keeps running until the test feeds it.
    let fifo = d.dir.path().join("slow.elf");
    mkfifo(&fifo);
    let mut build = d
        .espctl()
        .args([
            "build",
            "--rust-elf",
            fifo.to_str().unwrap(),
            "--target",
            "esp32c3",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let id = wait_for(Duration::from_secs(10), "a running task", || {
        let list = json_one(&d.run(&["tasks", "--status", "running", "--json"]));
        list["tasks"][0]["task_id"].as_str().map(str::to_string)
    });

    // Follow its log while it runs, then feed the FIFO: the follower sees the end and exits 0.
    let mut follower = d
        .espctl()
        .args(["logs", &id, "-f"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = line_reader(follower.stdout.take().unwrap());
    // The blocked task has logged nothing yet; give the follower time to subscribe. (Subscribing
    // later would replay the whole log and end just the same.)
    std::thread::sleep(Duration::from_millis(300));
    let elf = espctld::bundle::synth::synth_app_elf(Arch::Riscv, true);
    std::fs::write(&fifo, elf).unwrap();
    let status = wait_child(&mut follower, Duration::from_secs(20), "logs -f");
    assert!(status.success(), "logs -f exited with {status}");
    let rest: Vec<String> = lines.try_iter().collect();
    assert!(rest.last().unwrap().contains("succeeded"), "{rest:?}");
    let status = wait_child(&mut build, Duration::from_secs(20), "build");
    assert!(status.success(), "build exited with {status}");

    // A second blocked task, canceled through the CLI.
    let fifo = d.dir.path().join("slow2.elf");
    mkfifo(&fifo);
    let mut build = d
        .espctl()
        .args([
            "build",
            "--rust-elf",
            fifo.to_str().unwrap(),
            "--target",
            "esp32c3",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let id = wait_for(Duration::from_secs(10), "a second running task", || {
        let list = json_one(&d.run(&["tasks", "--status", "running", "--json"]));
        list["tasks"][0]["task_id"].as_str().map(str::to_string)
    });
    let out = d.run(&["cancel", &id]);
    assert_eq!(code(&out), Some(0), "{}", describe(&out));
    assert_eq!(stdout_of(&out), format!("{id} canceled\n"));
    let status = wait_child(&mut build, Duration::from_secs(20), "canceled build");
    assert_eq!(
        status.code(),
        Some(1),
        "a canceled build is a runtime failure"
    );
    let mut stdout = String::new();
    std::io::Read::read_to_string(build.stdout.as_mut().unwrap(), &mut stdout).unwrap();
    let last: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["event"], "error", "{stdout}");
    let info = json_one(&d.run(&["status", &id, "--json"]));
    assert_eq!(info["status"], "canceled");
}

#[test]
fn ctrl_c_ends_a_log_follower_quietly() {
    let d = TestDaemon::start();
    let fifo = d.dir.path().join("slow.elf");
    mkfifo(&fifo);
    let mut build = d
        .espctl()
        .args([
            "build",
            "--rust-elf",
            fifo.to_str().unwrap(),
            "--target",
            "esp32c3",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let id = wait_for(Duration::from_secs(10), "a running task", || {
        let list = json_one(&d.run(&["tasks", "--status", "running", "--json"]));
        list["tasks"][0]["task_id"].as_str().map(str::to_string)
    });
    let mut follower = d
        .espctl()
        .args(["logs", &id, "-f"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Let it connect and start following (the blocked task has no log lines to show yet).
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        follower.try_wait().unwrap().is_none(),
        "logs -f waits for the task"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(follower.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = wait_child(
        &mut follower,
        Duration::from_secs(5),
        "logs -f after SIGINT",
    );
    assert!(status.success(), "{status}");
    let mut stderr = String::new();
    std::io::Read::read_to_string(follower.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(stderr.is_empty(), "{stderr}");

    let _ = d.run(&["cancel", &id]);
    wait_child(&mut build, Duration::from_secs(20), "canceled build");
}

#[test]
fn rpc_bridges_requests_and_subscription_notifications() {
    let d = TestDaemon::start();
    let elf = write_elf(d.dir.path(), "app.elf");
    let mut bridge = d
        .espctl()
        .arg("rpc")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = bridge.stdin.take().unwrap();
    let lines = line_reader(bridge.stdout.take().unwrap());
    let next = |what: &str| -> Value {
        let line = lines
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("no line for {what}"));
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    };

    writeln!(
        stdin,
        r#"{{"jsonrpc":"2.0","id":1,"method":"task.subscribe","params":{{}}}}"#
    )
    .unwrap();
    let subscribed = next("the subscription");
    assert_eq!(subscribed["id"], 1);
    let subscription = subscribed["result"].clone();
    assert!(!subscription.is_null(), "{subscribed}");

    let request = json!({
        "jsonrpc": "2.0",
        "id": 2,
        "method": "build.rust_elf",
        "params": {"elf_path": elf, "target": "esp32c3"},
    });
    writeln!(stdin, "{request}").unwrap();
    let mut statuses = Vec::new();
    let mut response = None;
    while response.is_none() || statuses.last().map(String::as_str) != Some("succeeded") {
        let message = next("notifications and the response");
        if message["method"] == "task.status" {
            assert_eq!(message["params"]["subscription"], subscription);
            statuses.push(
                message["params"]["result"]["status"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        } else {
            assert_eq!(message["id"], 2, "{message}");
            response = Some(message);
        }
    }
    let response = response.unwrap();
    assert_eq!(response["result"]["manifest"]["build"]["target"], "esp32c3");
    assert!(statuses.contains(&"running".to_string()), "{statuses:?}");

    // Text that is not JSON is forwarded too, and the daemon's parse error comes back.
    writeln!(stdin, "not json").unwrap();
    let error = next("the parse error");
    assert_eq!(error["error"]["code"], -32700, "{error}");

    // A request sent just before EOF is still answered before the bridge exits.
    writeln!(
        stdin,
        r#"{{"jsonrpc":"2.0","id":3,"method":"daemon.info"}}"#
    )
    .unwrap();
    drop(stdin);
    let info = next("the last response");
    assert_eq!(info["id"], 3);
    assert_eq!(info["result"]["pid"], d.pid());
    let status = wait_child(&mut bridge, Duration::from_secs(10), "rpc after EOF");
    assert!(status.success(), "{status}");
}

#[test]
fn rpc_ends_when_the_daemon_goes_away() {
    let mut d = TestDaemon::start();
    let mut bridge = d
        .espctl()
        .arg("rpc")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = bridge.stdin.take().unwrap();
    let lines = line_reader(bridge.stdout.take().unwrap());
    writeln!(
        stdin,
        r#"{{"jsonrpc":"2.0","id":1,"method":"daemon.info"}}"#
    )
    .unwrap();
    lines
        .recv_timeout(Duration::from_secs(10))
        .expect("an answer");
    d.kill9();
    let status = wait_child(
        &mut bridge,
        Duration::from_secs(10),
        "rpc after the daemon died",
    );
    assert!(status.success(), "{status}");
    drop(stdin);
}

#[test]
fn daemon_start_status_logs_and_stop() {
    let mut d = TestDaemon::start();
    let pid = d.pid();

    let out = d.run(&["daemon", "start"]);
    assert_eq!(code(&out), Some(0), "{}", describe(&out));
    assert!(
        stdout_of(&out).starts_with(&format!(
            "espctld {} is already running (pid {pid})",
            env!("CARGO_PKG_VERSION")
        )),
        "{}",
        describe(&out)
    );
    let started = json_one(&d.run(&["daemon", "start", "--json"]));
    assert_eq!(started["started"], false);
    assert_eq!(started["pid"], pid);
    assert_eq!(
        started["protocol_version"],
        espctl_protocol::PROTOCOL_VERSION
    );

    let out = d.run(&["daemon", "status"]);
    assert_eq!(code(&out), Some(0), "{}", describe(&out));
    let text = stdout_of(&out);
    assert!(text.starts_with("espctld is running"), "{text}");
    assert!(text.contains(&format!("pid        {pid}")), "{text}");
    assert!(text.contains("idle exit  never"), "{text}");
    let status = json_one(&d.run(&["daemon", "status", "--json"]));
    assert_eq!(status["running"], true);
    assert_eq!(status["protocol_compatible"], true);
    assert_eq!(status["pid"], pid);
    assert_eq!(status["socket"], d.socket.display().to_string());

    let out = d.run(&["daemon", "logs", "-n", "2"]);
    assert_eq!(code(&out), Some(0), "{}", describe(&out));
    let logged = stdout_of(&out);
    assert!((1..=2).contains(&logged.lines().count()), "{logged}");
    let json_log = json_lines(&d.run(&["daemon", "logs", "--json", "-n", "1"]));
    assert!(
        json_log[0]["file"]
            .as_str()
            .unwrap()
            .contains("espctld.log"),
        "{json_log:?}"
    );

    let out = d.run(&["daemon", "stop"]);
    assert_eq!(code(&out), Some(0), "{}", describe(&out));
    assert_eq!(stdout_of(&out), format!("stopped espctld (pid {pid})\n"));
    // `stop` returns once the daemon is gone.
    assert!(
        d.wait_exit(Duration::from_secs(1)).is_some(),
        "the daemon still runs"
    );

    let out = d.run(&["daemon", "status"]);
    assert_eq!(code(&out), Some(3), "{}", describe(&out));
    assert!(stdout_of(&out).starts_with("espctld is not running"));
    let status = json_one(&d.run(&["daemon", "status", "--json"]));
    assert_eq!(status["running"], false);
    let out = d.run(&["daemon", "stop", "--json"]);
    assert_eq!(code(&out), Some(0), "{}", describe(&out));
    assert_eq!(json_one(&out)["was_running"], false);
    assert!(!d.socket.exists() || std::os::unix::net::UnixStream::connect(&d.socket).is_err());
}

#[test]
fn completions_and_closed_pipes() {
    for shell in ["bash", "zsh", "fish"] {
        let out = Command::new(espctl_bin())
            .args(["completions", shell])
            .output()
            .unwrap();
        assert_eq!(code(&out), Some(0), "{shell}: {}", describe(&out));
        let script = stdout_of(&out);
        assert!(script.contains("espctl"), "{shell}");
        assert!(
            script.contains("rust-elf"),
            "{shell}: build flags are completed"
        );
    }
    assert!(
        stdout_of(
            &Command::new(espctl_bin())
                .args(["completions", "bash"])
                .output()
                .unwrap()
        )
        .contains("complete -F")
    );

    // A reader that goes away is not an error.
    let mut child = Command::new(espctl_bin())
        .args(["completions", "bash"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), Some(0), "{}", describe(&out));
    assert!(out.stderr.is_empty(), "{}", describe(&out));
}

/// Daemon processes serving `socket`, found through /proc.
fn daemons_serving(socket: &Path) -> Vec<i32> {
    let socket = socket.to_string_lossy().into_owned();
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if args.first().is_some_and(|a| a.ends_with("espctld"))
            && args.contains(&socket)
            && process_alive(pid)
        {
            pids.push(pid);
        }
    }
    pids
}

/// Kills the daemons a test started by auto-start, even when the test fails.
struct KillOnDrop(PathBuf);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for pid in daemons_serving(&self.0) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

#[test]
fn two_clients_racing_from_cold_start_one_daemon() {
    let dir = tempfile::Builder::new()
        .prefix("espctl-race")
        .tempdir()
        .unwrap();
    let socket = dir.path().join("run").join("espctld.sock");
    let home = dir.path().join("data");
    let _cleanup = KillOnDrop(socket.clone());
    let start = || {
        Command::new(espctl_bin())
            .args(["daemon", "start", "--json"])
            .env("ESPCTL_SOCKET", &socket)
            .env("ESPCTL_HOME", &home)
            .env("ESPCTLD_BIN", espctld_bin())
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (first, second) = (start(), start());
    let outputs = [
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    ];
    let reports: Vec<Value> = outputs
        .iter()
        .map(|out| {
            assert_eq!(code(out), Some(0), "{}", describe(out));
            json_one(out)
        })
        .collect();
    assert_eq!(reports[0]["pid"], reports[1]["pid"], "{reports:?}");
    let started = reports.iter().filter(|r| r["started"] == true).count();
    assert_eq!(
        started, 1,
        "exactly one client started the daemon: {reports:?}"
    );
    let pid = reports[0]["pid"].as_i64().unwrap() as i32;
    assert_eq!(reports[0]["socket"], socket.display().to_string());
    assert_eq!(reports[0]["data_dir"], home.display().to_string());

    // Exactly one daemon is left, and it is the one both clients talked to.
    let alive = daemons_serving(&socket);
    assert_eq!(alive, vec![pid], "daemons serving the socket");
    assert!(home.join("logs").join("espctld-start.log").exists());

    // A later command reuses it.
    let out = Command::new(espctl_bin())
        .args(["tasks", "--json"])
        .env("ESPCTL_SOCKET", &socket)
        .env("ESPCTL_HOME", &home)
        .env("ESPCTLD_BIN", espctld_bin())
        .output()
        .unwrap();
    assert_eq!(code(&out), Some(0), "{}", describe(&out));
    assert_eq!(daemons_serving(&socket), vec![pid]);

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_for(Duration::from_secs(10), "the daemon to die", || {
        (!process_alive(pid)).then_some(())
    });
}

#[test]
fn auto_start_failure_reports_the_daemon_output() {
    let dir = tempfile::tempdir().unwrap();
    // A "daemon" that fails at once, with a message on stderr.
    let fake = dir.path().join("espctld");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho 'cannot open the store: disk full' >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = Command::new(espctl_bin())
        .args(["tasks"])
        .env("ESPCTL_SOCKET", dir.path().join("run").join("d.sock"))
        .env("ESPCTL_HOME", dir.path().join("data"))
        .env("ESPCTLD_BIN", &fake)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(code(&out), Some(1), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("exited with code 1"), "{stderr}");
    assert!(
        stderr.contains("cannot open the store: disk full"),
        "{stderr}"
    );
    assert!(stderr.contains("espctld --foreground --socket"), "{stderr}");
    assert!(stderr.contains("espctld-start.log"), "{stderr}");
}
