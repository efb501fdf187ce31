//! Differential tests of the embedded Redis ([`bulkleave::embedded::EmbeddedRedis`]): each
//! test runs the same commands against the real Redis (`BULKLEAVE_TEST_REDIS_URL`, default
//! `redis://127.0.0.1:6379`) and against an embedded server, and asserts identical replies
//! (error strings included). Only what legitimately differs is normalised: stream ids made from
//! the clock, idle times, remaining TTLs. Keys live under a prefix of the test's own and are
//! unlinked at the end.
//!
//! Families: [`keys`] (strings, expiry, keys, hashes, lists, sorted sets, transactions),
//! [`streams`] (entries, consumer groups, pending entries, claims, blocking reads),
//! [`scripts`] (`EVAL`/`EVALSHA`, Lua conversions and errors, `cjson`) and [`queue_scripts`]
//! (bulkleave's own queue scripts through a whole job's life). [`in_process`] runs the
//! production queue on an embedded server started in the test's own process.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

#[path = "embedded_redis/in_process.rs"]
mod in_process;
#[path = "embedded_redis/keys.rs"]
mod keys;
#[path = "embedded_redis/queue_scripts.rs"]
mod queue_scripts;
#[path = "embedded_redis/scripts.rs"]
mod scripts;
#[path = "embedded_redis/streams.rs"]
mod streams;

use std::time::Duration;

use bulkleave::embedded::EmbeddedRedis;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, Value};

/// A reply, comparable across servers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Shown {
    Nil,
    Int(i64),
    Bulk(String),
    Status(String),
    /// The whole error line, code included (`ERR syntax error`).
    Error(String),
    Array(Vec<Shown>),
    Other(String),
}

impl Shown {
    pub(crate) fn bulk(s: &str) -> Shown {
        Shown::Bulk(s.to_owned())
    }

    /// The elements of an array reply.
    pub(crate) fn items(&self) -> &[Shown] {
        match self {
            Shown::Array(items) => items,
            other => panic!("not an array: {other:?}"),
        }
    }

    /// The text of a bulk reply.
    pub(crate) fn text(&self) -> &str {
        match self {
            Shown::Bulk(s) => s,
            other => panic!("not a bulk string: {other:?}"),
        }
    }
}

fn show(v: Value) -> Shown {
    match v {
        Value::Nil => Shown::Nil,
        Value::Int(i) => Shown::Int(i),
        Value::BulkString(b) => Shown::Bulk(String::from_utf8_lossy(&b).into_owned()),
        Value::Array(items) => Shown::Array(items.into_iter().map(show).collect()),
        Value::SimpleString(s) => Shown::Status(s),
        Value::Okay => Shown::Status("OK".into()),
        Value::ServerError(e) => Shown::Error(match e.details() {
            Some(d) => format!("{} {d}", e.code()),
            None => e.code().to_owned(),
        }),
        other => Shown::Other(format!("{other:?}")),
    }
}

fn show_error(e: &redis::RedisError) -> Shown {
    Shown::Error(match (e.code(), e.detail()) {
        (Some(code), Some(detail)) => format!("{code} {detail}"),
        (Some(code), None) => code.to_owned(),
        _ => e.to_string(),
    })
}

/// Replaces stream ids made from the clock (`<13 digits>-<seq>`) with `<id1>`, `<id2>`, … in
/// the order they first appear in the reply: the same entry keeps its name, two entries
/// differ, and their order shows.
pub(crate) fn clock_ids(s: Shown) -> Shown {
    fn walk(s: Shown, seen: &mut Vec<String>) -> Shown {
        match s {
            Shown::Bulk(b) if is_clock_id(&b) => {
                let n = match seen.iter().position(|x| *x == b) {
                    Some(i) => i + 1,
                    None => {
                        seen.push(b);
                        seen.len()
                    }
                };
                Shown::bulk(&format!("<id{n}>"))
            }
            Shown::Array(items) => Shown::Array(items.into_iter().map(|i| walk(i, seen)).collect()),
            other => other,
        }
    }
    walk(s, &mut Vec::new())
}

