//! The worker side: read deliveries, keep their leases, claim orphans, promote due jobs, and
//! settle each delivery exactly one way (finish, retry or release).

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use redis::aio::ConnectionManager;
use redis::streams::{StreamAutoClaimReply, StreamId, StreamReadReply};

use super::keys::WORKERS_GROUP;
use super::records::{AttemptRecord, DeadInfo, OutcomeRecord};
use super::{HISTORY_LEN, HISTORY_TTL, Queue, Result, secs, unix_ms};
use crate::job::LeaveJob;

/// What one promotion pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Promoted {
    /// Jobs moved to the stream.
    pub moved: usize,
    /// When the next delayed job is due (ms, Redis's clock), if one waits.
    pub next_due_ms: Option<u64>,
    /// Redis's clock at the pass (ms).
    pub now_ms: u64,
}

/// One job handed to this worker: the stream entry it came in and the decoded job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The stream entry id (what is acknowledged).
    pub entry_id: String,
    /// The job.
    pub job: LeaveJob,
}

fn field(entry: &StreamId, name: &str) -> Option<String> {
    entry
        .map
        .get(name)
        .and_then(|v| redis::from_redis_value::<String>(v.clone()).ok())
}

impl Queue {
    /// Reads up to `count` new deliveries for `consumer`, waiting up to `block` for the first
    /// (on `conn`, a connection from [`Queue::blocking_connection`]). Entries that cannot be
    /// decoded are dead-lettered on the spot (poison) and not returned.
    pub async fn fetch(
        &self,
        conn: &mut ConnectionManager,
        consumer: &str,
        count: usize,
        block: Duration,
    ) -> Result<Vec<Delivery>> {
        let entries = self
            .read_group(
                conn,
                &self.keys.jobs(),
                WORKERS_GROUP,
                consumer,
                count,
                block,
            )
            .await?;
        self.decode(entries).await
    }

    /// Reads up to `count` new entries of `stream` for `consumer` in `group`, waiting up to
    /// `block` (zero: not at all). A group Redis lost (a restart without persistence) is recreated and the read
    /// returns nothing this time.
    pub(super) async fn read_group(
        &self,
        conn: &mut ConnectionManager,
        stream: &str,
        group: &str,
        consumer: &str,
        count: usize,
        block: Duration,
    ) -> Result<Vec<StreamId>> {
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(group)
            .arg(consumer)
            .arg("COUNT")
            .arg(count);
        // `BLOCK 0` would wait forever: a zero wait is a read that does not block at all.
        if !block.is_zero() {
            cmd.arg("BLOCK")
                .arg(u64::try_from(block.as_millis()).unwrap_or(u64::MAX).max(1));
        }
        let read: redis::RedisResult<Option<StreamReadReply>> = cmd
            .arg("STREAMS")
            .arg(stream)
            .arg(">")
            .query_async(conn)
            .await;
        match read {
            Err(e) if e.to_string().contains("NOGROUP") => {
                self.ensure_groups().await?;
                Ok(Vec::new())
            }
            other => Ok(other?
                .map(|r| r.keys.into_iter().flat_map(|k| k.ids).collect())
                .unwrap_or_default()),
        }
    }

    /// Claims for `consumer` up to `count` entries of `stream` that another consumer of
    /// `group` took more than `idle` ago and never acknowledged, scanning from `cursor`.
    pub(super) async fn claim_group(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        idle: Duration,
        cursor: &str,
        count: usize,
    ) -> Result<StreamAutoClaimReply> {
        Ok(redis::cmd("XAUTOCLAIM")
            .arg(stream)
            .arg(group)
            .arg(consumer)
            .arg(u64::try_from(idle.as_millis()).unwrap_or(u64::MAX))
            .arg(cursor)
            .arg("COUNT")
            .arg(count)
            .query_async(&mut self.conn.clone())
            .await?)
    }

    /// Decodes entries; undecodable ones are dead-lettered on the spot. A failure to
    /// dead-letter one is logged and leaves it pending (claimed again after the lease): it
    /// never costs the rest of the batch.
    async fn decode(&self, entries: Vec<StreamId>) -> Result<Vec<Delivery>> {
        let mut deliveries = Vec::with_capacity(entries.len());
        for entry in entries {
            let payload = field(&entry, "job");
            let problem = match payload.as_deref().map(serde_json::from_str::<LeaveJob>) {
                Some(Ok(job)) => {
                    deliveries.push(Delivery {
                        entry_id: entry.id,
                        job,
                    });
                    continue;
                }
                Some(Err(e)) => e.to_string(),
                None => "the entry has no `job` field".to_owned(),
            };
            let raw = payload.as_deref().unwrap_or("");
            if let Err(e) = self.dead_letter_poison(&entry.id, raw, &problem).await {
                tracing::warn!(entry = %entry.id, error = %e, "could not dead-letter a poison entry yet");
            }
        }
        Ok(deliveries)
    }

