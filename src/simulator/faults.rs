//! Injected faults: latency, server errors, held requests (timeouts), malformed and slow
//! bodies, and forced 429 windows.
//!
//! [`Faults`] is set globally or per account (an account's own faults replace the global ones)
//! in the configuration, through [`Simulator::set_faults`](super::Simulator::set_faults) or
//! `POST /_sim/faults`. Latency applies to every answer. The other faults apply only to
//! requests within quota, and one die decides which, if any: its faces are the rates in the
//! order server error, timeout, malformed body, slow body, so at most one fault hits a request
//! and their rates must add up to at most 1.
//!
//! | fault | effect on the answer | effect on membership |
//! |---|---|---|
//! | server error | the provider's 500 | none: the request was not carried out |
//! | timeout | no answer for `timeout_hold_ms` (or until the client gives up, or shutdown), then 504 | none |
//! | malformed body | the real answer's status and headers, its body cut in half | carried out |
//! | slow body | the real answer, its body trickled out over `slow_body_ms` | carried out |
//!
//! A forced 429 window ([`Simulator::force_429`](super::Simulator::force_429)) answers every
//! request of one account with the provider's 429 and `Retry-After` until it ends.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Default time a slow body takes to arrive.
pub const DEFAULT_SLOW_BODY: Duration = Duration::from_secs(2);

/// Default time a "timeout" request is held: longer than any sane client timeout.
pub const DEFAULT_TIMEOUT_HOLD: Duration = Duration::from_secs(120);

/// Why a set of faults was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FaultsError {
    /// A rate is not a probability.
    #[error("{field} = {value} is not a probability between 0 and 1")]
    Rate {
        /// The field.
        field: &'static str,
        /// Its value.
        value: f64,
    },
    /// The rates add up to more than 1.
    #[error("the fault rates add up to {0}, more than 1 (at most one fault hits a request)")]
    Sum(f64),
}

/// The faults to inject. The default injects none.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Fixed latency added to every answer, in milliseconds. Default 0.
    pub latency_ms: u64,
    /// Uniform random latency added on top, between 0 and this, in milliseconds. Default 0.
    pub jitter_ms: u64,
    /// Probability of a 500 answer. Default 0.
    pub error_rate: f64,
    /// Probability of holding the request without answering. Default 0.
    pub timeout_rate: f64,
    /// Probability of a malformed body. Default 0.
    pub malformed_rate: f64,
    /// Probability of a slow body. Default 0.
    pub slow_body_rate: f64,
    /// How long a slow body takes, in milliseconds. Default [`DEFAULT_SLOW_BODY`].
    pub slow_body_ms: u64,
    /// How long a held request is held, in milliseconds. Default [`DEFAULT_TIMEOUT_HOLD`].
    pub timeout_hold_ms: u64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            latency_ms: 0,
            jitter_ms: 0,
            error_rate: 0.0,
            timeout_rate: 0.0,
            malformed_rate: 0.0,
            slow_body_rate: 0.0,
            slow_body_ms: millis(DEFAULT_SLOW_BODY),
            timeout_hold_ms: millis(DEFAULT_TIMEOUT_HOLD),
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The fault drawn for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Answer 500.
    ServerError,
    /// Hold the request this long, then answer 504.
    Timeout(Duration),
    /// Cut the body in half.
    Malformed,
    /// Trickle the body out over this long.
    SlowBody(Duration),
}

impl Faults {
    /// Every answer delayed by `fixed` plus a uniform random part up to `jitter`.
    pub fn with_latency(mut self, fixed: Duration, jitter: Duration) -> Self {
        self.latency_ms = millis(fixed);
        self.jitter_ms = millis(jitter);
        self
    }

    /// A share `rate` of requests answered 500.
    pub fn with_error_rate(mut self, rate: f64) -> Self {
        self.error_rate = rate;
        self
    }

    /// A share `rate` of requests held without an answer.
    pub fn with_timeout_rate(mut self, rate: f64) -> Self {
        self.timeout_rate = rate;
        self
    }

    /// A share `rate` of answers with a malformed body.
    pub fn with_malformed_rate(mut self, rate: f64) -> Self {
        self.malformed_rate = rate;
        self
    }

    /// A share `rate` of answers whose body takes `over` to arrive.
    pub fn with_slow_bodies(mut self, rate: f64, over: Duration) -> Self {
        self.slow_body_rate = rate;
        self.slow_body_ms = millis(over);
        self
    }

    /// Held requests are held this long.
    pub fn with_timeout_hold(mut self, hold: Duration) -> Self {
        self.timeout_hold_ms = millis(hold);
        self
    }

