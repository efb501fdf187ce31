//! The producer side: add jobs to the queue, one or many (pipelined), now or at a given time.

use std::time::SystemTime;

use super::{Queue, Result, secs, unix_ms};
use crate::job::LeaveJob;

/// Jobs per pipeline in [`Queue::enqueue_many`].
const PIPELINE_CHUNK: usize = 1_000;

/// What happened to an enqueued job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enqueued {
    /// Added to the queue.
    Added,
    /// Not added: its idempotency key belongs to another job.
    Duplicate {
        /// The job holding the key.
        existing: String,
        /// Whether that job already has its final outcome (within the dedup TTL).
        finished: bool,
    },
}

impl Enqueued {
    fn from_reply(reply: Option<String>) -> Self {
        match reply {
            None => Enqueued::Added,
            Some(v) => match v.strip_suffix("|final") {
                Some(id) => Enqueued::Duplicate {
                    existing: id.to_owned(),
                    finished: true,
                },
                None => Enqueued::Duplicate {
                    existing: v,
                    finished: false,
                },
            },
        }
    }
}

impl Queue {
    fn enqueue_invocation<'a>(
        &'a self,
        job: &LeaveJob,
        payload: String,
        run_at: Option<SystemTime>,
    ) -> redis::ScriptInvocation<'a> {
        let now = SystemTime::now();
        let (run_at_ms, wait) = match run_at {
            Some(t) if t > now => (unix_ms(t), t.duration_since(now).unwrap_or_default()),
            _ => (0, std::time::Duration::ZERO),
        };
        let mut invocation = self.scripts.enqueue.prepare_invoke();
        invocation
            .key(self.keys.idem(job.idempotency_key.as_str()))
            .key(self.keys.jobs())
            .key(self.keys.delayed())
            .key(self.keys.delayed_jobs())
            .key(self.keys.account(job.request.account.as_str()))
            .arg(job.id.to_string())
            .arg(payload)
            .arg(run_at_ms)
            // Held while the job waits for its first run, and pending_ttl beyond.
            .arg(secs(self.options.pending_ttl + wait));
        invocation
    }

    /// Adds `job`, to run now or at `run_at` (a delayed job holds no worker while it waits),
    /// unless another job holds its idempotency key.
    pub async fn enqueue(&self, job: &LeaveJob, run_at: Option<SystemTime>) -> Result<Enqueued> {
        let payload = serde_json::to_string(job)?;
        let invocation = self.enqueue_invocation(job, payload, run_at);
        let reply: Option<String> = self
            .scripts
            .run(&mut self.conn.clone(), &invocation)
            .await?;
        Ok(Enqueued::from_reply(reply))
    }

    /// Adds many jobs to run now, pipelined in chunks; one result per job, in order.
    pub async fn enqueue_many(&self, jobs: &[LeaveJob]) -> Result<Vec<Enqueued>> {
        let mut results = Vec::with_capacity(jobs.len());
        let mut conn = self.conn.clone();
        for chunk in jobs.chunks(PIPELINE_CHUNK) {
            let mut pipe = redis::pipe();
            for job in chunk {
                let payload = serde_json::to_string(job)?;
                pipe.invoke_script(&self.enqueue_invocation(job, payload, None));
            }
            let replies: Vec<Option<String>> = self.scripts.run_pipeline(&mut conn, &pipe).await?;
            results.extend(replies.into_iter().map(Enqueued::from_reply));
        }
        Ok(results)
    }
}
