//! Kirimin: `POST {base}/x/group/leave/{group_id}`, body `{}`, `Content-Type: application/json`,
//! authenticated by the account's session cookie (email-OTP login gives no API key).
//!
//! Answers use the envelope `{ok, code, msg[, data]}`; classification reads `code` and `msg`.
//!
//! | answer | outcome |
//! |---|---|
//! | 200 `ok:true` `OK` | Left (detail from the owner check, below) |
//! | 400 envelope | AlreadyLeft (documented: no longer part of the group) |
//! | 404 `GRPS_404` | GroupGone |
//! | 404 other | AccountError (check base_url) |
//! | 401 `UNAUTHORIZED`, 403 | AccountError |
//! | 429 `TOO_MANY_REQUESTS` | RetryLater (Retry-After, else a few seconds) |
//! | no envelope on a 4xx, or anything else | ProviderError |
//!
//! **Owners dissolve groups.** When the leaving account owns the group, Kirimin dissolves it and
//! wipes its history. The leave answer does not say whether that happened, so [`OwnerPolicy`]
//! decides whether to look the group up first (`GET {base}/x/group/{group_id}`, owner read at
//! `/data/owner`; both inferred, hence configurable) and what to do with an owned group:
//! refuse (default), leave and report `OwnerDissolvedGroup`, or skip the check. Only a check
//! that names another owner clears a leave under `refuse`: a group info the account cannot see
//! (400/403) refuses the job, and an answer without the owner field pauses the account
//! (AccountError) rather than risk a dissolution.

use std::time::Duration;

use reqwest::{Method, header};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use url::Url;

use super::answer::{HttpAnswer, str_field};
use super::http::{Exchange, HttpClient, endpoint, json_body, secret_header};
use super::outcome::{LeftDetail, Outcome};
use super::pacer::{Pacer, Unpaced};
use super::redact::Redactor;
use super::{AttemptReport, ProviderSettings};
use crate::job::GroupRef;
use crate::quota::Quota;

/// Kirimin publishes no limit, only that fast repeated requests get 429: a conservative
/// 30 requests per minute until measured otherwise.
pub const DEFAULT_QUOTA: Quota = Quota::per_minute(30);

/// The documented default API root.
pub const DEFAULT_BASE_URL: &str = "https://kirimin.devanka.id";

/// Without a `Retry-After`, how long a 429 asks us to wait ("a few seconds").
pub const DEFAULT_429_WAIT: Duration = Duration::from_secs(5);

/// Default group-info path for the owner check; `{group_id}` is replaced (inferred endpoint).
pub const DEFAULT_OWNER_CHECK_PATH: &str = "/x/group/{group_id}";

/// Default JSON pointer to the owner's user id in the group-info answer (inferred).
pub const DEFAULT_OWNER_POINTER: &str = "/data/owner";

/// What to do about groups the account owns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OwnerPolicy {
    /// Look the group up first; never leave a group the account owns (OwnerCannotLeave).
    #[default]
    Refuse,
    /// Look the group up first; leave owned groups too, reporting `OwnerDissolvedGroup`.
    Allow,
    /// Do not look: leave directly (one request less). An owned group is dissolved and the
    /// outcome says `RoleUnchecked`.
    Unchecked,
}

/// A Kirimin account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountConfig {
    /// The account's own user id, compared with the group's owner (needed unless unchecked).
    pub user_id: Option<String>,
    /// What to do about owned groups.
    pub owner_policy: OwnerPolicy,
    /// Group-info path template for the owner check, containing `{group_id}`.
    pub owner_check_path: String,
    /// JSON pointer to the owner's id in the group-info answer.
    pub owner_pointer: String,
}

/// The Kirimin adapter for one account.
#[derive(Debug, Clone)]
pub struct Kirimin {
    http: HttpClient,
    base: Url,
    cookie: SecretString,
    timeout: Duration,
    account: AccountConfig,
}

/// What the owner check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The account owns the group.
    Owner,
    /// The group info names another owner.
    NotOwner,
    /// The group info is not visible to the account (a 400/403 envelope). Most likely it is not
    /// a member, but the endpoint is inferred, so this does not prove it: `refuse` does not
    /// leave on it, `allow` leaves and reports the role as unchecked.
    NotVisible,
}

impl Kirimin {
    /// The adapter for `account`, authenticating with the `cookie` header value.
    pub fn new(
        http: HttpClient,
        provider: &ProviderSettings,
        account: &AccountConfig,
        cookie: SecretString,
    ) -> Self {
        let base = provider.base_or(DEFAULT_BASE_URL);
        Kirimin {
            http,
            base,
            cookie,
            timeout: provider.request_timeout,
            account: account.clone(),
        }
    }

