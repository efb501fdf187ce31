//! Consumer-group administration and inspection: `XGROUP` (`CREATE` with `MKSTREAM`,
//! `SETID`, `DESTROY`, `CREATECONSUMER`, `DELCONSUMER`), `XACK`, `XPENDING` (summary and
//! extended form with `IDLE` and a consumer). Reading and claiming are in `delivery.rs`.

use super::streams::{range_end, range_start, strict_id};
use super::{Call, Fail, Outcome, Spec, spec, subcommand};
use crate::embedded::resp::Reply;
use crate::embedded::stream::{Group, Stream, StreamId};

pub(super) const SPECS: &[Spec] = &[
    spec("xgroup", -2, xgroup),
    spec("xack", -4, xack),
    spec("xpending", -3, xpending),
];

/// `NOGROUP` as `XPENDING`, `XCLAIM` and `XAUTOCLAIM` word it.
pub(super) fn no_group(key: &[u8], group: &[u8]) -> Fail {
    Fail::new(format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(group)
    ))
}

/// The group argument `g` of the stream at key argument `k`, or `NOGROUP`.
pub(super) fn group_of<'c>(c: &'c mut Call, k: usize, g: usize) -> Result<&'c mut Group, Fail> {
    let (key, name) = (c.args[k].clone(), c.args[g].clone());
    c.read::<Stream>(k)?
        .and_then(|s| s.groups.get_mut(&name))
        .ok_or_else(|| no_group(&key, &name))
}

fn xgroup(c: &mut Call) -> Outcome {
    let sub = subcommand(
        c,
        "xgroup",
        &[
            ("create", -5),
            ("setid", -5),
            ("destroy", 4),
            ("createconsumer", 5),
            ("delconsumer", 5),
            ("help", 2),
        ],
    )?;
    if sub == "help" {
        return Ok(Reply::bulks([
            "XGROUP <subcommand> [<arg> ...]. Subcommands are:",
        ]));
    }
    let syntax_msg = format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try XGROUP HELP.",
        String::from_utf8_lossy(c.arg(1))
    );
    let syntax = || Fail::new(syntax_msg.clone());
    let mut mkstream = false;
    if sub == "create" || sub == "setid" {
        let mut i = 5;
        while i < c.args.len() {
            match c.word(i).as_str() {
                "MKSTREAM" if sub == "create" => {
                    mkstream = true;
                    i += 1;
                }
                "ENTRIESREAD" if i + 1 < c.args.len() => {
                    let n = c.int(i + 1)?;
                    if n < -1 {
                        return Err(Fail::new(
                            "ERR value for ENTRIESREAD must be positive or -1",
                        ));
                    }
                    i += 2;
                }
                _ => return Err(syntax()),
            }
        }
    }
    let (key, name) = (c.args[2].clone(), c.args[3].clone());
    let exists = c.read::<Stream>(2)?.is_some();
    if !(exists || (sub == "create" && mkstream)) {
        return Err(Fail::new(
            "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
        ));
    }
    let needs_group = matches!(sub, "setid" | "createconsumer" | "delconsumer");
    if needs_group
        && c.read::<Stream>(2)?
            .is_some_and(|s| !s.groups.contains_key(&name))
    {
        return Err(Fail::new(format!(
            "NOGROUP No such consumer group '{}' for key name '{}'",
            String::from_utf8_lossy(&name),
            String::from_utf8_lossy(&key)
        )));
    }
    match sub {
        "create" if c.args.len() <= 8 => {
            let id_arg = c.args[4].clone();
            let at = c.read::<Stream>(2)?.map_or(StreamId::MIN, |s| s.last_id);
            let id = if id_arg == b"$" {
                at
            } else {
                strict_id(&id_arg)?
            };
            let stream = c.write::<Stream>(2)?;
            if stream.groups.contains_key(&name) {
                return Err(Fail::new("BUSYGROUP Consumer Group name already exists"));
            }
            stream.groups.insert(
                name,
                Group {
                    last_delivered: id,
                    ..Group::default()
                },
            );
            Ok(Reply::ok())
        }
        "setid" if c.args.len() == 5 || c.args.len() == 7 => {
            let id_arg = c.args[4].clone();
            let stream = c.write::<Stream>(2)?;
            let id = if id_arg == b"$" {
                stream.last_id
            } else {
                strict_id(&id_arg)?
            };
            if let Some(g) = stream.groups.get_mut(&name) {
                g.last_delivered = id;
            }
            c.db.signal_streams();
            Ok(Reply::ok())
        }
        "destroy" => {
            let gone = c.write::<Stream>(2)?.groups.remove(&name).is_some();
            c.db.signal_streams();
            Ok(Reply::bool(gone))
        }
        "createconsumer" => {
            let (consumer, now) = (c.args[4].clone(), c.now);
            let group = group_of(c, 2, 3)?;
            let new = !group.consumers.contains_key(&consumer);
            group.consumer(&consumer, now);
            Ok(Reply::bool(new))
        }
        "delconsumer" => {
            let consumer = c.args[4].clone();
            let group = group_of(c, 2, 3)?;
            let Some(gone) = group.consumers.remove(&consumer) else {
                return Ok(Reply::Int(0));
            };
            for id in &gone.pending {
                group.pel.remove(id);
            }
            Ok(Reply::count(gone.pending.len()))
        }
        _ => Err(syntax()),
    }
}

