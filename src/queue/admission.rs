//! The fleet-wide quota: admission of deliveries, follow-up requests, cooldowns after "retry
//! later", and pausing accounts. Every worker process sharing the Redis shares one limiter
//! per account, kept in Redis and changed only by these scripts, on Redis's clock.
//!
//! - **Admission** (`lua/admit.lua`) runs before a job's first request. If the account's next
//!   slot is free now and its sliding window has room, the request is granted. Otherwise the
//!   job *books* the account's next slot (the line moves on by the job's cost) and goes to the
//!   delayed set until then, without holding a worker or spending an attempt; when it comes
//!   back it is entitled to go. A job is thereby delayed once, and an account's backlog has an
//!   exact end ([`crate::quota::AccountStatus::eta`]).
//! - **The window** (`{p}:acct:{name}:log`) holds the requests granted in the last
//!   `period × (1 + headroom)`. A grant needs room in it, so however late or early jobs
//!   actually arrive, no window holds more than the quota.
//! - **Follow-ups** (`lua/follow_up.lua`): an adapter's further requests in the same attempt
//!   take a grant from the window too, waiting in place for a short while at most.
//! - **Retry later** (`lua/throttle.lua`): the account cools down (no grant before the end), a
//!   429 lowers its effective rate (AIMD), and the job is booked after the cooldown.
//! - **Account errors** (`lua/pause.lua`): the account is paused with the reason, and its jobs
//!   are parked in a list as they come, until an operator resumes it (`lua/resume.lua`).
//! - **Campaign holds** ([`super::Hold`]): admission also holds the jobs of a paused
//!   campaign in its own list and refuses those of a cancelled one. Only admission looks, so a
//!   job that has sent its first request always finishes its attempt: none is half-run.

use std::time::Duration;

use super::keys::WORKERS_GROUP;
use super::records::AttemptRecord;
use super::{Delivery, HISTORY_LEN, HISTORY_TTL, Queue, Result, secs};
use crate::job::LeaveJob;
use crate::quota::{Quota, QuotaPolicy};

/// How an account's quota is spent, and what one job costs of it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// The account's quota.
    pub quota: Quota,
    /// The provider's pacing policy.
    pub policy: QuotaPolicy,
    /// Requests a job normally takes (Kirimin's owner check makes it 2).
    pub cost: u32,
}

impl Limits {
    fn period_ms(&self) -> u64 {
        u64::try_from(self.quota.period.as_millis()).unwrap_or(u64::MAX)
    }
}

/// What admission decided for a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Send the request now.
    Go,
    /// A slot is booked; the job waits in the delayed set until this instant (ms, Redis's
    /// clock). The delivery is settled.
    Booked {
        /// The slot.
        at_ms: u64,
    },
    /// The account is paused; the job is parked with it. The delivery is settled.
    Parked,
    /// The job's campaign is paused; the job is held with it. The delivery is settled.
    Held,
    /// The job's campaign is cancelled: nothing is granted; the delivery is still the
    /// caller's, to record as cancelled.
    Cancelled,
    /// The slot comes within the inline wait: sleep this long, then ask again.
    Wait(Duration),
    /// The delivery belongs to another consumer now (its lease ran out).
    Lost,
    /// The job has started this many times without its attempt being settled, more than
    /// [`super::QueueOptions::max_runs`]: it crashes or hangs its worker. Nothing is granted;
    /// the delivery is still the caller's, to dead-letter.
    CrashLoop {
        /// Starts counted.
        runs: u64,
    },
}

/// What a follow-up request may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowUp {
    /// Send it now.
    Go,
    /// Not before this long.
    Wait(Duration),
    /// The account is paused.
    Paused,
}

impl Queue {
    /// Asks whether `delivery`'s job may send its first request now, and settles the delivery
    /// when it may not (booked or parked). `consumer` must own the delivery. The first ask
    /// (`first`) counts a start of the job for the crash-loop guard; asking again after
    /// [`Admit::Wait`] does not.
    pub async fn admit(
        &self,
        consumer: &str,
        delivery: &Delivery,
        limits: &Limits,
        first: bool,
    ) -> Result<Admit> {
        let job = &delivery.job;
        let account = job.request.account.as_str();
        let id = job.id.to_string();
        // A job outside campaigns checks a key no campaign can have (ids are never empty).
        let campaign = job.campaign.as_ref().map_or("", |c| c.as_str());
        let mut invocation = self.scripts.admit.prepare_invoke();
        invocation
            .key(self.keys.jobs())
            .key(self.keys.delayed())
            .key(self.keys.delayed_jobs())
            .key(self.keys.account(account))
            .key(self.keys.account_log(account))
            .key(self.keys.account_parked(account))
            .key(self.keys.booked())
            .key(self.keys.runs())
            .key(self.keys.idem(job.idempotency_key.as_str()))
            .key(self.keys.campaign(campaign))
            .key(self.keys.campaign_parked(campaign))
            .arg(WORKERS_GROUP)
            .arg(&delivery.entry_id)
            .arg(&id)
            .arg(consumer)
            .arg(limits.quota.count.get())
            .arg(limits.period_ms())
            .arg(limits.policy.headroom)
            .arg(limits.cost.max(1))
            .arg(u64::try_from(limits.policy.inline_wait.as_millis()).unwrap_or(u64::MAX))
            .arg(limits.policy.aimd.increase)
            .arg(secs(self.options.pending_ttl))
            .arg(if first {
                self.options.max_runs.to_string()
            } else {
                String::new()
            });
        let (code, n): (i64, i64) = self
            .scripts
            .run(&mut self.conn.clone(), &invocation)
            .await?;
        let n = u64::try_from(n).unwrap_or(0);
        Ok(match code {
            0 => Admit::Go,
            1 => Admit::Booked { at_ms: n },
            2 => Admit::Parked,
            3 => Admit::Wait(Duration::from_millis(n)),
            4 => Admit::CrashLoop { runs: n },
            5 => Admit::Held,
            6 => Admit::Cancelled,
            _ => Admit::Lost,
        })
    }

