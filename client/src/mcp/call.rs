//! `tools/call`: arguments to the daemon, the daemon's answer back as a tool result.
//!
//! A successful call answers with the daemon's JSON result as `structuredContent` (from protocol
//! 2025-06-18 on), a short text summary ([`super::summary`]) and the same JSON as text (for clients
//! that only show text, and for the older protocol versions). Anything that goes wrong with the work
//! — a daemon error, an argument the daemon refuses, a daemon that cannot be started — is an
//! `isError` result with the message and a hint, so the assistant can read it and correct course.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use espctl_protocol::catalog::{self, MethodSpec};
use espctl_protocol::methods::{BuildStatus, GenerateBuildPlan, Method, TaskSubscribe};
use espctl_protocol::plan::FORWARDED_ENV;
use espctl_protocol::{ErrorCode, TaskStatus};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

use super::daemon::Daemon;
use super::tools::{self, Tool};
use super::{ProtocolVersion, resources, summary, wire};
use crate::ClientError;

/// The tools that start a task and take `wait_secs`.
pub const WAITABLE: &[&str] = &["build.start", "set_target.run"];

/// The tool that planning mode turns into a plan.
pub const PLANNING_TOOL: &str = "build.start";

/// The longest `wait_secs` accepted.
pub const MAX_WAIT_SECS: u64 = 3600;

/// Environment variable naming the remote build service.
pub const ENV_CONTROL_BASE_URL: &str = "CONTROL_BASE_URL";
/// Environment variable holding the secret for the remote build service.
pub const ENV_MCP_AUTH_SECRET: &str = "MCP_AUTH_SECRET";

/// Planning mode: `build` returns the plan instead of building, and says why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planning {
    pub control_base_url: String,
    pub reason: String,
}

impl Planning {
    /// Planning mode as this process's environment sets it.
    pub fn from_env() -> Option<Planning> {
        Planning::from_vars(
            std::env::var(ENV_CONTROL_BASE_URL).ok(),
            std::env::var(ENV_MCP_AUTH_SECRET).ok(),
        )
    }

    /// Planning mode for these values of `CONTROL_BASE_URL` and `MCP_AUTH_SECRET`: none without a
    /// base URL (builds run in the local daemon); with one, always, since this version builds only
    /// locally. The reason says which case it is and never shows the secret.
    pub fn from_vars(control: Option<String>, secret: Option<String>) -> Option<Planning> {
        let url = control.filter(|u| !u.trim().is_empty())?;
        let has_secret = secret.is_some_and(|s| !s.is_empty());
        let reason = if has_secret {
            format!(
                "{ENV_CONTROL_BASE_URL} is set ({url}), but this espctl cannot build on a remote \
                 build service yet, and it does not build locally while a remote one is configured. \
                 Unset {ENV_CONTROL_BASE_URL} in the MCP server's environment to build in the local \
                 daemon."
            )
        } else {
            format!(
                "{ENV_CONTROL_BASE_URL} is set ({url}) but {ENV_MCP_AUTH_SECRET} is not, so no \
                 remote build can be authorized. Unset {ENV_CONTROL_BASE_URL} in the MCP server's \
                 environment to build in the local daemon."
            )
        };
        Some(Planning {
            control_base_url: url,
            reason,
        })
    }
}

/// Where progress notifications of one call go.
#[derive(Debug, Clone)]
pub struct ProgressSink {
    pub token: Value,
    pub out: UnboundedSender<Value>,
    pub version: ProtocolVersion,
}

/// What a call runs with.
pub struct CallContext<'a> {
    pub daemon: &'a Daemon,
    pub planning: Option<&'a Planning>,
    pub version: ProtocolVersion,
    pub progress: Option<ProgressSink>,
}

/// Why a call failed, as the assistant reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolError {
    pub message: String,
    pub hint: Option<String>,
    /// A stable snake_case kind: the daemon's error kind, or the shim's own.
    pub kind: String,
    /// The daemon's JSON-RPC error code, when the daemon answered with an error.
    pub code: Option<i32>,
    pub task_id: Option<String>,
}

