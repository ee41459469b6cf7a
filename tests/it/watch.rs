//! Watched projects through the real daemon and the real CLI: `project.watch` over WebSocket with
//! files edited in copied fixture projects (class, reason, paths; components outside the project;
//! a broken CMakeLists as a notification), the predicted rebuild set against real `ninja -n` after
//! a real build, the polling fallback under a tiny injected watch budget, reference counting and
//! closing, a deleted project, bad paths, and `espctl watch` (`--json`, `--flash`, `--build`
//! canceling a build a newer change made stale).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use espctl_tests::{
    TestDaemon, copy_fixture, describe, named_params, rpc_call, runtime, standin_env, wait_for,
    ws_client,
};
use jsonrpsee::core::client::{Subscription, SubscriptionClientT};
use serde_json::{Value, json};

/// Debounce the test daemons use: short, so the tests wait little.
const DEBOUNCE_MS: &str = "50";
/// How long a notification may take to arrive (a re-plan on a loaded machine included).
const NOTIFY_TIMEOUT: Duration = Duration::from_secs(30);

fn daemon(extra: &[&str]) -> TestDaemon {
    let mut args = vec!["--idle-timeout", "0", "--watch-debounce-ms", DEBOUNCE_MS];
    args.extend_from_slice(extra);
    TestDaemon::start_with(&args)
}

