//! Running one job: route to the account's adapter, pass the account's quota (admission),
//! call the provider, let the retry policy decide, and settle the delivery accordingly
//! (finish, retry, cool the account down, pause it, or dead-letter).
//!
//! A job runs in a `process {p}:jobs` span (OpenTelemetry messaging, kind consumer) whose
//! parent is the context the job carries (its producer's) and which links to the job's
//! previous attempt; waits for the account's quota run in `quota.wait` spans.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::SystemTime;

use apalis::prelude::{BoxDynError, Data};
use futures_util::FutureExt;
use tracing::Instrument;

use super::held::Held;
use super::pacer::{FleetPacer, wait_for_quota};
use crate::config::Settings;
use crate::job::{AccountName, LeaveJob, TraceContext};
use crate::metrics::{JobMetrics, Settlement};
use crate::providers::{AttemptReport, Error as RouteError, HttpClient, Registry};
use crate::queue::{Admit, AttemptRecord, DeadInfo, Delivery, Limits, OutcomeRecord, Queue};
use crate::retry::{Decision, RetryPolicy};
use crate::telemetry::propagation;

/// How a delivery was settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    /// Final outcome recorded (success).
    Done,
    /// Scheduled again.
    Retry,
    /// Final failure recorded; the job is in the dead-letter set.
    DeadLetter,
    /// The outcome had been recorded before (a duplicate delivery): nothing new written.
    Duplicate,
    /// The delivery's lease ran out and another worker owns it now; its attempt counts.
    Superseded,
    /// Not run: the account had no free slot; one is booked and the job waits for it.
    Booked,
    /// The provider said "retry later": the account cools down, the job waits after it.
    Throttled,
    /// The account is paused (now, or since before): the job is parked with it.
    Parked,
    /// Its campaign is paused: the job is held with it, not run.
    Held,
    /// Its campaign is cancelled: recorded as `cancelled`, not run.
    Cancelled,
}

/// One account's policies, resolved from the configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AccountPolicy {
    /// Its quota and how it is spent.
    pub limits: Limits,
    /// Its provider's retry policy.
    pub retry: RetryPolicy,
}

/// What every job needs: the adapters, the queue, the policies, and who is running it.
pub struct Processor {
    registry: Registry,
    queue: Queue,
    policies: BTreeMap<AccountName, AccountPolicy>,
    consumer: String,
    held: Arc<Held>,
    /// Where settlements and attempts are counted, if anywhere.
    metrics: Option<JobMetrics>,
    /// The jobs stream's key, and the process span's name (built once, not per job).
    stream: String,
    span_name: String,
}

impl Processor {
    /// A processor for the accounts in `settings`, settling deliveries as `consumer`.
    pub fn new(
        http: &HttpClient,
        settings: &Settings,
        queue: Queue,
        consumer: String,
        held: Arc<Held>,
    ) -> Self {
        let policies = settings
            .accounts
            .iter()
            .map(|(name, account)| {
                let policy = AccountPolicy {
                    limits: settings.limits(account),
                    retry: settings.retry(account),
                };
                (name.clone(), policy)
            })
            .collect();
        let stream = queue.keys().jobs();
        Processor {
            span_name: format!("process {stream}"),
            stream,
            registry: Registry::new(http, settings),
            policies,
            queue,
            consumer,
            held,
            metrics: None,
        }
    }

