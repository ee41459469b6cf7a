//! The shim's one connection to `espctld`: opened on first use (starting the daemon as `espctl` does),
//! reopened when the daemon went away, and released after a quiet minute so that the daemon's own idle
//! timeout still works while an assistant application keeps the shim running.
//!
//! Calls and subscriptions go by method name with JSON params, since the shim forwards what the
//! catalog describes without knowing the types.

use std::sync::Arc;
use std::time::{Duration, Instant};

use espctl_protocol::catalog::{MethodKind, MethodSpec};
use espctl_protocol::methods::{DaemonInfo, Method};
use jsonrpsee::client_transport::ws::{Url, WsTransportClientBuilder};
use jsonrpsee::core::client::{ClientBuilder, ClientT, SubscriptionClientT};
use jsonrpsee::core::traits::ToRpcParams;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::connect::{self, ConnectOptions};
use crate::error::ClientError;

type Rpc = jsonrpsee::core::client::Client;

/// The URI of the WebSocket handshake; the transport is the local socket, so the host is not used.
const WS_URI: &str = "ws://localhost/";

/// Largest message either way. Build plans of large projects run to megabytes.
const MAX_MESSAGE: u32 = 64 * 1024 * 1024;

/// How long one daemon call may take. `build.rust_elf` waits for its work; everything longer runs as
/// a task and is followed through notifications.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);

/// Notifications buffered per subscription before the daemon's side counts it as lagging.
const SUBSCRIPTION_BUFFER: usize = 16 * 1024;

/// A connection unused for this long, with no call, wait or subscription on it, is closed.
pub const IDLE_RELEASE: Duration = Duration::from_secs(60);

struct Open {
    rpc: Arc<Rpc>,
    last_used: Instant,
}

/// The daemon, as the shim reaches it.
pub struct Daemon {
    options: ConnectOptions,
    open: tokio::sync::Mutex<Option<Open>>,
}

/// A subscription to the daemon, holding its connection open while it lives.
pub struct DaemonSubscription {
    inner: jsonrpsee::core::client::Subscription<Value>,
    _rpc: Arc<Rpc>,
}

impl DaemonSubscription {
    /// The next notification's payload; `None` once the daemon ended the subscription (or the
    /// connection closed).
    pub async fn next(&mut self) -> Option<Result<Value, ClientError>> {
        self.inner
            .next()
            .await
            .map(|item| item.map_err(|err| ClientError::Protocol(err.to_string())))
    }
}

impl Daemon {
    pub fn new(options: ConnectOptions) -> Daemon {
        Daemon {
            options,
            open: tokio::sync::Mutex::new(None),
        }
    }

    /// The open connection, connecting (and starting the daemon) first when there is none or the
    /// previous one closed. Concurrent callers wait for one attempt.
    async fn rpc(&self) -> Result<Arc<Rpc>, ClientError> {
        let mut open = self.open.lock().await;
        if let Some(current) = open.as_mut()
            && current.rpc.is_connected()
        {
            current.last_used = Instant::now();
            return Ok(current.rpc.clone());
        }
        *open = None;
        let rpc = Arc::new(connect(&self.options).await?);
        *open = Some(Open {
            rpc: rpc.clone(),
            last_used: Instant::now(),
        });
        Ok(rpc)
    }

    /// Connect now, so that the first tool call finds the daemon running.
    pub async fn warm_up(&self) -> Result<(), ClientError> {
        self.rpc().await.map(drop)
    }

    /// Call `method` with `params` (an object).
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, ClientError> {
        let rpc = self.rpc().await?;
        Ok(rpc.request(method, JsonParams::new(params)?).await?)
    }

    /// Open the subscription `spec` describes with `params`.
    pub async fn subscribe(
        &self,
        spec: &MethodSpec,
        params: Value,
    ) -> Result<DaemonSubscription, ClientError> {
        let MethodKind::Subscription { unsubscribe, .. } = spec.kind else {
            return Err(ClientError::Protocol(format!(
                "{} is not a subscription in the method catalog",
                spec.name
            )));
        };
        let rpc = self.rpc().await?;
        let inner = rpc
            .subscribe(spec.name, JsonParams::new(params)?, unsubscribe)
            .await?;
        Ok(DaemonSubscription { inner, _rpc: rpc })
    }

    /// Close the connection when nothing used it for `idle` and no call, wait or subscription holds
    /// it. Returns true when it closed one.
    pub async fn release_if_idle(&self, idle: Duration) -> bool {
        let mut open = self.open.lock().await;
        let release = open
            .as_ref()
            .is_some_and(|o| Arc::strong_count(&o.rpc) == 1 && o.last_used.elapsed() >= idle);
        if release {
            *open = None;
        }
        release
    }

    /// True while a connection is open.
    pub async fn is_open(&self) -> bool {
        self.open
            .lock()
            .await
            .as_ref()
            .is_some_and(|o| o.rpc.is_connected())
    }
}

/// Connect to the daemon (starting it when allowed), open the WebSocket and check the protocol
/// version, as [`crate::Client::connect`] does.
async fn connect(options: &ConnectOptions) -> Result<Rpc, ClientError> {
    let connection = connect::open(options).await?;
    let uri = Url::parse(WS_URI).expect("the WebSocket URI is valid");
    let (sender, receiver) = WsTransportClientBuilder::default()
        .max_request_size(MAX_MESSAGE)
        .max_response_size(MAX_MESSAGE)
        .build_with_stream(uri, connection.stream)
        .await
        .map_err(|err| ClientError::Transport(format!("WebSocket handshake failed: {err}")))?;
    let rpc = ClientBuilder::default()
        .request_timeout(REQUEST_TIMEOUT)
        .max_buffer_capacity_per_subscription(SUBSCRIPTION_BUFFER)
        .build_with_tokio(sender, receiver);
    if options.check_version {
        let info: Value = rpc
            .request(
                DaemonInfo::NAME,
                JsonParams::new(Value::Object(Default::default()))?,
            )
            .await?;
        let version = info
            .get("protocol_version")
            .and_then(Value::as_u64)
            .ok_or_else(|| {
                ClientError::Protocol("daemon.info did not report a protocol_version".into())
            })?;
        if version != u64::from(espctl_protocol::PROTOCOL_VERSION) {
            return Err(ClientError::VersionMismatch {
                socket: options.socket.clone(),
                daemon: u32::try_from(version).unwrap_or(u32::MAX),
                client: espctl_protocol::PROTOCOL_VERSION,
            });
        }
    }
    Ok(rpc)
}

/// JSON params serialized before the call.
struct JsonParams(Box<RawValue>);

impl JsonParams {
    fn new(params: Value) -> Result<JsonParams, ClientError> {
        serde_json::value::to_raw_value(&params)
            .map(JsonParams)
            .map_err(|err| ClientError::Protocol(format!("cannot serialize the params: {err}")))
    }
}

impl ToRpcParams for JsonParams {
    fn to_rpc_params(self) -> Result<Option<Box<RawValue>>, serde_json::Error> {
        Ok(Some(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn no_daemon_and_no_autostart_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let daemon =
            Daemon::new(ConnectOptions::new(dir.path().join("missing.sock")).autostart(false));
        let err = daemon.call("build.status", Value::Null).await.unwrap_err();
        assert!(matches!(err, ClientError::NotRunning { .. }), "{err:?}");
        assert!(!daemon.is_open().await);
        assert!(!daemon.release_if_idle(Duration::ZERO).await);
    }
}
