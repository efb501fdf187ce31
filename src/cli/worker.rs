//! `bulkleave worker`: run the worker pool until SIGTERM/SIGINT, then drain and exit 0. With
//! `metrics.enabled` (the default) it also serves `GET /metrics` and its probes (`/healthz`,
//! `/readyz`, [`crate::worker::probes`]) on `metrics.listen`.

use std::sync::Arc;

use crate::config::Settings;
use crate::ledger::Ledger;
use crate::metrics::{Fleet, FleetOptions, Metrics};
use crate::queue::Queue;
use crate::worker;
use crate::worker::probes::Probes;

/// Runs the pool; 0 after a clean drain, 1 if the queue is unreachable, the metrics address
/// cannot be bound or the runtime fails.
pub(super) async fn run(settings: &Settings) -> u8 {
    if settings.ledger.enabled
        && let Err(code) = super::migrate::on_start(settings).await
    {
        return code;
    }
    let queue = match super::queue::connect(settings).await {
        Ok(q) => q,
        Err(code) => return code,
    };
    // One pool for the process: the ledger writer and the metrics' campaign gauges share it.
    let ledger = if settings.ledger.enabled {
        match Ledger::connect_lazy(&settings.database, crate::ledger::DEFAULT_ACQUIRE_TIMEOUT) {
            Ok(ledger) => Some(ledger),
            Err(e) => {
                eprintln!("bulkleave: ledger at {}: {e}", settings.database.url);
                return 1;
            }
        }
    } else {
        None
    };
    let jobs = if settings.metrics.enabled {
        match serve_metrics(settings, &queue, ledger.clone()).await {
            Ok(jobs) => Some(jobs),
            Err(code) => return code,
        }
    } else {
        None
    };
    let stop = worker::termination_signal();
    let recording = ledger.map_or(worker::Recording::Off, worker::Recording::Ledger);
    match worker::run_with_metrics(settings, queue, recording, jobs, stop).await {
        Ok(_) => 0,
        Err(e) => {
            eprintln!("bulkleave: {e}");
            1
        }
    }
}

/// Binds `metrics.listen` and serves the worker's metrics and probes there for the life of the
/// process (through the drain too); returns the job metrics for the pool to record in.
async fn serve_metrics(
    settings: &Settings,
    queue: &Queue,
    ledger: Option<Ledger>,
) -> Result<crate::metrics::JobMetrics, u8> {
    let addr = settings.metrics.listen;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        eprintln!("bulkleave: cannot listen for metrics on {addr}: {e}");
        1
    })?;
    let fleet = Fleet::new(
        Arc::new(settings.clone()),
        queue.clone(),
        ledger,
        FleetOptions::default(),
    );
    let jobs = crate::metrics::JobMetrics::new(settings);
    let metrics = Arc::new(Metrics::new(fleet).with_jobs(&jobs));
    let probes = Probes::connect(&settings.redis)
        .await
        .map_err(|e| {
            eprintln!("bulkleave: readiness probe at {}: {e}", settings.redis.url);
            1
        })?
        .with_grace(settings.queue.lease);
    let app = crate::metrics::router(metrics).merge(worker::probes::router(probes));
    if let Ok(bound) = listener.local_addr() {
        tracing::info!(addr = %bound, "metrics on http://{bound}/metrics, probes on /healthz and /readyz");
    }
    tokio::spawn(async move {
        if let Err(e) = crate::metrics::serve(app, listener, std::future::pending()).await {
            tracing::error!(error = %e, "metrics listener stopped");
        }
    });
    Ok(jobs)
}
