//! Hash commands: `HSET`/`HMSET`, `HSETNX`, `HGET`, `HMGET`, `HDEL`, `HEXISTS`, `HGETALL`,
//! `HKEYS`, `HVALS`, `HLEN`, `HINCRBY`.

use super::{Call, Fail, Outcome, Spec, spec};
use crate::embedded::number;
use crate::embedded::resp::Reply;
use crate::embedded::store::Hash;

/// Entries up to which Redis keeps a hash as a listpack (`hash-max-listpack-entries`).
const LISTPACK_ENTRIES: usize = 128;

pub(super) const SPECS: &[Spec] = &[
    spec("hset", -4, hset),
    spec("hmset", -4, hset),
    spec("hsetnx", 4, hsetnx),
    spec("hget", 3, hget),
    spec("hmget", -3, hmget),
    spec("hdel", -3, hdel),
    spec("hexists", 3, hexists),
    spec("hgetall", 2, hgetall),
    spec("hkeys", 2, hgetall),
    spec("hvals", 2, hgetall),
    spec("hlen", 2, hlen),
    spec("hincrby", 4, hincrby),
];

fn hset(c: &mut Call) -> Outcome {
    let name = c.word(0).to_ascii_lowercase();
    if c.args.len() % 2 == 1 {
        return Err(Fail::new(format!(
            "ERR wrong number of arguments for '{name}' command"
        )));
    }
    let args = c.args;
    let hash = c.write::<Hash>(1)?;
    let mut added = 0;
    for pair in args[2..].chunks(2) {
        if hash.insert(pair[0].clone(), pair[1].clone()).is_none() {
            added += 1;
        }
    }
    Ok(if name == "hmset" {
        Reply::ok()
    } else {
        Reply::count(added)
    })
}

fn hsetnx(c: &mut Call) -> Outcome {
    let (field, value) = (c.args[2].clone(), c.args[3].clone());
    let hash = c.write::<Hash>(1)?;
    if hash.contains_key(&field) {
        return Ok(Reply::Int(0));
    }
    hash.insert(field, value);
    Ok(Reply::Int(1))
}

fn hget(c: &mut Call) -> Outcome {
    let field = c.args[2].clone();
    Ok(c.read::<Hash>(1)?
        .and_then(|h| h.get(&field))
        .map_or(Reply::Nil, |v| Reply::bulk(v.as_slice())))
}

fn hmget(c: &mut Call) -> Outcome {
    let args = c.args;
    let hash = c.read::<Hash>(1)?;
    Ok(Reply::Array(
        args[2..]
            .iter()
            .map(|f| {
                hash.as_ref()
                    .and_then(|h| h.get(f))
                    .map_or(Reply::Nil, |v| Reply::bulk(v.as_slice()))
            })
            .collect(),
    ))
}

fn hdel(c: &mut Call) -> Outcome {
    let args = c.args;
    let Some(hash) = c.read::<Hash>(1)? else {
        return Ok(Reply::Int(0));
    };
    // Small hashes keep their order, as Redis's listpacks do; past Redis's listpack size
    // (where its order is arbitrary anyway) a removal costs O(1), not O(n).
    let small = hash.len() <= LISTPACK_ENTRIES;
    let removed = args[2..]
        .iter()
        .filter(|f| {
            if small {
                hash.shift_remove(*f).is_some()
            } else {
                hash.swap_remove(*f).is_some()
            }
        })
        .count();
    c.tidy::<Hash>(1);
    Ok(Reply::count(removed))
}

fn hexists(c: &mut Call) -> Outcome {
    let field = c.args[2].clone();
    Ok(Reply::bool(
        c.read::<Hash>(1)?.is_some_and(|h| h.contains_key(&field)),
    ))
}

fn hgetall(c: &mut Call) -> Outcome {
    let which = c.word(0);
    let Some(hash) = c.read::<Hash>(1)? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let items: Vec<&Vec<u8>> = match which.as_str() {
        "HKEYS" => hash.keys().collect(),
        "HVALS" => hash.values().collect(),
        _ => hash.iter().flat_map(|(k, v)| [k, v]).collect(),
    };
    Ok(Reply::bulks(items.into_iter().cloned()))
}

fn hlen(c: &mut Call) -> Outcome {
    Ok(Reply::count(c.read::<Hash>(1)?.map_or(0, |h| h.len())))
}

fn hincrby(c: &mut Call) -> Outcome {
    let by = c.int(3)?;
    let field = c.args[2].clone();
    let hash = c.write::<Hash>(1)?;
    let current = match hash.get(&field) {
        None => 0,
        Some(v) => {
            number::parse_i64(v).ok_or_else(|| Fail::new("ERR hash value is not an integer"))?
        }
    };
    let next = current
        .checked_add(by)
        .ok_or_else(|| Fail::new("ERR increment or decrement would overflow"))?;
    hash.insert(field, next.to_string().into_bytes());
    Ok(Reply::Int(next))
}
