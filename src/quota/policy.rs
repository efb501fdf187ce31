//! How a quota is spent: the pacing window's headroom, the in-place wait, and the AIMD rule
//! that lowers an account's effective rate when the provider keeps answering 429.
//!
//! The same arithmetic runs in Redis (`src/queue/lua/admit.lua`, `throttle.lua`) and in the
//! in-process limiter ([`super::LocalLimiter`]); this module is its reference, unit-tested.
//!
//! - **Window.** At most `n` requests are sent in any window of `period × (1 + headroom)`.
//!   The headroom absorbs the jitter between our clock and the provider's (a request granted
//!   at `t` reaches the provider a little later, and not always equally later).
//! - **Effective rate.** `n = max(1, ⌊count × factor⌋)`. The factor starts at 1. A 429 received
//!   while we kept to the quota multiplies it by `decrease` (at most once per period, so one
//!   burst of 429s counts once), never below `floor`. Every full period without a decrease
//!   adds `increase` back, up to 1: fast to back off, slow to recover.

use std::time::Duration;

use super::Quota;

/// Default headroom: the window is 1 % longer than the provider's period.
pub const DEFAULT_HEADROOM: f64 = 0.01;
/// Default longest wait a job sleeps in place (holding its worker slot) for its turn; longer
/// waits send the job back to the queue until its turn. Shorter than a round trip through the
/// delayed set is worth.
pub const DEFAULT_INLINE_WAIT: Duration = Duration::from_millis(25);
/// Default longest wait for the quota of a follow-up request (a check an adapter makes after
/// the leave request); beyond it the attempt ends as "retry later".
pub const DEFAULT_FOLLOW_UP_WAIT: Duration = Duration::from_secs(10);
/// Default multiplicative decrease of the effective rate on a 429.
pub const DEFAULT_AIMD_DECREASE: f64 = 0.5;
/// Default additive increase of the effective rate per calm period (no decrease in it).
pub const DEFAULT_AIMD_INCREASE: f64 = 0.05;
/// Default lowest effective rate, as a fraction of the quota.
pub const DEFAULT_AIMD_FLOOR: f64 = 0.1;

/// How the worker spends an account's quota.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuotaPolicy {
    /// Fraction of the period added to the pacing window. Default [`DEFAULT_HEADROOM`].
    pub headroom: f64,
    /// Longest in-place wait for a turn. Default [`DEFAULT_INLINE_WAIT`].
    pub inline_wait: Duration,
    /// Longest wait for a follow-up request's turn. Default [`DEFAULT_FOLLOW_UP_WAIT`].
    pub follow_up_wait: Duration,
    /// The AIMD rule.
    pub aimd: Aimd,
}

impl Default for QuotaPolicy {
    fn default() -> Self {
        QuotaPolicy {
            headroom: DEFAULT_HEADROOM,
            inline_wait: DEFAULT_INLINE_WAIT,
            follow_up_wait: DEFAULT_FOLLOW_UP_WAIT,
            aimd: Aimd::default(),
        }
    }
}

/// Additive-increase / multiplicative-decrease of an account's effective rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Aimd {
    /// Factor applied on a 429 (0 < decrease < 1). Default [`DEFAULT_AIMD_DECREASE`].
    pub decrease: f64,
    /// Added back per calm period. Default [`DEFAULT_AIMD_INCREASE`].
    pub increase: f64,
    /// Lowest factor. Default [`DEFAULT_AIMD_FLOOR`].
    pub floor: f64,
}

impl Default for Aimd {
    fn default() -> Self {
        Aimd {
            decrease: DEFAULT_AIMD_DECREASE,
            increase: DEFAULT_AIMD_INCREASE,
            floor: DEFAULT_AIMD_FLOOR,
        }
    }
}

/// An account's rate factor as stored: the value set at the last decrease, and when.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateFactor {
    /// The factor right after the last decrease (1 if there was none).
    pub at_decrease: f64,
    /// Time of the last decrease (ms on the limiter's clock), if any.
    pub decreased_at_ms: Option<u64>,
}

impl Default for RateFactor {
    fn default() -> Self {
        RateFactor {
            at_decrease: 1.0,
            decreased_at_ms: None,
        }
    }
}

