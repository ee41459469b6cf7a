//! Builds through the real daemon: the stand-in ESP-IDF configured and built with real CMake and
//! Ninja, as tasks. The plan and the build run the same steps; failures carry diagnostics; cancel
//! (Ninja interrupted, steps that ignore SIGINT forced), Ctrl-C in `espctl build` and a killed
//! daemon leave no process behind; artifacts, bundle, SBOM and ELF retention; set_target.run; the
//! CLI's views and exit codes.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use espctl_tests::{
    TestDaemon, copy_fixture, describe, standin_env, standin_idf_path, wait_for, ws_client,
};
use jsonrpsee::core::client::SubscriptionClientT;
use serde_json::{Value, json};

use espctl_tests::{named_params as params, runtime as rt};

fn call(d: &TestDaemon, method: &str, p: Value) -> Result<Value, String> {
    espctl_tests::rpc_call(&d.socket, method, p)
}

/// The stand-in's environment as a request's `env`, plus extra variables (the stand-in's knobs).
fn env_with(env: &[(String, String)], extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut m: BTreeMap<String, String> = env.iter().cloned().collect();
    m.insert("IDF_CCACHE_ENABLE".into(), "0".into());
    for (k, v) in extra {
        m.insert(k.to_string(), v.to_string());
    }
    m
}

fn start(d: &TestDaemon, dir: &Path, env: &BTreeMap<String, String>, extra: Value) -> String {
    let mut p = json!({"path": dir, "target": "esp32c3", "env": env});
    for (k, v) in extra.as_object().unwrap() {
        p[k] = v.clone();
    }
    let r = call(d, "build.start", p).expect("build.start");
    assert!(r["status"] == "pending" || r["status"] == "running", "{r}");
    r["task_id"].as_str().unwrap().to_string()
}

fn wait_final(d: &TestDaemon, id: &str, timeout: Duration) -> Value {
    wait_for(timeout, "the build to finish", || {
        let st = call(d, "build.status", json!({"task_id": id})).ok()?;
        let s = st["status"].as_str()?;
        (s == "succeeded" || s == "failed" || s == "canceled").then_some(st)
    })
}

fn log_lines(d: &TestDaemon, id: &str) -> Vec<String> {
    let r = call(
        d,
        "build.log_read",
        json!({"task_id": id, "offset": 0, "limit": 10000}),
    )
    .unwrap();
    r["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect()
}

/// Live processes whose command line mentions `needle`: what a build may leave behind.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid == std::process::id() as i32 || !espctl_tests::process_alive(pid) {
            continue;
        }
        if let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(needle) && !cmd.contains("espctld") {
                out.push(format!("{pid}: {cmd}"));
            }
        }
    }
    out
}

/// The live descendants of `pid` (children, their children, ...), as `pid: command name`.
fn descendants(pid: i32) -> Vec<String> {
    let mut table = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next().unwrap_or("");
        let ppid: i32 = fields.next().and_then(|f| f.parse().ok()).unwrap_or(0);
        let comm = head.split_once('(').map(|(_, c)| c).unwrap_or("");
        if state != "Z" && state != "X" {
            table.push((p, ppid, comm.to_string()));
        }
    }
    let mut found = Vec::new();
    let mut parents = vec![pid];
    while let Some(parent) = parents.pop() {
        for (p, ppid, comm) in &table {
            if *ppid == parent {
                found.push(format!("{p}: {comm}"));
                parents.push(*p);
            }
        }
    }
    found
}

/// Waits until compile steps of the daemon's build run (the stand-in's slow compile sleeps) and
/// its processes have not changed for 0.2 s; returns the process groups the daemon started the
/// build's steps in.
///
/// A shell that gets SIGINT while it starts a program can lose the signal (the program then runs
/// on, and only the forced stop ends it): the quiet spell makes sure no step is starting.
fn wait_compile_step(d: &TestDaemon) -> Vec<i32> {
    let daemon = d.pid() as i32;
    let mut last = (Vec::new(), std::time::Instant::now());
    wait_for(Duration::from_secs(120), "a compile step to run", || {
        let now = descendants(daemon);
        if now != last.0 {
            last = (now, std::time::Instant::now());
            return None;
        }
        (last.0.iter().any(|p| p.ends_with(": sleep"))
            && last.1.elapsed() >= Duration::from_millis(200))
        .then_some(())
    });
    let mut groups = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .collect();
        if fields[1].parse::<i32>() == Ok(daemon) && fields[2].parse::<i32>() == Ok(p) {
            groups.push(p);
        }
    }
    assert!(
        !groups.is_empty(),
        "the build's step runs in no group of its own"
    );
    groups
}

