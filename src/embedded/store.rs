//! The keyspace: values by key, each with an optional expiry (milliseconds since the epoch).
//!
//! Expiry is lazy, as far as anyone can tell the same as Redis's: a key past its time is
//! removed when a command looks at it, and commands that list keys skip it. Empty hashes,
//! lists and sorted sets are removed like in Redis; an empty stream stays.

use std::collections::{HashMap, VecDeque};

use indexmap::IndexMap;

use super::stream::Stream;
use super::zset::ZSet;

/// A hash: field order is insertion order, as Redis's small (listpack) hashes keep it.
pub(super) type Hash = IndexMap<Vec<u8>, Vec<u8>>;
/// A list.
pub(super) type List = VecDeque<Vec<u8>>;

/// A value of one of the supported types.
#[derive(Debug, Clone)]
pub(super) enum Value {
    /// A string.
    Str(Vec<u8>),
    /// A hash.
    Hash(Hash),
    /// A list.
    List(List),
    /// A sorted set.
    ZSet(ZSet),
    /// A stream with its consumer groups.
    Stream(Box<Stream>),
}

impl Value {
    /// The name `TYPE` answers.
    pub(super) fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Hash(_) => "hash",
            Value::List(_) => "list",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }
}

/// A Rust type that is one of [`Value`]'s variants, for typed access.
pub(super) trait Kind: Default {
    /// The value as this kind, if it is one.
    fn of(v: &Value) -> Option<&Self>;
    /// The value as this kind, mutably, if it is one.
    fn of_mut(v: &mut Value) -> Option<&mut Self>;
    /// Wraps a new value.
    fn wrap(self) -> Value;
    /// Whether the key should go (an empty collection; never for strings and streams).
    fn vanishes(&self) -> bool;
}

macro_rules! kind {
    ($t:ty, $variant:ident, $wrap:expr, $vanishes:expr) => {
        impl Kind for $t {
            fn of(v: &Value) -> Option<&Self> {
                match v {
                    Value::$variant(x) => Some(x),
                    _ => None,
                }
            }
            fn of_mut(v: &mut Value) -> Option<&mut Self> {
                match v {
                    Value::$variant(x) => Some(x),
                    _ => None,
                }
            }
            fn wrap(self) -> Value {
                let wrap: fn(Self) -> Value = $wrap;
                wrap(self)
            }
            fn vanishes(&self) -> bool {
                let vanishes: fn(&Self) -> bool = $vanishes;
                vanishes(self)
            }
        }
    };
}

kind!(Vec<u8>, Str, Value::Str, |_| false);
kind!(Hash, Hash, Value::Hash, IndexMap::is_empty);
kind!(List, List, Value::List, VecDeque::is_empty);
kind!(ZSet, ZSet, Value::ZSet, ZSet::is_empty);

impl Kind for Stream {
    fn of(v: &Value) -> Option<&Self> {
        match v {
            Value::Stream(s) => Some(s),
            _ => None,
        }
    }
    fn of_mut(v: &mut Value) -> Option<&mut Self> {
        match v {
            Value::Stream(s) => Some(s),
            _ => None,
        }
    }
    fn wrap(self) -> Value {
        Value::Stream(Box::new(self))
    }
    fn vanishes(&self) -> bool {
        false
    }
}

/// A key's value and expiry.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    /// The value.
    pub(super) value: Value,
    /// When the key expires (ms since the epoch), if it does.
    pub(super) expires_at: Option<u64>,
}

/// A value of another type than the command works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct WrongType;

/// The keyspace (database 0).
#[derive(Debug, Default)]
pub(super) struct Db {
    keys: HashMap<Vec<u8>, Entry>,
    /// Set when a stream may have something new for a blocked reader.
    wake: bool,
}

impl Db {
    /// The live entry at `key` at `now` (an expired one is removed).
    pub(super) fn entry(&mut self, key: &[u8], now: u64) -> Option<&mut Entry> {
        if self
            .keys
            .get(key)
            .is_some_and(|e| e.expires_at.is_some_and(|at| at <= now))
        {
            self.remove(key);
        }
        self.keys.get_mut(key)
    }

    /// The value at `key` as `T`; `Err` if it holds another type.
    pub(super) fn get<T: Kind>(
        &mut self,
        key: &[u8],
        now: u64,
    ) -> Result<Option<&mut T>, WrongType> {
        match self.entry(key, now) {
            None => Ok(None),
            Some(e) => T::of_mut(&mut e.value).map(Some).ok_or(WrongType),
        }
    }

    /// The value at `key` as `T`, created empty if missing.
    pub(super) fn get_or_create<T: Kind>(
        &mut self,
        key: &[u8],
        now: u64,
    ) -> Result<&mut T, WrongType> {
        if self.entry(key, now).is_none() {
            self.insert(key.to_vec(), T::default().wrap(), None);
        }
        match self.keys.get_mut(key) {
            Some(e) => T::of_mut(&mut e.value).ok_or(WrongType),
            None => Err(WrongType),
        }
    }

    /// Removes `key` if its value (a `T`) became empty.
    pub(super) fn drop_if_empty<T: Kind>(&mut self, key: &[u8]) {
        if self
            .keys
            .get(key)
            .and_then(|e| T::of(&e.value))
            .is_some_and(T::vanishes)
        {
            self.remove(key);
        }
    }

    /// Sets `key` to `value` with `expires_at`, replacing whatever was there.
    pub(super) fn insert(&mut self, key: Vec<u8>, value: Value, expires_at: Option<u64>) {
        self.keys.insert(key, Entry { value, expires_at });
    }

    /// Removes `key` (expired or not); returns whether it was live at `now`.
    pub(super) fn delete(&mut self, key: &[u8], now: u64) -> bool {
        self.entry(key, now).is_some() && self.remove(key)
    }

    fn remove(&mut self, key: &[u8]) -> bool {
        match self.keys.remove(key) {
            Some(e) => {
                if matches!(e.value, Value::Stream(_)) {
                    self.wake = true;
                }
                true
            }
            None => false,
        }
    }

    /// The live keys at `now`.
    pub(super) fn live_keys(&self, now: u64) -> impl Iterator<Item = (&Vec<u8>, &Entry)> {
        self.keys
            .iter()
            .filter(move |(_, e)| e.expires_at.is_none_or(|at| at > now))
    }

    /// Removes every key.
    pub(super) fn clear(&mut self) {
        self.keys.clear();
        self.wake = true;
    }

    /// Notes that a stream changed in a way a blocked reader may care about.
    pub(super) fn signal_streams(&mut self) {
        self.wake = true;
    }

    /// Whether streams changed since the last call.
    pub(super) fn take_wake(&mut self) -> bool {
        std::mem::take(&mut self.wake)
    }
}
