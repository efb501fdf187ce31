//! The retry policy: the one place that turns an [`Outcome`] into what happens to the job.
//!
//! | outcome | decision | counts against `max_attempts` |
//! |---|---|---|
//! | left, already left, group gone | done | — |
//! | owner cannot leave, invalid input | dead letter (permanent) | — |
//! | retry later (429, outage) | the **account** cools down until the provider's hint (capped at `max_hint`), else for an exponential backoff with full jitter; the job is retried after it | no (`throttled` += 1; bounded by `max_throttled_for` instead) |
//! | account error | the **account** is paused; its jobs wait until an operator resumes it | no |
//! | provider error (5xx, timeout, connection) | retry after exponential backoff with full jitter; dead letter once attempts are spent | yes |
//!
//! Rate limits and broken accounts never spend a job's attempts: they say nothing about the
//! job. A job still told to retry later `max_throttled_for` after its first such answer (a 429,
//! an outage, our own quota holding a request back) is dead-lettered.

use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use crate::job::LeaveJob;
use crate::providers::Outcome;
use crate::queue::unix_ms;

/// Default attempts (provider errors) before a job is dead-lettered.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 5;
/// Default first backoff step.
pub const DEFAULT_BASE_DELAY: Duration = Duration::from_secs(2);
/// Default longest backoff.
pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(300);
/// Default cap on a provider's hint: an account is never cooled down further ahead than this
/// by one answer (a wrong or hostile `Retry-After` cannot stop it for years).
pub const DEFAULT_MAX_HINT: Duration = Duration::from_secs(3600);
/// Default longest time a job may keep being told to retry later, from its first such answer
/// (of any kind, not only a 429), before it is dead-lettered.
pub const DEFAULT_MAX_THROTTLED_FOR: Duration = Duration::from_secs(24 * 3600);

/// What happens to a job after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Final success: record the outcome.
    Done,
    /// Run again at this instant (a transient failure's backoff).
    RetryAt(SystemTime),
    /// Cool the whole account down for `wait`, then run the job again.
    Throttle {
        /// How long no request may be sent for the account.
        wait: Duration,
    },
    /// Pause the account, for this reason; the job waits with it.
    PauseAccount(String),
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
    /// Longest wait a provider's hint may impose. Default [`DEFAULT_MAX_HINT`].
    pub max_hint: Duration,
    /// How long "retry later" answers may go on for one job, from the first. Default
    /// [`DEFAULT_MAX_THROTTLED_FOR`].
    pub max_throttled_for: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            base_delay: DEFAULT_BASE_DELAY,
            max_delay: DEFAULT_MAX_DELAY,
            max_hint: DEFAULT_MAX_HINT,
            max_throttled_for: DEFAULT_MAX_THROTTLED_FOR,
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
                let now_ms = unix_ms(now);
                let since = *job.attempts.throttled_since_ms.get_or_insert(now_ms);
                job.attempts.throttled += 1;
                let limit = u64::try_from(self.max_throttled_for.as_millis()).unwrap_or(u64::MAX);
                if now_ms.saturating_sub(since) > limit {
                    return Decision::DeadLetter(format!(
                        "still told to retry later {} after the first such answer \
                         (retry.max_throttled_for), {} answers in all: {outcome}",
                        humantime::format_duration(self.max_throttled_for),
                        job.attempts.throttled
                    ));
                }
                let wait = match hint {
                    Some(h) => h
                        .not_before
                        .duration_since(now)
                        .unwrap_or_default()
                        .min(self.max_hint),
                    None => self.backoff(job.attempts.throttled),
                };
                Decision::Throttle { wait }
            }
            Outcome::AccountError(_) => Decision::PauseAccount(outcome.to_string()),
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

/// Exponential backoff between failed steps of a loop that runs until stopped (reading a
/// stream, writing the ledger): the first wait is 100 ms, each further one doubles, up to 5 s;
/// [`Backoff::reset`] after a success.
#[derive(Debug)]
pub(crate) struct Backoff(Duration);

impl Backoff {
    /// The first wait.
    const FIRST: Duration = Duration::from_millis(100);
    /// The longest wait.
    const MAX: Duration = Duration::from_secs(5);

    /// Starts over from the first wait.
    pub(crate) fn reset(&mut self) {
        self.0 = Self::FIRST;
    }

