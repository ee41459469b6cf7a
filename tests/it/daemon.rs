//! The daemon spine over its real socket: transport, concurrency, malformed input, permissions,
//! single instance, stale sockets, socket activation, idle timeout, drain and restart.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use espctl_tests::{TestDaemon, espctld_bin, http_post, http_raw, wait_for, ws_client};
use jsonrpsee::core::client::ClientT;
use jsonrpsee::rpc_params;
use serde_json::{Value, json};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn daemon_info_over_websocket_and_http() {
    let d = TestDaemon::start();
    let info: Value = rt().block_on(async {
        let c = ws_client(&d.socket).await;
        c.request("daemon.info", rpc_params![]).await.unwrap()
    });
    assert_eq!(info["protocol_version"], espctl_protocol::PROTOCOL_VERSION);
    assert_eq!(info["pid"], d.pid());
    assert_eq!(info["socket"], d.socket.display().to_string());
    assert_eq!(info["data_dir"], d.data_dir.display().to_string());
    assert!(info["uptime_secs"].is_u64());
    assert!(
        info["version"]
            .as_str()
            .unwrap()
            .starts_with(env!("CARGO_PKG_VERSION"))
    );
    let methods: Vec<&str> = info["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    for spec in espctl_protocol::catalog() {
        assert!(
            methods.contains(&spec.name),
            "{} missing from {methods:?}",
            spec.name
        );
    }

    // Plain HTTP on the same socket, as `curl --unix-socket` uses it.
    let (status, body) = http_post(
        &d.socket,
        br#"{"jsonrpc":"2.0","id":1,"method":"daemon.info"}"#,
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["result"]["pid"], d.pid());
}

#[test]
fn curl_over_the_unix_socket() {
    if std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("curl not installed: skipping");
        return;
    }
    let d = TestDaemon::start();
    let out = std::process::Command::new("curl")
        .args(["-sS", "--unix-socket"])
        .arg(&d.socket)
        .args([
            "-H",
            "content-type: application/json",
            "-d",
            r#"{"jsonrpc":"2.0","id":7,"method":"task.list","params":{"limit":5}}"#,
            "http://localhost/",
        ])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["id"], 7);
    assert!(v["result"]["tasks"].is_array(), "{v}");
}

#[test]
fn sixty_four_clients_two_hundred_calls_each() {
    let d = TestDaemon::start();
    let errors = rt().block_on(async {
        let mut handles = Vec::new();
        for i in 0..64 {
            let socket = d.socket.clone();
            handles.push(tokio::spawn(async move {
                let c = ws_client(&socket).await;
                let mut errors = 0;
                for j in 0..200 {
                    let r: Result<Value, _> = if (i + j) % 2 == 0 {
                        c.request("daemon.info", rpc_params![]).await
                    } else {
                        c.request("task.list", jsonrpsee::core::params::ObjectParams::new())
                            .await
                    };
                    if r.is_err() {
                        errors += 1;
                    }
                }
                errors
            }));
        }
        let mut total = 0;
        for h in handles {
            total += h.await.unwrap();
        }
        total
    });
    assert_eq!(errors, 0);
}

