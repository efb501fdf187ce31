//! The ledger's feed: the outcomes stream read through the `ledger` consumer group, so each
//! outcome is written by one ledger writer and acknowledged only after it is in PostgreSQL.
//! A writer that dies leaves its entries pending; another claims them after a while.

use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::streams::StreamId;

use super::keys::LEDGER_GROUP;
use super::{OutcomeRecord, Queue, Result};

/// One entry of the outcomes stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEntry {
    /// The stream entry id (to acknowledge).
    pub entry_id: String,
    /// The outcome, or `None` for an entry that is not one (a poison job's marker).
    pub record: Option<OutcomeRecord>,
}

fn entry(e: &StreamId) -> FeedEntry {
    let record = e
        .get::<String>("outcome")
        .and_then(|json| serde_json::from_str::<OutcomeRecord>(&json).ok());
    FeedEntry {
        entry_id: e.id.clone(),
        record,
    }
}

impl Queue {
    /// Up to `count` new outcomes for `consumer`, waiting up to `block` on `conn` (a blocking
    /// connection) when there are none.
    pub async fn read_feed(
        &self,
        conn: &mut ConnectionManager,
        consumer: &str,
        count: usize,
        block: Duration,
    ) -> Result<Vec<FeedEntry>> {
        let outcomes = self.keys.outcomes();
        let read = self
            .read_group(conn, &outcomes, LEDGER_GROUP, consumer, count, block)
            .await?;
        Ok(read.iter().map(entry).collect())
    }

    /// Claims up to `count` outcomes another writer took more than `idle` ago and never
    /// acknowledged (it died).
    pub async fn claim_feed(
        &self,
        consumer: &str,
        idle: Duration,
        count: usize,
    ) -> Result<Vec<FeedEntry>> {
        let outcomes = self.keys.outcomes();
        let reply = self
            .claim_group(&outcomes, LEDGER_GROUP, consumer, idle, "0-0", count)
            .await?;
        Ok(reply.claimed.iter().map(entry).collect())
    }

    /// Acknowledges outcomes that are in the ledger.
    pub async fn ack_feed(&self, entry_ids: &[&str]) -> Result<()> {
        if entry_ids.is_empty() {
            return Ok(());
        }
        let _: u64 = redis::cmd("XACK")
            .arg(self.keys.outcomes())
            .arg(LEDGER_GROUP)
            .arg(entry_ids)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(())
    }
}
