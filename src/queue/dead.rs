//! Dead letters: jobs that exhausted their attempts, failed for good, or could not be decoded.
//! Listed with their reason and attempt history; requeued with fresh attempt counters.

use super::records::DeadInfo;
use super::{Queue, Result, secs};
use crate::job::{Attempts, LeaveJob};

/// One dead letter.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeadLetter {
    /// The job id (`poison-<entry>` for undecodable entries).
    pub id: String,
    /// Why, when and the history.
    pub info: Option<DeadInfo>,
    /// The job, when it decodes.
    pub job: Option<LeaveJob>,
}

/// What [`Queue::requeue`] did with one id (also the API's `RequeueResult`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
#[schema(as = RequeueResult)]
pub enum Requeued {
    /// Back in the jobs stream, attempt counters reset.
    Requeued,
    /// Not a dead letter (never was, or already requeued).
    NotDead,
    /// An undecodable entry: it cannot run; it stays for inspection.
    Poison,
    /// A newer job holds its idempotency key (submitted after this one failed): requeueing
    /// would run the same leave twice. It stays.
    Superseded,
}

impl Queue {
    /// Dead letters, oldest first, `limit` from `offset`.
    pub async fn dead_letters(&self, offset: usize, limit: usize) -> Result<Vec<DeadLetter>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut conn = self.conn.clone();
        let ids: Vec<String> = redis::cmd("ZRANGE")
            .arg(self.keys.dead())
            .arg(offset)
            .arg(offset + limit - 1)
            .query_async(&mut conn)
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let (jobs, infos): (Vec<Option<String>>, Vec<Option<String>>) = redis::pipe()
            .cmd("HMGET")
            .arg(self.keys.dead_jobs())
            .arg(&ids)
            .cmd("HMGET")
            .arg(self.keys.dead_info())
            .arg(&ids)
            .query_async(&mut conn)
            .await?;
        Ok(ids
            .into_iter()
            .zip(jobs.into_iter().zip(infos))
            .map(|(id, (job, info))| DeadLetter {
                id,
                job: job.and_then(|j| serde_json::from_str(&j).ok()),
                info: info.and_then(|i| serde_json::from_str(&i).ok()),
            })
            .collect())
    }

    /// Requeues the dead letters `ids` with their attempt counters reset.
    pub async fn requeue(&self, ids: &[String]) -> Result<Vec<Requeued>> {
        let mut conn = self.conn.clone();
        let mut results = Vec::with_capacity(ids.len());
        for id in ids {
            let raw: Option<String> = redis::cmd("HGET")
                .arg(self.keys.dead_jobs())
                .arg(id)
                .query_async(&mut conn)
                .await?;
            let Some(raw) = raw else {
                results.push(Requeued::NotDead);
                continue;
            };
            let Ok(mut job) = serde_json::from_str::<LeaveJob>(&raw) else {
                results.push(Requeued::Poison);
                continue;
            };
            job.attempts = Attempts::default();
            let mut invocation = self.scripts.requeue.prepare_invoke();
            invocation
                .key(self.keys.dead())
                .key(self.keys.dead_jobs())
                .key(self.keys.dead_info())
                .key(self.keys.jobs())
                .key(self.keys.idem(job.idempotency_key.as_str()))
                .key(self.keys.account(job.request.account.as_str()))
                .arg(id)
                .arg(serde_json::to_string(&job)?)
                .arg(secs(self.options.pending_ttl));
            let moved: i64 = self.scripts.run(&mut conn, &invocation).await?;
            results.push(match moved {
                1 => Requeued::Requeued,
                2 => Requeued::Superseded,
                _ => Requeued::NotDead,
            });
        }
        Ok(results)
    }

    /// Requeues every dead letter that can run and was dead-lettered before this call;
    /// returns how many were requeued. Working on that snapshot, it ends even while workers
    /// dead-letter requeued jobs again.
    pub async fn requeue_all(&self) -> Result<usize> {
        const PAGE: usize = 500;
        let ids: Vec<String> = redis::cmd("ZRANGEBYSCORE")
            .arg(self.keys.dead())
            .arg("-inf")
            .arg(super::unix_ms(std::time::SystemTime::now()))
            .query_async(&mut self.conn.clone())
            .await?;
        let mut requeued = 0;
        for page in ids.chunks(PAGE) {
            let results = self.requeue(page).await?;
            requeued += results.iter().filter(|r| **r == Requeued::Requeued).count();
        }
        Ok(requeued)
    }
}