    /// Asks for a further request of `job`'s running attempt (a follow-up or pre-check).
    pub async fn follow_up(&self, job: &LeaveJob, limits: &Limits) -> Result<FollowUp> {
        let account = job.request.account.as_str();
        let mut invocation = self.scripts.follow_up.prepare_invoke();
        invocation
            .key(self.keys.account(account))
            .key(self.keys.account_log(account))
            .arg(job.id.to_string())
            .arg(limits.quota.count.get())
            .arg(limits.period_ms())
            .arg(limits.policy.headroom)
            .arg(limits.policy.aimd.increase);
        let wait: i64 = self
            .scripts
            .run(&mut self.conn.clone(), &invocation)
            .await?;
        Ok(match wait {
            0 => FollowUp::Go,
            w if w < 0 => FollowUp::Paused,
            w => FollowUp::Wait(Duration::from_millis(w.unsigned_abs())),
        })
    }

    /// Settles `delivery` after a "retry later" answer: the account cools down for `wait`
    /// (lowering its rate when `rate_limited`), and `job` (its counters updated) is booked
    /// after the cooldown. Returns when it runs again (ms, Redis's clock), or `None` if the
    /// delivery belongs to another consumer now.
    #[allow(clippy::too_many_arguments)]
    pub async fn throttle(
        &self,
        consumer: &str,
        delivery: &Delivery,
        job: &LeaveJob,
        wait: Duration,
        rate_limited: bool,
        failure: &AttemptRecord,
        limits: &Limits,
    ) -> Result<Option<u64>> {
        let account = job.request.account.as_str();
        let mut invocation = self.scripts.throttle.prepare_invoke();
        invocation
            .key(self.keys.jobs())
            .key(self.keys.delayed())
            .key(self.keys.delayed_jobs())
            .key(self.keys.history(&job.id.to_string()))
            .key(self.keys.idem(job.idempotency_key.as_str()))
            .key(self.keys.runs())
            .key(self.keys.account(account))
            .key(self.keys.booked())
            .arg(WORKERS_GROUP)
            .arg(&delivery.entry_id)
            .arg(job.id.to_string())
            .arg(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX))
            .arg(if rate_limited { "1" } else { "0" })
            .arg(crate::job::excerpt(&failure.detail))
            .arg(serde_json::to_string(job)?)
            .arg(serde_json::to_string(failure)?)
            .arg(HISTORY_LEN)
            .arg(secs(HISTORY_TTL))
            .arg(consumer)
            .arg(secs(self.options.pending_ttl))
            .arg(limits.quota.count.get())
            .arg(limits.period_ms())
            .arg(limits.policy.headroom)
            .arg(limits.cost.max(1))
            .arg(limits.policy.aimd.decrease)
            .arg(limits.policy.aimd.increase)
            .arg(limits.policy.aimd.floor);
        let at: i64 = self
            .scripts
            .run(&mut self.conn.clone(), &invocation)
            .await?;
        Ok(u64::try_from(at).ok())
    }

    /// Settles `delivery` after an account error: the account is paused with `reason` and
    /// `job` is parked. Returns `false` if the delivery belongs to another consumer now.
    pub async fn pause_account(
        &self,
        consumer: &str,
        delivery: &Delivery,
        job: &LeaveJob,
        reason: &str,
        failure: &AttemptRecord,
    ) -> Result<bool> {
        let account = job.request.account.as_str();
        let mut invocation = self.scripts.pause.prepare_invoke();
        invocation
            .key(self.keys.jobs())
            .key(self.keys.account(account))
            .key(self.keys.account_parked(account))
            .key(self.keys.runs())
            .key(self.keys.history(&job.id.to_string()))
            .key(self.keys.booked())
            .arg(WORKERS_GROUP)
            .arg(&delivery.entry_id)
            .arg(job.id.to_string())
            .arg(serde_json::to_string(job)?)
            .arg(consumer)
            .arg(reason)
            .arg(serde_json::to_string(failure)?)
            .arg(HISTORY_LEN)
            .arg(secs(HISTORY_TTL));
        let parked: i64 = self
            .scripts
            .run(&mut self.conn.clone(), &invocation)
            .await?;
        Ok(parked == 1)
    }
}
