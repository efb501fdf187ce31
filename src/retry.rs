//! The retry policy: the one place that turns an [`Outcome`] into what happens to the job.
//!
//! | outcome | decision | counts against `max_attempts` |
//! |---|---|---|
//! | left, already left, group gone | done | — |
//! | owner cannot leave, invalid input | dead letter (permanent) | — |
//! | retry later | retry at the provider's hint (capped at `max_hint`), else backoff | no (`throttled` += 1) |
//! | account error | retry after `account_error_delay` | no |
//! | provider error | retry after exponential backoff with full jitter; dead letter once attempts are spent | yes |
//!
//! Rate limits and broken accounts never spend a job's attempts: they say nothing about the job.

use std::time::{Duration, SystemTime};

use crate::job::LeaveJob;
use crate::providers::Outcome;

/// Default attempts (provider errors) before a job is dead-lettered.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
/// Default first backoff step.
pub const DEFAULT_BASE_DELAY: Duration = Duration::from_secs(2);
/// Default longest backoff.
pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(300);
/// Default wait before retrying a job whose account reported an account error.
pub const DEFAULT_ACCOUNT_ERROR_DELAY: Duration = Duration::from_secs(60);
/// Default cap on a provider's hint: a job is never parked further ahead than this by one
/// answer (a wrong or hostile `Retry-After` cannot park it for years).
pub const DEFAULT_MAX_HINT: Duration = Duration::from_secs(3600);

/// What happens to a job after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Final success: record the outcome.
    Done,
    /// Run again at this instant.
    RetryAt(SystemTime),
    /// Final failure: record it and keep the job in the dead-letter set.
    DeadLetter(String),
}

/// Backoff and attempt limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Provider-error attempts before dead-lettering. Default [`DEFAULT_MAX_ATTEMPTS`].
    pub max_attempts: u32,
    /// First backoff step; each further attempt doubles it. Default [`DEFAULT_BASE_DELAY`].
    pub base_delay: Duration,
    /// Backoff ceiling. Default [`DEFAULT_MAX_DELAY`].
    pub max_delay: Duration,
    /// Wait after an account error. Default [`DEFAULT_ACCOUNT_ERROR_DELAY`].
    pub account_error_delay: Duration,
    /// Longest wait a provider's hint may impose. Default [`DEFAULT_MAX_HINT`].
    pub max_hint: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            base_delay: DEFAULT_BASE_DELAY,
            max_delay: DEFAULT_MAX_DELAY,
            account_error_delay: DEFAULT_ACCOUNT_ERROR_DELAY,
            max_hint: DEFAULT_MAX_HINT,
        }
    }
}

