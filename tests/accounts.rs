//! Accounts end to end: a broken account is paused with its reason and its jobs wait (they do
//! not fail, they do not block another account), `bulkleave account list` shows it, and
//! `bulkleave account resume` puts its jobs back so they finish once it works again.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bulkleave::config::load_with_env;
use bulkleave::job::{LeaveJob, LeaveRequest};
use bulkleave::queue::{Queue, QueueOptions};
use serde_json::Value;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn jobs(account: &str, n: u64, offset: u64) -> Vec<LeaveJob> {
    (0..n)
        .map(|i| {
            let group = format!("{}@g.us", 120_363_000_000_000_000u64 + offset + i);
            LeaveJob::new(LeaveRequest::parse("wasend", account, &group).unwrap())
        })
        .collect()
}

async fn mount_ok(server: &MockServer, session: &str) {
    Mock::given(method("POST"))
        .and(path_regex(format!("^/{session}/groups/.*/leave$")))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"success":true}"#))
        .mount(server)
        .await;
}

fn env(redis: &bulkleave::config::RedisSettings, base: &str) -> HashMap<String, String> {
    let mut env = common::worker_env(redis, base, &[]);
    for (k, v) in [
        ("BULKLEAVE__ACCOUNTS__BROKEN__PROVIDER", "wasend"),
        ("BULKLEAVE__ACCOUNTS__BROKEN__SESSION_ID", "broken"),
        ("BULKLEAVE__ACCOUNTS__BROKEN__CREDENTIAL__ENV", "W_KEY"),
        // Paced, so the first 401 comes back before the next request is due.
        ("BULKLEAVE__ACCOUNTS__BROKEN__QUOTA", "20/s"),
    ] {
        env.insert(k.into(), v.into());
    }
    env
}