#[test]
fn malformed_input_gets_errors_and_the_daemon_keeps_serving() {
    let d = TestDaemon::start();
    // Garbage bytes: not HTTP at all. The daemon closes the connection (it may answer 400 first).
    let garbage = http_raw(&d.socket, b"\x00\x01\x02 not http at all \xff\xfe\r\n\r\n");
    if let Ok(resp) = &garbage {
        assert!(
            resp.is_empty() || resp.starts_with("HTTP/1.1 400"),
            "{resp}"
        );
    }

    // Invalid JSON: parse error.
    let (_, body) =
        http_post(&d.socket, b"{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": ").unwrap();
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], -32700, "{v}");

    // A batch of garbage: one invalid-request error per element.
    let (_, body) = http_post(&d.socket, b"[1, \"two\", {\"x\": 3}]").unwrap();
    let v: Value = serde_json::from_str(&body).unwrap();
    let arr = v.as_array().expect("batch response is an array");
    assert_eq!(arr.len(), 3, "{v}");
    for e in arr {
        assert_eq!(e["error"]["code"], -32600, "{e}");
    }

    // Unknown method.
    let (_, body) = http_post(
        &d.socket,
        br#"{"jsonrpc":"2.0","id":2,"method":"build.explode","params":{}}"#,
    )
    .unwrap();
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], -32601, "{v}");

    // Wrong params: a bad task id, a missing one, an unknown field, positional params.
    for params in [
        r#"{"task_id":"nope"}"#,
        r#"{}"#,
        r#"{"task_id":"00000000000000000000000000000000","extra":1}"#,
        r#"["00000000000000000000000000000000"]"#,
    ] {
        let body =
            format!(r#"{{"jsonrpc":"2.0","id":3,"method":"build.status","params":{params}}}"#);
        let (_, resp) = http_post(&d.socket, body.as_bytes()).unwrap();
        let v: Value = serde_json::from_str(&resp).unwrap();
        assert_eq!(v["error"]["code"], -32602, "{params}: {v}");
    }

    // A well-formed id that names no task: our own error, with exit code and hint.
    let (_, resp) = http_post(
        &d.socket,
        br#"{"jsonrpc":"2.0","id":4,"method":"build.status","params":{"task_id":"0123456789abcdef0123456789abcdef"}}"#,
    )
    .unwrap();
    let v: Value = serde_json::from_str(&resp).unwrap();
    assert_eq!(
        v["error"]["code"],
        espctl_protocol::ErrorCode::TaskNotFound.code()
    );
    assert_eq!(v["error"]["data"]["exit_code"], 2);
    assert!(
        v["error"]["data"]["hint"]
            .as_str()
            .unwrap()
            .contains("espctl tasks")
    );

    // A 10 MB request: refused (413 or a JSON-RPC error), or the connection is closed.
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":5,"method":"daemon.info","params":{{"pad":"{}"}}}}"#,
        "x".repeat(10 * 1024 * 1024)
    );
    match http_post(&d.socket, big.as_bytes()) {
        Ok((status, body)) => assert!(
            status == 413 || body.contains("\"error\""),
            "status {status}: {}",
            &body[..body.len().min(200)]
        ),
        Err(e) => eprintln!("10 MB request: connection closed ({e})"),
    }

    // The same abuse over WebSocket: the client sees errors, the connection stays usable.
    rt().block_on(async {
        let c = ws_client(&d.socket).await;
        let e = c
            .request::<Value, _>("no.such.method", rpc_params![])
            .await
            .unwrap_err();
        assert!(e.to_string().contains("not found"), "{e}");
        let big: Result<Value, _> = c
            .request("daemon.info", rpc_params!["x".repeat(10 * 1024 * 1024)])
            .await;
        assert!(big.is_err());
        // Whatever happened to that connection, a fresh one works.
        let c = ws_client(&d.socket).await;
        let _: Value = c.request("daemon.info", rpc_params![]).await.unwrap();
    });

    // And the daemon still serves everyone.
    let (status, _) = http_post(
        &d.socket,
        br#"{"jsonrpc":"2.0","id":9,"method":"daemon.info"}"#,
    )
    .unwrap();
    assert_eq!(status, 200);
}

#[test]
fn socket_dir_is_private_and_socket_owner_only() {
    let d = TestDaemon::start();
    let dir_mode = std::fs::metadata(d.socket.parent().unwrap())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(dir_mode & 0o777, 0o700);
    let sock_mode = std::fs::metadata(&d.socket).unwrap().permissions().mode();
    assert_eq!(sock_mode & 0o777, 0o600);
}

#[test]
fn a_second_daemon_is_refused_with_a_clear_message() {
    let d = TestDaemon::start();
    let out = std::process::Command::new(espctld_bin())
        .args(["--foreground", "--idle-timeout", "0", "--socket"])
        .arg(&d.socket)
        .arg("--data-dir")
        .arg(&d.data_dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("already running"), "{err}");
    assert!(err.contains(&d.socket.display().to_string()), "{err}");
}

