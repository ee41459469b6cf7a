//! Talking to the daemon: a persistent WebSocket JSON-RPC client (what editors and the CLI use) and a
//! one-shot HTTP POST (what readiness polling uses).

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, bail};
use interprocess::local_socket::traits::tokio::Stream as _;
use interprocess::local_socket::{GenericFilePath, ToFsName};
use jsonrpsee::core::client::ClientT;
use jsonrpsee::core::params::ObjectParams;
use serde_json::Value;

/// A jsonrpsee WebSocket client over the daemon's local socket.
pub async fn ws_client(socket: &Path) -> anyhow::Result<jsonrpsee::core::client::Client> {
    let name = socket
        .to_fs_name::<GenericFilePath>()
        .with_context(|| format!("{} is not a socket path", socket.display()))?;
    let stream = interprocess::local_socket::tokio::Stream::connect(name)
        .await
        .with_context(|| format!("cannot connect to {}", socket.display()))?;
    let uri: jsonrpsee::client_transport::ws::Url = "ws://localhost/".parse()?;
    let (tx, rx) = jsonrpsee::client_transport::ws::WsTransportClientBuilder::default()
        .max_request_size(64 * 1024 * 1024)
        .max_response_size(64 * 1024 * 1024)
        .build_with_stream(uri, stream)
        .await
        .context("WebSocket handshake with the daemon")?;
    Ok(jsonrpsee::core::client::ClientBuilder::default()
        .request_timeout(Duration::from_secs(120))
        .build_with_tokio(tx, rx))
}

/// `{"task_id": id}` as params.
pub fn task_params(task_id: &str) -> ObjectParams {
    let mut p = ObjectParams::new();
    p.insert("task_id", task_id).expect("a string serializes");
    p
}

/// `build.rust_elf` for esp32c3 on `elf`, writing the bundle to `out`; returns the result object.
pub async fn build_rust_elf(socket: &Path, elf: &Path, out: &Path) -> anyhow::Result<Value> {
    let client = ws_client(socket).await?;
    build_rust_elf_with(&client, elf, out).await
}

/// [`build_rust_elf`] on an open client.
pub async fn build_rust_elf_with(
    client: &jsonrpsee::core::client::Client,
    elf: &Path,
    out: &Path,
) -> anyhow::Result<Value> {
    let mut p = ObjectParams::new();
    p.insert("elf_path", elf.display().to_string())?;
    p.insert("target", "esp32c3")?;
    p.insert("out_path", out.display().to_string())?;
    client
        .request::<Value, _>("build.rust_elf", p)
        .await
        .with_context(|| format!("build.rust_elf on {}", elf.display()))
}

/// One JSON-RPC call as an HTTP POST on a new connection; returns the `result`.
pub fn http_call(socket: &Path, method: &str, params_json: &str) -> anyhow::Result<Value> {
    let body = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":{params_json}}}"#);
    let request = format!(
        "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = std::os::unix::net::UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(request.as_bytes())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        bail!("malformed HTTP response from the daemon");
    };
    if !head.starts_with("HTTP/1.1 200") {
        bail!("HTTP {}", head.lines().next().unwrap_or_default());
    }
    let reply: Value = serde_json::from_str(body).context("the daemon's reply is not JSON")?;
    match reply.get("result") {
        Some(result) => Ok(result.clone()),
        None => bail!("{method} failed: {}", reply["error"]),
    }
}
