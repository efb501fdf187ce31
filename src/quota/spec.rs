//! The quota type: how many requests an account may send per period, written `N/period`.
//!
//! `10/min`, `100/min`, `10/s`, `5/30s`, `1000/h`: a count, a slash, and a period that is a
//! unit (`s`, `sec`, `second`, `m`, `min`, `minute`, `h`, `hour`) or any duration `humantime`
//! reads (`30s`, `1m 30s`).

use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `count` requests per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quota {
    /// Requests allowed per period.
    pub count: NonZeroU32,
    /// The period.
    pub period: Duration,
}

/// Why a quota string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a quota: {rule}")]
pub struct QuotaError {
    /// The input.
    pub value: String,
    /// The rule broken.
    pub rule: &'static str,
}

impl Quota {
    /// `count` per `period`.
    pub const fn new(count: NonZeroU32, period: Duration) -> Self {
        Quota { count, period }
    }

    /// `count` per second (for `const` defaults; panics at compile time on zero).
    pub const fn per_second(count: u32) -> Self {
        Quota::new(nonzero(count), Duration::from_secs(1))
    }

    /// `count` per minute (for `const` defaults; panics at compile time on zero).
    pub const fn per_minute(count: u32) -> Self {
        Quota::new(nonzero(count), Duration::from_secs(60))
    }

    /// The steady rate in requests per second.
    pub fn per_second_f64(&self) -> f64 {
        f64::from(self.count.get()) / self.period.as_secs_f64()
    }

    /// The interval between requests at the steady rate.
    pub fn interval(&self) -> Duration {
        self.period / self.count.get()
    }
}

const fn nonzero(n: u32) -> NonZeroU32 {
    match NonZeroU32::new(n) {
        Some(n) => n,
        None => panic!("a quota count must be above zero"),
    }
}

impl FromStr for Quota {
    type Err = QuotaError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const RULE: &str = "expected N/period with N a whole number above 0 and period a unit \
                            (s, min, h) or a duration such as 30s, e.g. 10/min";
        let fail = |rule| QuotaError {
            value: crate::job::excerpt(s),
            rule,
        };
        let (count, period) = s.trim().split_once('/').ok_or_else(|| fail(RULE))?;
        let count: NonZeroU32 = count.trim().parse().map_err(|_| fail(RULE))?;
        let period = match period.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "m" | "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            other => humantime::parse_duration(other).map_err(|_| fail(RULE))?,
        };
        if period.is_zero() {
            return Err(fail("the period must be longer than zero"));
        }
        if period > Duration::from_secs(86_400) {
            return Err(fail("the period must be at most a day"));
        }
        Ok(Quota { count, period })
    }
}

impl fmt::Display for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.period.as_secs() {
            1 if self.period.subsec_nanos() == 0 => write!(f, "{}/s", self.count),
            60 if self.period.subsec_nanos() == 0 => write!(f, "{}/min", self.count),
            3600 if self.period.subsec_nanos() == 0 => write!(f, "{}/h", self.count),
            _ => write!(
                f,
                "{}/{}",
                self.count,
                humantime::format_duration(self.period)
            ),
        }
    }
}

impl Serialize for Quota {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Quota {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        let q: Quota = "10/min".parse().unwrap();
        assert_eq!((q.count.get(), q.period), (10, Duration::from_secs(60)));
        let q: Quota = "10/s".parse().unwrap();
        assert_eq!(q.interval(), Duration::from_millis(100));
        let q: Quota = " 5 / 30s ".parse().unwrap();
        assert_eq!(q.period, Duration::from_secs(30));
        assert_eq!(
            "1000/hour".parse::<Quota>().unwrap().period,
            Duration::from_secs(3600)
        );
    }

    #[test]
    fn display_round_trips() {
        for s in ["10/min", "10/s", "100/min", "7/h", "5/30s", "3/1m 30s"] {
            let q: Quota = s.parse().unwrap();
            assert_eq!(q.to_string().parse::<Quota>().unwrap(), q, "{s} -> {q}");
        }
        assert_eq!("10/minute".parse::<Quota>().unwrap().to_string(), "10/min");
    }

    #[test]
    fn rejects_bad_quotas_with_the_rule() {
        for bad in [
            "",
            "10",
            "0/min",
            "-1/min",
            "x/min",
            "10/fortnight",
            "10/0s",
            "1/2days",
        ] {
            let err = bad.parse::<Quota>().unwrap_err();
            assert!(!err.rule.is_empty(), "{bad}");
        }
    }
}
