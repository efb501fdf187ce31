//! The fleet-wide [`Pacer`] for an attempt's further requests: each asks the account's shared
//! window in Redis, waiting in place up to the provider's `pacing.follow_up_wait`.

use std::time::{Duration, SystemTime};

use futures_util::future::BoxFuture;
use tracing::Instrument;
use tracing::field::Empty;

use crate::job::LeaveJob;
use crate::providers::{Pacer, Throttled};
use crate::queue::{FollowUp, Limits, Queue};

/// Paces one attempt's follow-ups.
pub(super) struct FleetPacer<'a> {
    pub queue: &'a Queue,
    pub job: &'a LeaveJob,
    pub limits: &'a Limits,
}

impl Pacer for FleetPacer<'_> {
    fn follow_up(&self) -> BoxFuture<'_, Result<(), Throttled>> {
        Box::pin(async move {
            let mut waited = Duration::ZERO;
            loop {
                let wait = match self.queue.follow_up(self.job, self.limits).await {
                    Ok(FollowUp::Go) => return Ok(()),
                    Ok(FollowUp::Paused) => {
                        return Err(Throttled {
                            not_before: SystemTime::now(),
                            reason: "the account was paused during the attempt".into(),
                        });
                    }
                    Ok(FollowUp::Wait(wait)) => wait,
                    Err(e) => {
                        return Err(Throttled {
                            not_before: SystemTime::now() + Duration::from_secs(1),
                            reason: format!("the quota could not be checked: {e}"),
                        });
                    }
                };
                if waited + wait > self.limits.policy.follow_up_wait {
                    return Err(Throttled {
                        not_before: SystemTime::now() + wait,
                        reason: format!(
                            "the account's quota has no room for a follow-up request for {}",
                            humantime::format_duration(wait)
                        ),
                    });
                }
                wait_for_quota(wait, true).await;
                waited += wait;
            }
        })
    }
}

/// Sleeps `wait` for a slot of the account's quota, in a `quota.wait` span; `follow_up` marks
/// the wait of an attempt's further request (the first request's wait is admission's).
pub(super) async fn wait_for_quota(wait: Duration, follow_up: bool) {
    let span = tracing::info_span!(
        "quota.wait",
        otel.name = "quota wait",
        wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
        follow_up = Empty,
    );
    if follow_up {
        span.record("follow_up", true);
    }
    tokio::time::sleep(wait).instrument(span).await;
}
