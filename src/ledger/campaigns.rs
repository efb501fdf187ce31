//! Campaign rows: create, read, list, change state, close, and end once nothing is pending.
//!
//! | from | pause | resume | cancel | close |
//! |---|---|---|---|---|
//! | running | paused | — | cancelled | stays running, takes no more items |
//! | paused | — | running | cancelled | stays paused, takes no more items |
//! | cancelled, finished | refused | refused | refused | refused |
//!
//! A campaign *ends* when it takes no more items and none is pending: a running or paused one
//! becomes `finished`, a cancelled one stays `cancelled`; `ended_at` is set once, and the
//! completion event is published by whoever ended it, or later from the `event_published_at`
//! outbox if that publisher stopped ([`Ledger::claim_unpublished_ends`]).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Error, Ledger, Result};

/// A campaign's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CampaignState {
    /// Its jobs run.
    Running,
    /// Its jobs are held at admission until it is resumed.
    Paused,
    /// Its jobs are dropped at admission (recorded as `cancelled`).
    Cancelled,
    /// It takes no more items and every item has its final outcome.
    Finished,
}

impl CampaignState {
    /// The state as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignState::Running => "running",
            CampaignState::Paused => "paused",
            CampaignState::Cancelled => "cancelled",
            CampaignState::Finished => "finished",
        }
    }
}

impl fmt::Display for CampaignState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for CampaignState {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Ok(match s.as_str() {
            "running" => CampaignState::Running,
            "paused" => CampaignState::Paused,
            "cancelled" => CampaignState::Cancelled,
            "finished" => CampaignState::Finished,
            other => return Err(format!("unknown campaign state {other:?}")),
        })
    }
}

/// A campaign as the ledger keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Campaign {
    /// Its id.
    pub id: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Who created it (API token name, `cli`, or `submission` for the Redis contract).
    pub created_by: String,
    /// What it is for, in the operator's words.
    pub description: Option<String>,
    /// Its state.
    #[sqlx(try_from = "String")]
    pub state: CampaignState,
    /// Whether items may still be added.
    pub accepting: bool,
    /// Items in all.
    pub items: i64,
    /// Items without a final outcome.
    pub pending: i64,
    /// When it ended (finished, or cancelled and drained).
    pub ended_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str =
    "id, created_at, created_by, description, state, accepting, items, pending, ended_at";

/// Ends the campaigns that take no more items and have nothing pending (a `WHERE` clause to
/// extend with `AND …`): a cancelled one stays cancelled, others finish; `ended_at` is set once.
const END: &str = "UPDATE campaigns
     SET state = CASE WHEN state = 'cancelled' THEN 'cancelled' ELSE 'finished' END,
         ended_at = now()
     WHERE ended_at IS NULL AND NOT accepting AND pending = 0";

/// An operator's change of a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// running → paused.
    Pause,
    /// paused → running.
    Resume,
    /// running or paused → cancelled (and closed).
    Cancel,
    /// Takes no more items.
    Close,
}

impl Change {
    /// The change as a verb: `pause`, `resume`, `cancel`, `close`.
    pub fn verb(self) -> &'static str {
        match self {
            Change::Pause => "pause",
            Change::Resume => "resume",
            Change::Cancel => "cancel",
            Change::Close => "close",
        }
    }
}

