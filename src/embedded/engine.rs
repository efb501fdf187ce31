//! The engine: the keyspace and the scripts behind one lock. Every command, transaction and
//! script runs while its caller holds the lock, as if on Redis's single thread.

use std::time::{SystemTime, UNIX_EPOCH};

use super::commands::{self, Call};
use super::lua::Scripting;
use super::resp::Reply;
use super::store::Db;

/// What running a command came to.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Ran {
    /// Its reply.
    Reply(Reply),
    /// Nothing yet: it waits for a stream to change, at most this long in ms (0: forever),
    /// then runs again.
    Blocked(u64),
}

/// The keyspace and the scripts.
#[derive(Debug)]
pub(super) struct Engine {
    pub(super) db: Db,
    scripting: Scripting,
}

/// Now, in ms since the epoch.
pub(super) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Engine {
    pub(super) fn new() -> mlua::Result<Engine> {
        Ok(Engine {
            db: Db::default(),
            scripting: Scripting::new()?,
        })
    }

    /// Runs one command; one that would block says so when `may_block`.
    pub(super) fn execute(&mut self, args: &[Vec<u8>], may_block: bool) -> Ran {
        let mut call = Call {
            db: &mut self.db,
            scripting: Some(&mut self.scripting),
            args,
            now: now_ms(),
            may_block,
            block: None,
        };
        let reply = commands::dispatch(&mut call);
        match (call.block, reply) {
            (Some(timeout), Ok(_)) => Ran::Blocked(timeout),
            (_, Ok(reply)) => Ran::Reply(reply),
            (_, Err(fail)) => Ran::Reply(Reply::Error(fail.0)),
        }
    }

    /// Runs a transaction's commands back to back (`EXEC`); nothing blocks.
    pub(super) fn execute_all(&mut self, queued: &[Vec<Vec<u8>>]) -> Reply {
        Reply::Array(
            queued
                .iter()
                .map(|args| match self.execute(args, false) {
                    Ran::Reply(r) => r,
                    Ran::Blocked(_) => Reply::NilArray,
                })
                .collect(),
        )
    }
}
