//! The one pooled HTTP client every adapter shares, and the request/response plumbing around it.
//!
//! - Connect timeout, pooling and the `User-Agent` are set once here; each adapter passes its
//!   provider's total timeout per request.
//! - Redirects are never followed: a 3xx is an answer to classify, not a place to send
//!   credentials to.
//! - Bodies are read with a size cap ([`HttpClient::max_body_bytes`]).
//! - Transport errors are turned into text *without the URL* (Green API's token is in the path).
//! - Each request of an attempt runs in an HTTP client span (OpenTelemetry HTTP semantic
//!   conventions: `http.request.method`, `server.address`, `server.port`,
//!   `http.response.status_code`, `error.type`, and on exported spans only `url.full` with the
//!   account's secret redacted; log lines never show the URL).

use std::time::{Duration, Instant};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::{Method, RequestBuilder, header};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use url::Url;

use super::answer::{AnswerSummary, HttpAnswer};
use super::redact::Redactor;
use super::{AttemptReport, Outcome};

/// The `User-Agent` of every provider request: `bulkleave/<version>`.
pub const USER_AGENT: &str = concat!("bulkleave/", env!("CARGO_PKG_VERSION"));

/// Characters left unescaped in a path segment: RFC 3986 unreserved only. Everything else,
/// including `@`, `/`, `?` and `%`, is percent-encoded. The [`Redactor`] knows this encoding
/// too: a secret sent as a path segment (Green API's token) appears in the URL in this form.
pub(super) const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Errors building the client.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// reqwest refused the client configuration (for instance, no TLS backend).
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
}

/// Settings of the shared client.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Time allowed to establish a connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// Largest response body read; the rest is discarded and the answer marked truncated.
    pub max_body_bytes: usize,
}

/// The shared, pooled HTTP client. Cheap to clone.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    max_body_bytes: usize,
}

impl HttpClient {
    /// Builds the client.
    pub fn new(options: &ClientOptions) -> Result<Self, Error> {
        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(options.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .map_err(|e| Error::Build(e.without_url().to_string()))?;
        Ok(HttpClient {
            client,
            max_body_bytes: options.max_body_bytes,
        })
    }

    /// The body size cap.
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_bytes
    }

    /// Starts a request with a total timeout (connect, send and read the whole body).
    pub(crate) fn request(&self, method: Method, url: Url, timeout: Duration) -> RequestBuilder {
        self.client
            .request(method, url)
            .timeout(timeout)
            .header(header::ACCEPT, "application/json")
    }

    /// Sends a request and reads the answer, with the body capped.
    pub(crate) async fn send(&self, request: RequestBuilder) -> Result<HttpAnswer, TransportError> {
        let mut response = request.send().await.map_err(TransportError::from_reqwest)?;
        let status = response.status().as_u16();
        let headers = std::mem::take(response.headers_mut());
        let mut body = Vec::new();
        let mut truncated = false;
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(TransportError::from_reqwest)?
        {
            let room = self.max_body_bytes.saturating_sub(body.len());
            if chunk.len() > room {
                body.extend_from_slice(&chunk[..room]);
                truncated = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpAnswer::new(status, headers, body).with_truncated(truncated))
    }
}

/// Sets a JSON body (and its content type) on a request.
pub(crate) fn json_body(request: RequestBuilder, body: &serde_json::Value) -> RequestBuilder {
    request
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.to_string())
}

/// A header value that holds a secret: marked sensitive so it is never printed by `Debug`.
pub(crate) fn secret_header(value: &str) -> Result<header::HeaderValue, Outcome> {
    let mut v = header::HeaderValue::from_str(value).map_err(|_| {
        Outcome::AccountError(
            "the account's credential contains characters not allowed in an HTTP header".into(),
        )
    })?;
    v.set_sensitive(true);
    Ok(v)
}

/// `base` with `segments` appended as path segments, each percent-encoded (RFC 3986 unreserved
/// characters kept). Any query of `base` is dropped.
///
/// A segment that is empty, `.` or `..` is refused: URL normalisation would drop or collapse it
/// (even percent-encoded), sending the request somewhere else than intended.
pub fn endpoint(base: &Url, segments: &[&str]) -> Result<Url, Outcome> {
    let mut path = base.path().trim_end_matches('/').to_owned();
    for segment in segments {
        if matches!(*segment, "" | "." | "..") {
            return Err(Outcome::InvalidInput(format!(
                "{segment:?} cannot be used as a URL path segment"
            )));
        }
        path.push('/');
        path.extend(utf8_percent_encode(segment, SEGMENT));
    }
    let mut url = base.clone();
    url.set_path(&path);
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

/// The client span of one request. When spans are exported, `url.full` is set on the
/// exported span only (not a `tracing` field, so no log line ever carries it), with the
/// account's secret redacted (Green API's token is a path segment) and without any user or
/// password. The `fmt` layer enables every span, so the URL is only copied and redacted when
/// traces are on.
fn client_span(request: &reqwest::Request, redactor: &Redactor) -> tracing::Span {
    let url = request.url();
    let span = tracing::info_span!(
        "http.request",
        otel.name = %request.method(),
        otel.kind = "client",
        otel.status_code = tracing::field::Empty,
        http.request.method = %request.method(),
        server.address = url.host_str().unwrap_or(""),
        server.port = url.port_or_known_default().unwrap_or(0),
        http.response.status_code = tracing::field::Empty,
        error.type = tracing::field::Empty,
    );
    if crate::telemetry::traces_on() {
        span.set_attribute("url.full", shown_url(url, redactor));
    }
    span
}

/// `url` as a span may show it: no user or password, the account's secret redacted.
fn shown_url(url: &Url, redactor: &Redactor) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    redactor.text(shown.into())
}