    fn request(
        &self,
        method: Method,
        segments: &[&str],
    ) -> Result<reqwest::RequestBuilder, Outcome> {
        let cookie = secret_header(self.cookie.expose_secret())?;
        Ok(self
            .http
            .request(method, endpoint(&self.base, segments)?, self.timeout)
            .header(header::COOKIE, cookie))
    }

    /// One leave attempt, preceded by the owner check unless the policy is `unchecked`;
    /// unpaced (see [`Self::leave_paced`]).
    pub async fn leave(&self, group: &GroupRef) -> AttemptReport {
        self.leave_paced(group, &Unpaced).await
    }

    /// [`Self::leave`], asking `pacer` before each request after the first.
    pub async fn leave_paced(&self, group: &GroupRef, pacer: &dyn Pacer) -> AttemptReport {
        let cookie = self.cookie.expose_secret();
        // The cookie string, and each cookie's value on its own (a body may echo just that).
        let redactor = cookie
            .split(';')
            .filter_map(|pair| pair.split_once('=').map(|(_, value)| value))
            .fold(Redactor::new(cookie), Redactor::with_part);
        let mut exchange = Exchange::new(&self.http, redactor, pacer);
        let outcome = self.attempt(&mut exchange, group).await;
        exchange.finish(outcome)
    }

    async fn attempt(&self, exchange: &mut Exchange<'_>, group: &GroupRef) -> Outcome {
        let role = match self.account.owner_policy {
            OwnerPolicy::Unchecked => None,
            OwnerPolicy::Refuse | OwnerPolicy::Allow => {
                match self.check_owner(exchange, group).await {
                    Ok(role) => Some(role),
                    Err(outcome) => return outcome,
                }
            }
        };
        if self.account.owner_policy == OwnerPolicy::Refuse {
            match role {
                Some(Role::Owner) => {
                    return Outcome::OwnerCannotLeave(
                        "the account owns this group and owner_policy is \"refuse\": leaving \
                         would dissolve the group and wipe its history"
                            .into(),
                    );
                }
                Some(Role::NotVisible) => {
                    return Outcome::OwnerCannotLeave(
                        "the owner check could not see the group (400/403), so ownership is not \
                         confirmed and owner_policy \"refuse\" does not leave; if the account is \
                         not a member there is nothing to do, otherwise use owner_policy \"allow\""
                            .into(),
                    );
                }
                Some(Role::NotOwner) | None => {}
            }
        }
        let request = match self.request(Method::POST, &["x", "group", "leave", group.as_str()]) {
            Ok(r) => json_body(r, &json!({})),
            Err(outcome) => return outcome,
        };
        let detail = match role {
            None | Some(Role::NotVisible) => LeftDetail::RoleUnchecked,
            Some(Role::Owner) => LeftDetail::OwnerDissolvedGroup,
            Some(Role::NotOwner) => LeftDetail::Member,
        };
        match exchange.send(request).await {
            Ok(answer) => classify(&answer, detail),
            Err(e) => e.outcome(),
        }
    }

    async fn check_owner(
        &self,
        exchange: &mut Exchange<'_>,
        group: &GroupRef,
    ) -> Result<Role, Outcome> {
        let path = self
            .account
            .owner_check_path
            .replace("{group_id}", group.as_str());
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let request = self.request(Method::GET, &segments)?;
        match exchange.send(request).await {
            Ok(answer) => classify_owner_check(&answer, &self.account),
            Err(e) => Err(Outcome::ProviderError(format!("owner check: {e}"))),
        }
    }
}

/// The envelope's `code` and `msg`, if the body is one. The envelope's code is read only on a
/// 2xx answer (APIs that always answer 200 put the real code inside); on any other status the
/// HTTP status wins, so a contradictory `{"ok":true,"code":200}` on a 401 is still a 401.
fn envelope(answer: &HttpAnswer) -> Option<(u16, String, serde_json::Map<String, Value>)> {
    let body = answer.json_object()?;
    body.get("ok")?.as_bool()?;
    let code = if (200..300).contains(&answer.status) {
        body.get("code")
            .and_then(Value::as_u64)
            .and_then(|c| u16::try_from(c).ok())
            .unwrap_or(answer.status)
    } else {
        answer.status
    };
    let msg = str_field(&body, "msg").unwrap_or_default().to_owned();
    Some((code, msg, body))
}

/// The class shared by both requests for answers that are not about the group.
fn common_failure(answer: &HttpAnswer, code: u16, context: &str) -> Outcome {
    match code {
        300..=399 => answer.redirect_outcome(),
        401 => Outcome::AccountError(format!("session cookie rejected: {}", answer.describe())),
        403 => Outcome::AccountError(format!("{context}: forbidden: {}", answer.describe())),
        404 => Outcome::AccountError(format!(
            "{context}: unexpected 404 (check base_url and owner_check_path): {}",
            answer.describe()
        )),
        429 => answer.retry_later("rate limited", Some(DEFAULT_429_WAIT)),
        _ => answer.provider_error(context),
    }
}