pub(crate) fn is_clock_id(s: &str) -> bool {
    s.split_once('-').is_some_and(|(ms, seq)| {
        ms.len() >= 12
            && ms.bytes().all(|c| c.is_ascii_digit())
            && !seq.is_empty()
            && seq.bytes().all(|c| c.is_ascii_digit())
    })
}

/// The real Redis's URL.
pub(crate) fn real_url() -> String {
    std::env::var("BULKLEAVE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A connection with no response timeout (blocking reads wait longer than the default).
pub(crate) async fn connect(client: &Client) -> MultiplexedConnection {
    let config = AsyncConnectionConfig::new()
        .set_response_timeout(None)
        .set_connection_timeout(Some(Duration::from_secs(5)));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .expect("redis reachable")
}

/// Runs `args` on `conn`.
pub(crate) async fn run(conn: &mut MultiplexedConnection, args: &[String]) -> Shown {
    let mut cmd = redis::cmd(&args[0]);
    for a in &args[1..] {
        cmd.arg(a.as_bytes());
    }
    match cmd.query_async::<Value>(conn).await {
        Ok(v) => show(v),
        Err(e) => show_error(&e),
    }
}

/// The real Redis and an embedded one, side by side, with a key prefix of the test's own.
pub(crate) struct Pair {
    /// `test-<uuid>:`; `{p}` in arguments stands for it.
    pub(crate) prefix: String,
    pub(crate) real_client: Client,
    pub(crate) emb_client: Client,
    pub(crate) real: MultiplexedConnection,
    pub(crate) emb: MultiplexedConnection,
    server: EmbeddedRedis,
}

impl Pair {
    pub(crate) async fn new() -> Pair {
        let server = EmbeddedRedis::start().await.expect("embedded redis starts");
        let real_client = Client::open(real_url()).unwrap();
        let emb_client = Client::open(server.url()).unwrap();
        Pair {
            prefix: format!("test-{}:", uuid::Uuid::now_v7().simple()),
            real: connect(&real_client).await,
            emb: connect(&emb_client).await,
            real_client,
            emb_client,
            server,
        }
    }

    /// `args` with `{p}` replaced by the prefix.
    pub(crate) fn expand(&self, args: &[&str]) -> Vec<String> {
        args.iter()
            .map(|a| a.replace("{p}", &self.prefix))
            .collect()
    }

    /// Runs `args` on both servers; returns both replies.
    pub(crate) async fn each(&mut self, real: &[String], emb: &[String]) -> (Shown, Shown) {
        (
            run(&mut self.real, real).await,
            run(&mut self.emb, emb).await,
        )
    }

    /// Runs `args` on both, asserts the replies (after `norm`) are equal, returns it.
    pub(crate) async fn same(&mut self, args: &[&str], norm: impl Fn(Shown) -> Shown) -> Shown {
        let args = self.expand(args);
        let (real, emb) = self.each(&args, &args).await;
        let (real, emb) = (norm(real), norm(emb));
        assert_eq!(emb, real, "embedded (left) vs real (right) for {args:?}");
        real
    }

    /// Runs `args` on both and asserts identical replies.
    pub(crate) async fn both(&mut self, args: &[&str]) -> Shown {
        self.same(args, |s| s).await
    }

    /// Unlinks the test's keys on the real Redis and stops the embedded one.
    pub(crate) async fn finish(mut self) {
        let pattern = format!("{}*", self.prefix);
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(&pattern)
            .query_async(&mut self.real)
            .await
            .unwrap_or_default();
        for chunk in keys.chunks(500) {
            let _: redis::RedisResult<i64> = redis::cmd("UNLINK")
                .arg(chunk)
                .query_async(&mut self.real)
                .await;
        }
        self.server.shutdown().await;
    }
}
