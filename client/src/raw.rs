//! A raw WebSocket to the daemon: JSON-RPC text frames in and out, nothing parsed.
//!
//! This is what a bridge such as `espctl rpc` needs: it forwards whatever its peer writes and hands back
//! every frame the daemon sends, responses and subscription notifications alike, in order.

use std::path::Path;

use interprocess::local_socket::tokio::Stream;
use soketto::handshake::{Client as Handshake, ServerResponse};
use soketto::{Data, Incoming};
use tokio_util::compat::{Compat, TokioAsyncReadCompatExt};

use crate::connect;
use crate::error::ClientError;

/// Largest frame accepted from the daemon.
const MAX_MESSAGE_SIZE: usize = 64 * 1024 * 1024;

/// Sends text frames to the daemon.
pub struct RawSender {
    inner: soketto::connection::Sender<Compat<Stream>>,
}

/// Receives text frames from the daemon.
pub struct RawReceiver {
    inner: soketto::connection::Receiver<Compat<Stream>>,
}

/// Connect to the daemon's socket (it must be running) and complete the WebSocket handshake.
pub async fn connect(socket: &Path) -> Result<(RawSender, RawReceiver), ClientError> {
    let stream =
        connect::connect_stream(socket)
            .await
            .map_err(|source| match connect::is_not_listening(&source) {
                true => ClientError::NotRunning {
                    socket: socket.to_path_buf(),
                },
                false => ClientError::Connect {
                    socket: socket.to_path_buf(),
                    source,
                },
            })?;
    let mut handshake = Handshake::new(stream.compat(), "localhost", "/");
    match handshake.handshake().await.map_err(transport)? {
        ServerResponse::Accepted { .. } => {}
        ServerResponse::Rejected { status_code } => {
            return Err(ClientError::Transport(format!(
                "the daemon refused the WebSocket (HTTP {status_code})"
            )));
        }
        ServerResponse::Redirect { status_code, .. } => {
            return Err(ClientError::Transport(format!(
                "the daemon redirected the WebSocket (HTTP {status_code})"
            )));
        }
    }
    let mut builder = handshake.into_builder();
    builder.set_max_message_size(MAX_MESSAGE_SIZE);
    builder.set_max_frame_size(MAX_MESSAGE_SIZE);
    let (sender, receiver) = builder.finish();
    Ok((RawSender { inner: sender }, RawReceiver { inner: receiver }))
}

fn transport(err: impl std::fmt::Display) -> ClientError {
    ClientError::Transport(err.to_string())
}

impl RawSender {
    /// Send one text frame and flush it.
    pub async fn send_text(&mut self, text: &str) -> Result<(), ClientError> {
        self.inner.send_text(text).await.map_err(transport)?;
        self.inner.flush().await.map_err(transport)
    }

    /// Send a close frame.
    pub async fn close(&mut self) -> Result<(), ClientError> {
        self.inner.close().await.map_err(transport)
    }
}

impl RawReceiver {
    /// The next text (or binary, read as UTF-8) frame; `None` once the daemon closed the connection.
    pub async fn receive(&mut self) -> Result<Option<String>, ClientError> {
        loop {
            let mut message = Vec::new();
            match self.inner.receive(&mut message).await {
                Ok(Incoming::Data(Data::Text(_) | Data::Binary(_))) => {
                    return Ok(Some(String::from_utf8_lossy(&message).into_owned()));
                }
                Ok(Incoming::Pong(_)) => continue,
                Ok(Incoming::Closed(_)) => return Ok(None),
                Err(soketto::connection::Error::Closed) => return Ok(None),
                Err(soketto::connection::Error::Io(err))
                    if matches!(
                        err.kind(),
                        std::io::ErrorKind::UnexpectedEof
                            | std::io::ErrorKind::ConnectionReset
                            | std::io::ErrorKind::BrokenPipe
                    ) =>
                {
                    return Ok(None);
                }
                Err(err) => return Err(transport(err)),
            }
        }
    }
}
