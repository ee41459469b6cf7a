//! Plans through the real daemon, checked against what a real configure (real CMake and kconfgen on
//! the stand-in ESP-IDF) decides for the same project: components, declared requirements, sources,
//! include dirs, common requirements. Also: every seed rule's fixture, full-plan snapshots, no side
//! effects, `configured` exactness after a configure, and the CLI views.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use espctl_tests::{
    TestDaemon, copy_fixture, describe, standin_env, standin_idf_path, tree_snapshot,
};
use serde_json::{Value, json};

/// The caller environment a client would forward: the stand-in's activated one.
fn forwarded(env: &[(String, String)]) -> BTreeMap<String, String> {
    env.iter()
        .filter(|(k, _)| espctl_protocol::plan::FORWARDED_ENV.contains(&k.as_str()))
        .cloned()
        .collect()
}

fn call(d: &TestDaemon, method: &str, p: Value) -> Result<Value, String> {
    espctl_tests::rpc_call(&d.socket, method, p)
}

fn plan(d: &TestDaemon, dir: &Path, env: &[(String, String)], extra: Value) -> Value {
    let mut p = json!({"path": dir, "env": forwarded(env)});
    for (k, v) in extra.as_object().unwrap() {
        p[k] = v.clone();
    }
    call(d, "generate_build_plan", p).expect("generate_build_plan")
}

/// Configures `dir` with real CMake and the stand-in, as a build would.
fn configure(
    dir: &Path,
    env: &[(String, String)],
    target: &str,
    extra: &[&str],
) -> std::process::Output {
    Command::new("cmake")
        .args(["-G", "Ninja", "-S"])
        .arg(dir)
        .arg("-B")
        .arg(dir.join("build"))
        .arg(format!("-DIDF_TARGET={target}"))
        .args(extra)
        .env_clear()
        .envs(env.iter().cloned())
        .env("HOME", std::env::var("HOME").unwrap_or_default())
        .output()
        .expect("cmake")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|s| s.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn canon(p: &str) -> String {
    std::fs::canonicalize(p)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| p.to_string())
}

/// The plan agrees with the real configure's project_description.json.
fn assert_plan_matches_configure(plan: &Value, dir: &Path) {
    let desc: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("build/project_description.json")).unwrap(),
    )
    .unwrap();
    let planned: BTreeSet<String> = strings(&plan["build_order"]).into_iter().collect();
    let real: BTreeSet<String> = strings(&desc["build_components"]).into_iter().collect();
    assert_eq!(planned, real, "components differ from the real configure");
    assert_eq!(
        strings(&plan["common_requirements"]),
        strings(&desc["common_component_reqs"]),
        "common requirements"
    );
    for c in plan["components"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        let info = &desc["build_component_info"][name];
        assert!(info.is_object(), "{name} missing from the real configure");
        for key in ["reqs", "priv_reqs"] {
            let a: BTreeSet<String> = strings(&c[key]).into_iter().collect();
            let b: BTreeSet<String> = strings(&info[key]).into_iter().collect();
            assert_eq!(a, b, "{name} {key}");
        }
        let a: BTreeSet<String> = strings(&c["sources"]).iter().map(|s| canon(s)).collect();
        let b: BTreeSet<String> = strings(&info["sources"]).iter().map(|s| canon(s)).collect();
        assert_eq!(a, b, "{name} sources");
        let dir_of = info["dir"].as_str().unwrap();
        let a: BTreeSet<String> = strings(&c["include_dirs"])
            .iter()
            .map(|s| canon(s))
            .collect();
        let b: BTreeSet<String> = strings(&info["include_dirs"])
            .iter()
            .map(|s| canon(&Path::new(dir_of).join(s).display().to_string()))
            .collect();
        assert_eq!(a, b, "{name} include dirs");
    }
}

