//! The short text that goes with every tool result: what happened, in a sentence or a few lines, and
//! what to call next. It is read from the result's shape (a task, a bundle, a plan, a task list...),
//! so a new tool with a familiar result reads well without a change here; anything else gets a
//! generic line. The full result is always there too, as JSON.

use serde_json::Value;

use super::resources;

/// Task lines a task-list summary shows before it says how many more there are.
const LIST_LIMIT: usize = 10;

/// The summary of `tool`'s successful result.
pub fn summarize(tool: &str, result: &Value) -> String {
    let Some(object) = result.as_object() else {
        return format!("{tool} answered {}", clip(&result.to_string(), 200));
    };
    if str_of(result, "status") == Some("planning") {
        return planning(result);
    }
    if let Some(tasks) = object.get("tasks").and_then(Value::as_array) {
        return task_list(tasks);
    }
    if object.contains_key("command_pipeline") && object.contains_key("recipe_id") {
        return plan(result);
    }
    if let Some(files) = object.get("would_delete").and_then(Value::as_array) {
        return format!(
            "{} would delete {} files ({}); {} paths listed in would_delete. Nothing was deleted.",
            str_of(result, "scope").unwrap_or("clean"),
            result["total_files"].as_u64().unwrap_or(files.len() as u64),
            bytes(result["total_bytes"].as_u64().unwrap_or(0)),
            files.len()
        );
    }
    if let Some(bundle) = str_of(result, "bundle_path") {
        let mut text = format!(
            "Wrote the flash bundle {bundle} ({})",
            bytes(result["bundle_size_bytes"].as_u64().unwrap_or(0))
        );
        if let Some(target) = result["manifest"]["build"]["target"].as_str() {
            text.push_str(&format!(" for {target}"));
        }
        if let Some(id) = str_of(result, "task_id") {
            text.push_str(&format!("; task {id}"));
        }
        text.push_str(". Next: flash it.");
        return text;
    }
    if let (Some(id), Some(status)) = (str_of(result, "task_id"), str_of(result, "status")) {
        return task(id, status, result);
    }
    if let (Some(target), Some(file)) = (str_of(result, "target"), str_of(result, "config_file")) {
        let previous = str_of(result, "previous")
            .map(|p| format!(" (was {p})"))
            .unwrap_or_default();
        return format!("Default target is now {target}{previous}, recorded in {file}.");
    }
    if let Some(id) = str_of(result, "task_id") {
        let follow = follow_hint(id);
        return format!("{tool} started task {id}. {follow}");
    }
    let keys: Vec<&str> = object.keys().map(String::as_str).collect();
    format!("{tool} succeeded; the result has {}.", keys.join(", "))
}

fn task(id: &str, status: &str, result: &Value) -> String {
    let title = str_of(result, "title")
        .filter(|t| !t.is_empty())
        .map(|t| format!(" ({t})"))
        .unwrap_or_default();
    let mut text = format!("Task {id}{title} is {status}");
    match status {
        "pending" | "running" => {
            let phase = str_of(result, "phase").filter(|p| !p.is_empty());
            let progress = result["progress"].as_f64();
            match (phase, progress) {
                (Some(phase), Some(p)) => text.push_str(&format!(": {phase}, {:.0}%", p * 100.0)),
                (Some(phase), None) => text.push_str(&format!(": {phase}")),
                (None, Some(p)) if result.get("phase").is_some() => {
                    text.push_str(&format!(", {:.0}%", p * 100.0))
                }
                _ => {}
            }
            text.push_str(". ");
            text.push_str(&follow_hint(id));
        }
        "failed" => {
            if let Some(error) = str_of(result, "error") {
                text.push_str(&format!(": {error}"));
            }
            if let Some(code) = result["exit_code"].as_i64() {
                text.push_str(&format!(" (exit code {code})"));
            }
            let errors = result["diagnostics"]
                .as_array()
                .map(|d| d.iter().filter(|x| x["severity"] == "error").count())
                .unwrap_or(0);
            if errors > 0 {
                text.push_str(&format!("; {errors} compiler errors in diagnostics"));
            }
            text.push('.');
            if let Some(uri) = resources::task_uri(id) {
                text.push_str(&format!(" Read {uri} for the details."));
            }
        }
        "canceled" => {
            text.push('.');
            if let Some(error) = str_of(result, "error") {
                text.push_str(&format!(" {error}"));
            }
        }
        _ => {
            text.push('.');
            if let Some(bundle) = str_of(&result["result"], "bundle_path") {
                text.push_str(&format!(" Bundle: {bundle}."));
            }
            let artifacts = result["result"]["artifacts"]
                .as_array()
                .map(Vec::len)
                .unwrap_or(0);
            if artifacts > 0 {
                text.push_str(&format!(" {artifacts} artifacts in result.artifacts."));
            }
        }
    }
    text
}

