//! Green API's leaveGroup: `POST /waInstance{idInstance}/leaveGroup/{apiTokenInstance}`, body
//! `{"groupId": "<jid>@g.us"}` (the path our adapter builds from a base URL pointing here).
//!
//! | situation | answer |
//! |---|---|
//! | member | 200 `{"leaveGroup":true}` |
//! | admin, or owner (an owner is an admin; nothing documents a refusal) | 200 `{"removeAdmin":true}` |
//! | already left | 200 `{"leaveGroup":false}` (undocumented; our adapter reads it per `leave_group_false`) |
//! | unknown group | 200 `{"leaveGroup":false}`: the docs give no answer, and this is the closest documented shape |
//! | body or `groupId` invalid | 400 `Validation failed` (documented) |
//! | wrong token | 401 `Unauthorized` (common errors: check apiTokenInstance) |
//! | unknown instance | 403 `Forbidden` (common errors: check idInstance) |
//! | path segment not `waInstance…` | 404 (wrong path) |
//! | over quota | 429, no `Retry-After` (documented) |
//! | server error fault | 500 |

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::exchange::{Call, Dialect, Reply};
use super::report::EndpointKind;
use super::shared::Shared;
use super::state::{Leave, OwnerRule};
use crate::job::GroupRef;
use crate::providers::Provider;

/// Green API's answers.
pub(crate) const DIALECT: Dialect = Dialect {
    provider: Provider::GreenApi,
    too_many,
    server_error,
    unauthorized,
    rate_limit_headers: false,
};

fn message(status: StatusCode, message: &str) -> Reply {
    Reply::json(status, &json!({ "message": message }))
}

fn too_many() -> Reply {
    message(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests")
}

fn server_error() -> Reply {
    message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
}

fn forbidden() -> Reply {
    message(StatusCode::FORBIDDEN, "Forbidden")
}

fn leave_group(left: bool) -> Reply {
    Reply::json(StatusCode::OK, &json!({ "leaveGroup": left }))
}

/// The `groupId` of a leaveGroup body, if it is a valid group JID.
fn group_id(body: &[u8]) -> Option<GroupRef> {
    let body: Value = serde_json::from_slice(body).ok()?;
    let id = body.get("groupId")?.as_str()?;
    GroupRef::parse(Provider::GreenApi, id).ok()
}

fn unauthorized() -> Reply {
    message(StatusCode::UNAUTHORIZED, "Unauthorized")
}

fn no_route() -> Reply {
    message(StatusCode::NOT_FOUND, "Not Found")
}

/// `POST /{waInstance…}/leaveGroup/{token}`.
pub(crate) async fn leave(
    State(shared): State<Arc<Shared>>,
    Path((instance, token)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let id = instance.strip_prefix("waInstance");
    let call = Call {
        who: id.and_then(|id| {
            shared.resolve(Provider::GreenApi, Some(id), Some(&token), |a, b| a == b)
        }),
        kind: EndpointKind::Leave,
        nobody: if id.is_some() { forbidden } else { no_route },
        missing: forbidden,
    };
    let group = group_id(&body);
    shared
        .serve(&DIALECT, call, move |ctx| {
            let Some(group) = group else {
                return ctx.invalid(message(
                    StatusCode::BAD_REQUEST,
                    "Validation failed. Details: 'groupId' must be a group chat id ending in @g.us",
                ));
            };
            match ctx.leave(&group, OwnerRule::LeaveAsAdmin) {
                Leave::Left => leave_group(true),
                Leave::LeftAsAdmin | Leave::Dissolved => {
                    Reply::json(StatusCode::OK, &json!({ "removeAdmin": true }))
                }
                Leave::NotMember | Leave::NotFound | Leave::OwnerRefused => leave_group(false),
            }
        })
        .await
}
