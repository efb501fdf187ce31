//! A worker's probes for orchestrators, served beside `GET /metrics` on its metrics listener
//! (`metrics.listen`), public like the API's:
//!
//! - `GET /healthz` (liveness) answers 200 `{"status":"ok"}` whenever the process's runtime
//!   serves a request: a wedged runtime cannot answer, and a restart is its cure. It never
//!   looks at Redis or PostgreSQL, since restarting a worker brings neither back.
//! - `GET /readyz` (readiness) answers 200 `{"status":"ready"}` while Redis has answered a
//!   `PING` within the last [`DEFAULT_READY_GRACE`]; every probe pings, on a connection of its
//!   own (so it never waits behind jobs) within [`PING_TIMEOUT`]. A Redis blip shorter than
//!   the grace keeps every worker ready: one hiccup does not take the whole fleet out at once
//!   (which would also make a PodDisruptionBudget refuse every eviction). Past the grace it
//!   answers 503 `unavailable` naming redis, like the API's `/readyz`. PostgreSQL is not
//!   probed: workers go on running jobs while it is down, their outcomes wait on the outcomes
//!   stream for the ledger writer.
//!
//! With `metrics.enabled = false` a worker opens no listener, so it serves no probes either.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::api::error::{ApiError, Json};
use crate::api::health::Health;
use crate::config::RedisSettings;

/// How long Redis has to answer one readiness `PING`.
pub const PING_TIMEOUT: Duration = Duration::from_secs(2);
/// Default time a worker stays ready after Redis last answered: one queue lease
/// ([`crate::queue::DEFAULT_LEASE`]), the time a dead worker's jobs wait anyway.
pub const DEFAULT_READY_GRACE: Duration = crate::queue::DEFAULT_LEASE;

/// The readiness state of one worker process: its probe connection and when Redis last
/// answered.
#[derive(Clone)]
pub struct Probes {
    redis: ConnectionManager,
    grace: Duration,
    last_ok: Arc<Mutex<Instant>>,
}

impl std::fmt::Debug for Probes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probes")
            .field("grace", &self.grace)
            .finish_non_exhaustive()
    }
}

impl Probes {
    /// Opens the probe's own connection to `settings.url` (Redis must answer now, as it must
    /// for the worker to start) with the grace [`DEFAULT_READY_GRACE`].
    pub async fn connect(settings: &RedisSettings) -> crate::queue::Result<Self> {
        let client = redis::Client::open(settings.url.expose().as_str())?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(PING_TIMEOUT))
            .set_response_timeout(Some(PING_TIMEOUT))
            .set_number_of_retries(1);
        let redis = ConnectionManager::new_with_config(client, config).await?;
        Ok(Probes {
            redis,
            grace: DEFAULT_READY_GRACE,
            last_ok: Arc::new(Mutex::new(Instant::now())),
        })
    }

    /// The same probes with another grace (tests use a short one).
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Pings Redis; ready when it answers, or when it last answered less than the grace ago.
    pub async fn is_ready(&self) -> bool {
        let mut conn = self.redis.clone();
        let ping = redis::cmd("PING");
        let answered =
            tokio::time::timeout(PING_TIMEOUT, ping.query_async::<String>(&mut conn)).await;
        let mut last_ok = self.last_ok.lock().unwrap_or_else(PoisonError::into_inner);
        let why = match answered {
            Ok(Ok(_)) => {
                *last_ok = Instant::now();
                return true;
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("no answer within {PING_TIMEOUT:?}"),
        };
        let silent = last_ok.elapsed();
        let ready = silent < self.grace;
        tracing::warn!(
            dependency = "redis",
            error = %why,
            silent_for = ?silent,
            ready,
            "readiness probe failed"
        );
        ready
    }
}

/// `GET /healthz` and `GET /readyz` for `probes`.
pub fn router(probes: Probes) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(probes)
}

async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

async fn readyz(State(probes): State<Probes>) -> Result<Json<Health>, ApiError> {
    if probes.is_ready().await {
        Ok(Json(Health {
            status: "ready".into(),
        }))
    } else {
        Err(ApiError::Unavailable("redis".into()))
    }
}
