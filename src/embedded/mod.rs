//! An embedded, in-process Redis-compatible server, so the production [`crate::queue::Queue`]
//! and its Lua scripts run unchanged with no Redis installed (`bulkleave demo`, examples,
//! tests).
//!
//! [`EmbeddedRedis::start`] binds `127.0.0.1` on a free port and serves RESP on a tokio task;
//! any Redis client connects to [`EmbeddedRedis::url`]. Data lives in memory only. Every
//! command, transaction and script runs under one lock, atomically, as on Redis's single
//! thread; nothing holds the lock across an `.await`.
//!
//! It speaks, as Redis 7.0 does (replies, error strings, stream id rules), what bulkleave uses
//! and the neighbouring options of the same commands, so `redis-cli` and the differential
//! tests can use it too: strings with expiry, hashes, lists, sorted sets, streams with
//! consumer groups (pending entries, `XREADGROUP … BLOCK` that really waits, `XCLAIM`,
//! `XAUTOCLAIM`, `XPENDING`), `KEYS` and `SCAN` (one page), Lua scripting with
//! `redis.call`/`pcall`, `cjson`, `EVALSHA`/`SCRIPT LOAD`, and `MULTI`/`EXEC`. Any other
//! command answers `ERR unknown command`.
//!
//! # Layout
//!
//! | file | concern |
//! |---|---|
//! | `server.rs` | accept loop, one task per connection, blocked reads |
//! | `session.rs` | a connection's state: `MULTI`/`EXEC`, `HELLO`, `CLIENT` |
//! | `resp.rs` | the wire protocol: parsing requests, encoding replies |
//! | `engine.rs` | the keyspace and the scripts behind the lock |
//! | `store.rs` | the keyspace: typed values, lazy expiry |
//! | `stream.rs`, `zset.rs` | the stream and sorted-set structures |
//! | `commands/` | the command table and one file per family |
//! | `lua/` | scripting: the Lua state, conversions, `cjson` |
//! | `number.rs`, `glob.rs` | Redis's number formats and `KEYS` patterns |
//!
//! # Known differences from Redis
//!
//! - RESP2 only: `HELLO 3` is refused with `NOPROTO` (clients then speak RESP2).
//! - Database 0 only (`SELECT` of another answers `ERR DB index is out of range`).
//! - `MAXLEN ~`/`MINID ~` trim whole nodes of 100 entries; Redis's nodes also end at 4 KiB,
//!   so an approximate trim may keep a different (still allowed) number of entries.
//! - Expired keys are removed when touched, never in the background.
//! - Scripts cannot be killed and have no time limit; Lua has no `bit`, `struct` or
//!   `cmsgpack` library; `BYLEX`, `XREAD`, `XINFO`, pub/sub, `WATCH` are not implemented.

mod commands;
mod engine;
mod glob;
mod lua;
mod number;
mod resp;
mod server;
mod session;
mod store;
mod stream;
mod zset;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use self::server::Shared;

/// The Redis version the server answers as (`INFO`, `HELLO`).
const REDIS_VERSION: &str = "7.0.15";

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The Lua state for scripts could not be set up.
    #[error("cannot set up Lua: {0}")]
    Lua(#[from] mlua::Error),
}

/// The module's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A running embedded Redis. Dropping it stops the server too (without waiting).
#[derive(Debug)]
pub struct EmbeddedRedis {
    addr: SocketAddr,
    stop: tokio_util::sync::CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl EmbeddedRedis {
    /// Binds `127.0.0.1:0` and serves RESP on a tokio task.
    pub async fn start() -> Result<EmbeddedRedis> {
        Self::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Binds `addr` (port 0: a free one) and serves RESP on a tokio task.
    pub async fn bind(addr: SocketAddr) -> Result<EmbeddedRedis> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| Error::Bind { addr, source })?;
        let shared = Arc::new(Shared::new(engine::Engine::new()?));
        let stop = shared.stop.clone();
        let task = tokio::spawn(server::serve(listener, shared));
        Ok(EmbeddedRedis {
            addr,
            stop,
            task: Some(task),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// Stops accepting, closes every connection, and waits until they are closed.
    pub async fn shutdown(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take()
            && let Err(e) = task.await
        {
            tracing::warn!(error = %e, "embedded redis: server task failed");
        }
    }
}

impl Drop for EmbeddedRedis {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
