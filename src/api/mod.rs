//! The HTTP API (`bulkleave api`): submit jobs, inspect and requeue dead letters, watch and
//! resume accounts through the Redis queue the workers share; create, feed, steer and report
//! on campaigns through the ledger in PostgreSQL ([`crate::campaign::Campaigns`]).
//!
//! - [`app`] builds the whole [`Router`] from an [`AppState`]; tests drive it with
//!   `tower::ServiceExt::oneshot`, [`serve`] runs it on a bound listener until shutdown.
//! - One file per resource: [`health`] (`/healthz`, `/readyz`, and `/metrics` unless
//!   `metrics.enabled = false`), [`jobs`] (`/v1/jobs`),
//!   [`dead_letters`] (`/v1/dead-letters`), [`accounts`] (`/v1/accounts`), [`campaigns`]
//!   (`/v1/campaigns`: list, status, items, pause/resume/cancel/close), [`uploads`] (creating
//!   campaigns and adding items from JSON, CSV or NDJSON), [`reports`]
//!   (`/v1/campaigns/{id}/report`), [`audit`] (`/v1/audit`), and the OpenAPI document
//!   ([`openapi`], `/openapi.json`) generated from the handlers themselves.
//! - [`auth`]: bearer tokens from `[api.tokens.NAME]`, for everything but the probes and the
//!   document and `/metrics`; NAME is the actor of the audit trail. [`error`]: every error is an RFC 9457
//!   problem with a stable `code`.
//! - Limits: JSON bodies up to `api.max_body_bytes`, CSV and NDJSON uploads (streamed, never
//!   buffered) up to `api.max_upload_bytes` (413 beyond either), each request bounded by
//!   `api.request_timeout` (503 `timeout` beyond; an upload must arrive within it). Each
//!   request runs in a span (method, path, caller, request id; never the `Authorization`
//!   header).

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod campaigns;
pub mod dead_letters;
pub mod error;
pub mod health;
pub mod jobs;
pub mod openapi;
pub mod reports;
pub mod uploads;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;

pub use self::auth::Caller;
pub use self::error::{ApiError, Problem};
use crate::campaign::Campaigns;
use crate::config::Settings;
use crate::ledger::Ledger;
use crate::metrics::{Fleet, FleetOptions, Metrics};
use crate::queue::{self, Queue};

/// How long a request waits for a PostgreSQL connection before its query fails.
const DB_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// The request-id header, set when the client sent none and echoed in the answer.
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Errors starting the API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The queue's Redis could not be reached.
    #[error("cannot reach the queue: {0}")]
    Queue(#[from] queue::Error),
    /// The Redis connection of the readiness probe could not be opened.
    #[error("cannot reach redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// The database URL is not usable.
    #[error("database: {0}")]
    Database(#[from] crate::ledger::Error),
    /// The server failed.
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
}

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    settings: Arc<Settings>,
    queue: Queue,
    /// The campaign operations, on the ledger (PostgreSQL, connected on first use, so the API
    /// starts while it is down) and the queue.
    campaigns: Campaigns,
    /// A connection of its own for the readiness probe, so a probe never waits behind jobs.
    redis_probe: ConnectionManager,
    tokens: Arc<auth::Tokens>,
    /// The fleet gauges served on `GET /metrics`.
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("queue", &self.queue)
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Connects to the queue (Redis must answer) and prepares the database pool (it connects
    /// on first use).
    pub async fn connect(settings: Arc<Settings>) -> Result<Self, Error> {
        let queue = Queue::connect(&settings.redis, settings.queue.clone()).await?;
        let ledger = Ledger::connect_lazy(&settings.database, DB_ACQUIRE_TIMEOUT)?;
        let client = redis::Client::open(settings.redis.url.expose().as_str())?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(health::READY_TIMEOUT))
            .set_response_timeout(Some(health::READY_TIMEOUT))
            .set_number_of_retries(1);
        let redis_probe = ConnectionManager::new_with_config(client, config).await?;
        let tokens = Arc::new(auth::Tokens::from_settings(&settings.api));
        let fleet = Fleet::new(
            settings.clone(),
            queue.clone(),
            Some(ledger.clone()),
            FleetOptions::default(),
        );
        let metrics = Arc::new(Metrics::new(fleet));
        let campaigns = Campaigns::new(ledger, queue.clone(), settings.clone());
        Ok(AppState {
            settings,
            queue,
            campaigns,
            redis_probe,
            tokens,
            metrics,
        })
    }

    /// The configuration.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The job queue.
    pub fn queue(&self) -> &Queue {
        &self.queue
    }

    /// The campaign operations.
    pub fn campaigns(&self) -> &Campaigns {
        &self.campaigns
    }

    /// Appends an operator action that is already done to the audit trail; a ledger that
    /// cannot be written is logged, not answered (the action happened).
    pub async fn audit(&self, actor: &str, action: &str, target: &str, detail: serde_json::Value) {
        if let Err(e) = self
            .campaigns
            .ledger()
            .audit(actor, action, target, detail)
            .await
        {
            tracing::error!(error = %e, action, target, "audit trail not written");
        }
    }

    fn redis_probe(&self) -> &ConnectionManager {
        &self.redis_probe
    }

    fn tokens(&self) -> &auth::Tokens {
        &self.tokens
    }

    fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}

