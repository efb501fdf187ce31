//! The queue through its own API for tests and benches: a queue on fresh keys, jobs, enqueuing
//! a backlog in chunks, reading deliveries, a failed attempt, admission through its inline waits.

use std::ops::Range;
use std::time::Duration;

use bulkleave::config::RedisSettings;
use bulkleave::job::{LeaveJob, LeaveRequest};
use bulkleave::queue::{Admit, AttemptRecord, Delivery, Limits, Queue, QueueOptions};

/// A queue with `options` on a key prefix of its own (see [`super::redis_settings`]); drop its
/// keys at the end with [`super::drop_prefix`]`(&redis.key_prefix)`.
pub async fn fresh(options: QueueOptions) -> (Queue, RedisSettings) {
    let redis = super::redis_settings();
    let queue = Queue::connect(&redis, options).await.expect("queue");
    (queue, redis)
}

/// The queue under `prefix` (a bench's [`super::bench::prefix`]) on the tests' Redis; drop its
/// keys at the end with [`super::drop_prefix`]`(prefix)`.
pub async fn at(prefix: &str) -> (Queue, RedisSettings) {
    let redis = RedisSettings {
        key_prefix: prefix.to_owned(),
        ..super::redis_settings()
    };
    let queue = Queue::connect(&redis, QueueOptions::default())
        .await
        .expect("queue");
    (queue, redis)
}

/// Enqueues [`jobs`]`(provider, account, range)` in chunks of 10,000, each built just before it
/// is sent: a backlog of millions never sits in memory whole.
pub async fn enqueue_range(q: &Queue, provider: &str, account: &str, range: Range<u64>) {
    const CHUNK: u64 = 10_000;
    for start in range.clone().step_by(CHUNK as usize) {
        let chunk = jobs(provider, account, start..(start + CHUNK).min(range.end));
        q.enqueue_many(&chunk).await.expect("enqueue");
    }
}

/// One job per `i` in `range` for `account` of `provider`, each leaving its own group
/// (`120363000000000000 + i@g.us`): disjoint ranges give disjoint jobs.
pub fn jobs(provider: &str, account: &str, range: Range<u64>) -> Vec<LeaveJob> {
    range
        .map(|i| {
            let group = format!("{}@g.us", 120_363_000_000_000_000u64 + i);
            LeaveJob::new(LeaveRequest::parse(provider, account, &group).expect("valid job"))
        })
        .collect()
}

/// One read for `consumer`: what is ready, at most `max`, after blocking up to 50 ms.
pub async fn fetch(q: &Queue, consumer: &str, max: usize) -> Vec<Delivery> {
    let mut conn = q
        .blocking_connection(Duration::from_millis(200))
        .await
        .expect("blocking connection");
    q.fetch(&mut conn, consumer, max, Duration::from_millis(50))
        .await
        .expect("fetch")
}

/// Reads for `consumer` until `want` deliveries came (or 50 reads of up to 100 ms each).
pub async fn fetch_all(q: &Queue, consumer: &str, want: usize) -> Vec<Delivery> {
    let mut conn = q
        .blocking_connection(Duration::from_millis(200))
        .await
        .expect("blocking connection");
    let mut got = Vec::new();
    for _ in 0..50 {
        if got.len() >= want {
            break;
        }
        got.extend(
            q.fetch(
                &mut conn,
                consumer,
                want - got.len(),
                Duration::from_millis(100),
            )
            .await
            .expect("fetch"),
        );
    }
    got
}

/// A failed attempt of `class`, with its HTTP `status` if it had an answer.
pub fn failure(class: &str, status: Option<u16>) -> AttemptRecord {
    AttemptRecord {
        at_ms: 1,
        class: class.into(),
        detail: match status {
            Some(s) => format!("HTTP {s}: {class}"),
            None => class.into(),
        },
        http_status: status,
    }
}

/// Admits `d` for `consumer` as a worker does: asks (counting a start), sleeps through every
/// inline wait and asks again; returns the first answer that is not a wait.
pub async fn admit_through_waits(q: &Queue, consumer: &str, d: &Delivery, lim: &Limits) -> Admit {
    let mut first = true;
    loop {
        match q.admit(consumer, d, lim, first).await.expect("admit") {
            Admit::Wait(w) => tokio::time::sleep(w).await,
            other => return other,
        }
        first = false;
    }
}
