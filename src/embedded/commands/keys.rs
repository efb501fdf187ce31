//! Commands on keys whatever their type (`DEL`, `EXISTS`, `EXPIRE`, `TTL`, `TYPE`, `KEYS`,
//! `SCAN`, …)
//! and the server's own (`PING`, `ECHO`, `SELECT`, `TIME`, `INFO`, `COMMAND`, `DBSIZE`,
//! `FLUSHDB`). Commands about the connection itself (`MULTI`, `HELLO`, `CLIENT`, …) are the
//! session's (`session.rs`); they are listed here so scripts are refused them as in Redis.

use std::time::{SystemTime, UNIX_EPOCH};

use super::{Call, Fail, Outcome, Spec, noscript, spec};
use crate::embedded::resp::Reply;
use crate::embedded::{REDIS_VERSION, glob};

pub(super) const SPECS: &[Spec] = &[
    spec("del", -2, del),
    spec("unlink", -2, del),
    spec("exists", -2, exists),
    spec("expire", -3, expire),
    spec("pexpire", -3, expire),
    spec("ttl", 2, ttl),
    spec("pttl", 2, ttl),
    spec("persist", 2, persist),
    spec("type", 2, kind),
    spec("keys", 2, keys),
    spec("scan", -2, scan),
    spec("dbsize", 1, dbsize),
    spec("flushdb", -1, flush),
    spec("flushall", -1, flush),
    spec("ping", -1, ping),
    spec("echo", 2, echo),
    spec("select", 2, select),
    spec("time", 1, time),
    spec("info", -1, info),
    spec("command", -1, command),
    noscript("multi", 1, session_only),
    noscript("exec", 1, session_only),
    noscript("discard", 1, session_only),
    noscript("hello", -1, session_only),
    noscript("client", -2, session_only),
    noscript("quit", -1, session_only),
];

fn session_only(_: &mut Call) -> Outcome {
    Err(Fail::new("ERR This command is only valid on a connection"))
}

fn del(c: &mut Call) -> Outcome {
    let mut n = 0;
    for key in &c.args[1..] {
        n += usize::from(c.db.delete(key, c.now));
    }
    Ok(Reply::count(n))
}

fn exists(c: &mut Call) -> Outcome {
    let mut n = 0;
    for key in &c.args[1..] {
        n += usize::from(c.db.entry(key, c.now).is_some());
    }
    Ok(Reply::count(n))
}

