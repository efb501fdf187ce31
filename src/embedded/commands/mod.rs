//! The command table and what every command shares: the call context, argument parsing,
//! Redis's error messages, arity checks and dispatch (from a client or from a script).
//!
//! One file per family: [`keys`] (keys, expiry, server and connection commands), [`strings`],
//! [`hashes`], [`lists`], [`zsets`], [`streams`] (entries), [`groups`] (consumer groups), [`delivery`] (reading and claiming) and
//! [`scripts`] (`EVAL`, `EVALSHA`, `SCRIPT`).

mod delivery;
mod groups;
mod hashes;
mod keys;
mod lists;
mod scripts;
mod streams;
mod strings;
mod zsets;

use std::collections::HashMap;
use std::sync::LazyLock;

use super::lua::Scripting;
use super::number;
use super::resp::Reply;
use super::store::{Db, Kind, WrongType};

/// A command's error reply, e.g. `ERR syntax error` (without the leading `-`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Fail(pub(super) String);

impl Fail {
    pub(super) fn new(msg: impl Into<String>) -> Fail {
        Fail(msg.into())
    }

    pub(super) fn syntax() -> Fail {
        Fail::new("ERR syntax error")
    }

    pub(super) fn not_int() -> Fail {
        Fail::new("ERR value is not an integer or out of range")
    }

    pub(super) fn not_float() -> Fail {
        Fail::new("ERR value is not a valid float")
    }
}

impl From<WrongType> for Fail {
    fn from(_: WrongType) -> Fail {
        Fail::new("WRONGTYPE Operation against a key holding the wrong kind of value")
    }
}

/// What a command returns: its reply, or its error.
pub(super) type Outcome = Result<Reply, Fail>;

/// One command being run.
pub(super) struct Call<'a> {
    /// The keyspace.
    pub(super) db: &'a mut Db,
    /// The script engine (`None` inside a script: scripts cannot run scripts).
    pub(super) scripting: Option<&'a mut Scripting>,
    /// The arguments, the command name first.
    pub(super) args: &'a [Vec<u8>],
    /// The command's clock (ms since the epoch): one instant for the whole command or script.
    pub(super) now: u64,
    /// Whether the command may block (not in a script or a transaction).
    pub(super) may_block: bool,
    /// Set by a command that would block: how long it waits, in ms (0: forever).
    pub(super) block: Option<u64>,
}

impl Call<'_> {
    /// Argument `i`.
    pub(super) fn arg(&self, i: usize) -> &[u8] {
        self.args.get(i).map_or(&[][..], Vec::as_slice)
    }

    /// Argument `i`, upper-cased (for keywords).
    pub(super) fn word(&self, i: usize) -> String {
        String::from_utf8_lossy(self.arg(i)).to_ascii_uppercase()
    }

    /// Argument `i` as an integer.
    pub(super) fn int(&self, i: usize) -> Result<i64, Fail> {
        number::parse_i64(self.arg(i)).ok_or_else(Fail::not_int)
    }

    /// Argument `i` as an integer, or the error `msg` (`ERR msg`).
    pub(super) fn int_or(&self, i: usize, msg: &str) -> Result<i64, Fail> {
        number::parse_i64(self.arg(i)).ok_or_else(|| Fail::new(format!("ERR {msg}")))
    }

    /// Argument `i` as a float.
    pub(super) fn float(&self, i: usize) -> Result<f64, Fail> {
        number::parse_f64(self.arg(i)).ok_or_else(Fail::not_float)
    }

    /// The value of type `T` at key argument `i`.
    pub(super) fn read<T: Kind>(&mut self, i: usize) -> Result<Option<&mut T>, Fail> {
        let key = self.args.get(i).map_or(&[][..], Vec::as_slice);
        Ok(self.db.get::<T>(key, self.now)?)
    }

    /// The value of type `T` at key argument `i`, created empty if missing.
    pub(super) fn write<T: Kind>(&mut self, i: usize) -> Result<&mut T, Fail> {
        let key = self.args.get(i).map_or(&[][..], Vec::as_slice);
        Ok(self.db.get_or_create::<T>(key, self.now)?)
    }

    /// Removes key argument `i` if its `T` became empty.
    pub(super) fn tidy<T: Kind>(&mut self, i: usize) {
        let key = self.args.get(i).map_or(&[][..], Vec::as_slice);
        self.db.drop_if_empty::<T>(key);
    }
}

