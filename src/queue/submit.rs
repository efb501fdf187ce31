//! Reading the submission stream: other services `XADD` leave requests to `{p}:submit`
//! (contract in [`crate::job::submission`]); workers validate each entry, enqueue the valid
//! ones and answer the rest on `{p}:rejected`. Nothing is dropped silently: every entry is
//! either enqueued or answered.
//!
//! A submission naming a campaign that takes no more items (closed or cancelled) is rejected
//! (`field` `campaign`).
//!
//! A rejection entry holds `submission_id` (the submitted entry's id), `code` (`invalid` or
//! `duplicate`), `field`, `reason`, `existing_job` (for duplicates) and `original` (the
//! submitted fields as a JSON object).
//!
//! Each batch read runs in a `receive {p}:submit` span (OpenTelemetry messaging, kind
//! consumer) linked to the contexts the submissions carry; a submission's `traceparent`
//! stays its job's parent context.

use std::collections::BTreeMap;

use redis::aio::ConnectionManager;
use redis::streams::StreamId;
use tracing::Instrument;

use super::keys::INGEST_GROUP;
use super::{Enqueued, Queue, Result};
use crate::job::{JobError, JobId, LeaveJob, submission};

/// A deployment's own check of a valid submission (e.g. its account must be configured).
pub type Acceptance = dyn Fn(&LeaveJob) -> Result<(), JobError> + Send + Sync;

/// Approximate cap of the rejection stream.
pub const REJECTED_MAX_LEN: u64 = 100_000;

/// What one ingestion pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestReport {
    /// Enqueued.
    pub accepted: usize,
    /// Valid, but their idempotency key belongs to another job.
    pub duplicates: usize,
    /// Invalid.
    pub rejected: usize,
}

impl IngestReport {
    /// Entries handled in all.
    pub fn total(&self) -> usize {
        self.accepted + self.duplicates + self.rejected
    }
}

struct Answer {
    submission_id: String,
    code: &'static str,
    field: String,
    reason: String,
    existing_job: Option<String>,
    original: BTreeMap<String, String>,
}

/// The entry's fields as text; a value that is not UTF-8 is an error naming its field.
fn text_fields(entry: &StreamId) -> (BTreeMap<String, String>, Option<JobError>) {
    let mut fields = BTreeMap::new();
    let mut problem = None;
    for (name, value) in &entry.map {
        match redis::from_redis_value::<Vec<u8>>(value.clone()).map(String::from_utf8) {
            Ok(Ok(text)) => {
                fields.insert(name.clone(), text);
            }
            _ => {
                fields.insert(name.clone(), "<not UTF-8>".into());
                problem.get_or_insert(JobError {
                    field: "fields",
                    rule: format!(
                        "the value of {:?} is not UTF-8 text",
                        crate::job::excerpt(name)
                    ),
                });
            }
        }
    }
    (fields, problem)
}

/// The entry id's millisecond part (`<ms>-<seq>`).
fn entry_ms(id: &str) -> u64 {
    id.split('-')
        .next()
        .and_then(|ms| ms.parse().ok())
        .unwrap_or(0)
}

impl Queue {
    /// Reads up to `count` new submissions (waiting up to `block`) and handles them; `accept`
    /// adds checks of this deployment (the account must be configured for the provider).
    pub async fn ingest(
        &self,
        conn: &mut ConnectionManager,
        consumer: &str,
        count: usize,
        block: std::time::Duration,
        accept: &Acceptance,
    ) -> Result<IngestReport> {
        let entries = self
            .read_group(
                conn,
                &self.keys.submit(),
                INGEST_GROUP,
                consumer,
                count,
                block,
            )
            .await?;
        self.handle_submissions(entries, accept).await
    }

    /// Claims submissions an ingester took but never answered (it died) and handles them.
    pub async fn reclaim_submissions(
        &self,
        consumer: &str,
        accept: &Acceptance,
    ) -> Result<IngestReport> {
        let reply = self
            .claim_group(
                &self.keys.submit(),
                INGEST_GROUP,
                consumer,
                self.options.lease,
                "0-0",
                256,
            )
            .await?;
        self.handle_submissions(reply.claimed, accept).await
    }

