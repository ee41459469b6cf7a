//! Tasks through the real daemon: build.rust_elf as a task, status, list, logs (read and subscription),
//! task.subscribe, cancel, and what survives a daemon restart.

use std::path::{Path, PathBuf};
use std::time::Duration;

use espctl_protocol::chip::Arch;
use espctl_tests::{TestDaemon, mkfifo, ws_client};
use jsonrpsee::core::client::{ClientT, SubscriptionClientT};
use serde_json::{Value, json};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn write_elf(dir: &Path, name: &str, arch: Arch) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, espctld::bundle::synth::synth_app_elf(arch, true)).unwrap();
    path
}

fn params(v: Value) -> jsonrpsee::core::params::ObjectParams {
    let mut p = jsonrpsee::core::params::ObjectParams::new();
    for (k, v) in v.as_object().unwrap() {
        p.insert(k, v.clone()).unwrap();
    }
    p
}

#[test]
fn rust_elf_task_is_recorded_with_log_and_result() {
    let d = TestDaemon::start();
    let elf = write_elf(d.dir.path(), "app.elf", Arch::Riscv);
    rt().block_on(async {
        let c = ws_client(&d.socket).await;
        let r: Value = c
            .request(
                "build.rust_elf",
                params(json!({"elf_path": elf, "target": "esp32c3"})),
            )
            .await
            .unwrap();
        let bundle = d.dir.path().join("app-flash-bundle.tar.gz");
        assert_eq!(r["bundle_path"], bundle.display().to_string());
        assert!(bundle.exists());
        assert_eq!(r["manifest"]["build"]["target"], "esp32c3");
        let id = r["task_id"].as_str().unwrap().to_string();
        assert_eq!(r["manifest"]["build"]["task_id"], id.as_str());

        let st: Value = c
            .request("build.status", params(json!({"task_id": id})))
            .await
            .unwrap();
        assert_eq!(st["status"], "succeeded");
        assert_eq!(st["progress"], 1.0);
        assert_eq!(st["kind"], "rust_elf");
        assert_eq!(st["result"]["bundle_path"], r["bundle_path"]);
        assert!(st["started_at"].as_i64().unwrap() <= st["updated_at"].as_i64().unwrap());

        let list: Value = c
            .request(
                "task.list",
                params(json!({"status": ["succeeded"], "kind": ["rust_elf"], "limit": 5})),
            )
            .await
            .unwrap();
        assert_eq!(list["tasks"][0]["task_id"], id.as_str());

        let log: Value = c
            .request(
                "build.log_read",
                params(json!({"task_id": id, "offset": 0})),
            )
            .await
            .unwrap();
        assert_eq!(log["eof"], true);
        let lines: Vec<&str> = log["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        assert!(lines.last().unwrap().contains("succeeded"), "{lines:?}");
        assert_eq!(log["next_offset"], lines.len());

        // Cancel of a finished task is a no-op returning its state.
        let cancel: Value = c
            .request("build.cancel", params(json!({"task_id": id})))
            .await
            .unwrap();
        assert_eq!(cancel, json!({"task_id": id, "status": "succeeded"}));
    });
}

#[test]
fn failed_task_keeps_error_and_exit_code() {
    let d = TestDaemon::start();
    let not_elf = d.dir.path().join("notes.txt");
    std::fs::write(&not_elf, "hello").unwrap();
    rt().block_on(async {
        let c = ws_client(&d.socket).await;
        let err = c
            .request::<Value, _>("build.rust_elf", params(json!({"elf_path": not_elf})))
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("not an ELF"), "{text}");
        let list: Value = c
            .request("task.list", params(json!({"status": ["failed"]})))
            .await
            .unwrap();
        let t = &list["tasks"][0];
        assert_eq!(t["exit_code"], 2);
        assert!(t["error"].as_str().unwrap().contains("not an ELF"));

        // Refused before any task exists: an unsupported chip.
        let err = c
            .request::<Value, _>(
                "build.rust_elf",
                params(json!({"elf_path": not_elf, "target": "esp32p4"})),
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains("esp32p4"), "{err}");
        let list: Value = c.request("task.list", params(json!({}))).await.unwrap();
        assert_eq!(list["tasks"].as_array().unwrap().len(), 1);
    });
}

