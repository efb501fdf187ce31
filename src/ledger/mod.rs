//! The audit ledger in PostgreSQL: campaigns, one row per item with its final outcome, uploads,
//! account state and the append-only trail of operator actions. Every SQL statement of the
//! service lives in this module and nowhere else.
//!
//! - [`campaigns`](Ledger::create_campaign): the campaign row, its state and its counters
//!   (`items`, `pending`) kept by the same statements that add items and record outcomes.
//! - [`items`](Ledger::stage): uploads are *staged* (inserted, not yet queued) and *released*
//!   to the queue once the whole upload has been read, so a failed upload runs nothing.
//! - [`outcomes`](Ledger::record): the worker's batched write of final outcomes; an item's
//!   outcome is written once, however often its job was delivered.
//! - [`status`](Ledger::counts), [`progress`](Ledger::campaign_progress) (for metrics),
//!   [`audit`](Ledger::audit), [`accounts`](Ledger::sync_accounts).
//! - [`MemoryLedger`]: the embedded ledger of `bulkleave demo`, with the same outcome rules,
//!   kept in memory.
//!
//! The schema is versioned in `migrations/` and applied by [`Ledger::migrate`]
//! (`bulkleave migrate`, or at start with `database.migrate_on_start`).

mod accounts;
mod audit;
mod campaigns;
mod items;
mod memory;
mod outcomes;
mod progress;
mod status;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

pub use self::accounts::AccountState;
pub use self::audit::AuditEntry;
pub use self::campaigns::{Campaign, CampaignState, Change};
pub use self::items::{Item, ItemFilter, NewItem, UploadState};
pub use self::memory::MemoryLedger;
pub use self::outcomes::Recorded;
pub use self::progress::CampaignProgress;
pub use self::status::{Counts, GroupCounts};
use crate::config::DatabaseSettings;

/// The migrations in `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Errors from the ledger.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// PostgreSQL failed or is unreachable.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// No such row.
    #[error("{what} {id:?} does not exist")]
    NotFound {
        /// What was looked for (`campaign`, …).
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// The row exists already.
    #[error("{what} {id:?} exists already")]
    Exists {
        /// What (`campaign`).
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// The upload is no longer in the state this step needs: housekeeping discarded it as
    /// stale, or another process ended it.
    #[error("upload {id} is no longer {expected} (discarded as stale, or ended elsewhere)")]
    UploadGone {
        /// The upload.
        id: uuid::Uuid,
        /// The state the step needed.
        expected: &'static str,
    },
    /// The change is not allowed in the row's current state.
    #[error("campaign {id:?} is {state}: cannot {action}")]
    State {
        /// The campaign.
        id: String,
        /// Its state now.
        state: CampaignState,
        /// What was asked.
        action: &'static str,
    },
}

/// The ledger's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A handle on the ledger (a connection pool). Cheap to clone.
#[derive(Clone)]
pub struct Ledger {
    pool: PgPool,
    /// Campaigns known to exist (campaigns are never deleted), shared by the clones: the
    /// outcome writer creates only those it has not seen yet.
    ensured: Arc<Mutex<HashSet<String>>>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").finish_non_exhaustive()
    }
}

/// How long a statement waits for a pool connection by default.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

fn pool_options(settings: &DatabaseSettings, acquire_timeout: Duration) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(acquire_timeout)
}

impl Ledger {
    /// Connects to `settings.url` (and fails if PostgreSQL cannot be reached).
    pub async fn connect(settings: &DatabaseSettings) -> Result<Self> {
        let pool = pool_options(settings, DEFAULT_ACQUIRE_TIMEOUT)
            .connect(settings.url.expose().as_str())
            .await?;
        Ok(Ledger::from_pool(pool))
    }

    /// A ledger whose connections are opened on first use, so a service can start while
    /// PostgreSQL is still down (its readiness check says so); a statement waits up to
    /// `acquire_timeout` for a connection.
    pub fn connect_lazy(settings: &DatabaseSettings, acquire_timeout: Duration) -> Result<Self> {
        let pool =
            pool_options(settings, acquire_timeout).connect_lazy(settings.url.expose().as_str())?;
        Ok(Ledger::from_pool(pool))
    }

    /// A ledger on an existing pool.
    pub fn from_pool(pool: PgPool) -> Self {
        Ledger {
            pool,
            ensured: Arc::default(),
        }
    }

    /// The connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Applies the migrations not applied yet; returns how many there are in all.
    pub async fn migrate(&self) -> Result<usize> {
        MIGRATOR.run(&self.pool).await?;
        Ok(MIGRATOR.iter().count())
    }

    /// Whether PostgreSQL answers.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// Milliseconds since the epoch as a PostgreSQL `timestamptz` parameter.
pub(crate) fn at_ms(ms: u64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(i64::try_from(ms).unwrap_or(i64::MAX))
        .unwrap_or_default()
}
