//! The quota across a fleet, checked from the outside: three worker processes share real Redis
//! and drive the provider simulator, which enforces each account's quota itself and answers
//! 429 (with the provider's headers) when it is exceeded.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use bulkleave::config::RedisSettings;
use bulkleave::queue::QueueOptions;
use bulkleave::simulator::{Simulator, Verdict};
use common::green::GreenAccount;
use common::queue::jobs;

const TOKEN_A: &str = "CANARY-green-token-a";
const TOKEN_B: &str = "CANARY-green-token-b";

/// Two Green API accounts, `a` and `b`, at `quota` each.
fn accounts(quota: &str) -> [GreenAccount<'static>; 2] {
    let quota = quota.parse().unwrap();
    [
        GreenAccount {
            name: "a",
            token: TOKEN_A,
            quota,
        },
        GreenAccount {
            name: "b",
            token: TOKEN_B,
            quota,
        },
    ]
}

/// Three workers for `accounts` on the simulator at `sim`.
fn spawn_workers(
    redis: &RedisSettings,
    sim: &Simulator,
    accounts: [GreenAccount; 2],
) -> Vec<Child> {
    let env = common::green::worker_env(
        redis,
        &sim.base_url(),
        accounts,
        &[
            ("BULKLEAVE__WORKER__CONCURRENCY", "16"),
            // Up to six debug-built workers, two simulators and Redis share two cores while
            // these tests run: requests reach the simulator up to ~70 ms later than their grant
            // (seen here), far beyond the default 1 % (10 ms) of a 1 s period. Headroom is the
            // knob for that jitter (README, Quotas); the benchmark measures the default in
            // release builds.
            ("BULKLEAVE__PACING__HEADROOM", "0.1"),
        ],
    );
    (0..3)
        .map(|_| common::procs::spawn_worker(&env, Stdio::null()))
        .collect()
}

/// Waits until `done` holds, checking every 20 ms; false if `limit` passes first.
async fn poll_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while !done() {
        if start.elapsed() > limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

/// `account`'s arrivals before its first 429 (ms since its first), for an assert message.
fn before_first_429(sim: &Simulator, account: &str) -> String {
    let arr = sim.arrivals(account);
    let Some(i) = arr.iter().position(|r| r.verdict == Verdict::RateLimited) else {
        return format!("{account}: no 429");
    };
    let t0 = arr[0].at;
    let shown: Vec<String> = arr[i.saturating_sub(22)..=i]
        .iter()
        .map(|r| format!("{:.1}", r.at.duration_since(t0).as_secs_f64() * 1000.0))
        .collect();
    format!(
        "{account}: arrivals before the 429 (ms): {}",
        shown.join(" ")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_sharing_an_account_at_its_quota_receive_no_429() {
    let accounts = accounts("20/s");
    let sim = Simulator::start(common::green::simulator_config(accounts))
        .await
        .unwrap();
    let (q, redis) = common::queue::fresh(QueueOptions::default()).await;
    q.enqueue_many(&jobs("green_api", "a", 0..200))
        .await
        .unwrap();
    let workers = spawn_workers(&redis, &sim, accounts);
    let start = Instant::now();
    common::await_outcome_count(&redis, 200, Duration::from_secs(60)).await;
    let took = start.elapsed();
    common::procs::terminate(workers);

    let report = sim.report();
    let a = &report.accounts["a"];
    assert_eq!(
        a.rate_limited, 0,
        "the provider never had to say 429: {a:?}"
    );
    assert_eq!(a.excess, 0, "busiest window {} of 20", a.busiest_window);
    assert_eq!(a.accepted, 200, "one request per job");
    assert_eq!(a.answers.leaves, 200);
    let rate = a.achieved_rate_per_s.unwrap();
    // 20 per 1.1 s is 18.2/s.
    assert!(rate > 17.5 && rate <= 20.0, "achieved {rate:.2}/s of 20/s");
    // 200 jobs at 20/s take about 10 s, not less.
    assert!(took >= Duration::from_millis(9_500), "{took:?}");
    let records = common::outcomes(&redis).await;
    assert_eq!(records.len(), 200);
    assert!(records.iter().all(|r| r.class == "left" && r.success));
    sim.shutdown().await;
    common::drop_prefix(&redis.key_prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_with_retry_after_stops_that_account_only_for_as_long_as_it_says() {
    let accounts = accounts("10/s");
    let sim = Simulator::start(common::green::simulator_config(accounts))
        .await
        .unwrap();
    let (q, redis) = common::queue::fresh(QueueOptions::default()).await;
    let mut batch = jobs("green_api", "a", 0..80);
    batch.extend(jobs("green_api", "b", 1000..1080));
    q.enqueue_many(&batch).await.unwrap();
    let workers = spawn_workers(&redis, &sim, accounts);
    // Let both accounts flow, then make the provider answer `a` with 429 Retry-After: 3 for
    // the next 150 ms.
    let flowing = poll_until(Duration::from_secs(30), || {
        sim.report().accounts["a"].accepted >= 10
    })
    .await;
    if !flowing {
        common::procs::terminate(workers);
        panic!("`a` never had 10 requests accepted: {:?}", sim.report());
    }
    let forced = Duration::from_millis(150);
    sim.force_429("a", Duration::from_secs(3), forced);
    // Until `a` met the 429 and has been accepted again after its 3 s.
    let resumed = poll_until(Duration::from_secs(20), || {
        let arrivals = sim.arrivals("a");
        arrivals
            .iter()
            .find(|r| r.verdict == Verdict::Forced429)
            .is_some_and(|first| {
                let end = first.at + Duration::from_secs(3);
                arrivals
                    .iter()
                    .any(|r| r.at >= end && r.verdict == Verdict::Accepted)
            })
    })
    .await;
    common::procs::terminate(workers);

    let arrivals = sim.arrivals("a");
    let first_429 = arrivals
        .iter()
        .find(|r| r.verdict == Verdict::Forced429)
        .expect("a request met the forced 429")
        .at;
    let quiet = first_429 + forced..first_429 + Duration::from_secs(3);
    let during: Vec<_> = arrivals.iter().filter(|r| quiet.contains(&r.at)).collect();
    assert!(
        during.is_empty(),
        "{} requests for `a` within 3 s of its 429: {:?}",
        during.len(),
        during
            .iter()
            .map(|r| r.at.duration_since(first_429))
            .collect::<Vec<_>>()
    );
    // It resumed afterwards.
    assert!(resumed, "`a` resumed after the cooldown");
    // `b` ran on at its own rate meanwhile: 10/s for most of the 3 s.
    let b_during = sim.requests_in("b", quiet.clone());
    assert!(
        b_during >= 24,
        "`b` sent {b_during} requests during `a`'s cooldown; {}",
        before_first_429(&sim, "b")
    );
    let report = sim.report();
    assert_eq!(report.accounts["a"].rate_limited, 0);
    assert_eq!(
        report.accounts["b"].rate_limited,
        0,
        "{}",
        before_first_429(&sim, "b")
    );
    // Nothing failed: the throttled jobs are waiting or done, none is dead.
    assert_eq!(q.stats().await.unwrap().dead, 0);
    sim.shutdown().await;
    common::drop_prefix(&redis.key_prefix).await;
}
