//! Talking to the daemon: a persistent WebSocket JSON-RPC client (what editors and the CLI use), a
//! lean blocking one for load generation ([`LeanWsClient`]), and a one-shot HTTP POST (what
//! readiness polling uses).

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

/// A minimal, blocking JSON-RPC 2.0 client over WebSocket (RFC 6455) on the daemon's socket: one
/// request in flight, each answer read, parsed and checked before the next call.
///
/// It exists so that load generation costs the machine as little as it can: a call is one `write`
/// of a masked text frame and, usually, one `poll` and one `read` of the answer, with buffers reused
/// between calls. It waits in `poll` rather than in `read`, as an event-driven client does (see
/// [`crate::echo::wait_readable`]).
/// It speaks only what a client needs: the opening handshake (checked for `101 Switching
/// Protocols`; the `Sec-WebSocket-Accept` digest is not verified), masked text frames out, text or
/// fragmented frames in, pings answered, a close frame ends the client.
pub struct LeanWsClient {
    stream: std::os::unix::net::UnixStream,
    /// Bytes read and not yet consumed: `inbox[start..end]`. It grows only for a frame larger than
    /// it.
    inbox: Vec<u8>,
    start: usize,
    end: usize,
    /// The message being reassembled.
    message: Vec<u8>,
    /// The frame being written.
    frame: Vec<u8>,
    request: String,
    next_id: u64,
    mask: u32,
}

/// What the daemon answers a call with, before its result is read.
#[derive(serde::Deserialize)]
struct Reply<'a> {
    jsonrpc: &'a str,
    id: Option<u64>,
    #[serde(borrow, default)]
    result: Option<&'a serde_json::value::RawValue>,
    #[serde(borrow, default)]
    error: Option<&'a serde_json::value::RawValue>,
}

/// A frame [`LeanWsClient`] writes.
enum Outgoing {
    /// `self.request`.
    Request,
    /// A pong carrying the ping's payload, `self.inbox[range]`.
    Pong(std::ops::Range<usize>),
}

/// How long [`LeanWsClient`] waits for an answer.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);

const OP_CONTINUATION: u8 = 0x0;
const OP_TEXT: u8 = 0x1;
const OP_BINARY: u8 = 0x2;
const OP_CLOSE: u8 = 0x8;
const OP_PING: u8 = 0x9;
const OP_PONG: u8 = 0xA;

impl LeanWsClient {
    /// Connects to `socket` and completes the WebSocket handshake.
    pub fn connect(socket: &Path) -> anyhow::Result<LeanWsClient> {
        let stream = std::os::unix::net::UnixStream::connect(socket)
            .with_context(|| format!("cannot connect to {}", socket.display()))?;
        // The handshake nonce only has to differ between connections.
        static CONNECTIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let count = CONNECTIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or_default();
        let seed = now ^ count.rotate_left(32) ^ u64::from(std::process::id());
        let mut nonce = [0u8; 16];
        nonce[..8].copy_from_slice(&seed.to_le_bytes());
        nonce[8..].copy_from_slice(&count.to_le_bytes());
        let mut client = LeanWsClient {
            stream,
            inbox: vec![0; 16 * 1024],
            start: 0,
            end: 0,
            message: Vec::with_capacity(4 * 1024),
            frame: Vec::with_capacity(1024),
            request: String::with_capacity(256),
            next_id: 1,
            // Any non-zero start works; frames need masks, not secrecy, on a local socket.
            mask: (seed as u32) | 1,
        };
        client.handshake(&base64(&nonce))?;
        Ok(client)
    }

