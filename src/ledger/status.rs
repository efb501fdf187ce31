//! A campaign's counts: per outcome, per provider and per account, and its recent pace.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Ledger, Result};

/// Counts for one provider or one account of a campaign.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct GroupCounts {
    /// Items in all.
    pub total: i64,
    /// Without a final outcome yet.
    pub pending: i64,
    /// Out of the group (the provider said so: left, already left, group gone).
    pub succeeded: i64,
    /// Final failures (dead letters and other unsuccessful outcomes, cancelled excluded).
    pub failed: i64,
    /// Dropped by a cancel.
    pub cancelled: i64,
}

/// A campaign's counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Counts {
    /// Items per outcome class (`pending` for those without one).
    pub by_outcome: BTreeMap<String, i64>,
    /// Dead letters among them.
    pub dead_letters: i64,
    /// Per provider.
    pub by_provider: BTreeMap<String, GroupCounts>,
    /// Per account.
    pub by_account: BTreeMap<String, GroupCounts>,
    /// Outcomes recorded in the last minute.
    pub finished_last_minute: i64,
}

/// One group of a campaign's items with the same provider, account and outcome.
#[derive(sqlx::FromRow)]
struct Row {
    provider: String,
    account: String,
    outcome: Option<String>,
    success: Option<bool>,
    dead_letter: bool,
    n: i64,
    /// Of them, finished in the last minute.
    recent: i64,
}

/// `n` items with the same provider, account and outcome, `recent` of them finished in the
/// last minute: what [`Counts`] is added up from (by PostgreSQL and by the in-memory ledger).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tally<'a> {
    pub provider: &'a str,
    pub account: &'a str,
    pub outcome: Option<&'a str>,
    pub success: Option<bool>,
    pub dead_letter: bool,
    pub n: i64,
    pub recent: i64,
}

impl Counts {
    /// Adds `t` to the counts.
    pub(crate) fn add(&mut self, t: &Tally<'_>) {
        self.finished_last_minute += t.recent;
        *self
            .by_outcome
            .entry(t.outcome.unwrap_or("pending").to_owned())
            .or_default() += t.n;
        if t.dead_letter {
            self.dead_letters += t.n;
        }
        for group in [
            self.by_provider.entry(t.provider.to_owned()).or_default(),
            self.by_account.entry(t.account.to_owned()).or_default(),
        ] {
            group.total += t.n;
            match (t.outcome, t.success) {
                (None, _) => group.pending += t.n,
                (Some("cancelled"), _) => group.cancelled += t.n,
                (Some(_), Some(true)) => group.succeeded += t.n,
                (Some(_), _) => group.failed += t.n,
            }
        }
    }
}

impl Ledger {
    /// The counts of `campaign` (one pass over its items).
    pub async fn counts(&self, campaign: &str) -> Result<Counts> {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT provider, account, outcome, success, dead_letter, count(*) AS n,
                    count(*) FILTER (WHERE finished_at > now() - interval '1 minute') AS recent
             FROM items WHERE campaign_id = $1
             GROUP BY provider, account, outcome, success, dead_letter",
        )
        .bind(campaign)
        .fetch_all(&self.pool)
        .await?;
        let mut counts = Counts::default();
        for row in &rows {
            counts.add(&Tally {
                provider: &row.provider,
                account: &row.account,
                outcome: row.outcome.as_deref(),
                success: row.success,
                dead_letter: row.dead_letter,
                n: row.n,
                recent: row.recent,
            });
        }
        Ok(counts)
    }
}
