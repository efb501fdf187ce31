//! Running one job: route to the account's adapter, call the provider, let the retry policy
//! decide, and settle the delivery accordingly (finish, retry or dead-letter).

use std::sync::Arc;
use std::time::SystemTime;

use apalis::prelude::{BoxDynError, Data};
use tracing::Instrument;

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
}

/// What every job needs: the adapters, the queue and the policy.
pub struct Processor {
    /// Adapters by account.
    pub registry: Registry,
    /// The queue.
    pub queue: Queue,
    /// The retry policy.
    pub policy: RetryPolicy,
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
            let adapter = match self.registry.route(&job.request) {
                Ok(adapter) => adapter,
                Err(e) => {
                    let reason = format!("cannot run on this worker: {e}");
                    return self.dead_letter(delivery, job.clone(), reason, None).await;
                }
            };
            let report = adapter.leave(&job.request.group).await;
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
                    self.queue
                        .retry(delivery, &next, at, &AttemptRecord::of(&report))
                        .await?;
                    Ok(Settled::Retry)
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
        let class = report.map_or("unroutable", |r| r.outcome.class().as_str());
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

/// The apalis job function.
pub(super) async fn handle(
    delivery: Delivery,
    processor: Data<Arc<Processor>>,
) -> Result<(), BoxDynError> {
    processor.process(&delivery).await?;
    Ok(())
}
