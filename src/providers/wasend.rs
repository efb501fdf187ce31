//! Wasend: `POST {base}/{sessionId}/groups/{groupId}/leave`, no body, `Authorization: Bearer`.
//!
//! The group JID's `@` is percent-encoded in the path. Two documented answers are ambiguous and
//! are resolved with one follow-up request (which also counts against the account's quota):
//!
//! - **403 "Not a member of the group or group owner"** → `GET /{sessionId}/groups/{groupId}`:
//!   - 200 with a JSON object: the group is still visible, so the account is a member and was
//!     refused as the owner → OwnerCannotLeave;
//!   - 403 or 404 whose JSON `error`/`message` says "group not found" or "not a member": the
//!     account cannot see the group → AlreadyLeft (a framework's route-not-found page does not
//!     count: the endpoint is inferred, and a missing one must not make every 403 a success);
//!   - anything else proves nothing → ProviderError (retried, never a success), or the
//!     follow-up's own 3xx / 401 / 429 class.
//! - **404 "Session or group not found"** → `GET /sessions/{sessionId}`:
//!   - 200 with `status` WORKING (or CONNECTED, READY, OPEN, ACTIVE): the session is healthy, so
//!     the group is what was not found → GroupGone;
//!   - 200 with another `status`: AccountError (session not running); without `status`:
//!     ProviderError (cannot tell);
//!   - 404: the session does not exist → AccountError, never a success.
//!
//! Other answers: 2xx `success:true` Left, 2xx otherwise ProviderError, 400 InvalidInput,
//! 401 AccountError, 429 RetryLater (Retry-After if sent, else about a minute), 3xx
//! AccountError, 5xx / timeout / network ProviderError.
//!
//! A follow-up our own quota (the [`Pacer`]) cannot grant soon enough is not sent: the attempt
//! ends as RetryLater with an own-quota hint, not as an unresolved ambiguity.

use std::time::Duration;

use reqwest::{Method, header};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::answer::{HttpAnswer, str_field};
use super::http::{Exchange, HttpClient, TransportError, endpoint, secret_header};
use super::outcome::{LeftDetail, Outcome};
use super::pacer::{Pacer, Unpaced};
use super::redact::Redactor;
use super::{AttemptReport, ProviderSettings};
use crate::job::GroupRef;
use crate::quota::Quota;

/// The documented limit: 10 requests per minute.
pub const DEFAULT_QUOTA: Quota = Quota::per_minute(10);

/// The documented default API root.
pub const DEFAULT_BASE_URL: &str = "https://api.wasend.dev";

/// Without a `Retry-After`, how long a 429 asks us to wait ("about a minute").
pub const DEFAULT_429_WAIT: Duration = Duration::from_secs(60);

/// Session states in which a 404 on leave can only mean the group was not found.
const HEALTHY_SESSION_STATES: [&str; 5] = ["working", "connected", "ready", "open", "active"];

/// A Wasend account (a session).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountConfig {
    /// The session id.
    pub session_id: String,
}

/// The Wasend adapter for one session.
#[derive(Debug, Clone)]
pub struct Wasend {
    http: HttpClient,
    base: Url,
    session_id: String,
    api_key: SecretString,
    timeout: Duration,
}

/// What the leave answer alone tells.
enum First {
    Done(Outcome),
    /// 403: owner, or not a member?
    OwnerOrNotMember,
    /// 404: session missing, or group missing?
    SessionOrGroupMissing,
}

impl Wasend {
    /// The adapter for `account`, authenticating with the bearer `api_key`.
    pub fn new(
        http: HttpClient,
        provider: &ProviderSettings,
        account: &AccountConfig,
        api_key: SecretString,
    ) -> Self {
        let base = provider.base_or(DEFAULT_BASE_URL);
        Wasend {
            http,
            base,
            session_id: account.session_id.clone(),
            api_key,
            timeout: provider.request_timeout,
        }
    }

    fn request(
        &self,
        method: Method,
        segments: &[&str],
    ) -> Result<reqwest::RequestBuilder, Outcome> {
        let auth = secret_header(&format!("Bearer {}", self.api_key.expose_secret()))?;
        Ok(self
            .http
            .request(method, endpoint(&self.base, segments)?, self.timeout)
            .header(header::AUTHORIZATION, auth))
    }

    /// One leave attempt, with a follow-up request when the answer is ambiguous.
    pub async fn leave(&self, group: &GroupRef) -> AttemptReport {
        self.leave_paced(group, &Unpaced).await
    }

    /// [`Self::leave`], asking `pacer` before each request after the first.
    pub async fn leave_paced(&self, group: &GroupRef, pacer: &dyn Pacer) -> AttemptReport {
        let mut exchange = Exchange::new(
            &self.http,
            Redactor::new(self.api_key.expose_secret()),
            pacer,
        );
        let outcome = self.attempt(&mut exchange, group).await;
        exchange.finish(outcome)
    }

