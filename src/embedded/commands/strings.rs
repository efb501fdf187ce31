//! String commands: `GET`, `SET` (with `NX`/`XX`, `GET`, `EX`/`PX`/`EXAT`/`PXAT`/`KEEPTTL`)
//! and the integer counters (`INCR`, `INCRBY`, `DECR`, `DECRBY`).

use super::{Call, Fail, Outcome, Spec, spec};
use crate::embedded::number;
use crate::embedded::resp::Reply;
use crate::embedded::store::Value;

pub(super) const SPECS: &[Spec] = &[
    spec("get", 2, get),
    spec("set", -3, set),
    spec("incr", 2, incr),
    spec("decr", 2, incr),
    spec("incrby", 3, incr),
    spec("decrby", 3, incr),
];

fn get(c: &mut Call) -> Outcome {
    Ok(c.read::<Vec<u8>>(1)?
        .map_or(Reply::Nil, |v| Reply::bulk(v.as_slice())))
}

/// How `SET` treats the key's time to live.
enum Ttl {
    Clear,
    Keep,
    At(u64),
}

fn set(c: &mut Call) -> Outcome {
    let (mut nx, mut xx, mut get, mut ttl) = (false, false, false, None::<(String, i64)>);
    let mut keep = false;
    let mut i = 3;
    while i < c.args.len() {
        let opt = c.word(i);
        let has_next = i + 1 < c.args.len();
        match opt.as_str() {
            "NX" if !xx => nx = true,
            "XX" if !nx => xx = true,
            "GET" => get = true,
            "KEEPTTL" if ttl.is_none() => keep = true,
            "EX" | "PX" | "EXAT" | "PXAT" if has_next && !keep && ttl.is_none() => {
                ttl = Some((opt, c.int(i + 1)?));
                i += 1;
            }
            _ => return Err(Fail::syntax()),
        }
        i += 1;
    }
    let ttl = match ttl {
        None if keep => Ttl::Keep,
        None => Ttl::Clear,
        Some((unit, n)) => {
            let invalid = || Fail::new("ERR invalid expire time in 'set' command");
            if n <= 0 {
                return Err(invalid());
            }
            let ms = if unit == "EX" || unit == "EXAT" {
                n.checked_mul(1000).ok_or_else(invalid)?
            } else {
                n
            };
            let at = if unit.ends_with("AT") {
                ms
            } else {
                ms.checked_add(i64::try_from(c.now).unwrap_or(i64::MAX))
                    .ok_or_else(invalid)?
            };
            Ttl::At(u64::try_from(at).map_err(|_| invalid())?)
        }
    };
    let old = if get {
        Some(c.read::<Vec<u8>>(1)?.map(|v| v.clone()))
    } else {
        None
    };
    let key = c.args[1].clone();
    let now = c.now;
    let current = c.db.entry(&key, now).map(|e| e.expires_at);
    let reply = |set: bool| match &old {
        Some(v) => v.as_ref().map_or(Reply::Nil, |v| Reply::bulk(v.as_slice())),
        None if set => Reply::ok(),
        None => Reply::Nil,
    };
    if (nx && current.is_some()) || (xx && current.is_none()) {
        return Ok(reply(false));
    }
    let expires_at = match ttl {
        Ttl::Clear => None,
        Ttl::Keep => current.flatten(),
        Ttl::At(at) => Some(at),
    };
    c.db.insert(key, Value::Str(c.args[2].clone()), expires_at);
    if expires_at.is_some_and(|at| at <= now) {
        c.db.delete(&c.args[1], now);
    }
    Ok(reply(true))
}

fn incr(c: &mut Call) -> Outcome {
    let name = c.word(0);
    let by = match name.as_str() {
        "INCR" => 1,
        "DECR" => -1,
        "INCRBY" => c.int(2)?,
        _ => c
            .int(2)?
            .checked_neg()
            .ok_or_else(|| Fail::new("ERR decrement would overflow"))?,
    };
    let current = match c.read::<Vec<u8>>(1)? {
        None => 0,
        Some(v) => number::parse_i64(v).ok_or_else(Fail::not_int)?,
    };
    let next = current
        .checked_add(by)
        .ok_or_else(|| Fail::new("ERR increment or decrement would overflow"))?;
    *c.write::<Vec<u8>>(1)? = next.to_string().into_bytes();
    Ok(Reply::Int(next))
}
