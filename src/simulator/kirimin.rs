//! Kirimin: `POST /x/group/leave/{group_id}` with body `{}` and `Content-Type:
//! application/json`, authenticated by the session cookie; and the group info our adapter's
//! owner check reads, `GET /x/group/{group_id}` (owner at `/data/owner`).
//!
//! Answers use the envelope `{ok, code, msg[, data]}`. The account is the one whose configured
//! cookie pairs all appear in the request's `Cookie` header.
//!
//! | situation | leave | group info |
//! |---|---|---|
//! | member or admin | 200 `OK` | 200 `OK`, `data.owner` another user |
//! | owner | 200 `OK`: the group is **dissolved** (counted in the report), later requests get `GRPS_404` | 200 `OK`, `data.owner` the account's user id |
//! | already left | 400 `NOT_A_MEMBER` (documented status; the `msg` is ours) | 200 `OK`, another owner (inferred: group info stays readable, so the adapter's refuse policy lets the leave tell) |
//! | unknown, dissolved or malformed group | 404 `GRPS_404` | 404 `GRPS_404` |
//! | no JSON content type | 415 `UNSUPPORTED_MEDIA_TYPE` (not documented) | — |
//! | body not a JSON object | 422 `INVALID_BODY` (not documented) | — |
//! | unknown or missing cookie | 401 `UNAUTHORIZED` | 401 |
//! | over quota | 429 `TOO_MANY_REQUESTS` | 429 |
//! | server error fault | 500 `INTERNAL_SERVER_ERROR` | 500 |

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_TYPE, COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::config::cookie_pairs;
use super::exchange::{Call, Dialect, Reply};
use super::report::EndpointKind;
use super::shared::Shared;
use super::state::{Leave, OwnerRule, View};
use crate::job::GroupRef;
use crate::providers::Provider;

/// Kirimin's answers.
pub(crate) const DIALECT: Dialect = Dialect {
    provider: Provider::Kirimin,
    too_many,
    server_error,
    unauthorized,
    rate_limit_headers: false,
};

fn envelope(status: StatusCode, msg: &str) -> Reply {
    Reply::json(
        status,
        &json!({ "ok": status.is_success(), "code": status.as_u16(), "msg": msg }),
    )
}

fn too_many() -> Reply {
    envelope(StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_REQUESTS")
}

fn server_error() -> Reply {
    envelope(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_SERVER_ERROR")
}

fn unauthorized() -> Reply {
    envelope(StatusCode::UNAUTHORIZED, "UNAUTHORIZED")
}

fn gone() -> Reply {
    envelope(StatusCode::NOT_FOUND, "GRPS_404")
}

/// Whether every `name=value` pair of the `configured` cookie is in the `presented` header.
fn cookie_matches(presented: &str, configured: &str) -> bool {
    let sent: Vec<(&str, &str)> = cookie_pairs(presented).collect();
    cookie_pairs(configured).all(|pair| sent.contains(&pair))
}

/// The call of the account whose cookie `headers` carry.
fn call(shared: &Shared, headers: &HeaderMap, kind: EndpointKind) -> Call {
    let cookie = headers.get(COOKIE).and_then(|v| v.to_str().ok());
    Call {
        who: shared.resolve(Provider::Kirimin, None, cookie, cookie_matches),
        kind,
        nobody: unauthorized,
        // Never used: Kirimin's paths name no account.
        missing: unauthorized,
    }
}

/// `POST /x/group/leave/{group_id}`.
pub(crate) async fn leave(
    State(shared): State<Arc<Shared>>,
    Path(group): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let call = call(&shared, &headers, EndpointKind::Leave);
    let json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.trim_start().starts_with("application/json"));
    let object = matches!(serde_json::from_slice(&body), Ok(Value::Object(_)));
    let group = GroupRef::parse(Provider::Kirimin, &group).ok();
    shared
        .serve(&DIALECT, call, move |ctx| {
            if !json {
                let msg = "UNSUPPORTED_MEDIA_TYPE";
                return ctx.invalid(envelope(StatusCode::UNSUPPORTED_MEDIA_TYPE, msg));
            }
            if !object {
                return ctx.invalid(envelope(StatusCode::UNPROCESSABLE_ENTITY, "INVALID_BODY"));
            }
            let Some(group) = group else {
                return ctx.invalid(gone());
            };
            match ctx.leave(&group, OwnerRule::Dissolve) {
                Leave::Left | Leave::LeftAsAdmin | Leave::Dissolved => {
                    envelope(StatusCode::OK, "OK")
                }
                // Not reached: owners dissolve their groups.
                Leave::OwnerRefused => envelope(StatusCode::FORBIDDEN, "FORBIDDEN"),
                Leave::NotMember => envelope(StatusCode::BAD_REQUEST, "NOT_A_MEMBER"),
                Leave::NotFound => gone(),
            }
        })
        .await
}

/// `GET /x/group/{group_id}`: the group info, with its owner.
pub(crate) async fn group_info(
    State(shared): State<Arc<Shared>>,
    Path(group): Path<String>,
    headers: HeaderMap,
) -> Response {
    let call = call(&shared, &headers, EndpointKind::GroupInfo);
    let group = GroupRef::parse(Provider::Kirimin, &group).ok();
    shared
        .serve(&DIALECT, call, move |ctx| {
            let Some(group) = group else {
                return ctx.invalid(gone());
            };
            let me = ctx.account.id.as_str();
            let owner = match ctx.view(&group) {
                View::NotFound => return gone(),
                View::Owner => me,
                View::Member | View::NotMember if me == "1" => "2",
                View::Member | View::NotMember => "1",
            };
            let data = json!({ "id": group.as_str(), "name": "Simulated group", "owner": owner });
            Reply::json(
                StatusCode::OK,
                &json!({ "ok": true, "code": 200, "msg": "OK", "data": data }),
            )
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_configured_cookie_must_be_sent() {
        assert!(cookie_matches("sid=abc", "sid=abc"));
        assert!(cookie_matches("theme=dark; sid=abc", "sid=abc"));
        assert!(!cookie_matches("sid=abcd", "sid=abc"));
        assert!(!cookie_matches("sid=abc", "sid=abc; csrf=1"));
        assert!(!cookie_matches("", "sid=abc"));
    }
}
