//! Between Lua and Redis, by Redis's rules (RESP2):
//!
//! - `redis.call` arguments: strings as they are, numbers printed with `%.17g`; anything else
//!   is an error.
//! - A reply to Lua: integer → number, bulk → string, nil bulk or array → `false`, array →
//!   table, status → `{ok = …}`, error → `{err = …}` (raised by `redis.call`).
//! - Lua to a reply: number → integer (truncated), string → bulk, `true` → 1, `false`/nil →
//!   nil, a table with a string `err` → error, with a string `ok` → status, any other table →
//!   array up to its first nil.

use mlua::{Lua, Table, Value};

use crate::embedded::number::lua_to_i64;
use crate::embedded::resp::Reply;

/// Deepest table converted to a reply (deeper levels become nil); a table holding itself
/// would otherwise never end.
const MAX_DEPTH: usize = 1000;

/// `{err = msg}`; `ignore_error_stats_update` marks errors of commands, as Redis does.
pub(super) fn error_table(lua: &Lua, msg: &str, command: bool) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set("err", msg)?;
    if command {
        t.raw_set("ignore_error_stats_update", true)?;
    }
    Ok(Value::Table(t))
}

/// A reply as Lua sees it.
pub(super) fn to_lua(lua: &Lua, reply: Reply) -> mlua::Result<Value> {
    Ok(match reply {
        Reply::Status(s) => {
            let t = lua.create_table()?;
            t.raw_set("ok", s)?;
            Value::Table(t)
        }
        Reply::Error(e) => error_table(lua, &e, true)?,
        Reply::Int(n) => Value::Integer(n),
        Reply::Bulk(b) => Value::String(lua.create_string(b)?),
        Reply::Nil | Reply::NilArray => Value::Boolean(false),
        Reply::Array(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.into_iter().enumerate() {
                t.raw_set(i + 1, to_lua(lua, item)?)?;
            }
            Value::Table(t)
        }
    })
}

fn string_field(t: &Table, name: &str) -> Option<String> {
    match t.raw_get::<Value>(name).ok()? {
        Value::String(s) => Some(String::from_utf8_lossy(&s.as_bytes()).into_owned()),
        _ => None,
    }
}

/// A script's return value as a reply.
pub(super) fn to_reply(value: &Value, depth: usize) -> Reply {
    match value {
        Value::String(s) => Reply::Bulk(s.as_bytes().to_vec()),
        Value::Boolean(true) => Reply::Int(1),
        Value::Integer(n) => Reply::Int(*n),
        Value::Number(n) => Reply::Int(lua_to_i64(*n)),
        Value::Table(t) if depth < MAX_DEPTH => {
            if let Some(err) = string_field(t, "err") {
                return Reply::Error(err);
            }
            if let Some(ok) = string_field(t, "ok") {
                return Reply::Status(ok);
            }
            let mut items = Vec::new();
            for i in 1.. {
                match t.raw_get::<Value>(i) {
                    Ok(Value::Nil) | Err(_) => break,
                    Ok(v) => items.push(to_reply(&v, depth + 1)),
                }
            }
            Reply::Array(items)
        }
        _ => Reply::Nil,
    }
}

/// The error reply of a script that raised `error` (what the handler made of it): its `err`
/// and, when known, `script: <sha>, on <source>:<line>.`.
pub(super) fn script_error(error: &Value, sha: &str) -> String {
    let Value::Table(t) = error else {
        let text = match error {
            Value::String(s) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
            _ => "execution failure".to_owned(),
        };
        return format!("ERR Error running script {sha}, {text}");
    };
    let msg = match t.raw_get::<Value>("err") {
        Ok(Value::String(s)) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
        Ok(Value::Integer(n)) => n.to_string(),
        Ok(Value::Number(n)) => crate::embedded::number::fmt_g(n, 14),
        _ => "ERR execution failure".to_owned(),
    };
    let source = string_field(t, "source");
    let line = match t.raw_get::<Value>("line") {
        Ok(Value::Integer(n)) => Some(n.to_string()),
        Ok(Value::Number(n)) => Some(crate::embedded::number::fmt_g(n, 14)),
        _ => None,
    };
    match (source, line) {
        (Some(source), Some(line)) => format!("{msg} script: {sha}, on {source}:{line}."),
        _ => msg,
    }
}
