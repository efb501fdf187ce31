//! Green API: `POST {apiUrl}/waInstance{idInstance}/leaveGroup/{apiTokenInstance}`.
//!
//! Request: JSON body `{"groupId": "<jid>@g.us"}`; the token is a path segment, so no URL of
//! this provider is ever logged or put in an error, and its trace span shows the URL with the
//! token redacted (see [`super::http`]).
//!
//! | answer | outcome |
//! |---|---|
//! | 200 `{"leaveGroup":true}` | Left |
//! | 200 `{"removeAdmin":true}` | Left (was admin) |
//! | 200 `{"leaveGroup":false}` | undocumented: [`LeaveGroupFalse`] decides (default: not a success) |
//! | 200 anything else, or unparseable | ProviderError |
//! | 400 `Validation failed` | InvalidInput |
//! | 400 `instance in starting process try later` | RetryLater |
//! | 400 `…not authorized` / `…expired` / `…deleted` | AccountError |
//! | 400 other | InvalidInput |
//! | 401, 403, 466 (tariff quota) | AccountError |
//! | 404 (wrong path: api_url or instance id) | AccountError |
//! | 429 (no Retry-After documented; honoured if sent) | RetryLater |
//! | 3xx | AccountError (configuration) |
//! | 499, 5xx, other, timeout, network | ProviderError |

use std::time::Duration;

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::json;
use url::Url;

use super::answer::HttpAnswer;
use super::http::{Exchange, HttpClient, endpoint, json_body};
use super::outcome::{LeftDetail, Outcome};
use super::pacer::{Pacer, Unpaced};
use super::redact::Redactor;
use super::{AttemptReport, ProviderSettings};
use crate::job::GroupRef;
use crate::quota::Quota;

/// The documented leaveGroup limit: 10 requests per second per instance.
pub const DEFAULT_QUOTA: Quota = Quota::per_second(10);

/// How to read Green API's undocumented `{"leaveGroup": false}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaveGroupFalse {
    /// Not a success: a `ProviderError` ("the provider did not confirm the leave"), retried and
    /// eventually dead-lettered for review. The default: the answer does not say the account is
    /// out of the group, and a false success would leave it in silently.
    #[default]
    Unconfirmed,
    /// Count it as `AlreadyLeft` (the likely meaning: the account was not a member). Choose this
    /// once you have confirmed that behaviour for your instances.
    AlreadyLeft,
}

/// A Green API account (an instance).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountConfig {
    /// `idInstance`: digits.
    pub instance_id: String,
    /// The instance's `apiUrl` from the console; when unset, the provider's `base_url`, else
    /// derived from the instance id ([`default_api_url`]).
    pub api_url: Option<Url>,
    /// How to read `{"leaveGroup": false}`.
    pub leave_group_false: LeaveGroupFalse,
}

/// The `apiUrl` for an instance id, following the official SDK's host selection.
pub fn default_api_url(instance_id: &str) -> Url {
    let host = if instance_id.starts_with("1103") || instance_id.starts_with("1104") {
        "https://1103.api.green-api.com"
    } else if instance_id.starts_with("5700") {
        "https://5700.api.green-api.com"
    } else if instance_id.starts_with("7103") {
        "https://7103.api.greenapi.com"
    } else if instance_id.starts_with("7105") {
        "https://7105.api.greenapi.com"
    } else if instance_id.starts_with("77") {
        "https://7700.api.greenapi.com"
    } else if instance_id.starts_with('7') {
        "https://api.greenapi.com"
    } else {
        "https://api.green-api.com"
    };
    Url::parse(host).expect("static URL is valid")
}

/// The Green API adapter for one instance.
#[derive(Debug, Clone)]
pub struct GreenApi {
    http: HttpClient,
    api_url: Url,
    instance_id: String,
    token: SecretString,
    timeout: Duration,
    leave_group_false: LeaveGroupFalse,
}

