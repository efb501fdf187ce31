//! What the queue writes about jobs: final outcomes, failed attempts, dead-letter reasons.
//! All are JSON, readable by any client (and by the ledger writer of a later stage).

use serde::{Deserialize, Serialize};

use crate::job::{LeaveJob, TraceContext};
use crate::providers::AttemptReport;

/// A job's final outcome, as written once to the outcomes stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeRecord {
    /// Job id.
    pub job: String,
    /// Campaign, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<String>,
    /// Provider.
    pub provider: String,
    /// Account.
    pub account: String,
    /// Group, normalised.
    pub group: String,
    /// Outcome class (`left`, `already_left`, …) or `dead_letter`.
    pub class: String,
    /// Whether the account is out of the group.
    pub success: bool,
    /// Outcome detail.
    pub detail: String,
    /// Attempts counted against the retry budget.
    pub attempts: u32,
    /// Rate-limited attempts.
    pub throttled: u32,
    /// HTTP status of the provider's last answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// When it was recorded (ms since the Unix epoch).
    pub at_ms: u64,
    /// Whether the job ended in the dead-letter set (final failure).
    #[serde(default)]
    pub dead_letter: bool,
    /// When its first attempt started (ms since the Unix epoch); none if it never ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_attempt_ms: Option<u64>,
    /// The last failed attempt before the final one (`class: detail`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// A safe summary of the provider's last answer: status and the redacted body excerpt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    /// The W3C `traceparent` of the attempt that settled it, while traces are exported: the
    /// ledger writer's span links to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
}

impl OutcomeRecord {
    /// The record of `job` ending with `report`, or dead-lettered when `class` says so, settled
    /// in the current span (its trace context, while traces are exported).
    pub fn new(
        job: &LeaveJob,
        class: &str,
        success: bool,
        detail: &str,
        report: Option<&AttemptReport>,
    ) -> Self {
        let current = crate::telemetry::propagation::current();
        Self::of_attempt(job, class, success, detail, report, current.as_ref())
    }

    /// [`Self::new`] for an attempt whose trace context the caller has already read (`None`
    /// while traces are off), so it is not computed twice.
    pub fn of_attempt(
        job: &LeaveJob,
        class: &str,
        success: bool,
        detail: &str,
        report: Option<&AttemptReport>,
        attempt: Option<&TraceContext>,
    ) -> Self {
        OutcomeRecord {
            job: job.id.to_string(),
            campaign: job.campaign.as_ref().map(|c| c.to_string()),
            provider: job.request.provider.to_string(),
            account: job.request.account.to_string(),
            group: job.request.group.to_string(),
            class: class.to_owned(),
            success,
            detail: detail.to_owned(),
            attempts: job.attempts.made,
            throttled: job.attempts.throttled,
            http_status: report.and_then(|r| r.answer.as_ref()).map(|a| a.status),
            at_ms: super::unix_ms(std::time::SystemTime::now()),
            dead_letter: false,
            first_attempt_ms: job.attempts.first_at_ms,
            last_error: job.attempts.last_error.clone(),
            answer: report.and_then(|r| r.answer.as_ref()).map(|a| a.describe()),
            traceparent: attempt.map(|t| t.traceparent().to_owned()),
        }
    }

    /// Marks the record as a dead letter.
    pub fn dead_lettered(mut self) -> Self {
        self.dead_letter = true;
        self
    }
}

/// One failed attempt, kept in the job's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptRecord {
    /// When (ms since the Unix epoch).
    pub at_ms: u64,
    /// Outcome class.
    pub class: String,
    /// Outcome detail.
    pub detail: String,
    /// HTTP status of the provider's last answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
}

impl AttemptRecord {
    /// `class: detail`, as the ledger's `last_error` shows it (at most 300 characters).
    pub fn summary(&self) -> String {
        crate::job::shorten(&format!("{}: {}", self.class, self.detail), 300)
    }

    /// The record of `report`.
    pub fn of(report: &AttemptReport) -> Self {
        AttemptRecord {
            at_ms: super::unix_ms(std::time::SystemTime::now()),
            class: report.outcome.class().to_string(),
            detail: report.outcome.detail().to_owned(),
            http_status: report.answer.as_ref().map(|a| a.status),
        }
    }
}

/// Why a job is a dead letter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadInfo {
    /// The reason, in words.
    pub reason: String,
    /// When (ms since the Unix epoch).
    pub at_ms: u64,
    /// The failed attempts, oldest first (the last one included).
    pub history: Vec<AttemptRecord>,
    /// Whether the entry could not even be decoded (its payload is kept raw).
    pub poison: bool,
}
