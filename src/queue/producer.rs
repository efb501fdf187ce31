//! The producer side: add jobs to the queue, one or many (pipelined), now or at a given time.
//!
//! The enqueue script (`lua/enqueue.lua`) refuses, in the same step, a job whose idempotency
//! key another job holds ([`Enqueued::Duplicate`]) and a job whose campaign takes no more items
//! ([`Enqueued::CampaignClosed`]), so no caller checks first and races a close.
//!
//! Each call runs in a `send {prefix}:jobs` span (OpenTelemetry messaging, kind producer).
//! While traces are exported, a job that carries no trace context of its own (its submitter
//! gave none) gets this span's, so the worker's span continues the producer's trace.

use std::time::SystemTime;

use tracing::Instrument;

use super::{Queue, Result, secs, unix_ms};
use crate::job::{JobError, LeaveJob, TraceContext};
use crate::telemetry::{propagation, traces_on};

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
    /// Not added: its campaign takes no more items (closed or cancelled).
    CampaignClosed {
        /// The campaign.
        campaign: String,
    },
}

impl Enqueued {
    fn from_reply(job: &LeaveJob, reply: redis::Value) -> Result<Self> {
        Ok(match reply {
            redis::Value::Nil => Enqueued::Added,
            redis::Value::Int(_) => Enqueued::CampaignClosed {
                campaign: job
                    .campaign
                    .as_ref()
                    .map(|c| c.to_string())
                    .unwrap_or_default(),
            },
            other => {
                let v: String = redis::from_redis_value(other).map_err(redis::RedisError::from)?;
                match v.strip_suffix("|final") {
                    Some(id) => Enqueued::Duplicate {
                        existing: id.to_owned(),
                        finished: true,
                    },
                    None => Enqueued::Duplicate {
                        existing: v,
                        finished: false,
                    },
                }
            }
        })
    }
}

/// The submitter's answer for a job [`Enqueued::CampaignClosed`] refused: the `campaign` field
/// and the reason.
pub fn closed_campaign_error(campaign: &str) -> JobError {
    JobError {
        field: "campaign",
        rule: format!("campaign {campaign:?} takes no more items (closed or cancelled)"),
    }
}

impl Queue {
    /// The enqueue script's call for `job`; unless `accepted` (an item its campaign took
    /// before closing), a closed campaign refuses it.
    fn enqueue_invocation<'a>(
        &'a self,
        job: &LeaveJob,
        payload: String,
        run_at: Option<SystemTime>,
        accepted: bool,
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
            .key(self.keys.account(job.request.account.as_str()));
        if let Some(campaign) = job.campaign.as_ref().filter(|_| !accepted) {
            invocation.key(self.keys.campaign(campaign.as_str()));
        }
        invocation
            .arg(job.id.to_string())
            .arg(payload)
            .arg(run_at_ms)
            // Held while the job waits for its first run, and pending_ttl beyond.
            .arg(secs(self.options.pending_ttl + wait));
        invocation
    }

    /// The span of one send to the jobs stream (`messaging.message.id` for a single job,
    /// `messaging.batch.message_count` for a batch). Its fields are all for traces only, so
    /// they are recorded only while traces are exported (log lines leave them out, and the log
    /// layer would format them on every send).
    fn send_span(&self) -> tracing::Span {
        use tracing::field::Empty;
        let span = tracing::info_span!(
            "queue.send",
            otel.name = Empty,
            otel.kind = Empty,
            messaging.system = Empty,
            messaging.operation.type = Empty,
            messaging.destination.name = Empty,
            messaging.message.id = Empty,
            messaging.batch.message_count = Empty,
        );
        if traces_on() {
            let stream = self.keys.jobs();
            span.record("otel.name", format!("send {stream}"));
            span.record("otel.kind", "producer");
            span.record("messaging.system", "redis");
            span.record("messaging.operation.type", "send");
            span.record("messaging.destination.name", stream);
        }
        span
    }

    /// Adds `job`, to run now or at `run_at` (a delayed job holds no worker while it waits),
    /// unless another job holds its idempotency key or its campaign takes no more items.
    pub async fn enqueue(&self, job: &LeaveJob, run_at: Option<SystemTime>) -> Result<Enqueued> {
        let span = self.send_span();
        if traces_on() {
            span.record("messaging.message.id", tracing::field::display(&job.id));
        }
        let context = propagation::of(&span);
        async {
            let payload = payload(job, context.as_ref())?;
            let invocation = self.enqueue_invocation(job, payload, run_at, false);
            let reply: redis::Value = self
                .scripts
                .run(&mut self.conn.clone(), &invocation)
                .await?;
            Enqueued::from_reply(job, reply)
        }
        .instrument(span)
        .await
    }

    /// Adds many jobs to run now, pipelined in chunks; one result per job, in order. Each is
    /// refused as by [`Self::enqueue`].
    pub async fn enqueue_many(&self, jobs: &[LeaveJob]) -> Result<Vec<Enqueued>> {
        self.enqueue_batch(jobs, false).await
    }

    /// [`Self::enqueue_many`] for items their campaign accepted (a staged upload being
    /// released): a campaign closed since still takes them, as they were its items before.
    pub async fn enqueue_accepted(&self, jobs: &[LeaveJob]) -> Result<Vec<Enqueued>> {
        self.enqueue_batch(jobs, true).await
    }

    async fn enqueue_batch(&self, jobs: &[LeaveJob], accepted: bool) -> Result<Vec<Enqueued>> {
        let span = self.send_span();
        if traces_on() {
            span.record("messaging.batch.message_count", jobs.len());
        }
        let context = propagation::of(&span);
        async {
            let mut results = Vec::with_capacity(jobs.len());
            let mut conn = self.conn.clone();
            for chunk in jobs.chunks(PIPELINE_CHUNK) {
                let mut pipe = redis::pipe();
                for job in chunk {
                    let payload = payload(job, context.as_ref())?;
                    pipe.invoke_script(&self.enqueue_invocation(job, payload, None, accepted));
                }
                let replies: Vec<redis::Value> =
                    self.scripts.run_pipeline(&mut conn, &pipe).await?;
                for (job, reply) in chunk.iter().zip(replies) {
                    results.push(Enqueued::from_reply(job, reply)?);
                }
            }
            Ok(results)
        }
        .instrument(span)
        .await
    }
}

/// `job` as JSON, carrying `producer` (the send span's context) unless its submitter gave a
/// context of its own, which stays the parent of the worker's span.
fn payload(job: &LeaveJob, producer: Option<&TraceContext>) -> Result<String> {
    match producer {
        Some(context) if job.trace.is_none() => {
            let job = job.clone().with_trace(context.clone());
            Ok(serde_json::to_string(&job)?)
        }
        _ => Ok(serde_json::to_string(job)?),
    }
}
