//! The progress of the campaigns still under way, for metrics: their counters and their items
//! per final outcome, read in two statements for a bounded number of campaigns.

use std::collections::BTreeMap;

use super::{CampaignState, Ledger, Result};

/// One campaign that has not ended, and how far it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignProgress {
    /// Its id.
    pub id: String,
    /// Running, paused or cancelled (draining).
    pub state: CampaignState,
    /// Items in all.
    pub items: i64,
    /// Items without a final outcome yet.
    pub pending: i64,
    /// Items per final outcome (`left`, `already_left`, …, `cancelled`); pending ones are not
    /// listed.
    pub by_outcome: BTreeMap<String, i64>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    #[sqlx(try_from = "String")]
    state: CampaignState,
    items: i64,
    pending: i64,
}

impl Ledger {
    /// The `limit` newest campaigns that have not ended, with their items per outcome.
    pub async fn campaign_progress(&self, limit: i64) -> Result<Vec<CampaignProgress>> {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, state, items, pending FROM campaigns WHERE ended_at IS NULL
             ORDER BY created_at DESC, id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        let counts: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT campaign_id, outcome, count(*) FROM items
             WHERE campaign_id = ANY($1) AND outcome IS NOT NULL
             GROUP BY campaign_id, outcome",
        )
        .bind(&ids)
        .fetch_all(&self.pool)
        .await?;
        let mut progress: Vec<CampaignProgress> = rows
            .into_iter()
            .map(|r| CampaignProgress {
                id: r.id,
                state: r.state,
                items: r.items,
                pending: r.pending,
                by_outcome: BTreeMap::new(),
            })
            .collect();
        for (campaign, outcome, n) in counts {
            if let Some(p) = progress.iter_mut().find(|p| p.id == campaign) {
                p.by_outcome.insert(outcome, n);
            }
        }
        Ok(progress)
    }
}