/// Live processes in process group `pgid`.
fn group_members(pgid: i32) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<i32>().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat")).is_ok_and(|stat| {
                let fields: Vec<&str> = stat
                    .rsplit_once(')')
                    .unwrap()
                    .1
                    .split_whitespace()
                    .collect();
                fields[0] != "Z" && fields[0] != "X" && fields[2].parse::<i32>() == Ok(pgid)
            })
        })
        .collect()
}

/// Nothing of a stopped build is left: no process in its groups, no child of the daemon, nothing
/// naming the project.
fn assert_nothing_left(d: &TestDaemon, groups: &[i32], project: &Path) {
    let left = wait_for(
        Duration::from_secs(5),
        "the build's processes to go",
        || {
            let mut left: Vec<String> = groups
                .iter()
                .flat_map(|g| group_members(*g))
                .map(|p| format!("{p} in a build group"))
                .collect();
            left.extend(descendants(d.pid() as i32));
            left.extend(processes_mentioning(&project.display().to_string()));
            left.is_empty().then_some(left)
        },
    );
    assert!(left.is_empty());
}

#[test]
fn a_build_runs_exactly_the_planned_steps_and_produces_a_verified_bundle() {
    let Some(env) = standin_env() else { return };
    let env = env_with(&env, &[]);
    let d = TestDaemon::start();
    let project = copy_fixture("hello");
    let dir = project.path().canonicalize().unwrap();
    let plan = call(
        &d,
        "generate_build_plan",
        json!({"path": dir, "target": "esp32c3", "env": env}),
    )
    .unwrap();
    let id = start(
        &d,
        &dir,
        &env,
        json!({"sbom": true, "elf": true, "idf_version": "6.0"}),
    );
    let st = wait_final(&d, &id, Duration::from_secs(300));
    assert_eq!(
        st["status"],
        "succeeded",
        "{st}\n{}",
        log_lines(&d, &id).join("\n")
    );
    assert_eq!(st["progress"], 1.0);

    // The steps the log shows are the plan's, with the same argv.
    let lines = log_lines(&d, &id);
    let ran: Vec<String> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("espctld: $ ").map(str::to_string))
        .collect();
    let planned: Vec<String> = plan["command_pipeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            s["argv"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    assert_eq!(ran, planned);
    let result = &st["result"];
    let step_names: Vec<&str> = result["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    let plan_names: Vec<&str> = plan["command_pipeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(step_names, plan_names);

    // Artifacts and the bundle, read back and verified by the daemon's own reader.
    let artifacts: Vec<&str> = result["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    for suffix in [
        "hello.elf",
        "hello.bin",
        "hello.map",
        "flasher_args.json",
        "project_description.json",
    ] {
        assert!(
            artifacts.iter().any(|a| a.ends_with(suffix)),
            "{suffix} missing from {artifacts:?}"
        );
    }
    let bundle = dir.join("build/flash_bundle.tar.gz");
    assert_eq!(result["bundle_path"], bundle.display().to_string());
    let read = espctld::bundle::read_bundle(&bundle).expect("the bundle verifies");
    let offsets: Vec<&str> = read
        .manifest
        .flash
        .segments
        .iter()
        .map(|s| s.offset.as_str())
        .collect();
    assert_eq!(offsets, ["0x0", "0x8000", "0x10000"]);
    assert_eq!(read.manifest.build.task_id.as_deref(), Some(id.as_str()));
    assert_eq!(read.manifest.build.idf_version, "6.0.0");
    assert_eq!(read.manifest.flash.flash_freq, "80mhz");

    // SBOM (validated by the real pyspdxtools when present), ELF retention, the pin file.
    let sbom = dir.join("build/sbom.spdx");
    assert!(sbom.exists());
    if std::process::Command::new("pyspdxtools")
        .arg("--help")
        .output()
        .is_ok()
    {
        let out = std::process::Command::new("pyspdxtools")
            .arg("-i")
            .arg(&sbom)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", describe(&out));
    }
    let kept = result["retained_elf"].as_str().unwrap();
    assert!(Path::new(kept).starts_with(&d.data_dir));
    assert_eq!(
        std::fs::read(kept).unwrap(),
        std::fs::read(dir.join("build/hello.elf")).unwrap()
    );
    let out_elf = project.path().join("fetched.elf");
    let out = d
        .espctl()
        .args(["elf", &id, "-o"])
        .arg(&out_elf)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    assert!(out_elf.exists());
    assert_eq!(
        std::fs::read_to_string(dir.join(".idf-version"))
            .unwrap()
            .trim(),
        "6.0"
    );
    let again = call(&d, "sbom.create", json!({"task_id": id})).unwrap();
    assert!(again["packages"].as_u64().unwrap() > 10, "{again}");

    // The next plan knows how long a build takes, and an incremental build only runs Ninja.
    let plan2 = call(
        &d,
        "generate_build_plan",
        json!({"path": dir, "target": "esp32c3", "env": env}),
    )
    .unwrap();
    assert!(
        plan2["estimated_duration_secs"].as_f64().unwrap() > 0.0,
        "{}",
        plan2["estimate_note"]
    );
    assert_eq!(plan2["exactness"], "configured");
    let id2 = start(&d, &dir, &env, json!({}));
    let st2 = wait_final(&d, &id2, Duration::from_secs(120));
    assert_eq!(st2["status"], "succeeded");
    let steps2: Vec<&str> = st2["result"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(steps2, ["ninja-build", "bundle"]);
}

#[test]
fn a_compile_error_fails_the_build_with_its_diagnostics() {
    let Some(env) = standin_env() else { return };
    let env = env_with(&env, &[("STANDIN_FAIL_COMPONENT", "main")]);
    let d = TestDaemon::start();
    let project = copy_fixture("hello");
    let dir = project.path().canonicalize().unwrap();
    let id = start(&d, &dir, &env, json!({}));
    let st = wait_final(&d, &id, Duration::from_secs(300));
    assert_eq!(st["status"], "failed");
    assert_eq!(st["exit_code"], 1);
    let diagnostics = st["diagnostics"].as_array().unwrap();
    let first = diagnostics
        .iter()
        .find(|d| d["severity"] == "error")
        .expect("an error diagnostic");
    assert!(first["file"].as_str().unwrap().ends_with(".c"), "{first}");
    assert!(first["line"].as_u64().unwrap() > 0);
    let error = st["error"].as_str().unwrap();
    assert!(
        error.contains(first["message"].as_str().unwrap()),
        "{error} vs {first}"
    );
}

#[test]
fn cancel_interrupts_the_build_leaves_no_process_and_the_next_build_succeeds() {
    let Some(env) = standin_env() else { return };
    let slow = env_with(&env, &[("STANDIN_SLOW_MS", "3000")]);
    let d = TestDaemon::start_with(&["--idle-timeout", "0", "--cancel-grace", "2"]);
    let project = copy_fixture("hello");
    let dir = project.path().canonicalize().unwrap();
    let id = start(&d, &dir, &slow, json!({}));
    wait_for(Duration::from_secs(120), "compiling", || {
        let st = call(&d, "build.status", json!({"task_id": id})).ok()?;
        (st["phase"] == "compiling").then_some(())
    });
    let needle = dir.display().to_string();
    assert!(
        !processes_mentioning(&needle).is_empty(),
        "the build should be running"
    );
    wait_compile_step(&d);
    let begun = std::time::Instant::now();
    let r = call(&d, "build.cancel", json!({"task_id": id})).unwrap();
    assert_eq!(r["status"], "canceled");
    let left = wait_for(Duration::from_secs(10), "no process left", || {
        let left = processes_mentioning(&needle);
        left.is_empty().then_some(left)
    });
    assert!(left.is_empty());
    let elapsed = begun.elapsed();
    assert!(
        elapsed < Duration::from_millis(2500 + 500 + 1500),
        "cancel took {elapsed:?}"
    );
    // Ninja got the interrupt itself (the sandbox was not torn down under it), so it stopped its
    // jobs and removed their partial outputs.
    let lines = log_lines(&d, &id);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("ninja: build stopped: interrupted by user")),
        "{}",
        lines.join("\n")
    );
    let st = call(&d, "build.status", json!({"task_id": id})).unwrap();
    assert!(
        !st["error"].as_str().unwrap().contains("forced"),
        "an interrupted Ninja stops within the grace period: {st}"
    );
    // The build dir is still usable.
    let id2 = start(&d, &dir, &env_with(&env, &[]), json!({}));
    let st = wait_final(&d, &id2, Duration::from_secs(300));
    assert_eq!(
        st["status"],
        "succeeded",
        "{}",
        log_lines(&d, &id2).join("\n")
    );
}