fn follow_hint(id: &str) -> String {
    match resources::task_uri(id) {
        Some(uri) => format!(
            "Follow it by subscribing to {uri} (or reading it), or call build.status every few \
             seconds; build.cancel stops it."
        ),
        None => "Call build.status every few seconds to follow it; build.cancel stops it.".into(),
    }
}

fn plan(plan: &Value) -> String {
    let steps: Vec<&str> = plan["command_pipeline"]
        .as_array()
        .map(|s| s.iter().filter_map(|x| x["name"].as_str()).collect())
        .unwrap_or_default();
    let count = |key: &str| plan[key].as_array().map(Vec::len).unwrap_or(0);
    let mut text = format!(
        "Plan for {} on {} ({}, ESP-IDF {}): {} steps ({}), {} components, {} expected artifacts",
        str_of(plan, "project_name").unwrap_or("the project"),
        str_of(plan, "target").unwrap_or("?"),
        str_of(plan, "profile").unwrap_or("debug"),
        plan["idf_version_resolved"]["version"]
            .as_str()
            .unwrap_or("not found"),
        steps.len(),
        steps.join(", "),
        count("components"),
        count("expected_artifacts"),
    );
    if let Some(secs) = plan["estimated_duration_secs"].as_f64() {
        text.push_str(&format!(", about {secs:.0} s"));
    }
    text.push('.');
    let errors = count("errors");
    if errors > 0 {
        let first = plan["errors"][0]["message"].as_str().unwrap_or("");
        text.push_str(&format!(
            " {errors} errors: a build would fail. First: {first}"
        ));
    }
    let warnings = count("warnings");
    if warnings > 0 {
        text.push_str(&format!(" {warnings} warnings."));
    }
    text
}

fn planning(result: &Value) -> String {
    let reason = str_of(result, "reason").unwrap_or("planning mode");
    format!(
        "Planning mode: no build was started. {reason} {}",
        plan(&result["plan"])
    )
}

fn task_list(tasks: &[Value]) -> String {
    if tasks.is_empty() {
        return "No tasks.".into();
    }
    let mut text = format!("{} tasks, newest first:", tasks.len());
    for t in tasks.iter().take(LIST_LIMIT) {
        text.push_str(&format!(
            "\n- {} {} {} {}",
            str_of(t, "task_id").unwrap_or("?"),
            str_of(t, "status").unwrap_or("?"),
            str_of(t, "kind").unwrap_or("?"),
            str_of(t, "title").unwrap_or("")
        ));
    }
    if tasks.len() > LIST_LIMIT {
        text.push_str(&format!("\n... and {} more", tasks.len() - LIST_LIMIT));
    }
    text
}

fn str_of<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

fn bytes(n: u64) -> String {
    if n >= 1024 * 1024 {
        format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0))
    } else if n >= 1024 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{n} bytes")
    }
}

fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ID: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn running_tasks_point_at_their_log() {
        let text = summarize("build.start", &json!({"task_id": ID, "status": "pending"}));
        assert!(text.starts_with(&format!("Task {ID} is pending")), "{text}");
        assert!(text.contains(&format!("build://log/{ID}")), "{text}");
        let text = summarize(
            "build.status",
            &json!({"task_id": ID, "status": "running", "phase": "compiling", "progress": 0.42, "title": "hello"}),
        );
        assert!(
            text.contains("(hello) is running: compiling, 42%"),
            "{text}"
        );
    }

    #[test]
    fn failures_say_why_and_where_to_look() {
        let text = summarize(
            "build.status",
            &json!({"task_id": ID, "status": "failed", "error": "ninja failed", "exit_code": 1,
                    "diagnostics": [{"severity": "error", "message": "x"}, {"severity": "warning", "message": "y"}]}),
        );
        assert!(
            text.contains("failed: ninja failed (exit code 1); 1 compiler errors"),
            "{text}"
        );
        assert!(text.contains("Read build://log/"), "{text}");
    }

    #[test]
    fn bundles_plans_and_lists_read_naturally() {
        let text = summarize(
            "build.rust_elf",
            &json!({"bundle_path": "/x/b.tar.gz", "bundle_size_bytes": 2048, "task_id": ID,
                    "manifest": {"build": {"target": "esp32c3"}}}),
        );
        assert_eq!(
            text,
            format!(
                "Wrote the flash bundle /x/b.tar.gz (2.0 KiB) for esp32c3; task {ID}. Next: flash it."
            )
        );
        let plan = json!({"recipe_id": "idf", "project_name": "hello", "target": "esp32c3",
            "profile": "release", "idf_version_resolved": {"version": "5.3.1"},
            "command_pipeline": [{"name": "cmake-configure"}, {"name": "ninja-build"}],
            "components": [1, 2, 3], "expected_artifacts": ["a"], "errors": [], "warnings": []});
        let text = summarize("generate_build_plan", &plan);
        assert!(
            text.starts_with("Plan for hello on esp32c3 (release, ESP-IDF 5.3.1): 2 steps (cmake-configure, ninja-build), 3 components"),
            "{text}"
        );
        let text = summarize(
            "build",
            &json!({"status": "planning", "reason": "CONTROL_BASE_URL is set.", "plan": plan}),
        );
        assert!(
            text.starts_with(
                "Planning mode: no build was started. CONTROL_BASE_URL is set. Plan for hello"
            ),
            "{text}"
        );
        let tasks: Vec<Value> = (0..12)
            .map(
                |_| json!({"task_id": ID, "status": "succeeded", "kind": "rust_elf", "title": "t"}),
            )
            .collect();
        let text = summarize("task.list", &json!({ "tasks": tasks }));
        assert!(text.starts_with("12 tasks"), "{text}");
        assert!(text.ends_with("... and 2 more"), "{text}");
        assert_eq!(summarize("task.list", &json!({"tasks": []})), "No tasks.");
    }

    #[test]
    fn clean_plans_and_targets() {
        let text = summarize(
            "get_clean_plan",
            &json!({"scope": "fullclean", "would_delete": ["build/a", "build/b"], "total_files": 5, "total_bytes": 10}),
        );
        assert_eq!(
            text,
            "fullclean would delete 5 files (10 bytes); 2 paths listed in would_delete. Nothing was deleted."
        );
        let text = summarize(
            "set_target",
            &json!({"target": "esp32s3", "config_file": "/p/.espctl.toml", "previous": "esp32"}),
        );
        assert_eq!(
            text,
            "Default target is now esp32s3 (was esp32), recorded in /p/.espctl.toml."
        );
    }

    #[test]
    fn unknown_shapes_get_a_generic_line() {
        assert_eq!(
            summarize("x.y", &json!({"a": 1, "b": 2})),
            "x.y succeeded; the result has a, b."
        );
        let started = summarize(
            "set_target.run",
            &json!({"task_id": ID, "target": "esp32c3", "recipe_id": "idf_set_target"}),
        );
        assert!(
            started.starts_with(&format!("set_target.run started task {ID}.")),
            "{started}"
        );
        assert_eq!(clip("ééé", 3), "é...");
    }
}
