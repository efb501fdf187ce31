//! Running one job: route to the account's adapter, call the provider, let the retry policy
//! decide, and settle the delivery accordingly (finish, retry or dead-letter).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::SystemTime;

use apalis::prelude::{BoxDynError, Data};
use futures_util::FutureExt;
use tracing::Instrument;

use super::held::Held;

use crate::job::LeaveJob;
use crate::providers::{AttemptReport, Registry};
use crate::queue::{AttemptRecord, DeadInfo, Delivery, OutcomeRecord, Queue};
use crate::retry::{Decision, RetryPolicy};

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
}

/// What every job needs: the adapters, the queue, the policy, and who is running it.
pub struct Processor {
    /// Adapters by account.
    pub registry: Registry,
    /// The queue.
    pub queue: Queue,
    /// The retry policy.
    pub policy: RetryPolicy,
    /// This process's consumer name (deliveries are settled only by their owner).
    pub consumer: String,
    /// The deliveries this process holds (to mark the ones that started).
    pub held: Arc<Held>,
}

impl Processor {
    /// Runs `delivery`'s job once and settles the delivery.
    pub async fn process(&self, delivery: &Delivery) -> crate::queue::Result<Settled> {
        let job = &delivery.job;
        let span = tracing::info_span!(
            "job.process",
            job.id = %job.id,
            campaign = job.campaign.as_ref().map(|c| c.as_str()).unwrap_or(""),
            provider = %job.request.provider,
            account = %job.request.account,
            job.attempt = job.attempts.made + job.attempts.throttled + 1,
            outcome = tracing::field::Empty,
        );
        async {
            self.held.mark_started(&delivery.entry_id);
            let runs = self.queue.mark_started(&job.id.to_string()).await?;
            let max_runs = self.queue.options().max_runs;
            if runs > max_runs {
                let reason = format!(
                    "started {runs} times without its attempt being settled (queue.max_runs = \
                     {max_runs}): the job crashes or hangs its worker"
                );
                return self.dead_letter(delivery, job.clone(), reason, None).await;
            }
            let adapter = match self.registry.route(&job.request) {
                Ok(adapter) => adapter,
                Err(e) => {
                    let reason = format!("cannot run on this worker: {e}");
                    return self.dead_letter(delivery, job.clone(), reason, None).await;
                }
            };
            let report = match AssertUnwindSafe(adapter.leave(&job.request.group))
                .catch_unwind()
                .await
            {
                Ok(report) => report,
                Err(panic) => panicked(panic.as_ref()),
            };
            tracing::Span::current().record("outcome", report.outcome.class().as_str());
            let mut next = job.clone();
            match self
                .policy
                .decide(&mut next, &report.outcome, SystemTime::now())
            {
                Decision::Done => {
                    let record = OutcomeRecord::new(
                        &next,
                        report.outcome.class().as_str(),
                        true,
                        report.outcome.detail(),
                        Some(&report),
                    );
                    let recorded = self.queue.finish(delivery, &record, None).await?;
                    Ok(if recorded {
                        Settled::Done
                    } else {
                        Settled::Duplicate
                    })
                }
                Decision::RetryAt(at) => {
                    let failure = AttemptRecord::of(&report);
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
                Decision::DeadLetter(reason) => {
                    self.dead_letter(delivery, next, reason, Some(&report))
                        .await
                }
            }
        }
        .instrument(span)
        .await
    }

    async fn dead_letter(
        &self,
        delivery: &Delivery,
        job: LeaveJob,
        reason: String,
        report: Option<&AttemptReport>,
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
        let record = OutcomeRecord::new(&job, class, false, &reason, report).dead_lettered();
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
