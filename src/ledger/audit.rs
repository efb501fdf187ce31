//! The audit trail of operator actions: append-only (a trigger refuses updates and deletes).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Ledger, Result};

/// One operator action.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Sequence number.
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who (API token name, `cli`).
    pub actor: String,
    /// What (`campaign.create`, `campaign.cancel`, `account.resume`, …).
    pub action: String,
    /// On what (`campaign:ID`, `account:NAME`, `job:ID`).
    pub target: String,
    /// Details (counts, reasons).
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

impl Ledger {
    /// Appends an action to the trail.
    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        target: &str,
        detail: serde_json::Value,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO audit_log (actor, action, target, detail) VALUES ($1, $2, $3, $4)",
        )
        .bind(actor)
        .bind(action)
        .bind(target)
        .bind(detail)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The trail, newest first, optionally for one target.
    pub async fn audit_trail(&self, target: Option<&str>, limit: i64) -> Result<Vec<AuditEntry>> {
        Ok(sqlx::query_as::<_, AuditEntry>(
            "SELECT id, at, actor, action, target, detail FROM audit_log
             WHERE $1::text IS NULL OR target = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(target)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }
}
