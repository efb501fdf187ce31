//! Stream entry commands: `XADD` (`NOMKSTREAM`, `MAXLEN`/`MINID` with `=`/`~` and `LIMIT`,
//! `*`, `<ms>-*` or explicit ids), `XLEN`, `XRANGE`, `XREVRANGE`, `XDEL`, `XTRIM`.
//! Consumer groups are in `groups.rs`.

use super::{Call, Fail, Outcome, Spec, spec};
use crate::embedded::resp::Reply;
use crate::embedded::stream::{Fields, NODE_ENTRIES, Stream, StreamId, Trim};

pub(super) const SPECS: &[Spec] = &[
    spec("xadd", -5, xadd),
    spec("xlen", 2, xlen),
    spec("xrange", -4, xrange),
    spec("xrevrange", -4, xrange),
    spec("xdel", -3, xdel),
    spec("xtrim", -4, xtrim),
];

/// Redis's error for an id it cannot parse.
pub(super) fn invalid_id() -> Fail {
    Fail::new("ERR Invalid stream ID specified as stream command argument")
}

/// A complete id argument (`<ms>-<seq>`, or `<ms>` meaning `<ms>-0`).
pub(super) fn strict_id(arg: &[u8]) -> Result<StreamId, Fail> {
    StreamId::parse(arg, 0).ok_or_else(invalid_id)
}

/// A range bound: `-`, `+`, `(id` (exclusive), or an id whose missing sequence is
/// `missing_seq`. Returns the id and whether it is exclusive.
pub(super) fn interval_id(arg: &[u8], missing_seq: u64) -> Result<(StreamId, bool), Fail> {
    match arg {
        b"-" => Ok((StreamId::MIN, false)),
        b"+" => Ok((StreamId::MAX, false)),
        [b'(', rest @ ..] => Ok((
            StreamId::parse(rest, missing_seq).ok_or_else(invalid_id)?,
            true,
        )),
        _ => Ok((
            StreamId::parse(arg, missing_seq).ok_or_else(invalid_id)?,
            false,
        )),
    }
}

/// A range's start: an exclusive one (`(id`) is the next id.
pub(super) fn range_start(arg: &[u8]) -> Result<StreamId, Fail> {
    match interval_id(arg, 0)? {
        (id, true) => id
            .next()
            .ok_or_else(|| Fail::new("ERR invalid start ID for the interval")),
        (id, false) => Ok(id),
    }
}

/// A range's end: an exclusive one (`(id`) is the previous id.
pub(super) fn range_end(arg: &[u8]) -> Result<StreamId, Fail> {
    match interval_id(arg, u64::MAX)? {
        (id, true) => id
            .prev()
            .ok_or_else(|| Fail::new("ERR invalid end ID for the interval")),
        (id, false) => Ok(id),
    }
}

/// An entry as replies carry it: `[id, [field, value, …]]`.
pub(super) fn entry_reply(id: StreamId, fields: &Fields) -> Reply {
    Reply::Array(vec![
        Reply::Bulk(id.bytes()),
        Reply::bulks(fields.iter().flat_map(|(f, v)| [f.clone(), v.clone()])),
    ])
}

/// The trimming options of `XADD`/`XTRIM` starting at argument `at`; for `XADD`, stops at
/// the id. Returns the trim (if any), approximation, limit, `NOMKSTREAM` and where parsing
/// stopped.
struct TrimArgs {
    trim: Option<Trim>,
    approx: bool,
    limit: usize,
    no_mkstream: bool,
    next: usize,
}

fn trim_args(c: &Call, at: usize, xadd: bool) -> Result<TrimArgs, Fail> {
    let mut t = TrimArgs {
        trim: None,
        approx: false,
        limit: 0,
        no_mkstream: false,
        next: c.args.len(),
    };
    let mut limit_given = None;
    let mut i = at;
    while i < c.args.len() {
        let more = c.args.len() - 1 - i;
        let word = c.word(i);
        match word.as_str() {
            "*" if xadd => {
                t.next = i;
                break;
            }
            "MAXLEN" | "MINID" if more > 0 => {
                if t.trim.is_some() {
                    return Err(Fail::new(
                        "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
                    ));
                }
                match c.arg(i + 1) {
                    b"~" if more > 1 => {
                        t.approx = true;
                        i += 1;
                    }
                    b"=" if more > 1 => i += 1,
                    _ => {}
                }
                i += 1;
                t.trim = Some(if word == "MAXLEN" {
                    let n = c.int(i)?;
                    Trim::MaxLen(
                        u64::try_from(n)
                            .map_err(|_| Fail::new("ERR The MAXLEN argument must be >= 0."))?,
                    )
                } else {
                    Trim::MinId(strict_id(c.arg(i))?)
                });
            }
            "LIMIT" if more > 0 => {
                i += 1;
                let n = c.int(i)?;
                limit_given = Some(
                    usize::try_from(n)
                        .map_err(|_| Fail::new("ERR The LIMIT argument must be >= 0."))?,
                );
            }
            "NOMKSTREAM" if xadd => t.no_mkstream = true,
            _ if xadd => {
                t.next = i;
                break;
            }
            _ => return Err(Fail::syntax()),
        }
        i += 1;
    }
    t.limit = match limit_given {
        Some(_) if !t.approx => {
            return Err(Fail::new(
                "ERR syntax error, LIMIT cannot be used without the special ~ option",
            ));
        }
        Some(n) => n,
        None if t.approx => 100 * NODE_ENTRIES,
        None => 0,
    };
    Ok(t)
}

