//! Streams: entries by id, consumer groups, and each group's pending entries list (PEL).
//!
//! The data and its invariants live here; the commands (`XADD`, `XREADGROUP`, …) are in
//! `commands/streams.rs` and `commands/groups.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A stream entry id, `<ms>-<seq>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub(super) struct StreamId {
    /// Milliseconds part.
    pub(super) ms: u64,
    /// Sequence part.
    pub(super) seq: u64,
}

impl StreamId {
    /// The smallest id.
    pub(super) const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    /// The largest id.
    pub(super) const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    /// The next id, if there is one.
    pub(super) fn next(self) -> Option<StreamId> {
        match self.seq.checked_add(1) {
            Some(seq) => Some(StreamId { seq, ..self }),
            None => self.ms.checked_add(1).map(|ms| StreamId { ms, seq: 0 }),
        }
    }

    /// The previous id, if there is one.
    pub(super) fn prev(self) -> Option<StreamId> {
        match self.seq.checked_sub(1) {
            Some(seq) => Some(StreamId { seq, ..self }),
            None => self
                .ms
                .checked_sub(1)
                .map(|ms| StreamId { ms, seq: u64::MAX }),
        }
    }

    /// Parses `<ms>` or `<ms>-<seq>`; a missing sequence is `missing_seq`.
    pub(super) fn parse(b: &[u8], missing_seq: u64) -> Option<StreamId> {
        let s = std::str::from_utf8(b).ok()?;
        let number = |t: &str| {
            if t.is_empty() || !t.bytes().all(|c| c.is_ascii_digit()) {
                None
            } else {
                t.parse::<u64>().ok()
            }
        };
        match s.split_once('-') {
            Some((ms, seq)) => Some(StreamId {
                ms: number(ms)?,
                seq: number(seq)?,
            }),
            None => Some(StreamId {
                ms: number(s)?,
                seq: missing_seq,
            }),
        }
    }

    /// The id as a reply's bytes.
    pub(super) fn bytes(self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// An entry's fields and values, in order.
pub(super) type Fields = Vec<(Vec<u8>, Vec<u8>)>;

/// A delivered, unacknowledged entry of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Pending {
    /// The consumer it was delivered to.
    pub(super) consumer: Vec<u8>,
    /// When it was last delivered (ms).
    pub(super) delivered_at: u64,
    /// How many times it was delivered.
    pub(super) deliveries: u64,
}

/// A consumer of a group.
#[derive(Debug, Clone, Default)]
pub(super) struct Consumer {
    /// When it last read or claimed (ms).
    pub(super) seen_at: u64,
    /// The ids pending for it (its share of the group's PEL).
    pub(super) pending: BTreeSet<StreamId>,
}

/// A consumer group.
#[derive(Debug, Clone, Default)]
pub(super) struct Group {
    /// The last id delivered to the group.
    pub(super) last_delivered: StreamId,
    /// The pending entries list.
    pub(super) pel: BTreeMap<StreamId, Pending>,
    /// Consumers by name.
    pub(super) consumers: BTreeMap<Vec<u8>, Consumer>,
}

impl Group {
    /// The consumer `name`, created if missing.
    pub(super) fn consumer(&mut self, name: &[u8], now: u64) -> &mut Consumer {
        let c = self.consumers.entry(name.to_vec()).or_default();
        c.seen_at = now;
        c
    }

    /// Records `id` as delivered to `consumer` at `now`: a new pending entry with one
    /// delivery, or an existing one moved to `consumer` with its count restarted.
    pub(super) fn deliver(&mut self, id: StreamId, consumer: &[u8], now: u64) {
        if let Some(old) = self.pel.get(&id)
            && let Some(c) = self.consumers.get_mut(&old.consumer)
        {
            c.pending.remove(&id);
        }
        self.pel.insert(
            id,
            Pending {
                consumer: consumer.to_vec(),
                delivered_at: now,
                deliveries: 1,
            },
        );
        self.consumer(consumer, now).pending.insert(id);
    }

    /// Moves pending `id` to `consumer` (claimed); returns its entry to update.
    pub(super) fn assign(&mut self, id: StreamId, consumer: &[u8]) -> Option<&mut Pending> {
        let owner = self.pel.get(&id)?.consumer.clone();
        if owner != consumer {
            if let Some(c) = self.consumers.get_mut(&owner) {
                c.pending.remove(&id);
            }
            self.consumers
                .entry(consumer.to_vec())
                .or_default()
                .pending
                .insert(id);
        }
        let p = self.pel.get_mut(&id)?;
        p.consumer = consumer.to_vec();
        Some(p)
    }