/// Plan, configure for real, compare; then plan again and expect an exact plan with no configure step.
fn check_fixture(name: &str, target: &str) -> Option<(Value, Value)> {
    let env = standin_env()?;
    let d = TestDaemon::start();
    let project = copy_fixture(name);
    let dir = project.path().canonicalize().unwrap();
    let before = tree_snapshot(&dir);
    let estimated = plan(&d, &dir, &env, json!({"target": target}));
    assert_eq!(tree_snapshot(&dir), before, "planning wrote something");
    assert!(
        estimated["errors"].as_array().unwrap().is_empty(),
        "{name}: {}",
        estimated["errors"]
    );
    assert_eq!(estimated["exactness"], "estimated");
    assert_eq!(estimated["command_pipeline"][0]["name"], "cmake-configure");
    let out = configure(&dir, &env, target, &[]);
    assert!(out.status.success(), "{name}: {}", describe(&out));
    assert_plan_matches_configure(&estimated, &dir);
    let exact = plan(&d, &dir, &env, json!({"target": target}));
    assert_eq!(exact["exactness"], "configured", "{name}");
    let steps: Vec<&str> = exact["command_pipeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["ninja-build", "bundle"], "{name}");
    assert_plan_matches_configure(&exact, &dir);
    Some((estimated, exact))
}

#[test]
fn hello_plan_matches_the_real_configure() {
    let Some((plan, _)) = check_fixture("hello", "esp32c3") else {
        return;
    };
    assert_eq!(plan["recipe_id"], "idf-cmake");
    assert_eq!(plan["target_source"], "param");
    assert_eq!(plan["idf_version_resolved"]["found_via"], "IDF_PATH");
    let artifacts = strings(&plan["expected_artifacts"]);
    for suffix in [
        "hello.elf",
        "hello.bin",
        "bootloader/bootloader.bin",
        "partition_table/partition-table.bin",
        "flasher_args.json",
        "flash_bundle.tar.gz",
    ] {
        assert!(
            artifacts.iter().any(|a| a.ends_with(suffix)),
            "{suffix} not in {artifacts:?}"
        );
    }
}

#[test]
fn car_engine_spark_plug_plan_matches() {
    let Some((plan, _)) = check_fixture("car", "esp32c3") else {
        return;
    };
    let order = strings(&plan["build_order"]);
    let pos = |n: &str| {
        order
            .iter()
            .position(|x| x == n)
            .unwrap_or_else(|| panic!("{n} not in {order:?}"))
    };
    assert!(pos("spark_plug") < pos("engine") && pos("engine") < pos("car"));
}

#[test]
fn renamed_main_plan_matches() {
    check_fixture("renamed-main", "esp32c3");
}

#[test]
fn config_only_component_plan_matches() {
    check_fixture("config-only", "esp32c3");
}

#[test]
fn circular_requirements_are_reported_and_planned() {
    let Some((plan, _)) = check_fixture("circular", "esp32c3") else {
        return;
    };
    let cycles: Vec<Vec<String>> = plan["cycles"]
        .as_array()
        .unwrap()
        .iter()
        .map(strings)
        .collect();
    assert!(
        cycles.iter().any(|c| c.first() == c.last()
            && c.len() >= 3
            && c.iter().all(|n| !n.starts_with("esp_"))),
        "the fixture's own cycle is reported with its full path: {cycles:?}"
    );
}

#[test]
fn override_plan_uses_the_project_copy_and_reports_the_shadowed_one() {
    let Some((plan, _)) = check_fixture("override", "esp32c3") else {
        return;
    };
    let overridden: Vec<&Value> = plan["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            !c["shadowed"]
                .as_array()
                .map(|a| a.is_empty())
                .unwrap_or(true)
        })
        .collect();
    assert!(!overridden.is_empty());
    let idf = standin_idf_path().display().to_string();
    for c in overridden {
        assert!(!c["dir"].as_str().unwrap().starts_with(&idf), "{c}");
        assert!(
            strings(&c["shadowed"]).iter().any(|s| s.starts_with(&idf)),
            "{c}"
        );
    }
}

