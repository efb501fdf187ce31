//! Campaign holds in Redis: pause, resume, cancel and close a campaign for the whole fleet.
//!
//! A campaign's hash (`{p}:camp:{id}`) is read by admission (`lua/admit.lua`): a paused
//! campaign's jobs are held in `{p}:camp:{id}:parked` as they come up, a cancelled campaign's
//! jobs are recorded as `cancelled` without a request. Resuming moves the held jobs back to the
//! jobs stream; cancelling does too, so each is recorded as cancelled by a worker. `closed` (set
//! by a close or a cancel) makes the enqueue script refuse the campaign's new jobs
//! ([`super::Enqueued::CampaignClosed`]), whichever way they are submitted.

use super::accounts::RESUME_BATCH;
use super::{Queue, Result};

/// A hold to put on a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Hold its jobs at admission.
    Pause,
    /// Drop its jobs at admission.
    Cancel,
}

impl Queue {
    /// Puts `hold` on `campaign`. A cancel also closes it and sends its held jobs back to be
    /// recorded as cancelled; returns how many went back.
    pub async fn hold_campaign(&self, campaign: &str, hold: Hold) -> Result<u64> {
        let mut conn = self.conn.clone();
        let key = self.keys.campaign(campaign);
        match hold {
            Hold::Pause => {
                let () = redis::cmd("HSET")
                    .arg(&key)
                    .arg("paused")
                    .arg(1)
                    .query_async(&mut conn)
                    .await?;
                Ok(0)
            }
            Hold::Cancel => {
                let () = redis::cmd("HSET")
                    .arg(&key)
                    .arg("cancelled")
                    .arg(1)
                    .arg("closed")
                    .arg(1)
                    .query_async(&mut conn)
                    .await?;
                self.release_campaign(campaign).await
            }
        }
    }

    /// Lifts `campaign`'s pause and puts its held jobs back in the queue; returns how many.
    pub async fn release_campaign(&self, campaign: &str) -> Result<u64> {
        self.requeue_parked(
            &self.keys.campaign(campaign),
            &self.keys.campaign_parked(campaign),
            RESUME_BATCH,
        )
        .await
        .map(|(_, moved)| moved)
    }

    /// Marks `campaign` as taking no more submissions.
    pub async fn close_campaign(&self, campaign: &str) -> Result<()> {
        let () = redis::cmd("HSET")
            .arg(self.keys.campaign(campaign))
            .arg("closed")
            .arg(1)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(())
    }
}
