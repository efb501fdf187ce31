//! The embedded ledger: the same items, outcomes and counts as the PostgreSQL ledger, kept in
//! the process's memory for one run. `bulkleave demo` records through it, so the demo needs no
//! database; the ledger writer ([`crate::campaign::recorder`]) feeds it exactly as it feeds
//! PostgreSQL, batch by batch from the outcomes stream.
//!
//! It keeps the rules of the real ledger: an item's outcome is written once, however often
//! its job was delivered; an outcome for an item it has not seen adds the item; a campaign is
//! done once it is closed and none of its items is pending. Nothing survives the process.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};

use super::status::Tally;
use super::{Counts, Item, NewItem, Recorded, at_ms};
use crate::queue::OutcomeRecord;

/// The in-memory ledger (cheap to clone: clones share it).
#[derive(Debug, Clone, Default)]
pub struct MemoryLedger {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Items in the order they were added.
    items: Vec<Row>,
    /// Index into `items` by job id.
    by_job: HashMap<String, usize>,
    campaigns: BTreeMap<String, CampaignRow>,
}

#[derive(Debug)]
struct Row {
    item: Item,
    finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Default)]
struct CampaignRow {
    closed: bool,
    ended: bool,
}

impl MemoryLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds `items` to `campaign` (created open if new), pending and not yet queued; items
    /// it holds already are left as they are. Returns how many were added.
    pub fn stage(&self, campaign: &str, items: &[NewItem]) -> usize {
        let mut inner = self.lock();
        let now = Utc::now();
        let mut added = 0;
        for new in items {
            if inner.by_job.contains_key(&new.job_id) {
                continue;
            }
            let item = Item {
                line: new.line,
                requested_by: new.requested_by.clone(),
                ..pending(
                    &new.job_id,
                    Some(campaign),
                    &new.provider,
                    &new.account,
                    &new.group_ref,
                    now,
                )
            };
            let idx = inner.items.len();
            inner.by_job.insert(new.job_id.clone(), idx);
            inner.items.push(Row {
                item,
                finished_at: None,
            });
            added += 1;
        }
        inner.campaigns.entry(campaign.to_owned()).or_default();
        added
    }

    /// Marks the items of `job_ids` queued (now, unless they were before).
    pub fn mark_queued(&self, job_ids: &[String]) {
        let mut inner = self.lock();
        let now = Utc::now();
        for id in job_ids {
            if let Some(&idx) = inner.by_job.get(id) {
                inner.items[idx].item.queued_at.get_or_insert(now);
            }
        }
    }

    /// Closes `campaign`: it takes no more items.
    pub fn close(&self, campaign: &str) {
        self.lock()
            .campaigns
            .entry(campaign.to_owned())
            .or_default()
            .closed = true;
    }

    /// Ends `campaign` if it is closed with nothing pending; true if this call ended it.
    pub fn end_if_done(&self, campaign: &str) -> bool {
        let mut inner = self.lock();
        if !inner.done(campaign) {
            return false;
        }
        if let Some(row) = inner.campaigns.get_mut(campaign) {
            row.ended = true;
        }
        true
    }

    /// Writes the final outcomes in `records`: each item gets its first outcome only, items
    /// not seen before are added with theirs (and their campaign, open, if new).
    pub fn record<'a>(&self, records: impl IntoIterator<Item = &'a OutcomeRecord>) -> Recorded {
        let mut inner = self.lock();
        let now = Utc::now();
        let mut recorded = Recorded::default();
        let mut touched = HashSet::new();
        // As the PostgreSQL statement: a job repeated within the batch counts once, its first
        // record; a job whose item has its outcome already is a duplicate.
        let mut seen = HashSet::new();
        for r in records.into_iter().filter(|r| seen.insert(r.job.as_str())) {
            let idx = match inner.by_job.get(&r.job) {
                Some(&idx) if inner.items[idx].item.outcome.is_some() => {
                    recorded.duplicates += 1;
                    continue;
                }
                Some(&idx) => idx,
                None => {
                    let idx = inner.items.len();
                    inner.by_job.insert(r.job.clone(), idx);
                    inner.items.push(Row {
                        item: unseen(r, now),
                        finished_at: None,
                    });
                    if let Some(c) = &r.campaign {
                        inner.campaigns.entry(c.clone()).or_default();
                    }
                    idx
                }
            };
            let row = &mut inner.items[idx];
            apply(&mut row.item, r, now);
            row.finished_at = Some(now);
            recorded.written += 1;
            if let Some(c) = &row.item.campaign_id {
                touched.insert(c.clone());
            }
        }
        recorded.done = touched.into_iter().filter(|c| inner.done(c)).collect();
        recorded.done.sort();
        recorded
    }

    /// The counts of `campaign`, as [`Ledger::counts`](super::Ledger::counts) gives them.
    pub fn counts(&self, campaign: &str) -> Counts {
        let inner = self.lock();
        let minute_ago = Utc::now() - chrono::Duration::minutes(1);
        let mut counts = Counts::default();
        for row in inner.in_campaign(campaign) {
            let item = &row.item;
            counts.add(&Tally {
                provider: &item.provider,
                account: &item.account,
                outcome: item.outcome.as_deref(),
                success: item.success,
                dead_letter: item.dead_letter,
                n: 1,
                recent: i64::from(row.finished_at.is_some_and(|at| at > minute_ago)),
            });
        }
        counts
    }

    /// The items of `campaign`, by line (items without one last, in the order they came).
    pub fn items(&self, campaign: &str) -> Vec<Item> {
        let inner = self.lock();
        let mut items: Vec<Item> = inner
            .in_campaign(campaign)
            .map(|row| row.item.clone())
            .collect();
        items.sort_by_key(|i| i.line.unwrap_or(i64::MAX));
        items
    }
}

