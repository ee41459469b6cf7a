//! The MCP session on a pair of byte streams: read newline-delimited JSON-RPC, dispatch, write
//! responses and notifications, one message per line.
//!
//! `initialize` and `ping` are answered inline, before the next line is read, so that start-up never
//! waits for anything. Every other request runs as a task of its own, so a long `wait_secs` does not
//! hold up a `build.cancel`; `notifications/cancelled` aborts the task of the request it names (no
//! response is sent for it then). The session ends at the end of the input: in-flight requests and
//! resource subscriptions are dropped, and what was already answered is flushed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use espctl_protocol::ErrorCode;
use espctl_protocol::methods::{Method, TaskList};
use serde_json::{Map, Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::AbortHandle;

use super::call::{self, CallContext, Planning, ProgressSink};
use super::daemon::{self, Daemon, DaemonSubscription};
use super::resources;
use super::tools;
use super::wire::{self, Incoming, Line, RpcError};
use super::{ProtocolVersion, SERVER_NAME, SERVER_VERSION};
use crate::{ClientError, ConnectOptions};

/// The least time between two `notifications/resources/updated` for one subscription: a burst of log
/// lines is one update (the last one of a burst is always sent).
const UPDATE_INTERVAL: Duration = Duration::from_millis(100);

/// How often the idle daemon connection is looked at.
const IDLE_CHECK: Duration = Duration::from_secs(10);

/// Tasks `resources/list` offers the resources of.
const LISTED_TASKS: u32 = 50;

/// How the server runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub connect: ConnectOptions,
    pub planning: Option<Planning>,
    /// Connect to the daemon (starting it) as soon as the session starts, so that the first tool call
    /// finds it running. The `initialize` answer never waits for it.
    pub warm_up: bool,
    /// Close the daemon connection after this long unused ([`daemon::IDLE_RELEASE`]).
    pub idle_release: Duration,
}

impl Config {
    /// The configuration from this process's environment (planning mode).
    pub fn from_env(connect: ConnectOptions) -> Config {
        Config {
            connect,
            planning: Planning::from_env(),
            warm_up: true,
            idle_release: daemon::IDLE_RELEASE,
        }
    }
}

struct Shared {
    /// Messages to write. `Value::Null`, never a message, tells the writer to stop.
    out: UnboundedSender<Value>,
    daemon: Daemon,
    planning: Option<Planning>,
    version: Mutex<ProtocolVersion>,
    inflight: Mutex<HashMap<String, AbortHandle>>,
    /// Resource subscriptions by URI, with the generation that tells a replaced one apart.
    subscriptions: Mutex<HashMap<String, (u64, AbortHandle)>>,
    generation: AtomicU64,
}

impl Shared {
    fn send(&self, message: Value) {
        let _ = self.out.send(message);
    }

    fn version(&self) -> ProtocolVersion {
        *lock(&self.version)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A request's answer, and a resource subscription to start once the answer is on its way.
struct Reply {
    result: Result<Value, RpcError>,
    forward: Option<Forward>,
}

impl From<Result<Value, RpcError>> for Reply {
    fn from(result: Result<Value, RpcError>) -> Reply {
        Reply {
            result,
            forward: None,
        }
    }
}

struct Forward {
    uri: String,
    subscription: DaemonSubscription,
}

/// Serve one MCP session: read `input` to its end, write to `output`.
pub async fn serve<R, W>(input: R, output: W, config: Config) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (out, rx) = unbounded_channel();
    let writer = tokio::spawn(write_loop(output, rx));
    let shared = Arc::new(Shared {
        out,
        daemon: Daemon::new(config.connect.clone()),
        planning: config.planning.clone(),
        version: Mutex::new(ProtocolVersion::LATEST),
        inflight: Mutex::new(HashMap::new()),
        subscriptions: Mutex::new(HashMap::new()),
        generation: AtomicU64::new(0),
    });

    let mut background = Vec::new();
    if config.warm_up {
        let shared = shared.clone();
        background.push(tokio::spawn(async move {
            if let Err(err) = shared.daemon.warm_up().await {
                let hint = err.hint().map(|h| format!(" ({h})")).unwrap_or_default();
                eprintln!("espctl mcp: espctld is not available: {err}{hint}");
            }
        }));
    }
    {
        let shared = shared.clone();
        let idle = config.idle_release;
        background.push(tokio::spawn(async move {
            loop {
                tokio::time::sleep(IDLE_CHECK.min(idle)).await;
                shared.daemon.release_if_idle(idle).await;
            }
        }));
    }

    let mut reader = BufReader::new(input);
    let mut buf = Vec::new();
    let read_result = loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) => break Ok(()),
            Ok(_) => {}
            Err(err) => break Err(err),
        }
        let text = String::from_utf8_lossy(&buf);
        let line = text.trim();
        if line.is_empty() {
            continue;
        }
        match wire::parse_line(line) {
            Line::Single(message) => dispatch(&shared, message),
            Line::Batch(messages) => dispatch_batch(&shared, messages),
        }
    };

    for task in background {
        task.abort();
    }
    for (_, handle) in lock(&shared.inflight).drain() {
        handle.abort();
    }
    for (_, (_, handle)) in lock(&shared.subscriptions).drain() {
        handle.abort();
    }
    shared.send(Value::Null);
    let written = writer.await.unwrap_or(Ok(()));
    read_result.and(written)
}