impl GreenApi {
    /// The adapter for `account`, authenticating with `token` (`apiTokenInstance`).
    pub fn new(
        http: HttpClient,
        provider: &ProviderSettings,
        account: &AccountConfig,
        token: SecretString,
    ) -> Self {
        let api_url = account
            .api_url
            .clone()
            .or_else(|| provider.base_url.clone())
            .unwrap_or_else(|| default_api_url(&account.instance_id));
        GreenApi {
            http,
            api_url,
            instance_id: account.instance_id.clone(),
            token,
            timeout: provider.request_timeout,
            leave_group_false: account.leave_group_false,
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
        let instance = format!("waInstance{}", self.instance_id);
        let url = match endpoint(&self.api_url, &[&instance, "leaveGroup", token]) {
            Ok(url) => url,
            Err(outcome) => return exchange.finish(outcome),
        };
        let request = json_body(
            self.http.request(Method::POST, url, self.timeout),
            &json!({ "groupId": group.as_str() }),
        );
        let outcome = match exchange.send(request).await {
            Ok(answer) => classify(&answer, self.leave_group_false),
            Err(e) => e.outcome(),
        };
        exchange.finish(outcome)
    }
}

/// Classifies a Green API leaveGroup answer.
pub fn classify(answer: &HttpAnswer, leave_group_false: LeaveGroupFalse) -> Outcome {
    match answer.status {
        200 => classify_ok(answer, leave_group_false),
        300..=399 => answer.redirect_outcome(),
        400 => {
            let text = answer.lower_text();
            if text.contains("validation failed") {
                Outcome::InvalidInput(format!(
                    "Green API rejected the request: {}",
                    answer.describe()
                ))
            } else if text.contains("starting process") {
                answer.retry_later("instance is starting", None)
            } else if ["not authorized", "expired", "deleted"]
                .iter()
                .any(|w| text.contains(w))
            {
                Outcome::AccountError(format!("instance unusable: {}", answer.describe()))
            } else {
                Outcome::InvalidInput(format!(
                    "Green API rejected the request: {}",
                    answer.describe()
                ))
            }
        }
        401 | 403 => Outcome::AccountError(format!(
            "instance credentials rejected (check apiTokenInstance): {}",
            answer.describe()
        )),
        466 => Outcome::AccountError(format!(
            "instance quota exhausted (tariff limit): {}",
            answer.describe()
        )),
        404 => Outcome::AccountError(format!(
            "no such endpoint (check api_url and instance_id): {}",
            answer.describe()
        )),
        429 => answer.retry_later("rate limited", None),
        _ => answer.provider_error("Green API failed"),
    }
}

fn classify_ok(answer: &HttpAnswer, leave_group_false: LeaveGroupFalse) -> Outcome {
    let Some(body) = answer.json_object() else {
        return answer.provider_error("unparseable leaveGroup answer");
    };
    if body.get("removeAdmin").and_then(|v| v.as_bool()) == Some(true) {
        return Outcome::Left(LeftDetail::WasAdmin);
    }
    match body.get("leaveGroup").and_then(|v| v.as_bool()) {
        Some(true) => Outcome::Left(LeftDetail::Member),
        Some(false) => match leave_group_false {
            LeaveGroupFalse::AlreadyLeft => Outcome::AlreadyLeft(
                "Green API answered leaveGroup:false (read as not a member, per leave_group_false)"
                    .into(),
            ),
            LeaveGroupFalse::Unconfirmed => Outcome::ProviderError(
                "Green API answered leaveGroup:false: the provider did not confirm the leave \
                 (set leave_group_false = \"already_left\" to count it as already left)"
                    .into(),
            ),
        },
        None => answer.provider_error("leaveGroup answer without leaveGroup or removeAdmin"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_url_follows_the_sdk_host_rules() {
        for (id, host) in [
            ("1103123456", "https://1103.api.green-api.com/"),
            ("1104000001", "https://1103.api.green-api.com/"),
            ("5700000001", "https://5700.api.green-api.com/"),
            ("7103000001", "https://7103.api.greenapi.com/"),
            ("7105000001", "https://7105.api.greenapi.com/"),
            ("7700000001", "https://7700.api.greenapi.com/"),
            ("7200000001", "https://api.greenapi.com/"),
            ("1101000001", "https://api.green-api.com/"),
        ] {
            assert_eq!(default_api_url(id).as_str(), host, "{id}");
        }
    }
}
