//! Adding items to a campaign from an upload, streamed: rows are validated with the job
//! model's rules as they arrive, staged in the ledger in batches, and released to the queue
//! only once the whole upload has been read. A failed upload (unreadable, too large, cut off)
//! is discarded whole: none of its rows runs, and nothing else is touched.
//!
//! Every rejected row is counted; the first [`MAX_REPORTED`] are returned with their line and
//! reason (the rest are summarised by the count).

use futures_util::{Stream, StreamExt};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::{Campaigns, Result};
use crate::job::{CampaignId, IdempotencyKey, JobError, JobId, LeaveJob, LeaveRequest};
use crate::ledger::{NewItem, UploadState};
use crate::queue::{Enqueued, OutcomeRecord};
use crate::upload::{self, Item, Row};

/// Rows staged per ledger statement, and jobs released per queue pipeline.
pub const BATCH: usize = 1_000;
/// Rejected rows listed in an [`Intake`] (all are counted).
pub const MAX_REPORTED: usize = 1_000;

/// A row that was not added, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RejectedRow {
    /// Its line in the upload (1-based; for a JSON body, its position in `items`).
    pub line: u64,
    /// The offending field, when one is to blame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong.
    pub reason: String,
}

/// What an upload added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Intake {
    /// The campaign.
    pub campaign: String,
    /// The upload's id.
    pub upload: Uuid,
    /// Rows read (blank lines excluded).
    pub rows: u64,
    /// Rows added and queued.
    pub accepted: u64,
    /// Rows not added: invalid, or their target is in the campaign already.
    pub rejected: u64,
    /// The first rejected rows.
    pub rejected_rows: Vec<RejectedRow>,
    /// Whether more rows were rejected than listed.
    pub rejected_truncated: bool,
}

impl Intake {
    fn reject(&mut self, line: u64, field: Option<&str>, reason: String) {
        self.rejected += 1;
        if self.rejected_rows.len() < MAX_REPORTED {
            self.rejected_rows.push(RejectedRow {
                line,
                field: field.map(str::to_owned),
                reason,
            });
        } else {
            self.rejected_truncated = true;
        }
    }
}

impl Campaigns {
    /// Adds the rows of `input` to campaign `id`, which must take items. `progress` is called
    /// after each batch with the rows read so far.
    pub async fn add<S>(
        &self,
        id: &str,
        input: S,
        actor: &str,
        mut progress: impl FnMut(u64) + Send,
    ) -> Result<Intake>
    where
        S: Stream<Item = Result<Item, upload::Error>> + Send,
    {
        let campaign_id: CampaignId = self
            .accepting(id)
            .await?
            .id
            .parse()
            .map_err(|e| JobError::new("campaign", e))?;
        let upload = self.ledger.start_upload(id, actor).await?;
        let mut intake = Intake {
            campaign: id.to_owned(),
            upload,
            rows: 0,
            accepted: 0,
            rejected: 0,
            rejected_rows: Vec::new(),
            rejected_truncated: false,
        };
        let read = self
            .receive(
                &campaign_id,
                upload,
                input,
                actor,
                &mut intake,
                &mut progress,
            )
            .await;
        if let Err(e) = read {
            self.ledger
                .end_upload(upload, UploadState::Discarded)
                .await?;
            tracing::warn!(campaign = id, %upload, error = %e, "upload discarded");
            return Err(e);
        }
        // Duplicates are found when a batch is staged, after later lines were read.
        intake.rejected_rows.sort_by_key(|r| r.line);
        let accepted = i64::try_from(intake.accepted).unwrap_or(i64::MAX);
        let rejected = i64::try_from(intake.rejected).unwrap_or(i64::MAX);
        self.ledger.releasing(upload, accepted, rejected).await?;
        self.release(upload, &campaign_id).await?;
        self.ledger
            .audit(
                actor,
                "campaign.add",
                &super::target(id),
                json!({ "upload": upload, "rows": intake.rows, "accepted": accepted, "rejected": rejected }),
            )
            .await?;
        Ok(intake)
    }

    async fn receive<S>(
        &self,
        campaign: &CampaignId,
        upload: Uuid,
        input: S,
        actor: &str,
        intake: &mut Intake,
        progress: &mut (impl FnMut(u64) + Send),
    ) -> Result<()>
    where
        S: Stream<Item = Result<Item, upload::Error>> + Send,
    {
        let mut input = std::pin::pin!(input);
        let mut batch: Vec<NewItem> = Vec::with_capacity(BATCH);
        while let Some(item) = input.next().await {
            intake.rows += 1;
            match item? {
                Item::Rejected(r) => intake.reject(r.line, None, r.reason),
                Item::Row(row) => match self.item(campaign, &row, actor) {
                    Ok(item) => batch.push(item),
                    Err(e) => intake.reject(row.line, Some(e.field), e.rule),
                },
            }
            if batch.len() == BATCH {
                self.stage(campaign, upload, &mut batch, intake).await?;
                progress(intake.rows);
            }
        }
        self.stage(campaign, upload, &mut batch, intake).await?;
        progress(intake.rows);
        Ok(())
    }