/// A request that got no HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The total timeout elapsed (connect, send or read).
    #[error("no answer within the timeout")]
    Timeout,
    /// The connection could not be established.
    #[error("connection failed: {0}")]
    Connect(String),
    /// Anything else: TLS, protocol, the body stream breaking off.
    #[error("request failed: {0}")]
    Other(String),
    /// Not sent: the account's quota had no room for this further request soon enough.
    #[error("not sent: {}", .0.reason)]
    Throttled(super::pacer::Throttled),
}

impl TransportError {
    /// Describes a reqwest error without its URL (which may carry a token).
    pub(crate) fn from_reqwest(err: reqwest::Error) -> Self {
        let err = err.without_url();
        if err.is_timeout() {
            return TransportError::Timeout;
        }
        let mut text = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        if err.is_connect() {
            TransportError::Connect(text)
        } else {
            TransportError::Other(text)
        }
    }

    /// A low-cardinality name of the failure (`error.type` of the client span).
    pub fn kind(&self) -> &'static str {
        match self {
            TransportError::Timeout => "timeout",
            TransportError::Connect(_) => "connect",
            TransportError::Other(_) => "transport",
            TransportError::Throttled(_) => "throttled",
        }
    }

    /// Every transport failure is a provider error (retry with backoff), except a request
    /// our own quota held back: retry later, when it has room.
    pub fn outcome(&self) -> Outcome {
        match self {
            TransportError::Throttled(t) => Outcome::RetryLater {
                reason: t.reason.clone(),
                hint: Some(super::RetryHint {
                    not_before: t.not_before,
                    source: super::HintSource::OwnQuota,
                }),
            },
            _ => Outcome::ProviderError(self.to_string()),
        }
    }
}

use super::pacer::Pacer;

/// Bookkeeping for one attempt, which may take several requests (follow-ups, pre-checks):
/// counts requests, redacts the account's secret from every answer body as it arrives, keeps
/// the last answer's summary, times the attempt and, when it finishes, redacts the secret from
/// every text it returns.
pub(crate) struct Exchange<'a> {
    http: &'a HttpClient,
    pacer: &'a dyn Pacer,
    redactor: Redactor,
    started: Instant,
    requests: u32,
    last: Option<AnswerSummary>,
}

impl<'a> Exchange<'a> {
    /// Starts an attempt for an account whose credential `redactor` knows; requests after
    /// the first wait for `pacer`.
    pub(crate) fn new(http: &'a HttpClient, redactor: Redactor, pacer: &'a dyn Pacer) -> Self {
        Exchange {
            http,
            pacer,
            redactor,
            started: Instant::now(),
            requests: 0,
            last: None,
        }
    }

    /// Sends one request of the attempt.
    pub(crate) async fn send(
        &mut self,
        request: RequestBuilder,
    ) -> Result<HttpAnswer, TransportError> {
        if self.requests > 0 {
            self.pacer
                .follow_up()
                .await
                .map_err(TransportError::Throttled)?;
        }
        self.requests += 1;
        let (client, built) = request.build_split();
        let built = built.map_err(TransportError::from_reqwest)?;
        let span = client_span(&built, &self.redactor);
        let request = RequestBuilder::from_parts(client, built);
        let mut answer = self.http.send(request).instrument(span.clone()).await;
        match &mut answer {
            Ok(a) => {
                span.record("http.response.status_code", a.status);
                if a.status >= 400 {
                    span.record("otel.status_code", "error");
                    span.record("error.type", a.status.to_string());
                }
                a.redact(&self.redactor);
                self.last = Some(a.summary());
            }
            Err(e) => {
                span.record("otel.status_code", "error");
                span.record("error.type", e.kind());
            }
        }
        answer
    }

    /// Ends the attempt with `outcome`.
    pub(crate) fn finish(self, outcome: Outcome) -> AttemptReport {
        AttemptReport {
            outcome,
            answer: self.last,
            requests: self.requests,
            elapsed: self.started.elapsed(),
        }
        .redacted(&self.redactor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_encodes_each_segment_strictly() {
        let base = Url::parse("https://api.example/prefix/?q=1").unwrap();
        let url = endpoint(
            &base,
            &["sess 1", "groups", "1203@g.us", "a/b?c#d", "..x", "leave"],
        )
        .unwrap();
        assert_eq!(
            url.as_str(),
            "https://api.example/prefix/sess%201/groups/1203%40g.us/a%2Fb%3Fc%23d/..x/leave"
        );
        for bad in ["", ".", ".."] {
            assert!(endpoint(&base, &["a", bad]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_secret_path_segment_is_redacted_from_the_shown_url() {
        let base = Url::parse("https://user:pw@api.example/").unwrap();
        for token in ["ab-cd/ef123", "t0k.en_~ x+y", "s3cr3t%2F", "plain123456"] {
            let url = endpoint(&base, &["waInstance1", "leaveGroup", token]).unwrap();
            let shown = shown_url(&url, &Redactor::new(token));
            assert_eq!(
                shown, "https://api.example/waInstance1/leaveGroup/[redacted]",
                "{token:?}"
            );
        }
    }

    #[test]
    fn endpoint_on_a_bare_host() {
        let base = Url::parse("http://127.0.0.1:9").unwrap();
        assert_eq!(
            endpoint(&base, &["x"]).unwrap().as_str(),
            "http://127.0.0.1:9/x"
        );
    }
}
