//! The job queue on Redis: streams with a consumer group, a delayed set, dead letters.
//!
//! - **Producers** ([`Queue::enqueue`], [`Queue::enqueue_many`]) add jobs unless their
//!   idempotency key is taken or their campaign takes no more items (checked in the same
//!   script); a job may be scheduled for later without holding a worker.
//! - **Workers** read the `jobs` stream through the `workers` consumer group
//!   ([`Queue::fetch`]). An entry stays pending (in the group's PEL) until the worker settles it:
//!   [`Queue::finish`] (final outcome, recorded once), [`Queue::retry`] (to the delayed set) or
//!   [`Queue::release`] (handed back on shutdown). A worker that dies leaves its entries pending;
//!   after the lease they are claimed by another ([`Queue::reclaim`]). Workers extend the lease
//!   of what they hold ([`Queue::touch`]).
//! - **Quotas** are kept here too, shared by the fleet ([`admission`]): a job is admitted
//!   when its account has a free slot, else booked for the next one; "retry later" cools the
//!   account down; an account error pauses it and parks its jobs ([`Queue::resume_account`]).
//! - Every operation costs a constant number of Redis steps per job: no script scans a list,
//!   promotion of due jobs is bounded per call ([`QueueOptions::promote_batch`]).
//!
//! Keys are listed in [`keys`]; scripts live in `src/queue/lua/`.

mod accounts;
pub mod admission;
mod campaigns;
mod consumer;
mod dead;
mod depth;
pub mod events;
pub mod keys;
mod ledger_feed;
mod producer;
mod records;
mod scripts;
pub mod submit;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

pub use self::accounts::Resumed;
pub use self::admission::{Admit, FollowUp, Limits};
pub use self::campaigns::Hold;
pub use self::consumer::{Delivery, Promoted};
pub use self::dead::{DeadLetter, Requeued};
pub use self::depth::QueueDepth;
pub use self::events::CampaignEvent;
pub use self::keys::Keys;
pub use self::ledger_feed::FeedEntry;
pub use self::producer::{Enqueued, closed_campaign_error};
pub use self::records::{AttemptRecord, DeadInfo, OutcomeRecord};
use self::scripts::Scripts;
use crate::config::RedisSettings;

/// Default lease: how long a delivery may go without its worker's heartbeat before another
/// worker claims it.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);
/// Default time an idempotency key is held while its job is pending.
pub const DEFAULT_PENDING_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// Default time an idempotency key is remembered after its job's final outcome.
pub const DEFAULT_DEDUP_TTL: Duration = Duration::from_secs(24 * 3600);
/// Default approximate cap on the outcomes stream.
pub const DEFAULT_OUTCOMES_MAX_LEN: u64 = 1_000_000;
/// Default number of due jobs promoted per script call.
pub const DEFAULT_PROMOTE_BATCH: usize = 500;
/// Default number of times a job may start without its attempt being settled before it is
/// dead-lettered as a crash loop (it crashes or hangs its worker every time).
pub const DEFAULT_MAX_RUNS: u64 = 5;
/// Failed attempts kept in a job's history.
pub const HISTORY_LEN: usize = 20;
/// How long a job's history outlives its last failed attempt.
pub const HISTORY_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// Errors talking to the queue.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Redis failed or is unreachable.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// A value could not be encoded.
    #[error("encoding: {0}")]
    Encode(#[from] serde_json::Error),
}

/// The queue's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Queue behaviour, with documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueOptions {
    /// Lease of a delivery. Default [`DEFAULT_LEASE`].
    pub lease: Duration,
    /// Idempotency while pending. Default [`DEFAULT_PENDING_TTL`].
    pub pending_ttl: Duration,
    /// Idempotency after the final outcome. Default [`DEFAULT_DEDUP_TTL`].
    pub dedup_ttl: Duration,
    /// Approximate cap of the outcomes stream. Default [`DEFAULT_OUTCOMES_MAX_LEN`].
    pub outcomes_max_len: u64,
    /// Due jobs promoted per script call. Default [`DEFAULT_PROMOTE_BATCH`].
    pub promote_batch: usize,
    /// Starts without a settled attempt before a crash-loop dead letter. Default
    /// [`DEFAULT_MAX_RUNS`].
    pub max_runs: u64,
}

