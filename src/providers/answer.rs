//! A provider's HTTP answer as the classifiers see it, and the pieces every classifier reads:
//! JSON bodies, `Retry-After`, `X-RateLimit-*` headers and a safe summary for reports.
//!
//! Classification functions take an [`HttpAnswer`] and return an [`Outcome`]: pure functions,
//! testable without a network.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde::Serialize;
use serde_json::Value;

use super::outcome::{HintSource, Outcome, RetryHint};
use super::redact::Redactor;

/// Longest body excerpt kept in summaries and outcome details.
const EXCERPT_CHARS: usize = 200;

/// Values of `X-RateLimit-Reset` below this are taken as seconds from now rather than a Unix
/// time (some gateways send a delta; RyzeAPI documents Unix seconds).
const RESET_IS_DELTA_BELOW: u64 = 1_000_000_000;

/// One HTTP answer: status, headers and (capped) body, with the time it arrived.
#[derive(Debug, Clone)]
pub struct HttpAnswer {
    /// HTTP status code.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// The body, at most the client's cap.
    pub body: Vec<u8>,
    /// Whether the body was cut at the cap.
    pub truncated: bool,
    /// When the answer arrived (the reference for relative hints).
    pub received_at: SystemTime,
}

/// The rate-limit state a provider reported in its headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RateLimitInfo {
    /// `X-RateLimit-Limit`.
    pub limit: Option<u64>,
    /// `X-RateLimit-Remaining`.
    pub remaining: Option<u64>,
    /// `X-RateLimit-Reset`, as milliseconds since the Unix epoch.
    pub reset_at_ms: Option<u64>,
}

/// A safe summary of an answer, for reports and the ledger: status, a short excerpt of the
/// body (control characters removed, secrets redacted by the adapter), rate-limit headers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnswerSummary {
    /// HTTP status code.
    pub status: u16,
    /// The first characters of the body.
    pub body: String,
    /// Rate-limit headers, when the provider sent them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitInfo>,
}

impl AnswerSummary {
    /// `HTTP 200: {"ok":true}`, or `HTTP 204 with an empty body`.
    pub fn describe(&self) -> String {
        describe(self.status, &self.body)
    }
}

/// A status and a body excerpt in one line.
fn describe(status: u16, excerpt: &str) -> String {
    if excerpt.is_empty() {
        format!("HTTP {status} with an empty body")
    } else {
        format!("HTTP {status}: {excerpt}")
    }
}

impl HttpAnswer {
    /// An answer received now.
    pub fn new(status: u16, headers: HeaderMap, body: impl Into<Vec<u8>>) -> Self {
        HttpAnswer {
            status,
            headers,
            body: body.into(),
            truncated: false,
            received_at: SystemTime::now(),
        }
    }

    /// Marks the body as cut at the size cap.
    pub fn with_truncated(mut self, truncated: bool) -> Self {
        self.truncated = truncated;
        self
    }

    /// Sets the arrival time (tests use this to pin relative hints).
    pub fn received_at(mut self, at: SystemTime) -> Self {
        self.received_at = at;
        self
    }

    /// The body as a JSON object, or `None` if it is truncated, not JSON or not an object.
    pub fn json_object(&self) -> Option<serde_json::Map<String, Value>> {
        if self.truncated {
            return None;
        }
        match serde_json::from_slice(&self.body) {
            Ok(Value::Object(map)) => Some(map),
            _ => None,
        }
    }

    /// The body as lowercase text (for matching documented messages).
    pub fn lower_text(&self) -> String {
        String::from_utf8_lossy(&self.body).to_lowercase()
    }

    /// A one-line excerpt of the body: control characters and runs of white space become one
    /// space, at most 200 characters.
    pub fn excerpt(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let mut out = String::new();
        let mut count = 0;
        let mut last_space = true;
        for c in text.chars() {
            let c = if c.is_control() || c.is_whitespace() {
                ' '
            } else {
                c
            };
            if c == ' ' && last_space {
                continue;
            }
            last_space = c == ' ';
            if count == EXCERPT_CHARS {
                out.push('…');
                return out;
            }
            out.push(c);
            count += 1;
        }
        if self.truncated {
            out.push('…');
        }
        out.trim_end().to_owned()
    }

