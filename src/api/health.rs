//! Probes for orchestrators, public (no token): `GET /healthz` answers 200 while the process
//! serves; `GET /readyz` answers 200 when Redis answers `PING` and PostgreSQL `SELECT 1`
//! within [`READY_TIMEOUT`], else 503 naming the dependencies that are down (never their URLs).
//! `GET /metrics` serves the fleet gauges of [`crate::metrics`] (Prometheus); it is public too:
//! its labels are configuration names and fixed words, never credentials.

use std::time::Duration;

use axum::extract::State;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiError, Json};

/// How long each dependency has to answer a readiness probe.
pub const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// The answer of a probe that passed.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` (liveness) or `ready` (readiness).
    pub status: String,
}

/// `GET /healthz`, `GET /readyz`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

/// `GET /metrics`, unless `metrics.enabled = false`.
pub fn metrics_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(metrics))
}

/// Prometheus metrics (OpenMetrics text): queue depth (runnable, in flight, waiting by
/// reason), accounts, dead letters, campaigns under way.
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, description = "The metrics, OpenMetrics text", body = String,
        content_type = "application/openmetrics-text")))]
pub async fn metrics(State(state): State<AppState>) -> impl axum::response::IntoResponse {
    crate::metrics::scrape(state.metrics()).await
}

/// Liveness: the process serves requests.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "The process is alive", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// Readiness: Redis and PostgreSQL both answer.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "Redis and PostgreSQL answer", body = Health),
        (status = 503, description = "A dependency is down; `detail` names it",
            body = super::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    let mut conn = state.redis_probe().clone();
    let ping = redis::cmd("PING");
    let (redis, postgres) = tokio::join!(
        probe("redis", ping.query_async::<String>(&mut conn)),
        probe("postgres", state.campaigns().ledger().ping()),
    );
    let down: Vec<&str> = [("redis", redis), ("postgres", postgres)]
        .into_iter()
        .filter(|(_, up)| !up)
        .map(|(name, _)| name)
        .collect();
    if down.is_empty() {
        Ok(Json(Health {
            status: "ready".into(),
        }))
    } else {
        Err(ApiError::Unavailable(down.join(", ")))
    }
}

/// Whether `check` succeeds within [`READY_TIMEOUT`]; a failure is logged under `name`.
async fn probe<T, E: std::fmt::Display>(
    name: &'static str,
    check: impl Future<Output = Result<T, E>>,
) -> bool {
    match tokio::time::timeout(READY_TIMEOUT, check).await {
        Ok(Ok(_)) => true,
        Ok(Err(e)) => {
            tracing::warn!(dependency = name, error = %e, "readiness probe failed");
            false
        }
        Err(_) => {
            tracing::warn!(dependency = name, "readiness probe timed out");
            false
        }
    }
}
