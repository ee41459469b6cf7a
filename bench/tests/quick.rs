//! Runs the real harness in `--quick --json` mode against the binaries of this build, so the harness
//! cannot rot: every registered scenario must run and report numeric figures. Goals are not checked
//! (quick mode never fails on them, and debug builds would miss them anyway).

use std::process::Command;
use std::time::Instant;

use espctl_bench::scenarios::SCENARIOS;
use serde_json::Value;

#[test]
fn quick_json_run_reports_every_scenario_with_numeric_figures() {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_espctl-bench"))
        .args(["--quick", "--json"])
        .output()
        .expect("run espctl-bench");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "espctl-bench --quick --json exited with {:?} (the workspace binaries must be built: \
         `cargo build --workspace`)\n--- stderr\n{stderr}",
        out.status.code()
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON: {e}\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    eprintln!("quick run took {:.1} s", started.elapsed().as_secs_f64());

    assert_eq!(report["quick"], true);
    assert!(report["machine"]["cores"].as_u64().unwrap() >= 1);
    assert!(report["profile"]["bench"].is_string());
    let scenarios = report["scenarios"].as_array().expect("scenarios array");
    assert_eq!(scenarios.len(), SCENARIOS.len());
    for s in SCENARIOS {
        let got = scenarios
            .iter()
            .find(|v| v["name"] == s.name)
            .unwrap_or_else(|| panic!("scenario {} missing from the report", s.name));
        assert_eq!(got["ok"], true, "{} failed: {}", s.name, got["error"]);
        let verdict = got["verdict"].as_str().unwrap();
        assert!(
            ["PASS", "MISS", "-"].contains(&verdict),
            "{}: {verdict}",
            s.name
        );
        let figures = got["figures"].as_array().unwrap();
        assert!(!figures.is_empty(), "{} reported no figures", s.name);
        for f in figures {
            let ours = f["ours"]
                .as_f64()
                .unwrap_or_else(|| panic!("{}: {} is not a number: {f}", s.name, f["key"]));
            assert!(ours > 0.0, "{}: {} is {ours}", s.name, f["key"]);
            // Every figure of these scenarios has a same-run baseline.
            let baseline = f["baseline"]
                .as_f64()
                .unwrap_or_else(|| panic!("{}: {} has no numeric baseline: {f}", s.name, f["key"]));
            assert!(
                baseline > 0.0,
                "{}: baseline of {} is {baseline}",
                s.name,
                f["key"]
            );
            assert!(f["unit"].is_string());
        }
    }
    assert_eq!(report["summary"]["errors"], 0);
}

#[test]
fn only_runs_the_named_scenario_and_unknown_names_fail() {
    let out = Command::new(env!("CARGO_BIN_EXE_espctl-bench"))
        .args(["--quick", "--json", "--only", "daemon-cold-start"])
        .output()
        .expect("run espctl-bench");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["daemon-cold-start"]);

    let out = Command::new(env!("CARGO_BIN_EXE_espctl-bench"))
        .args(["--quick", "--only", "no-such-scenario"])
        .output()
        .expect("run espctl-bench");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no scenario `no-such-scenario`"),
        "{stderr}"
    );
    assert!(stderr.contains("status-roundtrip"), "{stderr}");
}

#[test]
fn missing_binaries_are_a_clear_error() {
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_espctl-bench"))
        .args(["--quick", "--bin-dir"])
        .arg(empty.path())
        .output()
        .expect("run espctl-bench");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("espctld"), "{stderr}");
    assert!(
        stderr.contains("cargo build --release --workspace"),
        "{stderr}"
    );
}