    /// Every rate, by its field name: the one list of them.
    fn rates_mut(&mut self) -> [(&'static str, &mut f64); 4] {
        [
            ("error_rate", &mut self.error_rate),
            ("timeout_rate", &mut self.timeout_rate),
            ("malformed_rate", &mut self.malformed_rate),
            ("slow_body_rate", &mut self.slow_body_rate),
        ]
    }

    fn rates(&self) -> [(&'static str, f64); 4] {
        let mut copy = *self;
        copy.rates_mut().map(|(field, rate)| (field, *rate))
    }

    /// Checks that every rate is a probability and that they add up to at most 1.
    pub fn validate(&self) -> Result<(), FaultsError> {
        for (field, value) in self.rates() {
            if !(0.0..=1.0).contains(&value) {
                return Err(FaultsError::Rate { field, value });
            }
        }
        let sum: f64 = self.rates().iter().map(|(_, r)| r).sum();
        if sum > 1.0 + 1e-9 {
            return Err(FaultsError::Sum(sum));
        }
        Ok(())
    }

    /// The faults with every rate clamped into `0..=1` (NaN becomes 0). Rates that still add
    /// up to more than 1 favour the earlier faults of the die.
    pub fn clamped(mut self) -> Self {
        for (_, rate) in self.rates_mut() {
            *rate = if rate.is_nan() {
                0.0
            } else {
                rate.clamp(0.0, 1.0)
            };
        }
        self
    }

    /// The latency of one answer.
    pub(crate) fn latency(&self, rng: &mut fastrand::Rng) -> Duration {
        let jitter = if self.jitter_ms == 0 {
            0
        } else {
            rng.u64(0..=self.jitter_ms)
        };
        Duration::from_millis(self.latency_ms.saturating_add(jitter))
    }

    /// Rolls the die for one request within quota.
    pub(crate) fn draw(&self, rng: &mut fastrand::Rng) -> Option<Fault> {
        let roll = rng.f64();
        let mut edge = 0.0;
        let faults = [
            Fault::ServerError,
            Fault::Timeout(Duration::from_millis(self.timeout_hold_ms)),
            Fault::Malformed,
            Fault::SlowBody(Duration::from_millis(self.slow_body_ms)),
        ];
        for ((_, rate), fault) in self.rates().into_iter().zip(faults) {
            edge += rate;
            if roll < edge {
                return Some(fault);
            }
        }
        None
    }
}

/// `d` in whole seconds, rounded up (as `Retry-After` and rate-limit reset headers count).
pub(crate) fn whole_secs_up(d: Duration) -> u64 {
    d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0))
}

/// A forced 429 window: every request of the account answered 429 with `Retry-After` until
/// `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Forced {
    /// When the window ends.
    pub until: Instant,
    /// The `Retry-After` sent, in whole seconds (rounded up).
    pub retry_after_secs: u64,
}

impl Forced {
    /// A window of `length` from `now`, advising `retry_after`.
    pub fn new(now: Instant, retry_after: Duration, length: Duration) -> Self {
        Forced {
            until: now + length,
            retry_after_secs: whole_secs_up(retry_after),
        }
    }

    /// Whether the window covers `at`.
    pub fn covers(&self, at: Instant) -> bool {
        at < self.until
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_die_respects_the_rates() {
        let mut rng = fastrand::Rng::with_seed(7);
        let faults = Faults::default()
            .with_error_rate(0.25)
            .with_timeout_rate(0.25)
            .with_malformed_rate(0.25);
        let mut counts = [0u32; 5];
        for _ in 0..40_000 {
            let i = match faults.draw(&mut rng) {
                Some(Fault::ServerError) => 0,
                Some(Fault::Timeout(_)) => 1,
                Some(Fault::Malformed) => 2,
                Some(Fault::SlowBody(_)) => 3,
                None => 4,
            };
            counts[i] += 1;
        }
        for (i, c) in counts.iter().enumerate() {
            let want = if i == 3 { 0 } else { 10_000 };
            assert!(c.abs_diff(want) < 600, "face {i}: {c} of 40000");
        }
        assert_eq!(Faults::default().draw(&mut rng), None);
        let always = Faults::default().with_slow_bodies(1.0, Duration::from_millis(9));
        assert_eq!(
            always.draw(&mut rng),
            Some(Fault::SlowBody(Duration::from_millis(9)))
        );
    }

    #[test]
    fn latency_is_fixed_plus_bounded_jitter() {
        let mut rng = fastrand::Rng::with_seed(1);
        let f = Faults::default().with_latency(Duration::from_millis(10), Duration::from_millis(5));
        for _ in 0..1000 {
            let l = f.latency(&mut rng);
            assert!((10..=15).contains(&l.as_millis()), "{l:?}");
        }
        assert_eq!(Faults::default().latency(&mut rng), Duration::ZERO);
    }

    #[test]
    fn validation_and_clamping() {
        assert!(Faults::default().validate().is_ok());
        let bad = Faults::default().with_error_rate(-0.1);
        assert!(matches!(bad.validate(), Err(FaultsError::Rate { .. })));
        let nan = Faults::default().with_timeout_rate(f64::NAN);
        assert!(nan.validate().is_err());
        assert_eq!(nan.clamped().timeout_rate, 0.0);
        let sum = Faults::default()
            .with_error_rate(0.6)
            .with_malformed_rate(0.6);
        assert!(matches!(sum.validate(), Err(FaultsError::Sum(_))));
        assert_eq!(bad.clamped().error_rate, 0.0);
    }

    #[test]
    fn forced_window_rounds_retry_after_up_and_is_half_open() {
        let t0 = Instant::now();
        let f = Forced::new(t0, Duration::from_millis(2500), Duration::from_secs(3));
        assert_eq!(f.retry_after_secs, 3);
        assert!(f.covers(t0 + Duration::from_millis(2999)));
        assert!(!f.covers(t0 + Duration::from_secs(3)));
        let f = Forced::new(t0, Duration::from_secs(3), Duration::from_secs(1));
        assert_eq!(f.retry_after_secs, 3);
    }
}
