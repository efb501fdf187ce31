//! Handing entries to consumers: `XREADGROUP` (new entries with `>`, a consumer's history
//! with an id, `COUNT`, `NOACK`, `BLOCK`), `XCLAIM` (`IDLE`, `TIME`, `RETRYCOUNT`, `FORCE`,
//! `JUSTID`, `LASTID`) and `XAUTOCLAIM` (`COUNT`, `JUSTID`; replies with the deleted ids).
//!
//! A read that would block sets [`Call::block`]; the connection waits for a stream to
//! change (or the timeout) and runs the command again, which is what Redis does in effect.

use super::groups::no_group;
use super::streams::{entry_reply, range_start, strict_id};
use super::{Call, Fail, Outcome, Spec, spec};
use crate::embedded::number;
use crate::embedded::resp::Reply;
use crate::embedded::stream::{Stream, StreamId};

pub(super) const SPECS: &[Spec] = &[
    spec("xreadgroup", -7, xreadgroup),
    spec("xclaim", -6, xclaim),
    spec("xautoclaim", -6, xautoclaim),
];

struct Read {
    group: Vec<u8>,
    consumer: Vec<u8>,
    count: usize,
    block: Option<u64>,
    noack: bool,
    streams_at: usize,
}

fn read_args(c: &Call) -> Result<Read, Fail> {
    let mut r = Read {
        group: Vec::new(),
        consumer: Vec::new(),
        count: 0,
        block: None,
        noack: false,
        streams_at: 0,
    };
    let mut has_group = false;
    let mut i = 1;
    while i < c.args.len() {
        let more = c.args.len() - 1 - i;
        match c.word(i).as_str() {
            "BLOCK" if more > 0 => {
                i += 1;
                let t = number::parse_i64(c.arg(i))
                    .ok_or_else(|| Fail::new("ERR timeout is not an integer or out of range"))?;
                r.block = Some(u64::try_from(t).map_err(|_| Fail::new("ERR timeout is negative"))?);
            }
            "COUNT" if more > 0 => {
                i += 1;
                r.count = usize::try_from(c.int(i)?).unwrap_or(0);
            }
            "STREAMS" if more > 0 => {
                r.streams_at = i + 1;
                break;
            }
            "GROUP" if more >= 2 => {
                r.group = c.args[i + 1].clone();
                r.consumer = c.args[i + 2].clone();
                has_group = true;
                i += 2;
            }
            "NOACK" => r.noack = true,
            _ => return Err(Fail::syntax()),
        }
        i += 1;
    }
    if r.streams_at == 0 {
        return Err(Fail::syntax());
    }
    if (c.args.len() - r.streams_at) % 2 == 1 {
        return Err(Fail::new(
            "ERR Unbalanced 'xreadgroup' list of streams: for each stream key an ID or '>' must be specified.",
        ));
    }
    if !has_group {
        return Err(Fail::new("ERR Missing GROUP option for XREADGROUP"));
    }
    Ok(r)
}

