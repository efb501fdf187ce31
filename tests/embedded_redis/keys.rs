//! Strings, expiry, generic key commands, hashes, lists, sorted sets and transactions.

use std::time::Duration;

use super::{Pair, Shown};

#[tokio::test]
async fn strings_keys_and_errors() {
    let mut p = Pair::new().await;
    for cmd in [
        &["PING"][..],
        &["PING", "hi"],
        &["ECHO", "x y"],
        &["SELECT", "0"],
        &["GET", "{p}s"],
        &["SET", "{p}s", "v1"],
        &["GET", "{p}s"],
        &["SET", "{p}s", "v2", "NX"],
        &["SET", "{p}s", "v2", "XX", "GET"],
        &["SET", "{p}new", "v", "XX"],
        &["SET", "{p}new", "v", "NX", "GET"],
        &["SET", "{p}s", "v", "NX", "XX"],
        &["SET", "{p}s", "v", "EX", "0"],
        &["SET", "{p}s", "v", "EX", "x"],
        &["SET", "{p}s", "v", "EX", "10", "PX", "10"],
        &["SET", "{p}s", "v", "BOGUS"],
        &["INCR", "{p}s"],
        &["INCR", "{p}n"],
        &["INCRBY", "{p}n", "41"],
        &["DECRBY", "{p}n", "2"],
        &["DECR", "{p}n"],
        &["INCRBY", "{p}n", "9223372036854775807"],
        &["EXISTS", "{p}s", "{p}n", "{p}s", "{p}none"],
        &["TYPE", "{p}s"],
        &["TYPE", "{p}none"],
        &["DEL", "{p}s", "{p}none"],
        &["UNLINK", "{p}n"],
        &["GET"],
        &["SET", "{p}s"],
        &["NOSUCHCOMMAND", "a", "b"],
        &["nosuch"],
        &["SELECT", "x"],
        &["HSET", "{p}h", "f", "v"],
        &["GET", "{p}h"],
        &["SET", "{p}h", "v", "GET"],
        &["INCR", "{p}h"],
    ] {
        p.both(cmd).await;
    }
    for k in ["{p}k1", "{p}k2", "{p}other"] {
        p.both(&["SET", k, "x"]).await;
    }
    p.same(&["KEYS", "{p}k*"], sorted).await;
    assert_eq!(p.same(&["KEYS", "{p}k[12]"], sorted).await.items().len(), 2);
    p.finish().await;
}

/// Array replies whose order Redis does not define, sorted.
fn sorted(s: Shown) -> Shown {
    match s {
        Shown::Array(mut items) => {
            items.sort_by_key(|i| format!("{i:?}"));
            Shown::Array(items)
        }
        other => other,
    }
}

/// A PTTL as "set, and within this whole second" rather than its exact ms.
fn ttl_bucket(s: Shown) -> Shown {
    match s {
        Shown::Int(n) if n > 0 => Shown::Status(format!("{}s", (n + 999) / 1000)),
        other => other,
    }
}

#[tokio::test]
async fn expiry_is_kept_changed_and_enforced() {
    let mut p = Pair::new().await;
    p.both(&["SET", "{p}e", "v", "PX", "150"]).await;
    p.same(&["PTTL", "{p}e"], ttl_bucket).await;
    p.both(&["SET", "{p}k", "v", "EX", "100"]).await;
    p.both(&["TTL", "{p}k"]).await;
    p.both(&["SET", "{p}k", "v2", "KEEPTTL"]).await;
    p.both(&["TTL", "{p}k"]).await;
    for cmd in [
        &["EXPIRE", "{p}k", "50", "GT"][..],
        &["EXPIRE", "{p}k", "500", "GT"],
        &["EXPIRE", "{p}k", "500", "NX"],
        &["EXPIRE", "{p}k", "60", "LT"],
        &["TTL", "{p}k"],
        &["PERSIST", "{p}k"],
        &["TTL", "{p}k"],
        &["EXPIRE", "{p}k", "60", "XX"],
        &["EXPIRE", "{p}k", "60", "GT"],
        &["EXPIRE", "{p}k", "60", "LT"],
        &["TTL", "{p}k"],
        &["EXPIRE", "{p}k", "10", "NX", "XX"],
        &["EXPIRE", "{p}k", "10", "GT", "LT"],
        &["EXPIRE", "{p}k", "10", "FOO"],
        &["EXPIRE", "{p}k", "9223372036854775807"],
        &["EXPIRE", "{p}none", "10"],
        &["TTL", "{p}none"],
        &["SET", "{p}k", "v3"],
        &["TTL", "{p}k"],
        &["EXPIRE", "{p}k", "-1"],
        &["EXISTS", "{p}k"],
        &["HSET", "{p}h", "f", "v"],
        &["PEXPIRE", "{p}h", "100"],
    ] {
        // Whole seconds and counts are exact on both servers: only PTTL needs a bucket.
        p.both(cmd).await;
    }
    tokio::time::sleep(Duration::from_millis(250)).await;
    for cmd in [
        &["GET", "{p}e"][..],
        &["EXISTS", "{p}e", "{p}h"],
        &["TTL", "{p}e"],
        &["HGET", "{p}h", "f"],
        &["SET", "{p}e", "again", "NX"],
    ] {
        p.both(cmd).await;
    }
    p.same(&["KEYS", "{p}*"], sorted).await;
    p.finish().await;
}