    /// Claims up to `count` deliveries whose lease expired (their worker died), starting at
    /// `cursor`; returns them and the cursor for the next call (`0-0` when the scan wrapped).
    pub async fn reclaim(
        &self,
        consumer: &str,
        cursor: &str,
        count: usize,
    ) -> Result<(Vec<Delivery>, String)> {
        let reply = self
            .claim_group(
                &self.keys.jobs(),
                WORKERS_GROUP,
                consumer,
                self.options.lease,
                cursor,
                count,
            )
            .await?;
        let deliveries = self.decode(reply.claimed).await?;
        Ok((deliveries, reply.next_stream_id))
    }

    /// Renews the lease of deliveries this consumer still owns (resets their idle time);
    /// returns the ids another consumer has claimed meanwhile. Ids settled meanwhile are
    /// skipped.
    pub async fn touch(&self, consumer: &str, entry_ids: &[String]) -> Result<Vec<String>> {
        if entry_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut invocation = self.scripts.touch.prepare_invoke();
        invocation
            .key(self.keys.jobs())
            .arg(WORKERS_GROUP)
            .arg(consumer);
        for id in entry_ids {
            invocation.arg(id);
        }
        self.scripts.run(&mut self.conn.clone(), &invocation).await
    }

    /// Moves jobs due by Redis's clock (the clock quota slots are booked on) from the delayed
    /// set to the stream, at most [`super::QueueOptions::promote_batch`] per call.
    pub async fn promote_due(&self) -> Result<Promoted> {
        self.promote(None).await
    }

    /// [`Queue::promote_due`] as if Redis's clock read `now`.
    pub async fn promote_due_at(&self, now: SystemTime) -> Result<Promoted> {
        self.promote(Some(now)).await
    }

    async fn promote(&self, now: Option<SystemTime>) -> Result<Promoted> {
        let mut invocation = self.scripts.promote.prepare_invoke();
        invocation
            .key(self.keys.delayed())
            .key(self.keys.delayed_jobs())
            .key(self.keys.jobs())
            .arg(now.map(|t| unix_ms(t).to_string()).unwrap_or_default())
            .arg(self.options.promote_batch);
        let (moved, next, now_ms): (usize, i64, u64) = self
            .scripts
            .run(&mut self.conn.clone(), &invocation)
            .await?;
        Ok(Promoted {
            moved,
            next_due_ms: u64::try_from(next).ok(),
            now_ms,
        })
    }

    /// Settles `delivery` with its final outcome; with `dead` set, the job also goes to the
    /// dead-letter set. Returns `false` when this job's outcome had already been recorded (a
    /// duplicate delivery), in which case nothing new is written.
    pub async fn finish(
        &self,
        delivery: &Delivery,
        outcome: &OutcomeRecord,
        dead: Option<&DeadInfo>,
    ) -> Result<bool> {
        let job = &delivery.job;
        let mut invocation = self.scripts.finish.prepare_invoke();
        invocation
            .key(self.keys.jobs())
            .key(self.keys.idem(job.idempotency_key.as_str()))
            .key(self.keys.outcomes())
            .key(self.keys.history(&job.id.to_string()))
            .key(self.keys.dead())
            .key(self.keys.dead_jobs())
            .key(self.keys.dead_info())
            .key(self.keys.runs())
            .key(self.keys.account(job.request.account.as_str()))
            .arg(WORKERS_GROUP)
            .arg(&delivery.entry_id)
            .arg(job.id.to_string())
            .arg(secs(self.options.dedup_ttl))
            .arg(self.options.outcomes_max_len)
            .arg(serde_json::to_string(outcome)?)
            .arg(
                dead.map(serde_json::to_string)
                    .transpose()?
                    .unwrap_or_default(),
            )
            .arg(if dead.is_some() {
                serde_json::to_string(job)?
            } else {
                String::new()
            })
            .arg(unix_ms(SystemTime::now()))
            .arg("1");
        let recorded: i64 = self
            .scripts
            .run(&mut self.conn.clone(), &invocation)
            .await?;
        Ok(recorded == 1)
    }