    fn handshake(&mut self, key: &str) -> anyhow::Result<()> {
        let request = format!(
            "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        self.stream.write_all(request.as_bytes())?;
        let end = loop {
            if let Some(pos) = self.inbox[..self.end]
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
            {
                break pos + 4;
            }
            if self.end == self.inbox.len() {
                bail!("the daemon's handshake answer has no end");
            }
            self.read_more()?;
        };
        let head = String::from_utf8_lossy(&self.inbox[..end]).into_owned();
        let status = head.lines().next().unwrap_or_default();
        if !status.starts_with("HTTP/1.1 101") {
            bail!("the daemon refused the WebSocket upgrade: {status}");
        }
        let upgraded = head.lines().any(|l| {
            l.split_once(':').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("upgrade")
                    && v.trim().eq_ignore_ascii_case("websocket")
            })
        });
        if !upgraded {
            bail!("the daemon's 101 answer does not upgrade to websocket");
        }
        self.start = end;
        Ok(())
    }

    /// Calls `method` with `params_json` (a JSON object, written as is) and returns the raw text of
    /// the `result`, after checking the answer: valid JSON, `jsonrpc` 2.0, the same id, no error.
    pub fn call(&mut self, method: &str, params_json: &str) -> anyhow::Result<&str> {
        use std::fmt::Write as _;
        let id = self.next_id;
        self.next_id += 1;
        self.request.clear();
        let _ = write!(
            self.request,
            r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":{params_json}}}"#
        );
        self.send(Outgoing::Request)?;
        self.receive()?;
        let reply: Reply<'_> =
            serde_json::from_slice(&self.message).context("the daemon's answer is not JSON-RPC")?;
        if reply.jsonrpc != "2.0" {
            bail!("the daemon answered with jsonrpc {:?}", reply.jsonrpc);
        }
        if reply.id != Some(id) {
            bail!("asked with id {id}, answered with id {:?}", reply.id);
        }
        if let Some(error) = reply.error {
            bail!("{method} failed: {}", error.get());
        }
        match reply.result {
            Some(result) => Ok(result.get()),
            None => bail!("{method}: an answer with neither result nor error"),
        }
    }

    /// Calls `method` and deserialises its result as `T` (which may borrow from the client's buffer).
    pub fn call_as<'a, T: serde::Deserialize<'a>>(
        &'a mut self,
        method: &str,
        params_json: &str,
    ) -> anyhow::Result<T> {
        let raw = self.call(method, params_json)?;
        serde_json::from_str(raw).with_context(|| format!("{method}: unexpected result"))
    }

    /// Writes one masked frame: the request (text) or the pong to a ping.
    fn send(&mut self, what: Outgoing) -> anyhow::Result<()> {
        let (opcode, payload) = match what {
            Outgoing::Request => (OP_TEXT, self.request.as_bytes()),
            Outgoing::Pong(range) => (OP_PONG, &self.inbox[range]),
        };
        let len = payload.len();
        self.frame.clear();
        self.frame.push(0x80 | opcode);
        match len {
            0..=125 => self.frame.push(0x80 | len as u8),
            126..=0xFFFF => {
                self.frame.push(0x80 | 126);
                self.frame.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                self.frame.push(0x80 | 127);
                self.frame.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        // xorshift: a fresh mask per frame.
        self.mask ^= self.mask << 13;
        self.mask ^= self.mask >> 17;
        self.mask ^= self.mask << 5;
        let mask = self.mask.to_be_bytes();
        self.frame.extend_from_slice(&mask);
        self.frame
            .extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
        self.stream.write_all(&self.frame)?;
        Ok(())
    }

    /// Reads frames until a whole data message is in `self.message`.
    fn receive(&mut self) -> anyhow::Result<()> {
        self.message.clear();
        loop {
            let (fin, opcode, payload) = self.frame_in()?;
            match opcode {
                OP_TEXT | OP_BINARY | OP_CONTINUATION => {
                    self.message.extend_from_slice(&self.inbox[payload.clone()]);
                    self.start = payload.end;
                    if fin {
                        return Ok(());
                    }
                }
                OP_PING => {
                    // Answered with the same payload, before it leaves the inbox.
                    self.send(Outgoing::Pong(payload.clone()))?;
                    self.start = payload.end;
                }
                OP_PONG => self.start = payload.end,
                OP_CLOSE => bail!("the daemon closed the WebSocket"),
                other => bail!("unexpected WebSocket opcode {other:#x}"),
            }
        }
    }

    /// Reads the next frame; returns FIN, the opcode and where its payload sits in the inbox.
    fn frame_in(&mut self) -> anyhow::Result<(bool, u8, std::ops::Range<usize>)> {
        self.fill(2)?;
        let b0 = self.inbox[self.start];
        let b1 = self.inbox[self.start + 1];
        if b1 & 0x80 != 0 {
            bail!("the daemon sent a masked frame");
        }
        let (len, header) = match b1 & 0x7F {
            126 => {
                self.fill(4)?;
                let s = self.start;
                (
                    u64::from(u16::from_be_bytes([self.inbox[s + 2], self.inbox[s + 3]])),
                    4,
                )
            }
            127 => {
                self.fill(10)?;
                let s = self.start;
                let mut b = [0u8; 8];
                b.copy_from_slice(&self.inbox[s + 2..s + 10]);
                (u64::from_be_bytes(b), 10)
            }
            n => (u64::from(n), 2),
        };
        let len = usize::try_from(len).context("a frame too large for this machine")?;
        self.fill(header + len)?;
        let begin = self.start + header;
        Ok((b0 & 0x80 != 0, b0 & 0x0F, begin..begin + len))
    }

    /// Makes sure `n` unconsumed bytes are buffered.
    fn fill(&mut self, n: usize) -> anyhow::Result<()> {
        while self.end - self.start < n {
            if self.start > 0 {
                // Everything before `start` is consumed: move the rest to the front.
                self.inbox.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.inbox.len() < n {
                self.inbox.resize(n, 0);
            }
            self.read_more()?;
        }
        Ok(())
    }

    /// Waits until the socket is readable, then one `read` into the free end of the inbox.
    fn read_more(&mut self) -> anyhow::Result<()> {
        crate::echo::wait_readable(&self.stream, Some(CALL_TIMEOUT)).map_err(|e| {
            if e.kind() == std::io::ErrorKind::TimedOut {
                anyhow::anyhow!(
                    "the daemon did not answer within {} s",
                    CALL_TIMEOUT.as_secs()
                )
            } else {
                anyhow::Error::new(e).context("waiting for the daemon")
            }
        })?;
        let n = loop {
            match self.stream.read(&mut self.inbox[self.end..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e).context("reading from the daemon"),
            }
        };
        if n == 0 {
            bail!("the daemon closed the connection");
        }
        self.end += n;
        Ok(())
    }
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_pads_like_the_standard() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foob"), "Zm9vYg==");
        assert_eq!(base64(&[0xFF; 16]).len(), 24);
    }
}