fn xreadgroup(c: &mut Call) -> Outcome {
    let r = read_args(c)?;
    let n = (c.args.len() - r.streams_at) / 2;
    // Check every stream and id before serving any.
    let mut wanted = Vec::with_capacity(n);
    for k in 0..n {
        let (key_at, id_at) = (r.streams_at + k, r.streams_at + n + k);
        let key = c.args[key_at].clone();
        let found = c
            .read::<Stream>(key_at)?
            .is_some_and(|s| s.groups.contains_key(&r.group));
        if !found {
            return Err(Fail::new(format!(
                "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                String::from_utf8_lossy(&key),
                String::from_utf8_lossy(&r.group)
            )));
        }
        let id = match c.arg(id_at) {
            b">" => None,
            b"$" => {
                return Err(Fail::new(
                    "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
                ));
            }
            other => Some(strict_id(other)?),
        };
        wanted.push((key_at, id));
    }
    let (now, limit) = (c.now, if r.count == 0 { usize::MAX } else { r.count });
    let mut served = Vec::new();
    for (key_at, id) in wanted {
        let key = c.args[key_at].clone();
        let Some(stream) = c.read::<Stream>(key_at)? else {
            continue;
        };
        let Some(group) = stream.groups.get_mut(&r.group) else {
            continue;
        };
        let entries = match id {
            None => {
                let newest = stream.entries.last_key_value().map(|(id, _)| *id);
                if newest.is_none_or(|top| top <= group.last_delivered) {
                    continue;
                }
                group.consumer(&r.consumer, now);
                let from = group.last_delivered.next().unwrap_or(StreamId::MAX);
                let mut out = Vec::new();
                for (id, fields) in stream.entries.range(from..).take(limit) {
                    group.last_delivered = group.last_delivered.max(*id);
                    if !r.noack {
                        group.deliver(*id, &r.consumer, now);
                    }
                    out.push(entry_reply(*id, fields));
                }
                out
            }
            Some(after) => {
                let consumer = group.consumer(&r.consumer, now);
                let ids: Vec<StreamId> = match after.next() {
                    Some(from) => consumer
                        .pending
                        .range(from..)
                        .take(limit)
                        .copied()
                        .collect(),
                    None => Vec::new(),
                };
                let mut out = Vec::new();
                for id in ids {
                    match stream.entries.get(&id) {
                        Some(fields) => {
                            if let Some(p) = group.pel.get_mut(&id) {
                                p.delivered_at = now;
                                p.deliveries += 1;
                            }
                            out.push(entry_reply(id, fields));
                        }
                        None => {
                            out.push(Reply::Array(vec![Reply::Bulk(id.bytes()), Reply::NilArray]))
                        }
                    }
                }
                out
            }
        };
        served.push(Reply::Array(vec![Reply::Bulk(key), Reply::Array(entries)]));
    }
    if served.is_empty() {
        if let (Some(timeout), true) = (r.block, c.may_block) {
            c.block = Some(timeout);
        }
        return Ok(Reply::NilArray);
    }
    Ok(Reply::Array(served))
}