/// Classifies the leave answer; `left` is the detail reported if it says OK.
pub fn classify(answer: &HttpAnswer, left: LeftDetail) -> Outcome {
    if answer.status >= 500 {
        return answer.provider_error("Kirimin failed");
    }
    let Some((code, msg, body)) = envelope(answer) else {
        return match answer.status {
            300..=399 | 401 | 429 => common_failure(answer, answer.status, "leave"),
            _ => answer.provider_error("Kirimin answered without its envelope"),
        };
    };
    let ok = body.get("ok").and_then(Value::as_bool) == Some(true);
    match code {
        200 if ok => Outcome::Left(left),
        200 => answer.provider_error("leave not confirmed (ok is not true)"),
        400 => Outcome::AlreadyLeft(
            "Kirimin: the account is no longer part of the group (documented 400)".into(),
        ),
        404 if msg == "GRPS_404" => {
            Outcome::GroupGone("Kirimin: the group does not exist (GRPS_404)".into())
        }
        _ => common_failure(answer, code, "leave"),
    }
}

/// Classifies the group-info answer of the owner check.
///
/// `Ok(role)` when it tells; `Err(outcome)` when the attempt ends here: the group is gone
/// (GroupGone), or the check failed or cannot tell (never a leave on a guess).
pub fn classify_owner_check(answer: &HttpAnswer, account: &AccountConfig) -> Result<Role, Outcome> {
    if answer.status >= 500 {
        return Err(answer.provider_error("owner check: Kirimin failed"));
    }
    let Some((code, msg, body)) = envelope(answer) else {
        return Err(match answer.status {
            300..=399 | 401 | 404 | 429 => common_failure(answer, answer.status, "owner check"),
            _ => answer.provider_error("owner check: Kirimin answered without its envelope"),
        });
    };
    let ok = body.get("ok").and_then(Value::as_bool) == Some(true);
    match code {
        200 if ok => {
            let owner = Value::Object(body);
            let owner = owner.pointer(&account.owner_pointer);
            let owner = match owner {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => {
                    return Err(Outcome::AccountError(format!(
                        "owner check: the group info has no owner at {:?}; fix owner_pointer or \
                         set owner_policy = \"unchecked\"",
                        account.owner_pointer
                    )));
                }
            };
            let Some(me) = account.user_id.as_deref() else {
                return Err(Outcome::AccountError(
                    "owner check: the account has no user_id to compare with the owner".into(),
                ));
            };
            Ok(if owner == me {
                Role::Owner
            } else {
                Role::NotOwner
            })
        }
        400 | 403 => Ok(Role::NotVisible),
        404 if msg == "GRPS_404" => Err(Outcome::GroupGone(
            "Kirimin: the group does not exist (GRPS_404)".into(),
        )),
        _ => Err(common_failure(answer, code, "owner check")),
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderMap;

    use super::*;

    fn account() -> AccountConfig {
        AccountConfig {
            user_id: Some("808080".into()),
            owner_policy: OwnerPolicy::Refuse,
            owner_check_path: DEFAULT_OWNER_CHECK_PATH.into(),
            owner_pointer: DEFAULT_OWNER_POINTER.into(),
        }
    }

    #[test]
    fn a_success_envelope_on_an_error_status_is_not_a_success() {
        let body = r#"{"ok":true,"code":200,"msg":"OK","data":{"owner":"1"}}"#;
        for status in [302, 401, 403, 404, 429, 500] {
            let answer = HttpAnswer::new(status, HeaderMap::new(), body);
            assert!(
                !classify(&answer, LeftDetail::Member).is_success(),
                "{status}"
            );
            // 403 on the owner check means "not visible, so not owned": the leave then decides.
            if status != 403 {
                assert!(
                    classify_owner_check(&answer, &account()).is_err(),
                    "{status}"
                );
            }
        }
    }

    #[test]
    fn the_envelope_code_counts_inside_a_200() {
        let answer = HttpAnswer::new(
            200,
            HeaderMap::new(),
            r#"{"ok":false,"code":404,"msg":"GRPS_404"}"#,
        );
        assert_eq!(
            classify(&answer, LeftDetail::Member).class().as_str(),
            "group_gone"
        );
        let answer = HttpAnswer::new(
            200,
            HeaderMap::new(),
            r#"{"ok":false,"code":401,"msg":"UNAUTHORIZED"}"#,
        );
        assert_eq!(
            classify(&answer, LeftDetail::Member).class().as_str(),
            "account_error"
        );
    }
}