fn env_map(env: &[(String, String)]) -> BTreeMap<String, String> {
    let mut m: BTreeMap<String, String> = env.iter().cloned().collect();
    m.insert("IDF_CCACHE_ENABLE".into(), "0".into());
    m
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

async fn subscribe(
    socket: &Path,
    params: Value,
) -> (jsonrpsee::core::client::Client, Subscription<Value>) {
    let client = ws_client(socket).await;
    let sub = client
        .subscribe::<Value, _>("project.watch", named_params(params), "project.unwatch")
        .await
        .expect("project.watch");
    (client, sub)
}

/// The next notification, within a bound.
async fn next(sub: &mut Subscription<Value>) -> Value {
    match tokio::time::timeout(NOTIFY_TIMEOUT, sub.next()).await {
        Ok(Some(Ok(v))) => v,
        Ok(other) => panic!("the subscription ended: {other:?}"),
        Err(_) => panic!("no plan.changed within {NOTIFY_TIMEOUT:?}"),
    }
}

/// The next notification about changed files (build directory reports skipped).
async fn next_change(sub: &mut Subscription<Value>) -> Value {
    loop {
        let n = next(sub).await;
        if n["kind"] == "changed" || n["kind"] == "removed" {
            return n;
        }
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn watched_projects(d: &TestDaemon) -> Vec<Value> {
    rpc_call(&d.socket, "daemon.info", json!({})).unwrap()["watched_projects"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// [`watched_projects`] from async code.
async fn watched_now(socket: &Path) -> Vec<Value> {
    use jsonrpsee::core::client::ClientT;
    let client = ws_client(socket).await;
    let info: Value = client
        .request("daemon.info", named_params(json!({})))
        .await
        .unwrap();
    info["watched_projects"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Polls `check` from async code until it holds, or fails after `timeout`.
async fn eventually(
    timeout: Duration,
    what: &str,
    socket: &Path,
    check: impl Fn(&[Value]) -> bool,
) {
    let deadline = Instant::now() + timeout;
    loop {
        if check(&watched_now(socket).await) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Adds a component that finds its sources with SRC_DIRS (a glob CMake runs only when it
/// configures).
fn add_src_dirs_component(project: &Path) {
    write(
        &project.join("components/blinker/CMakeLists.txt"),
        "idf_component_register(SRC_DIRS \"src\" INCLUDE_DIRS \"include\")\n",
    );
    write(
        &project.join("components/blinker/src/blink.c"),
        "#include \"blinker.h\"\nint blink(void) { return 1; }\n",
    );
    write(
        &project.join("components/blinker/include/blinker.h"),
        "int blink(void);\n",
    );
}

#[test]
fn changes_are_classified_with_their_reason_and_paths() {
    let Some(env) = standin_env() else { return };
    let d = daemon(&[]);
    let fixture = copy_fixture("extra-dirs");
    let root = fixture.path().canonicalize().unwrap();
    let app = root.join("app");
    add_src_dirs_component(&app);
    runtime().block_on(async {
        let (_client, mut sub) = subscribe(
            &d.socket,
            json!({"path": app, "target": "esp32c3", "env": env_map(&env)}),
        )
        .await;
        let initial = next(&mut sub).await;
        assert_eq!(initial["kind"], "initial", "{initial}");
        assert_eq!(initial["sequence"], 0);
        assert_eq!(initial["plan"]["project_name"], "extra_dirs");
        assert_eq!(initial["watch"]["mode"], "native");
        assert!(initial["watch"]["paths_watched"].as_u64().unwrap() > 5);
        assert!(initial["cost"].is_null());
        assert!(
            initial["cost_note"]
                .as_str()
                .unwrap()
                .contains("not configured"),
            "{initial}"
        );

        // A source of the project.
        let main_c = app.join("main/main.c");
        append(&main_c, "/* edited */\n");
        let n = next_change(&mut sub).await;
        assert_eq!(n["class"], "recompile", "{n}");
        assert_eq!(strings(&n["paths"]), [main_c.display().to_string()]);
        assert_eq!(
            n["reason"],
            "main/main.c changed: a source of component main"
        );
        assert!(n["sequence"].as_u64().unwrap() >= 1);

        // A header of a component outside the project (EXTRA_COMPONENT_DIRS).
        let header = root.join("shared_components/greeting/include/greeting.h");
        append(&header, "/* edited */\n");
        let n = next_change(&mut sub).await;
        assert_eq!(n["class"], "recompile", "{n}");
        assert_eq!(strings(&n["paths"]), [header.display().to_string()]);
        assert!(
            n["reason"].as_str().unwrap().contains("component greeting"),
            "{n}"
        );

        // A file appearing where SRC_DIRS looks: CMake would miss it without a reconfigure.
        let new_source = app.join("components/blinker/src/fade.c");
        write(&new_source, "int fade(void) { return 2; }\n");
        let n = next_change(&mut sub).await;
        assert_eq!(n["class"], "reconfigure", "{n}");
        assert_eq!(strings(&n["paths"]), [new_source.display().to_string()]);
        let reason = n["reason"].as_str().unwrap();
        assert!(
            reason.contains("components/blinker/src/fade.c appeared where")
                && reason.contains("component blinker"),
            "{reason}"
        );
        // ... and the re-plan picked it up.
        let n2: Value = {
            use jsonrpsee::core::client::ClientT;
            ws_client(&d.socket)
                .await
                .request(
                    "generate_build_plan",
                    named_params(json!({"path": app, "target": "esp32c3", "env": env_map(&env)})),
                )
                .await
                .unwrap()
        };
        let blinker = n2["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "blinker")
            .unwrap();
        assert!(strings(&blinker["sources"]).contains(&new_source.display().to_string()));

        // A CMakeLists.txt.
        append(&app.join("main/CMakeLists.txt"), "# edited\n");
        let n = next_change(&mut sub).await;
        assert_eq!(n["class"], "reconfigure", "{n}");
        assert_eq!(
            n["reason"],
            "main/CMakeLists.txt changed: CMake runs again (component main)"
        );

        // A linker fragment: only the link runs again.
        let fragment = app.join("main/linker.lf");
        write(
            &fragment,
            "[mapping:main]\narchive: libmain.a\nentries:\n  * (default)\n",
        );
        let n = next_change(&mut sub).await;
        assert_eq!(n["class"], "relink_only", "{n}");

        // Editor noise and files outside every component.
        write(&app.join("main/.main.c.swp"), "vim");
        let n = next_change(&mut sub).await;
        assert_eq!(n["class"], "nothing", "{n}");
        assert!(
            n["reason"]
                .as_str()
                .unwrap()
                .contains("editor temporary file"),
            "{n}"
        );
        write(&app.join("NOTES.md"), "notes");
        let n = next_change(&mut sub).await;
        assert_eq!(n["class"], "nothing", "{n}");
        assert!(
            n["reason"]
                .as_str()
                .unwrap()
                .contains("outside every component"),
            "{n}"
        );

        // A broken CMakeLists: a notification with the diagnostics, and the watch goes on.
        let cmakelists = app.join("main/CMakeLists.txt");
        let good = std::fs::read_to_string(&cmakelists).unwrap();
        std::fs::write(
            &cmakelists,
            format!("{good}message(FATAL_ERROR \"broken on purpose\")\n"),
        )
        .unwrap();
        let n = next_change(&mut sub).await;
        assert_eq!(n["class"], "reconfigure", "{n}");
        let diagnostics = n["diagnostics"].as_array().unwrap();
        assert!(
            diagnostics
                .iter()
                .any(|d| d["message"].as_str().unwrap().contains("broken on purpose")),
            "{n}"
        );
        assert!(n["plan"]["errors"].as_u64().unwrap() > 0, "{n}");
        std::fs::write(&cmakelists, good).unwrap();
        let n = next_change(&mut sub).await;
        assert_eq!(n["class"], "reconfigure", "{n}");
        assert_eq!(n["plan"]["errors"], 0, "{n}");
        assert!(n["diagnostics"].as_array().unwrap().is_empty(), "{n}");
    });
}

/// Object files `ninja -n` would build in `build`, from CMake's "Building C object X" lines, and
/// whether it would link the app.
fn ninja_dry_run(build: &Path, app_elf: &str) -> (BTreeSet<String>, bool) {
    let out = Command::new("ninja")
        .arg("-C")
        .arg(build)
        .arg("-n")
        .arg("all")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let objects = text
        .lines()
        .filter_map(|l| {
            [
                "Building C object ",
                "Building CXX object ",
                "Building ASM object ",
            ]
            .iter()
            .find_map(|p| l.split_once(p).map(|(_, o)| o.trim().to_string()))
        })
        .collect();
    let links = text
        .lines()
        .any(|l| l.contains("Linking") && l.contains(app_elf));
    (objects, links)
}

/// Two components sharing a header with `main`: `greeting` declares it, `farewell` and `main`
/// include it.
fn add_shared_header(project: &Path) {
    write(
        &project.join("components/greeting/CMakeLists.txt"),
        "idf_component_register(SRCS \"greeting.c\" INCLUDE_DIRS \"include\")\n",
    );
    write(
        &project.join("components/greeting/include/greeting.h"),
        "#pragma once\nconst char *greeting(void);\n",
    );
    write(
        &project.join("components/greeting/greeting.c"),
        "#include \"greeting.h\"\nconst char *greeting(void) { return \"hi\"; }\n",
    );
    write(
        &project.join("components/farewell/CMakeLists.txt"),
        "idf_component_register(SRCS \"farewell.c\" REQUIRES greeting)\n",
    );
    write(
        &project.join("components/farewell/farewell.c"),
        "#include \"greeting.h\"\nconst char *farewell(void) { return greeting(); }\n",
    );
    write(
        &project.join("main/CMakeLists.txt"),
        "idf_component_register(SRCS \"hello_main.c\" PRIV_REQUIRES spi_flash greeting farewell)\n",
    );
    let main = project.join("main/hello_main.c");
    let text = std::fs::read_to_string(&main).unwrap();
    std::fs::write(&main, format!("#include \"greeting.h\"\n{text}")).unwrap();
}

#[test]
fn the_predicted_rebuild_set_is_what_ninja_would_run() {
    let Some(env) = standin_env() else { return };
    let d = daemon(&[]);
    let fixture = copy_fixture("hello");
    let project = fixture.path().canonicalize().unwrap();
    add_shared_header(&project);
    let env = env_map(&env);
    let started = rpc_call(
        &d.socket,
        "build.start",
        json!({"path": project, "target": "esp32c3", "env": env}),
    )
    .unwrap();
    let id = started["task_id"].as_str().unwrap().to_string();
    let st = wait_for(Duration::from_secs(300), "the build", || {
        let st = rpc_call(&d.socket, "build.status", json!({"task_id": id})).ok()?;
        st["finished_at"].is_i64().then_some(st)
    });
    assert_eq!(st["status"], "succeeded", "{st}");
    let build = project.join("build");
    runtime().block_on(async {
        let (_client, mut sub) = subscribe(
            &d.socket,
            json!({"path": project, "target": "esp32c3", "env": env}),
        )
        .await;
        let initial = next(&mut sub).await;
        assert_eq!(initial["cost"]["objects_to_rebuild"], 0, "{initial}");
        assert_eq!(initial["cost"]["relink"], false, "{initial}");

        // A header three components include.
        let header = project.join("components/greeting/include/greeting.h");
        append(&header, "/* edited */\n");
        let n = next_change(&mut sub).await;
        assert_eq!(n["class"], "recompile", "{n}");
        let cost = &n["cost"];
        let predicted: BTreeSet<String> = strings(&cost["objects"]).into_iter().collect();
        let (dry_run, links) = ninja_dry_run(&build, "hello.elf");
        assert_eq!(predicted, dry_run, "{n}");
        assert_eq!(cost["objects_to_rebuild"], dry_run.len());
        assert_eq!(
            dry_run.len(),
            3,
            "greeting.c, farewell.c, hello_main.c: {dry_run:?}"
        );
        assert_eq!(cost["relink"], links);
        assert!(links);
        assert_eq!(
            strings(&cost["components"]),
            ["farewell", "greeting", "main"]
        );
        assert_eq!(cost["reconfigure"], false);
        assert!(cost["estimated_secs"].as_f64().unwrap() > 0.0, "{n}");

        // Another header only one source includes: the set is still what Ninja would run
        // (the earlier change is not built yet, so it counts too).
        append(&project.join("main/hello_main.c"), "/* edited */\n");
        let n = next_change(&mut sub).await;
        let predicted: BTreeSet<String> = strings(&n["cost"]["objects"]).into_iter().collect();
        let (dry_run, _) = ninja_dry_run(&build, "hello.elf");
        assert_eq!(predicted, dry_run, "{n}");
    });
}

#[test]
fn a_tiny_watch_budget_falls_back_to_polling_and_says_so() {
    let Some(env) = standin_env() else { return };
    let d = daemon(&["--max-watches", "3", "--watch-poll-ms", "100"]);
    let fixture = copy_fixture("hello");
    let project = fixture.path().canonicalize().unwrap();
    runtime().block_on(async {
        let (client, mut sub) = subscribe(
            &d.socket,
            json!({"path": project, "target": "esp32c3", "env": env_map(&env)}),
        )
        .await;
        let initial = next(&mut sub).await;
        assert_eq!(initial["watch"]["mode"], "polling", "{initial}");
        let note = initial["watch"]["note"].as_str().unwrap();
        assert!(
            note.contains("sudo sysctl fs.inotify.max_user_watches="),
            "{note}"
        );
        assert!(note.contains("the daemon may use 3"), "{note}");

        let listed = watched_now(&d.socket).await;
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(listed[0]["project_dir"], project.display().to_string());
        assert_eq!(listed[0]["mode"], "polling");
        assert!(listed[0]["paths_watched"].as_u64().unwrap() > 3);
        assert_eq!(listed[0]["subscribers"], 1);

        let status = d.run(&["status", "--project", project.to_str().unwrap()]);
        assert_eq!(status.status.code(), Some(0), "{}", describe(&status));
        let text = String::from_utf8_lossy(&status.stdout);
        assert!(text.contains("polling"), "{text}");
        assert!(
            text.contains("sysctl fs.inotify.max_user_watches"),
            "{text}"
        );
        let json_status = d.run(&["status", "--project", project.to_str().unwrap(), "--json"]);
        let v: Value = serde_json::from_slice(&json_status.stdout).unwrap();
        assert_eq!(v["watched"], true);
        assert_eq!(v["watch"]["mode"], "polling");

        // Polling still sees changes.
        append(&project.join("main/hello_main.c"), "/* polled */\n");
        let n = next_change(&mut sub).await;
        assert_eq!(n["class"], "recompile", "{n}");

        // Unsubscribing closes the watcher.
        sub.unsubscribe().await.unwrap();
        eventually(
            Duration::from_secs(10),
            "the watch to close",
            &d.socket,
            |l| l.is_empty(),
        )
        .await;
        drop(client);
    });
    let status = d.run(&["status", "--project", project.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&status.stdout).contains("not watched"));
}

#[test]
fn clients_share_one_watcher_and_the_last_one_closes_it() {
    let Some(env) = standin_env() else { return };
    let d = daemon(&[]);
    let fixture = copy_fixture("hello");
    let project = fixture.path().canonicalize().unwrap();
    let params = json!({"path": project, "target": "esp32c3", "env": env_map(&env)});
    runtime().block_on(async {
        let (first_client, mut first) = subscribe(&d.socket, params.clone()).await;
        let (second_client, mut second) = subscribe(&d.socket, params.clone()).await;
        next(&mut first).await;
        let initial = next(&mut second).await;
        assert_eq!(initial["kind"], "initial");
        let listed = watched_now(&d.socket).await;
        assert_eq!(listed.len(), 1, "one watcher for both: {listed:?}");
        assert_eq!(listed[0]["subscribers"], 2);
        assert_eq!(strings(&listed[0]["views"]), ["esp32c3/debug"]);

        // Both get the change.
        append(&project.join("main/hello_main.c"), "/* both */\n");
        let a = next_change(&mut first).await;
        let b = next_change(&mut second).await;
        assert_eq!(a["sequence"], b["sequence"]);
        assert_eq!(a["class"], "recompile");

        // A disconnect drops its reference.
        drop(first);
        drop(first_client);
        eventually(
            Duration::from_secs(10),
            "one subscriber left",
            &d.socket,
            |l| l.len() == 1 && l[0]["subscribers"] == 1,
        )
        .await;
        // The last unsubscribe closes the watcher.
        second.unsubscribe().await.unwrap();
        eventually(
            Duration::from_secs(10),
            "the watch to close",
            &d.socket,
            |l| l.is_empty(),
        )
        .await;
        drop(second_client);
    });
}

#[test]
fn a_deleted_project_ends_the_watch() {
    let Some(env) = standin_env() else { return };
    let d = daemon(&[]);
    let fixture = copy_fixture("hello");
    let project = fixture.path().join("hello");
    espctl_tests::copy_tree(
        &espctl_tests::repo_path("tests/fixtures/projects/hello"),
        &project,
    );
    let project = project.canonicalize().unwrap();
    runtime().block_on(async {
        let (_client, mut sub) = subscribe(
            &d.socket,
            json!({"path": project, "target": "esp32c3", "env": env_map(&env)}),
        )
        .await;
        next(&mut sub).await;
        std::fs::remove_dir_all(&project).unwrap();
        let n = next_change(&mut sub).await;
        assert_eq!(n["kind"], "removed", "{n}");
        assert!(n["reason"].as_str().unwrap().contains("was deleted"), "{n}");
        // The daemon ends the subscription after it.
        let end = tokio::time::timeout(NOTIFY_TIMEOUT, sub.next())
            .await
            .unwrap();
        assert!(
            end.is_none() || end.unwrap().is_err(),
            "the subscription should end"
        );
    });
    wait_for(Duration::from_secs(10), "the watch to close", || {
        watched_projects(&d).is_empty().then_some(())
    });
}

#[test]
fn a_path_that_is_not_a_project_is_refused() {
    let d = daemon(&[]);
    let empty = tempfile::tempdir().unwrap();
    let err = runtime().block_on(async {
        let client = ws_client(&d.socket).await;
        client
            .subscribe::<Value, _>(
                "project.watch",
                named_params(json!({"path": empty.path()})),
                "project.unwatch",
            )
            .await
            .map(|_| ())
            .unwrap_err()
            .to_string()
    });
    assert!(
        err.contains("CMakeLists.txt") || err.contains("project"),
        "{err}"
    );
    let out = d.run(&["watch", empty.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(watched_projects(&d).is_empty());
}

/// `espctl watch` as a child, its stdout lines arriving on a channel.
struct WatchProcess {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl WatchProcess {
    fn start(d: &TestDaemon, args: &[&str], env: &[(String, String)]) -> WatchProcess {
        let mut cmd = d.espctl();
        cmd.arg("watch")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.env("IDF_CCACHE_ENABLE", "0");
        let mut child = cmd.spawn().expect("espctl watch");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        WatchProcess { child, lines }
    }

    /// The next JSON line satisfying `want`, within `timeout`.
    fn expect(&self, timeout: Duration, what: &str, want: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("espctl watch printed no {what} within {timeout:?}"));
            let v: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
            if want(&v) {
                return v;
            }
        }
    }

    /// Ctrl-C, then the exit status.
    fn interrupt(mut self) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("espctl watch did not stop on SIGINT");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for WatchProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn espctl_watch_json_prints_one_event_per_line() {
    let Some(env) = standin_env() else { return };
    let d = daemon(&[]);
    let fixture = copy_fixture("hello");
    let project = fixture.path().canonicalize().unwrap();
    let watch = WatchProcess::start(
        &d,
        &[project.to_str().unwrap(), "--target", "esp32c3", "--json"],
        &env,
    );
    let initial = watch.expect(NOTIFY_TIMEOUT, "initial event", |v| {
        v["event"] == "plan_changed"
    });
    assert_eq!(initial["kind"], "initial", "{initial}");
    assert_eq!(initial["plan"]["target"], "esp32c3");
    let source = project.join("main/hello_main.c");
    append(&source, "/* watched */\n");
    let n = watch.expect(NOTIFY_TIMEOUT, "change event", |v| v["kind"] == "changed");
    assert_eq!(n["event"], "plan_changed");
    assert_eq!(n["class"], "recompile");
    assert_eq!(strings(&n["paths"]), [source.display().to_string()]);
    assert_eq!(n["changes"][0]["event"], "modified");
    let status = watch.interrupt();
    assert_eq!(status.code(), Some(0));
    wait_for(Duration::from_secs(10), "the watch to close", || {
        watched_projects(&d).is_empty().then_some(())
    });
}

#[test]
fn espctl_watch_human_view_is_one_plain_line_per_change() {
    let Some(env) = standin_env() else { return };
    let d = daemon(&[]);
    let fixture = copy_fixture("hello");
    let project = fixture.path().canonicalize().unwrap();
    let watch = WatchProcess::start(
        &d,
        &[project.to_str().unwrap(), "--target", "esp32c3"],
        &env,
    );
    let first = watch
        .lines
        .recv_timeout(NOTIFY_TIMEOUT)
        .expect("a first line");
    assert!(first.contains(" watching "), "{first}");
    append(&project.join("main/hello_main.c"), "/* seen */\n");
    let line = watch
        .lines
        .recv_timeout(NOTIFY_TIMEOUT)
        .expect("a change line");
    assert!(
        line.contains(" recompile ") && line.contains("main/hello_main.c changed"),
        "{line}"
    );
    // NO_COLOR is set and stdout is a pipe: no escape codes.
    assert!(!line.contains('\x1b') && !first.contains('\x1b'), "{line}");
    assert!(!line.contains('\n'));
    watch.interrupt();
}

#[test]
fn espctl_watch_flash_is_refused() {
    let d = daemon(&[]);
    let fixture = copy_fixture("hello");
    let out = d.run(&[
        "watch",
        fixture.path().to_str().unwrap(),
        "--build",
        "--flash",
        "/dev/ttyUSB0",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--flash") && err.contains("cannot flash yet"),
        "{err}"
    );
    assert!(watched_projects(&d).is_empty());
}

/// A `ninja` that holds every build for a long time before running the real one, first on the
/// PATH the CLI forwards: a build that is still running when the next change arrives.
fn slow_ninja(project: &Path) -> PathBuf {
    let real = String::from_utf8(
        Command::new("sh")
            .args(["-c", "command -v ninja"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_string();
    let dir = project.join("slow-tools");
    write(
        &dir.join("ninja"),
        &format!(
            "#!/bin/sh\ncase \" $* \" in *\" all \"*) sleep 120;; esac\nexec '{real}' \"$@\"\n"
        ),
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.join("ninja"), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

#[test]
fn espctl_watch_build_cancels_a_stale_build_and_starts_again() {
    let Some(env) = standin_env() else { return };
    let d = daemon(&[]);
    let fixture = copy_fixture("hello");
    let project = fixture.path().canonicalize().unwrap();
    let tools = slow_ninja(&project);
    let env: Vec<(String, String)> = env
        .into_iter()
        .map(|(k, v)| {
            if k == "PATH" {
                (k, format!("{}:{v}", tools.display()))
            } else {
                (k, v)
            }
        })
        .collect();
    let watch = WatchProcess::start(
        &d,
        &[
            project.to_str().unwrap(),
            "--target",
            "esp32c3",
            "--build",
            "--json",
        ],
        &env,
    );
    watch.expect(NOTIFY_TIMEOUT, "initial event", |v| v["kind"] == "initial");
    let source = project.join("main/hello_main.c");
    append(&source, "/* one */\n");
    let first = watch.expect(NOTIFY_TIMEOUT, "first build", |v| {
        v["event"] == "build_started"
    });
    let first_id = first["task_id"].as_str().unwrap().to_string();
    wait_for(Duration::from_secs(120), "the first build to run", || {
        let st = rpc_call(&d.socket, "build.status", json!({"task_id": first_id})).ok()?;
        (st["status"] == "running").then_some(())
    });

    append(&source, "/* two */\n");
    let canceled = watch.expect(NOTIFY_TIMEOUT, "cancel", |v| v["event"] == "build_canceled");
    assert_eq!(canceled["task_id"], first_id.as_str());
    let finished = watch.expect(Duration::from_secs(60), "the stale build's end", |v| {
        v["event"] == "build_finished"
    });
    assert_eq!(finished["task_id"], first_id.as_str());
    assert_eq!(finished["status"], "canceled");
    let second = watch.expect(NOTIFY_TIMEOUT, "second build", |v| {
        v["event"] == "build_started"
    });
    let second_id = second["task_id"].as_str().unwrap().to_string();
    assert_ne!(second_id, first_id);
    assert_eq!(second["sequence"], canceled["superseded_by"]);

    let st = rpc_call(&d.socket, "build.status", json!({"task_id": first_id})).unwrap();
    assert_eq!(st["status"], "canceled", "{st}");
    let st = rpc_call(&d.socket, "build.status", json!({"task_id": second_id})).unwrap();
    assert!(
        st["status"] == "pending" || st["status"] == "running",
        "the new build runs: {st}"
    );
    // Ctrl-C stops watching and cancels the build it started.
    assert_eq!(watch.interrupt().code(), Some(0));
    wait_for(
        Duration::from_secs(60),
        "the second build to be canceled",
        || {
            let st = rpc_call(&d.socket, "build.status", json!({"task_id": second_id})).ok()?;
            (st["status"] == "canceled").then_some(())
        },
    );
}
