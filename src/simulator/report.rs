//! What the simulator saw, so tests and benchmarks can check a worker fleet from outside.
//!
//! Per account: requests by endpoint kind, how many were admitted, the 429s sent (quota and
//! forced), the faults injected, the answers given (leaves performed, already-left answers,
//! groups dissolved, …), first and last request, the busiest window (the most *admitted*
//! requests in any half-open window `[t, t + period)` of the account's quota, computed exactly
//! from the arrival log), its excess over `N`, and the rate achieved between the first and the
//! last admitted request. Times are milliseconds since the simulator started.
//!
//! Every request's arrival is kept ([`Arrival`]: instant, endpoint kind, verdict), so a test can
//! ask what arrived in any time range (e.g. nothing in the 3 s after a `Retry-After: 3`).

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::faults::Fault;
use super::quota::busiest_window;
use super::state::Leave;
use crate::providers::Provider;
use crate::quota::Quota;

/// Which endpoint a request was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointKind {
    /// The leave endpoint.
    Leave,
    /// A group lookup: Wasend's group page, Kirimin's owner check.
    GroupInfo,
    /// Wasend's session page.
    SessionInfo,
}

/// What the simulator decided on a request's quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Within quota: it consumed a slot of the window.
    Accepted,
    /// Over quota: answered 429; it consumed nothing.
    RateLimited,
    /// In a forced 429 window: answered 429 with `Retry-After`; it consumed nothing.
    Forced429,
}

/// One request's arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    /// When it arrived (taken under the account's lock, so arrivals are in order).
    pub at: Instant,
    /// The endpoint.
    pub kind: EndpointKind,
    /// The quota decision.
    pub verdict: Verdict,
}

/// An [`Arrival`] as served by `GET /_sim/arrivals/{account}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ArrivalRecord {
    /// Milliseconds since the simulator started.
    pub at_ms: f64,
    /// The endpoint.
    pub kind: EndpointKind,
    /// The quota decision.
    pub verdict: Verdict,
}

/// Requests received, by endpoint kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestCounts {
    /// All of them.
    pub total: u64,
    /// Leave requests.
    pub leave: u64,
    /// Group lookups.
    pub group_info: u64,
    /// Session lookups.
    pub session_info: u64,
}

/// Faults injected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultCounts {
    /// 500 answers.
    pub server_error: u64,
    /// Requests held without an answer.
    pub timeout: u64,
    /// Malformed bodies.
    pub malformed: u64,
    /// Slow bodies.
    pub slow_body: u64,
}

/// Answers given to admitted requests that were not faulted away.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerCounts {
    /// Leaves performed (the account is out of the group), dissolutions included.
    pub leaves: u64,
    /// Of `leaves`, those where the account was an admin (or a Green API owner).
    pub left_as_admin: u64,
    /// Of `leaves`, groups dissolved because their owner left (Kirimin).
    pub dissolved: u64,
    /// Leave requests answered "not a member".
    pub already_left: u64,
    /// Leave requests answered "no such group".
    pub group_gone: u64,
    /// Leave requests refused because the account owns the group.
    pub owner_refused: u64,
    /// Requests refused for a wrong or missing credential.
    pub unauthorized: u64,
    /// Requests naming an instance or session the credential's account does not have.
    pub account_missing: u64,
    /// Requests rejected as invalid (malformed group id, missing identifier, wrong body).
    pub invalid: u64,
}

/// One account's report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountReport {
    /// The provider.
    pub provider: Provider,
    /// The quota enforced.
    pub quota: Quota,
    /// Requests received.
    pub requests: RequestCounts,
    /// Requests admitted by the quota.
    pub accepted: u64,
    /// 429s sent because the quota was exhausted.
    pub rate_limited: u64,
    /// 429s sent in a forced window.
    pub forced_429: u64,
    /// Faults injected.
    pub faults: FaultCounts,
    /// Answers given.
    pub answers: AnswerCounts,
    /// First request, ms since start.
    pub first_request_ms: Option<f64>,
    /// Last request, ms since start.
    pub last_request_ms: Option<f64>,
    /// The most admitted requests in any window of the quota's period.
    pub busiest_window: u64,
    /// `busiest_window` above the quota's `N` (0 when the quota held).
    pub excess: u64,
    /// Admitted requests per second between the first and the last admitted request (`None`
    /// with fewer than two).
    pub achieved_rate_per_s: Option<f64>,
}

/// The simulator's report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// When the simulator started, ms since the Unix epoch.
    pub started_at_unix_ms: u64,
    /// Time since the start, ms.
    pub elapsed_ms: f64,
    /// Per account, by name.
    pub accounts: BTreeMap<String, AccountReport>,
    /// Requests no configured account could be charged with (unknown credential and
    /// identifier, or an unknown path).
    pub unattributed: u64,
}

/// The running tallies of one account; the request counts are derived from the arrival log.
#[derive(Debug, Clone, Default)]
pub(crate) struct Stats {
    faults: FaultCounts,
    /// Answers given; handlers count the ones about auth and input directly.
    pub answers: AnswerCounts,
    arrivals: Vec<Arrival>,
}

/// Milliseconds from `origin` to `at`.
pub(crate) fn offset_ms(origin: Instant, at: Instant) -> f64 {
    at.saturating_duration_since(origin).as_secs_f64() * 1000.0
}

impl Stats {
    /// Records a request's arrival.
    pub fn arrive(&mut self, arrival: Arrival) {
        self.arrivals.push(arrival);
    }

