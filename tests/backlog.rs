//! A 50,000-job backlog is accepted and drained, every job with exactly one outcome (the
//! 1,000,000-job backlog runs in `cargo bench --bench queue`, see docs/BENCHMARKS.md).

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use bulkleave::config::load_with_env;
use bulkleave::job::{LeaveJob, LeaveRequest};
use bulkleave::queue::Queue;

const JOBS: u64 = 50_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_50k_backlog_is_accepted_and_drained_exactly_once() {
    let port = common::stub::fast_wasend_stub().await;
    let redis = common::redis_settings();
    let base = format!("http://127.0.0.1:{port}");
    let env = [
        ("BULKLEAVE__REDIS__URL", redis.url.expose().as_str()),
        ("BULKLEAVE__REDIS__KEY_PREFIX", redis.key_prefix.as_str()),
        ("BULKLEAVE__PROVIDERS__WASEND__BASE_URL", base.as_str()),
        ("BULKLEAVE__ACCOUNTS__W__PROVIDER", "wasend"),
        ("BULKLEAVE__ACCOUNTS__W__SESSION_ID", "s"),
        ("BULKLEAVE__ACCOUNTS__W__CREDENTIAL__ENV", "W_KEY"),
        ("BULKLEAVE__WORKER__CONCURRENCY", "64"),
        ("W_KEY", common::CANARY),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let settings = load_with_env(None, &env).unwrap();
    let queue = Queue::connect(&redis, settings.queue.clone())
        .await
        .unwrap();
    let jobs: Vec<LeaveJob> = (0..JOBS)
        .map(|i| {
            let group = format!("{}@g.us", 120_363_000_000_000_000u64 + i);
            LeaveJob::new(LeaveRequest::parse("wasend", "w", &group).unwrap())
        })
        .collect();
    let added = queue.enqueue_many(&jobs).await.unwrap();
    assert_eq!(added.len(), JOBS as usize);
    assert_eq!(queue.stats().await.unwrap().ready, JOBS);

    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn({
        let queue = queue.clone();
        async move {
            bulkleave::worker::run(&settings, queue, async {
                let _ = rx.await;
            })
            .await
        }
    });
    let client = redis::Client::open(redis.url.expose().as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let start = Instant::now();
    loop {
        let done: u64 = redis::cmd("XLEN")
            .arg(queue.keys().outcomes())
            .query_async(&mut conn)
            .await
            .unwrap();
        if done >= JOBS || start.elapsed() > Duration::from_secs(300) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tx.send(()).unwrap();
    worker.await.unwrap().unwrap();

    let records = common::outcomes(&redis).await;
    assert_eq!(records.len(), JOBS as usize);
    let ids: HashSet<&str> = records.iter().map(|r| r.job.as_str()).collect();
    assert_eq!(ids.len(), JOBS as usize, "one outcome per job");
    assert!(jobs.iter().all(|j| ids.contains(j.id.to_string().as_str())));
    assert_eq!(queue.stats().await.unwrap(), Default::default());
    common::drop_prefix(&redis.key_prefix).await;
}