impl RetryPolicy {
    /// The backoff ceiling after `attempt` failures (1-based): `base * 2^(attempt-1)`, capped.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(30));
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// Full jitter: a uniformly random wait in `[0, ceiling(attempt)]`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt);
        let ms = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(fastrand::u64(0..=ms))
    }

    /// Decides what follows `outcome` for `job`, updating its attempt counters.
    pub fn decide(&self, job: &mut LeaveJob, outcome: &Outcome, now: SystemTime) -> Decision {
        match outcome {
            o if o.is_success() => Decision::Done,
            Outcome::OwnerCannotLeave(_) | Outcome::InvalidInput(_) => {
                Decision::DeadLetter(format!("permanent: {outcome}"))
            }
            Outcome::RetryLater { hint, .. } => {
                job.attempts.throttled += 1;
                let at = match hint {
                    Some(h) => h.not_before.clamp(now, now + self.max_hint),
                    None => now + self.backoff(job.attempts.throttled),
                };
                Decision::RetryAt(at)
            }
            Outcome::AccountError(_) => Decision::RetryAt(now + self.account_error_delay),
            _ => {
                job.attempts.made += 1;
                if job.attempts.made >= self.max_attempts {
                    Decision::DeadLetter(format!(
                        "attempts exhausted ({} of {}): {outcome}",
                        job.attempts.made, self.max_attempts
                    ))
                } else {
                    Decision::RetryAt(now + self.backoff(job.attempts.made))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::job::LeaveRequest;
    use crate::providers::{HintSource, LeftDetail, RetryHint};

    fn job() -> LeaveJob {
        LeaveJob::new(LeaveRequest::parse("wasend", "a", "120363406289005073@g.us").unwrap())
    }

    const NOW: Duration = Duration::from_secs(1_000_000);

    #[test]
    fn successes_are_done_and_permanent_failures_dead_letter() {
        let p = RetryPolicy::default();
        let now = UNIX_EPOCH + NOW;
        let mut j = job();
        assert_eq!(
            p.decide(&mut j, &Outcome::Left(LeftDetail::Member), now),
            Decision::Done
        );
        assert_eq!(
            p.decide(&mut j, &Outcome::GroupGone("x".into()), now),
            Decision::Done
        );
        let d = p.decide(&mut j, &Outcome::InvalidInput("bad".into()), now);
        assert!(matches!(d, Decision::DeadLetter(r) if r.starts_with("permanent: invalid_input")));
        assert_eq!(j.attempts.made, 0);
    }

    #[test]
    fn rate_limits_and_account_errors_never_spend_attempts() {
        let p = RetryPolicy::default();
        let now = UNIX_EPOCH + NOW;
        let mut j = job();
        let hinted = Outcome::RetryLater {
            reason: "429".into(),
            hint: Some(RetryHint {
                not_before: now + Duration::from_secs(3),
                source: HintSource::RetryAfter,
            }),
        };
        for _ in 0..100 {
            assert_eq!(
                p.decide(&mut j, &hinted, now),
                Decision::RetryAt(now + Duration::from_secs(3))
            );
        }
        assert_eq!(
            p.decide(&mut j, &Outcome::AccountError("x".into()), now),
            Decision::RetryAt(now + p.account_error_delay)
        );
        assert_eq!((j.attempts.made, j.attempts.throttled), (0, 100));
        // A hint in the past means now.
        let past = Outcome::RetryLater {
            reason: "429".into(),
            hint: Some(RetryHint {
                not_before: now - Duration::from_secs(9),
                source: HintSource::RetryAfter,
            }),
        };
        assert_eq!(p.decide(&mut j, &past, now), Decision::RetryAt(now));
        // A hint years ahead is capped.
        let far = Outcome::RetryLater {
            reason: "429".into(),
            hint: Some(RetryHint {
                not_before: now + Duration::from_secs(30 * 365 * 86_400),
                source: HintSource::RetryAfter,
            }),
        };
        assert_eq!(
            p.decide(&mut j, &far, now),
            Decision::RetryAt(now + DEFAULT_MAX_HINT)
        );
    }

    #[test]
    fn provider_errors_back_off_with_jitter_then_dead_letter() {
        let p = RetryPolicy {
            max_attempts: 4,
            ..RetryPolicy::default()
        };
        let now = UNIX_EPOCH + NOW;
        let mut j = job();
        let err = Outcome::ProviderError("HTTP 502".into());
        for attempt in 1..4 {
            match p.decide(&mut j, &err, now) {
                Decision::RetryAt(at) => {
                    let wait = at.duration_since(now).unwrap();
                    assert!(wait <= p.ceiling(attempt), "attempt {attempt}: {wait:?}");
                }
                other => panic!("attempt {attempt}: {other:?}"),
            }
        }
        let d = p.decide(&mut j, &err, now);
        assert!(
            matches!(&d, Decision::DeadLetter(r) if r.starts_with("attempts exhausted (4 of 4)")),
            "{d:?}"
        );
    }

    #[test]
    fn ceiling_doubles_and_caps() {
        let p = RetryPolicy::default();
        assert_eq!(p.ceiling(1), Duration::from_secs(2));
        assert_eq!(p.ceiling(2), Duration::from_secs(4));
        assert_eq!(p.ceiling(5), Duration::from_secs(32));
        assert_eq!(p.ceiling(40), DEFAULT_MAX_DELAY);
        // Jitter spreads: many draws are not all equal.
        let draws: std::collections::HashSet<Duration> = (0..50).map(|_| p.backoff(5)).collect();
        assert!(draws.len() > 10);
    }
}