/// A command's entry in the table.
pub(super) struct Spec {
    /// Lower-case name.
    pub(super) name: &'static str,
    /// Redis's arity: `n` exactly n arguments (name included), `-n` at least n.
    pub(super) arity: i32,
    /// Not allowed in scripts.
    pub(super) noscript: bool,
    /// The implementation.
    pub(super) run: fn(&mut Call) -> Outcome,
}

/// A table entry.
pub(super) const fn spec(name: &'static str, arity: i32, run: fn(&mut Call) -> Outcome) -> Spec {
    Spec {
        name,
        arity,
        noscript: false,
        run,
    }
}

/// A table entry for a command scripts may not call.
pub(super) const fn noscript(
    name: &'static str,
    arity: i32,
    run: fn(&mut Call) -> Outcome,
) -> Spec {
    Spec {
        name,
        arity,
        noscript: true,
        run,
    }
}

static TABLE: LazyLock<HashMap<&'static str, &'static Spec>> = LazyLock::new(|| {
    [
        keys::SPECS,
        strings::SPECS,
        hashes::SPECS,
        lists::SPECS,
        zsets::SPECS,
        streams::SPECS,
        groups::SPECS,
        delivery::SPECS,
        scripts::SPECS,
    ]
    .into_iter()
    .flatten()
    .map(|s| (s.name, s))
    .collect()
});

/// The command named `name` (any case).
pub(super) fn lookup(name: &[u8]) -> Option<&'static Spec> {
    let name = String::from_utf8_lossy(name).to_ascii_lowercase();
    TABLE.get(name.as_str()).copied()
}

fn arity_ok(arity: i32, argc: usize) -> bool {
    let argc = i64::try_from(argc).unwrap_or(i64::MAX);
    let arity = i64::from(arity);
    if arity >= 0 {
        argc == arity
    } else {
        argc >= -arity
    }
}

/// Redis's answer to an unknown command.
fn unknown(args: &[Vec<u8>]) -> Fail {
    let mut listed = String::new();
    for a in args.iter().skip(1) {
        if listed.len() >= 128 {
            break;
        }
        let room = 128 - listed.len();
        let text = String::from_utf8_lossy(a);
        let cut: String = text.chars().take(room).collect();
        listed.push_str(&format!("'{cut}' "));
    }
    let name: String = String::from_utf8_lossy(args.first().map_or(&[][..], Vec::as_slice))
        .chars()
        .take(128)
        .collect();
    Fail::new(format!(
        "ERR unknown command '{name}', with args beginning with: {listed}"
    ))
}

/// Checks that `args` name a known command with a valid number of arguments (what a
/// transaction checks when it queues a command).
pub(super) fn check(args: &[Vec<u8>]) -> Result<&'static Spec, Fail> {
    let spec = lookup(args.first().map_or(&[][..], Vec::as_slice)).ok_or_else(|| unknown(args))?;
    if !arity_ok(spec.arity, args.len()) {
        return Err(Fail::new(format!(
            "ERR wrong number of arguments for '{}' command",
            spec.name
        )));
    }
    Ok(spec)
}

/// Runs `call` as a client's command.
pub(super) fn dispatch(call: &mut Call) -> Outcome {
    let spec = check(call.args)?;
    (spec.run)(call)
}

/// Runs `call` as `redis.call` from a script does, with a script's error messages.
pub(super) fn dispatch_from_script(call: &mut Call) -> Outcome {
    let Some(spec) = lookup(call.arg(0)) else {
        return Err(Fail::new("ERR Unknown Redis command called from script"));
    };
    if spec.noscript {
        return Err(Fail::new(
            "ERR This Redis command is not allowed from script",
        ));
    }
    if !arity_ok(spec.arity, call.args.len()) {
        return Err(Fail::new(
            "ERR Wrong number of args calling Redis command from script",
        ));
    }
    (spec.run)(call)
}

/// Checks a subcommand of `command` (the second argument) against `known` (name and arity,
/// as Redis's table has them); returns its lower-case name.
pub(super) fn subcommand(
    call: &Call,
    command: &str,
    known: &[(&'static str, i32)],
) -> Result<&'static str, Fail> {
    let name = String::from_utf8_lossy(call.arg(1)).to_ascii_lowercase();
    let Some(&(sub, arity)) = known.iter().find(|(n, _)| *n == name) else {
        return Err(Fail::new(format!(
            "ERR unknown subcommand '{}'. Try {} HELP.",
            String::from_utf8_lossy(call.arg(1)),
            command.to_ascii_uppercase()
        )));
    };
    if !arity_ok(arity, call.args.len()) {
        return Err(Fail::new(format!(
            "ERR wrong number of arguments for '{command}|{sub}' command"
        )));
    }
    Ok(sub)
}
