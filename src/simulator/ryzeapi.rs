//! RyzeAPI: `DELETE /api/group/leave/{instance}?identifier=<JID | invite code>`, header
//! `token: <token>` (or `Authorization: Bearer <token>`).
//!
//! Errors use `{"success": false, "error": {"message": "<message>"}}`, and every answer carries
//! `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (Unix seconds at which
//! the oldest admitted request leaves the window, rounded up).
//!
//! | situation | answer |
//! |---|---|
//! | member or admin | 200 `{"success":true,"message":"Successfully left the group","groupJid":…}` |
//! | owner | 403 `Not allowed to leave this group` |
//! | already left, unknown or malformed group | 404 `Group not found or you are not a member of this group` (documented idempotent) |
//! | no `identifier` | 400 `Identifier is required` |
//! | unknown instance (the token is another instance's) | 404 `Instance not found` |
//! | wrong or missing token | 401 `Invalid token` |
//! | over quota | 429 `Rate limit exceeded, try again later` |
//! | server error fault | 500 `Internal server error` |

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::exchange::{Call, Dialect, Reply, bearer};
use super::report::EndpointKind;
use super::shared::Shared;
use super::state::{Leave, OwnerRule};
use crate::job::GroupRef;
use crate::providers::Provider;

/// RyzeAPI's answers.
pub(crate) const DIALECT: Dialect = Dialect {
    provider: Provider::RyzeApi,
    too_many,
    server_error,
    unauthorized,
    rate_limit_headers: true,
};

/// The documented "already left" answer (also for groups that do not exist).
const NOT_A_MEMBER: &str = "Group not found or you are not a member of this group";

fn error(status: StatusCode, message: &str) -> Reply {
    Reply::json(
        status,
        &json!({ "success": false, "error": { "message": message } }),
    )
}

fn too_many() -> Reply {
    error(
        StatusCode::TOO_MANY_REQUESTS,
        "Rate limit exceeded, try again later",
    )
}

fn server_error() -> Reply {
    error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
}

fn unauthorized() -> Reply {
    error(StatusCode::UNAUTHORIZED, "Invalid token")
}

/// The query of the leave request.
#[derive(Debug, Deserialize)]
pub(crate) struct LeaveQuery {
    identifier: Option<String>,
}

fn instance_not_found() -> Reply {
    error(StatusCode::NOT_FOUND, "Instance not found")
}

/// `DELETE /api/group/leave/{instance}?identifier=…`.
pub(crate) async fn leave(
    State(shared): State<Arc<Shared>>,
    Path(instance): Path<String>,
    Query(query): Query<LeaveQuery>,
    headers: HeaderMap,
) -> Response {
    let token = headers
        .get("token")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .or_else(|| bearer(&headers));
    let call = Call {
        who: shared.resolve(Provider::RyzeApi, Some(&instance), token, |a, b| a == b),
        kind: EndpointKind::Leave,
        nobody: unauthorized,
        missing: instance_not_found,
    };
    let identifier = query.identifier.filter(|i| !i.trim().is_empty());
    shared
        .serve(&DIALECT, call, move |ctx| {
            let Some(identifier) = identifier else {
                return ctx.invalid(error(StatusCode::BAD_REQUEST, "Identifier is required"));
            };
            let Ok(group) = GroupRef::parse(Provider::RyzeApi, &identifier) else {
                return ctx.invalid(error(StatusCode::NOT_FOUND, NOT_A_MEMBER));
            };
            match ctx.leave(&group, OwnerRule::Refuse) {
                Leave::Left | Leave::LeftAsAdmin | Leave::Dissolved => Reply::json(
                    StatusCode::OK,
                    &json!({
                        "success": true,
                        "message": "Successfully left the group",
                        "groupJid": group.as_str(),
                    }),
                ),
                Leave::OwnerRefused => {
                    error(StatusCode::FORBIDDEN, "Not allowed to leave this group")
                }
                Leave::NotMember | Leave::NotFound => error(StatusCode::NOT_FOUND, NOT_A_MEMBER),
            }
        })
        .await
}
