//! A campaign's status: the ledger's counts, the recent rate, and an ETA from the quotas of
//! the accounts that still have work in it.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Campaigns, Result};
use crate::accounts;
use crate::job::AccountName;
use crate::ledger::{Campaign, Counts};
use crate::quota::Eta as AccountEta;

/// When a campaign's pending items will be done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Eta {
    /// Nothing pending.
    Done,
    /// By this instant (ms since the epoch): when the busiest of its accounts will have
    /// worked through its whole backlog at its effective rate (other work included).
    At {
        /// The instant.
        at_ms: u64,
    },
    /// Nothing moves until an operator acts: the campaign or some of its accounts are paused.
    Blocked {
        /// Why, in words.
        reason: String,
    },
}

/// A campaign, its counts, rate and ETA.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CampaignStatus {
    /// The campaign.
    pub campaign: Campaign,
    /// Its counts.
    pub counts: Counts,
    /// Outcomes per second over the last minute.
    pub rate_per_s: f64,
    /// When it will be done.
    pub eta: Eta,
}

impl Campaigns {
    /// The status of campaign `id`.
    pub async fn status(&self, id: &str) -> Result<CampaignStatus> {
        let campaign = self.ledger.existing_campaign(id).await?;
        let counts = self.ledger.counts(id).await?;
        let eta = self.eta(&campaign, &counts).await?;
        Ok(CampaignStatus {
            rate_per_s: counts.finished_last_minute as f64 / 60.0,
            campaign,
            counts,
            eta,
        })
    }

    async fn eta(&self, campaign: &Campaign, counts: &Counts) -> Result<Eta> {
        if campaign.pending == 0 {
            return Ok(Eta::Done);
        }
        if campaign.state == crate::ledger::CampaignState::Paused {
            return Ok(Eta::Blocked {
                reason: "the campaign is paused".into(),
            });
        }
        let mut latest = 0;
        let mut paused = BTreeMap::new();
        for (name, group) in &counts.by_account {
            if group.pending == 0 {
                continue;
            }
            let Some(account) = name
                .parse::<AccountName>()
                .ok()
                .and_then(|n| self.settings.accounts.get(&n))
            else {
                paused.insert(name.clone(), "not configured".to_owned());
                continue;
            };
            let report = accounts::report(&self.settings, &self.queue, account).await?;
            match report.eta {
                AccountEta::Paused => {
                    paused.insert(name.clone(), "paused".to_owned());
                }
                AccountEta::At { at_ms } => latest = latest.max(at_ms),
                AccountEta::Idle => latest = latest.max(report.now_ms),
            }
        }
        if !paused.is_empty() {
            let list: Vec<String> = paused
                .iter()
                .map(|(n, why)| format!("{n} ({why})"))
                .collect();
            return Ok(Eta::Blocked {
                reason: format!(
                    "accounts with pending items cannot run: {}",
                    list.join(", ")
                ),
            });
        }
        Ok(Eta::At { at_ms: latest })
    }
}