/// The id `XADD` gives the new entry: `*` (time-based), `<ms>-*` or explicit.
fn new_id(arg: &[u8], last: StreamId) -> Result<StreamId, Fail> {
    let smaller = || {
        Fail::new(
            "ERR The ID specified in XADD is equal or smaller than the target stream top item",
        )
    };
    if arg == b"*" {
        let ms = crate::embedded::engine::now_ms().max(last.ms);
        return if ms == last.ms {
            last.next().ok_or_else(smaller)
        } else {
            Ok(StreamId { ms, seq: 0 })
        };
    }
    if let Some(ms) = arg.strip_suffix(b"-*") {
        let ms = StreamId::parse(ms, 0)
            .filter(|_| !ms.contains(&b'-'))
            .ok_or_else(invalid_id)?
            .ms;
        return match ms.cmp(&last.ms) {
            std::cmp::Ordering::Greater => Ok(StreamId { ms, seq: 0 }),
            std::cmp::Ordering::Equal => last
                .seq
                .checked_add(1)
                .map(|seq| StreamId { ms, seq })
                .ok_or_else(smaller),
            std::cmp::Ordering::Less => Err(smaller()),
        };
    }
    let id = strict_id(arg)?;
    if id <= last {
        return Err(smaller());
    }
    Ok(id)
}

fn xadd(c: &mut Call) -> Outcome {
    let t = trim_args(c, 2, true)?;
    let id_arg = c.arg(t.next).to_vec();
    // An explicit id is checked before the key is touched: a refused `0-0` must not leave an
    // empty stream behind (Redis checks it first for the same reason).
    if t.next < c.args.len()
        && id_arg != b"*"
        && !id_arg.ends_with(b"-*")
        && strict_id(&id_arg)? == StreamId::MIN
    {
        return Err(Fail::new(
            "ERR The ID specified in XADD must be greater than 0-0",
        ));
    }
    let fields_at = t.next + 1;
    let pairs = c.args.len().saturating_sub(fields_at);
    if pairs < 2 || pairs % 2 == 1 {
        return Err(Fail::new(
            "ERR wrong number of arguments for 'xadd' command",
        ));
    }
    if t.no_mkstream && c.read::<Stream>(1)?.is_none() {
        return Ok(Reply::Nil);
    }
    let fields: Fields = c.args[fields_at..]
        .chunks(2)
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect();
    let stream = c.write::<Stream>(1)?;
    if stream.last_id == StreamId::MAX {
        return Err(Fail::new(
            "ERR The stream has exhausted the last possible ID, unable to add more items",
        ));
    }
    let id = new_id(&id_arg, stream.last_id)?;
    stream.entries.insert(id, fields);
    stream.last_id = id;
    if let Some(trim) = t.trim {
        stream.trim(trim, t.approx, t.limit);
    }
    c.db.signal_streams();
    Ok(Reply::Bulk(id.bytes()))
}

fn xlen(c: &mut Call) -> Outcome {
    Ok(Reply::count(
        c.read::<Stream>(1)?.map_or(0, |s| s.entries.len()),
    ))
}

fn xrange(c: &mut Call) -> Outcome {
    let rev = c.word(0) == "XREVRANGE";
    let (start_at, end_at) = if rev { (3, 2) } else { (2, 3) };
    let start = range_start(c.arg(start_at))?;
    let end = range_end(c.arg(end_at))?;
    let mut count = None;
    let mut j = 4;
    while j < c.args.len() {
        if c.word(j) == "COUNT" && j + 1 < c.args.len() {
            count = Some(usize::try_from(c.int(j + 1)?).unwrap_or(0));
            j += 2;
        } else {
            return Err(Fail::syntax());
        }
    }
    let Some(stream) = c.read::<Stream>(1)? else {
        return Ok(Reply::Array(Vec::new()));
    };
    if count == Some(0) {
        return Ok(Reply::NilArray);
    }
    if start > end {
        return Ok(Reply::Array(Vec::new()));
    }
    let range = stream.entries.range(start..=end);
    let take = count.unwrap_or(usize::MAX);
    let items: Vec<Reply> = if rev {
        range
            .rev()
            .take(take)
            .map(|(id, f)| entry_reply(*id, f))
            .collect()
    } else {
        range
            .take(take)
            .map(|(id, f)| entry_reply(*id, f))
            .collect()
    };
    Ok(Reply::Array(items))
}

fn xdel(c: &mut Call) -> Outcome {
    let ids = c.args[2..]
        .iter()
        .map(|a| strict_id(a))
        .collect::<Result<Vec<_>, _>>()?;
    let Some(stream) = c.read::<Stream>(1)? else {
        return Ok(Reply::Int(0));
    };
    let removed = ids
        .iter()
        .filter(|id| stream.entries.remove(id).is_some())
        .count();
    Ok(Reply::count(removed))
}

fn xtrim(c: &mut Call) -> Outcome {
    let t = trim_args(c, 2, false)?;
    let Some(trim) = t.trim else {
        return Err(Fail::syntax());
    };
    let Some(stream) = c.read::<Stream>(1)? else {
        return Ok(Reply::Int(0));
    };
    Ok(Reply::count(stream.trim(trim, t.approx, t.limit)))
}
