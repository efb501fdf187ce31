//! List commands: `RPUSH`, `LPUSH`, `LPOP`, `RPOP` (with a count), `LLEN`, `LRANGE`, `LTRIM`,
//! `LINDEX`.

use super::{Call, Fail, Outcome, Spec, spec};
use crate::embedded::resp::Reply;
use crate::embedded::store::List;

pub(super) const SPECS: &[Spec] = &[
    spec("rpush", -3, push),
    spec("lpush", -3, push),
    spec("lpop", -2, pop),
    spec("rpop", -2, pop),
    spec("llen", 2, llen),
    spec("lrange", 4, lrange),
    spec("ltrim", 4, ltrim),
    spec("lindex", 3, lindex),
];

fn push(c: &mut Call) -> Outcome {
    let left = c.word(0) == "LPUSH";
    let args = c.args;
    let list = c.write::<List>(1)?;
    for v in &args[2..] {
        if left {
            list.push_front(v.clone());
        } else {
            list.push_back(v.clone());
        }
    }
    Ok(Reply::count(list.len()))
}

fn pop(c: &mut Call) -> Outcome {
    let left = c.word(0) == "LPOP";
    let count = match c.args.len() {
        2 => None,
        3 => {
            let n = c.int(2)?;
            Some(
                usize::try_from(n)
                    .map_err(|_| Fail::new("ERR value is out of range, must be positive"))?,
            )
        }
        _ => return Err(Fail::syntax()),
    };
    let Some(list) = c.read::<List>(1)? else {
        return Ok(if count.is_some() {
            Reply::NilArray
        } else {
            Reply::Nil
        });
    };
    let take = |list: &mut List| {
        if left {
            list.pop_front()
        } else {
            list.pop_back()
        }
    };
    let reply = match count {
        None => take(list).map_or(Reply::Nil, Reply::Bulk),
        Some(n) => Reply::Array((0..n).map_while(|_| take(list)).map(Reply::Bulk).collect()),
    };
    c.tidy::<List>(1);
    Ok(reply)
}

fn llen(c: &mut Call) -> Outcome {
    Ok(Reply::count(c.read::<List>(1)?.map_or(0, |l| l.len())))
}

/// Redis's `start`/`stop` indexes (negative from the end) as a range within `len`.
pub(super) fn index_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len_i = i64::try_from(len).unwrap_or(i64::MAX);
    let start = if start < 0 {
        (len_i + start).max(0)
    } else {
        start
    };
    let stop = if stop < 0 { len_i + stop } else { stop };
    if start > stop || start >= len_i {
        return None;
    }
    let stop = stop.min(len_i - 1);
    Some((usize::try_from(start).ok()?, usize::try_from(stop).ok()?))
}

fn lrange(c: &mut Call) -> Outcome {
    let (start, stop) = (c.int(2)?, c.int(3)?);
    let Some(list) = c.read::<List>(1)? else {
        return Ok(Reply::Array(Vec::new()));
    };
    Ok(match index_range(start, stop, list.len()) {
        None => Reply::Array(Vec::new()),
        Some((a, b)) => Reply::bulks(list.range(a..=b).cloned()),
    })
}

fn ltrim(c: &mut Call) -> Outcome {
    let (start, stop) = (c.int(2)?, c.int(3)?);
    let Some(list) = c.read::<List>(1)? else {
        return Ok(Reply::ok());
    };
    match index_range(start, stop, list.len()) {
        None => list.clear(),
        Some((a, b)) => {
            list.truncate(b + 1);
            list.drain(..a);
        }
    }
    c.tidy::<List>(1);
    Ok(Reply::ok())
}

fn lindex(c: &mut Call) -> Outcome {
    let i = c.int(2)?;
    let Some(list) = c.read::<List>(1)? else {
        return Ok(Reply::Nil);
    };
    let len = i64::try_from(list.len()).unwrap_or(i64::MAX);
    let at = if i < 0 { len + i } else { i };
    Ok(usize::try_from(at)
        .ok()
        .and_then(|at| list.get(at))
        .map_or(Reply::Nil, |v| Reply::bulk(v.as_slice())))
}
