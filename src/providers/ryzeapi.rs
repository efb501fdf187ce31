//! RyzeAPI: `DELETE {base}/api/group/leave/{instance}?identifier=<JID | invite code>`,
//! header `token: <TokenAccount or TokenInstance>`.
//!
//! The identifier is form-encoded in the query. Errors come as
//! `{"success": false, "error": {"message": …}}`; classification uses status *and* message.
//! Every answer's `X-RateLimit-*` headers are kept in the report for the limiter to learn from.
//!
//! | answer | outcome |
//! |---|---|
//! | 2xx `success:true` | Left |
//! | 2xx otherwise | ProviderError |
//! | 400 `Identifier is required` (or other 400) | InvalidInput |
//! | 400 instance not connected | AccountError |
//! | 401 | AccountError |
//! | 403 `Not allowed to leave this group` | OwnerCannotLeave |
//! | 403 other | AccountError (token not allowed) |
//! | 404 `Group not found or you are not a member…`, group given as a JID | AlreadyLeft (documented idempotent) |
//! | the same 404, group given as an invite code or link | InvalidInput: a revoked or reset invite answers the same, so it proves nothing about membership |
//! | 404 `Instance not found` | AccountError |
//! | 404 other (not RyzeAPI's envelope) | AccountError (check base_url) |
//! | 429 | RetryLater until `X-RateLimit-Reset` / `Retry-After` (the later) |
//! | 501 | InvalidInput (permanent) |
//! | 503 (instance bridge down) | RetryLater (Retry-After, else 30 s; `X-RateLimit-Reset` is about the quota window, not the bridge) |
//! | 3xx | AccountError (configuration) |
//! | 500, other 5xx, timeout, network | ProviderError |

use std::time::Duration;

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::answer::HttpAnswer;
use super::http::{Exchange, HttpClient, endpoint, secret_header};
use super::outcome::{LeftDetail, Outcome};
use super::pacer::{Pacer, Unpaced};
use super::redact::Redactor;
use super::{AttemptReport, ProviderSettings};
use crate::job::GroupRef;
use crate::quota::Quota;

/// The documented limit: 100 requests per minute per token.
pub const DEFAULT_QUOTA: Quota = Quota::per_minute(100);

/// The documented default API root.
pub const DEFAULT_BASE_URL: &str = "https://ryzeapi.cloud";

/// Without a hint, how long a 503 (instance bridge down) keeps the account waiting.
pub const DEFAULT_503_WAIT: Duration = Duration::from_secs(30);

/// A RyzeAPI account (an instance).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountConfig {
    /// The instance name.
    pub instance: String,
}

/// The RyzeAPI adapter for one instance.
#[derive(Debug, Clone)]
pub struct RyzeApi {
    http: HttpClient,
    base: Url,
    instance: String,
    token: SecretString,
    timeout: Duration,
}

impl RyzeApi {
    /// The adapter for `account`, authenticating with `token`.
    pub fn new(
        http: HttpClient,
        provider: &ProviderSettings,
        account: &AccountConfig,
        token: SecretString,
    ) -> Self {
        let base = provider.base_or(DEFAULT_BASE_URL);
        RyzeApi {
            http,
            base,
            instance: account.instance.clone(),
            token,
            timeout: provider.request_timeout,
        }
    }

    /// One leave attempt.
    pub async fn leave(&self, group: &GroupRef) -> AttemptReport {
        self.leave_paced(group, &Unpaced).await
    }

    /// [`Self::leave`], asking `pacer` before each request after the first.
    pub async fn leave_paced(&self, group: &GroupRef, pacer: &dyn Pacer) -> AttemptReport {
        let token = self.token.expose_secret();
        let mut exchange = Exchange::new(&self.http, Redactor::new(token), pacer);
        let header = match secret_header(token) {
            Ok(h) => h,
            Err(outcome) => return exchange.finish(outcome),
        };
        let mut url = match endpoint(&self.base, &["api", "group", "leave", &self.instance]) {
            Ok(url) => url,
            Err(outcome) => return exchange.finish(outcome),
        };
        url.query_pairs_mut()
            .append_pair("identifier", group.as_str());
        let request = self
            .http
            .request(Method::DELETE, url, self.timeout)
            .header("token", header);
        let outcome = match exchange.send(request).await {
            Ok(answer) => classify(&answer, group),
            Err(e) => e.outcome(),
        };
        exchange.finish(outcome)
    }
}

/// The `error.message` of RyzeAPI's error envelope (or a top-level `message`), lowercased.
fn error_message(answer: &HttpAnswer) -> Option<String> {
    let body = answer.json_object()?;
    let message = body
        .get("error")
        .and_then(|e| e.get("message").or(Some(e)))
        .and_then(|m| m.as_str())
        .or_else(|| body.get("message").and_then(|m| m.as_str()))?;
    Some(message.to_lowercase())
}

/// Classifies a RyzeAPI leave answer to a request for `group`.
pub fn classify(answer: &HttpAnswer, group: &GroupRef) -> Outcome {
    let message = error_message(answer).unwrap_or_default();
    let says = |needle: &str| message.contains(needle);
    match answer.status {
        200..=299 => match answer.json_object() {
            Some(body) if body.get("success").and_then(|v| v.as_bool()) == Some(true) => {
                Outcome::Left(LeftDetail::Member)
            }
            Some(_) => answer.provider_error("leave not confirmed (success is not true)"),
            None => answer.provider_error("unparseable leave answer"),
        },
        300..=399 => answer.redirect_outcome(),
        400 if says("not connected") || says("disconnected") => {
            Outcome::AccountError(format!("instance not connected: {}", answer.describe()))
        }
        400 => Outcome::InvalidInput(format!(
            "RyzeAPI rejected the request: {}",
            answer.describe()
        )),
        401 => Outcome::AccountError(format!("token rejected: {}", answer.describe())),
        403 if says("not allowed to leave") => Outcome::OwnerCannotLeave(format!(
            "RyzeAPI does not allow this account to leave the group: {}",
            answer.describe()
        )),
        403 => Outcome::AccountError(format!("token not allowed: {}", answer.describe())),
        404 if says("instance not found") => {
            Outcome::AccountError(format!("instance not found: {}", answer.describe()))
        }
        404 if (says("not a member") || says("group not found")) => match group {
            GroupRef::Invite(_) => Outcome::InvalidInput(
                "RyzeAPI found no group or membership for this invite; a revoked or reset invite \
                 answers the same as having left, so this is not counted as a success: submit \
                 the group's JID instead"
                    .into(),
            ),
            _ => Outcome::AlreadyLeft(
                "RyzeAPI: group not found or not a member (its documented idempotent answer)"
                    .into(),
            ),
        },
        404 => Outcome::AccountError(format!(
            "unexpected 404 (check base_url and instance): {}",
            answer.describe()
        )),
        429 => answer.retry_later("rate limited", None),
        501 => Outcome::InvalidInput(format!("RyzeAPI cannot do this: {}", answer.describe())),
        503 => Outcome::RetryLater {
            reason: format!("instance bridge down ({})", answer.describe()),
            hint: answer
                .retry_after()
                .or(Some(answer.default_hint(DEFAULT_503_WAIT))),
        },
        _ => answer.provider_error("RyzeAPI failed"),
    }
}