fn expire(c: &mut Call) -> Outcome {
    let name = c.word(0).to_ascii_lowercase();
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for i in 3..c.args.len() {
        match c.word(i).as_str() {
            "NX" => nx = true,
            "XX" => xx = true,
            "GT" => gt = true,
            "LT" => lt = true,
            _ => {
                return Err(Fail::new(format!(
                    "ERR Unsupported option {}",
                    String::from_utf8_lossy(c.arg(i))
                )));
            }
        }
    }
    if nx && (xx || gt || lt) {
        return Err(Fail::new(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if gt && lt {
        return Err(Fail::new(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    let invalid = || Fail::new(format!("ERR invalid expire time in '{name}' command"));
    let amount = c.int(2)?;
    let ms = if name == "expire" {
        amount.checked_mul(1000).ok_or_else(invalid)?
    } else {
        amount
    };
    let now = i64::try_from(c.now).unwrap_or(i64::MAX);
    let when = ms.checked_add(now).ok_or_else(invalid)?;
    let (key, stamp) = (c.args[1].clone(), c.now);
    let Some(entry) = c.db.entry(&key, stamp) else {
        return Ok(Reply::Int(0));
    };
    let current = entry
        .expires_at
        .map(|at| i64::try_from(at).unwrap_or(i64::MAX));
    let refused = (nx && current.is_some())
        || (xx && current.is_none())
        || (gt && current.is_none_or(|cur| when <= cur))
        || (lt && current.is_some_and(|cur| when >= cur));
    if refused {
        return Ok(Reply::Int(0));
    }
    if when <= now {
        c.db.delete(&key, stamp);
    } else {
        entry.expires_at = u64::try_from(when).ok();
    }
    Ok(Reply::Int(1))
}

fn ttl(c: &mut Call) -> Outcome {
    let ms = c.word(0) == "PTTL";
    let now = c.now;
    let key = c.args[1].clone();
    Ok(Reply::Int(match c.db.entry(&key, now) {
        None => -2,
        Some(e) => match e.expires_at {
            None => -1,
            Some(at) => {
                let left = i64::try_from(at.saturating_sub(now)).unwrap_or(i64::MAX);
                if ms { left } else { (left + 500) / 1000 }
            }
        },
    }))
}

fn persist(c: &mut Call) -> Outcome {
    let key = c.args[1].clone();
    let now = c.now;
    Ok(Reply::bool(
        c.db.entry(&key, now)
            .is_some_and(|e| e.expires_at.take().is_some()),
    ))
}

fn kind(c: &mut Call) -> Outcome {
    let key = c.args[1].clone();
    let now = c.now;
    let name =
        c.db.entry(&key, now)
            .map_or("none", |e| e.value.type_name());
    Ok(Reply::Status(name.into()))
}

fn keys(c: &mut Call) -> Outcome {
    let pattern = c.arg(1);
    let found: Vec<Vec<u8>> =
        c.db.live_keys(c.now)
            .filter(|(k, _)| glob::matches(pattern, k))
            .map(|(k, _)| k.clone())
            .collect();
    Ok(Reply::bulks(found))
}

/// `SCAN cursor [MATCH pattern] [COUNT n] [TYPE type]`: the whole keyspace in one page (the
/// next cursor is always `0`), which Redis's contract allows; `COUNT` is only a hint there too.
fn scan(c: &mut Call) -> Outcome {
    if c.int(1)? < 0 {
        return Err(Fail::new("ERR invalid cursor"));
    }
    let (mut pattern, mut kind) = (&b"*"[..], None);
    let mut i = 2;
    while i < c.args.len() {
        match c.word(i).as_str() {
            "MATCH" if i + 1 < c.args.len() => pattern = c.arg(i + 1),
            "COUNT" if i + 1 < c.args.len() => {
                if c.int(i + 1)? < 1 {
                    return Err(Fail::syntax());
                }
            }
            "TYPE" if i + 1 < c.args.len() => kind = Some(c.word(i + 1).to_ascii_lowercase()),
            _ => return Err(Fail::syntax()),
        }
        i += 2;
    }
    let found: Vec<Vec<u8>> = c
        .db
        .live_keys(c.now)
        .filter(|(k, e)| {
            glob::matches(pattern, k) && kind.as_deref().is_none_or(|t| e.value.type_name() == t)
        })
        .map(|(k, _)| k.clone())
        .collect();
    Ok(Reply::Array(vec![
        Reply::Bulk(b"0".to_vec()),
        Reply::bulks(found),
    ]))
}

fn dbsize(c: &mut Call) -> Outcome {
    Ok(Reply::count(c.db.live_keys(c.now).count()))
}

fn flush(c: &mut Call) -> Outcome {
    match c.args.len() {
        1 => {}
        2 if matches!(c.word(1).as_str(), "ASYNC" | "SYNC") => {}
        _ => return Err(Fail::syntax()),
    }
    c.db.clear();
    Ok(Reply::ok())
}

fn ping(c: &mut Call) -> Outcome {
    match c.args.len() {
        1 => Ok(Reply::Status("PONG".into())),
        2 => Ok(Reply::bulk(c.arg(1))),
        _ => Err(Fail::new(
            "ERR wrong number of arguments for 'ping' command",
        )),
    }
}

fn echo(c: &mut Call) -> Outcome {
    Ok(Reply::bulk(c.arg(1)))
}

fn select(c: &mut Call) -> Outcome {
    match c.int(1)? {
        0 => Ok(Reply::ok()),
        _ => Err(Fail::new("ERR DB index is out of range")),
    }
}

fn time(_: &mut Call) -> Outcome {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Ok(Reply::bulks([
        now.as_secs().to_string(),
        now.subsec_micros().to_string(),
    ]))
}

fn info(c: &mut Call) -> Outcome {
    let keys = c.db.live_keys(c.now).count();
    let volatile =
        c.db.live_keys(c.now)
            .filter(|(_, e)| e.expires_at.is_some())
            .count();
    let mut text = format!(
        "# Server\r\nredis_version:{REDIS_VERSION}\r\nredis_mode:standalone\r\n\
         executable:bulkleave (embedded)\r\n\r\n# Keyspace\r\n"
    );
    if keys > 0 {
        text.push_str(&format!("db0:keys={keys},expires={volatile},avg_ttl=0\r\n"));
    }
    Ok(Reply::bulk(text))
}

fn command(c: &mut Call) -> Outcome {
    match c.word(1).as_str() {
        "COUNT" => Ok(Reply::count(super::TABLE.len())),
        _ => Ok(Reply::Array(Vec::new())),
    }
}
