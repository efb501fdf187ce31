//! Campaign completion events on the `{p}:events` stream, for other services to react to.
//!
//! When a campaign ends, one entry is added with these fields (all text):
//!
//! | field | value |
//! |---|---|
//! | `v` | `1` |
//! | `type` | `campaign.finished` or `campaign.cancelled` |
//! | `campaign` | the campaign id |
//! | `items`, `succeeded`, `failed`, `cancelled`, `dead_letters` | final counts |
//! | `ended_at_ms` | when it ended (ms since the Unix epoch) |
//!
//! Delivery is at least once (the ledger's outbox is retried until the event is on the
//! stream): consumers deduplicate on `campaign`. The stream is capped at about
//! [`EVENTS_MAX_LEN`] entries; read it with a consumer group of your own.

use super::{Queue, Result};

/// Approximate cap of the events stream.
pub const EVENTS_MAX_LEN: u64 = 100_000;

/// A campaign's completion event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CampaignEvent {
    /// `campaign.finished` or `campaign.cancelled`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The campaign.
    pub campaign: String,
    /// Items in all.
    pub items: i64,
    /// Out of the group.
    pub succeeded: i64,
    /// Final failures.
    pub failed: i64,
    /// Dropped by the cancel.
    pub cancelled: i64,
    /// Dead letters (among the failures).
    pub dead_letters: i64,
    /// When it ended (ms since the Unix epoch).
    pub ended_at_ms: i64,
}

impl Queue {
    /// Adds `event` to the events stream; returns its entry id.
    pub async fn publish_event(&self, event: &CampaignEvent) -> Result<String> {
        let id: String = redis::cmd("XADD")
            .arg(self.keys.events())
            .arg("MAXLEN")
            .arg("~")
            .arg(EVENTS_MAX_LEN)
            .arg("*")
            .arg("v")
            .arg("1")
            .arg("type")
            .arg(event.kind)
            .arg("campaign")
            .arg(&event.campaign)
            .arg("items")
            .arg(event.items)
            .arg("succeeded")
            .arg(event.succeeded)
            .arg("failed")
            .arg(event.failed)
            .arg("cancelled")
            .arg(event.cancelled)
            .arg("dead_letters")
            .arg(event.dead_letters)
            .arg("ended_at_ms")
            .arg(event.ended_at_ms)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(id)
    }
}