#[tokio::test]
async fn hashes() {
    let mut p = Pair::new().await;
    for cmd in [
        &["HSET", "{p}h", "b", "1", "a", "2", "c", "3"][..],
        &["HSET", "{p}h", "a", "20", "d", "4"],
        &["HSET", "{p}h", "odd"],
        &["HSETNX", "{p}h", "a", "x"],
        &["HSETNX", "{p}h", "e", "5"],
        &["HGET", "{p}h", "a"],
        &["HGET", "{p}h", "zz"],
        &["HMGET", "{p}h", "a", "zz", "b"],
        &["HEXISTS", "{p}h", "c"],
        &["HEXISTS", "{p}h", "zz"],
        &["HLEN", "{p}h"],
        &["HGETALL", "{p}h"],
        &["HDEL", "{p}h", "b", "zz", "c"],
        &["HGETALL", "{p}h"],
        &["HKEYS", "{p}h"],
        &["HVALS", "{p}h"],
        &["HINCRBY", "{p}h", "a", "5"],
        &["HINCRBY", "{p}h", "new", "-3"],
        &["HINCRBY", "{p}h", "a", "x"],
        &["HSET", "{p}h", "s", "abc"],
        &["HINCRBY", "{p}h", "s", "1"],
        &["HINCRBY", "{p}h", "a", "9223372036854775807"],
        &["HDEL", "{p}h", "a", "d", "e", "new", "s"],
        &["EXISTS", "{p}h"],
        &["HGETALL", "{p}none"],
        &["HMGET", "{p}none", "a"],
        &["HLEN", "{p}none"],
        &["SET", "{p}str", "x"],
        &["HGET", "{p}str", "a"],
        &["HSET", "{p}str", "a", "b"],
    ] {
        p.both(cmd).await;
    }
    p.finish().await;
}

#[tokio::test]
async fn lists() {
    let mut p = Pair::new().await;
    for cmd in [
        &["RPUSH", "{p}l", "a", "b", "c"][..],
        &["LPUSH", "{p}l", "z", "y"],
        &["LLEN", "{p}l"],
        &["LRANGE", "{p}l", "0", "-1"],
        &["LRANGE", "{p}l", "-2", "100"],
        &["LRANGE", "{p}l", "3", "1"],
        &["LRANGE", "{p}l", "-100", "1"],
        &["LINDEX", "{p}l", "-1"],
        &["LINDEX", "{p}l", "10"],
        &["LPOP", "{p}l"],
        &["RPOP", "{p}l"],
        &["LPOP", "{p}l", "2"],
        &["LPOP", "{p}l", "0"],
        &["LPOP", "{p}l", "-1"],
        &["RPUSH", "{p}l", "1", "2", "3", "4", "5", "6"],
        &["LTRIM", "{p}l", "-4", "-2"],
        &["LRANGE", "{p}l", "0", "-1"],
        &["LTRIM", "{p}l", "5", "10"],
        &["EXISTS", "{p}l"],
        &["LPOP", "{p}none"],
        &["LPOP", "{p}none", "3"],
        &["LRANGE", "{p}none", "0", "-1"],
        &["LTRIM", "{p}none", "0", "1"],
        &["LLEN", "{p}none"],
        &["RPUSH", "{p}l", "x"],
        &["LRANGE", "{p}l", "a", "1"],
        &["SET", "{p}str", "x"],
        &["RPUSH", "{p}str", "a"],
        &["LLEN", "{p}str"],
    ] {
        p.both(cmd).await;
    }
    p.finish().await;
}

