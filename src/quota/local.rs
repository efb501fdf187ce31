//! The in-process limiter: one `governor` rate limiter per account, for a single process
//! without Redis. It is not wired into any command yet (`bulkleave leave` sends one request,
//! unpaced; workers use the fleet-wide limiter in Redis, and `bulkleave demo` runs that same
//! limiter on the embedded Redis-compatible server rather than this one). It is kept, with its
//! tests, for single-process uses without a queue; whether to keep it is an open decision.
//!
//! Each account's limiter is a GCRA with a burst of one at the account's [`Pace`], so no
//! window of `period × (1 + headroom)` holds more than the quota. On top of it: the account's
//! cooldown after a 429, its AIMD factor, and its paused state, with the same rules as the
//! fleet-wide limiter in Redis (`src/queue/admission.rs`).
//!
//! Time comes from tokio's clock ([`TokioClock`]), so tests drive it with
//! `tokio::time::pause()`.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use tokio::time::Instant;

use super::Quota;
use super::policy::{Pace, QuotaPolicy, RateFactor};
use crate::job::AccountName;

/// A `governor` clock reading tokio's time (pausable in tests).
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    start: Instant,
}

impl Default for TokioClock {
    fn default() -> Self {
        TokioClock {
            start: Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        Instant::now().saturating_duration_since(self.start)
    }
}

type Gcra = governor::RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Duration>>;

/// What the limiter says about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Send it now (the quota is spent).
    Go,
    /// Not before this instant.
    NotBefore(Instant),
    /// The account is paused, for this reason.
    Paused(String),
}

struct Account {
    quota: Quota,
    gcra: Gcra,
    factor: RateFactor,
    /// The factor `gcra` was built for.
    built_for: u32,
    cooldown_until: Option<Instant>,
    paused: Option<String>,
}

impl Account {
    /// A fresh account at its full quota.
    fn new(quota: Quota, policy: &QuotaPolicy, clock: &TokioClock) -> Self {
        let pace = Pace::new(quota, policy, 1.0);
        Account {
            quota,
            gcra: gcra(&pace, clock),
            factor: RateFactor::default(),
            built_for: pace.per_window,
            cooldown_until: None,
            paused: None,
        }
    }
}

/// Per-account limiters for one process.
pub struct LocalLimiter {
    policy: QuotaPolicy,
    clock: TokioClock,
    accounts: Mutex<HashMap<AccountName, Account>>,
}

impl std::fmt::Debug for LocalLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalLimiter")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

