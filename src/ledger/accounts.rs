//! Account state as the ledger remembers it: paused or not, why, since when. The live state is
//! the queue's; the worker copies changes here so the record outlives Redis.

use super::{Ledger, Result, at_ms};

/// An account's pause state as the queue has it, to record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountState<'a> {
    /// Account name.
    pub name: &'a str,
    /// Its provider.
    pub provider: &'a str,
    /// Why and since when (ms since the epoch) it is paused; none when it is not.
    pub pause: Option<(&'a str, Option<u64>)>,
}

impl Ledger {
    /// Records the state of `accounts` in one statement; returns how many rows changed
    /// (`updated_at` moves only for an account whose provider, pause or reason changed).
    pub async fn sync_accounts(&self, accounts: &[AccountState<'_>]) -> Result<u64> {
        if accounts.is_empty() {
            return Ok(0);
        }
        let names: Vec<&str> = accounts.iter().map(|a| a.name).collect();
        let providers: Vec<&str> = accounts.iter().map(|a| a.provider).collect();
        let paused: Vec<bool> = accounts.iter().map(|a| a.pause.is_some()).collect();
        let reasons: Vec<Option<&str>> = accounts.iter().map(|a| a.pause.map(|p| p.0)).collect();
        let since: Vec<Option<chrono::DateTime<chrono::Utc>>> = accounts
            .iter()
            .map(|a| a.pause.and_then(|p| p.1).map(at_ms))
            .collect();
        Ok(sqlx::query(
            "INSERT INTO accounts (name, provider, paused, reason, paused_at)
             SELECT * FROM unnest($1::text[], $2::text[], $3::bool[], $4::text[],
                                  $5::timestamptz[])
             ON CONFLICT (name) DO UPDATE
               SET provider = excluded.provider, paused = excluded.paused,
                   reason = excluded.reason, paused_at = excluded.paused_at, updated_at = now()
               WHERE (accounts.provider, accounts.paused, accounts.reason)
                     IS DISTINCT FROM (excluded.provider, excluded.paused, excluded.reason)",
        )
        .bind(names)
        .bind(providers)
        .bind(paused)
        .bind(reasons)
        .bind(since)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }
}