impl Aimd {
    /// The factor in force at `now_ms`: the stored one plus `increase` per full period since
    /// the last decrease, capped at 1.
    pub fn current(&self, stored: RateFactor, period: Duration, now_ms: u64) -> f64 {
        let Some(at) = stored.decreased_at_ms else {
            return 1.0;
        };
        let period_ms = period.as_millis().max(1) as f64;
        let calm = (now_ms.saturating_sub(at) as f64 / period_ms).floor();
        (stored.at_decrease + self.increase * calm).min(1.0)
    }

    /// The stored factor after a 429 at `now_ms`: decreased unless it already was within the
    /// last period (one burst of 429s is one signal).
    pub fn on_rate_limited(&self, stored: RateFactor, period: Duration, now_ms: u64) -> RateFactor {
        let period_ms = u64::try_from(period.as_millis()).unwrap_or(u64::MAX);
        if stored
            .decreased_at_ms
            .is_some_and(|at| now_ms.saturating_sub(at) < period_ms)
        {
            return stored;
        }
        let current = self.current(stored, period, now_ms);
        RateFactor {
            at_decrease: (current * self.decrease).max(self.floor),
            decreased_at_ms: Some(now_ms),
        }
    }
}

/// The pacing that follows from a quota, a policy and a factor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pace {
    /// Requests allowed per window.
    pub per_window: u32,
    /// The window: the period plus headroom.
    pub window: Duration,
}

impl Pace {
    /// The pace of `quota` at `factor` under `policy`.
    pub fn new(quota: Quota, policy: &QuotaPolicy, factor: f64) -> Self {
        let scaled = (f64::from(quota.count.get()) * factor + 1e-9).floor();
        Pace {
            per_window: (scaled as u32).max(1),
            window: quota.period.mul_f64(1.0 + policy.headroom.max(0.0)),
        }
    }

    /// The spacing of consecutive requests.
    pub fn interval(&self) -> Duration {
        self.window / self.per_window
    }

    /// Requests per second at this pace.
    pub fn per_second(&self) -> f64 {
        f64::from(self.per_window) / self.window.as_secs_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn decrease_is_multiplicative_once_per_period_and_floored() {
        let aimd = Aimd::default();
        let f = aimd.on_rate_limited(RateFactor::default(), MIN, 1_000_000);
        assert_eq!(f.at_decrease, 0.5);
        // A second 429 within the same period is the same signal.
        assert_eq!(aimd.on_rate_limited(f, MIN, 1_000_000 + 59_999), f);
        let f = aimd.on_rate_limited(f, MIN, 1_000_000 + 60_000);
        assert!((f.at_decrease - 0.275).abs() < 1e-9); // recovered one period, then halved
        let mut g = f;
        for i in 2..20 {
            g = aimd.on_rate_limited(g, MIN, 1_000_000 + i * 60_000);
        }
        assert_eq!(g.at_decrease, DEFAULT_AIMD_FLOOR);
    }

    #[test]
    fn increase_is_additive_per_calm_period_up_to_one() {
        let aimd = Aimd::default();
        let f = RateFactor {
            at_decrease: 0.5,
            decreased_at_ms: Some(1_000),
        };
        assert_eq!(aimd.current(f, MIN, 1_000 + 59_999), 0.5);
        assert!((aimd.current(f, MIN, 1_000 + 60_000) - 0.55).abs() < 1e-9);
        assert!((aimd.current(f, MIN, 1_000 + 5 * 60_000) - 0.75).abs() < 1e-9);
        assert_eq!(aimd.current(f, MIN, 1_000 + 100 * 60_000), 1.0);
        assert_eq!(aimd.current(RateFactor::default(), MIN, 0), 1.0);
    }

    #[test]
    fn pace_scales_the_count_and_pads_the_window() {
        let policy = QuotaPolicy::default();
        let q: Quota = "10/min".parse().unwrap();
        let p = Pace::new(q, &policy, 1.0);
        assert_eq!(p.per_window, 10);
        assert_eq!(p.window, Duration::from_millis(60_600));
        assert_eq!(p.interval(), Duration::from_millis(6_060));
        assert_eq!(Pace::new(q, &policy, 0.5).per_window, 5);
        // Never below one request per window.
        assert_eq!(Pace::new(q, &policy, 0.01).per_window, 1);
        let fast: Quota = "50/s".parse().unwrap();
        assert!((Pace::new(fast, &policy, 1.0).per_second() - 49.504_950).abs() < 1e-3);
    }
}