#[test]
fn compile_steps_that_ignore_sigint_are_forced_after_the_grace_period_and_leave_nothing() {
    let Some(env) = standin_env() else { return };
    let stubborn = env_with(
        &env,
        &[("STANDIN_SLOW_MS", "30000"), ("STANDIN_IGNORE_SIGINT", "1")],
    );
    let d = TestDaemon::start_with(&["--idle-timeout", "0", "--cancel-grace", "1"]);
    let project = copy_fixture("hello");
    let dir = project.path().canonicalize().unwrap();
    let id = start(&d, &dir, &stubborn, json!({}));
    let groups = wait_compile_step(&d);
    let begun = std::time::Instant::now();
    let r = call(&d, "build.cancel", json!({"task_id": id})).unwrap();
    assert_eq!(r["status"], "canceled");
    assert_nothing_left(&d, &groups, &dir);
    let elapsed = begun.elapsed();
    assert!(
        elapsed >= Duration::from_secs(1),
        "steps that ignore SIGINT stopped before the grace period: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_millis(1000 + 500 + 1500),
        "{elapsed:?}"
    );
    let st = call(&d, "build.status", json!({"task_id": id})).unwrap();
    assert!(st["error"].as_str().unwrap().contains("forced"), "{st}");
}

#[test]
fn ctrl_c_in_the_build_view_cancels_the_build_and_exits_130() {
    let Some(env) = standin_env() else { return };
    // The CLI forwards only the ESP-IDF variables, so the slow compiler comes with the install: a
    // copy of the stand-in whose export.sh turns the knob on.
    let idf = tempfile::Builder::new()
        .prefix("espctl-slow-idf-")
        .tempdir()
        .unwrap();
    espctl_tests::copy_tree(&standin_idf_path(), idf.path());
    let export = idf.path().join("export.sh");
    let mut script = std::fs::read_to_string(&export).unwrap();
    script.push_str("\nSTANDIN_SLOW_MS=30000\nexport STANDIN_SLOW_MS\n");
    std::fs::write(&export, script).unwrap();

    let d = TestDaemon::start_with(&["--idle-timeout", "0", "--cancel-grace", "2"]);
    let project = copy_fixture("hello");
    let dir = project.path().canonicalize().unwrap();
    let mut cmd = d.espctl();
    cmd.args(["build", "--target", "esp32c3"])
        .arg(&dir)
        .env("IDF_CCACHE_ENABLE", "0");
    for (k, v) in &env {
        cmd.env(k, v);
    }
    cmd.env("IDF_PATH", idf.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut all = Vec::new();
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line.clone());
            all.push(line);
        }
        all
    });
    // The human view names each phase as it begins.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line == "==> compiling" => break,
            Ok(_) => {}
            Err(e) => {
                let _ = child.kill();
                panic!("espctl build never showed the compiling phase: {e}");
            }
        }
    }
    let groups = wait_compile_step(&d);

    let begun = std::time::Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = wait_for(Duration::from_secs(2 + 10), "espctl to exit", || {
        child.try_wait().unwrap()
    });
    let stderr = reader.join().unwrap().join("\n");
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        begun.elapsed() < Duration::from_millis(2000 + 500 + 1500),
        "{:?}",
        begun.elapsed()
    );
    assert!(stderr.contains("build canceled by Ctrl-C"), "{stderr}");

    let list = call(&d, "task.list", json!({"limit": 1})).unwrap();
    let task = &list["tasks"][0];
    assert_eq!(task["status"], "canceled", "{task}");
    assert_nothing_left(&d, &groups, &dir);
    // The daemon interrupted Ninja, which stopped by itself.
    let lines = log_lines(&d, task["task_id"].as_str().unwrap());
    assert!(
        lines
            .iter()
            .any(|l| l.contains("ninja: build stopped: interrupted by user")),
        "{}",
        lines.join("\n")
    );
}

