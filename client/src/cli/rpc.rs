//! `espctl rpc`: a stdio bridge to the daemon.
//!
//! Each line on stdin is one JSON-RPC message (a request, a notification or a batch) and is sent to the
//! daemon as one WebSocket text frame, unchanged. Every frame the daemon sends, responses and
//! subscription notifications alike, is written to stdout as one line, in the order received. An editor
//! spawns `espctl rpc` and speaks JSON-RPC over its pipes without knowing where the socket is; the
//! daemon is started if it is not running.
//!
//! On stdin EOF the bridge waits for the responses still owed (requests with an `id`), lets late
//! notifications arrive for a short grace period, then closes the WebSocket and exits 0. It also exits 0
//! when the daemon closes the connection.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncBufReadExt;
use tokio::time::Instant;

use espctl::ClientError;

use super::Outcome;

/// After stdin ends and every response arrived, how long to keep forwarding notifications.
const GRACE: Duration = Duration::from_millis(200);

/// After stdin ends, the longest wait for responses still owed.
const RESPONSE_WAIT: Duration = Duration::from_secs(120);

pub async fn run(socket: &Path) -> Outcome {
    // Start the daemon if needed and check its protocol version on a typed connection first.
    drop(super::connect(socket).await?);
    let (mut sender, mut receiver) = espctl::raw::connect(socket).await?;

    // Receiving a frame is not cancel-safe, so it runs in its own task and hands complete frames over
    // a channel that the loop below can select on.
    let (frames_tx, mut frames) = tokio::sync::mpsc::channel::<Result<String, ClientError>>(256);
    tokio::spawn(async move {
        loop {
            let frame = match receiver.receive().await {
                Ok(Some(text)) => Ok(text),
                Ok(None) => break,
                Err(err) => Err(err),
            };
            let failed = frame.is_err();
            if frames_tx.send(frame).await.is_err() || failed {
                break;
            }
        }
    });

    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut stdout = std::io::stdout();
    let mut stdin_open = true;
    let mut owed: usize = 0;
    let mut stdin_closed_at = Instant::now();
    let mut last_frame_at = Instant::now();

    loop {
        let deadline = if owed > 0 {
            stdin_closed_at + RESPONSE_WAIT
        } else {
            last_frame_at.max(stdin_closed_at) + GRACE
        };
        tokio::select! {
            line = stdin.next_line(), if stdin_open => match line {
                Ok(Some(line)) => {
                    let message = line.trim();
                    if message.is_empty() {
                        continue;
                    }
                    owed += expected_responses(message);
                    sender.send_text(message).await?;
                }
                // EOF, or stdin unreadable: stop reading, finish what is owed.
                Ok(None) | Err(_) => {
                    stdin_open = false;
                    stdin_closed_at = Instant::now();
                }
            },
            frame = frames.recv() => match frame.transpose()? {
                Some(text) => {
                    if is_response(&text) {
                        owed = owed.saturating_sub(1);
                    }
                    write_line(&mut stdout, &text)?;
                    last_frame_at = Instant::now();
                }
                None => return Ok(0),
            },
            _ = tokio::time::sleep_until(deadline), if !stdin_open => {
                let _ = sender.close().await;
                return Ok(0);
            }
        }
    }
}

/// One frame as one line. JSON text never needs its line breaks (those inside strings are escaped),
/// so any a frame holds are turned into spaces.
fn write_line(stdout: &mut std::io::Stdout, frame: &str) -> std::io::Result<()> {
    let mut out = stdout.lock();
    if frame.contains(['\n', '\r']) {
        out.write_all(frame.replace(['\n', '\r'], " ").as_bytes())?;
    } else {
        out.write_all(frame.as_bytes())?;
    }
    out.write_all(b"\n")?;
    out.flush()
}

/// How many response frames the daemon owes for a message: none for a notification (or a batch of
/// only notifications), one for anything else, including text that is not valid JSON (it gets a
/// parse error).
pub fn expected_responses(message: &str) -> usize {
    let is_notification = |value: &Value| {
        value
            .as_object()
            .is_some_and(|o| o.contains_key("method") && !o.contains_key("id"))
    };
    match serde_json::from_str::<Value>(message) {
        Ok(Value::Array(items)) if !items.is_empty() && items.iter().all(is_notification) => 0,
        Ok(value) if is_notification(&value) => 0,
        _ => 1,
    }
}

/// True for a frame that answers a request (a response or a batch of them), false for a notification.
pub fn is_response(frame: &str) -> bool {
    match serde_json::from_str::<Value>(frame) {
        Ok(Value::Object(object)) => !object.contains_key("method"),
        Ok(_) => true,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_owed_a_response_and_notifications_are_not() {
        assert_eq!(
            expected_responses(r#"{"jsonrpc":"2.0","id":1,"method":"daemon.info"}"#),
            1
        );
        assert_eq!(
            expected_responses(r#"{"jsonrpc":"2.0","method":"build.log_unsubscribe"}"#),
            0
        );
        assert_eq!(
            expected_responses(
                r#"[{"jsonrpc":"2.0","method":"a"},{"jsonrpc":"2.0","method":"b"}]"#
            ),
            0
        );
        assert_eq!(
            expected_responses(
                r#"[{"jsonrpc":"2.0","method":"a"},{"jsonrpc":"2.0","id":2,"method":"b"}]"#
            ),
            1
        );
        assert_eq!(expected_responses("[]"), 1);
        assert_eq!(expected_responses("not json"), 1);
    }

    #[test]
    fn notifications_are_not_responses() {
        assert!(is_response(r#"{"jsonrpc":"2.0","id":1,"result":{}}"#));
        assert!(is_response(
            r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700}}"#
        ));
        assert!(is_response(r#"[{"jsonrpc":"2.0","id":1,"result":1}]"#));
        assert!(!is_response(
            r#"{"jsonrpc":"2.0","method":"task.status","params":{"subscription":1,"result":{}}}"#
        ));
    }
}
