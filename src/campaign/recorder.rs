//! The ledger writer: every worker process runs one. It reads the outcomes stream through the
//! `ledger` consumer group in batches, writes each batch with one statement, acknowledges it
//! only once it is in PostgreSQL, and ends the campaigns the batch completed.
//!
//! PostgreSQL being slow or down never slows the workers: outcomes wait on the stream (pending
//! in the group) and are written when it is back; a writer that dies leaves its batch pending
//! for another to claim. Between batches it also does the housekeeping that needs both stores:
//! account state copied to the ledger, campaigns done but not ended (their writer stopped
//! between the two), completion events left in the outbox, uploads cut off half-way.
//!
//! Each batch is written in a `ledger write` span (`db.system.name` = `postgresql`, or
//! `memory` for the demo's ledger; `db.operation.batch.size`) linked to the spans of the
//! attempts whose outcomes it writes.
//!
//! Where a batch goes is a [`Store`]: the PostgreSQL ledger ([`Campaigns`]) in production, the
//! in-memory one ([`MemoryLedger`]) in `bulkleave demo`. The reading, acknowledging and retrying
//! above are the same for both.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::Campaigns;
use crate::ledger::{AccountState, MemoryLedger};
use crate::queue::{FeedEntry, OutcomeRecord, Queue};
use crate::retry::Backoff;

/// How the writer paces itself, with documented defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecorderOptions {
    /// Outcomes per statement. Default [`crate::config::DEFAULT_LEDGER_BATCH`].
    pub batch: usize,
    /// How long a read waits for outcomes. Default 200 ms.
    pub block: Duration,
    /// When a read brings less than a batch, how long the writer waits before it takes what
    /// arrived meanwhile and writes: fewer, fuller statements and commits under load.
    /// Default 100 ms.
    pub linger: Duration,
    /// Outcomes another writer took this long ago without acknowledging are claimed.
    /// Default 60 s.
    pub claim_idle: Duration,
    /// How often the housekeeping runs. Default 5 s.
    pub housekeeping: Duration,
    /// Uploads being received that have not moved (no batch staged) for this long are
    /// discarded: their sender is gone. Default 1 h.
    pub stale_upload: Duration,
    /// Uploads being released that have not moved (no batch released) for this long are
    /// released by this writer: their process stopped. Default 1 min.
    pub stalled_release: Duration,
}

impl Default for RecorderOptions {
    fn default() -> Self {
        RecorderOptions {
            batch: crate::config::DEFAULT_LEDGER_BATCH,
            block: Duration::from_millis(200),
            linger: Duration::from_millis(100),
            claim_idle: Duration::from_secs(60),
            housekeeping: Duration::from_secs(5),
            stale_upload: Duration::from_secs(3600),
            stalled_release: Duration::from_secs(60),
        }
    }
}

/// Where the writer puts final outcomes.
pub trait Store: Send + Sync + 'static {
    /// The `db.system.name` of the write spans.
    const SYSTEM: &'static str;

    /// Writes `records`, each item's outcome once; returns the campaigns the batch left closed
    /// with nothing pending.
    fn record(
        &self,
        records: Vec<&OutcomeRecord>,
    ) -> impl Future<Output = super::Result<Vec<String>>> + Send;

    /// Ends `campaign`, which a batch left done.
    fn end(&self, campaign: &str) -> impl Future<Output = super::Result<()>> + Send;

    /// The work between batches (logged, never fatal).
    fn housekeeping(&self, options: &RecorderOptions) -> impl Future<Output = ()> + Send;
}

impl Store for Campaigns {
    const SYSTEM: &'static str = "postgresql";

    async fn record(&self, records: Vec<&OutcomeRecord>) -> super::Result<Vec<String>> {
        Ok(self.ledger().record(records).await?.done)
    }

    async fn end(&self, campaign: &str) -> super::Result<()> {
        self.end_if_done(campaign).await.map(drop)
    }

    async fn housekeeping(&self, options: &RecorderOptions) {
        housekeeping(self, options).await;
    }
}

/// The embedded ledger has no outbox, uploads or account table to look after: a done
/// campaign just ends.
impl Store for MemoryLedger {
    const SYSTEM: &'static str = "memory";

    async fn record(&self, records: Vec<&OutcomeRecord>) -> super::Result<Vec<String>> {
        Ok(MemoryLedger::record(self, records).done)
    }

    async fn end(&self, campaign: &str) -> super::Result<()> {
        self.end_if_done(campaign);
        Ok(())
    }

    async fn housekeeping(&self, _options: &RecorderOptions) {}
}

