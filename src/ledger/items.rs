//! Items: staging an upload's rows, releasing them to the queue, discarding a failed upload,
//! and listing a campaign's items with filters and keyset pagination.
//!
//! An upload's rows are inserted with `queued_at` NULL (*staged*); once the whole upload has
//! been read they are enqueued in job-id order and marked queued (*released*). Enqueueing comes
//! before the mark, and the queue's idempotency key makes a repeated enqueue a no-op, so a
//! release cut off half-way is resumed without losing or doubling a job.
//!
//! Every step of an upload's sender (a batch staged, the release started, a batch released)
//! refreshes its `touched_at` in the same statement, and each step checks the state it
//! needs: housekeeping discards only an upload being received that has not moved for a
//! while, takes over only a release that has not moved for a while, and a sender that comes
//! back to an upload discarded meanwhile is told so ([`Error::UploadGone`]).

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{Error, Ledger, Result};

/// An item to add.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct NewItem {
    /// The job id it runs as.
    pub job_id: String,
    /// Its line in the upload (1-based), if it came from one.
    pub line: Option<i64>,
    /// Provider.
    pub provider: String,
    /// Account.
    pub account: String,
    /// Group, normalised.
    pub group_ref: String,
    /// The job's idempotency key.
    pub idempotency_key: String,
    /// Who asked.
    pub requested_by: Option<String>,
}

/// An item as the ledger keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Item {
    /// The job id.
    pub job_id: String,
    /// The campaign, if any.
    pub campaign_id: Option<String>,
    /// Line in the upload.
    pub line: Option<i64>,
    /// Provider.
    pub provider: String,
    /// Account.
    pub account: String,
    /// Group.
    #[serde(rename = "group")]
    pub group_ref: String,
    /// Who asked.
    pub requested_by: Option<String>,
    /// When it was added.
    pub created_at: DateTime<Utc>,
    /// When it went on the queue.
    pub queued_at: Option<DateTime<Utc>>,
    /// Final outcome class (`left`, `already_left`, …, `cancelled`); none while pending.
    pub outcome: Option<String>,
    /// Whether the account is out of the group (the provider said so).
    pub success: Option<bool>,
    /// Whether it ended as a dead letter.
    pub dead_letter: bool,
    /// Outcome detail.
    pub detail: Option<String>,
    /// Attempts counted against the retry budget.
    pub attempts: i32,
    /// Rate-limited attempts.
    pub throttled: i32,
    /// When the first attempt started.
    pub first_attempt_at: Option<DateTime<Utc>>,
    /// When the last attempt ended.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The last failed attempt before the final one.
    pub last_error: Option<String>,
    /// HTTP status of the provider's last answer.
    pub http_status: Option<i16>,
    /// Safe summary of the provider's last answer.
    pub answer: Option<String>,
}

pub(super) const ITEM_COLUMNS: &str = "job_id, campaign_id, line, provider, account, group_ref, \
     requested_by, created_at, queued_at, outcome, success, dead_letter, detail, attempts, \
     throttled, first_attempt_at, last_attempt_at, last_error, http_status, answer";

/// Which of a campaign's items to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemFilter {
    /// Only this outcome (`pending` for items without one).
    pub outcome: Option<String>,
    /// Only this account.
    pub account: Option<String>,
}

/// Deletes the staged rows of the uploads `$1` and takes them off their campaigns' counters.
const DISCARD_STAGED: &str = "WITH gone AS (
        DELETE FROM items WHERE upload_id = ANY($1) AND queued_at IS NULL
        RETURNING campaign_id, outcome IS NULL AS was_pending)
     UPDATE campaigns c SET items = c.items - g.n, pending = c.pending - g.p
     FROM (SELECT campaign_id, count(*) AS n, count(*) FILTER (WHERE was_pending) AS p
           FROM gone GROUP BY campaign_id) g
     WHERE c.id = g.campaign_id";

/// An upload's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadState {
    /// Every accepted row is on the queue.
    Released,
    /// It failed: its rows are gone.
    Discarded,
}