#[test]
fn a_stale_socket_file_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("espctld.sock");
    // A socket file nobody listens on, as a crashed daemon leaves behind.
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    assert!(socket.exists());
    assert!(std::os::unix::net::UnixStream::connect(&socket).is_err());
    let mut d = TestDaemon::start();
    d.kill9();
    d.socket = socket.clone();
    d.spawn(&["--idle-timeout", "0"]);
    let (status, _) = http_post(
        &socket,
        br#"{"jsonrpc":"2.0","id":1,"method":"daemon.info"}"#,
    )
    .unwrap();
    assert_eq!(status, 200);
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

#[test]
fn a_socket_dir_owned_by_someone_else_is_refused() {
    if !is_root() {
        eprintln!("needs root to chown: skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    nix::unistd::chown(&run, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
    let out = std::process::Command::new(espctld_bin())
        .args(["--foreground", "--idle-timeout", "0", "--socket"])
        .arg(run.join("espctld.sock"))
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("belongs to uid 65534"), "{err}");
}

/// Connects to the socket as uid/gid 65534 (nobody, through `setpriv`), sends a JSON-RPC request
/// over HTTP and reads the answer. Prints `refused <errno>` when connect() itself fails, or
/// `connected <n>` with the number of answer bytes received before the server hung up.
/// (curl cannot tell the two apart: it reports a hang-up right after connect as "could not connect".)
fn peer_as_nobody(socket: &std::path::Path) -> String {
    const PROBE: &str = r#"
import socket, sys
body = b'{"jsonrpc":"2.0","id":1,"method":"daemon.info"}'
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print("refused", e.errno)
    sys.exit(0)
got = b""
try:
    s.sendall(b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
              + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
except (BrokenPipeError, ConnectionResetError):
    pass
print("connected", len(got))
"#;
    let out = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "/usr/bin/python3",
            "-c",
            PROBE,
        ])
        .arg(socket)
        .output()
        .expect("setpriv");
    assert!(
        out.status.success(),
        "probe failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn peers_with_another_uid_are_refused() {
    if !is_root()
        || std::process::Command::new("setpriv")
            .arg("--version")
            .output()
            .is_err()
        || std::process::Command::new("/usr/bin/python3")
            .arg("--version")
            .output()
            .is_err()
    {
        eprintln!("needs root, setpriv and /usr/bin/python3: skipping");
        return;
    }
    let d = TestDaemon::start();
    // The 0700 directory already keeps other users out: connect() itself fails with EACCES.
    assert_eq!(
        peer_as_nobody(&d.socket),
        format!("refused {}", nix::errno::Errno::EACCES as i32)
    );

    // Even when someone loosens the permissions, the daemon checks the peer's uid and hangs up.
    // First wait for an answer: the socket accepts connections a moment before the daemon has
    // finished restricting it to 0600, and that chmod must not undo the loosening below.
    let (status, _) = http_post(
        &d.socket,
        br#"{"jsonrpc":"2.0","id":1,"method":"daemon.info"}"#,
    )
    .unwrap();
    assert_eq!(status, 200);
    let run = d.socket.parent().unwrap();
    std::fs::set_permissions(run, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(d.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&d.socket, std::fs::Permissions::from_mode(0o777)).unwrap();
    // It connects, and gets not one byte of an answer.
    assert_eq!(peer_as_nobody(&d.socket), "connected 0");
    // The owner is still served.
    let (status, _) = http_post(
        &d.socket,
        br#"{"jsonrpc":"2.0","id":1,"method":"daemon.info"}"#,
    )
    .unwrap();
    assert_eq!(status, 200);
}

#[test]
fn socket_activation_with_an_inherited_fd() {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("activated.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let fd = listener.as_raw_fd();
    let mut cmd = std::process::Command::new("sh");
    // LISTEN_PID must be the daemon's own pid: the shell execs it, keeping its pid.
    cmd.arg("-c")
        .arg(format!(
            "LISTEN_PID=$$ LISTEN_FDS=1 exec {} --foreground --idle-timeout 0 --data-dir {}",
            espctld_bin().display(),
            dir.path().join("data").display()
        ))
        .env("ESPCTL_SOCKET", dir.path().join("not-this-one.sock"))
        .stdin(std::process::Stdio::null());
    // SAFETY: dup2 is async-signal-safe; it places the listening socket at fd 3 as systemd does.
    unsafe {
        cmd.pre_exec(move || {
            // dup2 onto itself keeps close-on-exec, so clear it explicitly in that case.
            let rc = if fd == 3 {
                libc::fcntl(3, libc::F_SETFD, 0)
            } else {
                libc::dup2(fd, 3)
            };
            if rc < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    drop(listener);
    let (status, body) = wait_for(
        Duration::from_secs(10),
        "an answer on the inherited socket",
        || {
            http_post(
                &socket,
                br#"{"jsonrpc":"2.0","id":1,"method":"daemon.info"}"#,
            )
            .ok()
        },
    );
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["result"]["socket_activated"], true, "{v}");
    assert_eq!(v["result"]["socket"], socket.display().to_string());
    assert!(!dir.path().join("not-this-one.sock").exists());
    // Shutdown leaves the service manager's socket file alone.
    let (_, _) = http_post(
        &socket,
        br#"{"jsonrpc":"2.0","id":2,"method":"daemon.shutdown"}"#,
    )
    .unwrap();
    let status = wait_for(Duration::from_secs(10), "daemon exit", || {
        child.try_wait().unwrap()
    });
    assert!(status.success());
    assert!(socket.exists());
}

#[test]
fn idle_timeout_exits_when_nobody_is_connected() {
    let mut d = TestDaemon::start_with(&["--idle-timeout", "1"]);
    // An open connection keeps it alive past the timeout.
    let stream = std::os::unix::net::UnixStream::connect(&d.socket).unwrap();
    std::thread::sleep(Duration::from_millis(2000));
    assert!(
        d.child.as_mut().unwrap().try_wait().unwrap().is_none(),
        "exited with a client connected"
    );
    drop(stream);
    let start = Instant::now();
    let status = d
        .wait_exit(Duration::from_secs(10))
        .expect("daemon did not exit when idle");
    assert!(status.success());
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(!d.socket.exists(), "socket file left behind");
}

#[test]
fn shutdown_over_rpc_drains_and_removes_the_socket() {
    let mut d = TestDaemon::start();
    let v: Value = rt().block_on(async {
        let c = ws_client(&d.socket).await;
        c.request("daemon.shutdown", rpc_params![]).await.unwrap()
    });
    assert_eq!(v, json!({"shutting_down": true, "canceling_tasks": 0}));
    let status = d.wait_exit(Duration::from_secs(10)).expect("daemon exit");
    assert!(status.success());
    assert!(!d.socket.exists());
}

#[test]
fn sigterm_drains() {
    let mut d = TestDaemon::start();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(d.pid() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = d.wait_exit(Duration::from_secs(10)).expect("daemon exit");
    assert!(status.success());
    assert!(!d.socket.exists());
}

#[test]
fn daemon_logs_go_to_a_file_in_the_data_dir() {
    let mut d = TestDaemon::start();
    let _ = http_post(
        &d.socket,
        br#"{"jsonrpc":"2.0","id":2,"method":"daemon.shutdown"}"#,
    );
    d.wait_exit(Duration::from_secs(10)).unwrap();
    let logs: Vec<_> = std::fs::read_dir(d.data_dir.join("logs"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("espctld.log"))
        .collect();
    assert_eq!(logs.len(), 1);
    let text = std::fs::read_to_string(logs[0].path()).unwrap();
    assert!(text.contains("espctld ready"), "{text}");
    assert!(text.contains("espctld stopped"), "{text}");
}