/// Runs the writer as `consumer` until `stop`, finishing the batch in hand: it reads the
/// outcomes stream of `queue` and writes to `store`.
pub async fn run<S: Store>(
    store: S,
    queue: Queue,
    consumer: String,
    options: RecorderOptions,
    stop: CancellationToken,
) {
    let mut conn = loop {
        match queue.blocking_connection(options.block).await {
            Ok(c) => break c,
            Err(e) => {
                tracing::error!(error = %e, "ledger writer cannot reach Redis; retrying");
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    };
    let mut next_housekeeping = Instant::now();
    let mut backoff = Backoff::default();
    while !stop.is_cancelled() {
        let mut entries = Vec::new();
        if Instant::now() >= next_housekeeping {
            next_housekeeping = Instant::now() + options.housekeeping;
            match queue
                .claim_feed(&consumer, options.claim_idle, options.batch)
                .await
            {
                Ok(claimed) => entries = claimed,
                Err(e) => tracing::warn!(error = %e, "ledger writer: claiming failed"),
            }
            store.housekeeping(&options).await;
        }
        if entries.is_empty() {
            match queue
                .read_feed(&mut conn, &consumer, options.batch, options.block)
                .await
            {
                Ok(read) => entries = read,
                Err(e) => {
                    tracing::warn!(error = %e, "ledger writer: reading outcomes failed");
                    backoff.wait(&stop).await;
                    continue;
                }
            }
            // A partial batch waits `linger`, then takes what arrived meanwhile in one read: a
            // commit per handful of outcomes would cost the database far more than the wait,
            // and a blocking read would wake on every single outcome.
            if !entries.is_empty() && entries.len() < options.batch {
                tokio::select! {
                    _ = stop.cancelled() => {}
                    _ = tokio::time::sleep(options.linger) => {}
                }
                let want = options.batch - entries.len();
                match queue
                    .read_feed(&mut conn, &consumer, want, Duration::ZERO)
                    .await
                {
                    Ok(more) => entries.extend(more),
                    Err(e) => tracing::warn!(error = %e, "ledger writer: reading outcomes failed"),
                }
            }
        }
        // A batch is retried until it is written (or the process stops: it stays pending).
        while !entries.is_empty() {
            match write(&store, &queue, &entries).await {
                Ok(()) => {
                    backoff.reset();
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, outcomes = entries.len(), "ledger write failed; retrying");
                    if !backoff.wait(&stop).await {
                        return;
                    }
                }
            }
        }
    }
}

/// Writes one batch, acknowledges it, and ends the campaigns it completed.
async fn write<S: Store>(store: &S, queue: &Queue, entries: &[FeedEntry]) -> super::Result<()> {
    let span = tracing::info_span!(
        "ledger.write",
        otel.name = "ledger write",
        db.system.name = S::SYSTEM,
        db.operation.batch.size = entries.len(),
    );
    if crate::telemetry::traces_on() {
        let traces = entries
            .iter()
            .filter_map(|e| e.record.as_ref()?.traceparent.as_ref());
        for traceparent in traces {
            if let Ok(trace) = crate::job::TraceContext::new(traceparent, None) {
                crate::telemetry::propagation::link(&span, &trace);
            }
        }
    }
    write_batch(store, queue, entries).instrument(span).await
}

async fn write_batch<S: Store>(
    store: &S,
    queue: &Queue,
    entries: &[FeedEntry],
) -> super::Result<()> {
    let records: Vec<_> = entries.iter().filter_map(|e| e.record.as_ref()).collect();
    let skipped = entries.len() - records.len();
    if skipped > 0 {
        // Poison jobs' markers: the job could not be decoded, so it names no item.
        tracing::warn!(
            skipped,
            "outcome entries without an item (poison jobs) not in the ledger"
        );
    }
    let done = store.record(records).await?;
    let ids: Vec<&str> = entries.iter().map(|e| e.entry_id.as_str()).collect();
    queue.ack_feed(&ids).await?;
    for campaign in &done {
        store.end(campaign).await?;
    }
    Ok(())
}

async fn housekeeping(campaigns: &Campaigns, options: &RecorderOptions) {
    if let Err(e) = sync_accounts(campaigns).await {
        tracing::warn!(error = %e, "ledger writer: account sync failed");
    }
    if let Err(e) = campaigns.end_all_done().await {
        tracing::warn!(error = %e, "ledger writer: ending done campaigns failed");
    }
    if let Err(e) = campaigns.publish_pending_events().await {
        tracing::warn!(error = %e, "ledger writer: publishing completion events failed");
    }
    if let Err(e) = campaigns
        .resume_uploads(options.stalled_release, options.stale_upload)
        .await
    {
        tracing::warn!(error = %e, "ledger writer: resuming uploads failed");
    }
}

/// Copies the configured accounts' pause state from the queue to the ledger: their states
/// read at once, written in one statement.
async fn sync_accounts(campaigns: &Campaigns) -> super::Result<()> {
    let accounts = &campaigns.settings().accounts;
    let limits: Vec<_> = accounts
        .values()
        .map(|account| campaigns.settings().limits(account))
        .collect();
    let statuses = futures_util::future::try_join_all(
        accounts
            .keys()
            .zip(&limits)
            .map(|(name, limits)| campaigns.queue().account_status(name.as_str(), limits)),
    )
    .await?;
    let states: Vec<AccountState<'_>> = accounts
        .iter()
        .zip(&statuses)
        .map(|((name, account), status)| AccountState {
            name: name.as_str(),
            provider: account.provider().as_str(),
            pause: status
                .paused
                .as_deref()
                .map(|reason| (reason, status.paused_at_ms)),
        })
        .collect();
    campaigns.ledger().sync_accounts(&states).await?;
    Ok(())
}