async fn write_loop<W: AsyncWrite + Unpin>(
    mut output: W,
    mut rx: UnboundedReceiver<Value>,
) -> std::io::Result<()> {
    while let Some(message) = rx.recv().await {
        if message.is_null() {
            break;
        }
        output.write_all(wire::to_line(&message).as_bytes()).await?;
        // Write what else is ready before flushing once.
        let mut stop = false;
        while let Ok(next) = rx.try_recv() {
            if next.is_null() {
                stop = true;
                break;
            }
            output.write_all(wire::to_line(&next).as_bytes()).await?;
        }
        output.flush().await?;
        if stop {
            break;
        }
    }
    output.flush().await
}

fn dispatch(shared: &Arc<Shared>, message: Incoming) {
    match message {
        Incoming::Request { id, method, params } if method == "initialize" || method == "ping" => {
            let result = if method == "initialize" {
                initialize(shared, params)
            } else {
                Ok(json!({}))
            };
            shared.send(answer(&id, &result));
        }
        Incoming::Request { id, method, params } => {
            let key = wire::id_key(&id);
            let task_shared = shared.clone();
            // The map is locked across the spawn so that a task that ends at once finds its entry.
            let mut inflight = lock(&shared.inflight);
            let handle = tokio::spawn(async move {
                let reply = handle(&task_shared, &method, params).await;
                lock(&task_shared.inflight).remove(&wire::id_key(&id));
                task_shared.send(answer(&id, &reply.result));
                if let Some(forward) = reply.forward {
                    start_forward(&task_shared, forward);
                }
            });
            inflight.insert(key, handle.abort_handle());
        }
        Incoming::Notification { method, params } => notification(shared, &method, params),
        Incoming::Response => {}
        Incoming::Invalid { id, error } => shared.send(wire::error_response(&id, &error)),
    }
}

fn dispatch_batch(shared: &Arc<Shared>, messages: Vec<Incoming>) {
    let shared = shared.clone();
    tokio::spawn(async move {
        let mut pending = Vec::new();
        let mut answers = Vec::new();
        for message in messages {
            match message {
                Incoming::Request { id, method, params } => pending.push((id, method, params)),
                Incoming::Notification { method, params } => notification(&shared, &method, params),
                Incoming::Response => {}
                Incoming::Invalid { id, error } => answers.push(wire::error_response(&id, &error)),
            }
        }
        let replies = futures::future::join_all(pending.into_iter().map(|(id, method, params)| {
            let shared = shared.clone();
            async move {
                let reply = if method == "initialize" {
                    Reply::from(initialize(&shared, params))
                } else {
                    handle(&shared, &method, params).await
                };
                (id, reply)
            }
        }))
        .await;
        let mut forwards = Vec::new();
        for (id, reply) in replies {
            answers.push(answer(&id, &reply.result));
            forwards.extend(reply.forward);
        }
        if !answers.is_empty() {
            shared.send(Value::Array(answers));
        }
        for forward in forwards {
            start_forward(&shared, forward);
        }
    });
}

fn answer(id: &Value, result: &Result<Value, RpcError>) -> Value {
    match result {
        Ok(value) => wire::response(id, value.clone()),
        Err(error) => wire::error_response(id, error),
    }
}

fn notification(shared: &Shared, method: &str, params: Option<Value>) {
    if method == "notifications/cancelled"
        && let Some(id) = params.as_ref().and_then(|p| p.get("requestId"))
        && let Some(handle) = lock(&shared.inflight).remove(&wire::id_key(id))
    {
        handle.abort();
    }
    // notifications/initialized and everything else need nothing.
}

