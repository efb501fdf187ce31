//! What this worker process did with the jobs it ran: counters and a latency histogram,
//! recorded on the job's path: four family lookups per attempt (under a read lock), no Redis
//! call and no allocation once a series exists (label values are shared `Arc<str>`s and
//! fixed words).
//!
//! | metric | labels | counts |
//! |---|---|---|
//! | `bulkleave_jobs_total` | `provider`, `account`, `outcome`, `final` | settled deliveries (see [`Settlement`]) |
//! | `bulkleave_provider_responses_total` | `provider`, `account`, `status` | attempts by the HTTP status of the answer that decided them (`none`: no answer, e.g. a timeout or a refused connection) |
//! | `bulkleave_provider_requests_total` | `provider`, `account` | HTTP requests sent (follow-ups and owner checks included) |
//! | `bulkleave_attempt_duration_seconds` | `provider`, `outcome` | histogram of an attempt's wall time (all its requests) |
//!
//! Label values are configuration names and fixed words, never credentials: `account` is the
//! account's name under `[accounts]` (`other` for a job naming an account this worker does not
//! have configured, so a stray payload cannot grow the series).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::config::Settings;
use crate::job::LeaveJob;
use crate::providers::{AttemptReport, OutcomeClass};
use crate::worker::Settled;

/// Upper bounds (seconds) of the attempt-duration buckets: 5 ms to 60 s (twice the default
/// request timeout, for attempts with follow-ups), roughly ×2.5 apart.
pub const DURATION_BUCKETS: [f64; 13] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// The `outcome` of a settled delivery, as `bulkleave_jobs_total` counts it.
///
/// Final settlements (`final="true"`) carry the outcome recorded for the job, the same word
/// as in the outcomes stream and the ledger; summed over the fleet they count each job once.
/// The others (`final="false"`) say why the job is not finished yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// Final: the attempt's outcome class (`left`, `already_left`, `group_gone` when done;
    /// `owner_cannot_leave`, `invalid_input`, `provider_error`, `retry_later` when
    /// dead-lettered).
    Final(OutcomeClass),
    /// Final: dead-lettered without a settled attempt (`unsettled`: a crash loop, or an
    /// account this worker cannot run).
    Unsettled,
    /// Final: its campaign was cancelled (`cancelled`), no request sent.
    Cancelled,
    /// A provider error: retried after a backoff (`retry`).
    Retry,
    /// "Retry later" (429 or outage): the account cools down, the job waits (`throttled`).
    Throttled,
    /// An account error: this attempt paused the account, the job is parked (`paused`).
    Paused,
    /// Its account was paused already: parked without a request (`parked`).
    Parked,
    /// No free quota slot: one is booked, the job waits for it (`booked`).
    Booked,
    /// Its campaign is paused: held without a request (`held`).
    Held,
    /// Another delivery of the job had recorded its outcome (`duplicate`).
    Duplicate,
    /// The lease ran out and another worker owns the delivery now (`superseded`).
    Superseded,
}

impl Settlement {
    /// How `settled` ended, given the class of the attempt made (if one was).
    pub fn of(settled: Settled, attempt: Option<OutcomeClass>) -> Self {
        match settled {
            Settled::Done | Settled::DeadLetter => {
                attempt.map_or(Settlement::Unsettled, Settlement::Final)
            }
            Settled::Cancelled => Settlement::Cancelled,
            Settled::Retry => Settlement::Retry,
            Settled::Throttled => Settlement::Throttled,
            Settled::Parked if attempt.is_some() => Settlement::Paused,
            Settled::Parked => Settlement::Parked,
            Settled::Booked => Settlement::Booked,
            Settled::Held => Settlement::Held,
            Settled::Duplicate => Settlement::Duplicate,
            Settled::Superseded => Settlement::Superseded,
        }
    }

    /// The `outcome` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Settlement::Final(class) => class.as_str(),
            Settlement::Unsettled => "unsettled",
            Settlement::Cancelled => "cancelled",
            Settlement::Retry => "retry",
            Settlement::Throttled => "throttled",
            Settlement::Paused => "paused",
            Settlement::Parked => "parked",
            Settlement::Booked => "booked",
            Settlement::Held => "held",
            Settlement::Duplicate => "duplicate",
            Settlement::Superseded => "superseded",
        }
    }

    /// Whether the job has its final outcome (the `final` label).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Settlement::Final(_) | Settlement::Unsettled | Settlement::Cancelled
        )
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    provider: &'static str,
    account: Arc<str>,
    outcome: &'static str,
    r#final: bool,
}

/// The `status` label: the HTTP status of the deciding answer, or `none`.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
struct Status(Option<u16>);

