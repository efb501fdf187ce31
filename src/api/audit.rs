//! `GET /v1/audit?target=&limit=`: the audit trail of operator actions, newest first
//! (campaign changes and uploads through the API are recorded with the caller's token name
//! as the actor).

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::campaigns::page_limit;
use super::error::{ApiError, Json, Problem, Query};
use crate::ledger::AuditEntry;

/// Entries listed when `limit` is not given.
pub const DEFAULT_LIMIT: i64 = 100;
/// The most entries one answer may hold.
pub const MAX_LIMIT: i64 = 1000;

/// Which entries.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only actions on this target (`campaign:ID`, `account:NAME`, `job:ID`).
    pub target: Option<String>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<i64>,
}

/// Audit entries.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditTrail {
    /// The entries, newest first.
    pub entries: Vec<AuditEntry>,
}

/// `GET /v1/audit`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(trail))
}

/// The audit trail, newest first, optionally for one target.
#[utoipa::path(get, path = "/v1/audit", tag = "audit",
    security(("bearer" = [])),
    params(AuditQuery),
    responses(
        (status = 200, description = "The entries", body = AuditTrail),
        (status = 400, description = "`limit` out of range", body = Problem,
            content_type = "application/problem+json"),
    ))]
pub async fn trail(
    State(state): State<AppState>,
    Query(query): Query<AuditQuery>,
) -> Result<Json<AuditTrail>, ApiError> {
    let limit = page_limit(query.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    let entries = state
        .campaigns()
        .ledger()
        .audit_trail(query.target.as_deref(), limit)
        .await?;
    Ok(Json(AuditTrail { entries }))
}