fn account_list(env: &HashMap<String, String>) -> Vec<Value> {
    let out = assert_cmd::Command::cargo_bin("bulkleave")
        .unwrap()
        .env_remove("BULKLEAVE_CONFIG")
        .envs(env)
        .args(["account", "list", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_account_is_paused_its_jobs_wait_and_resume_finishes_them() {
    let server = MockServer::start().await;
    mount_ok(&server, "s").await;
    Mock::given(method("POST"))
        .and(path_regex("^/broken/groups/.*/leave$"))
        .respond_with(ResponseTemplate::new(401).set_body_string(r#"{"error":"Invalid API key"}"#))
        .mount(&server)
        .await;
    let redis = common::redis_settings();
    let env = env(&redis, &server.uri());
    let settings = load_with_env(None, &env).unwrap();
    let q = Queue::connect(&redis, QueueOptions::default())
        .await
        .unwrap();
    let good = jobs("w", 40, 0);
    let broken = jobs("broken", 30, 1000);
    let mut all = broken.clone();
    all.extend(good.iter().cloned());
    q.enqueue_many(&all).await.unwrap();

    let started_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let broken_account = &settings.accounts[&"broken".parse().unwrap()];
    let limits = settings.limits(broken_account);
    let worker = common::InProcessWorker::start(settings.clone(), q.clone());
    let start = Instant::now();
    common::await_outcome_count(&redis, 40, Duration::from_secs(20)).await;
    // Wait until every broken job is parked (none is retried in a loop, none fails).
    let status = loop {
        let s = q.account_status("broken", &limits).await.unwrap();
        if s.parked == 30 || start.elapsed() > Duration::from_secs(20) {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.parked, 30);
    assert!(
        status.paused.as_deref().unwrap().contains("401"),
        "{status:?}"
    );
    let records = common::outcomes(&redis).await;
    assert_eq!(
        records.len(),
        40,
        "only the working account's jobs have outcomes"
    );
    assert!(records.iter().all(|r| r.account == "w" && r.success));
    assert_eq!(q.stats().await.unwrap().dead, 0);
    // The provider saw the broken account only until it was paused, not once per job. A 401
    // pauses the account (pause.lua sets `paused_at`) and admission (admit.lua) checks the
    // pause before every grant, so every request for it was granted before `paused_at`. At
    // 20/s (headroom 1 %: a 1.01 s window) grants are paced 50.5 ms apart (a slot less than
    // 1 ms ahead counts as now: 49.5 ms), the first no earlier than the worker's start: at
    // most 1 + (paused_at - start) / 49.5 ms requests, whatever the worker's concurrency
    // (jobs not yet due wait booked, holding no request).
    let broken_requests = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().starts_with("/broken/"))
        .count();
    let paused_after_ms = status.paused_at_ms.unwrap().saturating_sub(started_ms);
    let bound = 1 + paused_after_ms as usize * 10 / 495;
    assert!(
        (1..=bound).contains(&broken_requests),
        "{broken_requests} requests for an account paused {paused_after_ms} ms after the \
         worker started (at most {bound})"
    );

    let list = account_list(&env);
    let row = list.iter().find(|r| r["account"] == "broken").unwrap();
    assert_eq!(row["state"], "paused");
    assert!(row["paused"].as_str().unwrap().contains("401"));
    assert_eq!(row["parked"], 30);
    assert_eq!(row["backlog"], 30);
    assert_eq!(row["eta"]["state"], "paused");
    let w = list.iter().find(|r| r["account"] == "w").unwrap();
    assert_eq!(
        (w["state"].as_str(), w["backlog"].as_u64()),
        (Some("active"), Some(0))
    );
    assert_eq!(w["eta"]["state"], "idle");

    // The operator fixes the session, then resumes the account.
    server.reset().await;
    mount_ok(&server, "s").await;
    mount_ok(&server, "broken").await;
    let out = assert_cmd::Command::cargo_bin("bulkleave")
        .unwrap()
        .env_remove("BULKLEAVE_CONFIG")
        .envs(&env)
        .args(["account", "resume", "broken"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "broken: resumed; 30 parked jobs back in the queue"
    );
    common::await_outcome_count(&redis, 70, Duration::from_secs(40)).await;
    worker.stop().await;
    let records = common::outcomes(&redis).await;
    assert_eq!(records.len(), 70);
    let ok = records
        .iter()
        .filter(|r| r.account == "broken" && r.class == "left")
        .count();
    assert_eq!(ok, 30, "every parked job finished after the resume");
    let status = q.account_status("broken", &limits).await.unwrap();
    assert_eq!((status.backlog, status.parked, status.paused), (0, 0, None));

    // Resuming an unknown account is a usage error naming it.
    let out = assert_cmd::Command::cargo_bin("bulkleave")
        .unwrap()
        .env_remove("BULKLEAVE_CONFIG")
        .envs(&env)
        .args(["account", "resume", "nobody"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("\"nobody\" is not a configured account")
    );
    common::drop_prefix(&redis.key_prefix).await;
}

/// Grants older than the window no longer count as "requests granted in the current window",
/// though only admission prunes the window's log and an idle account has none.
#[tokio::test]
async fn requests_in_window_forgets_the_grants_of_an_idle_account() {
    use bulkleave::queue::{Admit, Limits};
    use bulkleave::quota::QuotaPolicy;

    let redis = common::redis_settings();
    let q = Queue::connect(&redis, QueueOptions::default())
        .await
        .unwrap();
    // Window: 1 s × 1.01; slots 1 ms apart, so each job waits in place at most.
    let limits = Limits {
        quota: "1000/s".parse().unwrap(),
        policy: QuotaPolicy::default(),
        cost: 1,
    };
    q.enqueue_many(&jobs("idle", 3, 0)).await.unwrap();
    let mut conn = q
        .blocking_connection(Duration::from_millis(50))
        .await
        .unwrap();
    let deliveries = q
        .fetch(&mut conn, "w", 3, Duration::from_millis(50))
        .await
        .unwrap();
    assert_eq!(deliveries.len(), 3);
    for d in &deliveries {
        let mut first = true;
        loop {
            match q.admit("w", d, &limits, first).await.unwrap() {
                Admit::Go => break,
                Admit::Wait(wait) => tokio::time::sleep(wait).await,
                other => panic!("{other:?}"),
            }
            first = false;
        }
    }
    let status = q.account_status("idle", &limits).await.unwrap();
    assert_eq!(status.in_window, 3);
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let status = q.account_status("idle", &limits).await.unwrap();
    assert_eq!(status.in_window, 0, "{status:?}");
    common::drop_prefix(&redis.key_prefix).await;
}
