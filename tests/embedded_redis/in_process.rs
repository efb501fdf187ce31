//! The production queue on an embedded Redis started in this process (what `bulkleave demo`
//! does): jobs go in, are delivered through a blocking read, settle once, the queue's keys
//! are purged, and the server's shutdown closes its connections.

use std::time::Duration;

use bulkleave::config::{RedisSettings, SecretUrl};
use bulkleave::embedded::EmbeddedRedis;
use bulkleave::job::{LeaveJob, LeaveRequest};
use bulkleave::queue::{Enqueued, OutcomeRecord, Queue, QueueOptions};

use super::{connect, run};

#[tokio::test]
async fn the_queue_runs_on_an_embedded_redis_in_process() {
    let server = EmbeddedRedis::start().await.unwrap();
    let settings = RedisSettings {
        url: SecretUrl::new(server.url().parse().unwrap()),
        key_prefix: "demo".into(),
    };
    let queue = Queue::connect(&settings, QueueOptions::default())
        .await
        .unwrap();
    let jobs: Vec<LeaveJob> = (0..5)
        .map(|i| {
            let group = format!("{}@g.us", 120_363_000_000_000_000u64 + i);
            LeaveJob::new(LeaveRequest::parse("wasend", "w", &group).unwrap())
        })
        .collect();
    let added = queue.enqueue_many(&jobs).await.unwrap();
    assert!(added.iter().all(|a| *a == Enqueued::Added));
    assert_eq!(queue.stats().await.unwrap().ready, 5);

    let mut blocking = queue
        .blocking_connection(Duration::from_secs(2))
        .await
        .unwrap();
    let got = queue
        .fetch(&mut blocking, "w1", 10, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(got.len(), 5);
    for d in &got {
        let outcome = OutcomeRecord::new(&d.job, "left", true, "left the group", None);
        assert!(queue.finish(d, &outcome, None).await.unwrap());
        assert!(
            !queue.finish(d, &outcome, None).await.unwrap(),
            "recorded once"
        );
    }
    assert_eq!(queue.stats().await.unwrap(), Default::default());
    // An empty queue: the read waits its full block, then returns nothing.
    let started = std::time::Instant::now();
    let none = queue
        .fetch(&mut blocking, "w1", 10, Duration::from_millis(300))
        .await
        .unwrap();
    assert!(none.is_empty() && started.elapsed() >= Duration::from_millis(290));

    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = connect(&client).await;
    let len = run(&mut conn, &["XLEN".into(), queue.keys().outcomes()]).await;
    assert_eq!(len, super::Shown::Int(5));
    // Queue::purge pages through SCAN: every key under the prefix goes, nothing else.
    run(&mut conn, &["SET".into(), "other:k".into(), "v".into()]).await;
    assert!(queue.purge().await.unwrap() > 0);
    let left = run(&mut conn, &["KEYS".into(), "*".into()]).await;
    assert_eq!(
        left,
        super::Shown::Array(vec![super::Shown::Bulk("other:k".into())])
    );
    server.shutdown().await;
    let after = run(&mut conn, &["PING".into()]).await;
    assert!(matches!(after, super::Shown::Error(_)), "closed: {after:?}");
}