impl EncodeLabelValue for Status {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), fmt::Error> {
        match self.0 {
            Some(status) => EncodeLabelValue::encode(&status, encoder),
            None => EncodeLabelValue::encode(&"none", encoder),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResponseLabels {
    provider: &'static str,
    account: Arc<str>,
    status: Status,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AccountLabels {
    provider: &'static str,
    account: Arc<str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DurationLabels {
    provider: &'static str,
    outcome: &'static str,
}

type Durations = Family<DurationLabels, Histogram, fn() -> Histogram>;

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

/// The job metrics of one worker process. Cheap to clone (the families are shared).
#[derive(Clone, Debug)]
pub struct JobMetrics {
    jobs: Family<JobLabels, Counter>,
    responses: Family<ResponseLabels, Counter>,
    requests: Family<AccountLabels, Counter>,
    durations: Durations,
    /// The `account` label of each configured account; other names are labelled `other`.
    accounts: Arc<HashMap<String, Arc<str>>>,
    other: Arc<str>,
}

impl JobMetrics {
    /// Metrics for the accounts of `settings` (served once [registered](Self::register)).
    pub fn new(settings: &Settings) -> Self {
        JobMetrics {
            jobs: Family::default(),
            responses: Family::default(),
            requests: Family::default(),
            durations: Family::new_with_constructor(duration_histogram as fn() -> Histogram),
            accounts: Arc::new(
                settings
                    .accounts
                    .keys()
                    .map(|a| (a.to_string(), Arc::from(a.as_str())))
                    .collect(),
            ),
            other: Arc::from("other"),
        }
    }

    /// Registers the families in `registry` (see [`super::Metrics::with_jobs`]).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "bulkleave_jobs",
            "Deliveries settled by this worker, by outcome: final outcomes (final=\"true\") and \
             why others are not finished yet (final=\"false\")",
            self.jobs.clone(),
        );
        registry.register(
            "bulkleave_provider_responses",
            "Provider attempts by the HTTP status of the answer that decided them (none: no answer)",
            self.responses.clone(),
        );
        registry.register(
            "bulkleave_provider_requests",
            "HTTP requests sent to providers, follow-ups and owner checks included",
            self.requests.clone(),
        );
        registry.register(
            "bulkleave_attempt_duration_seconds",
            "Wall time of one provider attempt (all its requests), by outcome class",
            self.durations.clone(),
        );
    }

    fn account(&self, job: &LeaveJob) -> Arc<str> {
        let name = job.request.account.as_str();
        self.accounts.get(name).unwrap_or(&self.other).clone()
    }

    /// Records a provider attempt of `job`: its answer's status, its requests, its duration.
    pub fn attempt(&self, job: &LeaveJob, report: &AttemptReport) {
        let provider = job.request.provider.as_str();
        let account = self.account(job);
        let status = Status(report.answer.as_ref().map(|a| a.status));
        self.responses
            .get_or_create(&ResponseLabels {
                provider,
                account: account.clone(),
                status,
            })
            .inc();
        self.requests
            .get_or_create(&AccountLabels { provider, account })
            .inc_by(u64::from(report.requests));
        self.durations
            .get_or_create(&DurationLabels {
                provider,
                outcome: report.outcome.class().as_str(),
            })
            .observe(report.elapsed.as_secs_f64());
    }

    /// Records how a delivery of `job` was settled.
    pub fn settled(&self, job: &LeaveJob, settlement: Settlement) {
        self.jobs
            .get_or_create(&JobLabels {
                provider: job.request.provider.as_str(),
                account: self.account(job),
                outcome: settlement.as_str(),
                r#final: settlement.is_final(),
            })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_settlements_are_the_recorded_outcomes() {
        let s = Settlement::of(Settled::Done, Some(OutcomeClass::AlreadyLeft));
        assert_eq!((s.as_str(), s.is_final()), ("already_left", true));
        let s = Settlement::of(Settled::DeadLetter, Some(OutcomeClass::OwnerCannotLeave));
        assert_eq!((s.as_str(), s.is_final()), ("owner_cannot_leave", true));
        let s = Settlement::of(Settled::DeadLetter, None);
        assert_eq!((s.as_str(), s.is_final()), ("unsettled", true));
        let s = Settlement::of(Settled::Cancelled, None);
        assert_eq!((s.as_str(), s.is_final()), ("cancelled", true));
    }

    #[test]
    fn other_settlements_say_why_the_job_goes_on() {
        let parked_by_this_attempt =
            Settlement::of(Settled::Parked, Some(OutcomeClass::AccountError));
        assert_eq!(parked_by_this_attempt.as_str(), "paused");
        assert_eq!(Settlement::of(Settled::Parked, None).as_str(), "parked");
        for (settled, word) in [
            (Settled::Retry, "retry"),
            (Settled::Throttled, "throttled"),
            (Settled::Booked, "booked"),
            (Settled::Held, "held"),
            (Settled::Duplicate, "duplicate"),
            (Settled::Superseded, "superseded"),
        ] {
            let s = Settlement::of(settled, Some(OutcomeClass::ProviderError));
            assert_eq!((s.as_str(), s.is_final()), (word, false), "{settled:?}");
        }
    }
}
