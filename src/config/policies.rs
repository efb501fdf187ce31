//! The retry and pacing policies: a global section (`[retry]`, `[pacing]`) over the built-in
//! defaults, and a per-provider section (`[providers.NAME.retry]`, `[providers.NAME.pacing]`)
//! over the global one, field by field.

use std::time::Duration;

use super::raw::{RawPacing, RawRetry};
use super::validate::{Problems, bounded, duration, long_duration};
use crate::quota::{Aimd, QuotaPolicy};
use crate::retry::RetryPolicy;

/// `raw` (at `section`) over `base`.
pub(super) fn retry_policy(
    p: &mut Problems,
    section: &str,
    raw: &RawRetry,
    base: RetryPolicy,
) -> RetryPolicy {
    let key = |k: &str| format!("{section}.{k}");
    let policy = RetryPolicy {
        max_attempts: bounded(
            p,
            &key("max_attempts"),
            raw.max_attempts,
            1..=100,
            base.max_attempts,
        ),
        base_delay: duration(p, &key("base_delay"), raw.base_delay.clone())
            .unwrap_or(base.base_delay),
        max_delay: duration(p, &key("max_delay"), raw.max_delay.clone()).unwrap_or(base.max_delay),
        max_hint: duration(p, &key("max_hint"), raw.max_hint.clone()).unwrap_or(base.max_hint),
        max_throttled_for: long_duration(
            p,
            &key("max_throttled_for"),
            raw.max_throttled_for.clone(),
        )
        .unwrap_or(base.max_throttled_for),
    };
    if policy.base_delay > policy.max_delay {
        p.add(
            key("base_delay"),
            format!("must not exceed {}", key("max_delay")),
        );
    }
    policy
}

/// `raw` (at `section`) over `base`.
pub(super) fn quota_policy(
    p: &mut Problems,
    section: &str,
    raw: &RawPacing,
    base: QuotaPolicy,
) -> QuotaPolicy {
    let key = |k: &str| format!("{section}.{k}");
    let fraction = |p: &mut Problems, k: &str, v: Option<f64>, range, default| {
        super::validate::bounded(p, &key(k), v, range, default)
    };
    let headroom = fraction(p, "headroom", raw.headroom, 0.0..=0.5, base.headroom);
    let decrease = fraction(
        p,
        "aimd_decrease",
        raw.aimd_decrease,
        0.05..=0.95,
        base.aimd.decrease,
    );
    let increase = fraction(
        p,
        "aimd_increase",
        raw.aimd_increase,
        0.001..=1.0,
        base.aimd.increase,
    );
    let floor = fraction(p, "aimd_floor", raw.aimd_floor, 0.01..=1.0, base.aimd.floor);
    QuotaPolicy {
        headroom,
        inline_wait: short_wait(p, &key("inline_wait"), raw.inline_wait.as_deref())
            .unwrap_or(base.inline_wait),
        follow_up_wait: duration(p, &key("follow_up_wait"), raw.follow_up_wait.clone())
            .unwrap_or(base.follow_up_wait),
        aimd: Aimd {
            decrease,
            increase,
            floor,
        },
    }
}

/// A wait of 0 to 1 s (`0` turns in-place waiting off).
fn short_wait(p: &mut Problems, key: &str, value: Option<&str>) -> Option<Duration> {
    let value = value?.trim();
    let parsed = match value {
        "0" => Ok(Duration::ZERO),
        v => humantime::parse_duration(v),
    };
    match parsed {
        Ok(d) if d <= Duration::from_secs(1) => Some(d),
        Ok(_) => {
            p.add(key, "must be at most 1s");
            None
        }
        Err(_) => {
            p.add(key, format!("{value:?} is not a duration (e.g. 25ms, 0)"));
            None
        }
    }
}
