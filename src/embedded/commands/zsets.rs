//! Sorted-set commands: `ZADD` (`NX`/`XX`, `GT`/`LT`, `CH`, `INCR`), `ZINCRBY`, `ZCARD`,
//! `ZCOUNT`, `ZSCORE`, `ZREM`, `ZREMRANGEBYSCORE`, and the ranges: `ZRANGE` (by rank or
//! `BYSCORE`, `REV`, `LIMIT`, `WITHSCORES`), `ZREVRANGE`, `ZRANGEBYSCORE`, `ZREVRANGEBYSCORE`.
//! Scores are replied as C's `%.17g` prints them, as Redis 7.0 does.

use super::lists::index_range;
use super::{Call, Fail, Outcome, Spec, spec};
use crate::embedded::number::fmt_g17;
use crate::embedded::resp::Reply;
use crate::embedded::zset::{Item, ScoreBound, ZSet};

pub(super) const SPECS: &[Spec] = &[
    spec("zadd", -4, zadd),
    spec("zincrby", 4, zadd),
    spec("zcard", 2, zcard),
    spec("zcount", 4, zcount),
    spec("zscore", 3, zscore),
    spec("zrem", -3, zrem),
    spec("zremrangebyscore", 4, zremrangebyscore),
    spec("zrange", -4, zrange),
    spec("zrevrange", -4, zrange),
    spec("zrangebyscore", -4, zrange),
    spec("zrevrangebyscore", -4, zrange),
];

#[derive(Default)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

