//! How many jobs are where, for metrics and autoscaling: which jobs a worker could start now
//! (*runnable*), which are held by a worker, and which wait for something no worker can hurry
//! (a quota slot, a retry's backoff, a paused account or campaign).
//!
//! Read in one script (`lua/depth.lua`) on Redis's clock, at a constant cost whatever the
//! backlog: only counts, no list is scanned.

use super::{Queue, Result, keys};

/// Where the queue's jobs are now (see [`Queue::depth`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct QueueDepth {
    /// In the jobs stream, not yet delivered to any worker.
    pub undelivered: u64,
    /// Delivered to a worker and not settled: running, prefetched, waiting a few ms for a quota
    /// slot in place, or held by a worker that died (until its lease runs out).
    pub in_flight: u64,
    /// In the delayed set and due: the next worker poll moves them to the stream.
    pub due: u64,
    /// In the delayed set and not yet due.
    pub not_due: u64,
    /// Jobs holding a booked quota slot (the `booked` hash): nearly all wait in the delayed
    /// set for it; a few may be due or in flight at the instant of the read.
    pub booked: u64,
    /// Dead letters.
    pub dead: u64,
}

impl QueueDepth {
    /// Jobs a worker could start now: undelivered stream entries plus due delayed jobs. This is
    /// the number to autoscale on: more workers start these sooner.
    pub fn runnable(&self) -> u64 {
        self.undelivered + self.due
    }

    /// Not-due delayed jobs waiting for their account's quota: a booked slot, or their turn
    /// after a cooldown ("retry later"). More workers cannot make them run sooner. Counted as
    /// the booked jobs, at most the not-due ones.
    pub fn waiting_quota(&self) -> u64 {
        self.booked.min(self.not_due)
    }

    /// Not-due delayed jobs waiting for anything else: a provider error's backoff, or a time
    /// they were scheduled for (`enqueue --delay`).
    pub fn waiting_retry(&self) -> u64 {
        self.not_due - self.waiting_quota()
    }
}

impl Queue {
    /// Where the queue's jobs are now (one script call).
    pub async fn depth(&self) -> Result<QueueDepth> {
        let mut conn = self.conn.clone();
        let mut invocation = self.scripts.depth.prepare_invoke();
        invocation
            .key(self.keys.jobs())
            .key(self.keys.delayed())
            .key(self.keys.booked())
            .key(self.keys.dead())
            .arg(keys::WORKERS_GROUP);
        let (undelivered, in_flight, due, not_due, booked, dead): (u64, u64, u64, u64, u64, u64) =
            self.scripts.run(&mut conn, &invocation).await?;
        Ok(QueueDepth {
            undelivered,
            in_flight,
            due,
            not_due,
            booked,
            dead,
        })
    }

    /// Jobs held in each of `campaigns`' parked lists (their campaign is paused), in order.
    pub async fn campaign_held(&self, campaigns: &[&str]) -> Result<Vec<u64>> {
        if campaigns.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn.clone();
        let mut pipe = redis::pipe();
        for id in campaigns {
            pipe.cmd("LLEN").arg(self.keys.campaign_parked(id));
        }
        Ok(pipe.query_async(&mut conn).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiting_splits_the_not_due_jobs_without_counting_any_twice() {
        let d = QueueDepth {
            undelivered: 3,
            in_flight: 2,
            due: 4,
            not_due: 10,
            booked: 7,
            dead: 1,
        };
        assert_eq!(d.runnable(), 7);
        assert_eq!((d.waiting_quota(), d.waiting_retry()), (7, 3));
        // Booked jobs that are due (or in flight) at the read never make quota exceed the
        // not-due jobs.
        let d = QueueDepth { booked: 12, ..d };
        assert_eq!((d.waiting_quota(), d.waiting_retry()), (10, 0));
    }
}