    async fn attempt(&self, exchange: &mut Exchange<'_>, group: &GroupRef) -> Outcome {
        let session = self.session_id.as_str();
        let leave = match self.request(Method::POST, &[session, "groups", group.as_str(), "leave"])
        {
            Ok(r) => r,
            Err(outcome) => return outcome,
        };
        let first = match exchange.send(leave).await {
            Ok(answer) => classify(&answer),
            Err(e) => return e.outcome(),
        };
        let (follow_up, resolve): (_, fn(&HttpAnswer) -> Outcome) = match first {
            First::Done(outcome) => return outcome,
            First::OwnerOrNotMember => (
                self.request(Method::GET, &[session, "groups", group.as_str()]),
                resolve_403,
            ),
            First::SessionOrGroupMissing => (
                self.request(Method::GET, &["sessions", session]),
                resolve_404,
            ),
        };
        let follow_up = match follow_up {
            Ok(r) => r,
            Err(outcome) => return outcome,
        };
        match exchange.send(follow_up).await {
            Ok(answer) => resolve(&answer),
            // Our own quota held the follow-up back: retry later, when it has room.
            Err(e @ TransportError::Throttled(_)) => e.outcome(),
            Err(e) => Outcome::ProviderError(format!(
                "ambiguous answer could not be resolved: follow-up {e}"
            )),
        }
    }
}

/// Classifies the leave answer; 403 and 404 need a follow-up.
fn classify(answer: &HttpAnswer) -> First {
    First::Done(match answer.status {
        200..=299 => match answer.json_object() {
            Some(body) if body.get("success").and_then(|v| v.as_bool()) == Some(true) => {
                Outcome::Left(LeftDetail::Member)
            }
            Some(_) => answer.provider_error("leave not confirmed (success is not true)"),
            None => answer.provider_error("unparseable leave answer"),
        },
        300..=399 => answer.redirect_outcome(),
        400 => Outcome::InvalidInput(format!(
            "Wasend rejected the request: {}",
            answer.describe()
        )),
        401 => Outcome::AccountError(format!("API key rejected: {}", answer.describe())),
        403 => return First::OwnerOrNotMember,
        404 => return First::SessionOrGroupMissing,
        429 => answer.retry_later("rate limited", Some(DEFAULT_429_WAIT)),
        _ => answer.provider_error("Wasend failed"),
    })
}

/// Classifies the leave answer alone, without a follow-up: the ambiguous 403 and 404 become
/// `None`. Exposed for tests and tools that inspect recorded answers.
pub fn classify_leave(answer: &HttpAnswer) -> Option<Outcome> {
    match classify(answer) {
        First::Done(o) => Some(o),
        First::OwnerOrNotMember | First::SessionOrGroupMissing => None,
    }
}

/// The follow-up answer's own class when it is not one that resolves the ambiguity.
fn follow_up_failure(answer: &HttpAnswer, ambiguity: &str) -> Outcome {
    match answer.status {
        300..=399 => answer.redirect_outcome(),
        401 => Outcome::AccountError(format!("API key rejected: {}", answer.describe())),
        429 => answer.retry_later("rate limited during follow-up", Some(DEFAULT_429_WAIT)),
        _ => Outcome::ProviderError(format!(
            "{ambiguity}; the follow-up did not tell which: {}",
            answer.describe()
        )),
    }
}

/// Resolves a 403 on leave from the group page.
pub fn resolve_403(group_page: &HttpAnswer) -> Outcome {
    const AMBIGUITY: &str = "Wasend refused the leave (403: not a member, or the owner)";
    match group_page.status {
        200 if group_page.json_object().is_some() => Outcome::OwnerCannotLeave(
            "Wasend refused the leave (403) and the group is still visible to the account: \
             it owns the group, and Wasend does not let owners leave"
                .into(),
        ),
        403 | 404 if speaks_of_group_absence(group_page) => Outcome::AlreadyLeft(format!(
            "Wasend refused the leave (403) and the group page is not visible to the account \
             (HTTP {}): not a member",
            group_page.status
        )),
        _ => follow_up_failure(group_page, AMBIGUITY),
    }
}

/// Whether the answer is Wasend's own error saying the group is not found or the account not a
/// member: its JSON `error` or `message` holds one of those phrases. A framework's route-not-found
/// page (`Cannot GET /…/groups/…`, `Not Found`) is not.
fn speaks_of_group_absence(answer: &HttpAnswer) -> bool {
    let Some(body) = answer.json_object() else {
        return false;
    };
    ["error", "message"]
        .iter()
        .filter_map(|key| str_field(&body, key))
        .map(str::to_lowercase)
        .any(|m| {
            !m.contains("cannot") && (m.contains("group not found") || m.contains("not a member"))
        })
}

/// Resolves a 404 on leave from the session page.
pub fn resolve_404(session_page: &HttpAnswer) -> Outcome {
    const AMBIGUITY: &str = "Wasend answered 404 (session or group not found)";
    match session_page.status {
        200 => {
            let Some(body) = session_page.json_object() else {
                return follow_up_failure(session_page, AMBIGUITY);
            };
            match str_field(&body, "status") {
                Some(state) if HEALTHY_SESSION_STATES.contains(&state.to_lowercase().as_str()) => {
                    Outcome::GroupGone(format!(
                        "Wasend answered 404 and session is {state}: the group was not found"
                    ))
                }
                Some(state) => Outcome::AccountError(format!(
                    "Wasend answered 404 and the session is not running (status {state})"
                )),
                None => follow_up_failure(session_page, AMBIGUITY),
            }
        }
        404 => Outcome::AccountError(format!(
            "the Wasend session does not exist: {}",
            session_page.describe()
        )),
        _ => follow_up_failure(session_page, AMBIGUITY),
    }
}
