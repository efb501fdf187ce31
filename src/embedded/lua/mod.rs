//! Scripting: `EVAL`/`EVALSHA` scripts run in one Lua 5.1 state (as in Redis), with the
//! `redis` and `cjson` tables Redis gives them.
//!
//! Scripts are compiled once and kept by SHA-1 (`SCRIPT LOAD`, or a first `EVAL`). A script
//! runs while the caller holds the keyspace lock, so it is atomic; `redis.call` and
//! `redis.pcall` reach the keyspace through native functions that live only for that run.
//! `bootstrap.lua` builds what Redis 7.0 gives scripts (read-only globals, Redis's `pcall`);
//! `native.rs` has the native functions and the error handler that makes errors read
//! `<message> script: <sha>, on @user_script:<line>.`; conversions between Lua and replies
//! follow Redis's rules (`convert.rs`), `cjson` those of lua-cjson (`cjson.rs`).

mod cjson;
mod convert;
mod native;

use std::cell::RefCell;
use std::collections::HashMap;

use mlua::chunk::ChunkMode;
use mlua::{Function, LightUserData, Lua, LuaOptions, MultiValue, StdLib, Table, Value};
use sha1::{Digest, Sha1};

use super::commands::{Fail, Outcome};
use super::store::Db;

/// Chunk name of `bootstrap.lua`: frames from it are not the script's own.
const INTERNAL: &str = "=embedded";
/// Chunk name of user scripts (Lua prints it as `user_script`).
const USER: &str = "@user_script";

/// The Lua state and the compiled scripts.
pub(in crate::embedded) struct Scripting {
    lua: Lua,
    /// What scripts see as their globals.
    env: Table,
    /// The `redis` table (behind its read-only proxy): `call` and `pcall` are set in it while
    /// a script runs.
    redis: Table,
    /// `xpcall`s a script with Redis's error handler.
    runner: Function,
    /// Compiled scripts by SHA-1 (lower-case hex).
    cache: HashMap<String, Function>,
}

impl std::fmt::Debug for Scripting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scripting")
            .field("scripts", &self.cache.len())
            .finish_non_exhaustive()
    }
}

/// SHA-1 of `body` in lower-case hex.
pub(in crate::embedded) fn sha1_hex(body: &[u8]) -> String {
    hex::encode(Sha1::digest(body))
}

fn log(_: &Lua, (level, message): (i64, String)) -> mlua::Result<()> {
    match level {
        3 => tracing::warn!(target: "bulkleave::embedded::script", "{message}"),
        2 => tracing::info!(target: "bulkleave::embedded::script", "{message}"),
        _ => tracing::debug!(target: "bulkleave::embedded::script", "{message}"),
    }
    Ok(())
}

impl Scripting {
    /// A fresh Lua state with Redis's libraries and tables.
    pub(in crate::embedded) fn new() -> mlua::Result<Scripting> {
        let lua = Lua::new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH,
            LuaOptions::default(),
        )?;
        let sha1hex =
            lua.create_function(|_, text: mlua::LuaString| Ok(sha1_hex(&text.as_bytes())))?;
        let (runner, env, redis): (Function, Table, Table) = lua
            .load(include_str!("bootstrap.lua"))
            .set_name(INTERNAL)
            .call((
                lua.create_function(native::handler)?,
                lua.create_function(native::unwrap)?,
                lua.create_function(native::json_decode)?,
                lua.create_function(native::json_encode)?,
                sha1hex,
                lua.create_function(log)?,
                Value::LightUserData(LightUserData(std::ptr::null_mut())),
            ))?;
        Ok(Scripting {
            lua,
            env,
            redis,
            runner,
            cache: HashMap::new(),
        })
    }

    /// Compiles `body` (unless known) and returns its SHA-1.
    pub(in crate::embedded) fn load(&mut self, body: &[u8]) -> Result<String, Fail> {
        let sha = sha1_hex(body);
        if !self.cache.contains_key(&sha) {
            let function = self
                .lua
                .load(body)
                .set_name(USER)
                .set_mode(ChunkMode::Text)
                .set_environment(self.env.clone())
                .into_function()
                .map_err(|e| {
                    let message = match e {
                        mlua::Error::SyntaxError { message, .. } => message,
                        other => other.to_string(),
                    };
                    Fail::new(format!(
                        "ERR Error compiling script (new function): {message}"
                    ))
                })?;
            self.cache.insert(sha.clone(), function);
        }
        Ok(sha)
    }

    /// Whether a script with this SHA-1 is known.
    pub(in crate::embedded) fn exists(&self, sha: &str) -> bool {
        self.cache.contains_key(&sha.to_ascii_lowercase())
    }

    /// Forgets every script.
    pub(in crate::embedded) fn flush(&mut self) {
        self.cache.clear();
        self.lua.gc_collect().ok();
    }

    /// Runs the script `sha` with `keys` and `argv` on `db` at `now`, atomically.
    pub(in crate::embedded) fn run(
        &mut self,
        db: &mut Db,
        sha: &str,
        keys: &[Vec<u8>],
        argv: &[Vec<u8>],
        now: u64,
    ) -> Outcome {
        let sha = sha.to_ascii_lowercase();
        let Some(function) = self.cache.get(&sha).cloned() else {
            return Err(Fail::new("NOSCRIPT No matching script. Please use EVAL."));
        };
        match self.invoke(db, function, keys, argv, now) {
            Ok((true, value)) => Ok(convert::to_reply(&value, 0)),
            Ok((false, error)) => Err(Fail(convert::script_error(&error, &sha))),
            Err(e) => Err(Fail::new(format!(
                "ERR Error running script {sha}: {}",
                e.to_string().replace(['\r', '\n'], " ")
            ))),
        }
    }

    fn invoke(
        &self,
        db: &mut Db,
        function: Function,
        keys: &[Vec<u8>],
        argv: &[Vec<u8>],
        now: u64,
    ) -> mlua::Result<(bool, Value)> {
        let globals = self.lua.globals();
        globals.raw_set("KEYS", self.strings(keys)?)?;
        globals.raw_set("ARGV", self.strings(argv)?)?;
        let db = RefCell::new(db);
        self.lua.scope(|scope| {
            let call =
                scope.create_function(|lua, args: MultiValue| native::call(lua, &db, args, now))?;
            let pcall = scope
                .create_function(|lua, args: MultiValue| native::pcall(lua, &db, args, now))?;
            self.redis.raw_set("call", call)?;
            self.redis.raw_set("pcall", pcall)?;
            let out = self.runner.call::<(bool, Value)>(function);
            self.redis.raw_set("call", Value::Nil)?;
            self.redis.raw_set("pcall", Value::Nil)?;
            out
        })
    }

    fn strings(&self, items: &[Vec<u8>]) -> mlua::Result<Table> {
        let t = self.lua.create_table_with_capacity(items.len(), 0)?;
        for (i, item) in items.iter().enumerate() {
            t.raw_set(i + 1, self.lua.create_string(item)?)?;
        }
        Ok(t)
    }
}