impl Ledger {
    /// Creates a campaign; [`Error::Exists`] if the id is taken.
    pub async fn create_campaign(
        &self,
        id: &str,
        created_by: &str,
        description: Option<&str>,
        accepting: bool,
    ) -> Result<Campaign> {
        let sql = format!(
            "INSERT INTO campaigns (id, created_by, description, accepting) VALUES ($1, $2, $3, $4)
             ON CONFLICT (id) DO NOTHING RETURNING {COLUMNS}"
        );
        sqlx::query_as::<_, Campaign>(&sql)
            .bind(id)
            .bind(created_by)
            .bind(description)
            .bind(accepting)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| Error::Exists {
                what: "campaign",
                id: id.to_owned(),
            })
    }

    /// The campaign `id`, if it exists.
    pub async fn campaign(&self, id: &str) -> Result<Option<Campaign>> {
        let sql = format!("SELECT {COLUMNS} FROM campaigns WHERE id = $1");
        Ok(sqlx::query_as::<_, Campaign>(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// The campaign `id`, or [`Error::NotFound`].
    pub async fn existing_campaign(&self, id: &str) -> Result<Campaign> {
        self.campaign(id).await?.ok_or_else(|| Error::NotFound {
            what: "campaign",
            id: id.to_owned(),
        })
    }

    /// Campaigns, newest first, optionally only those created before `before` (an id from a
    /// previous page).
    pub async fn campaigns(&self, before: Option<&str>, limit: i64) -> Result<Vec<Campaign>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM campaigns
             WHERE $1::text IS NULL
                OR (created_at, id) < (SELECT created_at, id FROM campaigns WHERE id = $1)
             ORDER BY created_at DESC, id DESC LIMIT $2"
        );
        Ok(sqlx::query_as::<_, Campaign>(&sql)
            .bind(before)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Applies `change` to campaign `id` when its state allows it; [`Error::State`] if not.
    pub async fn change_campaign(&self, id: &str, change: Change) -> Result<Campaign> {
        let (set, from) = match change {
            Change::Pause => ("state = 'paused'", "state = 'running'"),
            Change::Resume => ("state = 'running'", "state = 'paused'"),
            Change::Cancel => (
                "state = 'cancelled', accepting = false",
                "state IN ('running', 'paused')",
            ),
            Change::Close => ("accepting = false", "state IN ('running', 'paused')"),
        };
        let sql =
            format!("UPDATE campaigns SET {set} WHERE id = $1 AND {from} RETURNING {COLUMNS}");
        match sqlx::query_as::<_, Campaign>(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
        {
            Some(c) => Ok(c),
            None => {
                let current = self.existing_campaign(id).await?;
                Err(Error::State {
                    id: id.to_owned(),
                    state: current.state,
                    action: change.verb(),
                })
            }
        }
    }

    /// Ends campaign `id` if it takes no more items and nothing is pending; returns it when
    /// this call ended it (exactly one caller does).
    pub async fn end_if_done(&self, id: &str) -> Result<Option<Campaign>> {
        let sql = format!("{END} AND id = $1 RETURNING {COLUMNS}");
        Ok(sqlx::query_as::<_, Campaign>(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Ends every campaign that takes no more items and has nothing pending, by the rules of
    /// [`Ledger::end_if_done`]; returns those this call ended. It catches the campaigns whose
    /// last outcomes were written by a writer that stopped before ending them (their batch,
    /// delivered again, changes nothing, so it names no campaign as done).
    pub async fn end_all_done(&self) -> Result<Vec<Campaign>> {
        let sql = format!("{END} RETURNING {COLUMNS}");
        Ok(sqlx::query_as::<_, Campaign>(&sql)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Claims, for `lease`, up to `limit` campaigns that ended but whose completion event is
    /// not published yet, and that nobody publishes now: ended more than `lease` ago (whoever
    /// ended one publishes it, and has that long) and not claimed within `lease`. Concurrent
    /// callers get different campaigns; a campaign comes back only if its publisher stopped.
    pub async fn claim_unpublished_ends(
        &self,
        lease: std::time::Duration,
        limit: i64,
    ) -> Result<Vec<Campaign>> {
        let sql = format!(
            "UPDATE campaigns SET event_claimed_at = now()
             WHERE id IN (
                SELECT id FROM campaigns
                WHERE ended_at IS NOT NULL AND event_published_at IS NULL
                  AND coalesce(event_claimed_at, ended_at) < now() - make_interval(secs => $1)
                ORDER BY ended_at LIMIT $2
                FOR UPDATE SKIP LOCKED)
             RETURNING {COLUMNS}"
        );
        Ok(sqlx::query_as::<_, Campaign>(&sql)
            .bind(lease.as_secs_f64())
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Notes that campaign `id`'s completion event is published.
    pub async fn mark_published(&self, id: &str) -> Result<()> {
        sqlx::query("UPDATE campaigns SET event_published_at = now() WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Creates the campaigns named by jobs submitted through the Redis contract, unless they
    /// exist (they take items until closed).
    pub async fn ensure_campaigns(&self, ids: &[String], created_by: &str) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO campaigns (id, created_by)
             SELECT DISTINCT unnest($1::text[]), $2 ORDER BY 1 ON CONFLICT (id) DO NOTHING",
        )
        .bind(ids)
        .bind(created_by)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
