//! The worker pool: `bulkleave worker`.
//!
//! Built on apalis: one apalis worker per core shares the queue backend, together running
//! `worker.concurrency` jobs at once. Each job calls its account's adapter once, the retry
//! policy decides, and the job settles its delivery in Redis. Every worker process also
//! ingests the submission stream ([`ingest`]).
//!
//! On SIGTERM/SIGINT the process stops fetching, lets in-flight jobs finish for up to
//! `worker.drain_timeout`, hands every delivery it still holds back to the queue (jobs that did
//! not finish, and prefetched ones) and exits 0. A process killed outright holds nothing Redis
//! does not know about: its deliveries stay pending and are claimed by another worker when
//! their lease (`queue.lease`) runs out.
//!
//! With `ledger.enabled` (the default) every worker process also runs a ledger writer
//! ([`crate::campaign::recorder`]): final outcomes go from the outcomes stream to PostgreSQL in
//! batches, and finished campaigns publish their completion event. `bulkleave demo` runs the
//! same writer into the embedded ledger instead ([`Recording::Memory`]).
//!
//! `bulkleave worker` serves its [`probes`] (`/healthz`, `/readyz`) beside `/metrics` on its
//! metrics listener.

mod backend;
mod held;
pub mod ingest;
mod pacer;
pub mod probes;
mod process;

use std::future::Future;
use std::sync::Arc;

use apalis::prelude::*;

pub use self::held::Held;
pub use self::process::{AccountPolicy, Processor, Settled};
use tokio_util::sync::CancellationToken;

use crate::campaign::Campaigns;
use crate::campaign::recorder::{self, RecorderOptions};
use crate::config::Settings;
use crate::ledger::{Ledger, MemoryLedger};
use crate::metrics::JobMetrics;
use crate::providers::HttpClient;
use crate::providers::http::ClientOptions;
use crate::queue::Queue;

/// Errors starting or running the pool.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The queue failed.
    #[error(transparent)]
    Queue(#[from] crate::queue::Error),
    /// The HTTP client could not be built.
    #[error(transparent)]
    Http(#[from] crate::providers::http::Error),
    /// The ledger's settings are unusable.
    #[error(transparent)]
    Ledger(#[from] crate::ledger::Error),
    /// The worker runtime failed.
    #[error("worker runtime: {0}")]
    Runtime(String),
}

/// Where the pool's ledger writer records final outcomes.
#[derive(Debug, Clone)]
pub enum Recording {
    /// No writer: outcomes stay on the outcomes stream for another process's writer.
    Off,
    /// The PostgreSQL ledger (production).
    Ledger(Ledger),
    /// The embedded ledger (`bulkleave demo`).
    Memory(MemoryLedger),
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Deliveries handed back to the queue on the way out.
    pub handed_back: usize,
}

/// A consumer name unique to this process: `$HOSTNAME-<pid>-<random>`.
pub fn consumer_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".into());
    format!("{host}-{}-{:04x}", std::process::id(), fastrand::u16(..))
}

/// Runs the pool on `queue` until `shutdown` completes, then drains; with `ledger.enabled`
/// its ledger writer records outcomes on a pool of its own.
pub async fn run(
    settings: &Settings,
    queue: Queue,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Summary, Error> {
    let recording = if settings.ledger.enabled {
        Recording::Ledger(Ledger::connect_lazy(
            &settings.database,
            crate::ledger::DEFAULT_ACQUIRE_TIMEOUT,
        )?)
    } else {
        Recording::Off
    };
    run_with_metrics(settings, queue, recording, None, shutdown).await
}

/// [`run`], with the ledger writer recording outcomes as `recording` says, and
/// counting settlements and provider attempts in `metrics` (`bulkleave worker` serves them on
/// `GET /metrics`, and shares its ledger pool with the metrics).
pub async fn run_with_metrics(
    settings: &Settings,
    queue: Queue,
    recording: Recording,
    metrics: Option<JobMetrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Summary, Error> {
    let http = HttpClient::new(&ClientOptions {
        connect_timeout: settings.http.connect_timeout,
        max_body_bytes: settings.http.max_body_bytes,
    })?;
    let consumer = consumer_name();
    let held = Arc::new(Held::default());
    let mut processor = Processor::new(
        &http,
        settings,
        queue.clone(),
        consumer.clone(),
        held.clone(),
    );
    if let Some(metrics) = metrics {
        processor = processor.with_metrics(metrics);
    }
    let processor = Arc::new(processor);
    let concurrency = usize::try_from(settings.worker.concurrency)
        .unwrap_or(1)
        .max(1);
    let lanes = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, concurrency);
    tracing::info!(%consumer, concurrency, lanes, "worker starting");

    let feeder = backend::Feeder::start(queue.clone(), consumer.clone(), held, concurrency).await?;
    let stop = feeder.shared.stop.clone();
    let ingester = tokio::spawn(ingest::run(
        queue.clone(),
        consumer.clone(),
        Arc::new(ingest::account_check(settings)),
        stop.clone(),
    ));
    let stop_recorder = CancellationToken::new();
    let options = RecorderOptions {
        batch: settings.ledger.batch,
        ..RecorderOptions::default()
    };
    let (queue, name, stopped) = (queue.clone(), consumer.clone(), stop_recorder.clone());
    let recorder = match recording {
        Recording::Off => None,
        Recording::Ledger(ledger) => {
            let campaigns = Campaigns::new(ledger, queue.clone(), Arc::new(settings.clone()));
            Some(tokio::spawn(recorder::run(
                campaigns, queue, name, options, stopped,
            )))
        }
        Recording::Memory(ledger) => Some(tokio::spawn(recorder::run(
            ledger, queue, name, options, stopped,
        ))),
    };
    let backend = feeder.backend.clone();
    let monitor = Monitor::new()
        .register_n(lanes, move |lane, _restarts| {
            // The lanes share `concurrency` exactly: the first `concurrency % lanes` take one more.
            let per_lane = concurrency / lanes + usize::from(lane < concurrency % lanes);
            WorkerBuilder::new(format!("{consumer}-{lane}"))
                .backend(backend.clone())
                .data(processor.clone())
                .catch_panic()
                .concurrency(per_lane)
                .build(process::handle)
        })
        .shutdown_timeout(settings.worker.drain_timeout);
    let signal = async move {
        shutdown.await;
        tracing::info!("stopping: no new jobs; draining in-flight jobs");
        stop.cancel();
        Ok(())
    };
    let ran = monitor.run_with_signal(signal).await;
    let _ = ingester.await;
    let handed_back = feeder.stop().await?;
    if let Some(recorder) = recorder {
        // Last: it writes the outcomes of the drain too.
        stop_recorder.cancel();
        let _ = recorder.await;
    }
    tracing::info!(handed_back, "worker stopped");
    ran.map_err(|e| Error::Runtime(e.to_string()))?;
    Ok(Summary { handed_back })
}

/// Resolves on SIGTERM or SIGINT.
pub async fn termination_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
