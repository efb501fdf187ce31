//! The leave job: what producers submit and what workers run.
//!
//! A [`LeaveRequest`] is the validated triple a producer asks for (provider, account, group).
//! A [`LeaveJob`] wraps it with everything the pipeline needs: a job id, an optional campaign,
//! the idempotency key, attempt counters and a trace context. Jobs name accounts, never
//! credentials or URLs: only configured accounts can be reached.
//!
//! Every constructor validates; errors are [`JobError`]s that name the field and the rule.

mod group;
mod ids;
pub mod submission;
mod trace;

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

pub use self::group::{GroupRef, GroupRefError};
pub use self::ids::{AccountName, CampaignId, IdempotencyKey, JobId, RuleError};
pub use self::trace::TraceContext;
use crate::providers::Provider;

/// An invalid job field: which field, and the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {rule}")]
pub struct JobError {
    /// The field's name as producers spell it (`provider`, `account`, `group`, …).
    pub field: &'static str,
    /// What is wrong, in words.
    pub rule: String,
}

impl JobError {
    pub(crate) fn new(field: &'static str, rule: impl ToString) -> Self {
        JobError {
            field,
            rule: rule.to_string(),
        }
    }
}

/// Shortens user input for inclusion in an error message (64 characters at most).
pub(crate) fn excerpt(s: &str) -> String {
    shorten(s, 64)
}

/// `s` cut to `max` characters, with `…` when it was longer.
pub(crate) fn shorten(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_owned(),
        Some((cut, _)) => format!("{}…", &s[..cut]),
    }
}

/// A validated request to make `account` leave `group` at `provider`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LeaveRequest {
    /// The provider the account belongs to.
    pub provider: Provider,
    /// The configured account that leaves.
    pub account: AccountName,
    /// The group to leave, normalised for the provider.
    pub group: GroupRef,
}

impl LeaveRequest {
    /// Validates the three fields as producers send them.
    pub fn parse(provider: &str, account: &str, group: &str) -> Result<Self, JobError> {
        let provider: Provider = provider.parse().map_err(|e| JobError::new("provider", e))?;
        let account: AccountName = account.parse().map_err(|e| JobError::new("account", e))?;
        let group = GroupRef::parse(provider, group).map_err(|e| JobError::new("group", e.rule))?;
        Ok(LeaveRequest {
            provider,
            account,
            group,
        })
    }

    /// The idempotency key derived from this request.
    pub fn idempotency_key(&self) -> IdempotencyKey {
        IdempotencyKey::derive(self.provider, &self.account, &self.group)
    }
}

/// How often a job has been tried.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempts {
    /// Attempts that counted against the retry budget (transient failures).
    pub made: u32,
    /// Attempts answered "rate limited": these never consume the retry budget.
    pub throttled: u32,
    /// When the first of those answers came (ms since the epoch): 429s are bounded by how long
    /// they last, not by how many there were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttled_since_ms: Option<u64>,
    /// When the first attempt started (ms since the epoch), for the ledger.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_at_ms: Option<u64>,
    /// The last failed attempt's outcome (class and detail), for the ledger.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// A leave job as it travels through the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "wire::JobWire", into = "wire::JobWire")]
pub struct LeaveJob {
    /// Unique id of this job.
    pub id: JobId,
    /// What to do.
    pub request: LeaveRequest,
    /// The campaign this job belongs to, if any.
    pub campaign: Option<CampaignId>,
    /// Duplicate detection key: derived from the request unless the producer gave one.
    pub idempotency_key: IdempotencyKey,
    /// Attempt counters.
    pub attempts: Attempts,
    /// The producer's trace context, continued by the worker.
    pub trace: Option<TraceContext>,
    /// The context of the previous attempt's span (set on a retry while traces are
    /// exported), so the next attempt's span links to it.
    pub previous_attempt: Option<TraceContext>,
    /// Who asked for the job (a service or operator name), for the audit trail.
    pub requested_by: Option<String>,
    /// Creation time, milliseconds since the Unix epoch (bounds how long 429s may retry).
    pub created_at_ms: u64,
}

impl LeaveJob {
    /// A fresh job for `request`, with a new id and the derived idempotency key.
    pub fn new(request: LeaveRequest) -> Self {
        let created_at_ms = crate::queue::unix_ms(SystemTime::now());
        LeaveJob {
            id: JobId::new(),
            idempotency_key: request.idempotency_key(),
            request,
            campaign: None,
            attempts: Attempts::default(),
            trace: None,
            previous_attempt: None,
            requested_by: None,
            created_at_ms,
        }
    }

    /// Sets the campaign.
    pub fn with_campaign(mut self, campaign: CampaignId) -> Self {
        self.campaign = Some(campaign);
        self
    }

