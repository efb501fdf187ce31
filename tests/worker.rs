//! The worker pool against real Redis and an emulated provider: every job reaches exactly one
//! recorded outcome, failures retry then dead-letter with their history, SIGTERM drains and
//! hands back, SIGKILL loses nothing, and a Redis restart is survived.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use bulkleave::config::{RedisSettings, load_with_env};
use bulkleave::job::{LeaveJob, LeaveRequest};
use bulkleave::queue::{OutcomeRecord, Queue, QueueOptions};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn jobs(n: u64) -> Vec<LeaveJob> {
    (0..n)
        .map(|i| {
            let group = format!("{}@g.us", 120_363_000_000_000_000u64 + i);
            LeaveJob::new(LeaveRequest::parse("wasend", "w", &group).unwrap())
        })
        .collect()
}

/// A Wasend emulator that answers every leave with `status` after `delay`.
async fn provider(status: u16, delay: Duration) -> MockServer {
    let server = MockServer::start().await;
    let body = if status == 200 {
        r#"{"success":true}"#
    } else {
        r#"{"success":false,"error":"Bad gateway"}"#
    };
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(status)
                .set_body_string(body)
                .set_delay(delay),
        )
        .mount(&server)
        .await;
    server
}

fn spawn_worker(env: &HashMap<String, String>) -> Child {
    common::procs::spawn_worker(env, Stdio::piped())
}

/// Waits until `n` outcomes are recorded (or `limit` passes); returns them.
async fn await_outcomes(redis: &RedisSettings, n: usize, limit: Duration) -> Vec<OutcomeRecord> {
    common::await_outcome_count(redis, n as u64, limit).await;
    common::try_outcomes(redis).await.unwrap_or_default()
}

/// Every job has exactly one outcome record.
fn assert_exactly_once(records: &[OutcomeRecord], jobs: &[LeaveJob]) {
    let mut count: HashMap<&str, usize> = HashMap::new();
    for r in records {
        *count.entry(r.job.as_str()).or_default() += 1;
    }
    for j in jobs {
        let id = j.id.to_string();
        assert_eq!(
            count.get(id.as_str()),
            Some(&1),
            "job {id}: {} outcome records",
            count.get(id.as_str()).unwrap_or(&0)
        );
    }
    assert_eq!(records.len(), jobs.len(), "no records for unknown jobs");
}

