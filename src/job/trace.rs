//! Room in a job for a W3C trace context, so a producer's trace continues in the worker.
//!
//! Only the syntax is checked here (W3C Trace Context, version 00); propagation into spans is
//! the telemetry module's business.

use serde::{Deserialize, Serialize};

use super::ids::RuleError;

/// A validated `traceparent` and optional `tracestate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawTrace", into = "RawTrace")]
pub struct TraceContext {
    traceparent: String,
    tracestate: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct RawTrace {
    traceparent: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tracestate: Option<String>,
}

impl TryFrom<RawTrace> for TraceContext {
    type Error = RuleError;

    fn try_from(raw: RawTrace) -> Result<Self, Self::Error> {
        TraceContext::new(&raw.traceparent, raw.tracestate.as_deref())
    }
}

impl From<TraceContext> for RawTrace {
    fn from(t: TraceContext) -> Self {
        RawTrace {
            traceparent: t.traceparent,
            tracestate: t.tracestate,
        }
    }
}

/// Longest `tracestate` kept (the W3C limit is 32 list members; 512 bytes is the
/// propagation limit recommended by the spec).
const MAX_TRACESTATE: usize = 512;

impl TraceContext {
    /// Checks `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`, ids not all zero) and
    /// `tracestate` (at most 512 printable ASCII characters).
    pub fn new(traceparent: &str, tracestate: Option<&str>) -> Result<Self, RuleError> {
        let tp = traceparent.trim().to_ascii_lowercase();
        let parts: Vec<&str> = tp.split('-').collect();
        let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
        let nonzero = |s: &str| s.bytes().any(|b| b != b'0');
        let valid = parts.len() == 4
            && parts[0] == "00"
            && hex(parts[1], 32)
            && nonzero(parts[1])
            && hex(parts[2], 16)
            && nonzero(parts[2])
            && hex(parts[3], 2);
        if !valid {
            return Err(RuleError(format!(
                "{:?} is not a W3C traceparent: expected 00-<32 hex trace id>-<16 hex span id>-<2 hex flags>, ids not all zero",
                super::excerpt(traceparent)
            )));
        }
        let tracestate = match tracestate.map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(ts)
                if ts.len() <= MAX_TRACESTATE && ts.bytes().all(|b| (0x20..0x7f).contains(&b)) =>
            {
                Some(ts.to_owned())
            }
            Some(_) => {
                return Err(RuleError(format!(
                    "tracestate must be at most {MAX_TRACESTATE} printable ASCII characters"
                )));
            }
        };
        Ok(TraceContext {
            traceparent: tp,
            tracestate,
        })
    }

    /// The `traceparent` header value.
    pub fn traceparent(&self) -> &str {
        &self.traceparent
    }

    /// The `tracestate` header value, if any.
    pub fn tracestate(&self) -> Option<&str> {
        self.tracestate.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn accepts_the_spec_example() {
        let t = TraceContext::new(TP, Some("congo=t61rcWkgMzE")).unwrap();
        assert_eq!(t.traceparent(), TP);
        assert_eq!(t.tracestate(), Some("congo=t61rcWkgMzE"));
    }

    #[test]
    fn rejects_malformed_and_zero_ids() {
        for bad in [
            "",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        ] {
            assert!(TraceContext::new(bad, None).is_err(), "{bad}");
        }
        assert!(TraceContext::new(TP, Some(&"a".repeat(600))).is_err());
    }
}