/// Starts a build.rust_elf whose ELF is a FIFO, so the task stays running until the test feeds it.
/// Returns the FIFO path and the task id.
fn start_blocked_task(d: &TestDaemon, runtime: &tokio::runtime::Runtime) -> (PathBuf, String) {
    let fifo = d.dir.path().join("slow.elf");
    mkfifo(&fifo);
    let socket = d.socket.clone();
    let fifo_param = fifo.clone();
    // The call waits for the task, so run it in the background; the test follows the task itself.
    runtime.spawn(async move {
        let c = ws_client(&socket).await;
        let _ = c
            .request::<Value, _>(
                "build.rust_elf",
                params(json!({"elf_path": fifo_param, "target": "esp32c3"})),
            )
            .await;
    });
    let id = runtime.block_on(async {
        let c = ws_client(&d.socket).await;
        loop {
            let list: Value = c
                .request("task.list", params(json!({"status": ["running"]})))
                .await
                .unwrap();
            if let Some(id) = list["tasks"][0]["task_id"].as_str() {
                return id.to_string();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    (fifo, id)
}

/// Unblocks a FIFO task by writing an ELF into it.
fn feed_fifo(fifo: &Path) {
    let elf = espctld::bundle::synth::synth_app_elf(Arch::Riscv, true);
    std::fs::write(fifo, elf).unwrap();
}

#[test]
fn log_subscription_replays_then_follows_to_the_end() {
    let d = TestDaemon::start();
    let runtime = rt();
    let (fifo, id) = start_blocked_task(&d, &runtime);
    let lines = runtime.block_on(async {
        let c = ws_client(&d.socket).await;
        let mut sub = c
            .subscribe::<Value, _>(
                "build.log",
                params(json!({"task_id": id, "offset": 0})),
                "build.log_unsubscribe",
            )
            .await
            .unwrap();
        // The replay arrives while the task is still blocked.
        let first = sub.next().await.unwrap().unwrap();
        assert_eq!(first["offset"], 0);
        assert_eq!(first["eof"], false);
        assert_eq!(first["status"], "running");
        let mut lines: Vec<String> = first["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().to_string())
            .collect();
        let fifo = fifo.clone();
        tokio::task::spawn_blocking(move || feed_fifo(&fifo));
        let mut expected_offset = first["next_offset"].as_u64().unwrap();
        loop {
            let chunk = tokio::time::timeout(Duration::from_secs(20), sub.next())
                .await
                .expect("log notification")
                .expect("subscription open")
                .unwrap();
            assert_eq!(chunk["offset"], expected_offset, "gap or repeat: {chunk}");
            expected_offset = chunk["next_offset"].as_u64().unwrap();
            lines.extend(
                chunk["lines"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| l.as_str().unwrap().to_string()),
            );
            if chunk["eof"] == true {
                assert_eq!(chunk["status"], "succeeded");
                break;
            }
        }
        // The server ends the subscription after eof.
        assert!(
            tokio::time::timeout(Duration::from_secs(5), sub.next())
                .await
                .unwrap()
                .is_none()
        );
        lines
    });
    assert!(lines.last().unwrap().contains("succeeded"), "{lines:?}");
    // Reading the whole log afterwards gives the same lines.
    let all: Value = runtime.block_on(async {
        let c = ws_client(&d.socket).await;
        c.request(
            "build.log_read",
            params(json!({"task_id": id, "offset": 0, "limit": 10000})),
        )
        .await
        .unwrap()
    });
    assert_eq!(all["lines"].as_array().unwrap().len(), lines.len());
}

#[test]
fn task_subscribe_sees_every_change_of_one_task_and_of_all() {
    let d = TestDaemon::start();
    let runtime = rt();
    let elf = write_elf(d.dir.path(), "watched.elf", Arch::Xtensa);
    runtime.block_on(async {
        let c = ws_client(&d.socket).await;
        let mut all = c
            .subscribe::<Value, _>("task.subscribe", params(json!({})), "task.unsubscribe")
            .await
            .unwrap();
        let r: Value = c
            .request(
                "build.rust_elf",
                params(json!({"elf_path": elf, "target": "esp32s3"})),
            )
            .await
            .unwrap();
        let id = r["task_id"].as_str().unwrap();
        let mut statuses = Vec::new();
        while statuses.last().map(String::as_str) != Some("succeeded") {
            let t = tokio::time::timeout(Duration::from_secs(10), all.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            assert_eq!(t["task_id"], id);
            statuses.push(t["status"].as_str().unwrap().to_string());
        }
        assert_eq!(statuses.first().unwrap(), "pending");
        assert!(statuses.contains(&"running".to_string()), "{statuses:?}");

        // Subscribing to one finished task sends its state once and ends.
        let mut one = c
            .subscribe::<Value, _>(
                "task.subscribe",
                params(json!({"task_id": id})),
                "task.unsubscribe",
            )
            .await
            .unwrap();
        let t = one.next().await.unwrap().unwrap();
        assert_eq!(t["status"], "succeeded");
        assert!(
            tokio::time::timeout(Duration::from_secs(5), one.next())
                .await
                .unwrap()
                .is_none()
        );

        // An unknown task is refused at subscribe time.
        let err = c
            .subscribe::<Value, _>(
                "task.subscribe",
                params(json!({"task_id": "ffffffffffffffffffffffffffffffff"})),
                "task.unsubscribe",
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains("no task"), "{err}");
    });
}

#[test]
fn cancel_a_running_task() {
    let d = TestDaemon::start_with(&["--idle-timeout", "0", "--cancel-grace", "0.5"]);
    let runtime = rt();
    let (fifo, id) = start_blocked_task(&d, &runtime);
    let r: Value = runtime.block_on(async {
        let c = ws_client(&d.socket).await;
        c.request("build.cancel", params(json!({"task_id": id})))
            .await
            .unwrap()
    });
    assert_eq!(r, json!({"task_id": id, "status": "canceled"}));
    // Release the blocked reader thread.
    feed_fifo(&fifo);
    let st: Value = runtime.block_on(async {
        let c = ws_client(&d.socket).await;
        c.request("build.status", params(json!({"task_id": id})))
            .await
            .unwrap()
    });
    assert_eq!(st["status"], "canceled");
    assert!(st["error"].as_str().unwrap().contains("canceled"));
}

#[test]
fn kill9_during_a_task_then_restart_marks_it_failed_and_keeps_its_log() {
    let mut d = TestDaemon::start();
    let runtime = rt();
    let (fifo, id) = start_blocked_task(&d, &runtime);
    let before: Value = runtime.block_on(async {
        let c = ws_client(&d.socket).await;
        c.request(
            "build.log_read",
            params(json!({"task_id": id, "offset": 0})),
        )
        .await
        .unwrap()
    });
    let before_lines = before["lines"].as_array().unwrap().clone();
    assert!(!before_lines.is_empty());
    d.kill9();
    // Unblock nobody: the FIFO has no reader any more. Remove it so nothing waits on it.
    let _ = std::fs::remove_file(&fifo);
    d.spawn(&["--idle-timeout", "0"]);
    runtime.block_on(async {
        let c = ws_client(&d.socket).await;
        let st: Value = c
            .request("build.status", params(json!({"task_id": id})))
            .await
            .unwrap();
        assert_eq!(st["status"], "failed");
        assert_eq!(st["error"], espctld::tasks::RESTART_ERROR);
        assert_eq!(st["exit_code"], 1);
        let log: Value = c
            .request(
                "build.log_read",
                params(json!({"task_id": id, "offset": 0})),
            )
            .await
            .unwrap();
        let after = log["lines"].as_array().unwrap();
        assert_eq!(
            &after[..before_lines.len()],
            &before_lines[..],
            "log lost lines"
        );
        assert!(
            after
                .last()
                .unwrap()
                .as_str()
                .unwrap()
                .contains("daemon restarted")
        );
        assert_eq!(log["eof"], true);
    });
}

#[test]
fn history_survives_a_clean_restart() {
    let mut d = TestDaemon::start();
    let elf = write_elf(d.dir.path(), "keep.elf", Arch::Riscv);
    let runtime = rt();
    let id: String = runtime.block_on(async {
        let c = ws_client(&d.socket).await;
        let r: Value = c
            .request(
                "build.rust_elf",
                params(json!({"elf_path": elf, "target": "esp32c6"})),
            )
            .await
            .unwrap();
        r["task_id"].as_str().unwrap().to_string()
    });
    let _ = espctl_tests::http_post(
        &d.socket,
        br#"{"jsonrpc":"2.0","id":1,"method":"daemon.shutdown"}"#,
    );
    d.wait_exit(Duration::from_secs(10)).unwrap();
    d.spawn(&["--idle-timeout", "0"]);
    runtime.block_on(async {
        let c = ws_client(&d.socket).await;
        let st: Value = c
            .request("build.status", params(json!({"task_id": id})))
            .await
            .unwrap();
        assert_eq!(st["status"], "succeeded");
        assert_eq!(st["result"]["manifest"]["build"]["target"], "esp32c6");
    });
}

#[test]
fn idle_timeout_waits_for_running_tasks() {
    let mut d = TestDaemon::start_with(&["--idle-timeout", "1"]);
    let runtime = rt();
    let (fifo, id) = start_blocked_task(&d, &runtime);
    // Drop every client connection: only the task keeps the daemon busy now.
    drop(runtime);
    std::thread::sleep(Duration::from_millis(2500));
    assert!(
        d.child.as_mut().unwrap().try_wait().unwrap().is_none(),
        "daemon went idle while task {id} was running"
    );
    feed_fifo(&fifo);
    let status = d
        .wait_exit(Duration::from_secs(10))
        .expect("idle exit after the task ended");
    assert!(status.success());
}

#[test]
fn retention_prunes_old_tasks_and_their_logs() {
    let mut d = TestDaemon::start_with(&["--idle-timeout", "0", "--retention-tasks", "2"]);
    let runtime = rt();
    let mut ids = Vec::new();
    for n in 0..4 {
        let elf = write_elf(d.dir.path(), &format!("r{n}.elf"), Arch::Riscv);
        let id: String = runtime.block_on(async {
            let c = ws_client(&d.socket).await;
            let r: Value = c
                .request(
                    "build.rust_elf",
                    params(json!({"elf_path": elf, "target": "esp32c3"})),
                )
                .await
                .unwrap();
            r["task_id"].as_str().unwrap().to_string()
        });
        ids.push(id);
    }
    // Pruning runs at start-up (and hourly).
    let _ = espctl_tests::http_post(
        &d.socket,
        br#"{"jsonrpc":"2.0","id":1,"method":"daemon.shutdown"}"#,
    );
    d.wait_exit(Duration::from_secs(10)).unwrap();
    d.spawn(&["--idle-timeout", "0", "--retention-tasks", "2"]);
    let list: Value = runtime.block_on(async {
        let c = ws_client(&d.socket).await;
        c.request("task.list", params(json!({}))).await.unwrap()
    });
    let kept: Vec<&str> = list["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["task_id"].as_str().unwrap())
        .collect();
    assert_eq!(kept, [ids[3].as_str(), ids[2].as_str()]);
    let logs = d.data_dir.join("logs").join("tasks");
    assert!(!logs.join(format!("{}.log", ids[0])).exists());
    assert!(logs.join(format!("{}.log", ids[3])).exists());
}
