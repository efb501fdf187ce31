//! Campaigns: the operations producers and operators use, on the ledger and the queue together.
//! The HTTP API and the CLI both call these, so each rule lives once.
//!
//! - [`Campaigns::create`], [`Campaigns::add`] (an upload streamed into a campaign: every row
//!   validated with the job model's rules, staged in the ledger, and released to the queue
//!   only once the whole upload has been read, see [`intake`]), [`Campaigns::close`].
//! - [`Campaigns::change`]: pause, resume and cancel, in Redis (admission holds or drops the
//!   campaign's jobs, so none is half-run) and in the ledger, with an audit entry.
//! - [`Campaigns::status`]: counts per outcome, provider and account, rate and ETA.
//! - [`Campaigns::end_if_done`]: a campaign that takes no more items and has nothing pending
//!   ends, and its completion event goes on the events stream ([`crate::queue::events`]).
//! - [`recorder`]: the workers' ledger writer, [`report`]: CSV and JSON reports.

pub mod intake;
pub mod recorder;
pub mod report;
mod status;

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

pub use self::intake::{Intake, RejectedRow};
pub use self::status::{CampaignStatus, Eta};
use crate::config::Settings;
use crate::job::{CampaignId, JobError};
use crate::ledger::{self, Campaign, CampaignState, Change, Ledger};
use crate::queue::{self, CampaignEvent, Hold, Queue};

/// How long a completion event is left to its publisher (whoever ended the campaign, or
/// claimed it from the outbox) before the outbox hands it to another: 1 minute.
pub const EVENT_LEASE: Duration = Duration::from_secs(60);

