//! The table and the JSON a run prints.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::harness::{Figure, Outcome, Scenario, Unit, Verdict};

/// What one scenario produced.
pub struct ScenarioResult {
    pub scenario: &'static Scenario,
    pub outcome: Result<Outcome, String>,
    pub seconds: f64,
}

impl ScenarioResult {
    /// MISS if any figure missed its goal, PASS if any met one, `-` when none has a goal.
    pub fn verdict(&self) -> &'static str {
        match &self.outcome {
            Err(_) => "ERROR",
            Ok(o) => {
                let verdicts: Vec<Verdict> = o.figures.iter().map(Figure::verdict).collect();
                if verdicts.contains(&Verdict::Miss) {
                    "MISS"
                } else if verdicts.contains(&Verdict::Pass) {
                    "PASS"
                } else {
                    "-"
                }
            }
        }
    }
}

/// The machine and build a run happened on.
pub struct RunInfo {
    pub quick: bool,
    pub cores: usize,
    pub cpu: String,
    pub bench_profile: &'static str,
    pub bin_profile: String,
    pub bin_dir: String,
    pub elf: String,
    pub loadavg_start: Vec<f64>,
    pub loadavg_end: Vec<f64>,
}

impl RunInfo {
    pub fn is_release(&self) -> bool {
        self.bench_profile == "release" && self.bin_profile == "release"
    }
}

/// The header lines (machine, profile, mode).
pub fn header(info: &RunInfo) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "espctl-bench {} — {} run",
        env!("CARGO_PKG_VERSION"),
        if info.quick {
            "QUICK (smoke: few iterations, goals not enforced)"
        } else {
            "full"
        }
    );
    let _ = writeln!(
        s,
        "machine:  {} cores, {}, load average {}",
        info.cores,
        info.cpu,
        fmt_load(&info.loadavg_start)
    );
    let _ = writeln!(
        s,
        "profile:  bench {}, binaries {} ({})",
        info.bench_profile, info.bin_profile, info.bin_dir
    );
    s
}

/// The loud warning printed when the figures do not come from release builds.
pub fn profile_warning(info: &RunInfo) -> Option<String> {
    if info.is_release() {
        return None;
    }
    let bar = "!".repeat(78);
    Some(format!(
        "{bar}\n!! WARNING: NOT A RELEASE BUILD (bench: {}, binaries: {}).\n\
         !! These figures say nothing about the real performance. For real figures run:\n\
         !!     cargo build --release --workspace && target/release/espctl-bench\n{bar}\n",
        info.bench_profile, info.bin_profile
    ))
}