impl ToolError {
    fn invalid(message: impl Into<String>, hint: impl Into<String>) -> ToolError {
        ToolError {
            message: message.into(),
            hint: Some(hint.into()),
            kind: ErrorCode::InvalidInput.name().into(),
            code: None,
            task_id: None,
        }
    }
}

impl From<ClientError> for ToolError {
    fn from(err: ClientError) -> ToolError {
        let task_id = err.task_id();
        match &err {
            ClientError::Daemon { code, message, .. } => {
                // The daemon's hints speak to CLI users; where there is a tool to name, name it.
                let hint = if ErrorCode::from_code(*code) == Some(ErrorCode::TaskNotFound) {
                    Some(TASK_NOT_FOUND_HINT.to_string())
                } else {
                    err.hint()
                        .or_else(|| daemon_hint(*code, task_id.as_deref()))
                };
                ToolError {
                    message: message.clone(),
                    hint,
                    kind: err.kind(),
                    code: Some(*code),
                    task_id,
                }
            }
            _ => ToolError {
                message: format!("cannot reach espctld: {err}"),
                hint: err.hint(),
                kind: err.kind(),
                code: None,
                task_id,
            },
        }
    }
}

/// What to do about an unknown task id, for an assistant.
const TASK_NOT_FOUND_HINT: &str = "call task.list to see the task ids the daemon knows";

/// A hint for a daemon error that came without one.
fn daemon_hint(code: i32, task_id: Option<&str>) -> Option<String> {
    if ErrorCode::from_code(code) == Some(ErrorCode::InvalidTarget) {
        return Some("use one of the chips the tool's description lists".into());
    }
    if code == wire::INVALID_PARAMS {
        return Some("check the arguments against the tool's inputSchema (tools/list)".into());
    }
    task_id
        .and_then(resources::task_uri)
        .map(|uri| format!("read {uri} for the details"))
}

/// Run `tool` with `arguments` and return the `tools/call` result.
pub async fn call_tool(ctx: &CallContext<'_>, tool: &Tool, arguments: Map<String, Value>) -> Value {
    match run(ctx, tool, arguments).await {
        Ok(result) => success(tool, result, ctx.version),
        Err(err) => failure(&err, ctx.version),
    }
}

async fn run(
    ctx: &CallContext<'_>,
    tool: &Tool,
    mut args: Map<String, Value>,
) -> Result<Value, ToolError> {
    let spec = tool.spec;
    let wait = if WAITABLE.contains(&spec.name) {
        wait_duration(args.remove("wait_secs"))?
    } else {
        None
    };
    if spec.project_scoped {
        let path = project_path(args.get("path"))?;
        args.insert("path".into(), Value::String(path));
    }
    if tools::takes_param(spec, "env") {
        let env = forwarded_env(args.remove("env"))?;
        if !env.is_empty() {
            args.insert("env".into(), json!(env));
        }
    }
    if spec.name == PLANNING_TOOL
        && let Some(planning) = ctx.planning
    {
        return plan_instead(ctx.daemon, planning, args).await;
    }
    let result = ctx.daemon.call(spec.name, Value::Object(args)).await?;
    match (wait, result.get("task_id").and_then(Value::as_str)) {
        (Some(wait), Some(task_id)) => {
            let task_id = task_id.to_string();
            wait_for_task(ctx, &task_id, wait).await
        }
        _ => Ok(result),
    }
}

/// `wait_secs` as a duration: `None` for absent, null or 0.
fn wait_duration(value: Option<Value>) -> Result<Option<Duration>, ToolError> {
    let invalid = || {
        ToolError::invalid(
            "wait_secs must be a whole number of seconds",
            format!("pass 0 to {MAX_WAIT_SECS}, or leave it out to return at once"),
        )
    };
    let secs = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f.ceil() as u64))
            .ok_or_else(invalid)?,
        Some(_) => return Err(invalid()),
    };
    if secs > MAX_WAIT_SECS {
        return Err(ToolError::invalid(
            format!("wait_secs is {secs}, more than the {MAX_WAIT_SECS} this server allows"),
            "wait in several calls, or follow the task's log resource instead",
        ));
    }
    Ok((secs > 0).then(|| Duration::from_secs(secs)))
}

