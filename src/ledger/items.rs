//! Items: staging an upload's rows, releasing them to the queue, discarding a failed upload,
//! and listing a campaign's items with filters and keyset pagination.
//!
//! An upload's rows are inserted with `queued_at` NULL (*staged*); once the whole upload has
//! been read they are enqueued in job-id order and marked queued (*released*). Enqueueing comes
//! before the mark, and the queue's idempotency key makes a repeated enqueue a no-op, so a
//! release cut off half-way is resumed without losing or doubling a job.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::{Ledger, Result};

/// An item to add.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// is left out.
    pub async fn stage(
        &self,
        campaign: Option<&str>,
        upload: Option<Uuid>,
        items: &[NewItem],
    ) -> Result<Vec<String>> {
        let col = |f: fn(&NewItem) -> String| items.iter().map(f).collect::<Vec<_>>();
        let lines: Vec<Option<i64>> = items.iter().map(|i| i.line).collect();
        let by: Vec<Option<String>> = items.iter().map(|i| i.requested_by.clone()).collect();
        let inserted: Vec<(String,)> = sqlx::query_as(
            "WITH ins AS (
                INSERT INTO items (job_id, campaign_id, upload_id, line, provider, account,
                                   group_ref, idempotency_key, requested_by, queued_at)
                SELECT r.job_id, $1, $2, r.line, r.provider, r.account, r.group_ref, r.idem,
                       r.by, CASE WHEN $2::uuid IS NULL THEN now() END
                FROM unnest($3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[],
                            $8::text[], $9::text[])
                     AS r(job_id, line, provider, account, group_ref, idem, by)
                ON CONFLICT DO NOTHING
                RETURNING job_id),
             bump AS (
                UPDATE campaigns SET items = items + (SELECT count(*) FROM ins),
                                     pending = pending + (SELECT count(*) FROM ins)
                WHERE id = $1)
             SELECT job_id FROM ins",
        )
        .bind(campaign)
        .bind(upload)
        .bind(col(|i| i.job_id.clone()))
        .bind(lines)
        .bind(col(|i| i.provider.clone()))
        .bind(col(|i| i.account.clone()))
        .bind(col(|i| i.group_ref.clone()))
        .bind(col(|i| i.idempotency_key.clone()))
        .bind(by)
        .fetch_all(&self.pool)
        .await?;
        Ok(inserted.into_iter().map(|(id,)| id).collect())
    }

    /// Notes that `upload` is read whole and its rows are being released.
    pub async fn releasing(&self, upload: Uuid, accepted: i64, rejected: i64) -> Result<()> {
        sqlx::query(
            "UPDATE uploads SET state = 'releasing', accepted = $2, rejected = $3 WHERE id = $1",
        )
        .bind(upload)
        .bind(accepted)
        .bind(rejected)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Up to `limit` of `upload`'s staged items, in job-id order.
    pub async fn staged(&self, upload: Uuid, limit: i64) -> Result<Vec<NewItem>> {
        let rows: Vec<(
            String,
            Option<i64>,
            String,
            String,
            String,
            Option<String>,
            Option<String>,
        )> = sqlx::query_as(
            "SELECT job_id, line, provider, account, group_ref, idempotency_key, requested_by
                 FROM items WHERE upload_id = $1 AND queued_at IS NULL
                 ORDER BY job_id LIMIT $2",
        )
        .bind(upload)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(job_id, line, provider, account, group_ref, idem, requested_by)| NewItem {
                    job_id,
                    line,
                    provider,
                    account,
                    group_ref,
                    idempotency_key: idem.unwrap_or_default(),
                    requested_by,
                },
            )
            .collect())
    }

    /// The campaign of `upload`.
    pub async fn upload_campaign(&self, upload: Uuid) -> Result<String> {
        let (campaign,): (String,) =
            sqlx::query_as("SELECT campaign_id FROM uploads WHERE id = $1")
                .bind(upload)
                .fetch_one(&self.pool)
                .await?;
        Ok(campaign)
    }

    /// Marks items as on the queue.
    pub async fn mark_queued(&self, job_ids: &[String]) -> Result<()> {
        sqlx::query(
            "UPDATE items SET queued_at = now() WHERE job_id = ANY($1) AND queued_at IS NULL",
        )
        .bind(job_ids)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Ends `upload`: released, or discarded (its staged rows are deleted and uncounted).
    pub async fn end_upload(&self, upload: Uuid, state: UploadState) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        if state == UploadState::Discarded {
            sqlx::query(
                "WITH gone AS (
                    DELETE FROM items WHERE upload_id = $1 AND queued_at IS NULL
                    RETURNING campaign_id, outcome IS NULL AS was_pending)
                 UPDATE campaigns c SET items = c.items - g.n, pending = c.pending - g.p
                 FROM (SELECT campaign_id, count(*) AS n,
                              count(*) FILTER (WHERE was_pending) AS p
                       FROM gone GROUP BY campaign_id) g
                 WHERE c.id = g.campaign_id",
            )
            .bind(upload)
            .execute(&mut *tx)
            .await?;
        }
        let name = match state {
            UploadState::Released => "released",
            UploadState::Discarded => "discarded",
        };
        sqlx::query("UPDATE uploads SET state = $2, finished_at = now() WHERE id = $1")
            .bind(upload)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Uploads left half-done by a process that stopped: those being released (to finish), and
    /// those still being received after `stale_after` (to discard).
    pub async fn interrupted_uploads(
        &self,
        stale_after: std::time::Duration,
    ) -> Result<(Vec<Uuid>, Vec<Uuid>)> {
        let rows: Vec<(Uuid, String)> = sqlx::query_as(
            "SELECT id, state FROM uploads
             WHERE state = 'releasing'
                OR (state = 'receiving' AND started_at < now() - make_interval(secs => $1))",
        )
        .bind(stale_after.as_secs_f64())
        .fetch_all(&self.pool)
        .await?;
        let (releasing, stale): (Vec<_>, Vec<_>) =
            rows.into_iter().partition(|(_, s)| s == "releasing");
        Ok((
            releasing.into_iter().map(|(id, _)| id).collect(),
            stale.into_iter().map(|(id, _)| id).collect(),
        ))
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