#[test]
fn a_killed_daemon_takes_its_build_with_it() {
    let Some(env) = standin_env() else { return };
    let slow = env_with(&env, &[("STANDIN_SLOW_MS", "3000")]);
    let mut d = TestDaemon::start();
    let project = copy_fixture("hello");
    let dir = project.path().canonicalize().unwrap();
    let id = start(&d, &dir, &slow, json!({}));
    wait_for(Duration::from_secs(120), "compiling", || {
        let st = call(&d, "build.status", json!({"task_id": id})).ok()?;
        (st["phase"] == "compiling").then_some(())
    });
    let needle = dir.display().to_string();
    assert!(!processes_mentioning(&needle).is_empty());
    d.kill9();
    wait_for(
        Duration::from_secs(10),
        "the build's processes to die",
        || processes_mentioning(&needle).is_empty().then_some(()),
    );
    d.spawn(&["--idle-timeout", "0"]);
    let st = call(&d, "build.status", json!({"task_id": id})).unwrap();
    assert_eq!(st["status"], "failed");
    assert_eq!(st["error"], espctld::tasks::RESTART_ERROR);
}

#[test]
fn builds_of_one_build_dir_queue_in_order() {
    let Some(env) = standin_env() else { return };
    let slow = env_with(&env, &[("STANDIN_SLOW_MS", "200")]);
    let d = TestDaemon::start_with(&["--idle-timeout", "0", "--max-builds", "2"]);
    let project = copy_fixture("hello");
    let dir = project.path().canonicalize().unwrap();
    let first = start(&d, &dir, &slow, json!({}));
    let second = start(&d, &dir, &slow, json!({}));
    wait_for(Duration::from_secs(60), "the first to run", || {
        let st = call(&d, "build.status", json!({"task_id": first})).ok()?;
        (st["status"] == "running").then_some(())
    });
    let st2 = call(&d, "build.status", json!({"task_id": second})).unwrap();
    assert_eq!(
        st2["status"], "pending",
        "the second waits for the build dir"
    );
    assert_eq!(st2["phase"], "queued");
    let a = wait_final(&d, &first, Duration::from_secs(300));
    let b = wait_final(&d, &second, Duration::from_secs(300));
    assert_eq!(
        (a["status"].as_str(), b["status"].as_str()),
        (Some("succeeded"), Some("succeeded"))
    );
    assert!(b["started_at"].as_i64() >= a["finished_at"].as_i64());
}

