//! Account state as the ledger remembers it: paused or not, why, since when. The live state is
//! the queue's; the worker copies changes here so the record outlives Redis.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Ledger, Result, at_ms};

/// An account's recorded state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AccountRow {
    /// Account name.
    pub name: String,
    /// Provider.
    pub provider: String,
    /// Whether it is paused.
    pub paused: bool,
    /// Why.
    pub reason: Option<String>,
    /// Since when.
    pub paused_at: Option<DateTime<Utc>>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl Ledger {
    /// Records `name`'s state; returns whether it changed.
    pub async fn sync_account(
        &self,
        name: &str,
        provider: &str,
        pause: Option<(&str, Option<u64>)>,
    ) -> Result<bool> {
        let (paused, reason, paused_at) = match pause {
            Some((reason, at)) => (true, Some(reason), at.map(at_ms)),
            None => (false, None, None),
        };
        let changed = sqlx::query(
            "INSERT INTO accounts (name, provider, paused, reason, paused_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (name) DO UPDATE
               SET provider = $2, paused = $3, reason = $4, paused_at = $5, updated_at = now()
               WHERE (accounts.provider, accounts.paused, accounts.reason)
                     IS DISTINCT FROM ($2, $3, $4)",
        )
        .bind(name)
        .bind(provider)
        .bind(paused)
        .bind(reason)
        .bind(paused_at)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(changed > 0)
    }

    /// Every recorded account.
    pub async fn accounts(&self) -> Result<Vec<AccountRow>> {
        Ok(sqlx::query_as::<_, AccountRow>(
            "SELECT name, provider, paused, reason, paused_at, updated_at FROM accounts ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}