    /// Records an injected fault.
    pub fn fault(&mut self, fault: Fault) {
        *match fault {
            Fault::ServerError => &mut self.faults.server_error,
            Fault::Timeout(_) => &mut self.faults.timeout,
            Fault::Malformed => &mut self.faults.malformed,
            Fault::SlowBody(_) => &mut self.faults.slow_body,
        } += 1;
    }

    /// Records the result of a leave.
    pub fn leave(&mut self, leave: Leave) {
        let a = &mut self.answers;
        match leave {
            Leave::Left => a.leaves += 1,
            Leave::LeftAsAdmin => {
                a.leaves += 1;
                a.left_as_admin += 1;
            }
            Leave::Dissolved => {
                a.leaves += 1;
                a.dissolved += 1;
            }
            Leave::OwnerRefused => a.owner_refused += 1,
            Leave::NotMember => a.already_left += 1,
            Leave::NotFound => a.group_gone += 1,
        }
    }

    /// Every arrival, in order.
    pub fn arrivals(&self) -> &[Arrival] {
        &self.arrivals
    }

    /// How many arrivals fall in `range` (half-open); the log is in arrival order.
    pub fn arrivals_in(&self, range: &Range<Instant>) -> usize {
        let from = self.arrivals.partition_point(|a| a.at < range.start);
        let to = self.arrivals.partition_point(|a| a.at < range.end);
        to.saturating_sub(from)
    }

    /// The report of an account with `quota`, times relative to `origin`.
    pub fn report(&self, provider: Provider, quota: Quota, origin: Instant) -> AccountReport {
        let mut requests = RequestCounts::default();
        let (mut rate_limited, mut forced_429) = (0, 0);
        let mut accepted: Vec<Instant> = Vec::new();
        for a in &self.arrivals {
            requests.total += 1;
            *match a.kind {
                EndpointKind::Leave => &mut requests.leave,
                EndpointKind::GroupInfo => &mut requests.group_info,
                EndpointKind::SessionInfo => &mut requests.session_info,
            } += 1;
            match a.verdict {
                Verdict::Accepted => accepted.push(a.at),
                Verdict::RateLimited => rate_limited += 1,
                Verdict::Forced429 => forced_429 += 1,
            }
        }
        let busiest = busiest_window(&accepted, quota.period) as u64;
        let achieved_rate_per_s = match (accepted.first(), accepted.last()) {
            (Some(first), Some(last)) if accepted.len() > 1 && last > first => {
                Some((accepted.len() - 1) as f64 / (*last - *first).as_secs_f64())
            }
            _ => None,
        };
        AccountReport {
            provider,
            quota,
            requests,
            accepted: accepted.len() as u64,
            rate_limited,
            forced_429,
            faults: self.faults,
            answers: self.answers,
            first_request_ms: self.arrivals.first().map(|a| offset_ms(origin, a.at)),
            last_request_ms: self.arrivals.last().map(|a| offset_ms(origin, a.at)),
            busiest_window: busiest,
            excess: busiest.saturating_sub(u64::from(quota.count.get())),
            achieved_rate_per_s,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn report_counts_and_measures_admitted_requests_only() {
        let t0 = Instant::now();
        let quota: Quota = "2/s".parse().unwrap();
        let mut stats = Stats::default();
        let arrive = |stats: &mut Stats, ms: u64, kind, verdict| {
            stats.arrive(Arrival {
                at: t0 + Duration::from_millis(ms),
                kind,
                verdict,
            });
        };
        arrive(&mut stats, 100, EndpointKind::Leave, Verdict::Accepted);
        arrive(&mut stats, 200, EndpointKind::GroupInfo, Verdict::Accepted);
        arrive(&mut stats, 300, EndpointKind::Leave, Verdict::RateLimited);
        arrive(
            &mut stats,
            400,
            EndpointKind::SessionInfo,
            Verdict::Forced429,
        );
        arrive(&mut stats, 2100, EndpointKind::Leave, Verdict::Accepted);
        stats.leave(Leave::Dissolved);
        stats.leave(Leave::NotMember);
        stats.fault(Fault::Malformed);
        let r = stats.report(Provider::Kirimin, quota, t0);
        assert_eq!(
            r.requests,
            RequestCounts {
                total: 5,
                leave: 3,
                group_info: 1,
                session_info: 1
            }
        );
        assert_eq!((r.accepted, r.rate_limited, r.forced_429), (3, 1, 1));
        assert_eq!((r.busiest_window, r.excess), (2, 0));
        assert_eq!((r.answers.leaves, r.answers.dissolved), (1, 1));
        assert_eq!((r.answers.already_left, r.faults.malformed), (1, 1));
        assert_eq!(r.first_request_ms, Some(100.0));
        assert_eq!(r.last_request_ms, Some(2100.0));
        // 3 admitted between 100 ms and 2100 ms: 2 intervals in 2 s.
        let rate = r.achieved_rate_per_s.unwrap();
        assert!((rate - 1.0).abs() < 1e-9, "{rate}");
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["quota"], "2/s");
        assert_eq!(serde_json::from_value::<AccountReport>(json).unwrap(), r);
    }

    #[test]
    fn an_empty_account_reports_nothing() {
        let r = Stats::default().report(Provider::Wasend, "1/s".parse().unwrap(), Instant::now());
        assert_eq!((r.busiest_window, r.excess, r.requests.total), (0, 0, 0));
        assert_eq!((r.first_request_ms, r.achieved_rate_per_s), (None, None));
    }
}