/// The project directory an assistant passed, absolute (`~/` expanded).
fn project_path(value: Option<&Value>) -> Result<String, ToolError> {
    let hint = "pass `path`: the absolute path of the project directory (the one with the top-level \
                CMakeLists.txt)";
    let Some(text) = value
        .and_then(Value::as_str)
        .filter(|p| !p.trim().is_empty())
    else {
        return Err(ToolError::invalid(
            "`path` is required: this MCP server has no working directory to default to",
            hint,
        ));
    };
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let path = match (text.strip_prefix("~/"), text == "~", home) {
        (Some(rest), _, Some(home)) => home.join(rest),
        (None, true, Some(home)) => home,
        _ => PathBuf::from(text),
    };
    if !path.is_absolute() {
        return Err(ToolError::invalid(
            format!("`path` must be absolute, and `{text}` is relative"),
            hint,
        ));
    }
    Ok(path.display().to_string())
}

/// The caller environment to forward: this process's values of [`FORWARDED_ENV`], with what the
/// arguments' `env` sets on top.
fn forwarded_env(extra: Option<Value>) -> Result<BTreeMap<String, String>, ToolError> {
    let mut env: BTreeMap<String, String> = FORWARDED_ENV
        .iter()
        .filter_map(|name| std::env::var(name).ok().map(|v| (name.to_string(), v)))
        .collect();
    match extra {
        None | Some(Value::Null) => {}
        Some(Value::Object(map)) => {
            for (k, v) in map {
                let Value::String(v) = v else {
                    return Err(ToolError::invalid(
                        format!("env.{k} must be a string"),
                        "leave `env` out: this server forwards its own environment",
                    ));
                };
                env.insert(k, v);
            }
        }
        Some(_) => {
            return Err(ToolError::invalid(
                "`env` must be an object of strings",
                "leave `env` out: this server forwards its own environment",
            ));
        }
    }
    Ok(env)
}

/// Planning mode: the plan `generate_build_plan` makes from the build's arguments (those it takes).
async fn plan_instead(
    daemon: &Daemon,
    planning: &Planning,
    args: Map<String, Value>,
) -> Result<Value, ToolError> {
    let spec: &MethodSpec = catalog::find_method(GenerateBuildPlan::NAME)
        .expect("generate_build_plan is in the catalog");
    let plan_args: Map<String, Value> = args
        .into_iter()
        .filter(|(k, _)| tools::takes_param(spec, k))
        .collect();
    let plan = daemon.call(spec.name, Value::Object(plan_args)).await?;
    Ok(json!({
        "status": "planning",
        "reason": planning.reason,
        "control_base_url": planning.control_base_url,
        "plan": plan,
    }))
}

