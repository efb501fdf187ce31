//! The simulator's own endpoints, all under `/_sim` (no provider path starts with it):
//!
//! | endpoint | body | effect |
//! |---|---|---|
//! | `GET /_sim/report` | — | the [`Report`](super::Report) as JSON |
//! | `GET /_sim/arrivals/{account}` | — | the account's arrivals, in order ([`ArrivalRecord`]s) |
//! | `POST /_sim/faults` | `{"account": "name" or null, "faults": {…}}` | sets an account's faults, or the global ones (null) |
//! | `POST /_sim/force429` | `{"account": "name", "retry_after_ms": 3000, "for_ms": 10000}` | 429 with `Retry-After` to all the account's requests for `for_ms` |
//! | `POST /_sim/reset` | — | back to the configuration as started |
//!
//! Errors answer `{"error": "…"}`: 404 for an unknown account, 400 for invalid faults.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::faults::{Faults, FaultsError};
use super::report::{ArrivalRecord, Report, offset_ms};
use super::shared::Shared;

/// Why an admin request failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AdminError {
    /// No account has this name.
    #[error("no account is named {0:?}")]
    UnknownAccount(String),
    /// The faults are invalid.
    #[error("invalid faults: {0}")]
    Faults(#[from] FaultsError),
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let status = match self {
            AdminError::UnknownAccount(_) => StatusCode::NOT_FOUND,
            AdminError::Faults(_) => StatusCode::BAD_REQUEST,
        };
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}

/// The admin routes.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_sim/report", get(report))
        .route("/_sim/arrivals/{account}", get(arrivals))
        .route("/_sim/faults", post(set_faults))
        .route("/_sim/force429", post(force_429))
        .route("/_sim/reset", post(reset))
}

fn index(shared: &Shared, name: &str) -> Result<usize, AdminError> {
    shared
        .index(name)
        .ok_or_else(|| AdminError::UnknownAccount(name.to_owned()))
}

async fn report(State(shared): State<Arc<Shared>>) -> Json<Report> {
    Json(shared.report())
}

async fn arrivals(
    State(shared): State<Arc<Shared>>,
    Path(account): Path<String>,
) -> Result<Json<Vec<ArrivalRecord>>, AdminError> {
    let idx = index(&shared, &account)?;
    let records = shared
        .arrivals(idx)
        .into_iter()
        .map(|a| ArrivalRecord {
            at_ms: offset_ms(shared.origin, a.at),
            kind: a.kind,
            verdict: a.verdict,
        })
        .collect();
    Ok(Json(records))
}

/// The body of `POST /_sim/faults`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultsBody {
    /// The account, or `None` for the global faults.
    #[serde(default)]
    account: Option<String>,
    faults: Faults,
}

async fn set_faults(
    State(shared): State<Arc<Shared>>,
    Json(body): Json<FaultsBody>,
) -> Result<StatusCode, AdminError> {
    body.faults.validate()?;
    let idx = body
        .account
        .as_deref()
        .map(|name| index(&shared, name))
        .transpose()?;
    shared.set_faults(idx, body.faults);
    Ok(StatusCode::NO_CONTENT)
}

/// The body of `POST /_sim/force429`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ForceBody {
    account: String,
    retry_after_ms: u64,
    for_ms: u64,
}

async fn force_429(
    State(shared): State<Arc<Shared>>,
    Json(body): Json<ForceBody>,
) -> Result<StatusCode, AdminError> {
    let idx = index(&shared, &body.account)?;
    shared.force_429(
        idx,
        Duration::from_millis(body.retry_after_ms),
        Duration::from_millis(body.for_ms),
    );
    Ok(StatusCode::NO_CONTENT)
}

async fn reset(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.reset();
    StatusCode::NO_CONTENT
}