async fn handle(shared: &Arc<Shared>, method: &str, params: Option<Value>) -> Reply {
    match method {
        "ping" => Ok(json!({})).into(),
        "tools/list" => Ok(tools::list(shared.version())).into(),
        "tools/call" => tools_call(shared, params).await.into(),
        "resources/templates/list" => Ok(resources::templates()).into(),
        "resources/list" => Ok(resources_list(shared).await).into(),
        "resources/read" => resources_read(shared, params).await.into(),
        "resources/subscribe" => match resources_subscribe(shared, params).await {
            Ok(forward) => Reply {
                result: Ok(json!({})),
                forward: Some(forward),
            },
            Err(err) => Err(err).into(),
        },
        "resources/unsubscribe" => resources_unsubscribe(shared, params).into(),
        other => Err(RpcError::new(
            wire::METHOD_NOT_FOUND,
            format!(
                "espctl mcp does not implement `{other}`: it serves tools (tools/list, tools/call) \
                 and resources (resources/templates/list, resources/list, resources/read, \
                 resources/subscribe)"
            ),
        ))
        .into(),
    }
}

/// Text for the assistant, sent with the `initialize` answer.
fn instructions() -> String {
    let follow = resources::kinds()
        .into_iter()
        .find(|k| k.variables() == ["task_id"])
        .map(|k| {
            format!(
                " Follow a task through the resource {} (resources/subscribe sends \
                 notifications/resources/updated as lines arrive; resources/read returns the tail) \
                 rather than polling; if you poll build.status, do it every few seconds at most.",
                k.template
            )
        })
        .unwrap_or_default();
    format!(
        "espctl drives ESP32 firmware work (ESP-IDF project builds, flash bundles from Rust ELFs) \
         through the local espctld daemon. Tools that work on a project take `path`, the absolute \
         project directory. Tools that start work return a task_id at once.{follow} Failures come \
         back as tool results with isError, the daemon's message and a hint."
    )
}

fn initialize(shared: &Shared, params: Option<Value>) -> Result<Value, RpcError> {
    let params = wire::params_object(params)?;
    let requested = params
        .get("protocolVersion")
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::invalid_params("initialize needs `protocolVersion`"))?;
    let version = ProtocolVersion::negotiate(requested);
    *lock(&shared.version) = version;
    let mut server_info = json!({"name": SERVER_NAME, "version": SERVER_VERSION});
    if version.has_structured_output() {
        server_info["title"] = json!("espctl (ESP32 firmware builds)");
    }
    Ok(json!({
        "protocolVersion": version.as_str(),
        "capabilities": {
            "tools": {"listChanged": false},
            "resources": {"subscribe": true, "listChanged": false},
        },
        "serverInfo": server_info,
        "instructions": instructions(),
    }))
}

async fn tools_call(shared: &Arc<Shared>, params: Option<Value>) -> Result<Value, RpcError> {
    let mut params = wire::params_object(params)?;
    let name = params
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::invalid_params("tools/call needs the tool's `name`"))?;
    let tool = tools::find(name).ok_or_else(|| {
        RpcError::invalid_params(format!(
            "unknown tool `{name}`: tools/list lists the tools this server has"
        ))
    })?;
    let arguments = match params.remove("arguments") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map,
        Some(_) => {
            return Err(RpcError::invalid_params(
                "tools/call `arguments` must be an object",
            ));
        }
    };
    let version = shared.version();
    let progress = params
        .get("_meta")
        .and_then(|meta| meta.get("progressToken"))
        .filter(|token| token.is_string() || token.is_number())
        .map(|token| ProgressSink {
            token: token.clone(),
            out: shared.out.clone(),
            version,
        });
    let ctx = CallContext {
        daemon: &shared.daemon,
        planning: shared.planning.as_ref(),
        version,
        progress,
    };
    Ok(call::call_tool(&ctx, &tool, arguments).await)
}

/// Concrete resources: those of the newest tasks. Empty when the daemon cannot be reached (the
/// templates still say how to name any resource).
async fn resources_list(shared: &Shared) -> Value {
    let kinds: Vec<_> = resources::kinds()
        .into_iter()
        .filter(|k| k.variables() == ["task_id"])
        .collect();
    let tasks = match shared
        .daemon
        .call(TaskList::NAME, json!({ "limit": LISTED_TASKS }))
        .await
    {
        Ok(result) => result["tasks"].as_array().cloned().unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    let mut listed = Vec::new();
    for task in &tasks {
        let Some(id) = task["task_id"].as_str() else {
            continue;
        };
        for kind in &kinds {
            let Some(uri) = kind.expand(&[("task_id", id)]) else {
                continue;
            };
            listed.push(json!({
                "uri": uri,
                "name": format!("{} {id}", kind.subscription.name),
                "description": format!(
                    "{} of the {} task {id} ({}): {}",
                    kind.subscription.name,
                    task["kind"].as_str().unwrap_or("?"),
                    task["status"].as_str().unwrap_or("?"),
                    task["title"].as_str().unwrap_or(""),
                ),
                "mimeType": "text/plain",
            }));
        }
    }
    json!({ "resources": listed })
}

fn resource_uri(params: Option<Value>) -> Result<String, RpcError> {
    let params = wire::params_object(params)?;
    params
        .get("uri")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| RpcError::invalid_params("the request needs the resource's `uri`"))
}

