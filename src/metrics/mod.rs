//! Prometheus metrics on `GET /metrics` (OpenMetrics text, `prometheus-client`), served by
//! every worker on its own listener (`metrics.listen`, beside its
//! [probes](crate::worker::probes)) and by the API on its listener.
//!
//! - [`jobs`]: what this worker process did (counters and a latency histogram recorded as
//!   jobs settle). Only workers have them.
//! - [`fleet`]: the shared queue's state, read from Redis at scrape time (briefly cached):
//!   queue depth split into *runnable* (scale workers on this) and *waiting* (for quota,
//!   retries, paused accounts or campaigns), per-account quota and state, dead letters,
//!   campaign progress from the ledger. Workers and the API both serve them; aggregate with
//!   `max`.
//!
//! `/metrics` needs no token, like `/healthz`: label values are configuration names (provider,
//! account, campaign ids) and fixed words, never credentials, URLs or answer bodies. Turn it
//! off with `metrics.enabled = false`, or keep the port off the public network.

pub mod fleet;
pub mod jobs;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::registry::Registry;

pub use self::fleet::{Fleet, FleetOptions};
pub use self::jobs::{JobMetrics, Settlement};

/// The `Content-Type` of a scrape.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Errors serving metrics.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The listener failed.
    #[error("metrics listener: {0}")]
    Io(#[from] std::io::Error),
}

/// The metrics of one process: a registry with the fleet gauges and, in a worker, the job
/// metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    fleet: Arc<Fleet>,
}

impl Metrics {
    /// Metrics with the fleet gauges only (the API).
    pub fn new(fleet: Fleet) -> Self {
        let fleet = Arc::new(fleet);
        let mut registry = Registry::default();
        registry.register_collector(Box::new(fleet.clone()));
        Metrics { registry, fleet }
    }

    /// Also serves a worker's job metrics (`jobs` records them; its clones share the series).
    pub fn with_jobs(mut self, jobs: &JobMetrics) -> Self {
        jobs.register(&mut self.registry);
        self
    }

    /// The scrape: reads the fleet's state (or reuses a recent read), then encodes everything.
    pub async fn render(&self) -> String {
        self.fleet.refresh().await;
        let mut text = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            // Writing to a String cannot fail; a label that cannot be encoded would.
            tracing::error!(error = %e, "metrics: encoding failed");
        }
        text
    }
}

/// The scrape as an HTTP answer.
pub async fn scrape(metrics: &Metrics) -> impl IntoResponse + use<> {
    (
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        metrics.render().await,
    )
}

/// A router serving `GET /metrics` (the worker's listener).
pub fn router(metrics: Arc<Metrics>) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let metrics = metrics.clone();
            async move { scrape(&metrics).await }
        }),
    )
}

/// Serves `app` (a [`router`], with whatever else shares the listener: a worker's probes) on
/// `listener` until `shutdown` completes.
pub async fn serve(
    app: Router,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}
