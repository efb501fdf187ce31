//! A 50,000-job backlog is accepted and drained, every job with exactly one outcome (the
//! 1,000,000-job backlog runs in `cargo bench --bench queue`, see docs/BENCHMARKS.md).

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;
use std::time::Duration;

use bulkleave::config::load_with_env;
use bulkleave::queue::Queue;

const JOBS: u64 = 50_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_50k_backlog_is_accepted_and_drained_exactly_once() {
    let port = common::stub::fast_wasend_stub().await;
    let redis = common::redis_settings();
    let base = format!("http://127.0.0.1:{port}");
    let env = common::worker_env(&redis, &base, &[("BULKLEAVE__WORKER__CONCURRENCY", "64")]);
    let settings = load_with_env(None, &env).unwrap();
    let queue = Queue::connect(&redis, settings.queue.clone())
        .await
        .unwrap();
    let jobs = common::queue::jobs("wasend", "w", 0..JOBS);
    let added = queue.enqueue_many(&jobs).await.unwrap();
    assert_eq!(added.len(), JOBS as usize);
    assert!(
        added
            .iter()
            .all(|a| *a == bulkleave::queue::Enqueued::Added)
    );
    assert_eq!(queue.stats().await.unwrap().ready, JOBS);

    let worker = common::InProcessWorker::start(settings, queue.clone());
    common::await_outcome_count(&redis, JOBS, Duration::from_secs(300)).await;
    worker.stop().await;

    let records = common::outcomes(&redis).await;
    assert_eq!(records.len(), JOBS as usize);
    let ids: HashSet<&str> = records.iter().map(|r| r.job.as_str()).collect();
    assert_eq!(ids.len(), JOBS as usize, "one outcome per job");
    assert!(jobs.iter().all(|j| ids.contains(j.id.to_string().as_str())));
    assert_eq!(queue.stats().await.unwrap(), Default::default());
    common::drop_prefix(&redis.key_prefix).await;
}