/// Every route with its OpenAPI description: the public ones, then the authenticated ones,
/// one router per resource. Routes are only ever added here through `utoipa_axum::routes!`,
/// so the router and the document cannot differ. Bodies are bounded by `api.max_body_bytes`,
/// but for the [`uploads`] routes: `api.max_upload_bytes` (they read JSON bodies with the
/// smaller limit themselves).
pub fn routes(state: &AppState) -> OpenApiRouter<AppState> {
    let api = &state.settings.api;
    let mut public = OpenApiRouter::new()
        .merge(health::routes())
        .merge(openapi::routes());
    if state.settings.metrics.enabled {
        public = public.merge(health::metrics_routes());
    }
    let public = public.layer(RequestBodyLimitLayer::new(api.max_body_bytes));
    let uploads =
        uploads::routes()
            .layer(DefaultBodyLimit::disable())
            .layer(RequestBodyLimitLayer::new(
                usize::try_from(api.max_upload_bytes).unwrap_or(usize::MAX),
            ));
    let authenticated = OpenApiRouter::new()
        .merge(jobs::routes())
        .merge(dead_letters::routes())
        .merge(accounts::routes())
        .merge(campaigns::routes())
        .merge(reports::routes())
        .merge(audit::routes())
        .layer(RequestBodyLimitLayer::new(api.max_body_bytes))
        .merge(uploads)
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));
    OpenApiRouter::with_openapi(openapi::base())
        .merge(public)
        .merge(authenticated)
}

/// The application: [`routes`] with the OpenAPI document, the fallback, limits, problem
/// rewriting, request ids and tracing.
pub fn app(state: AppState) -> Router {
    let (router, document) = routes(&state).split_for_parts();
    let limit = state.settings.api.max_body_bytes;
    router
        .fallback(|| async { ApiError::RouteNotFound })
        .layer(axum::Extension(Arc::new(document)))
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            error::problem_layer,
        ))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

/// The span of one request (an OpenTelemetry server span): method, path and request id; the
/// caller once authenticated. Headers are not recorded (the `Authorization` header holds the
/// token), but a W3C `traceparent` header makes the span continue the client's trace.
fn request_span<B>(request: &Request<B>) -> tracing::Span {
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
    let request_id = header(REQUEST_ID.as_str()).unwrap_or("");
    let span = tracing::info_span!(
        "request",
        otel.name = %request.method(),
        otel.kind = "server",
        http.request.method = %request.method(),
        url.path = %request.uri().path(),
        request.id = %request_id,
        caller = tracing::field::Empty,
    );
    if crate::telemetry::traces_on()
        && let Some(traceparent) = header("traceparent")
        && let Ok(parent) = crate::job::TraceContext::new(traceparent, header("tracestate"))
    {
        crate::telemetry::propagation::continue_from(&span, &parent);
    }
    span
}

/// Serves the API on `listener` until `shutdown` completes, then finishes the requests in
/// flight. Logs the address actually bound (port 0 picks a free one).
pub async fn serve(
    settings: Arc<Settings>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let addr: SocketAddr = listener.local_addr()?;
    if settings.api.tokens.is_empty() {
        tracing::warn!("no [api.tokens] configured: every authenticated endpoint answers 401");
    }
    let state = AppState::connect(settings).await?;
    tracing::info!(%addr, "API listening");
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await?;
    tracing::info!("API stopped");
    Ok(())
}