impl Ledger {
    /// Starts an upload into `campaign`.
    pub async fn start_upload(&self, campaign: &str, created_by: &str) -> Result<Uuid> {
        let id = Uuid::now_v7();
        sqlx::query("INSERT INTO uploads (id, campaign_id, created_by) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(campaign)
            .bind(created_by)
            .execute(&self.pool)
            .await?;
        Ok(id)
    }

    /// Inserts `items` (staged when `upload` is given, else queued now) and counts them on the
    /// campaign; returns the job ids inserted. An item whose target is in the campaign already
    /// is left out. Staging into an upload marks it alive, and fails with
    /// [`Error::UploadGone`] (inserting nothing) if it is no longer being received.
    pub async fn stage(
        &self,
        campaign: Option<&str>,
        upload: Option<Uuid>,
        items: &[NewItem],
    ) -> Result<Vec<String>> {
        let col = |f: fn(&NewItem) -> &str| items.iter().map(f).collect::<Vec<_>>();
        let lines: Vec<Option<i64>> = items.iter().map(|i| i.line).collect();
        let by: Vec<Option<&str>> = items.iter().map(|i| i.requested_by.as_deref()).collect();
        let (alive, inserted): (bool, Vec<String>) = sqlx::query_as(
            "WITH up AS (
                UPDATE uploads SET touched_at = now()
                WHERE id = $2 AND state = 'receiving' RETURNING id),
             ins AS (
                INSERT INTO items (job_id, campaign_id, upload_id, line, provider, account,
                                   group_ref, idempotency_key, requested_by, queued_at)
                SELECT r.job_id, $1, $2, r.line, r.provider, r.account, r.group_ref, r.idem,
                       r.by, CASE WHEN $2::uuid IS NULL THEN now() END
                FROM unnest($3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[],
                            $8::text[], $9::text[])
                     AS r(job_id, line, provider, account, group_ref, idem, by)
                WHERE $2::uuid IS NULL OR EXISTS (SELECT 1 FROM up)
                ON CONFLICT DO NOTHING
                RETURNING job_id),
             bump AS (
                UPDATE campaigns SET items = items + (SELECT count(*) FROM ins),
                                     pending = pending + (SELECT count(*) FROM ins)
                WHERE id = $1)
             SELECT $2::uuid IS NULL OR EXISTS (SELECT 1 FROM up), array(SELECT job_id FROM ins)",
        )
        .bind(campaign)
        .bind(upload)
        .bind(col(|i| &i.job_id))
        .bind(lines)
        .bind(col(|i| &i.provider))
        .bind(col(|i| &i.account))
        .bind(col(|i| &i.group_ref))
        .bind(col(|i| &i.idempotency_key))
        .bind(by)
        .fetch_one(&self.pool)
        .await?;
        match upload {
            Some(id) if !alive => Err(Error::UploadGone {
                id,
                expected: "receiving",
            }),
            _ => Ok(inserted),
        }
    }

    /// Notes that `upload` is read whole and its rows are being released; fails with
    /// [`Error::UploadGone`] if it is no longer being received (housekeeping discarded it).
    pub async fn releasing(&self, upload: Uuid, accepted: i64, rejected: i64) -> Result<()> {
        let updated = sqlx::query(
            "UPDATE uploads SET state = 'releasing', accepted = $2, rejected = $3,
                                touched_at = now()
             WHERE id = $1 AND state = 'receiving'",
        )
        .bind(upload)
        .bind(accepted)
        .bind(rejected)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if updated == 0 {
            return Err(Error::UploadGone {
                id: upload,
                expected: "receiving",
            });
        }
        Ok(())
    }