#[test]
fn set_target_run_cleans_keeps_the_old_sdkconfig_and_reconfigures() {
    let Some(env) = standin_env() else { return };
    let env = env_with(&env, &[]);
    let d = TestDaemon::start();
    let project = copy_fixture("hello");
    let dir = project.path().canonicalize().unwrap();
    let id = start(&d, &dir, &env, json!({}));
    assert_eq!(
        wait_final(&d, &id, Duration::from_secs(300))["status"],
        "succeeded"
    );
    let r = call(
        &d,
        "set_target.run",
        json!({"path": dir, "target": "esp32s3", "env": env}),
    )
    .unwrap();
    assert_eq!(r["recipe_id"], "idf_set_target");
    assert_eq!(r["target"], "esp32s3");
    let st = wait_final(&d, r["task_id"].as_str().unwrap(), Duration::from_secs(300));
    assert_eq!(
        st["status"],
        "succeeded",
        "{}",
        log_lines(&d, r["task_id"].as_str().unwrap()).join("\n")
    );
    assert!(
        std::fs::read_to_string(dir.join("sdkconfig.old"))
            .unwrap()
            .contains("CONFIG_IDF_TARGET=\"esp32c3\"")
    );
    assert!(
        std::fs::read_to_string(dir.join("sdkconfig"))
            .unwrap()
            .contains("CONFIG_IDF_TARGET=\"esp32s3\"")
    );
    assert!(
        std::fs::read_to_string(dir.join("build/CMakeCache.txt"))
            .unwrap()
            .contains("IDF_TARGET:STRING=esp32s3")
    );
    assert!(
        !dir.join("build/hello.elf").exists(),
        "the full clean removed the old build"
    );
    assert!(
        std::fs::read_to_string(dir.join(".espctl.toml"))
            .unwrap()
            .contains("esp32s3")
    );
}