    /// `status` and the body excerpt, for outcome details: `HTTP 502: <html>…`.
    pub fn describe(&self) -> String {
        describe(self.status, &self.excerpt())
    }

    /// The safe summary of this answer.
    pub fn summary(&self) -> AnswerSummary {
        AnswerSummary {
            status: self.status,
            body: self.excerpt(),
            rate_limit: self.rate_limit(),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok().map(str::trim)
    }

    fn header_u64(&self, name: &str) -> Option<u64> {
        self.header(name)?.parse().ok()
    }

    /// `Retry-After`, as seconds or an HTTP date. Unparseable values are ignored.
    pub fn retry_after(&self) -> Option<RetryHint> {
        let value = self.header(RETRY_AFTER.as_str())?;
        let not_before = match value.parse::<u64>() {
            Ok(secs) => self.received_at.checked_add(Duration::from_secs(secs))?,
            Err(_) => httpdate::parse_http_date(value).ok()?,
        };
        Some(RetryHint {
            not_before,
            source: HintSource::RetryAfter,
        })
    }

    /// `X-RateLimit-Reset` as a hint (Unix seconds; small values taken as a delta).
    pub fn rate_limit_reset(&self) -> Option<RetryHint> {
        let reset = self.header_u64("x-ratelimit-reset")?;
        let not_before = if reset < RESET_IS_DELTA_BELOW {
            self.received_at.checked_add(Duration::from_secs(reset))?
        } else {
            UNIX_EPOCH.checked_add(Duration::from_secs(reset))?
        };
        Some(RetryHint {
            not_before,
            source: HintSource::RateLimitReset,
        })
    }

    /// The `X-RateLimit-*` headers, if any was sent.
    pub fn rate_limit(&self) -> Option<RateLimitInfo> {
        let info = RateLimitInfo {
            limit: self.header_u64("x-ratelimit-limit"),
            remaining: self.header_u64("x-ratelimit-remaining"),
            reset_at_ms: self.rate_limit_reset().and_then(|h| {
                let ms = h.not_before.duration_since(UNIX_EPOCH).ok()?.as_millis();
                u64::try_from(ms).ok()
            }),
        };
        (info.limit.is_some() || info.remaining.is_some() || info.reset_at_ms.is_some())
            .then_some(info)
    }

    /// The latest of the answer's hints (`Retry-After`, `X-RateLimit-Reset`), or `default`
    /// from now when it sent none.
    pub fn retry_hint(&self, default: Option<Duration>) -> Option<RetryHint> {
        let headers = [self.retry_after(), self.rate_limit_reset()];
        headers
            .into_iter()
            .flatten()
            .max_by_key(|h| h.not_before)
            .or_else(|| default.map(|d| self.default_hint(d)))
    }

    /// A hint `wait` after the answer arrived, from the provider's documented advice.
    pub fn default_hint(&self, wait: Duration) -> RetryHint {
        RetryHint {
            not_before: self.received_at + wait,
            source: HintSource::ProviderDefault,
        }
    }

    /// Redacts the credential from the body, so no excerpt, message or detail derived from the
    /// body can carry it, not even a part cut by an excerpt's length limit.
    pub fn redact(&mut self, redactor: &Redactor) {
        redactor.bytes(&mut self.body);
    }

    /// The classification every provider shares for a 3xx: we never follow redirects, and a
    /// provider that redirects its API means the configured URL is wrong. Pausing the account
    /// (not retrying every job) is what lets an operator notice and fix it.
    pub fn redirect_outcome(&self) -> Outcome {
        let to = self
            .header("location")
            .map(|l| format!(" to {}", crate::job::excerpt(l)))
            .unwrap_or_default();
        Outcome::AccountError(format!(
            "HTTP {} redirect{to}: redirects are not followed; check the provider's base_url",
            self.status
        ))
    }

    /// `RetryLater` for this answer with `reason`, honouring its hints or `default`.
    pub fn retry_later(&self, reason: &str, default: Option<Duration>) -> Outcome {
        Outcome::RetryLater {
            reason: format!("{reason} ({})", self.describe()),
            hint: self.retry_hint(default),
        }
    }

    /// `ProviderError` describing this answer, prefixed by `context`.
    pub fn provider_error(&self, context: &str) -> Outcome {
        Outcome::ProviderError(format!("{context}: {}", self.describe()))
    }
}

/// A string field of a JSON object, if present.
pub fn str_field<'a>(obj: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a str> {
    obj.get(key).and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn answer(headers: &[(&'static str, &str)], body: &str) -> HttpAnswer {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        HttpAnswer::new(429, map, body).received_at(UNIX_EPOCH + Duration::from_secs(1_000_000_000))
    }

    #[test]
    fn retry_after_seconds_and_http_date() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        let a = answer(&[("retry-after", "3")], "");
        assert_eq!(
            a.retry_after().unwrap().not_before,
            t0 + Duration::from_secs(3)
        );
        let a = answer(&[("retry-after", "Sun, 09 Sep 2001 01:47:00 GMT")], "");
        let h = a.retry_after().unwrap();
        assert_eq!(
            h.not_before,
            UNIX_EPOCH + Duration::from_secs(1_000_000_020)
        );
        assert_eq!(h.source, HintSource::RetryAfter);
        assert!(
            answer(&[("retry-after", "soon")], "")
                .retry_after()
                .is_none()
        );
        assert!(answer(&[("retry-after", "-1")], "").retry_after().is_none());
        let huge = u64::MAX.to_string();
        assert!(
            answer(&[("retry-after", &huge)], "")
                .retry_after()
                .is_none()
        );
        assert!(
            answer(&[("x-ratelimit-reset", &huge)], "")
                .rate_limit_reset()
                .is_none()
        );
    }

    #[test]
    fn rate_limit_reset_unix_or_delta_and_latest_hint_wins() {
        let a = answer(
            &[
                ("x-ratelimit-reset", "1000000060"),
                ("x-ratelimit-limit", "100"),
                ("x-ratelimit-remaining", "0"),
                ("retry-after", "10"),
            ],
            "",
        );
        let h = a.retry_hint(None).unwrap();
        assert_eq!(h.source, HintSource::RateLimitReset);
        assert_eq!(
            h.not_before,
            UNIX_EPOCH + Duration::from_secs(1_000_000_060)
        );
        let info = a.rate_limit().unwrap();
        assert_eq!((info.limit, info.remaining), (Some(100), Some(0)));
        assert_eq!(info.reset_at_ms, Some(1_000_000_060_000));
        let a = answer(&[("x-ratelimit-reset", "42")], "");
        assert_eq!(
            a.rate_limit_reset().unwrap().not_before,
            UNIX_EPOCH + Duration::from_secs(1_000_000_042)
        );
    }

    #[test]
    fn default_hint_only_without_headers() {
        let a = answer(&[], "");
        let h = a.retry_hint(Some(Duration::from_secs(60))).unwrap();
        assert_eq!(h.source, HintSource::ProviderDefault);
        assert!(a.retry_hint(None).is_none());
        assert!(a.rate_limit().is_none());
    }

    #[test]
    fn excerpt_is_one_short_line() {
        let a = answer(&[], "<html>\n\t<body>  Bad\r\nGateway </body></html>");
        assert_eq!(a.excerpt(), "<html> <body> Bad Gateway </body></html>");
        let long = answer(&[], &"x".repeat(500));
        assert_eq!(long.excerpt().chars().count(), 201);
        assert_eq!(answer(&[], "").describe(), "HTTP 429 with an empty body");
    }

    #[test]
    fn json_object_rejects_truncated_and_non_objects() {
        assert!(answer(&[], r#"{"a":1}"#).json_object().is_some());
        assert!(answer(&[], "[1]").json_object().is_none());
        assert!(answer(&[], "{").json_object().is_none());
        assert!(
            answer(&[], r#"{"a":1}"#)
                .with_truncated(true)
                .json_object()
                .is_none()
        );
    }
}