    /// Stages `batch`; rows whose target is in the campaign already are rejected.
    async fn stage(
        &self,
        campaign: &CampaignId,
        upload: Uuid,
        batch: &mut Vec<NewItem>,
        intake: &mut Intake,
    ) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let inserted = self
            .ledger
            .stage(Some(campaign.as_str()), Some(upload), batch)
            .await?;
        let inserted: std::collections::HashSet<String> = inserted.into_iter().collect();
        for item in batch.drain(..) {
            if inserted.contains(&item.job_id) {
                intake.accepted += 1;
            } else {
                let line = item.line.and_then(|l| u64::try_from(l).ok()).unwrap_or(0);
                intake.reject(
                    line,
                    Some("group"),
                    "duplicate: this account and group are in the campaign already".into(),
                );
            }
        }
        Ok(())
    }

    /// Validates one row into an item: the job model's rules, and the account must be
    /// configured for the provider.
    fn item(&self, campaign: &CampaignId, row: &Row, actor: &str) -> Result<NewItem, JobError> {
        let request = LeaveRequest::parse(&row.provider, &row.account, &row.group)?;
        self.settings.check_request(&request)?;
        let key = match &row.idempotency_key {
            Some(k) => k
                .parse::<IdempotencyKey>()
                .map_err(|e| JobError::new("idempotency_key", e))?,
            None => IdempotencyKey::in_campaign(campaign, &request.idempotency_key()),
        };
        Ok(NewItem {
            job_id: JobId::new().to_string(),
            line: i64::try_from(row.line).ok(),
            provider: request.provider.to_string(),
            account: request.account.to_string(),
            group_ref: request.group.to_string(),
            idempotency_key: key.as_str().to_owned(),
            requested_by: Some(actor.to_owned()),
        })
    }

    /// Enqueues the staged items of `upload` (into `campaign`), batch by batch: enqueue
    /// first, then mark queued, so a release cut off half-way resumes without losing or
    /// doubling a job.
    pub async fn release(&self, upload: Uuid, campaign: &CampaignId) -> Result<u64> {
        let mut released = 0;
        loop {
            let staged = self.ledger.staged(upload, BATCH as i64).await?;
            if staged.is_empty() {
                break;
            }
            let jobs = staged
                .iter()
                .map(|item| job_of(campaign, item))
                .collect::<Result<Vec<_>, JobError>>()?;
            let results = self.queue.enqueue_accepted(&jobs).await?;
            let mut taken = Vec::new();
            for (job, result) in jobs.iter().zip(results) {
                if let Enqueued::Duplicate { existing, .. } = result
                    && existing != job.id.to_string()
                {
                    taken.push(duplicate_outcome(job, &existing));
                }
            }
            let ids: Vec<String> = staged.iter().map(|i| i.job_id.clone()).collect();
            self.ledger.mark_queued(upload, &ids).await?;
            if !taken.is_empty() {
                self.ledger.record(&taken).await?;
            }
            released += ids.len() as u64;
        }
        self.ledger
            .end_upload(upload, UploadState::Released)
            .await?;
        Ok(released)
    }

    /// Finishes the releases that have not moved for `stalled_after` (their process
    /// stopped), and discards the uploads still being received that have not moved for
    /// `stale_after` (their sender went away); returns how many uploads it handled. An upload
    /// whose sender is still at work (staging or releasing batches) is left alone, however
    /// long it takes.
    pub async fn resume_uploads(
        &self,
        stalled_after: std::time::Duration,
        stale_after: std::time::Duration,
    ) -> Result<usize> {
        let stalled = self.ledger.claim_stalled_releases(stalled_after).await?;
        for (upload, campaign) in &stalled {
            let campaign = campaign
                .parse::<CampaignId>()
                .map_err(|e| JobError::new("campaign", e))?;
            self.release(*upload, &campaign).await?;
        }
        let discarded = self.ledger.discard_stale_uploads(stale_after).await?;
        Ok(stalled.len() + discarded)
    }
}

/// The job a staged item runs as.
fn job_of(campaign: &CampaignId, item: &NewItem) -> Result<LeaveJob, JobError> {
    let request = LeaveRequest::parse(&item.provider, &item.account, &item.group_ref)?;
    let mut job = LeaveJob::new(request)
        .with_campaign(campaign.clone())
        .with_idempotency_key(
            item.idempotency_key
                .parse()
                .map_err(|e| JobError::new("idempotency_key", e))?,
        );
    job.id = item
        .job_id
        .parse()
        .map_err(|e| JobError::new("job_id", e))?;
    job.requested_by = item.requested_by.clone();
    Ok(job)
}

/// The final outcome of an item whose producer-given idempotency key another job holds: it
/// never runs (that job does).
fn duplicate_outcome(job: &LeaveJob, existing: &str) -> OutcomeRecord {
    let detail = format!("not run: its idempotency key belongs to job {existing}");
    OutcomeRecord::new(job, "duplicate", false, &detail, None)
}