#[test]
fn release_builds_use_their_own_dir_and_config() {
    let Some(env) = standin_env() else { return };
    let env = env_with(&env, &[]);
    let d = TestDaemon::start();
    let project = copy_fixture("hello");
    let dir = project.path().canonicalize().unwrap();
    let id = start(&d, &dir, &env, json!({"profile": "release"}));
    let st = wait_final(&d, &id, Duration::from_secs(300));
    assert_eq!(
        st["status"],
        "succeeded",
        "{}",
        log_lines(&d, &id).join("\n")
    );
    assert!(dir.join("build-release/hello.bin").exists());
    assert!(
        !dir.join("build").exists(),
        "the debug build dir is untouched"
    );
    let sdk = std::fs::read_to_string(dir.join("sdkconfig.release")).unwrap();
    assert!(
        sdk.contains("CONFIG_COMPILER_OPTIMIZATION_SIZE=y"),
        "the release overlay applies"
    );
}

#[test]
fn a_hundred_thousand_log_lines_arrive_without_a_drop() {
    let Some(env) = standin_env() else { return };
    let env = env_with(&env, &[("STANDIN_FLOOD_LINES", "100000")]);
    let d = TestDaemon::start();
    let project = copy_fixture("hello");
    let dir = project.path().canonicalize().unwrap();
    let id = start(&d, &dir, &env, json!({}));
    let received = rt().block_on(async {
        let c = ws_client(&d.socket).await;
        let mut sub = c
            .subscribe::<Value, _>(
                "build.log",
                params(json!({"task_id": id, "offset": 0})),
                "build.log_unsubscribe",
            )
            .await
            .unwrap();
        let mut lines = 0u64;
        let mut expected = 0u64;
        while let Some(chunk) = sub.next().await {
            let chunk = chunk.unwrap();
            assert_eq!(chunk["offset"], expected, "gap in the stream");
            expected = chunk["next_offset"].as_u64().unwrap();
            lines += chunk["lines"].as_array().unwrap().len() as u64;
            if chunk["eof"] == true {
                break;
            }
        }
        lines
    });
    let st = wait_final(&d, &id, Duration::from_secs(300));
    assert_eq!(st["status"], "succeeded");
    let total = call(
        &d,
        "build.log_read",
        json!({"task_id": id, "offset": 0, "limit": 1}),
    )
    .unwrap()["total_lines"]
        .as_u64()
        .unwrap();
    assert_eq!(received, total);
    assert!(total > 100_000, "{total}");
}

