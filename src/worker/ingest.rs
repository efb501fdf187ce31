//! The ingester: every worker process also reads the submission stream, so submissions are
//! validated and enqueued (or answered) as long as any worker runs.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::job::{JobError, LeaveJob};
use crate::queue::Queue;
use crate::queue::submit::Acceptance;
use crate::retry::Backoff;

/// How long one read of the submission stream waits.
const INGEST_BLOCK: Duration = Duration::from_millis(500);
/// Most submissions handled per read.
const INGEST_MAX: usize = 500;

/// The deployment's own check of a valid submission: its account must be configured, for the
/// provider the submission names.
pub fn account_check(
    settings: &Settings,
) -> impl Fn(&LeaveJob) -> Result<(), JobError> + Send + Sync + 'static {
    let settings = settings.clone();
    move |job: &LeaveJob| settings.check_request(&job.request)
}

/// Runs until `stop`: reads submissions, and now and then claims ones a dead ingester left.
pub async fn run(queue: Queue, consumer: String, accept: Arc<Acceptance>, stop: CancellationToken) {
    let mut conn = match queue.blocking_connection(INGEST_BLOCK).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "ingester cannot connect; submissions wait for another worker");
            return;
        }
    };
    let reclaim_every = (queue.options().lease / 2).max(Duration::from_secs(1));
    let mut next_reclaim = tokio::time::Instant::now();
    let mut backoff = Backoff::default();
    while !stop.is_cancelled() {
        if tokio::time::Instant::now() >= next_reclaim {
            next_reclaim = tokio::time::Instant::now() + reclaim_every;
            if let Err(e) = queue.reclaim_submissions(&consumer, accept.as_ref()).await {
                tracing::warn!(error = %e, "claiming abandoned submissions failed");
            }
        }
        let read = tokio::select! {
            () = stop.cancelled() => return,
            read = queue.ingest(&mut conn, &consumer, INGEST_MAX, INGEST_BLOCK, accept.as_ref()) => read,
        };
        match read {
            Ok(report) => {
                backoff.reset();
                if report.total() > 0 {
                    tracing::info!(
                        accepted = report.accepted,
                        duplicates = report.duplicates,
                        rejected = report.rejected,
                        "submissions handled"
                    );
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading submissions failed; retrying");
                if !backoff.wait(&stop).await {
                    return;
                }
            }
        }
    }
}