fn fmt_load(load: &[f64]) -> String {
    if load.is_empty() {
        return "unknown".to_string();
    }
    load.iter()
        .map(|l| format!("{l:.2}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A value with a sensible number of digits for its size.
pub fn fmt_value(v: f64, unit: Unit) -> String {
    let digits = if unit == Unit::PerSec || v.abs() >= 100.0 {
        0
    } else if v.abs() >= 10.0 {
        1
    } else {
        2
    };
    format!("{v:.digits$} {}", unit.symbol())
}

/// A ratio with two significant digits or so.
fn fmt_ratio(r: f64) -> String {
    let digits = if r >= 10.0 {
        0
    } else if r >= 1.0 {
        1
    } else if r >= 0.1 {
        2
    } else {
        3
    };
    format!("{r:.digits$}x")
}

/// The table: one row per figure, then the baselines and notes.
pub fn table(results: &[ScenarioResult], info: &RunInfo) -> String {
    let mut rows: Vec<[String; 7]> = vec![[
        "scenario".into(),
        "figure".into(),
        "ours".into(),
        "baseline".into(),
        "ours/base".into(),
        "goal".into(),
        "result".into(),
    ]];
    for r in results {
        match &r.outcome {
            Err(e) => rows.push([
                r.scenario.name.into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                r.scenario.goal.into(),
                format!("ERROR: {}", first_line(e)),
            ]),
            Ok(o) => {
                for f in &o.figures {
                    rows.push([
                        r.scenario.name.into(),
                        f.key.into(),
                        fmt_value(f.ours, f.unit),
                        f.baseline
                            .map(|b| fmt_value(b, f.unit))
                            .unwrap_or_else(|| "-".into()),
                        match f.baseline {
                            Some(b) if b > 0.0 => fmt_ratio(f.ours / b),
                            _ => "-".into(),
                        },
                        f.goal
                            .map(|g| format!("{} {}", g.op(), fmt_value(g.value(), f.unit)))
                            .unwrap_or_else(|| "-".into()),
                        f.verdict().as_str().into(),
                    ]);
                }
            }
        }
    }
    let mut widths = [0usize; 7];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut s = String::new();
    for (i, row) in rows.iter().enumerate() {
        let mut line = String::new();
        for (col, (cell, w)) in row.iter().zip(widths).enumerate() {
            let pad = w.saturating_sub(cell.chars().count());
            // Numbers right-aligned, words left-aligned.
            if (2..=4).contains(&col) && i > 0 {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                if col + 1 < row.len() {
                    line.push_str(&" ".repeat(pad));
                }
            }
            if col + 1 < row.len() {
                line.push_str("  ");
            }
        }
        let _ = writeln!(s, "{}", line.trim_end());
        if i == 0 {
            let total: usize = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
            let _ = writeln!(s, "{}", "-".repeat(total));
        }
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "baselines (measured in the same run):");
    for r in results {
        let _ = writeln!(s, "  {:<18} {}", r.scenario.name, r.scenario.baseline);
    }
    let notes: Vec<&String> = results
        .iter()
        .filter_map(|r| r.outcome.as_ref().ok())
        .flat_map(|o| &o.notes)
        .collect();
    if !notes.is_empty() {
        let _ = writeln!(s, "notes:");
        for n in notes {
            let _ = writeln!(s, "  {n}");
        }
    }
    for r in results {
        if let Err(e) = &r.outcome {
            let _ = writeln!(s, "error in {}: {e}", r.scenario.name);
        }
    }
    let (pass, miss, err) = counts(results);
    let _ = writeln!(
        s,
        "{pass} passed, {miss} missed, {err} failed to run{}; load average at the end {}",
        if info.quick && miss > 0 {
            " (quick mode: misses do not fail the run)"
        } else {
            ""
        },
        fmt_load(&info.loadavg_end)
    );
    s
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}

/// Scenarios that passed, missed, and failed to run.
pub fn counts(results: &[ScenarioResult]) -> (usize, usize, usize) {
    let mut c = (0, 0, 0);
    for r in results {
        match r.verdict() {
            "PASS" => c.0 += 1,
            "MISS" => c.1 += 1,
            "ERROR" => c.2 += 1,
            _ => {}
        }
    }
    c
}

/// The machine-readable report.
pub fn json(results: &[ScenarioResult], info: &RunInfo) -> Value {
    let scenarios: Vec<Value> = results
        .iter()
        .map(|r| {
            let (figures, details, notes, error) = match &r.outcome {
                Ok(o) => (
                    o.figures.iter().map(figure_json).collect::<Vec<_>>(),
                    Value::Object(o.details.clone()),
                    o.notes.clone(),
                    Value::Null,
                ),
                Err(e) => (Vec::new(), json!({}), Vec::new(), Value::String(e.clone())),
            };
            json!({
                "name": r.scenario.name,
                "area": r.scenario.area,
                "measures": r.scenario.measures,
                "baseline": r.scenario.baseline,
                "goal": r.scenario.goal,
                "ok": r.outcome.is_ok(),
                "error": error,
                "verdict": r.verdict(),
                "seconds": r.seconds,
                "figures": figures,
                "details": details,
                "notes": notes,
            })
        })
        .collect();
    let (pass, miss, err) = counts(results);
    json!({
        "schema": 1,
        "bench_version": env!("CARGO_PKG_VERSION"),
        "quick": info.quick,
        "release": info.is_release(),
        "profile": {"bench": info.bench_profile, "binaries": info.bin_profile},
        "machine": {
            "cores": info.cores,
            "cpu": info.cpu,
            "loadavg_start": info.loadavg_start,
            "loadavg_end": info.loadavg_end,
        },
        "bin_dir": info.bin_dir,
        "elf": info.elf,
        "scenarios": scenarios,
        "summary": {"passed": pass, "missed": miss, "errors": err},
    })
}

fn figure_json(f: &Figure) -> Value {
    json!({
        "key": f.key,
        "unit": f.unit.ascii(),
        "ours": finite(f.ours),
        "baseline": f.baseline.map(finite),
        "ratio": f.baseline.filter(|b| *b > 0.0).map(|b| finite(f.ours / b)),
        "goal": f.goal.map(|g| json!({"op": g.op(), "value": g.value()})),
        "verdict": f.verdict().as_str(),
    })
}

/// JSON has no NaN or infinity; such a value becomes null.
fn finite(v: f64) -> Value {
    serde_json::Number::from_f64(v)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}