fn zadd(c: &mut Call) -> Outcome {
    let mut f = AddFlags::default();
    let mut at = 2;
    if c.word(0) == "ZINCRBY" {
        f.incr = true;
    } else {
        while at < c.args.len() {
            match c.word(at).as_str() {
                "NX" => f.nx = true,
                "XX" => f.xx = true,
                "GT" => f.gt = true,
                "LT" => f.lt = true,
                "CH" => f.ch = true,
                "INCR" => f.incr = true,
                _ => break,
            }
            at += 1;
        }
    }
    let rest = c.args.len() - at;
    if rest == 0 || rest % 2 == 1 {
        return Err(Fail::syntax());
    }
    if f.incr && rest > 2 {
        return Err(Fail::new(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    if f.nx && f.xx {
        return Err(Fail::new(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return Err(Fail::new(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    let mut pairs = Vec::with_capacity(rest / 2);
    for i in (at..c.args.len()).step_by(2) {
        pairs.push((c.float(i)?, c.args[i + 1].clone()));
    }
    if f.xx && c.read::<ZSet>(1)?.is_none() {
        return Ok(if f.incr { Reply::Nil } else { Reply::Int(0) });
    }
    let set = c.write::<ZSet>(1)?;
    let (mut added, mut changed, mut last) = (0, 0, None);
    for (score, member) in pairs {
        last = None;
        match set.score(&member) {
            Some(_) if f.nx => {}
            Some(current) => {
                let new = if f.incr { current + score } else { score };
                if new.is_nan() {
                    return Err(Fail::new("ERR resulting score is not a number (NaN)"));
                }
                if (f.gt && new <= current) || (f.lt && new >= current) {
                    continue;
                }
                last = Some(new);
                if new != current {
                    set.insert(&member, new);
                    changed += 1;
                }
            }
            None if f.xx => {}
            None => {
                set.insert(&member, score);
                added += 1;
                last = Some(score);
            }
        }
    }
    c.tidy::<ZSet>(1);
    Ok(if f.incr {
        last.map_or(Reply::Nil, |s| Reply::bulk(fmt_g17(s)))
    } else if f.ch {
        Reply::count(added + changed)
    } else {
        Reply::count(added)
    })
}

fn zcard(c: &mut Call) -> Outcome {
    Ok(Reply::count(c.read::<ZSet>(1)?.map_or(0, |z| z.len())))
}

/// A `min`/`max` argument: a float, `(float` (exclusive), `-inf`, `+inf`.
fn bound(arg: &[u8]) -> Option<ScoreBound> {
    let (exclusive, text) = match arg.strip_prefix(b"(") {
        Some(rest) => (true, rest),
        None => (false, arg),
    };
    let text = std::str::from_utf8(text).ok()?;
    let value = if text.is_empty() {
        0.0
    } else {
        text.parse::<f64>().ok()?
    };
    (!value.is_nan()).then_some(ScoreBound { value, exclusive })
}

fn bounds(c: &Call, min: usize, max: usize) -> Result<(ScoreBound, ScoreBound), Fail> {
    match (bound(c.arg(min)), bound(c.arg(max))) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(Fail::new("ERR min or max is not a float")),
    }
}

fn zcount(c: &mut Call) -> Outcome {
    let (min, max) = bounds(c, 2, 3)?;
    Ok(Reply::count(
        c.read::<ZSet>(1)?
            .map_or(0, |z| z.range_by_score(min, max, false).count()),
    ))
}

fn zscore(c: &mut Call) -> Outcome {
    let member = c.args[2].clone();
    Ok(c.read::<ZSet>(1)?
        .and_then(|z| z.score(&member))
        .map_or(Reply::Nil, |s| Reply::bulk(fmt_g17(s))))
}

fn zrem(c: &mut Call) -> Outcome {
    let args = c.args;
    let Some(set) = c.read::<ZSet>(1)? else {
        return Ok(Reply::Int(0));
    };
    let removed = args[2..].iter().filter(|m| set.remove(m)).count();
    c.tidy::<ZSet>(1);
    Ok(Reply::count(removed))
}

fn zremrangebyscore(c: &mut Call) -> Outcome {
    let (min, max) = bounds(c, 2, 3)?;
    let Some(set) = c.read::<ZSet>(1)? else {
        return Ok(Reply::Int(0));
    };
    let gone: Vec<Vec<u8>> = set
        .range_by_score(min, max, false)
        .map(|i| i.member.clone())
        .collect();
    for m in &gone {
        set.remove(m);
    }
    c.tidy::<ZSet>(1);
    Ok(Reply::count(gone.len()))
}

#[derive(PartialEq)]
enum By {
    Auto,
    Rank,
    Score,
}

fn zrange(c: &mut Call) -> Outcome {
    let name = c.word(0);
    let mut rev = name.starts_with("ZREV");
    let mut by = if name.ends_with("BYSCORE") {
        By::Score
    } else if name == "ZRANGE" {
        By::Auto
    } else {
        By::Rank
    };
    let explicit_rev = !rev;
    let (mut withscores, mut offset, mut limit) = (false, 0i64, -1i64);
    let mut j = 4;
    while j < c.args.len() {
        let left = c.args.len() - j - 1;
        match c.word(j).as_str() {
            "WITHSCORES" => withscores = true,
            "LIMIT" if left >= 2 => {
                offset = c.int(j + 1)?;
                limit = c.int(j + 2)?;
                j += 2;
            }
            "REV" if explicit_rev && !rev && name == "ZRANGE" => rev = true,
            "BYSCORE" if by == By::Auto => by = By::Score,
            "BYLEX" if by == By::Auto => {
                return Err(Fail::new(
                    "ERR BYLEX is not supported by the embedded Redis",
                ));
            }
            _ => return Err(Fail::syntax()),
        }
        j += 1;
    }
    if by == By::Auto {
        by = By::Rank;
    }
    if limit != -1 && by == By::Rank {
        return Err(Fail::new(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    let (min_at, max_at) = if rev && by == By::Score {
        (3, 2)
    } else {
        (2, 3)
    };
    let items: Vec<Item> = if by == By::Rank {
        let (start, stop) = (c.int(2)?, c.int(3)?);
        let Some(set) = c.read::<ZSet>(1)? else {
            return Ok(Reply::Array(Vec::new()));
        };
        match index_range(start, stop, set.len()) {
            None => Vec::new(),
            Some((a, b)) => set.iter(rev).skip(a).take(b - a + 1).cloned().collect(),
        }
    } else {
        let (min, max) = bounds(c, min_at, max_at)?;
        let Some(set) = c.read::<ZSet>(1)? else {
            return Ok(Reply::Array(Vec::new()));
        };
        if offset < 0 || (offset > 0 && offset as usize >= set.len()) {
            Vec::new()
        } else {
            let take = usize::try_from(limit).unwrap_or(usize::MAX);
            set.range_by_score(min, max, rev)
                .skip(offset as usize)
                .take(take)
                .cloned()
                .collect()
        }
    };
    let mut out = Vec::with_capacity(items.len() * 2);
    for item in items {
        out.push(Reply::Bulk(item.member));
        if withscores {
            out.push(Reply::bulk(fmt_g17(item.score)));
        }
    }
    Ok(Reply::Array(out))
}
