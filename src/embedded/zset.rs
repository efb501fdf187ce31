//! Sorted sets: members ordered by score, then by member bytes (Redis's skiplist order).

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};
use std::ops::Bound;

/// One member with its score, ordered as Redis orders them.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Item {
    /// The score (never NaN).
    pub(super) score: f64,
    /// The member.
    pub(super) member: Vec<u8>,
}

impl Eq for Item {}

impl Ord for Item {
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .partial_cmp(&other.score)
            .unwrap_or(Ordering::Equal)
            .then_with(|| self.member.cmp(&other.member))
    }
}

impl PartialOrd for Item {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A score bound: the value and whether it is exclusive (`(`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct ScoreBound {
    /// The score.
    pub(super) value: f64,
    /// `(score`: the score itself is out.
    pub(super) exclusive: bool,
}

impl ScoreBound {
    fn admits_above(&self, score: f64) -> bool {
        if self.exclusive {
            score > self.value
        } else {
            score >= self.value
        }
    }

    fn admits_below(&self, score: f64) -> bool {
        if self.exclusive {
            score < self.value
        } else {
            score <= self.value
        }
    }
}

/// A sorted set.
#[derive(Debug, Clone, Default)]
pub(super) struct ZSet {
    scores: HashMap<Vec<u8>, f64>,
    order: BTreeSet<Item>,
}

impl ZSet {
    /// Members in the set.
    pub(super) fn len(&self) -> usize {
        self.scores.len()
    }

    /// Whether the set is empty.
    pub(super) fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// `member`'s score.
    pub(super) fn score(&self, member: &[u8]) -> Option<f64> {
        self.scores.get(member).copied()
    }

    /// Sets `member`'s score (adding it if new).
    pub(super) fn insert(&mut self, member: &[u8], score: f64) {
        if let Some(old) = self.scores.insert(member.to_vec(), score) {
            self.order.remove(&Item {
                score: old,
                member: member.to_vec(),
            });
        }
        self.order.insert(Item {
            score,
            member: member.to_vec(),
        });
    }

    /// Removes `member`; returns whether it was there.
    pub(super) fn remove(&mut self, member: &[u8]) -> bool {
        match self.scores.remove(member) {
            Some(score) => {
                self.order.remove(&Item {
                    score,
                    member: member.to_vec(),
                });
                true
            }
            None => false,
        }
    }

    /// Members in order (`rev`: highest first).
    pub(super) fn iter(&self, rev: bool) -> Box<dyn Iterator<Item = &Item> + '_> {
        if rev {
            Box::new(self.order.iter().rev())
        } else {
            Box::new(self.order.iter())
        }
    }

    /// Members with scores within `min`..`max`, in order (`rev`: highest first).
    pub(super) fn range_by_score(
        &self,
        min: ScoreBound,
        max: ScoreBound,
        rev: bool,
    ) -> Box<dyn Iterator<Item = &Item> + '_> {
        if min.value > max.value || min.value.is_nan() || max.value.is_nan() {
            return Box::new(std::iter::empty());
        }
        let low = Item {
            score: min.value,
            member: Vec::new(),
        };
        let range = self.order.range((Bound::Included(low), Bound::Unbounded));
        let within = move |i: &&Item| min.admits_above(i.score) && max.admits_below(i.score);
        if rev {
            Box::new(
                range
                    .rev()
                    .skip_while(move |i| !max.admits_below(i.score))
                    .take_while(move |i| min.admits_above(i.score))
                    .filter(within),
            )
        } else {
            Box::new(
                range
                    .skip_while(move |i| !min.admits_above(i.score))
                    .take_while(move |i| max.admits_below(i.score))
                    .filter(within),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_by_score_then_member_and_ranges() {
        let mut z = ZSet::default();
        for (m, s) in [("b", 1.0), ("a", 1.0), ("c", 0.5), ("d", 2.0)] {
            z.insert(m.as_bytes(), s);
        }
        z.insert(b"c", 3.0);
        let names: Vec<&[u8]> = z.iter(false).map(|i| i.member.as_slice()).collect();
        assert_eq!(names, [&b"a"[..], b"b", b"d", b"c"]);
        let b = |value, exclusive| ScoreBound { value, exclusive };
        let within: Vec<&[u8]> = z
            .range_by_score(b(1.0, true), b(3.0, false), false)
            .map(|i| i.member.as_slice())
            .collect();
        assert_eq!(within, [&b"d"[..], b"c"]);
        let rev: Vec<&[u8]> = z
            .range_by_score(b(f64::NEG_INFINITY, false), b(2.0, true), true)
            .map(|i| i.member.as_slice())
            .collect();
        assert_eq!(rev, [&b"b"[..], b"a"]);
        assert!(z.remove(b"a") && !z.remove(b"a"));
        assert_eq!(z.len(), 3);
    }
}
