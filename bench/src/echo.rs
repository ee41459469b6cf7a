//! The raw floor of a request/response over a Unix socket: a tiny server that answers every framed
//! request with a frame of a fixed size, and clients that time round trips to it.
//!
//! A frame is a 4-byte little-endian length and that many bytes. Requests carry the size of a real
//! request, replies the size of the real response, so the bytes crossing the socket match what
//! the scenario compared against moves; everything else (WebSocket framing, JSON, routing, the
//! handler, the async runtimes) is what the daemon's figure adds on top. Server and clients are plain
//! blocking threads, one per connection, which wait for data in `poll` like the RPC scenarios'
//! clients do (see [`wait_readable`]): the least work a round trip can cost.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::stats::nanos;

/// An echo server on a temp socket; stopped when dropped.
pub struct EchoServer {
    _dir: tempfile::TempDir,
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EchoServer {
    /// Listens on a fresh temp socket; each request is answered with `reply_len` bytes.
    pub fn start(reply_len: usize) -> anyhow::Result<EchoServer> {
        let dir = tempfile::Builder::new()
            .prefix("espctl-bench-echo")
            .tempdir()
            .context("cannot create a temp dir")?;
        let path = dir.path().join("echo.sock");
        let listener = UnixListener::bind(&path)
            .with_context(|| format!("cannot listen on {}", path.display()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = stop.clone();
        let mut reply = Vec::with_capacity(4 + reply_len);
        reply.extend_from_slice(&frame_len(reply_len).to_le_bytes());
        reply.resize(4 + reply_len, b'x');
        let reply: Arc<[u8]> = reply.into();
        let thread = std::thread::Builder::new()
            .name("echo-accept".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if stop_flag.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let reply = reply.clone();
                    let _ = std::thread::Builder::new()
                        .name("echo-conn".into())
                        .spawn(move || serve(conn, &reply));
                }
            })
            .context("cannot start the echo thread")?;
        Ok(EchoServer {
            _dir: dir,
            path,
            stop,
            thread: Some(thread),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = UnixStream::connect(&self.path);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn frame_len(len: usize) -> u32 {
    u32::try_from(len).expect("frames stay far below 4 GiB")
}

fn serve(mut conn: UnixStream, reply: &[u8]) {
    let mut buf = Vec::new();
    while read_frame(&mut conn, &mut buf).is_ok() {
        if conn.write_all(reply).is_err() {
            break;
        }
    }
}

fn read_frame(conn: &mut UnixStream, buf: &mut Vec<u8>) -> std::io::Result<()> {
    let mut header = [0u8; 4];
    read_exact(conn, &mut header)?;
    buf.resize(u32::from_le_bytes(header) as usize, 0);
    read_exact(conn, buf)
}

/// `read_exact` that sleeps in [`wait_readable`] rather than in `read`.
fn read_exact(conn: &mut UnixStream, mut buf: &mut [u8]) -> std::io::Result<()> {
    while !buf.is_empty() {
        wait_readable(conn, None)?;
        match conn.read(buf) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => buf = &mut buf[n..],
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Waits until `conn` has data to read (or its peer hung up), at most `timeout`.
///
/// A thread blocked in `read` on a Unix socket is also woken each time its peer consumes what it
/// wrote (the "space to write" wake-up shares the socket's wait queue): once per round trip, for
/// nothing, paid by both sides on cores they share. `poll(POLLIN)` sleeps only for what it asked
/// for, as an event-driven client does.
pub fn wait_readable(conn: &UnixStream, timeout: Option<Duration>) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let timeout_ms = timeout.map_or(-1, |t| i32::try_from(t.as_millis()).unwrap_or(i32::MAX));
    let mut fd = libc::pollfd {
        fd: conn.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: one pollfd we own, for a socket that stays open during the call.
        match unsafe { libc::poll(&mut fd, 1, timeout_ms) } {
            1.. => return Ok(()),
            0 => return Err(std::io::ErrorKind::TimedOut.into()),
            _ => {
                let e = std::io::Error::last_os_error();
                if e.kind() != std::io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
}

/// A client connection that sends requests of a fixed size.
pub struct EchoClient {
    conn: UnixStream,
    request: Vec<u8>,
    buf: Vec<u8>,
}

impl EchoClient {
    pub fn connect(path: &Path, request_len: usize) -> anyhow::Result<EchoClient> {
        let conn = UnixStream::connect(path)
            .with_context(|| format!("cannot connect to {}", path.display()))?;
        let mut request = Vec::with_capacity(4 + request_len);
        request.extend_from_slice(&frame_len(request_len).to_le_bytes());
        request.resize(4 + request_len, b'r');
        Ok(EchoClient {
            conn,
            request,
            buf: Vec::new(),
        })
    }

    /// One round trip.
    pub fn round_trip(&mut self) -> anyhow::Result<()> {
        self.conn.write_all(&self.request)?;
        read_frame(&mut self.conn, &mut self.buf)?;
        Ok(())
    }

    /// `n` timed round trips, in nanoseconds each.
    pub fn timed(&mut self, n: usize) -> anyhow::Result<Vec<u64>> {
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n {
            let start = Instant::now();
            self.round_trip()?;
            samples.push(nanos(start.elapsed()));
        }
        Ok(samples)
    }
}

/// `clients` connections doing `per_client` round trips each at the same time (after `warmup`
/// untimed ones each). Returns every latency and the wall time from the common start to the last
/// client's end.
pub fn concurrent(
    path: &Path,
    request_len: usize,
    clients: usize,
    per_client: usize,
    warmup: usize,
) -> anyhow::Result<(Vec<u64>, Duration)> {
    let barrier = Arc::new(Barrier::new(clients + 1));
    let mut threads = Vec::with_capacity(clients);
    for _ in 0..clients {
        let mut client = EchoClient::connect(path, request_len)?;
        let barrier = barrier.clone();
        threads.push(std::thread::spawn(move || -> anyhow::Result<Vec<u64>> {
            let warm = (0..warmup).try_for_each(|_| client.round_trip());
            barrier.wait();
            warm?;
            client.timed(per_client)
        }));
    }
    barrier.wait();
    let start = Instant::now();
    let mut all = Vec::with_capacity(clients * per_client);
    for t in threads {
        let samples = t
            .join()
            .map_err(|_| anyhow::anyhow!("an echo client thread panicked"))??;
        all.extend(samples);
    }
    Ok((all, start.elapsed()))
}