    /// Waits, unless `stop` comes first; returns whether to go on.
    pub(crate) async fn wait(&mut self, stop: &CancellationToken) -> bool {
        let wait = self.0;
        self.0 = (self.0 * 2).min(Self::MAX);
        tokio::select! {
            () = stop.cancelled() => false,
            () = tokio::time::sleep(wait) => true,
        }
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff(Self::FIRST)
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

    fn hinted(now: SystemTime, secs: i64) -> Outcome {
        let not_before = if secs >= 0 {
            now + Duration::from_secs(secs.unsigned_abs())
        } else {
            now - Duration::from_secs(secs.unsigned_abs())
        };
        Outcome::RetryLater {
            reason: "429".into(),
            hint: Some(RetryHint {
                not_before,
                source: HintSource::RetryAfter,
            }),
        }
    }

    #[test]
    fn rate_limits_cool_the_account_and_never_spend_attempts() {
        let p = RetryPolicy::default();
        let now = UNIX_EPOCH + NOW;
        let mut j = job();
        for _ in 0..100 {
            assert_eq!(
                p.decide(&mut j, &hinted(now, 3), now),
                Decision::Throttle {
                    wait: Duration::from_secs(3)
                }
            );
        }
        assert_eq!((j.attempts.made, j.attempts.throttled), (0, 100));
        assert_eq!(j.attempts.throttled_since_ms, Some(NOW.as_millis() as u64));
        // A hint in the past means now; one years ahead is capped.
        assert_eq!(
            p.decide(&mut j, &hinted(now, -9), now),
            Decision::Throttle {
                wait: Duration::ZERO
            }
        );
        assert_eq!(
            p.decide(&mut j, &hinted(now, 30 * 365 * 86_400), now),
            Decision::Throttle {
                wait: DEFAULT_MAX_HINT
            }
        );
        // Without a hint: full-jitter backoff on the job's throttle count.
        let unhinted = Outcome::RetryLater {
            reason: "instance starting".into(),
            hint: None,
        };
        match p.decide(&mut job(), &unhinted, now) {
            Decision::Throttle { wait } => assert!(wait <= p.ceiling(1)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rate_limits_are_bounded_by_age_not_count() {
        let p = RetryPolicy::default();
        let start = UNIX_EPOCH + NOW;
        let mut j = job();
        assert!(matches!(
            p.decide(&mut j, &hinted(start, 1), start),
            Decision::Throttle { .. }
        ));
        let just_in = start + DEFAULT_MAX_THROTTLED_FOR;
        assert!(matches!(
            p.decide(&mut j, &hinted(just_in, 1), just_in),
            Decision::Throttle { .. }
        ));
        let late = just_in + Duration::from_millis(1);
        let d = p.decide(&mut j, &hinted(late, 1), late);
        assert!(
            matches!(&d, Decision::DeadLetter(r) if r.contains("retry.max_throttled_for") && r.contains("3 answers")),
            "{d:?}"
        );
        assert_eq!(j.attempts.made, 0);
    }

    #[test]
    fn account_errors_pause_the_account_without_spending_attempts() {
        let p = RetryPolicy::default();
        let now = UNIX_EPOCH + NOW;
        let mut j = job();
        let d = p.decide(&mut j, &Outcome::AccountError("HTTP 401".into()), now);
        assert!(
            matches!(&d, Decision::PauseAccount(r) if r.contains("HTTP 401")),
            "{d:?}"
        );
        assert_eq!((j.attempts.made, j.attempts.throttled), (0, 0));
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

    #[tokio::test(start_paused = true)]
    async fn loop_backoff_doubles_to_five_seconds_resets_and_stops() {
        let stop = CancellationToken::new();
        let mut b = Backoff::default();
        let mut waits = Vec::new();
        for _ in 0..8 {
            let t = tokio::time::Instant::now();
            assert!(b.wait(&stop).await);
            waits.push(t.elapsed().as_millis());
        }
        assert_eq!(waits, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        b.reset();
        let t = tokio::time::Instant::now();
        assert!(b.wait(&stop).await);
        assert_eq!(t.elapsed().as_millis(), 100);
        stop.cancel();
        assert!(!b.wait(&stop).await);
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
