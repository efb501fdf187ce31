//! Quota enforcement, exactly as providers state their limits: at most `N` requests in any
//! window of length `period`.
//!
//! # Semantics
//!
//! Windows are half-open, `[t, t + period)`: two requests exactly `period` apart are never in
//! the same window. A request arriving at `t` is admitted when fewer than `N` admitted requests
//! arrived in `(t - period, t]`; then no window holds more than `N` admitted requests.
//!
//! The truth is a sliding-window log per account ([`SlidingWindow`]: the arrival instants of the
//! admitted requests of the last `period`, at most `N` of them). governor was considered and
//! not used for this: its GCRA with a burst of `N` admits up to `2N - 1` requests in one window
//! (a full burst, then a request every `period / N` as the bucket refills), and with a burst of
//! 1 it refuses the legitimate burst of `N` a provider accepts. Neither is "N per window".
//!
//! A rejected request (429) does not consume quota: it is counted in the report, never in the
//! window. [`busiest_window`] measures, after the fact, the most admitted requests any window
//! held, so a test can check the enforcement (and a client's pacing) from outside.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::quota::Quota;

/// The sliding-window log of one account.
#[derive(Debug, Clone)]
pub(crate) struct SlidingWindow {
    quota: Quota,
    /// Arrival instants of the admitted requests still in the window, oldest first.
    admitted: VecDeque<Instant>,
}

/// The decision on one request, and the window's state after it (what RyzeAPI's
/// `X-RateLimit-*` headers report).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    /// Whether the request was admitted.
    pub accepted: bool,
    /// `N`.
    pub limit: u32,
    /// Requests still admissible now.
    pub remaining: u32,
    /// When the next slot frees (the oldest admitted request leaves the window); `now` when
    /// the window is empty.
    pub reset_at: Instant,
}

impl SlidingWindow {
    /// An empty window for `quota`.
    pub fn new(quota: Quota) -> Self {
        SlidingWindow {
            quota,
            admitted: VecDeque::with_capacity(quota.count.get().min(1024) as usize),
        }
    }

    /// Decides on a request arriving at `now` (not earlier than the previous call's `now`) and
    /// records it if admitted.
    pub fn admit(&mut self, now: Instant) -> Admission {
        self.expire(now);
        let accepted = self.admitted.len() < self.limit_usize();
        if accepted {
            self.admitted.push_back(now);
        }
        Admission {
            accepted,
            ..self.state(now)
        }
    }

    /// The window's state at `now` without recording anything (`accepted` says whether a
    /// request would be admitted).
    pub fn peek(&mut self, now: Instant) -> Admission {
        self.expire(now);
        self.state(now)
    }

    fn state(&self, now: Instant) -> Admission {
        let used = self.admitted.len();
        Admission {
            accepted: used < self.limit_usize(),
            limit: self.quota.count.get(),
            remaining: u32::try_from(self.limit_usize().saturating_sub(used)).unwrap_or(u32::MAX),
            reset_at: self
                .admitted
                .front()
                .map_or(now, |oldest| *oldest + self.quota.period),
        }
    }

    fn limit_usize(&self) -> usize {
        self.quota.count.get() as usize
    }

    /// Drops the arrivals at or before `now - period`: their windows no longer include `now`.
    fn expire(&mut self, now: Instant) {
        while let Some(oldest) = self.admitted.front() {
            if now.saturating_duration_since(*oldest) >= self.quota.period {
                self.admitted.pop_front();
            } else {
                break;
            }
        }
    }
}

/// The most instants of `sorted` (ascending) that fall in one half-open window
/// `[t, t + period)`, over every `t`. Linear time: the busiest window can always be taken to
/// start at an arrival.
pub fn busiest_window(sorted: &[Instant], period: Duration) -> usize {
    let mut best = 0;
    let mut end = 0;
    for (start, at) in sorted.iter().enumerate() {
        let Some(limit) = at.checked_add(period) else {
            return best.max(sorted.len() - start);
        };
        while end < sorted.len() && sorted[end] < limit {
            end += 1;
        }
        best = best.max(end - start);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    fn quota(s: &str) -> Quota {
        s.parse().unwrap()
    }

    #[test]
    fn admits_n_per_window_and_frees_slots_one_period_later() {
        let t0 = Instant::now();
        let mut w = SlidingWindow::new(quota("3/s"));
        let got: Vec<bool> = [0, 10, 20, 30, 999]
            .iter()
            .map(|&ms| w.admit(at(t0, ms)).accepted)
            .collect();
        assert_eq!(got, [true, true, true, false, false]);
        // Exactly one period after the first admitted request, its slot is free (half-open).
        let a = w.admit(at(t0, 1000));
        assert!(a.accepted);
        assert_eq!(a.remaining, 0);
        assert_eq!(a.reset_at, at(t0, 1010));
        assert!(!w.admit(at(t0, 1009)).accepted);
        assert!(w.admit(at(t0, 1010)).accepted);
    }

    #[test]
    fn rejected_requests_do_not_consume_quota() {
        let t0 = Instant::now();
        let mut w = SlidingWindow::new(quota("1/s"));
        assert!(w.admit(t0).accepted);
        for ms in (100..1000).step_by(100) {
            assert!(!w.admit(at(t0, ms)).accepted);
        }
        // Had the rejections counted, the window would still be full at 1000 ms.
        assert!(w.admit(at(t0, 1000)).accepted);
    }

    #[test]
    fn peek_reports_without_recording() {
        let t0 = Instant::now();
        let mut w = SlidingWindow::new(quota("2/s"));
        let empty = w.peek(t0);
        assert_eq!(
            (empty.accepted, empty.remaining, empty.reset_at),
            (true, 2, t0)
        );
        w.admit(t0);
        let p = w.peek(at(t0, 5));
        assert_eq!((p.remaining, p.reset_at), (1, at(t0, 1000)));
        assert_eq!(w.peek(at(t0, 5)).remaining, 1);
    }

    #[test]
    fn busiest_window_is_half_open() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let times = |ms: &[u64]| ms.iter().map(|&m| at(t0, m)).collect::<Vec<_>>();
        assert_eq!(busiest_window(&[], s), 0);
        assert_eq!(busiest_window(&times(&[0]), s), 1);
        // Exactly one period apart: different windows.
        assert_eq!(busiest_window(&times(&[0, 1000]), s), 1);
        assert_eq!(busiest_window(&times(&[0, 999]), s), 2);
        // Two bursts of 3, one period apart, and a middle pair straddling them.
        assert_eq!(busiest_window(&times(&[0, 0, 0, 1000, 1000, 1000]), s), 3);
        assert_eq!(busiest_window(&times(&[0, 0, 0, 999, 1000, 1000]), s), 4);
        // GCRA with burst 3 at 1/333ms would admit this: 5 = 2N - 1 in one window.
        assert_eq!(busiest_window(&times(&[0, 0, 0, 334, 667, 1001]), s), 5);
        // The busiest window need not start at the first arrival.
        assert_eq!(
            busiest_window(&times(&[0, 500, 900, 1400, 1450, 1600]), s),
            4
        );
    }

    #[test]
    fn enforcement_keeps_every_window_within_quota() {
        let t0 = Instant::now();
        let q = quota("5/100ms");
        let mut w = SlidingWindow::new(q);
        let mut admitted = Vec::new();
        let mut rng = fastrand::Rng::with_seed(3);
        let mut t = t0;
        for _ in 0..5000 {
            t += Duration::from_micros(rng.u64(0..40_000));
            if w.admit(t).accepted {
                admitted.push(t);
            }
        }
        assert_eq!(busiest_window(&admitted, q.period), 5);
    }
}
