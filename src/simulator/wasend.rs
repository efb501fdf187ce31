//! Wasend: `POST /{sessionId}/groups/{groupId}/leave` with `Authorization: Bearer <key>`, and
//! the two pages our adapter reads when a leave answer is ambiguous:
//! `GET /{sessionId}/groups/{groupId}` and `GET /sessions/{sessionId}`.
//!
//! Errors use `{"success": false, "error": "<message>"}`.
//!
//! | situation | leave | group page | session page |
//! |---|---|---|---|
//! | member or admin | 200 `{"success":true,…}` | 200 group info | 200 `status: WORKING` |
//! | owner | 403 `Not a member of the group or group owner` | 200 group info | 200 |
//! | already left | 403 (same text) | 403 `Not a member of this group` | 200 |
//! | unknown group | 404 `Session or group not found` | 404 `Group not found` | 200 |
//! | malformed group id | 400 `Bad Request - Invalid groupId` | 400 | — |
//! | unknown session (the key is another session's) | 404 `Session or group not found` | 404 `Session not found` | 404 `Session not found` |
//! | wrong or missing key | 401 `Unauthorized - Invalid API key` | 401 | 401 |
//! | over quota | 429, no `Retry-After` | 429 | 429 |

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::exchange::{Call, Ctx, Dialect, Reply, bearer};
use super::report::EndpointKind;
use super::shared::Shared;
use super::state::{Leave, OwnerRule, View};
use crate::job::GroupRef;
use crate::providers::Provider;

/// Wasend's answers.
pub(crate) const DIALECT: Dialect = Dialect {
    provider: Provider::Wasend,
    too_many,
    server_error,
    unauthorized,
    rate_limit_headers: false,
};

/// The documented 403 text: ambiguous between "not a member" and "the owner".
const FORBIDDEN: &str = "Forbidden - Not a member of the group or group owner";
/// The documented 404 text: ambiguous between the session and the group.
const NOT_FOUND: &str = "Session or group not found";

fn error(status: StatusCode, message: &str) -> Reply {
    Reply::json(status, &json!({ "success": false, "error": message }))
}

fn too_many() -> Reply {
    error(
        StatusCode::TOO_MANY_REQUESTS,
        "Too Many Requests - Rate limit exceeded",
    )
}

fn server_error() -> Reply {
    error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
}

fn unauthorized() -> Reply {
    error(StatusCode::UNAUTHORIZED, "Unauthorized - Invalid API key")
}

fn invalid_group(ctx: &mut Ctx<'_>) -> Reply {
    ctx.invalid(error(
        StatusCode::BAD_REQUEST,
        "Bad Request - Invalid groupId",
    ))
}

fn session_not_found() -> Reply {
    error(StatusCode::NOT_FOUND, "Session not found")
}

fn session_or_group_not_found() -> Reply {
    error(StatusCode::NOT_FOUND, NOT_FOUND)
}

/// The call for `session` by the bearer of `headers`; `missing` answers an unknown session.
fn call(
    shared: &Shared,
    session: &str,
    headers: &HeaderMap,
    kind: EndpointKind,
    missing: fn() -> Reply,
) -> Call {
    Call {
        who: shared.resolve(Provider::Wasend, Some(session), bearer(headers), |a, b| {
            a == b
        }),
        kind,
        nobody: unauthorized,
        missing,
    }
}

/// `POST /{sessionId}/groups/{groupId}/leave`.
pub(crate) async fn leave(
    State(shared): State<Arc<Shared>>,
    Path((session, group)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let call = call(
        &shared,
        &session,
        &headers,
        EndpointKind::Leave,
        session_or_group_not_found,
    );
    let group = GroupRef::parse(Provider::Wasend, &group).ok();
    shared
        .serve(&DIALECT, call, move |ctx| {
            let Some(group) = group else {
                return invalid_group(ctx);
            };
            match ctx.leave(&group, OwnerRule::Refuse) {
                Leave::Left | Leave::LeftAsAdmin | Leave::Dissolved => Reply::json(
                    StatusCode::OK,
                    &json!({ "success": true, "message": "Successfully left the group." }),
                ),
                Leave::OwnerRefused | Leave::NotMember => error(StatusCode::FORBIDDEN, FORBIDDEN),
                Leave::NotFound => session_or_group_not_found(),
            }
        })
        .await
}

/// `GET /{sessionId}/groups/{groupId}`: the group as the session sees it.
pub(crate) async fn group_page(
    State(shared): State<Arc<Shared>>,
    Path((session, group)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let call = call(
        &shared,
        &session,
        &headers,
        EndpointKind::GroupInfo,
        session_not_found,
    );
    let group = GroupRef::parse(Provider::Wasend, &group).ok();
    shared
        .serve(&DIALECT, call, move |ctx| {
            let Some(group) = group else {
                return invalid_group(ctx);
            };
            match ctx.view(&group) {
                View::Member | View::Owner => Reply::json(
                    StatusCode::OK,
                    &json!({ "id": group.as_str(), "subject": "Simulated group" }),
                ),
                View::NotMember => error(StatusCode::FORBIDDEN, "Not a member of this group"),
                View::NotFound => error(StatusCode::NOT_FOUND, "Group not found"),
            }
        })
        .await
}

/// `GET /sessions/{sessionId}`: the session's state.
pub(crate) async fn session_page(
    State(shared): State<Arc<Shared>>,
    Path(session): Path<String>,
    headers: HeaderMap,
) -> Response {
    let call = call(
        &shared,
        &session,
        &headers,
        EndpointKind::SessionInfo,
        session_not_found,
    );
    shared
        .serve(&DIALECT, call, |ctx| {
            Reply::json(
                StatusCode::OK,
                &json!({ "name": ctx.account.id, "status": "WORKING" }),
            )
        })
        .await
}