fn min_idle(c: &Call, command: &str) -> Result<u64, Fail> {
    let n = c.int_or(4, &format!("Invalid min-idle-time argument for {command}"))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

fn xclaim(c: &mut Call) -> Outcome {
    let (key, name) = (c.args[1].clone(), c.args[2].clone());
    let exists = c
        .read::<Stream>(1)?
        .is_some_and(|s| s.groups.contains_key(&name));
    if !exists {
        return Err(no_group(&key, &name));
    }
    let min_idle = min_idle(c, "XCLAIM")?;
    let now = c.now;
    let mut j = 5;
    let mut ids = Vec::new();
    while let Some(id) = c.args.get(j).and_then(|a| strict_id(a).ok()) {
        ids.push(id);
        j += 1;
    }
    let (mut force, mut justid, mut retry, mut delivered_at, mut last_id) =
        (false, false, None, None::<i64>, StreamId::MIN);
    while j < c.args.len() {
        let more = j + 1 < c.args.len();
        let word = c.word(j);
        match word.as_str() {
            "FORCE" => force = true,
            "JUSTID" => justid = true,
            "IDLE" | "TIME" | "RETRYCOUNT" if more => {
                j += 1;
                let v = c.int_or(j, &format!("Invalid {word} option argument for XCLAIM"))?;
                match word.as_str() {
                    "IDLE" => delivered_at = Some(i64::try_from(now).unwrap_or(i64::MAX) - v),
                    "TIME" => delivered_at = Some(v),
                    _ => retry = Some(u64::try_from(v).unwrap_or(0)),
                }
            }
            "LASTID" if more => {
                j += 1;
                last_id = strict_id(c.arg(j))?;
            }
            _ => {
                return Err(Fail::new(format!(
                    "ERR Unrecognized XCLAIM option '{}'",
                    String::from_utf8_lossy(c.arg(j))
                )));
            }
        }
        j += 1;
    }
    let delivered_at = delivered_at
        .and_then(|t| u64::try_from(t).ok())
        .filter(|&t| t <= now)
        .unwrap_or(now);
    let consumer = c.args[3].clone();
    let Some(stream) = c.read::<Stream>(1)? else {
        return Err(no_group(&key, &name));
    };
    let Some(group) = stream.groups.get_mut(&name) else {
        return Err(no_group(&key, &name));
    };
    let mut out = Vec::new();
    for id in ids {
        if !stream.entries.contains_key(&id) {
            group.ack(id);
            continue;
        }
        let forced = force && !group.pel.contains_key(&id);
        if forced {
            group.deliver(id, &consumer, now);
        } else if let Some(p) = group.pel.get(&id) {
            if min_idle > 0 && now.saturating_sub(p.delivered_at) < min_idle {
                continue;
            }
        } else {
            continue;
        }
        group.consumer(&consumer, now);
        let Some(p) = group.assign(id, &consumer) else {
            continue;
        };
        p.delivered_at = delivered_at;
        match retry {
            Some(n) => p.deliveries = n,
            None if !justid => p.deliveries += 1,
            None => {}
        }
        out.push(if justid {
            Reply::Bulk(id.bytes())
        } else {
            stream
                .entries
                .get(&id)
                .map_or(Reply::NilArray, |f| entry_reply(id, f))
        });
    }
    if last_id > group.last_delivered {
        group.last_delivered = last_id;
    }
    Ok(Reply::Array(out))
}

fn xautoclaim(c: &mut Call) -> Outcome {
    let (key, name) = (c.args[1].clone(), c.args[2].clone());
    let min_idle = min_idle(c, "XAUTOCLAIM")?;
    let start = range_start(c.arg(5))?;
    let (mut count, mut justid) = (100usize, false);
    let mut j = 6;
    while j < c.args.len() {
        match c.word(j).as_str() {
            "COUNT" if j + 1 < c.args.len() => {
                j += 1;
                let n = c.int_or(j, "COUNT must be > 0")?;
                count = usize::try_from(n)
                    .ok()
                    .filter(|&n| n >= 1 && n <= (i64::MAX / 10) as usize)
                    .ok_or_else(|| Fail::new("ERR COUNT must be > 0"))?;
            }
            "JUSTID" => justid = true,
            _ => return Err(Fail::syntax()),
        }
        j += 1;
    }
    let (consumer, now) = (c.args[3].clone(), c.now);
    let mut attempts = count * 10;
    let Some(stream) = c.read::<Stream>(1)? else {
        return Err(no_group(&key, &name));
    };
    let group = stream
        .groups
        .get_mut(&name)
        .ok_or_else(|| no_group(&key, &name))?;
    group.consumer(&consumer, now);
    let candidates: Vec<StreamId> = group
        .pel
        .range(start..)
        .map(|(id, _)| *id)
        .take(attempts + 1)
        .collect();
    let mut cursor = StreamId::MIN;
    let (mut claimed, mut deleted) = (Vec::new(), Vec::new());
    for id in &candidates {
        if attempts == 0 || count == 0 {
            cursor = *id;
            break;
        }
        attempts -= 1;
        if !stream.entries.contains_key(id) {
            group.ack(*id);
            deleted.push(Reply::Bulk(id.bytes()));
            count -= 1;
            continue;
        }
        let idle = group
            .pel
            .get(id)
            .map_or(0, |p| now.saturating_sub(p.delivered_at));
        if min_idle > 0 && idle < min_idle {
            continue;
        }
        if let Some(p) = group.assign(*id, &consumer) {
            p.delivered_at = now;
            if !justid {
                p.deliveries += 1;
            }
        }
        claimed.push(if justid {
            Reply::Bulk(id.bytes())
        } else {
            stream
                .entries
                .get(id)
                .map_or(Reply::NilArray, |f| entry_reply(*id, f))
        });
        count -= 1;
    }
    Ok(Reply::Array(vec![
        Reply::Bulk(cursor.bytes()),
        Reply::Array(claimed),
        Reply::Array(deleted),
    ]))
}