#[test]
fn without_an_idf_a_build_is_refused_and_points_to_plan_only_mode() {
    let d = TestDaemon::start();
    let project = copy_fixture("hello");
    let out = d
        .espctl()
        .args(["build", "--target", "esp32c3"])
        .arg(project.path())
        .env_remove("IDF_PATH")
        .env("HOME", project.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--local"), "{err}");
    // A pin that is not installed names the pin.
    let out = d
        .espctl()
        .args(["build", "--target", "esp32c3", "--idf-version", "v4.1"])
        .arg(project.path())
        .env("IDF_PATH", standin_idf_path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("v4.1"),
        "{}",
        describe(&out)
    );
}

#[test]
fn cli_build_json_events_end_with_the_manifest_and_detach_returns_at_once() {
    let Some(env) = standin_env() else { return };
    let d = TestDaemon::start();
    let project = copy_fixture("hello");
    let dir = project.path().canonicalize().unwrap();
    let mut cmd = d.espctl();
    cmd.args(["build", "--json", "--target", "esp32c3"])
        .arg(&dir)
        .env("IDF_CCACHE_ENABLE", "0");
    for (k, v) in &env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let events: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is one JSON event"))
        .collect();
    assert_eq!(events[0]["event"], "task");
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "stage_start" && e["stage"] == "compiling")
    );
    assert!(events.iter().any(|e| e["event"] == "log"));
    let last = events.last().unwrap();
    assert_eq!(last["event"], "manifest", "{last}");
    assert_eq!(last["manifest"]["build"]["project"], "hello");

    let mut cmd = d.espctl();
    cmd.args(["build", "--detach", "--json", "--target", "esp32c3"])
        .arg(&dir);
    for (k, v) in &env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = v["task_id"].as_str().unwrap();
    assert_eq!(
        wait_final(&d, id, Duration::from_secs(300))["status"],
        "succeeded"
    );
}

#[test]
fn the_sandbox_stops_a_configure_that_writes_outside_the_project() {
    let Some(env) = standin_env() else { return };
    if matches!(
        espctld::sandbox::detect(None),
        espctld::sandbox::Sandbox::Unsandboxed { .. }
    ) {
        assert!(
            std::env::var("ESPCTL_REQUIRE_PEERS").as_deref() != Ok("1"),
            "bubblewrap is required"
        );
        eprintln!("no bubblewrap: skipping");
        return;
    }
    let home = tempfile::tempdir_in(std::env::var("HOME").unwrap_or("/root".into())).unwrap();
    let target_file = home.path().join("escaped.txt");
    let env = env_with(
        &env,
        &[("STANDIN_WRITE_OUTSIDE", &target_file.display().to_string())],
    );
    let d = TestDaemon::start();
    let project = copy_fixture("hello");
    let dir = project.path().canonicalize().unwrap();
    let id = start(&d, &dir, &env, json!({}));
    let st = wait_final(&d, &id, Duration::from_secs(300));
    assert_eq!(st["status"], "failed", "{}", log_lines(&d, &id).join("\n"));
    assert!(
        !target_file.exists(),
        "the sandbox let the configure write outside"
    );
    assert!(
        log_lines(&d, &id)
            .iter()
            .any(|l| l.contains("sandbox: bubblewrap"))
    );
}

#[test]
fn components_outside_the_project_stay_visible_inside_the_sandbox() {
    let Some(env) = standin_env() else { return };
    let env = env_with(&env, &[]);
    let d = TestDaemon::start();
    // The project and its EXTRA_COMPONENT_DIRS all live under /tmp, which the sandbox replaces
    // with a private one.
    let fixture = copy_fixture("extra-dirs");
    let dir = fixture.path().join("app").canonicalize().unwrap();
    let id = start(&d, &dir, &env, json!({}));
    let st = wait_final(&d, &id, Duration::from_secs(300));
    let log = log_lines(&d, &id).join("\n");
    assert_eq!(st["status"], "succeeded", "{log}");
    // The shared components were compiled, not merely found.
    for source in ["greeting.c", "units.c"] {
        assert!(
            log.lines()
                .any(|l| l.contains(source) && l.contains("Building C object")),
            "{source} was not compiled:\n{log}"
        );
    }
}

#[test]
fn legacy_make_projects_build_through_the_daemon() {
    let d = TestDaemon::start();
    let project = copy_fixture("make-basic");
    let dir = project.path().canonicalize().unwrap();
    let env = json!({"IDF_PATH": standin_idf_path(), "PATH": std::env::var("PATH").unwrap()});
    let r = call(&d, "build.start", json!({"path": dir, "env": env})).unwrap();
    let id = r["task_id"].as_str().unwrap();
    let st = wait_final(&d, id, Duration::from_secs(300));
    assert_eq!(
        st["status"],
        "succeeded",
        "{}",
        log_lines(&d, id).join("\n")
    );
    assert_eq!(st["result"]["recipe_id"], "idf-make");
    assert!(
        st["result"]["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a.as_str().unwrap().ends_with(".elf"))
    );
}