/// A daemon error about a resource, as a JSON-RPC error (resources have no `isError` results).
fn resource_error(uri: &str, err: ClientError) -> RpcError {
    let hint = err.hint();
    let (code, message) = match &err {
        ClientError::Daemon { code, message, .. }
            if ErrorCode::from_code(*code) == Some(ErrorCode::TaskNotFound) =>
        {
            (wire::RESOURCE_NOT_FOUND, message.clone())
        }
        ClientError::Daemon { code, message, .. } if *code == wire::INVALID_PARAMS => {
            (wire::INVALID_PARAMS, message.clone())
        }
        ClientError::Daemon { message, .. } => (wire::INTERNAL_ERROR, message.clone()),
        _ => (wire::INTERNAL_ERROR, format!("cannot reach espctld: {err}")),
    };
    let mut data = json!({ "uri": uri, "kind": err.kind() });
    if let Some(hint) = hint {
        data["hint"] = json!(hint);
    }
    RpcError::new(code, message).with_data(data)
}

async fn resources_read(shared: &Shared, params: Option<Value>) -> Result<Value, RpcError> {
    let uri = resource_uri(params)?;
    let resolved = resources::resolve(&uri)?;
    let params = resolved.params_for(resolved.kind.reader, true)?;
    let result = shared
        .daemon
        .call(resolved.kind.reader.name, params)
        .await
        .map_err(|err| resource_error(&uri, err))?;
    Ok(resources::contents(&uri, result))
}

async fn resources_subscribe(shared: &Shared, params: Option<Value>) -> Result<Forward, RpcError> {
    let uri = resource_uri(params)?;
    let resolved = resources::resolve(&uri)?;
    let params = resolved.params_for(resolved.kind.subscription, false)?;
    let subscription = shared
        .daemon
        .subscribe(resolved.kind.subscription, params)
        .await
        .map_err(|err| resource_error(&uri, err))?;
    Ok(Forward { uri, subscription })
}

fn resources_unsubscribe(shared: &Shared, params: Option<Value>) -> Result<Value, RpcError> {
    let uri = resource_uri(params)?;
    if let Some((_, handle)) = lock(&shared.subscriptions).remove(&uri) {
        handle.abort();
    }
    Ok(json!({}))
}

/// Start sending `notifications/resources/updated` for a subscription whose answer was sent. A
/// subscription to the same URI it replaces is dropped.
fn start_forward(shared: &Arc<Shared>, forward: Forward) {
    let generation = shared.generation.fetch_add(1, Ordering::Relaxed);
    let uri = forward.uri.clone();
    let task_shared = shared.clone();
    let mut subscriptions = lock(&shared.subscriptions);
    let handle = tokio::spawn(async move {
        forward_updates(&task_shared, forward).await;
        lock(&task_shared.subscriptions).retain(|_, (g, _)| *g != generation);
    });
    if let Some((_, old)) = subscriptions.insert(uri, (generation, handle.abort_handle())) {
        old.abort();
    }
}

async fn forward_updates(shared: &Shared, forward: Forward) {
    let Forward {
        uri,
        mut subscription,
    } = forward;
    let updated = || wire::notification("notifications/resources/updated", json!({ "uri": uri }));
    let mut last_sent: Option<tokio::time::Instant> = None;
    let mut pending = false;
    loop {
        let due = last_sent.map(|t| t + UPDATE_INTERVAL);
        tokio::select! {
            item = subscription.next() => match item {
                Some(Ok(_)) => {
                    if due.is_none_or(|d| tokio::time::Instant::now() >= d) {
                        shared.send(updated());
                        last_sent = Some(tokio::time::Instant::now());
                        pending = false;
                    } else {
                        pending = true;
                    }
                }
                Some(Err(_)) | None => break,
            },
            _ = tokio::time::sleep_until(due.unwrap_or_else(tokio::time::Instant::now)), if pending => {
                shared.send(updated());
                last_sent = Some(tokio::time::Instant::now());
                pending = false;
            }
        }
    }
    // The daemon ended the subscription (for a log: the task ended and every line was sent). One
    // last update lets the client read the final state.
    shared.send(updated());
}