    /// Up to `limit` of `upload`'s staged items, in job-id order.
    pub async fn staged(&self, upload: Uuid, limit: i64) -> Result<Vec<NewItem>> {
        Ok(sqlx::query_as::<_, NewItem>(
            "SELECT job_id, line, provider, account, group_ref,
                    coalesce(idempotency_key, '') AS idempotency_key, requested_by
             FROM items WHERE upload_id = $1 AND queued_at IS NULL
             ORDER BY job_id LIMIT $2",
        )
        .bind(upload)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Marks `upload`'s items `job_ids` as on the queue, and the upload as alive.
    pub async fn mark_queued(&self, upload: Uuid, job_ids: &[String]) -> Result<()> {
        sqlx::query(
            "WITH up AS (UPDATE uploads SET touched_at = now() WHERE id = $1)
             UPDATE items SET queued_at = now()
             WHERE job_id = ANY($2) AND upload_id = $1 AND queued_at IS NULL",
        )
        .bind(upload)
        .bind(job_ids)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Ends `upload`: released (from `releasing`), or discarded (from `receiving`: its staged
    /// rows are deleted and uncounted). Returns whether this call ended it: an upload in
    /// another state (ended already, or discarded while it was still being read) is left
    /// as it is.
    pub async fn end_upload(&self, upload: Uuid, state: UploadState) -> Result<bool> {
        let (name, from) = match state {
            UploadState::Released => ("released", "releasing"),
            UploadState::Discarded => ("discarded", "receiving"),
        };
        let mut tx = self.pool.begin().await?;
        // The upload row first: it is locked until the commit, so a batch being staged into it
        // meanwhile either comes before (and is deleted with the rest) or finds it discarded.
        let ended = sqlx::query(
            "UPDATE uploads SET state = $2, finished_at = now(), touched_at = now()
             WHERE id = $1 AND state = $3",
        )
        .bind(upload)
        .bind(name)
        .bind(from)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            > 0;
        if ended && state == UploadState::Discarded {
            sqlx::query(DISCARD_STAGED)
                .bind(vec![upload])
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(ended)
    }

    /// Takes over the releases that have not moved for `idle` (their process stopped):
    /// marks them alive for this caller (so no other one takes them too) and returns each
    /// upload with its campaign.
    pub async fn claim_stalled_releases(
        &self,
        idle: std::time::Duration,
    ) -> Result<Vec<(Uuid, String)>> {
        Ok(sqlx::query_as(
            "UPDATE uploads SET touched_at = now()
             WHERE id IN (SELECT id FROM uploads
                          WHERE state = 'releasing'
                            AND touched_at < now() - make_interval(secs => $1)
                          FOR UPDATE SKIP LOCKED)
             RETURNING id, campaign_id",
        )
        .bind(idle.as_secs_f64())
        .fetch_all(&self.pool)
        .await?)
    }

    /// Discards the uploads still being received that have not moved for `idle` (their sender
    /// is gone): their staged rows are deleted and uncounted. Returns how many.
    pub async fn discard_stale_uploads(&self, idle: std::time::Duration) -> Result<usize> {
        let mut tx = self.pool.begin().await?;
        let stale: Vec<Uuid> = sqlx::query_scalar(
            "UPDATE uploads SET state = 'discarded', finished_at = now()
             WHERE state = 'receiving' AND touched_at < now() - make_interval(secs => $1)
             RETURNING id",
        )
        .bind(idle.as_secs_f64())
        .fetch_all(&mut *tx)
        .await?;
        if !stale.is_empty() {
            sqlx::query(DISCARD_STAGED)
                .bind(&stale)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(stale.len())
    }

    /// A page of `campaign`'s items in job-id (time) order, after job id `after`.
    pub async fn items(
        &self,
        campaign: &str,
        filter: &ItemFilter,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Item>> {
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM items
             WHERE campaign_id = $1
               AND ($2::text IS NULL OR job_id > $2)
               AND ($3::text IS NULL OR ($3 = 'pending' AND outcome IS NULL) OR outcome = $3)
               AND ($4::text IS NULL OR account = $4)
             ORDER BY job_id LIMIT $5"
        );
        Ok(sqlx::query_as::<_, Item>(&sql)
            .bind(campaign)
            .bind(after)
            .bind(filter.outcome.as_deref())
            .bind(filter.account.as_deref())
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    /// One item by job id.
    pub async fn item(&self, job_id: &str) -> Result<Option<Item>> {
        let sql = format!("SELECT {ITEM_COLUMNS} FROM items WHERE job_id = $1");
        Ok(sqlx::query_as::<_, Item>(&sql)
            .bind(job_id)
            .fetch_optional(&self.pool)
            .await?)
    }
}