fn xack(c: &mut Call) -> Outcome {
    let name = c.args[2].clone();
    let has_group = c
        .read::<Stream>(1)?
        .is_some_and(|s| s.groups.contains_key(&name));
    if !has_group {
        return Ok(Reply::Int(0));
    }
    let ids = c.args[3..]
        .iter()
        .map(|a| strict_id(a))
        .collect::<Result<Vec<_>, _>>()?;
    let group = group_of(c, 1, 2)?;
    Ok(Reply::count(
        ids.into_iter().filter(|id| group.ack(*id)).count(),
    ))
}

/// The extended form's arguments.
struct Extended {
    min_idle: i64,
    start: StreamId,
    end: StreamId,
    count: usize,
    consumer: Option<Vec<u8>>,
}

fn extended(c: &Call) -> Result<Option<Extended>, Fail> {
    let argc = c.args.len();
    if argc != 3 && !(6..=9).contains(&argc) {
        return Err(Fail::syntax());
    }
    if argc == 3 {
        return Ok(None);
    }
    let (mut at, mut min_idle) = (3, 0);
    if argc >= 8 && c.word(3) == "IDLE" {
        min_idle = c.int(4)?;
        at = 5;
    }
    let start = range_start(c.arg(at))?;
    let end = range_end(c.arg(at + 1))?;
    let count = usize::try_from(c.int(at + 2)?).unwrap_or(0);
    let consumer = match argc - at {
        3 => None,
        4 => Some(c.args[at + 3].clone()),
        _ => return Err(Fail::syntax()),
    };
    Ok(Some(Extended {
        min_idle,
        start,
        end,
        count,
        consumer,
    }))
}

fn xpending(c: &mut Call) -> Outcome {
    let form = extended(c)?;
    let now = c.now;
    let group = group_of(c, 1, 2)?;
    let Some(x) = form else {
        let (Some((first, _)), Some((last, _))) =
            (group.pel.first_key_value(), group.pel.last_key_value())
        else {
            return Ok(Reply::Array(vec![
                Reply::Int(0),
                Reply::Nil,
                Reply::Nil,
                Reply::NilArray,
            ]));
        };
        let consumers = group
            .consumers
            .iter()
            .filter(|(_, c)| !c.pending.is_empty())
            .map(|(name, c)| {
                Reply::Array(vec![
                    Reply::bulk(name.as_slice()),
                    Reply::bulk(c.pending.len().to_string()),
                ])
            })
            .collect();
        return Ok(Reply::Array(vec![
            Reply::count(group.pel.len()),
            Reply::Bulk(first.bytes()),
            Reply::Bulk(last.bytes()),
            Reply::Array(consumers),
        ]));
    };
    if x.start > x.end || x.count == 0 {
        return Ok(Reply::Array(Vec::new()));
    }
    let ids: Vec<StreamId> = match &x.consumer {
        None => group
            .pel
            .range(x.start..=x.end)
            .map(|(id, _)| *id)
            .collect(),
        Some(name) => match group.consumers.get(name) {
            None => Vec::new(),
            Some(cons) => cons.pending.range(x.start..=x.end).copied().collect(),
        },
    };
    let mut out = Vec::new();
    for id in ids {
        if out.len() >= x.count {
            break;
        }
        let Some(p) = group.pel.get(&id) else {
            continue;
        };
        let idle = i64::try_from(now.saturating_sub(p.delivered_at)).unwrap_or(i64::MAX);
        if x.min_idle > 0 && idle < x.min_idle {
            continue;
        }
        out.push(Reply::Array(vec![
            Reply::Bulk(id.bytes()),
            Reply::bulk(p.consumer.as_slice()),
            Reply::Int(idle),
            Reply::Int(i64::try_from(p.deliveries).unwrap_or(i64::MAX)),
        ]));
    }
    Ok(Reply::Array(out))
}
