//! An account's state as the whole fleet sees it, and when its backlog will be done.

use serde::Serialize;

use super::Quota;
use super::policy::{Pace, QuotaPolicy, RateFactor};

/// One account's shared state (read from Redis by `Queue::account_status`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AccountStatus {
    /// Why the account is paused, if it is.
    pub paused: Option<String>,
    /// When it was paused (ms since the epoch).
    pub paused_at_ms: Option<u64>,
    /// No request is sent for it before this instant (ms), after a 429 or an outage.
    pub cooldown_until_ms: Option<u64>,
    /// Why it is cooling down.
    pub cooldown_reason: Option<String>,
    /// The stored AIMD factor.
    #[serde(skip)]
    pub factor: RateFactor,
    /// Jobs of the account not yet finished (queued, delayed, running, parked).
    pub backlog: u64,
    /// Jobs parked while the account is paused.
    pub parked: u64,
    /// Requests granted in the current window.
    pub in_window: u64,
    /// "Retry later" answers so far (429s and outages).
    pub throttled: u64,
    /// The next free slot (ms): jobs are booked up to here.
    pub booked_until_ms: Option<u64>,
    /// Redis's clock when this was read (ms).
    pub now_ms: u64,
}

/// When an account's backlog will be done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Eta {
    /// Nothing to do.
    Idle,
    /// Done at this instant (ms since the epoch), at the account's effective rate.
    At {
        /// The instant.
        at_ms: u64,
    },
    /// Paused: nothing moves until an operator resumes the account.
    Paused,
}

impl AccountStatus {
    /// The effective-rate factor now (1 = the full quota).
    pub fn factor_now(&self, quota: Quota, policy: &QuotaPolicy) -> f64 {
        policy.aimd.current(self.factor, quota.period, self.now_ms)
    }

    /// The pace in force now.
    pub fn pace(&self, quota: Quota, policy: &QuotaPolicy) -> Pace {
        Pace::new(quota, policy, self.factor_now(quota, policy))
    }

    /// When the backlog will be done if each job costs `cost` requests: from the end of any
    /// cooldown, one job per `cost` intervals of the effective pace.
    pub fn eta(&self, quota: Quota, policy: &QuotaPolicy, cost: u32) -> Eta {
        if self.paused.is_some() {
            return Eta::Paused;
        }
        if self.backlog == 0 {
            return Eta::Idle;
        }
        let start = self.now_ms.max(self.cooldown_until_ms.unwrap_or(0));
        let interval_ms = self.pace(quota, policy).interval().as_secs_f64() * 1000.0;
        let span = (self.backlog as f64) * f64::from(cost.max(1)) * interval_ms;
        Eta::At {
            at_ms: start.saturating_add(span.ceil() as u64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_is_the_backlog_at_the_effective_rate_after_the_cooldown() {
        let q: Quota = "10/min".parse().unwrap();
        let policy = QuotaPolicy {
            headroom: 0.0,
            ..QuotaPolicy::default()
        };
        let mut s = AccountStatus {
            backlog: 10_000,
            now_ms: 1_000_000,
            ..AccountStatus::default()
        };
        // 10,000 jobs at 10/min: 1,000 minutes (the "17 hours, not 3 days" of the issue).
        assert_eq!(
            s.eta(q, &policy, 1),
            Eta::At {
                at_ms: 1_000_000 + 1_000 * 60_000
            }
        );
        assert_eq!(
            s.eta(q, &policy, 2),
            Eta::At {
                at_ms: 1_000_000 + 2_000 * 60_000
            }
        );
        s.cooldown_until_ms = Some(1_060_000);
        s.factor = RateFactor {
            at_decrease: 0.5,
            decreased_at_ms: Some(1_000_000),
        };
        assert_eq!(
            s.eta(q, &policy, 1),
            Eta::At {
                at_ms: 1_060_000 + 2_000 * 60_000
            }
        );
        s.paused = Some("401".into());
        assert_eq!(s.eta(q, &policy, 1), Eta::Paused);
        s.paused = None;
        s.backlog = 0;
        assert_eq!(s.eta(q, &policy, 1), Eta::Idle);
    }
}
