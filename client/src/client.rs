//! [`Client`]: a JSON-RPC connection to the daemon with typed calls over the [`Method`] markers.

use std::path::{Path, PathBuf};
use std::time::Duration;

use espctl_protocol::catalog::{MethodKind, find_method};
use espctl_protocol::methods::{DaemonInfo, DaemonInfoResult, NoParams};
use espctl_protocol::{Method, PROTOCOL_VERSION};
use interprocess::local_socket::tokio::Stream;
use jsonrpsee::client_transport::ws::{Url, WsTransportClientBuilder};
use jsonrpsee::core::client::{
    ClientBuilder, ClientT, SubscriptionClientT, SubscriptionCloseReason,
};
use jsonrpsee::core::traits::ToRpcParams;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::connect::{self, ConnectOptions};
use crate::error::ClientError;

/// The URI of the WebSocket handshake. The transport is the local socket, so the host is never used.
const WS_URI: &str = "ws://localhost/";

/// Notifications buffered per subscription before the subscription counts as lagging.
const SUBSCRIPTION_BUFFER: usize = 16 * 1024;

/// How long one call may take. Long work is a task followed through notifications, so this is a
/// safety net, not a budget.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// A connection to `espctld`.
pub struct Client {
    /// The jsonrpsee client over the WebSocket on the local socket.
    rpc: jsonrpsee::core::client::Client,
    /// The socket this client is connected to.
    socket: PathBuf,
    /// What `daemon.info` said, when the connection checked the protocol version.
    daemon: Option<DaemonInfoResult>,
    /// The daemon's pid when this connection started it.
    started_pid: Option<u32>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("socket", &self.socket)
            .field("started_pid", &self.started_pid)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connect (starting the daemon if `options` allow it) and check the daemon's protocol version
    /// (if `options` ask for it).
    pub async fn connect(options: &ConnectOptions) -> Result<Client, ClientError> {
        let connection = connect::open(options).await?;
        let rpc = over_stream(connection.stream).await?;
        let mut client = Client {
            rpc,
            socket: options.socket.clone(),
            daemon: None,
            started_pid: connection.started_pid,
        };
        if options.check_version {
            client.daemon = Some(client.check_version().await?);
        }
        Ok(client)
    }

    /// The socket this client talks to.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// What `daemon.info` answered when the connection was opened (only when the version was checked).
    pub fn daemon_info(&self) -> Option<&DaemonInfoResult> {
        self.daemon.as_ref()
    }

    /// The pid of the daemon this connection started, or `None` when it was already running.
    pub fn started_pid(&self) -> Option<u32> {
        self.started_pid
    }

    /// Call method `M`.
    pub async fn call<M: Method>(&self, params: &M::Params) -> Result<M::Result, ClientError> {
        Ok(self.rpc.request(M::NAME, Params::new(params)?).await?)
    }

    /// Call a method by name with JSON params, for callers that forward requests they do not type.
    pub async fn call_json(
        &self,
        method: &str,
        params: &serde_json::Value,
    ) -> Result<serde_json::Value, ClientError> {
        Ok(self.rpc.request(method, Params::new(params)?).await?)
    }

    /// Subscribe with method `M`; each notification carries an `M::Result`. The unsubscribe method
    /// comes from the catalog.
    pub async fn subscribe<M: Method>(
        &self,
        params: &M::Params,
    ) -> Result<Subscription<M::Result>, ClientError> {
        let unsubscribe = match find_method(M::NAME).map(|spec| spec.kind) {
            Some(MethodKind::Subscription { unsubscribe, .. }) => unsubscribe,
            _ => {
                return Err(ClientError::Protocol(format!(
                    "{} is not a subscription in the method catalog",
                    M::NAME
                )));
            }
        };
        let inner = self
            .rpc
            .subscribe(M::NAME, Params::new(params)?, unsubscribe)
            .await?;
        Ok(Subscription { inner })
    }

    /// True while the connection is up.
    pub fn is_connected(&self) -> bool {
        self.rpc.is_connected()
    }

    /// Call `daemon.info` and compare its protocol version with ours. The version is read before the
    /// rest of the answer is parsed, so that a daemon whose `daemon.info` changed shape still gets the
    /// clear mismatch message.
    async fn check_version(&self) -> Result<DaemonInfoResult, ClientError> {
        let raw: serde_json::Value = self
            .rpc
            .request(DaemonInfo::NAME, Params::new(&NoParams {})?)
            .await?;
        let daemon_version = raw
            .get("protocol_version")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| {
                ClientError::Protocol("daemon.info did not report a protocol_version".into())
            })?;
        if daemon_version != u64::from(PROTOCOL_VERSION) {
            return Err(ClientError::VersionMismatch {
                socket: self.socket.clone(),
                daemon: u32::try_from(daemon_version).unwrap_or(u32::MAX),
                client: PROTOCOL_VERSION,
            });
        }
        serde_json::from_value(raw)
            .map_err(|err| ClientError::Protocol(format!("daemon.info: {err}")))
    }
}

/// Open the WebSocket on an already connected stream and run the jsonrpsee client on it.
async fn over_stream(stream: Stream) -> Result<jsonrpsee::core::client::Client, ClientError> {
    let uri = Url::parse(WS_URI).expect("the WebSocket URI is valid");
    let (sender, receiver) = WsTransportClientBuilder::default()
        .build_with_stream(uri, stream)
        .await
        .map_err(|err| ClientError::Transport(format!("WebSocket handshake failed: {err}")))?;
    Ok(ClientBuilder::default()
        .request_timeout(REQUEST_TIMEOUT)
        .max_buffer_capacity_per_subscription(SUBSCRIPTION_BUFFER)
        .build_with_tokio(sender, receiver))
}

/// Params serialized before the call, so that the request future does not borrow the caller's value.
struct Params(Box<RawValue>);

impl Params {
    fn new(params: &impl Serialize) -> Result<Params, ClientError> {
        serde_json::value::to_raw_value(params)
            .map(Params)
            .map_err(|err| ClientError::Protocol(format!("cannot serialize the params: {err}")))
    }
}

impl ToRpcParams for Params {
    fn to_rpc_params(self) -> Result<Option<Box<RawValue>>, serde_json::Error> {
        Ok(Some(self.0))
    }
}

/// A live subscription: the notifications the daemon sends for it, typed.
pub struct Subscription<T> {
    inner: jsonrpsee::core::client::Subscription<T>,
}

impl<T> std::fmt::Debug for Subscription<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription").finish_non_exhaustive()
    }
}

impl<T: DeserializeOwned> Subscription<T> {
    /// The next notification; `None` when the daemon ended the subscription or the connection closed
    /// (see [`Subscription::lagged`] to tell a slow consumer apart).
    pub async fn next(&mut self) -> Option<Result<T, ClientError>> {
        self.inner
            .next()
            .await
            .map(|item| item.map_err(|err| ClientError::Protocol(err.to_string())))
    }

    /// True when the subscription ended because this side did not read notifications fast enough.
    /// The caller can subscribe again from where it stopped.
    pub fn lagged(&self) -> bool {
        matches!(
            self.inner.close_reason(),
            Some(SubscriptionCloseReason::Lagged)
        )
    }

    /// Tell the daemon to stop sending.
    pub async fn unsubscribe(self) -> Result<(), ClientError> {
        Ok(self.inner.unsubscribe().await?)
    }
}