    /// Replaces the derived idempotency key with a producer-supplied one.
    pub fn with_idempotency_key(mut self, key: IdempotencyKey) -> Self {
        self.idempotency_key = key;
        self
    }

    /// Attaches the producer's trace context.
    pub fn with_trace(mut self, trace: TraceContext) -> Self {
        self.trace = Some(trace);
        self
    }
}

/// The serialised form of a job (JSON, version 1). Kept apart so the wire format is explicit
/// and every field is re-validated when a job is read back.
mod wire {
    use serde::{Deserialize, Serialize};

    use super::{Attempts, JobError, LeaveJob, LeaveRequest, TraceContext};

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(super) struct JobWire {
        v: u8,
        id: String,
        provider: String,
        account: String,
        group: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        campaign: Option<String>,
        idempotency_key: String,
        #[serde(default)]
        attempts: Attempts,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        trace: Option<TraceContext>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous_attempt: Option<TraceContext>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        requested_by: Option<String>,
        created_at_ms: u64,
    }

    impl TryFrom<JobWire> for LeaveJob {
        type Error = JobError;

        fn try_from(w: JobWire) -> Result<Self, Self::Error> {
            if w.v != 1 {
                return Err(JobError::new(
                    "v",
                    format!("unsupported job format version {}", w.v),
                ));
            }
            Ok(LeaveJob {
                id: w.id.parse().map_err(|e| JobError::new("id", e))?,
                request: LeaveRequest::parse(&w.provider, &w.account, &w.group)?,
                campaign: w
                    .campaign
                    .map(|c| c.parse())
                    .transpose()
                    .map_err(|e| JobError::new("campaign", e))?,
                idempotency_key: w
                    .idempotency_key
                    .parse()
                    .map_err(|e| JobError::new("idempotency_key", e))?,
                attempts: w.attempts,
                trace: w.trace,
                previous_attempt: w.previous_attempt,
                requested_by: w.requested_by,
                created_at_ms: w.created_at_ms,
            })
        }
    }

    impl From<LeaveJob> for JobWire {
        fn from(j: LeaveJob) -> Self {
            JobWire {
                v: 1,
                id: j.id.to_string(),
                provider: j.request.provider.as_str().to_owned(),
                account: j.request.account.as_str().to_owned(),
                group: j.request.group.as_str().to_owned(),
                campaign: j.campaign.map(|c| c.as_str().to_owned()),
                idempotency_key: j.idempotency_key.as_str().to_owned(),
                attempts: j.attempts,
                trace: j.trace,
                previous_attempt: j.previous_attempt,
                requested_by: j.requested_by,
                created_at_ms: j.created_at_ms,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_names_the_offending_field() {
        let e = LeaveRequest::parse("whatsapp", "acme", "1@g.us").unwrap_err();
        assert_eq!(e.field, "provider");
        let e = LeaveRequest::parse("wasend", "Acme!", "1@g.us").unwrap_err();
        assert_eq!(e.field, "account");
        let e = LeaveRequest::parse("wasend", "acme", "1@g.us").unwrap_err();
        assert_eq!(e.field, "group");
        assert!(e.to_string().starts_with("group: "), "{e}");
    }

    #[test]
    fn jobs_round_trip_through_json() {
        let req = LeaveRequest::parse(
            "ryzeapi",
            "acme",
            "https://chat.whatsapp.com/AbCdEfGhIjKlMnOpQrSt12",
        )
        .unwrap();
        let job = LeaveJob::new(req)
            .with_campaign("c-1".parse().unwrap())
            .with_trace(
                TraceContext::new(
                    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                    None,
                )
                .unwrap(),
            );
        let json = serde_json::to_string(&job).unwrap();
        let back: LeaveJob = serde_json::from_str(&json).unwrap();
        assert_eq!(back, job);
        assert!(
            json.contains(r#""group":"AbCdEfGhIjKlMnOpQrSt12""#),
            "{json}"
        );
    }

    #[test]
    fn reading_a_job_revalidates_it() {
        let job = LeaveJob::new(LeaveRequest::parse("kirimin", "k", "6228482").unwrap());
        let json = serde_json::to_string(&job)
            .unwrap()
            .replace("6228482", "62x");
        let err = serde_json::from_str::<LeaveJob>(&json).unwrap_err();
        assert!(err.to_string().contains("group: "), "{err}");
    }

    #[test]
    fn excerpt_cuts_on_char_boundaries() {
        let long = "é".repeat(100);
        let e = excerpt(&long);
        assert_eq!(e.chars().count(), 65);
        assert!(e.ends_with('…'));
        assert_eq!(excerpt("short"), "short");
    }
}