/// Errors of campaign operations.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The ledger failed, or refused (not found, exists, wrong state).
    #[error(transparent)]
    Ledger(#[from] ledger::Error),
    /// The queue failed.
    #[error(transparent)]
    Queue(#[from] queue::Error),
    /// A job or campaign field is invalid.
    #[error(transparent)]
    Invalid(#[from] JobError),
    /// The upload could not be read.
    #[error("upload: {0}")]
    Upload(#[from] crate::upload::Error),
}

/// Campaign operations' result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The campaign operations (cheap to clone).
#[derive(Debug, Clone)]
pub struct Campaigns {
    ledger: Ledger,
    queue: Queue,
    settings: Arc<Settings>,
}

impl Campaigns {
    /// Operations on `ledger` and `queue` for the accounts in `settings`.
    pub fn new(ledger: Ledger, queue: Queue, settings: Arc<Settings>) -> Self {
        Campaigns {
            ledger,
            queue,
            settings,
        }
    }

    /// The ledger.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The queue.
    pub fn queue(&self) -> &Queue {
        &self.queue
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Creates campaign `id` (a new UUIDv7 when none is given). It takes items until closed.
    pub async fn create(
        &self,
        id: Option<&str>,
        description: Option<&str>,
        actor: &str,
    ) -> Result<Campaign> {
        let id = match id {
            Some(id) => id
                .parse::<CampaignId>()
                .map_err(|e| JobError::new("campaign", e))?,
            None => CampaignId::generate(),
        };
        let campaign = self
            .ledger
            .create_campaign(id.as_str(), actor, description, true)
            .await?;
        self.ledger
            .audit(
                actor,
                "campaign.create",
                &target(&campaign.id),
                json!({ "description": description }),
            )
            .await?;
        Ok(campaign)
    }

    /// The campaign `id`, created first if it does not exist (the CLI's `enqueue --campaign`).
    pub async fn open(&self, id: &str, actor: &str) -> Result<Campaign> {
        match self.ledger.campaign(id).await? {
            Some(c) => Ok(c),
            None => match self.create(Some(id), None, actor).await {
                Err(Error::Ledger(ledger::Error::Exists { .. })) => {
                    Ok(self.ledger.existing_campaign(id).await?)
                }
                other => other,
            },
        }
    }

    /// The campaign `id` if it takes items; [`ledger::Error::State`] if not.
    pub(crate) async fn accepting(&self, id: &str) -> Result<Campaign> {
        let campaign = self.ledger.existing_campaign(id).await?;
        if !campaign.accepting {
            return Err(ledger::Error::State {
                id: id.to_owned(),
                state: campaign.state,
                action: "add items (it is closed)",
            }
            .into());
        }
        Ok(campaign)
    }

    /// Applies an operator's `change` to campaign `id`: in the ledger first (which refuses a
    /// change its state does not allow), then in Redis (where admission holds or drops the
    /// campaign's jobs from then on), then the audit trail.
    pub async fn change(&self, id: &str, change: Change, actor: &str) -> Result<Campaign> {
        let before = self.ledger.existing_campaign(id).await?;
        // Asking again for what is done already is fine (a retried request): the Redis side
        // is applied again, nothing else changes.
        let already = match change {
            Change::Pause => before.state == CampaignState::Paused,
            Change::Resume => before.state == CampaignState::Running,
            Change::Cancel => before.state == CampaignState::Cancelled,
            Change::Close => !before.accepting,
        };
        let changed = if already {
            before.clone()
        } else {
            self.ledger.change_campaign(id, change).await?
        };
        let mut detail = json!({ "from": before.state });
        match change {
            Change::Pause => {
                self.queue.hold_campaign(id, Hold::Pause).await?;
            }
            Change::Resume => {
                detail["requeued"] = self.queue.release_campaign(id).await?.into();
            }
            Change::Cancel => {
                detail["requeued"] = self.queue.hold_campaign(id, Hold::Cancel).await?.into();
            }
            Change::Close => self.queue.close_campaign(id).await?,
        }
        if !already {
            let action = format!("campaign.{}", change.verb());
            self.ledger
                .audit(actor, &action, &target(id), detail)
                .await?;
        }
        Ok(self.end_if_done(id).await?.unwrap_or(changed))
    }

    /// Closes campaign `id`: it takes no more items and ends once nothing is pending.
    pub async fn close(&self, id: &str, actor: &str) -> Result<Campaign> {
        self.change(id, Change::Close, actor).await
    }

    /// Ends campaign `id` if it is done, and publishes its completion event.
    pub async fn end_if_done(&self, id: &str) -> Result<Option<Campaign>> {
        let Some(ended) = self.ledger.end_if_done(id).await? else {
            return Ok(None);
        };
        self.publish_end(&ended).await?;
        Ok(Some(ended))
    }

    /// Ends every campaign that is done but was not ended (its writer stopped between
    /// writing the last outcomes and ending it), and publishes their completion events;
    /// returns how many it ended.
    pub async fn end_all_done(&self) -> Result<usize> {
        let ended = self.ledger.end_all_done().await?;
        for c in &ended {
            self.publish_end(c).await?;
        }
        Ok(ended.len())
    }

    /// Publishes the completion events still in the outbox (after a crash between ending a
    /// campaign and publishing); returns how many. An end is taken from the outbox
    /// [`EVENT_LEASE`] after it happened (its ender is publishing it until then), by one caller
    /// at a time, so an event is published twice only if a publisher stopped half-way.
    pub async fn publish_pending_events(&self) -> Result<usize> {
        let pending = self.ledger.claim_unpublished_ends(EVENT_LEASE, 100).await?;
        for c in &pending {
            self.publish_end(c).await?;
        }
        Ok(pending.len())
    }

    async fn publish_end(&self, campaign: &Campaign) -> Result<()> {
        let counts = self.ledger.counts(&campaign.id).await?;
        let total = |f: fn(&ledger::GroupCounts) -> i64| -> i64 {
            counts.by_provider.values().map(f).sum()
        };
        let event = CampaignEvent {
            kind: if campaign.state == CampaignState::Cancelled {
                "campaign.cancelled"
            } else {
                "campaign.finished"
            },
            campaign: campaign.id.clone(),
            items: campaign.items,
            succeeded: total(|g| g.succeeded),
            failed: total(|g| g.failed),
            cancelled: total(|g| g.cancelled),
            dead_letters: counts.dead_letters,
            ended_at_ms: campaign.ended_at.map_or(0, |t| t.timestamp_millis()),
        };
        self.queue.publish_event(&event).await?;
        self.ledger.mark_published(&campaign.id).await?;
        tracing::info!(campaign = %campaign.id, kind = event.kind, "campaign ended");
        Ok(())
    }
}

/// The audit target naming campaign `id`.
fn target(id: &str) -> String {
    format!("campaign:{id}")
}
