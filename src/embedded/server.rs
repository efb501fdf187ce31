//! The network side: the accept loop and one task per connection, which parses requests,
//! runs them, writes replies (a pipeline's replies in one write) and waits for streams on
//! behalf of a blocked `XREADGROUP`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::engine::{Engine, Ran};
use super::resp::{self, Reply};
use super::session::{Session, Step};

/// What every connection shares.
pub(super) struct Shared {
    engine: Mutex<Engine>,
    /// Woken whenever a stream changes in a way a blocked reader may care about.
    streams: Notify,
    /// Cancelled on shutdown.
    pub(super) stop: CancellationToken,
    next_client: AtomicU64,
}

impl Shared {
    pub(super) fn new(engine: Engine) -> Shared {
        Shared {
            engine: Mutex::new(engine),
            streams: Notify::new(),
            stop: CancellationToken::new(),
            next_client: AtomicU64::new(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Engine> {
        // A command that panicked leaves the data as it was at the panic: keep serving.
        self.engine.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the engine under the lock, then wakes blocked readers if streams changed.
    fn with_engine<T>(&self, f: impl FnOnce(&mut Engine) -> T) -> T {
        let mut engine = self.lock();
        let out = f(&mut engine);
        let wake = engine.db.take_wake();
        drop(engine);
        if wake {
            self.streams.notify_waiters();
        }
        out
    }

    /// Runs one command.
    pub(super) fn execute(&self, args: &[Vec<u8>], may_block: bool) -> Ran {
        self.with_engine(|e| e.execute(args, may_block))
    }

    /// Runs a transaction.
    pub(super) fn execute_all(&self, queued: &[Vec<Vec<u8>>]) -> Reply {
        self.with_engine(|e| e.execute_all(queued))
    }
}

/// Accepts connections on `listener` until `shared.stop`, then waits for them to close.
pub(super) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = shared.stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((socket, _)) => {
                    socket.set_nodelay(true).ok();
                    connections.spawn(connection(socket, shared.clone()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "embedded redis: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

/// Serves one client until it leaves, breaks the protocol, or the server stops.
async fn connection(socket: TcpStream, shared: Arc<Shared>) {
    let (mut rd, mut wr) = socket.into_split();
    let mut session = Session::new(shared.next_client.fetch_add(1, Ordering::Relaxed));
    let mut input: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut output = Vec::with_capacity(16 * 1024);
    loop {
        let mut start = 0;
        let mut close = false;
        while !close {
            let (args, used) = match resp::parse(&input[start..]) {
                Ok(Some(parsed)) => parsed,
                Ok(None) => break,
                Err(e) => {
                    resp::encode(&Reply::Error(format!("ERR {}", e.0)), &mut output);
                    close = true;
                    break;
                }
            };
            start += used;
            if args.is_empty() {
                continue;
            }
            let reply = match session.handle(&shared, &args) {
                Step::Reply(r) => r,
                Step::Close(r) => {
                    close = true;
                    r
                }
                Step::Block(timeout) => {
                    // Replies before this one go out now; the client waits for this one.
                    if wr.write_all(&output).await.is_err() {
                        return;
                    }
                    output.clear();
                    match block(&shared, &args, timeout, &mut rd, &mut input).await {
                        Some(r) => r,
                        None => return,
                    }
                }
            };
            resp::encode(&reply, &mut output);
        }
        input.drain(..start);
        if !output.is_empty() {
            if wr.write_all(&output).await.is_err() {
                return;
            }
            output.clear();
        }
        if close {
            wr.shutdown().await.ok();
            return;
        }
        input.reserve(16 * 1024);
        tokio::select! {
            () = shared.stop.cancelled() => return,
            read = rd.read_buf(&mut input) => match read {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            },
        }
    }
}

/// Waits until the blocked command `args` has a reply: a stream changed and running it again
/// gives one, or `timeout` ms (0: never) passed. Reads what the client sends meanwhile into
/// `input` (handled afterwards, as Redis does). `None` when the client left or the server
/// stops.
async fn block(
    shared: &Shared,
    args: &[Vec<u8>],
    timeout: u64,
    rd: &mut OwnedReadHalf,
    input: &mut Vec<u8>,
) -> Option<Reply> {
    let deadline = (timeout > 0).then(|| Instant::now() + Duration::from_millis(timeout));
    loop {
        let notified = shared.streams.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if let Ran::Reply(reply) = shared.execute(args, true) {
            return Some(reply);
        }
        let expired = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        input.reserve(4096);
        tokio::select! {
            () = &mut notified => {}
            () = expired => return Some(Reply::NilArray),
            () = shared.stop.cancelled() => return None,
            read = rd.read_buf(input) => match read {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            },
        }
    }
}
