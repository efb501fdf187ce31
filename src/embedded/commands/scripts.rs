//! Scripting commands: `EVAL`, `EVALSHA` (`NOSCRIPT` when unknown, so redis-rs's `Script`
//! loads it and retries) and `SCRIPT LOAD`/`EXISTS`/`FLUSH`/`KILL`. The scripts themselves
//! run in `lua/`.

use super::{Call, Fail, Outcome, Spec, noscript, subcommand};
use crate::embedded::resp::Reply;

pub(super) const SPECS: &[Spec] = &[
    noscript("eval", -3, eval),
    noscript("evalsha", -3, eval),
    noscript("script", -2, script),
];

fn eval(c: &mut Call) -> Outcome {
    let by_sha = c.word(0) == "EVALSHA";
    let numkeys = c.int(2)?;
    let rest = i64::try_from(c.args.len() - 3).unwrap_or(i64::MAX);
    if numkeys > rest {
        return Err(Fail::new(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    let numkeys =
        usize::try_from(numkeys).map_err(|_| Fail::new("ERR Number of keys can't be negative"))?;
    let (keys, argv) = c.args[3..].split_at(numkeys);
    let Some(scripting) = c.scripting.as_deref_mut() else {
        return Err(Fail::new(
            "ERR This Redis command is not allowed from script",
        ));
    };
    let sha = if by_sha {
        String::from_utf8_lossy(&c.args[1]).to_ascii_lowercase()
    } else {
        scripting.load(&c.args[1])?
    };
    scripting.run(c.db, &sha, keys, argv, c.now)
}

fn script(c: &mut Call) -> Outcome {
    let sub = subcommand(
        c,
        "script",
        &[
            ("load", 3),
            ("exists", -3),
            ("flush", -2),
            ("kill", 2),
            ("help", 2),
        ],
    )?;
    let args = c.args;
    let Some(scripting) = c.scripting.as_deref_mut() else {
        return Err(Fail::new(
            "ERR This Redis command is not allowed from script",
        ));
    };
    match sub {
        "load" => Ok(Reply::bulk(scripting.load(&args[2])?)),
        "exists" => Ok(Reply::Array(
            args[2..]
                .iter()
                .map(|sha| Reply::bool(scripting.exists(&String::from_utf8_lossy(sha))))
                .collect(),
        )),
        "flush" => {
            let mode = args
                .get(2)
                .map(|m| String::from_utf8_lossy(m).to_ascii_uppercase());
            if args.len() > 3 || mode.is_some_and(|m| m != "ASYNC" && m != "SYNC") {
                return Err(Fail::new("ERR SCRIPT FLUSH only support SYNC|ASYNC option"));
            }
            scripting.flush();
            Ok(Reply::ok())
        }
        "kill" => Err(Fail::new("NOTBUSY No scripts in execution right now.")),
        _ => Ok(Reply::bulks([
            "SCRIPT <subcommand> [<arg> ...]. Subcommands are:",
        ])),
    }
}