    async fn handle_submissions(
        &self,
        entries: Vec<StreamId>,
        accept: &Acceptance,
    ) -> Result<IngestReport> {
        if entries.is_empty() {
            return Ok(IngestReport::default());
        }
        let stream = self.keys.submit();
        let span = tracing::info_span!(
            "queue.receive",
            otel.name = format_args!("receive {stream}"),
            otel.kind = "consumer",
            messaging.system = "redis",
            messaging.operation.type = "receive",
            messaging.destination.name = %stream,
            messaging.consumer.group.name = INGEST_GROUP,
            messaging.batch.message_count = entries.len(),
        );
        self.handle_batch(entries, accept).instrument(span).await
    }

    async fn handle_batch(
        &self,
        entries: Vec<StreamId>,
        accept: &Acceptance,
    ) -> Result<IngestReport> {
        let mut report = IngestReport::default();
        let mut answers = Vec::new();
        let mut valid: Vec<(LeaveJob, BTreeMap<String, String>, String)> = Vec::new();
        for entry in &entries {
            let (fields, problem) = text_fields(entry);
            let parsed = match problem {
                Some(e) => Err(e),
                None => submission::parse(&fields).and_then(|mut job| {
                    accept(&job)?;
                    job.id = JobId::derived(
                        entry_ms(&entry.id),
                        &format!("{}:{}", self.keys.submit(), entry.id),
                    );
                    Ok(job)
                }),
            };
            match parsed {
                Ok(job) => {
                    if let Some(trace) = &job.trace {
                        crate::telemetry::propagation::link(&tracing::Span::current(), trace);
                    }
                    valid.push((job, fields, entry.id.clone()));
                }
                Err(e) => {
                    report.rejected += 1;
                    answers.push(Answer {
                        submission_id: entry.id.clone(),
                        code: "invalid",
                        field: e.field.to_owned(),
                        reason: e.rule,
                        existing_job: None,
                        original: fields,
                    });
                }
            }
        }
        let jobs: Vec<LeaveJob> = valid.iter().map(|(j, _, _)| j.clone()).collect();
        let results = self.enqueue_many(&jobs).await?;
        for ((job, fields, entry_id), result) in valid.into_iter().zip(results) {
            match result {
                Enqueued::Added => report.accepted += 1,
                // A campaign that takes no more items (closed or cancelled) refuses late joiners.
                Enqueued::CampaignClosed { campaign } => {
                    report.rejected += 1;
                    let refusal = super::closed_campaign_error(&campaign);
                    answers.push(Answer {
                        submission_id: entry_id,
                        code: "invalid",
                        field: refusal.field.to_owned(),
                        reason: refusal.rule,
                        existing_job: None,
                        original: fields,
                    });
                }
                // The same submission read again (an ingester died before acknowledging it).
                Enqueued::Duplicate { existing, .. } if existing == job.id.to_string() => {
                    report.accepted += 1;
                }
                Enqueued::Duplicate { existing, finished } => {
                    report.duplicates += 1;
                    let state = if finished {
                        "already finished"
                    } else {
                        "still pending"
                    };
                    answers.push(Answer {
                        submission_id: entry_id,
                        code: "duplicate",
                        field: "idempotency_key".into(),
                        reason: format!(
                            "job {existing} with idempotency key {} is {state}; not enqueued again",
                            job.idempotency_key
                        ),
                        existing_job: Some(existing),
                        original: fields,
                    });
                }
            }
        }
        let mut pipe = redis::pipe();
        for a in &answers {
            let cmd = pipe
                .cmd("XADD")
                .arg(self.keys.rejected())
                .arg("MAXLEN")
                .arg("~")
                .arg(REJECTED_MAX_LEN)
                .arg("*")
                .arg("submission_id")
                .arg(&a.submission_id)
                .arg("code")
                .arg(a.code)
                .arg("field")
                .arg(&a.field)
                .arg("reason")
                .arg(&a.reason)
                .arg("original")
                .arg(serde_json::to_string(&a.original)?);
            if let Some(existing) = &a.existing_job {
                cmd.arg("existing_job").arg(existing);
            }
            cmd.ignore();
        }
        let ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
        pipe.cmd("XACK")
            .arg(self.keys.submit())
            .arg(INGEST_GROUP)
            .arg(&ids)
            .ignore();
        pipe.cmd("XDEL").arg(self.keys.submit()).arg(&ids).ignore();
        pipe.query_async::<()>(&mut self.conn.clone()).await?;
        Ok(report)
    }
}
