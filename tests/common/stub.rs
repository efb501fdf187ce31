//! A minimal HTTP/1.1 keep-alive server that answers every request with Wasend's success
//! body: fast enough that queue tests and benchmarks measure the queue, not the stub. With a
//! delay it plays a slow provider, and it counts the requests it holds at once (the memory
//! bench checks that the worker really keeps its concurrency in flight).
//! Shared by the tests (`mod common`) and the benches (`#[path]`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

const OK: &[u8] =
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 16\r\n\r\n{\"success\":true}";

/// A running stub: its port and what it has seen.
#[derive(Clone)]
pub struct Stub {
    /// The loopback port it listens on.
    pub port: u16,
    counts: Arc<Counts>,
}

#[derive(Default)]
struct Counts {
    /// Requests read and not yet answered.
    in_flight: AtomicUsize,
    /// The most `in_flight` has been since the last [`Stub::reset_peak`].
    peak: AtomicUsize,
    answered: AtomicU64,
}

impl Stub {
    /// Starts the stub on a free loopback port; it answers each request after `delay`.
    pub async fn start(delay: Duration) -> Stub {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let counts = Arc::new(Counts::default());
        let shared = counts.clone();
        tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    continue;
                };
                tokio::spawn(serve(sock, delay, shared.clone()));
            }
        });
        Stub { port, counts }
    }

    /// Requests being held right now (read, not yet answered).
    pub fn in_flight(&self) -> usize {
        self.counts.in_flight.load(Ordering::Relaxed)
    }

    /// The most requests held at once since the start or the last [`Stub::reset_peak`].
    pub fn peak_in_flight(&self) -> usize {
        self.counts.peak.load(Ordering::Relaxed)
    }

    /// Starts a new peak count.
    pub fn reset_peak(&self) {
        self.counts.peak.store(0, Ordering::Relaxed);
    }

    /// Requests answered so far.
    pub fn answered(&self) -> u64 {
        self.counts.answered.load(Ordering::Relaxed)
    }
}

/// Starts a stub that answers at once; returns its port.
pub async fn fast_wasend_stub() -> u16 {
    Stub::start(Duration::ZERO).await.port
}

async fn serve(mut sock: tokio::net::TcpStream, delay: Duration, counts: Arc<Counts>) {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        // One request: headers up to \r\n\r\n, then content-length bytes of body.
        let end = loop {
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        let len = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        while buf.len() < end + len {
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..end + len);
        let held = counts.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        counts.peak.fetch_max(held, Ordering::Relaxed);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let written = sock.write_all(OK).await;
        counts.in_flight.fetch_sub(1, Ordering::Relaxed);
        if written.is_err() {
            return;
        }
        counts.answered.fetch_add(1, Ordering::Relaxed);
    }
}