impl Inner {
    /// Whether `campaign` is closed, not ended, and none of its items is pending.
    fn done(&self, campaign: &str) -> bool {
        self.campaigns
            .get(campaign)
            .is_some_and(|row| row.closed && !row.ended)
            && self
                .in_campaign(campaign)
                .all(|row| row.item.outcome.is_some())
    }

    fn in_campaign<'a>(&'a self, campaign: &'a str) -> impl Iterator<Item = &'a Row> + 'a {
        self.items
            .iter()
            .filter(move |row| row.item.campaign_id.as_deref() == Some(campaign))
    }
}

/// The item of an outcome the ledger has not seen (its job was not staged).
fn unseen(r: &OutcomeRecord, now: DateTime<Utc>) -> Item {
    Item {
        queued_at: Some(at_ms(r.at_ms)),
        ..pending(
            &r.job,
            r.campaign.as_deref(),
            &r.provider,
            &r.account,
            &r.group,
            now,
        )
    }
}

/// A new item without an outcome, created `now`.
fn pending(
    job_id: &str,
    campaign: Option<&str>,
    provider: &str,
    account: &str,
    group_ref: &str,
    now: DateTime<Utc>,
) -> Item {
    Item {
        job_id: job_id.to_owned(),
        campaign_id: campaign.map(str::to_owned),
        line: None,
        provider: provider.to_owned(),
        account: account.to_owned(),
        group_ref: group_ref.to_owned(),
        requested_by: None,
        created_at: now,
        queued_at: None,
        outcome: None,
        success: None,
        dead_letter: false,
        detail: None,
        attempts: 0,
        throttled: 0,
        first_attempt_at: None,
        last_attempt_at: None,
        last_error: None,
        http_status: None,
        answer: None,
    }
}