#[test]
fn trimmed_plan_matches() {
    let Some((plan, _)) = check_fixture("trimmed", "esp32c3") else {
        return;
    };
    let order = strings(&plan["build_order"]);
    // Every component the search finds, against the ones the trimmed build keeps.
    let count = |dir: PathBuf| {
        std::fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.path().join("CMakeLists.txt").exists())
                    .count()
            })
            .unwrap_or(0)
    };
    let available = count(standin_idf_path().join("components"))
        + count(espctl_tests::repo_path(
            "tests/fixtures/projects/trimmed/components",
        ))
        + 1;
    assert!(
        order.len() < available,
        "COMPONENTS trims the build: {} of {available}: {order:?}",
        order.len()
    );
    assert!(order.contains(&"main".to_string()));
}

#[test]
fn foo_enable_bar_follows_the_configuration() {
    let Some(env) = standin_env() else { return };
    let d = TestDaemon::start();
    let project = copy_fixture("foo-enable-bar");
    let dir = project.path().canonicalize().unwrap();
    let sources = |p: &Value| -> Vec<String> {
        p["components"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|c| strings(&c["sources"]))
            .filter_map(|s| {
                Path::new(&s)
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
            })
            .collect()
    };
    let on = plan(
        &d,
        &dir,
        &env,
        json!({"target": "esp32c3", "params": {"sdkconfig": {"FOO_ENABLE_BAR": "y"}}}),
    );
    let off = plan(
        &d,
        &dir,
        &env,
        json!({"target": "esp32c3", "params": {"sdkconfig": {"FOO_ENABLE_BAR": "n"}}}),
    );
    assert!(
        sources(&on).contains(&"bar.c".to_string()),
        "{:?}",
        sources(&on)
    );
    assert!(
        !sources(&off).contains(&"bar.c".to_string()),
        "{:?}",
        sources(&off)
    );
    // And by default, as the real configure decides it.
    let default = plan(&d, &dir, &env, json!({"target": "esp32c3"}));
    let out = configure(&dir, &env, "esp32c3", &[]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_plan_matches_configure(&default, &dir);
}

#[test]
fn required_idf_targets_is_a_plan_error_with_esp_idf_s_message() {
    let Some(env) = standin_env() else { return };
    let d = TestDaemon::start();
    let project = copy_fixture("required-targets");
    let dir = project.path().canonicalize().unwrap();
    // Find a target the fixture refuses: try them until the plan has the error.
    let mut refused = None;
    for target in ["esp32", "esp32c3", "esp32s3", "esp32h2"] {
        let p = plan(&d, &dir, &env, json!({"target": target}));
        if let Some(e) = p["errors"].as_array().unwrap().iter().find(|e| {
            e["message"]
                .as_str()
                .unwrap()
                .contains("only supports targets")
        }) {
            refused = Some((target, e["message"].as_str().unwrap().to_string()));
            break;
        }
    }
    let (target, message) = refused.expect("some target is refused");
    let out = configure(&dir, &env, target, &[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr).replace('\n', " ");
    let stderr: String = stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        stderr.contains(&message),
        "real configure said: {stderr}\nplan said: {message}"
    );
    // The CLI exits 2 for a plan with errors.
    let out = d
        .espctl()
        .args(["plan", "--target", target])
        .arg(&dir)
        .env("IDF_PATH", standin_idf_path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
}

#[test]
fn target_specific_defaults_decide_the_target_and_values() {
    let Some(env) = standin_env() else { return };
    let d = TestDaemon::start();
    let project = copy_fixture("target-defaults");
    let dir = project.path().canonicalize().unwrap();
    let p = plan(&d, &dir, &env, json!({}));
    let out = configure(&dir, &env, p["target"].as_str().unwrap(), &[]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_plan_matches_configure(&p, &dir);
}

#[test]
fn extra_component_dirs_outside_the_project() {
    let Some(env) = standin_env() else { return };
    let d = TestDaemon::start();
    // The fixture points EXTRA_COMPONENT_DIRS outside itself: copy its parent layout.
    let src = espctl_tests::repo_path("tests/fixtures/projects/extra-dirs");
    let tmp = tempfile::tempdir().unwrap();
    espctl_tests::copy_tree(&src, tmp.path());
    let dir = tmp.path().canonicalize().unwrap();
    let project = dir.join("app");
    let p = plan(&d, &project, &env, json!({"target": "esp32c3"}));
    assert!(
        p["errors"].as_array().unwrap().is_empty(),
        "{}",
        p["errors"]
    );
    assert!(
        p["components"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["source"] == "extra"),
        "an extra component is in the plan"
    );
    let out = Command::new("cmake")
        .args(["-G", "Ninja", "-S"])
        .arg(&project)
        .arg("-B")
        .arg(project.join("build"))
        .arg("-DIDF_TARGET=esp32c3")
        .env_clear()
        .envs(env.iter().cloned())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    assert_plan_matches_configure(&p, &project);
}

#[test]
fn set_target_changes_the_default_and_plans_the_set_target_steps() {
    let Some(env) = standin_env() else { return };
    let d = TestDaemon::start();
    let project = copy_fixture("hello");
    let dir = project.path().canonicalize().unwrap();
    let out = configure(&dir, &env, "esp32c3", &[]);
    assert!(out.status.success(), "{}", describe(&out));
    // Configured for esp32c3: with no target asked, the plan keeps it.
    let p = plan(&d, &dir, &env, json!({}));
    assert_eq!(p["target"], "esp32c3");
    assert_eq!(p["target_source"], "build dir (CMakeCache.txt)");
    // set_target records a new default; the next plan shows the set-target steps.
    let r = call(&d, "set_target", json!({"path": dir, "target": "esp32s3"})).unwrap();
    assert_eq!(r["target"], "esp32s3");
    let toml = std::fs::read_to_string(dir.join(".espctl.toml")).unwrap();
    assert!(toml.contains("default_target = \"esp32s3\""), "{toml}");
    let p = plan(&d, &dir, &env, json!({}));
    assert_eq!(p["target"], "esp32s3");
    let steps: Vec<&str> = p["command_pipeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "fullclean",
            "sdkconfig-backup",
            "cmake-configure",
            "ninja-build",
            "bundle"
        ]
    );
    assert!(
        p["command_pipeline"][2]["reason"]
            .as_str()
            .unwrap()
            .contains("target differs")
    );
    // An invalid target is refused with the valid ones listed.
    let err = call(&d, "set_target", json!({"path": dir, "target": "esp8266"})).unwrap_err();
    assert!(err.contains("esp32c61"), "{err}");
}

#[test]
fn errors_for_what_is_not_a_project_or_not_a_target() {
    let d = TestDaemon::start();
    let empty = tempfile::tempdir().unwrap();
    let err = call(&d, "generate_build_plan", json!({"path": empty.path()})).unwrap_err();
    assert!(err.contains("no ESP-IDF project"), "{err}");
    let err = call(&d, "generate_build_plan", json!({"path": "relative/dir"})).unwrap_err();
    assert!(err.contains("relative"), "{err}");
    let cargo = tempfile::tempdir().unwrap();
    std::fs::write(
        cargo.path().join("Cargo.toml"),
        "[dependencies]\nesp-hal = \"1\"\n",
    )
    .unwrap();
    let out = d
        .espctl()
        .args(["plan"])
        .arg(cargo.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--rust-elf"),
        "{}",
        describe(&out)
    );
    let project = copy_fixture("hello");
    let out = d
        .espctl()
        .args(["plan", "--target", "esp8266"])
        .arg(project.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("valid targets"),
        "{}",
        describe(&out)
    );
}

#[test]
fn without_an_idf_the_plan_covers_the_project_and_says_what_is_missing() {
    let d = TestDaemon::start();
    let project = copy_fixture("car");
    let p = call(
        &d,
        "generate_build_plan",
        json!({"path": project.path(), "target": "esp32c3", "env": {"PATH": "/usr/bin:/bin"}}),
    )
    .unwrap();
    assert!(p["idf_version_resolved"]["idf_path"].is_null());
    assert!(p["warnings"].as_array().unwrap().iter().any(|w| {
        w["message"]
            .as_str()
            .unwrap()
            .contains("no ESP-IDF install was found")
    }));
    let names = strings(&p["build_order"]);
    assert!(
        names.contains(&"car".to_string()) && names.contains(&"main".to_string()),
        "{names:?}"
    );
}

#[test]
fn cli_plan_components_why_and_build_local() {
    let Some(env) = standin_env() else { return };
    let d = TestDaemon::start();
    let project = copy_fixture("car");
    let dir = project.path().canonicalize().unwrap();
    let run = |args: &[&str]| {
        let mut cmd = d.espctl();
        cmd.args(args).current_dir(&dir).env_clear();
        for (k, v) in &env {
            cmd.env(k, v);
        }
        cmd.env("ESPCTL_SOCKET", &d.socket)
            .env("ESPCTL_HOME", &d.data_dir)
            .env("NO_COLOR", "1");
        cmd.output().unwrap()
    };
    let out = run(&["plan", "--target", "esp32c3", "--json"]);
    assert!(out.status.success(), "{}", describe(&out));
    let from_cli: Value = serde_json::from_slice(&out.stdout).expect("exactly one JSON document");
    let from_rpc = plan(&d, &dir, &env, json!({"target": "esp32c3"}));
    assert_eq!(from_cli["build_order"], from_rpc["build_order"]);
    assert_eq!(from_cli["command_pipeline"], from_rpc["command_pipeline"]);

    let out = run(&["build", "--local", "--target", "esp32c3"]);
    assert!(out.status.success(), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("cmake-configure") && text.contains("build.ninja missing"),
        "{text}"
    );

    let out = run(&["components", "--target", "esp32c3", "--why", "spark_plug"]);
    assert!(out.status.success(), "{}", describe(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines.iter().any(|l| l.contains("PRIV_REQUIRES spark_plug")),
        "{text}"
    );
    assert!(
        lines.iter().any(|l| l.contains("REQUIRES engine")),
        "{text}"
    );

    let out = run(&[
        "components",
        "--target",
        "esp32c3",
        "--why",
        "no_such_component",
    ]);
    assert_eq!(out.status.code(), Some(1));

    let out = run(&["components", "--target", "esp32c3", "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["components"].as_array().unwrap().len() > 5);
}

/// Replaces machine-specific paths so a plan can be compared with a stored snapshot.
fn normalise(v: &Value, project: &str, idf: &str) -> Value {
    match v {
        Value::String(s) => Value::String(s.replace(project, "$PROJECT").replace(idf, "$IDF")),
        Value::Array(a) => Value::Array(a.iter().map(|x| normalise(x, project, idf)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .filter(|(k, _)| k.as_str() != "environment" && k.as_str() != "installed")
                .map(|(k, x)| (k.clone(), normalise(x, project, idf)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Full plans, compared with snapshots under tests/it/snapshots (refresh with UPDATE_SNAPSHOTS=1).
#[test]
fn full_plan_snapshots() {
    let Some(env) = standin_env() else { return };
    let d = TestDaemon::start();
    let idf = standin_idf_path().display().to_string();
    let mut failures = Vec::new();
    for (fixture, target) in [
        ("hello", "esp32c3"),
        ("car", "esp32c3"),
        ("renamed-main", "esp32c3"),
        ("trimmed", "esp32s3"),
        ("override", "esp32c3"),
        ("circular", "esp32c3"),
    ] {
        let project = copy_fixture(fixture);
        let dir = project.path().canonicalize().unwrap();
        // ccache would change the configure argv depending on the machine: pin it off.
        let mut pinned = env.clone();
        pinned.push(("IDF_CCACHE_ENABLE".into(), "0".into()));
        let p = plan(&d, &dir, &pinned, json!({"target": target}));
        let got = serde_json::to_string_pretty(&normalise(&p, &dir.display().to_string(), &idf))
            .unwrap()
            + "\n";
        let file: PathBuf =
            espctl_tests::repo_path(&format!("tests/it/snapshots/plan-{fixture}-{target}.json"));
        if std::env::var("UPDATE_SNAPSHOTS").as_deref() == Ok("1") {
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, &got).unwrap();
            continue;
        }
        match std::fs::read_to_string(&file) {
            Ok(want) if want == got => {}
            Ok(want) => failures.push(format!(
                "{}:\n{}",
                file.display(),
                first_difference(&want, &got)
            )),
            Err(_) => failures.push(format!(
                "{} is missing: run with UPDATE_SNAPSHOTS=1",
                file.display()
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "plan snapshots differ:\n{}",
        failures.join("\n")
    );
}

fn first_difference(want: &str, got: &str) -> String {
    for (i, (a, b)) in want.lines().zip(got.lines()).enumerate() {
        if a != b {
            return format!("line {}: expected `{a}`, got `{b}`", i + 1);
        }
    }
    format!(
        "lengths differ: {} vs {} lines",
        want.lines().count(),
        got.lines().count()
    )
}

#[test]
fn make_projects_are_planned_and_clean_planned_through_the_daemon() {
    let d = TestDaemon::start();
    let project = copy_fixture("make-extra-clean");
    let dir = project.path().canonicalize().unwrap();
    let env = json!({"IDF_PATH": standin_idf_path(), "PATH": std::env::var("PATH").unwrap()});
    let p = call(&d, "generate_build_plan", json!({"path": dir, "env": env})).unwrap();
    assert_eq!(p["recipe_id"], "idf-make");
    assert_eq!(p["target"], "esp32");
    let step = &p["command_pipeline"][0];
    assert_eq!(step["argv"][0], "make");
    let c = call(&d, "get_clean_plan", json!({"path": dir, "env": env})).unwrap();
    assert_eq!(c["scope"], "clean");
    assert!(
        c["would_delete"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p.as_str().unwrap().starts_with("build/")),
        "{c}"
    );
    // Legacy Make builds esp32 only.
    let p = call(
        &d,
        "generate_build_plan",
        json!({"path": dir, "env": env, "target": "esp32c3"}),
    )
    .unwrap();
    assert!(
        p["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("esp32 only"),
        "{p}"
    );
}

#[test]
fn clean_plans_through_the_daemon_and_cli() {
    let Some(env) = standin_env() else { return };
    let d = TestDaemon::start();
    let project = copy_fixture("hello");
    let dir = project.path().canonicalize().unwrap();
    // fullclean of a directory that is not a CMake build dir is refused with idf.py's reason (exit 2).
    std::fs::create_dir_all(dir.join("build")).unwrap();
    std::fs::write(dir.join("build/stray.txt"), "x").unwrap();
    let out = d
        .espctl()
        .args(["clean-plan", "--full"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("CMakeCache.txt"),
        "{}",
        describe(&out)
    );
    std::fs::remove_dir_all(dir.join("build")).unwrap();
    let out = configure(&dir, &env, "esp32c3", &[]);
    assert!(out.status.success(), "{}", describe(&out));
    let before = tree_snapshot(&dir);
    let full = call(
        &d,
        "get_clean_plan",
        json!({"path": dir, "scope": "fullclean"}),
    )
    .unwrap();
    assert!(full["total_files"].as_u64().unwrap() > 10);
    let out = d
        .espctl()
        .args(["clean-plan", "--json"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let clean: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(clean["scope"], "clean");
    assert_eq!(tree_snapshot(&dir), before, "clean plans deleted something");
}