/// Waits until `n` deliveries are in flight.
async fn await_in_flight(q: &Queue, n: u64) {
    let start = Instant::now();
    while q.stats().await.unwrap().in_flight < n && start.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sends `sig` and waits for the process to exit; returns its exit code and how long it took.
async fn stop(child: Child, sig: &str) -> (Option<i32>, Duration) {
    common::procs::signal(&child, sig);
    let sent = Instant::now();
    let mut child = child;
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    (status.code(), sent.elapsed())
}

async fn connect(redis: &RedisSettings, lease: Duration) -> Queue {
    Queue::connect(
        redis,
        QueueOptions {
            lease,
            ..QueueOptions::default()
        },
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_job_reaches_exactly_one_outcome_in_process() {
    let server = provider(200, Duration::from_millis(5)).await;
    let redis = common::redis_settings();
    let env = common::worker_env(
        &redis,
        &server.uri(),
        &[("BULKLEAVE__WORKER__CONCURRENCY", "16")],
    );
    let settings = load_with_env(None, &env).unwrap();
    let q = connect(&redis, Duration::from_secs(30)).await;
    let batch = jobs(300);
    q.enqueue_many(&batch).await.unwrap();
    let worker = common::InProcessWorker::start(settings, q.clone());
    await_outcomes(&redis, 300, Duration::from_secs(30)).await;
    let summary = worker.stop().await;
    // Read after the stop: a duplicate written by a late copy would show up here.
    let records = common::outcomes(&redis).await;
    assert_eq!(summary.handed_back, 0);
    assert_exactly_once(&records, &batch);
    assert!(
        records
            .iter()
            .all(|r| r.class == "left" && r.success && !r.dead_letter)
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 300);
    assert_eq!(q.stats().await.unwrap(), Default::default());
    common::drop_prefix(&redis.key_prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_errors_retry_then_dead_letter_with_history() {
    let server = provider(502, Duration::ZERO).await;
    let redis = common::redis_settings();
    let env = common::worker_env(
        &redis,
        &server.uri(),
        &[
            ("BULKLEAVE__RETRY__MAX_ATTEMPTS", "3"),
            ("BULKLEAVE__RETRY__BASE_DELAY", "50ms"),
            ("BULKLEAVE__RETRY__MAX_DELAY", "100ms"),
        ],
    );
    let settings = load_with_env(None, &env).unwrap();
    let q = connect(&redis, Duration::from_secs(30)).await;
    let batch = jobs(5);
    q.enqueue_many(&batch).await.unwrap();
    let worker = common::InProcessWorker::start(settings, q.clone());
    await_outcomes(&redis, 5, Duration::from_secs(20)).await;
    worker.stop().await;
    let records = common::outcomes(&redis).await;
    assert_exactly_once(&records, &batch);
    for r in &records {
        assert!(r.dead_letter && !r.success, "{r:?}");
        assert_eq!(r.class, "provider_error");
        assert_eq!(r.attempts, 3);
        assert!(
            r.detail.starts_with("attempts exhausted (3 of 3)"),
            "{}",
            r.detail
        );
    }
    let dead = q.dead_letters(0, 10).await.unwrap();
    assert_eq!(dead.len(), 5);
    for d in &dead {
        let info = d.info.as_ref().unwrap();
        assert_eq!(info.history.len(), 3, "{info:?}");
        assert!(info.history.iter().all(|h| h.http_status == Some(502)));
    }
    assert_eq!(server.received_requests().await.unwrap().len(), 15);
    common::drop_prefix(&redis.key_prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_in_flight_jobs_finish_and_exits_zero() {
    let server = provider(200, Duration::from_millis(1500)).await;
    let redis = common::redis_settings();
    let q = connect(&redis, Duration::from_secs(30)).await;
    let batch = jobs(4);
    q.enqueue_many(&batch).await.unwrap();
    let child = spawn_worker(&common::worker_env(
        &redis,
        &server.uri(),
        &[("BULKLEAVE__WORKER__DRAIN_TIMEOUT", "10s")],
    ));
    await_in_flight(&q, 4).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (code, _) = stop(child, "TERM").await;
    assert_eq!(code, Some(0));
    assert_exactly_once(&common::outcomes(&redis).await, &batch);
    assert_eq!(q.stats().await.unwrap(), Default::default());
    common::drop_prefix(&redis.key_prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_the_drain_timeout_unfinished_jobs_are_handed_back() {
    let server = provider(200, Duration::from_secs(4)).await;
    let redis = common::redis_settings();
    let q = connect(&redis, Duration::from_secs(30)).await;
    let batch = jobs(3);
    q.enqueue_many(&batch).await.unwrap();
    let child = spawn_worker(&common::worker_env(
        &redis,
        &server.uri(),
        &[("BULKLEAVE__WORKER__DRAIN_TIMEOUT", "500ms")],
    ));
    await_in_flight(&q, 3).await;
    let (code, took) = stop(child, "INT").await;
    assert_eq!(code, Some(0));
    assert!(took < Duration::from_secs(3), "drain took {took:?}");
    let stats = q.stats().await.unwrap();
    assert_eq!(
        (stats.ready, stats.in_flight),
        (3, 0),
        "handed back, not left to the lease"
    );
    assert!(common::outcomes(&redis).await.is_empty());
    common::drop_prefix(&redis.key_prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkilled_worker_loses_nothing() {
    let server = provider(200, Duration::from_millis(100)).await;
    let redis = common::redis_settings();
    let q = connect(&redis, Duration::from_secs(2)).await;
    let batch = jobs(400);
    q.enqueue_many(&batch).await.unwrap();
    let env = common::worker_env(
        &redis,
        &server.uri(),
        &[
            ("BULKLEAVE__QUEUE__LEASE", "2s"),
            ("BULKLEAVE__WORKER__CONCURRENCY", "16"),
        ],
    );
    let mut first = spawn_worker(&env);
    await_outcomes(&redis, 60, Duration::from_secs(20)).await;
    common::procs::signal(&first, "KILL");
    first.wait().unwrap();
    let held = q.stats().await.unwrap().in_flight;
    assert!(held > 0, "the killed worker held deliveries");
    let mut second = spawn_worker(&env);
    await_outcomes(&redis, 400, Duration::from_secs(60)).await;
    common::procs::signal(&second, "TERM");
    second.wait().unwrap();
    let records = common::outcomes(&redis).await;
    assert_exactly_once(&records, &batch);
    assert!(server.received_requests().await.unwrap().len() >= 400);
    common::drop_prefix(&redis.key_prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_survives_a_redis_restart() {
    let mut own = common::procs::OwnRedis::start();
    let redis = RedisSettings {
        url: bulkleave::config::SecretUrl::new(own.url().parse().unwrap()),
        key_prefix: "restart".into(),
    };
    let server = provider(200, Duration::from_millis(20)).await;
    let q = connect(&redis, Duration::from_secs(2)).await;
    let batch = jobs(300);
    q.enqueue_many(&batch).await.unwrap();
    let env = common::worker_env(
        &redis,
        &server.uri(),
        &[
            ("BULKLEAVE__QUEUE__LEASE", "2s"),
            ("BULKLEAVE__WORKER__CONCURRENCY", "4"),
        ],
    );
    let mut worker = spawn_worker(&env);
    await_outcomes(&redis, 30, Duration::from_secs(20)).await;
    own.restart();
    await_outcomes(&redis, 300, Duration::from_secs(60)).await;
    common::procs::signal(&worker, "TERM");
    let status = worker.wait().unwrap();
    let records = common::outcomes(&redis).await;
    assert_exactly_once(&records, &batch);
    assert_eq!(status.code(), Some(0));
    drop(own);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_keeps_crashing_its_worker_is_dead_lettered_and_others_are_not() {
    // Simulate the starts of a job whose worker died mid-attempt every time: each start is
    // counted, none settled. The next start beyond queue.max_runs dead-letters it instead of
    // running it; a job that was only delivered (never started) runs normally.
    let server = provider(200, Duration::ZERO).await;
    let redis = common::redis_settings();
    let env = common::worker_env(
        &redis,
        &server.uri(),
        &[("BULKLEAVE__QUEUE__MAX_RUNS", "3")],
    );
    let settings = load_with_env(None, &env).unwrap();
    let q = Queue::connect(&redis, settings.queue.clone())
        .await
        .unwrap();
    let batch = jobs(2);
    q.enqueue_many(&batch).await.unwrap();
    let mut conn = q
        .blocking_connection(Duration::from_millis(100))
        .await
        .unwrap();
    let deliveries = q
        .fetch(&mut conn, "p", 2, Duration::from_millis(100))
        .await
        .unwrap();
    // Three starts, as a worker makes them (counted by its first admission), each followed by
    // the worker's death: nothing settles the attempt.
    let crashing = deliveries.iter().find(|d| d.job.id == batch[0].id).unwrap();
    let limits = settings.limits(&settings.accounts[&batch[0].request.account]);
    for _ in 0..3 {
        let admitted = q.admit("p", crashing, &limits, true).await.unwrap();
        assert_eq!(admitted, bulkleave::queue::Admit::Go);
    }
    let http = bulkleave::providers::HttpClient::new(&bulkleave::providers::http::ClientOptions {
        connect_timeout: Duration::from_secs(1),
        max_body_bytes: 4096,
    })
    .unwrap();
    let processor = bulkleave::worker::Processor::new(
        &http,
        &settings,
        q.clone(),
        "p".into(),
        Default::default(),
    );
    let mut settled = Vec::new();
    for d in &deliveries {
        settled.push((d.job.id, processor.process(d).await.unwrap()));
    }
    settled.sort_by_key(|(id, _)| *id);
    use bulkleave::worker::Settled;
    assert_eq!(
        settled,
        vec![
            (batch[0].id, Settled::DeadLetter),
            (batch[1].id, Settled::Done)
        ]
    );
    let dead = q.dead_letters(0, 10).await.unwrap();
    let reason = &dead[0].info.as_ref().unwrap().reason;
    assert!(
        reason.starts_with("started 4 times without its attempt being settled"),
        "{reason}"
    );
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "the crashing job was not run again"
    );
    common::drop_prefix(&redis.key_prefix).await;
}