/// Follow task `task_id` until it is final or `wait` is over, then answer with its status.
async fn wait_for_task(
    ctx: &CallContext<'_>,
    task_id: &str,
    wait: Duration,
) -> Result<Value, ToolError> {
    let deadline = Instant::now() + wait;
    let mut progress = ctx.progress.clone().map(Progress::new);
    let spec = catalog::find_method(TaskSubscribe::NAME).expect("task.subscribe is in the catalog");
    // Without the subscription the wait degrades to asking once at the end.
    if let Ok(mut subscription) = ctx
        .daemon
        .subscribe(spec, json!({ "task_id": task_id }))
        .await
    {
        loop {
            tokio::select! {
                item = subscription.next() => match item {
                    Some(Ok(info)) => {
                        if let Some(progress) = progress.as_mut() {
                            progress.update(&info);
                        }
                        if is_final(&info) {
                            return Ok(info);
                        }
                    }
                    Some(Err(_)) | None => break,
                },
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
    }
    let info = ctx
        .daemon
        .call(BuildStatus::NAME, json!({ "task_id": task_id }))
        .await?;
    if let Some(progress) = progress.as_mut() {
        progress.update(&info);
    }
    Ok(info)
}

fn is_final(info: &Value) -> bool {
    info.get("status")
        .cloned()
        .and_then(|s| serde_json::from_value::<TaskStatus>(s).ok())
        .is_some_and(TaskStatus::is_final)
}

/// Task changes as MCP progress: percent of 100, increasing only (the protocol requires it), with the
/// status and phase as the message.
struct Progress {
    sink: ProgressSink,
    last: Option<f64>,
}

impl Progress {
    fn new(sink: ProgressSink) -> Progress {
        Progress { sink, last: None }
    }

    fn update(&mut self, info: &Value) {
        let fraction = if is_final(info) {
            1.0
        } else {
            info["progress"].as_f64().unwrap_or(0.0).clamp(0.0, 1.0)
        };
        let percent = (fraction * 1000.0).round() / 10.0;
        if self.last.is_some_and(|last| percent <= last) {
            return;
        }
        self.last = Some(percent);
        let mut params = json!({
            "progressToken": self.sink.token,
            "progress": percent,
            "total": 100,
        });
        if self.sink.version.has_progress_message() {
            let status = info["status"].as_str().unwrap_or("?");
            let message = match info["phase"].as_str().filter(|p| !p.is_empty()) {
                Some(phase) => format!("{status}: {phase}"),
                None => status.to_string(),
            };
            params["message"] = json!(message);
        }
        let _ = self
            .sink
            .out
            .send(wire::notification("notifications/progress", params));
    }
}

/// A successful tool result.
pub fn success(tool: &Tool, result: Value, version: ProtocolVersion) -> Value {
    let summary = summary::summarize(tool.name, &result);
    let mut out = json!({
        "content": [
            {"type": "text", "text": summary},
            {"type": "text", "text": result.to_string()},
        ],
        "isError": false,
    });
    if version.has_structured_output() && result.is_object() {
        out["structuredContent"] = result;
    }
    out
}

/// An `isError` tool result.
pub fn failure(err: &ToolError, version: ProtocolVersion) -> Value {
    let mut text = format!("Error: {}", err.message);
    if let Some(hint) = &err.hint {
        text.push_str(&format!("\nHint: {hint}"));
    }
    let mut out = json!({
        "content": [{"type": "text", "text": text}],
        "isError": true,
    });
    if version.has_structured_output() {
        let mut error = json!({"message": err.message, "kind": err.kind});
        if let Some(hint) = &err.hint {
            error["hint"] = json!(hint);
        }
        if let Some(code) = err.code {
            error["code"] = json!(code);
        }
        if let Some(task_id) = &err.task_id {
            error["task_id"] = json!(task_id);
        }
        out["structuredContent"] = json!({ "error": error });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use espctl_protocol::ErrorData;
    use std::path::Path;

    #[test]
    fn planning_mode_needs_a_base_url_and_never_shows_the_secret() {
        assert_eq!(Planning::from_vars(None, Some("s".into())), None);
        assert_eq!(Planning::from_vars(Some(" ".into()), None), None);
        let p = Planning::from_vars(Some("https://b.example".into()), None).unwrap();
        assert!(p.reason.contains("MCP_AUTH_SECRET is not"), "{}", p.reason);
        assert!(p.reason.contains("Unset CONTROL_BASE_URL"), "{}", p.reason);
        let p =
            Planning::from_vars(Some("https://b.example".into()), Some("hunter2".into())).unwrap();
        assert!(!p.reason.contains("hunter2"));
        assert!(
            p.reason.contains("cannot build on a remote"),
            "{}",
            p.reason
        );
        assert_eq!(p.control_base_url, "https://b.example");
    }

    #[test]
    fn wait_secs_is_bounded() {
        assert_eq!(wait_duration(None).unwrap(), None);
        assert_eq!(wait_duration(Some(json!(0))).unwrap(), None);
        assert_eq!(
            wait_duration(Some(json!(5))).unwrap(),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            wait_duration(Some(json!(0.5))).unwrap(),
            Some(Duration::from_secs(1))
        );
        assert!(wait_duration(Some(json!(-1))).is_err());
        assert!(wait_duration(Some(json!("5"))).is_err());
        assert!(wait_duration(Some(json!(MAX_WAIT_SECS + 1))).is_err());
    }

    #[test]
    fn paths_must_be_absolute() {
        assert_eq!(project_path(Some(&json!("/p/x"))).unwrap(), "/p/x");
        let err = project_path(Some(&json!("proj"))).unwrap_err();
        assert!(err.message.contains("must be absolute"), "{}", err.message);
        assert_eq!(err.kind, "invalid_input");
        assert!(project_path(None).unwrap_err().message.contains("required"));
        assert!(project_path(Some(&json!(3))).is_err());
        if let Some(home) = std::env::var_os("HOME").filter(|h| Path::new(h).is_absolute()) {
            assert_eq!(
                project_path(Some(&json!("~/p"))).unwrap(),
                Path::new(&home).join("p").display().to_string()
            );
        }
    }

    #[test]
    fn env_is_forwarded_with_overrides() {
        let env = forwarded_env(Some(json!({"IDF_TARGET": "esp32c3"}))).unwrap();
        assert_eq!(env["IDF_TARGET"], "esp32c3");
        if let Ok(path) = std::env::var("PATH") {
            assert_eq!(env["PATH"], path);
        }
        assert!(
            env.keys()
                .all(|k| FORWARDED_ENV.contains(&k.as_str()) || k == "IDF_TARGET")
        );
        assert!(forwarded_env(Some(json!({"A": 1}))).is_err());
        assert!(forwarded_env(Some(json!("x"))).is_err());
    }

    #[test]
    fn daemon_errors_keep_message_and_hint() {
        let err = ToolError::from(ClientError::Daemon {
            code: ErrorCode::TaskNotFound.code(),
            message: "no task has id 0123".into(),
            data: Some(ErrorData {
                kind: "task_not_found".into(),
                exit_code: 2,
                hint: None,
                task_id: None,
            }),
        });
        assert_eq!(err.message, "no task has id 0123");
        assert_eq!(err.kind, "task_not_found");
        assert!(err.hint.unwrap().contains("task.list"));
        let err = ToolError::from(ClientError::Start {
            message: "espctld (/bin/false) exited with code 1".into(),
            hint: "run it by hand".into(),
        });
        assert!(
            err.message
                .starts_with("cannot reach espctld: espctld (/bin/false)")
        );
        assert_eq!(err.hint.as_deref(), Some("run it by hand"));
        assert_eq!(err.kind, "daemon_start");
    }

    #[test]
    fn results_carry_structured_content_from_2025_06_18_on() {
        let tool = tools::find("build.status").unwrap();
        let result = json!({"task_id": "x", "status": "running"});
        let new = success(&tool, result.clone(), ProtocolVersion::V2025_06_18);
        assert_eq!(new["structuredContent"], result);
        assert_eq!(new["isError"], false);
        assert_eq!(new["content"][1]["text"], result.to_string());
        let old = success(&tool, result.clone(), ProtocolVersion::V2025_03_26);
        assert!(old.get("structuredContent").is_none());
        assert_eq!(old["content"][1]["text"], result.to_string());

        let err = ToolError::invalid("bad", "do this");
        let out = failure(&err, ProtocolVersion::LATEST);
        assert_eq!(out["isError"], true);
        assert_eq!(out["content"][0]["text"], "Error: bad\nHint: do this");
        assert_eq!(out["structuredContent"]["error"]["hint"], "do this");
        assert!(
            failure(&err, ProtocolVersion::V2024_11_05)
                .get("structuredContent")
                .is_none()
        );
    }

    #[test]
    fn progress_only_increases_and_ends_at_100() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut p = Progress::new(ProgressSink {
            token: json!("t"),
            out: tx,
            version: ProtocolVersion::LATEST,
        });
        p.update(&json!({"status": "pending", "progress": 0.0, "phase": "queued"}));
        p.update(&json!({"status": "running", "progress": 0.0, "phase": "configure"}));
        p.update(&json!({"status": "running", "progress": 0.5, "phase": "compiling"}));
        p.update(&json!({"status": "succeeded", "progress": 0.9}));
        let mut sent = Vec::new();
        while let Ok(m) = rx.try_recv() {
            sent.push(m["params"].clone());
        }
        let values: Vec<f64> = sent
            .iter()
            .map(|p| p["progress"].as_f64().unwrap())
            .collect();
        assert_eq!(values, [0.0, 50.0, 100.0]);
        assert_eq!(sent[0]["message"], "pending: queued");
        assert_eq!(sent[1]["message"], "running: compiling");
        assert_eq!(sent[2]["total"], 100);
    }
}