    /// Acknowledges `id`; returns whether it was pending.
    pub(super) fn ack(&mut self, id: StreamId) -> bool {
        match self.pel.remove(&id) {
            Some(p) => {
                if let Some(c) = self.consumers.get_mut(&p.consumer) {
                    c.pending.remove(&id);
                }
                true
            }
            None => false,
        }
    }
}

/// How `XADD`/`XTRIM` trims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Trim {
    /// Keep at most this many entries.
    MaxLen(u64),
    /// Drop entries below this id.
    MinId(StreamId),
}

/// Entries per node of Redis's stream radix tree (`stream-node-max-entries`): approximate
/// (`~`) trimming removes whole nodes only, taken here to hold exactly this many.
pub(super) const NODE_ENTRIES: usize = 100;

/// A stream.
#[derive(Debug, Clone, Default)]
pub(super) struct Stream {
    /// Entries by id.
    pub(super) entries: BTreeMap<StreamId, Fields>,
    /// The last id ever added (ids only grow, even after deletions).
    pub(super) last_id: StreamId,
    /// Consumer groups by name.
    pub(super) groups: BTreeMap<Vec<u8>, Group>,
}

impl Stream {
    /// Removes entries as `trim` says; `approx` removes whole nodes of [`NODE_ENTRIES`] only,
    /// at most `limit` entries (0: no limit). Returns how many went.
    pub(super) fn trim(&mut self, trim: Trim, approx: bool, limit: usize) -> usize {
        let mut removed = 0;
        loop {
            let len = self.entries.len();
            let Some((&first, _)) = self.entries.first_key_value() else {
                break;
            };
            let node = if approx { NODE_ENTRIES.min(len) } else { 1 };
            if limit > 0 && removed + node > limit {
                break;
            }
            let goes = match trim {
                Trim::MaxLen(max) => (len - node) as u64 >= max,
                Trim::MinId(min) => {
                    let last_of_node = self.entries.keys().nth(node - 1).copied().unwrap_or(first);
                    last_of_node < min
                }
            };
            if !goes {
                break;
            }
            for _ in 0..node {
                self.entries.pop_first();
            }
            removed += node;
        }
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream_of(n: u64) -> Stream {
        let mut s = Stream::default();
        for ms in 1..=n {
            s.entries.insert(StreamId { ms, seq: 0 }, Vec::new());
        }
        s
    }

    #[test]
    fn ids_parse_and_step() {
        assert_eq!(StreamId::parse(b"5-3", 0), Some(StreamId { ms: 5, seq: 3 }));
        assert_eq!(StreamId::parse(b"5", 9), Some(StreamId { ms: 5, seq: 9 }));
        for bad in [&b"5-"[..], b"-3", b"a-1", b"", b"+1"] {
            assert_eq!(StreamId::parse(bad, 0), None);
        }
        assert_eq!(
            StreamId {
                ms: 1,
                seq: u64::MAX
            }
            .next(),
            Some(StreamId { ms: 2, seq: 0 })
        );
        assert_eq!(StreamId::MAX.next(), None);
        assert_eq!(StreamId::MIN.prev(), None);
    }

    #[test]
    fn trims_exactly_or_by_whole_nodes() {
        let mut s = stream_of(250);
        assert_eq!(s.trim(Trim::MaxLen(100), true, 0), 100);
        assert_eq!(s.entries.len(), 150);
        assert_eq!(s.trim(Trim::MaxLen(100), false, 0), 50);
        let mut s = stream_of(10);
        assert_eq!(s.trim(Trim::MinId(StreamId { ms: 4, seq: 0 }), false, 0), 3);
        assert_eq!(
            s.trim(Trim::MaxLen(1), true, 0),
            0,
            "the node would leave too few"
        );
        assert_eq!(s.trim(Trim::MaxLen(0), true, 0), 7);
    }

    #[test]
    fn deliveries_move_between_consumers() {
        let mut g = Group::default();
        let id = StreamId { ms: 1, seq: 0 };
        g.deliver(id, b"a", 10);
        if let Some(p) = g.assign(id, b"b") {
            p.deliveries += 1;
        }
        assert!(g.consumers[&b"a".to_vec()].pending.is_empty());
        assert_eq!(g.pel[&id].deliveries, 2);
        assert!(g.ack(id) && !g.ack(id));
        assert!(g.consumers[&b"b".to_vec()].pending.is_empty());
    }
}