    /// Settles `delivery`, which `consumer` owns, by scheduling `job` (its counters updated)
    /// to run again at `at`, appending `failure` to its history. Returns `false` if the
    /// delivery belongs to another consumer now (its lease ran out) or was settled: then
    /// nothing is scheduled, and the owner's own attempt counts instead.
    pub async fn retry(
        &self,
        consumer: &str,
        delivery: &Delivery,
        job: &LeaveJob,
        at: SystemTime,
        failure: &AttemptRecord,
    ) -> Result<bool> {
        let wait = at.duration_since(SystemTime::now()).unwrap_or_default();
        let mut invocation = self.scripts.retry.prepare_invoke();
        invocation
            .key(self.keys.jobs())
            .key(self.keys.delayed())
            .key(self.keys.delayed_jobs())
            .key(self.keys.history(&job.id.to_string()))
            .key(self.keys.idem(job.idempotency_key.as_str()))
            .key(self.keys.runs())
            .arg(WORKERS_GROUP)
            .arg(&delivery.entry_id)
            .arg(job.id.to_string())
            .arg(unix_ms(at))
            .arg(serde_json::to_string(job)?)
            .arg(serde_json::to_string(failure)?)
            .arg(HISTORY_LEN)
            .arg(secs(HISTORY_TTL))
            .arg(consumer)
            .arg(secs(self.options.pending_ttl + wait));
        let scheduled: i64 = self
            .scripts
            .run(&mut self.conn.clone(), &invocation)
            .await?;
        Ok(scheduled == 1)
    }

    /// Hands deliveries `consumer` still owns back to the queue (shutdown): each gets a fresh
    /// entry at the tail. `started` marks the ones whose job had begun (cut off by the drain:
    /// not counted as a crash). Returns how many were handed back.
    pub async fn release(&self, consumer: &str, deliveries: &[(Delivery, bool)]) -> Result<usize> {
        if deliveries.is_empty() {
            return Ok(0);
        }
        let mut pipe = redis::pipe();
        for (d, started) in deliveries {
            let mut invocation = self.scripts.release.prepare_invoke();
            invocation
                .key(self.keys.jobs())
                .key(self.keys.runs())
                .arg(WORKERS_GROUP)
                .arg(&d.entry_id)
                .arg(d.job.id.to_string())
                .arg(serde_json::to_string(&d.job)?)
                .arg(consumer)
                .arg(if *started { "1" } else { "0" });
            pipe.invoke_script(&invocation);
        }
        let released: Vec<i64> = self
            .scripts
            .run_pipeline(&mut self.conn.clone(), &pipe)
            .await?;
        Ok(released.into_iter().filter(|r| *r == 1).count())
    }

    /// The failed attempts recorded for `job_id`, oldest first.
    pub async fn history(&self, job_id: &str) -> Result<Vec<AttemptRecord>> {
        let raw: Vec<String> = redis::cmd("LRANGE")
            .arg(self.keys.history(job_id))
            .arg(0)
            .arg(-1)
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(raw
            .iter()
            .filter_map(|s| serde_json::from_str(s).ok())
            .collect())
    }

    async fn dead_letter_poison(&self, entry_id: &str, raw: &str, reason: &str) -> Result<()> {
        let id = format!("poison-{entry_id}");
        let info = DeadInfo {
            reason: format!("undecodable job: {}", crate::job::excerpt(reason)),
            at_ms: unix_ms(SystemTime::now()),
            history: Vec::new(),
            poison: true,
        };
        let outcome = HashMap::from([("class", "poison"), ("job", id.as_str())]);
        let mut invocation = self.scripts.finish.prepare_invoke();
        invocation
            .key(self.keys.jobs())
            .key(self.keys.idem(&id))
            .key(self.keys.outcomes())
            .key(self.keys.history(&id))
            .key(self.keys.dead())
            .key(self.keys.dead_jobs())
            .key(self.keys.dead_info())
            .key(self.keys.runs())
            .key(self.keys.account("-"))
            .arg(WORKERS_GROUP)
            .arg(entry_id)
            .arg(&id)
            .arg(secs(self.options.dedup_ttl))
            .arg(self.options.outcomes_max_len)
            .arg(serde_json::to_string(&outcome)?)
            .arg(serde_json::to_string(&info)?)
            .arg(raw)
            .arg(unix_ms(SystemTime::now()))
            .arg("0");
        tracing::warn!(entry = entry_id, reason = %info.reason, "poison message dead-lettered");
        self.scripts
            .run::<i64>(&mut self.conn.clone(), &invocation)
            .await?;
        Ok(())
    }
}