/// Writes `r` into its item, as the ledger's outcome statement does.
fn apply(item: &mut Item, r: &OutcomeRecord, now: DateTime<Utc>) {
    item.outcome = Some(r.class.clone());
    item.success = Some(r.success);
    item.dead_letter = r.dead_letter;
    item.detail = Some(r.detail.clone());
    item.attempts = i32::try_from(r.attempts).unwrap_or(i32::MAX);
    item.throttled = i32::try_from(r.throttled).unwrap_or(i32::MAX);
    item.first_attempt_at = r.first_attempt_ms.map(at_ms);
    item.last_attempt_at = Some(at_ms(r.at_ms));
    item.last_error = r.last_error.clone();
    item.http_status = r.http_status.and_then(|s| i16::try_from(s).ok());
    item.answer = r.answer.clone();
    item.queued_at.get_or_insert(now);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_item(job: &str, line: i64) -> NewItem {
        NewItem {
            job_id: job.into(),
            line: Some(line),
            provider: "wasend".into(),
            account: "w".into(),
            group_ref: format!("12036340628900{line:04}@g.us"),
            idempotency_key: format!("k{line}"),
            requested_by: Some("demo".into()),
        }
    }

    fn outcome(job: &str, class: &str, success: bool) -> OutcomeRecord {
        OutcomeRecord {
            job: job.into(),
            campaign: Some("c".into()),
            provider: "wasend".into(),
            account: "w".into(),
            group: "g".into(),
            class: class.into(),
            success,
            detail: "d".into(),
            attempts: 1,
            throttled: 0,
            http_status: Some(200),
            at_ms: 1_700_000_000_000,
            dead_letter: false,
            first_attempt_ms: None,
            last_error: None,
            answer: None,
            traceparent: None,
        }
    }

    #[test]
    fn an_outcome_is_written_once_and_a_closed_campaign_is_done_when_nothing_is_pending() {
        let ledger = MemoryLedger::new();
        assert_eq!(ledger.stage("c", &[new_item("a", 1), new_item("b", 2)]), 2);
        assert_eq!(ledger.stage("c", &[new_item("a", 1)]), 0, "staged twice");
        ledger.close("c");
        assert!(!ledger.end_if_done("c"), "a and b are pending");
        // Repeated within one batch: counted once, as PostgreSQL does.
        let first = ledger.record([&outcome("a", "left", true), &outcome("a", "left", true)]);
        assert_eq!((first.written, first.duplicates), (1, 0));
        assert!(first.done.is_empty(), "b is still pending");
        let again = ledger.record([&outcome("a", "provider_error", false)]);
        assert_eq!((again.written, again.duplicates), (0, 1));
        let last = ledger.record([&outcome("b", "already_left", true)]);
        assert_eq!(last.done, vec!["c".to_owned()]);
        assert!(ledger.end_if_done("c"));
        assert!(!ledger.end_if_done("c"), "ended once");
        assert!(ledger.record([&outcome("b", "left", true)]).done.is_empty());

        let items = ledger.items("c");
        assert_eq!(items.len(), 2);
        assert_eq!(
            items[0].outcome.as_deref(),
            Some("left"),
            "first outcome kept"
        );
        assert_eq!(items[1].outcome.as_deref(), Some("already_left"));
        let counts = ledger.counts("c");
        assert_eq!(counts.by_account["w"].succeeded, 2);
        assert_eq!(counts.by_account["w"].pending, 0);
    }

    #[test]
    fn an_unseen_item_is_added_with_its_outcome_and_pending_items_are_counted() {
        let ledger = MemoryLedger::new();
        ledger.stage("c", &[new_item("a", 1)]);
        let mut dead = outcome("x", "provider_error", false);
        dead.dead_letter = true;
        let recorded = ledger.record([&dead]);
        assert_eq!(recorded.written, 1);
        let counts = ledger.counts("c");
        assert_eq!(counts.by_outcome["pending"], 1);
        assert_eq!(counts.by_outcome["provider_error"], 1);
        assert_eq!(counts.dead_letters, 1);
        assert_eq!(counts.by_account["w"].failed, 1);
        assert_eq!(counts.finished_last_minute, 1);
        assert_eq!(ledger.items("c").len(), 2);
    }
}