#[tokio::test]
async fn sorted_sets() {
    let mut p = Pair::new().await;
    for cmd in [
        &["ZADD", "{p}z", "1", "b", "1", "a", "0.1", "c", "2.5", "d"][..],
        &[
            "ZADD",
            "{p}z",
            "1700000000123.4561",
            "t",
            "-inf",
            "lo",
            "+inf",
            "hi",
        ],
        &["ZADD", "{p}z", "1e400", "x"],
        &["ZADD", "{p}z", "nan", "x"],
        &["ZADD", "{p}z", "1", "x", "2"],
        &["ZADD", "{p}z", "NX", "XX", "1", "a"],
        &["ZADD", "{p}z", "GT", "LT", "1", "a"],
        &["ZADD", "{p}z", "INCR", "1", "a", "2", "b"],
        &["ZADD", "{p}z", "NX", "5", "a", "5", "n"],
        &["ZADD", "{p}z", "XX", "CH", "7", "a", "7", "q"],
        &["ZADD", "{p}z", "GT", "CH", "1", "a", "9", "b"],
        &["ZADD", "{p}z", "LT", "CH", "0", "a", "0", "q"],
        &["ZADD", "{p}z", "INCR", "2.5", "a"],
        &["ZADD", "{p}z", "XX", "INCR", "1", "nope"],
        &["ZADD", "{p}z", "GT", "INCR", "-1", "a"],
        &["ZINCRBY", "{p}z", "0.2", "c"],
        &["ZSCORE", "{p}z", "c"],
        &["ZSCORE", "{p}z", "t"],
        &["ZSCORE", "{p}z", "nope"],
        &["ZCARD", "{p}z"],
        &["ZCOUNT", "{p}z", "-inf", "+inf"],
        &["ZCOUNT", "{p}z", "(1", "2.5"],
        &["ZCOUNT", "{p}z", "1", "(2.5"],
        &["ZCOUNT", "{p}z", "x", "1"],
        &["ZRANGE", "{p}z", "0", "-1"],
        &["ZRANGE", "{p}z", "0", "-1", "WITHSCORES"],
        &["ZRANGE", "{p}z", "-3", "-2", "REV", "WITHSCORES"],
        &["ZRANGE", "{p}z", "0", "0", "WITHSCORES"],
        &["ZRANGE", "{p}z", "1", "(3", "BYSCORE", "WITHSCORES"],
        &[
            "ZRANGE", "{p}z", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "1", "3",
        ],
        &["ZRANGE", "{p}z", "0", "10", "LIMIT", "0", "1"],
        &["ZRANGE", "{p}z", "0", "10", "BYSCORE", "LIMIT", "-1", "2"],
        &["ZRANGE", "{p}z", "0", "-1", "BOGUS"],
        &["ZREVRANGE", "{p}z", "0", "2", "WITHSCORES"],
        &["ZRANGEBYSCORE", "{p}z", "-inf", "2", "LIMIT", "0", "2"],
        &[
            "ZRANGEBYSCORE",
            "{p}z",
            "-inf",
            "2",
            "WITHSCORES",
            "LIMIT",
            "1",
            "-1",
        ],
        &["ZRANGEBYSCORE", "{p}z", "(0.1", "(1"],
        &["ZREVRANGEBYSCORE", "{p}z", "+inf", "(1", "WITHSCORES"],
        &["ZREM", "{p}z", "a", "nope", "b"],
        &["ZREMRANGEBYSCORE", "{p}z", "-inf", "(2.5"],
        &["ZRANGE", "{p}z", "0", "-1", "WITHSCORES"],
        &["ZREMRANGEBYSCORE", "{p}z", "-inf", "+inf"],
        &["EXISTS", "{p}z"],
        &["ZRANGE", "{p}none", "0", "-1"],
        &["ZCARD", "{p}none"],
        &["ZSCORE", "{p}none", "a"],
        &["SET", "{p}str", "x"],
        &["ZADD", "{p}str", "1", "a"],
        &["ZRANGE", "{p}str", "0", "-1"],
    ] {
        p.both(cmd).await;
    }
    p.finish().await;
}

#[tokio::test]
async fn transactions_run_queued_commands_together() {
    let mut p = Pair::new().await;
    let keys = p.expand(&["{p}a", "{p}h"]);
    let mut results = Vec::new();
    for conn in [&mut p.real, &mut p.emb] {
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("SET")
            .arg(&keys[0])
            .arg("1")
            .cmd("INCR")
            .arg(&keys[0])
            .cmd("HSET")
            .arg(&keys[0])
            .arg("f")
            .arg("v")
            .cmd("HSET")
            .arg(&keys[1])
            .arg("f")
            .arg("v");
        let got: redis::RedisResult<redis::Value> = pipe.query_async(conn).await;
        results.push(format!("{got:?}"));
    }
    assert_eq!(results[1], results[0]);
    for cmd in [
        &["EXEC"][..],
        &["DISCARD"],
        &["GET", "{p}a"],
        &["HGETALL", "{p}h"],
    ] {
        p.both(cmd).await;
    }
    p.finish().await;
}