    /// Counts every settlement and provider attempt in `metrics`.
    pub fn with_metrics(mut self, metrics: JobMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Runs `delivery`'s job once and settles the delivery.
    pub async fn process(&self, delivery: &Delivery) -> crate::queue::Result<Settled> {
        use tracing::field::{Empty, display};
        let job = &delivery.job;
        // The trace-only fields (`otel.*`, `messaging.*`) are recorded only while traces are
        // exported: log lines leave them out, and the log layer would format them on every job.
        let span = tracing::info_span!(
            "job.process",
            otel.name = Empty,
            otel.kind = Empty,
            otel.status_code = Empty,
            messaging.system = Empty,
            messaging.operation.type = Empty,
            messaging.destination.name = Empty,
            messaging.consumer.group.name = Empty,
            messaging.message.id = Empty,
            job.id = %job.id,
            campaign = job.campaign.as_ref().map(|c| c.as_str()).unwrap_or(""),
            provider = %job.request.provider,
            account = %job.request.account,
            job.attempt = job.attempts.made + job.attempts.throttled + 1,
            outcome = tracing::field::Empty,
            error.type = tracing::field::Empty,
        );
        if crate::telemetry::traces_on() {
            // Before the span's context is first used: its name and kind are fixed then.
            span.record("otel.name", self.span_name.as_str());
            span.record("otel.kind", "consumer");
            span.record("messaging.system", "redis");
            span.record("messaging.operation.type", "process");
            span.record("messaging.destination.name", self.stream.as_str());
            span.record(
                "messaging.consumer.group.name",
                crate::queue::keys::WORKERS_GROUP,
            );
            span.record("messaging.message.id", display(&job.id));
        }
        if let Some(producer) = &job.trace {
            propagation::continue_from(&span, producer);
        }
        if let Some(previous) = &job.previous_attempt {
            propagation::link(&span, previous);
        }
        let mut attempted = None;
        let settled = async {
            // Adapters and policies come from the same accounts: both or neither.
            let routed = self.registry.route(&job.request).and_then(|adapter| {
                let policy = self.policies.get(&job.request.account).copied();
                policy
                    .map(|p| (adapter, p))
                    .ok_or_else(|| RouteError::UnknownAccount(job.request.account.to_string()))
            });
            let (adapter, policy) = match routed {
                Ok(routed) => routed,
                Err(e) => {
                    let reason = format!("cannot run on this worker: {e}");
                    let trace = propagation::current();
                    return self.dead_letter(delivery, job.clone(), reason, None, trace).await;
                }
            };
            let mut first = true;
            loop {
                let admitted = self
                    .queue
                    .admit(&self.consumer, delivery, &policy.limits, first)
                    .await?;
                if first {
                    // The start is counted in Redis now: a drain that cuts it off undoes it.
                    self.held.mark_started(&delivery.entry_id);
                    first = false;
                }
                match admitted {
                    Admit::Go => break,
                    Admit::Wait(wait) => wait_for_quota(wait, false).await,
                    Admit::Booked { .. } => return Ok(Settled::Booked),
                    Admit::Parked => return Ok(Settled::Parked),
                    Admit::Held => return Ok(Settled::Held),
                    Admit::Cancelled => return self.cancelled(delivery).await,
                    Admit::Lost => return Ok(Settled::Superseded),
                    Admit::CrashLoop { runs } => {
                        let max_runs = self.queue.options().max_runs;
                        let reason = format!(
                            "started {runs} times without its attempt being settled \
                             (queue.max_runs = {max_runs}): the job crashes or hangs its worker"
                        );
                        let trace = propagation::current();
                    return self.dead_letter(delivery, job.clone(), reason, None, trace).await;
                    }
                }
            }
            let started_ms = crate::queue::unix_ms(SystemTime::now());
            let pacer = FleetPacer {
                queue: &self.queue,
                job,
                limits: &policy.limits,
            };
            let report = match AssertUnwindSafe(adapter.leave_paced(&job.request.group, &pacer))
                .catch_unwind()
                .await
            {
                Ok(report) => report,
                Err(panic) => panicked(panic.as_ref()),
            };
            let class = report.outcome.class().as_str();
            let current = tracing::Span::current();
            current.record("outcome", class);
            if !report.outcome.is_success() {
                current.record("otel.status_code", "error");
                current.record("error.type", class);
            }
            attempted = Some(report.outcome.class());
            if let Some(metrics) = &self.metrics {
                metrics.attempt(job, &report);
            }
            let mut next = job.clone();
            next.attempts.first_at_ms.get_or_insert(started_ms);
            // This attempt's context (only while traces are exported): the outcome record
            // carries it, and a later attempt links to it.
            let this_attempt = propagation::of(&current);
            next.previous_attempt = this_attempt.clone().or(next.previous_attempt);
            match policy
                .retry
                .decide(&mut next, &report.outcome, SystemTime::now())
            {
                Decision::Done => {
                    let record = OutcomeRecord::of_attempt(
                        &next,
                        report.outcome.class().as_str(),
                        true,
                        report.outcome.detail(),
                        Some(&report),
                        this_attempt.as_ref(),
                    );
                    let recorded = self.queue.finish(delivery, &record, None).await?;
                    Ok(if recorded {
                        Settled::Done
                    } else {
                        Settled::Duplicate
                    })
                }
                Decision::RetryAt(at) => {
                    let failure = failed(&mut next, &report);
                    let scheduled = self
                        .queue
                        .retry(&self.consumer, delivery, &next, at, &failure)
                        .await?;
                    Ok(if scheduled {
                        Settled::Retry
                    } else {
                        Settled::Superseded
                    })
                }
                Decision::Throttle { wait } => {
                    // A 429 (not an outage, nor our own quota) also lowers the account's rate.
                    let rate_limited = report.answer.as_ref().is_some_and(|a| a.status == 429);
                    let failure = failed(&mut next, &report);
                    let at = self
                        .queue
                        .throttle(
                            &self.consumer,
                            delivery,
                            &next,
                            wait,
                            rate_limited,
                            &failure,
                            &policy.limits,
                        )
                        .await?;
                    Ok(if at.is_some() {
                        Settled::Throttled
                    } else {
                        Settled::Superseded
                    })
                }
                Decision::PauseAccount(reason) => {
                    tracing::warn!(reason = %reason, "account paused: its jobs wait until it is resumed");
                    let failure = failed(&mut next, &report);
                    let parked = self
                        .queue
                        .pause_account(&self.consumer, delivery, &next, &reason, &failure)
                        .await?;
                    Ok(if parked {
                        Settled::Parked
                    } else {
                        Settled::Superseded
                    })
                }
                Decision::DeadLetter(reason) => {
                    self.dead_letter(delivery, next, reason, Some(&report), this_attempt)
                        .await
                }
            }
        }
        .instrument(span)
        .await?;
        if let Some(metrics) = &self.metrics {
            metrics.settled(job, Settlement::of(settled, attempted));
        }
        Ok(settled)
    }

    /// Records a job of a cancelled campaign as `cancelled`: no request was sent.
    async fn cancelled(&self, delivery: &Delivery) -> crate::queue::Result<Settled> {
        let detail = "its campaign was cancelled before it ran: no request was sent";
        let record = OutcomeRecord::new(&delivery.job, "cancelled", false, detail, None);
        let recorded = self.queue.finish(delivery, &record, None).await?;
        Ok(if recorded {
            Settled::Cancelled
        } else {
            Settled::Duplicate
        })
    }

    /// Dead-letters `job` with `reason`, after `report` if it ran; `attempt` is the trace
    /// context of the attempt (`None` while traces are off).
    async fn dead_letter(
        &self,
        delivery: &Delivery,
        job: LeaveJob,
        reason: String,
        report: Option<&AttemptReport>,
        attempt: Option<TraceContext>,
    ) -> crate::queue::Result<Settled> {
        let mut history = self.queue.history(&job.id.to_string()).await?;
        history.extend(report.map(AttemptRecord::of));
        let class = report.map_or("unsettled", |r| r.outcome.class().as_str());
        let info = DeadInfo {
            reason: reason.clone(),
            at_ms: crate::queue::unix_ms(SystemTime::now()),
            history,
            poison: false,
        };
        tracing::warn!(job.id = %job.id, reason = %reason, "dead-lettered");
        let record =
            OutcomeRecord::of_attempt(&job, class, false, &reason, report, attempt.as_ref())
                .dead_lettered();
        let settled = Delivery {
            entry_id: delivery.entry_id.clone(),
            job,
        };
        let recorded = self.queue.finish(&settled, &record, Some(&info)).await?;
        Ok(if recorded {
            Settled::DeadLetter
        } else {
            Settled::Duplicate
        })
    }
}

/// The record of a failed attempt, remembered on the job as its last error.
fn failed(job: &mut LeaveJob, report: &AttemptReport) -> AttemptRecord {
    let failure = AttemptRecord::of(report);
    job.attempts.last_error = Some(failure.summary());
    failure
}

/// The report of an attempt whose code panicked: a provider error, so the retry policy
/// retries it and eventually dead-letters it like any other failure.
fn panicked(panic: &(dyn std::any::Any + Send)) -> AttemptReport {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into());
    tracing::error!(%message, "a leave attempt panicked");
    AttemptReport {
        outcome: crate::providers::Outcome::ProviderError(format!(
            "the attempt panicked: {message}"
        )),
        answer: None,
        requests: 0,
        elapsed: std::time::Duration::ZERO,
    }
}

/// The apalis job function.
pub(super) async fn handle(
    delivery: Delivery,
    processor: Data<Arc<Processor>>,
) -> Result<(), BoxDynError> {
    processor.process(&delivery).await?;
    Ok(())
}
