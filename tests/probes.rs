//! A worker's probes: a real `bulkleave worker` answers `/healthz` and `/readyz` beside
//! `/metrics` on its metrics listener; readiness rides out a Redis outage shorter than its
//! grace, fails past it (liveness never does), and comes back with Redis. Real Redis: the
//! machine's with a key prefix of the test's own, and a redis-server of the test's own to kill.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bulkleave::config::{RedisSettings, SecretUrl};
use bulkleave::worker::probes::{self, Probes};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// `GET path` through `app`: the status and the JSON body.
async fn get(app: &axum::Router, path: &str) -> (StatusCode, serde_json::Value) {
    let response = app
        .clone()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_process_serves_its_probes_beside_its_metrics() {
    let redis = common::redis_settings();
    let listen = format!("127.0.0.1:{}", common::procs::free_port());
    let env = common::base_env(
        &redis,
        &[
            ("BULKLEAVE__METRICS__ENABLED", "true"),
            ("BULKLEAVE__METRICS__LISTEN", listen.as_str()),
        ],
    );
    let worker = common::procs::spawn_worker(&env, Stdio::inherit());
    let url = |path: &str| format!("http://{listen}{path}");
    let start = Instant::now();
    let alive = loop {
        if let Ok(r) = reqwest::get(url("/healthz")).await {
            break r;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "no listener");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(alive.status(), 200);
    assert_eq!(alive.text().await.unwrap(), r#"{"status":"ok"}"#);
    let ready = reqwest::get(url("/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.text().await.unwrap(), r#"{"status":"ready"}"#);
    let metrics = reqwest::get(url("/metrics")).await.unwrap();
    assert_eq!(metrics.status(), 200, "the metrics stay where they were");
    assert!(
        metrics
            .text()
            .await
            .unwrap()
            .contains("bulkleave_queue_jobs")
    );
    common::procs::terminate(vec![worker]);
    common::drop_prefix(&redis.key_prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_rides_out_a_short_redis_outage_fails_past_its_grace_and_recovers() {
    let mut own = common::procs::OwnRedis::start();
    let redis = RedisSettings {
        url: SecretUrl::new(own.url().parse().unwrap()),
        key_prefix: "probes".into(),
    };
    let grace = Duration::from_millis(1500);
    let app = probes::router(Probes::connect(&redis).await.unwrap().with_grace(grace));
    assert_eq!(get(&app, "/readyz").await.0, StatusCode::OK);

    own.kill();
    let down = Instant::now();
    let (status, body) = get(&app, "/readyz").await;
    assert!(
        down.elapsed() < grace,
        "the probe answered within the grace"
    );
    assert_eq!(
        status,
        StatusCode::OK,
        "a blip keeps the worker ready: {body}"
    );

    tokio::time::sleep(grace).await;
    let (status, body) = get(&app, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["code"], "unavailable");
    assert_eq!(body["detail"], "redis unavailable; try again later");
    let (status, body) = get(&app, "/healthz").await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("ok")),
        "liveness never depends on Redis"
    );

    own.restart();
    let start = Instant::now();
    while get(&app, "/readyz").await.0 != StatusCode::OK {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "ready again once Redis is back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