fn gcra(pace: &Pace, clock: &TokioClock) -> Gcra {
    let quota = governor::Quota::with_period(pace.interval().max(Duration::from_nanos(1)))
        .unwrap_or_else(|| governor::Quota::per_second(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::MIN);
    governor::RateLimiter::direct_with_clock(quota, *clock)
}

impl LocalLimiter {
    /// A limiter spending quotas under `policy`.
    pub fn new(policy: QuotaPolicy) -> Self {
        LocalLimiter {
            policy,
            clock: TokioClock::default(),
            accounts: Mutex::new(HashMap::new()),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.clock.now().as_millis()).unwrap_or(u64::MAX)
    }

    /// Asks to send one request for `account`, whose quota is `quota`.
    pub fn admit(&self, account: &AccountName, quota: Quota) -> Admission {
        let now = Instant::now();
        let now_ms = self.now_ms();
        let mut accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        let policy = self.policy;
        let a = accounts
            .entry(account.clone())
            .or_insert_with(|| Account::new(quota, &policy, &self.clock));
        if let Some(reason) = &a.paused {
            return Admission::Paused(reason.clone());
        }
        if let Some(until) = a.cooldown_until {
            if until > now {
                return Admission::NotBefore(until);
            }
            a.cooldown_until = None;
        }
        let factor = policy.aimd.current(a.factor, quota.period, now_ms);
        let pace = Pace::new(quota, &policy, factor);
        if pace.per_window != a.built_for || a.quota != quota {
            // The rate changed: a new limiter whose first request waits one new interval.
            a.gcra = gcra(&pace, &self.clock);
            a.quota = quota;
            a.built_for = pace.per_window;
            let _ = a.gcra.check();
            return Admission::NotBefore(now + pace.interval());
        }
        match a.gcra.check() {
            Ok(()) => Admission::Go,
            Err(not_until) => {
                Admission::NotBefore(now + not_until.wait_time_from(self.clock.now()))
            }
        }
    }

    /// Records a "retry later" answer for `account`: nothing is sent for it for `wait`; when
    /// the answer was a 429 (`rate_limited`) its effective rate goes down too.
    pub fn throttled(&self, account: &AccountName, wait: Duration, rate_limited: bool) {
        let now_ms = self.now_ms();
        let mut accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(a) = accounts.get_mut(account) {
            let until = Instant::now() + wait;
            a.cooldown_until = Some(a.cooldown_until.map_or(until, |u| u.max(until)));
            if rate_limited {
                a.factor = self
                    .policy
                    .aimd
                    .on_rate_limited(a.factor, a.quota.period, now_ms);
            }
        }
    }

    /// The factor of `account`'s quota in force now (1 when it never saw a 429).
    pub fn factor(&self, account: &AccountName) -> f64 {
        let now_ms = self.now_ms();
        let accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        accounts.get(account).map_or(1.0, |a| {
            self.policy.aimd.current(a.factor, a.quota.period, now_ms)
        })
    }

    /// Pauses `account` (an account error): [`admit`](Self::admit) answers `Paused` until
    /// [`resume`](Self::resume).
    pub fn pause(&self, account: &AccountName, quota: Quota, reason: &str) {
        let mut accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        accounts
            .entry(account.clone())
            .or_insert_with(|| Account::new(quota, &self.policy, &self.clock))
            .paused = Some(reason.to_owned());
    }

    /// Clears `account`'s pause and cooldown; returns whether it was paused.
    pub fn resume(&self, account: &AccountName) -> bool {
        let mut accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        accounts.get_mut(account).is_some_and(|a| {
            a.cooldown_until = None;
            a.paused.take().is_some()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acct(name: &str) -> AccountName {
        name.parse().unwrap()
    }

    /// Sends whenever allowed for `run`, returning the send instants (ms from start).
    async fn drive(l: &LocalLimiter, a: &AccountName, q: Quota, run: Duration) -> Vec<u64> {
        let start = Instant::now();
        let mut sent = Vec::new();
        while start.elapsed() < run {
            match l.admit(a, q) {
                Admission::Go => sent.push(start.elapsed().as_millis() as u64),
                Admission::NotBefore(at) => tokio::time::sleep_until(at).await,
                Admission::Paused(r) => panic!("paused: {r}"),
            }
        }
        sent
    }

    fn busiest(sent: &[u64], window_ms: u64) -> usize {
        sent.iter()
            .map(|&t| {
                sent.iter()
                    .filter(|&&u| u >= t && u < t + window_ms)
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    #[tokio::test(start_paused = true)]
    async fn no_window_holds_more_than_the_quota_and_the_rate_is_reached() {
        let l = LocalLimiter::new(QuotaPolicy::default());
        let q: Quota = "10/s".parse().unwrap();
        let sent = drive(&l, &acct("a"), q, Duration::from_secs(60)).await;
        assert!(busiest(&sent, 1000) <= 10, "{}", busiest(&sent, 1000));
        // 10/s with 1 % headroom for 60 s: 594 requests, give or take the first one.
        assert!((590..=600).contains(&sent.len()), "{}", sent.len());
    }

    #[tokio::test(start_paused = true)]
    async fn accounts_are_independent() {
        let l = LocalLimiter::new(QuotaPolicy::default());
        let slow: Quota = "1/min".parse().unwrap();
        let fast: Quota = "10/s".parse().unwrap();
        assert_eq!(l.admit(&acct("slow"), slow), Admission::Go);
        assert!(matches!(
            l.admit(&acct("slow"), slow),
            Admission::NotBefore(_)
        ));
        let sent = drive(&l, &acct("fast"), fast, Duration::from_secs(10)).await;
        assert!(sent.len() >= 98, "{}", sent.len());
    }

    #[tokio::test(start_paused = true)]
    async fn a_cooldown_stops_the_account_until_it_ends() {
        let l = LocalLimiter::new(QuotaPolicy::default());
        let q: Quota = "10/s".parse().unwrap();
        let a = acct("a");
        assert_eq!(l.admit(&a, q), Admission::Go);
        let start = Instant::now();
        l.throttled(&a, Duration::from_secs(3), false);
        assert_eq!(
            l.admit(&a, q),
            Admission::NotBefore(start + Duration::from_secs(3))
        );
        tokio::time::sleep(Duration::from_millis(2_999)).await;
        assert!(matches!(l.admit(&a, q), Admission::NotBefore(_)));
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(l.admit(&a, q), Admission::Go);
        // Not a 429: the rate is untouched.
        assert_eq!(l.factor(&a), 1.0);
    }

    #[tokio::test(start_paused = true)]
    async fn repeated_429s_lower_the_rate_which_recovers_slowly() {
        let l = LocalLimiter::new(QuotaPolicy::default());
        let q: Quota = "20/s".parse().unwrap();
        let a = acct("a");
        assert_eq!(l.admit(&a, q), Admission::Go);
        l.throttled(&a, Duration::ZERO, true);
        assert_eq!(l.factor(&a), 0.5);
        l.throttled(&a, Duration::ZERO, true); // same period: same signal
        assert_eq!(l.factor(&a), 0.5);
        tokio::time::sleep(Duration::from_secs(1)).await;
        l.throttled(&a, Duration::ZERO, true);
        assert!((l.factor(&a) - 0.275).abs() < 1e-9);
        // At about a quarter of the quota now: ~5/s.
        let sent = drive(&l, &a, q, Duration::from_secs(1)).await;
        assert!((4..=7).contains(&sent.len()), "{}", sent.len());
        // Recovery: +0.05 per calm second (ten since the last decrease).
        tokio::time::sleep(Duration::from_secs(9)).await;
        assert!((l.factor(&a) - 0.775).abs() < 1e-9, "{}", l.factor(&a));
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(l.factor(&a), 1.0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_paused_account_admits_nothing_until_resumed() {
        let l = LocalLimiter::new(QuotaPolicy::default());
        let q: Quota = "10/s".parse().unwrap();
        let a = acct("a");
        l.pause(&a, q, "HTTP 401: session expired");
        assert_eq!(
            l.admit(&a, q),
            Admission::Paused("HTTP 401: session expired".into())
        );
        assert!(l.admit(&acct("b"), q) == Admission::Go);
        assert!(l.resume(&a));
        assert!(!l.resume(&a));
        assert_eq!(l.admit(&a, q), Admission::Go);
    }
}
