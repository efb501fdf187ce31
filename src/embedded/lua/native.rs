//! The native (Rust) functions scripts call: `redis.call` and `redis.pcall` (the keyspace),
//! `cjson.decode`/`encode`, the error handler that `xpcall`s every script, and the unwrapper
//! Redis's `pcall` uses. They are native, as Redis's are, so a script's
//! `return redis.call(…)` keeps its frame and its errors their line.
//!
//! Errors they raise carry a [`Raised`]: Lua code sees it as Redis's value would be (an error
//! table, or a message string) once the handler or `pcall` has unwrapped it.

use std::cell::RefCell;
use std::fmt;

use mlua::{Function, Lua, LuaString, MultiValue, Table, Value};

use super::INTERNAL;
use super::{cjson, convert};
use crate::embedded::commands::{Call, Fail, dispatch_from_script};
use crate::embedded::number::fmt_g17;
use crate::embedded::resp::Reply;
use crate::embedded::store::Db;

/// An error a native function raises, as Redis would raise it.
#[derive(Debug, Clone)]
pub(super) enum Raised {
    /// `{err = …}`; `command` marks errors of commands (`ignore_error_stats_update`).
    Table { err: String, command: bool },
    /// A message string.
    Text(String),
}

impl fmt::Display for Raised {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Raised::Table { err, .. } => f.write_str(err),
            Raised::Text(t) => f.write_str(t),
        }
    }
}

impl std::error::Error for Raised {}

fn raise(r: Raised) -> mlua::Error {
    mlua::Error::external(r)
}

/// The [`Raised`] inside `e`, if it is one of ours.
fn raised(e: &mlua::Error) -> Option<&Raised> {
    match e {
        mlua::Error::ExternalError(inner) => inner.downcast_ref::<Raised>(),
        mlua::Error::CallbackError { cause, .. } | mlua::Error::WithContext { cause, .. } => {
            raised(cause)
        }
        _ => None,
    }
}

/// The message of an error that is not ours (a failure of mlua itself).
fn message(e: &mlua::Error) -> String {
    match e {
        mlua::Error::CallbackError { cause, .. } | mlua::Error::WithContext { cause, .. } => {
            message(cause)
        }
        mlua::Error::RuntimeError(m) => m.clone(),
        other => other.to_string(),
    }
}

/// An error value as Lua code sees it in Redis: ours unwrapped to a table or a string.
pub(super) fn unwrap(lua: &Lua, v: Value) -> mlua::Result<Value> {
    let Value::Error(e) = v else {
        return Ok(v);
    };
    Ok(match raised(&e) {
        Some(Raised::Table { err, command }) => convert::error_table(lua, err, *command)?,
        Some(Raised::Text(t)) => Value::String(lua.create_string(t)?),
        None => Value::String(lua.create_string(message(&e))?),
    })
}

/// The first frame from `level` up that is the script's own Lua code: its source and line.
fn script_frame(lua: &Lua, level: usize) -> Option<(String, usize)> {
    for level in level..level + 256 {
        let (what, source, line) = lua.inspect_stack(level, |d| {
            let s = d.source();
            (s.what, s.source.map(|x| x.into_owned()), d.current_line())
        })?;
        if what == "C" || source.as_deref() == Some(INTERNAL) {
            continue;
        }
        return Some((source?, line?));
    }
    None
}

/// Redis's `__redis__err__handler`: the error as a table with `err` (`ERR <message>` for a
/// plain message), plus the `source` and `line` of the script where it happened.
pub(super) fn handler(lua: &Lua, err: Value) -> mlua::Result<Table> {
    let t = match unwrap(lua, err)? {
        Value::Table(t) => t,
        other => {
            let tostring: Function = lua.globals().raw_get("tostring")?;
            let text: LuaString = tostring.call(other)?;
            let t = lua.create_table()?;
            let mut err = b"ERR ".to_vec();
            err.extend_from_slice(&text.as_bytes());
            t.raw_set("err", lua.create_string(err)?)?;
            t
        }
    };
    if let Some((source, line)) = script_frame(lua, 1) {
        t.raw_set("source", source)?;
        t.raw_set("line", line)?;
    }
    Ok(t)
}

/// `luaL_where(L, 1)`: `user_script:<line>: ` when the caller is the script's Lua code.
fn where_called(lua: &Lua) -> String {
    let caller = lua.inspect_stack(1, |d| {
        let s = d.source();
        (
            s.what,
            s.short_src.map(|x| x.into_owned()),
            d.current_line(),
        )
    });
    match caller {
        Some((what, Some(src), Some(line))) if what != "C" => format!("{src}:{line}: "),
        _ => String::new(),
    }
}

/// `cjson.decode`.
pub(super) fn json_decode(lua: &Lua, text: Value) -> mlua::Result<Value> {
    match cjson::decode(lua, text)? {
        Ok(v) => Ok(v),
        Err(msg) => Err(raise(Raised::Text(format!("{}{msg}", where_called(lua))))),
    }
}

/// `cjson.encode`.
pub(super) fn json_encode(lua: &Lua, value: Value) -> mlua::Result<Value> {
    match cjson::encode(lua, value)? {
        Ok(v) => Ok(v),
        Err(msg) => Err(raise(Raised::Text(format!("{}{msg}", where_called(lua))))),
    }
}

/// Runs the command `values` from a script: its reply for Lua, or the error Redis raises.
pub(super) fn command(
    lua: &Lua,
    db: &RefCell<&mut Db>,
    values: MultiValue,
    now: u64,
) -> mlua::Result<Result<Value, Raised>> {
    let fail = |err: &str| {
        Ok(Err(Raised::Table {
            err: err.into(),
            command: false,
        }))
    };
    if values.is_empty() {
        return fail("ERR Please specify at least one argument for this redis lib call");
    }
    let mut args = Vec::with_capacity(values.len());
    for v in values {
        args.push(match v {
            Value::String(s) => s.as_bytes().to_vec(),
            Value::Integer(i) => fmt_g17(i as f64).into_bytes(),
            Value::Number(n) => fmt_g17(n).into_bytes(),
            _ => return fail("ERR Lua redis lib command arguments must be strings or integers"),
        });
    }
    let mut db = db
        .try_borrow_mut()
        .map_err(|_| mlua::Error::RuntimeError("redis.call re-entered".into()))?;
    let mut call = Call {
        db: &mut db,
        scripting: None,
        args: &args,
        now,
        may_block: false,
        block: None,
    };
    match dispatch_from_script(&mut call) {
        Ok(Reply::Error(err)) | Err(Fail(err)) => Ok(Err(Raised::Table { err, command: true })),
        Ok(reply) => Ok(Ok(convert::to_lua(lua, reply)?)),
    }
}

/// `redis.call`: raises the error.
pub(super) fn call(
    lua: &Lua,
    db: &RefCell<&mut Db>,
    values: MultiValue,
    now: u64,
) -> mlua::Result<Value> {
    command(lua, db, values, now)?.map_err(raise)
}

/// `redis.pcall`: returns the error table.
pub(super) fn pcall(
    lua: &Lua,
    db: &RefCell<&mut Db>,
    values: MultiValue,
    now: u64,
) -> mlua::Result<Value> {
    match command(lua, db, values, now)? {
        Ok(v) => Ok(v),
        Err(r) => unwrap(lua, Value::Error(Box::new(raise(r)))),
    }
}
