//! Recording final outcomes, in batches: the worker's write path.
//!
//! One statement per batch: items known to the ledger get their outcome unless they have one
//! (so a job delivered twice is written once), items it has not seen (jobs enqueued without the
//! ledger: the CLI's single jobs, the Redis contract) are inserted with theirs, and the
//! campaigns' `items` and `pending` counters move by exactly what changed; the same statement
//! names the campaigns it left done, so nobody has to ask again.

use std::collections::HashSet;

use super::{Ledger, Result, at_ms};
use crate::queue::OutcomeRecord;

/// What a batch changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Outcomes written (items that had none).
    pub written: u64,
    /// Records ignored: their item had its outcome already.
    pub duplicates: u64,
    /// Campaigns this batch left closed with nothing pending: ready to end.
    pub done: Vec<String>,
}

/// Campaign ids remembered as existing, at most; past it the memory starts afresh.
const MAX_ENSURED: usize = 100_000;

impl Ledger {
    /// Creates the campaigns `records` name that this ledger has not seen exist yet.
    async fn ensure_known(&self, records: &[&OutcomeRecord]) -> Result<()> {
        let mut campaigns: Vec<String> = {
            let known = self.ensured.lock().unwrap_or_else(|e| e.into_inner());
            records
                .iter()
                .filter_map(|r| r.campaign.as_deref())
                .filter(|c| !known.contains(*c))
                .map(str::to_owned)
                .collect()
        };
        if campaigns.is_empty() {
            return Ok(());
        }
        campaigns.sort();
        campaigns.dedup();
        self.ensure_campaigns(&campaigns, "submission").await?;
        let mut known = self.ensured.lock().unwrap_or_else(|e| e.into_inner());
        if known.len() + campaigns.len() > MAX_ENSURED {
            known.clear();
        }
        known.extend(campaigns);
        Ok(())
    }

    /// Writes the final outcomes in `records` (their campaigns are created if unknown).
    pub async fn record<'a>(
        &self,
        records: impl IntoIterator<Item = &'a OutcomeRecord>,
    ) -> Result<Recorded> {
        let mut seen = HashSet::new();
        let records: Vec<&OutcomeRecord> = records
            .into_iter()
            .filter(|r| seen.insert(r.job.as_str()))
            .collect();
        if records.is_empty() {
            return Ok(Recorded::default());
        }
        self.ensure_known(&records).await?;

        // Columns borrow from the records: one allocation per column, none per value.
        let text = |f: fn(&OutcomeRecord) -> &str| records.iter().map(|r| f(r)).collect::<Vec<_>>();
        let opt = |f: fn(&OutcomeRecord) -> Option<&str>| {
            records.iter().map(|r| f(r)).collect::<Vec<_>>()
        };
        let first: Vec<Option<chrono::DateTime<chrono::Utc>>> = records
            .iter()
            .map(|r| r.first_attempt_ms.map(at_ms))
            .collect();
        let last: Vec<chrono::DateTime<chrono::Utc>> =
            records.iter().map(|r| at_ms(r.at_ms)).collect();
        let int = |f: fn(&OutcomeRecord) -> u32| {
            records
                .iter()
                .map(|r| i32::try_from(f(r)).unwrap_or(i32::MAX))
                .collect::<Vec<_>>()
        };
        let status: Vec<Option<i16>> = records
            .iter()
            .map(|r| r.http_status.and_then(|s| i16::try_from(s).ok()))
            .collect();
        let flags =
            |f: fn(&OutcomeRecord) -> bool| records.iter().map(|r| f(r)).collect::<Vec<_>>();

        let (written, done): (i64, Vec<String>) = sqlx::query_as(
            "WITH r AS (
                SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                                     $6::text[], $7::bool[], $8::bool[], $9::text[], $10::int[],
                                     $11::int[], $12::timestamptz[], $13::timestamptz[],
                                     $14::text[], $15::smallint[], $16::text[])
                AS r(job_id, campaign_id, provider, account, group_ref, outcome, success,
                     dead_letter, detail, attempts, throttled, first_at, last_at, last_error,
                     http_status, answer)),
             upd AS (
                UPDATE items i SET outcome = r.outcome, success = r.success,
                       dead_letter = r.dead_letter, detail = r.detail, attempts = r.attempts,
                       throttled = r.throttled, first_attempt_at = r.first_at,
                       last_attempt_at = r.last_at, last_error = r.last_error,
                       http_status = r.http_status, answer = r.answer, finished_at = now(),
                       queued_at = coalesce(i.queued_at, now())
                FROM r WHERE i.job_id = r.job_id AND i.outcome IS NULL
                RETURNING i.campaign_id),
             ins AS (
                INSERT INTO items (job_id, campaign_id, provider, account, group_ref, queued_at,
                                   outcome, success, dead_letter, detail, attempts, throttled,
                                   first_attempt_at, last_attempt_at, last_error, http_status,
                                   answer, finished_at)
                SELECT r.job_id, r.campaign_id, r.provider, r.account, r.group_ref, r.last_at,
                       r.outcome, r.success, r.dead_letter, r.detail, r.attempts, r.throttled,
                       r.first_at, r.last_at, r.last_error, r.http_status, r.answer, now()
                FROM r WHERE NOT EXISTS (SELECT 1 FROM items i WHERE i.job_id = r.job_id)
                ON CONFLICT DO NOTHING
                RETURNING campaign_id),
             counts AS (
                SELECT campaign_id, count(*) FILTER (WHERE done) AS done,
                       count(*) FILTER (WHERE NOT done) AS added
                FROM (SELECT campaign_id, true AS done FROM upd
                      UNION ALL SELECT campaign_id, false FROM ins) x
                WHERE campaign_id IS NOT NULL GROUP BY campaign_id),
             bump AS (
                UPDATE campaigns c SET pending = c.pending - counts.done,
                                       items = c.items + counts.added
                FROM counts WHERE c.id = counts.campaign_id
                RETURNING c.id, c.pending = 0 AND NOT c.accepting AND c.ended_at IS NULL AS done)
             SELECT (SELECT count(*) FROM upd) + (SELECT count(*) FROM ins),
                    array(SELECT id FROM bump WHERE done ORDER BY id)",
        )
        .bind(text(|r| &r.job))
        .bind(opt(|r| r.campaign.as_deref()))
        .bind(text(|r| &r.provider))
        .bind(text(|r| &r.account))
        .bind(text(|r| &r.group))
        .bind(text(|r| &r.class))
        .bind(flags(|r| r.success))
        .bind(flags(|r| r.dead_letter))
        .bind(text(|r| &r.detail))
        .bind(int(|r| r.attempts))
        .bind(int(|r| r.throttled))
        .bind(first)
        .bind(last)
        .bind(opt(|r| r.last_error.as_deref()))
        .bind(status)
        .bind(opt(|r| r.answer.as_deref()))
        .fetch_one(&self.pool)
        .await?;
        let written = u64::try_from(written).unwrap_or(0);
        Ok(Recorded {
            written,
            duplicates: records.len() as u64 - written,
            done,
        })
    }
}