impl Default for QueueOptions {
    fn default() -> Self {
        QueueOptions {
            lease: DEFAULT_LEASE,
            pending_ttl: DEFAULT_PENDING_TTL,
            dedup_ttl: DEFAULT_DEDUP_TTL,
            outcomes_max_len: DEFAULT_OUTCOMES_MAX_LEN,
            promote_batch: DEFAULT_PROMOTE_BATCH,
            max_runs: DEFAULT_MAX_RUNS,
        }
    }
}

/// A handle on the queue. Cheap to clone; reconnects by itself when Redis comes back.
#[derive(Clone)]
pub struct Queue {
    conn: ConnectionManager,
    keys: Keys,
    scripts: Scripts,
    options: QueueOptions,
    client: redis::Client,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("keys", &self.keys)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Counts describing the queue now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct QueueStats {
    /// In the stream, not yet delivered.
    pub ready: u64,
    /// Delivered to a worker, not settled.
    pub in_flight: u64,
    /// Waiting in the delayed set (retries, scheduled).
    pub delayed: u64,
    /// Dead letters.
    pub dead: u64,
}

fn connection_config(response_timeout: Duration) -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_response_timeout(Some(response_timeout))
        .set_connection_timeout(Some(Duration::from_secs(5)))
        .set_number_of_retries(6)
        .set_max_delay(Duration::from_secs(2))
}

impl Queue {
    /// Connects to `settings.url`, loads the scripts and creates the consumer groups.
    pub async fn connect(settings: &RedisSettings, options: QueueOptions) -> Result<Self> {
        let client = redis::Client::open(settings.url.expose().as_str())?;
        let conn = ConnectionManager::new_with_config(
            client.clone(),
            connection_config(Duration::from_secs(10)),
        )
        .await?;
        let queue = Queue {
            conn,
            keys: Keys::new(&settings.key_prefix),
            scripts: Scripts::new(),
            options,
            client,
        };
        queue.scripts.load(&mut queue.conn.clone()).await?;
        queue.ensure_groups().await?;
        Ok(queue)
    }

    /// A second connection for commands that block (`XREADGROUP … BLOCK`), so they never hold
    /// up the shared one.
    pub async fn blocking_connection(&self, block: Duration) -> Result<ConnectionManager> {
        Ok(ConnectionManager::new_with_config(
            self.client.clone(),
            connection_config(block + Duration::from_secs(10)),
        )
        .await?)
    }

    /// Deletes every key under this queue's prefix; returns how many. `SCAN` in pages, never
    /// `KEYS`: a large queue's keys would not come back within the response timeout, and
    /// `KEYS` would block Redis meanwhile.
    pub async fn purge(&self) -> Result<usize> {
        let mut conn = self.conn.clone();
        let pattern = self.keys.pattern();
        let (mut cursor, mut deleted) = (0_u64, 0);
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await?;
            if !keys.is_empty() {
                let n: usize = redis::cmd("UNLINK")
                    .arg(&keys)
                    .query_async(&mut conn)
                    .await?;
                deleted += n;
            }
            if next == 0 {
                return Ok(deleted);
            }
            cursor = next;
        }
    }

    /// The key names.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The options.
    pub fn options(&self) -> &QueueOptions {
        &self.options
    }

    /// Creates the consumer groups if missing (after a first start, or a Redis that lost its
    /// data).
    pub async fn ensure_groups(&self) -> Result<()> {
        let mut conn = self.conn.clone();
        for (stream, group) in [
            (self.keys.jobs(), keys::WORKERS_GROUP),
            (self.keys.submit(), keys::INGEST_GROUP),
            (self.keys.outcomes(), keys::LEDGER_GROUP),
        ] {
            let created: redis::RedisResult<()> = redis::cmd("XGROUP")
                .arg("CREATE")
                .arg(&stream)
                .arg(group)
                .arg("0")
                .arg("MKSTREAM")
                .query_async(&mut conn)
                .await;
            match created {
                Ok(()) => {}
                Err(e) if e.to_string().contains("BUSYGROUP") => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Current counts, derived from [`Self::depth`] (one script call, read atomically).
    pub async fn stats(&self) -> Result<QueueStats> {
        let depth = self.depth().await?;
        Ok(QueueStats {
            ready: depth.undelivered,
            in_flight: depth.in_flight,
            delayed: depth.due + depth.not_due,
            dead: depth.dead,
        })
    }
}

/// Milliseconds since the Unix epoch (0 before it).
pub fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn secs(d: Duration) -> u64 {
    d.as_secs().max(1)
}
