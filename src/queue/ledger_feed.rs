//! The ledger's feed: the outcomes stream read through the `ledger` consumer group, so each
//! outcome is written by one ledger writer and acknowledged only after it is in PostgreSQL.
//! A writer that dies leaves its entries pending; another claims them after a while.

use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::streams::{StreamAutoClaimReply, StreamId, StreamReadReply};

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
        let reply: Option<StreamReadReply> = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(LEDGER_GROUP)
            .arg(consumer)
            .arg("COUNT")
            .arg(count)
            .arg("BLOCK")
            .arg(u64::try_from(block.as_millis()).unwrap_or(u64::MAX).max(1))
            .arg("STREAMS")
            .arg(self.keys.outcomes())
            .arg(">")
            .query_async(conn)
            .await?;
        Ok(reply
            .into_iter()
            .flat_map(|r| r.keys)
            .flat_map(|k| k.ids)
            .map(|e| entry(&e))
            .collect())
    }

    /// Claims up to `count` outcomes another writer took more than `idle` ago and never
    /// acknowledged (it died).
    pub async fn claim_feed(
        &self,
        consumer: &str,
        idle: Duration,
        count: usize,
    ) -> Result<Vec<FeedEntry>> {
        let reply: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
            .arg(self.keys.outcomes())
            .arg(LEDGER_GROUP)
            .arg(consumer)
            .arg(u64::try_from(idle.as_millis()).unwrap_or(u64::MAX))
            .arg("0-0")
            .arg("COUNT")
            .arg(count)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(reply.claimed.iter().map(entry).collect())
    }

    /// Acknowledges outcomes that are in the ledger.
    pub async fn ack_feed(&self, entry_ids: &[String]) -> Result<()> {
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

    /// Outcomes not yet written to the ledger: pending with a writer, plus not yet read.
    pub async fn feed_lag(&self) -> Result<u64> {
        let groups: redis::streams::StreamInfoGroupsReply = redis::cmd("XINFO")
            .arg("GROUPS")
            .arg(self.keys.outcomes())
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(groups
            .groups
            .iter()
            .find(|g| g.name == LEDGER_GROUP)
            .map_or(0, |g| g.pending as u64 + g.lag.unwrap_or(0) as u64))
    }
}
