//! Injected faults (every one a provider error for every provider, latency and slow bodies
//! that only delay), forced 429 windows, and the admin endpoints.

use std::time::{Duration, Instant, SystemTime};

use bulkleave::providers::HintSource;
use bulkleave::providers::Outcome;
use bulkleave::providers::OutcomeClass::{AlreadyLeft, Left, ProviderError, RetryLater};
use bulkleave::simulator::{Faults, SimAccount, Simulator, SimulatorConfig, Verdict};

use crate::common::{CANARY, Hint, assert_report, check_hint};
use crate::harness::{self, jid, leave, q, ryze, wasend};

#[tokio::test]
async fn injected_faults_are_provider_errors_for_every_provider() {
    let sim = Simulator::start(harness::one_account_each(q("1000/s")))
        .await
        .unwrap();
    let adapters = harness::one_of_each(&sim);
    let faults = [
        ("500", Faults::default().with_error_rate(1.0)),
        ("malformed", Faults::default().with_malformed_rate(1.0)),
        ("timeout", Faults::default().with_timeout_rate(1.0)),
        (
            "slow body",
            Faults::default().with_slow_bodies(1.0, Duration::from_secs(3)),
        ),
    ];
    for (fault, faults) in faults {
        for (name, adapter, group_id) in &adapters {
            sim.set_faults(Some(*name), faults);
            let started = Instant::now();
            let r = leave(adapter, group_id).await;
            assert_eq!(r.outcome.class(), ProviderError, "{fault} {name}: {r:?}");
            assert!(started.elapsed() < Duration::from_secs(2), "{fault} {name}");
            sim.set_faults(Some(*name), Faults::default());
        }
    }
    let report = sim.report();
    for (name, _, _) in &adapters {
        let f = report.accounts[*name].faults;
        assert_eq!(
            (f.server_error, f.malformed, f.timeout, f.slow_body),
            (1, 1, 1, 1),
            "{name}"
        );
    }
    // A malformed answer hid a leave that happened: Wasend's second attempt finds it done.
    let (_, w, group_id) = &adapters[1];
    assert_report("after malformed", &leave(w, group_id).await, AlreadyLeft, 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn latency_and_slow_bodies_delay_without_failing() {
    let config = SimulatorConfig::default()
        .account("w", SimAccount::wasend("sess1", CANARY, q("100/s")))
        .faults(
            Faults::default().with_latency(Duration::from_millis(300), Duration::from_millis(50)),
        );
    let sim = Simulator::start(config).await.unwrap();
    let w = wasend(&sim, "sess1", CANARY);
    let started = Instant::now();
    assert_report("latency", &leave(&w, &jid(1)).await, Left, 1);
    assert!(started.elapsed() >= Duration::from_millis(300));
    sim.set_faults(
        None,
        Faults::default().with_slow_bodies(1.0, Duration::from_millis(400)),
    );
    let started = Instant::now();
    assert_report("slow body", &leave(&w, &jid(2)).await, Left, 1);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_forced_429_window_sends_retry_after_and_the_arrivals_show_it() {
    let config = SimulatorConfig::default()
        .account("r", SimAccount::ryzeapi("inst", CANARY, q("100/min")))
        .account("w", SimAccount::wasend("sess1", CANARY, q("100/min")));
    let sim = Simulator::start(config).await.unwrap();
    let t0 = Instant::now();
    sim.force_429("r", Duration::from_secs(3), Duration::from_secs(60));
    let r = ryze(&sim, "inst", CANARY);
    let sent = SystemTime::now();
    let answer = leave(&r, &jid(1)).await;
    let Outcome::RetryLater { hint, .. } = answer.outcome else {
        panic!("{answer:?}");
    };
    // Retry-After (3 s) is later than the untouched window's X-RateLimit-Reset (now).
    check_hint(
        "forced",
        hint,
        Hint::After(3, HintSource::RetryAfter),
        (sent, SystemTime::now()),
    );
    assert_report(
        "other account",
        &leave(&wasend(&sim, "sess1", CANARY), &jid(1)).await,
        Left,
        1,
    );
    let t1 = Instant::now();
    assert_eq!(sim.requests_in("r", t0..t1), 1);
    // Another request inside the forced window meets it too, and is counted in its own range.
    let again = leave(&r, &jid(2)).await;
    assert_eq!(again.outcome.class(), RetryLater, "{again:?}");
    assert_eq!(sim.requests_in("r", t1..Instant::now()), 1);
    let arrivals = sim.arrivals("r");
    assert_eq!(arrivals.len(), 2);
    assert!(
        arrivals.iter().all(|a| a.verdict == Verdict::Forced429),
        "{arrivals:?}"
    );
    let report = &sim.report().accounts["r"];
    assert_eq!(
        (report.forced_429, report.accepted, report.busiest_window),
        (2, 0, 0)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn admin_endpoints_report_set_faults_force_and_reset() {
    let config =
        SimulatorConfig::default().account("w", SimAccount::wasend("sess1", CANARY, q("100/s")));
    let sim = Simulator::start(config).await.unwrap();
    let w = wasend(&sim, "sess1", CANARY);
    let admin = harness::Admin::new(&sim);
    let post = |path, body| admin.post(path, body);
    let faults = serde_json::json!({"account": "w", "faults": {"error_rate": 1.0}});
    assert_eq!(post("faults", faults).await, 204);
    assert_eq!(leave(&w, &jid(1)).await.outcome.class(), ProviderError);
    let bad = serde_json::json!({"faults": {"error_rate": 0.7, "timeout_rate": 0.7}});
    assert_eq!(post("faults", bad).await, 400);
    let unknown = serde_json::json!({"account": "nope", "faults": {}});
    assert_eq!(post("faults", unknown).await, 404);
    assert_eq!(post("reset", serde_json::json!({})).await, 204);
    assert_report("after reset", &leave(&w, &jid(1)).await, Left, 1);
    let force = serde_json::json!({"account": "w", "retry_after_ms": 2000, "for_ms": 60000});
    assert_eq!(post("force429", force).await, 204);
    assert_eq!(leave(&w, &jid(2)).await.outcome.class(), RetryLater);
    let report: bulkleave::simulator::Report = admin.get("report").await.unwrap();
    let direct = sim.report().accounts["w"].clone();
    let served = report.accounts["w"].clone();
    assert!((served.first_request_ms.unwrap() - direct.first_request_ms.unwrap()).abs() < 1e-6);
    assert_eq!(harness::counts_only(served), harness::counts_only(direct));
    let w_report = &report.accounts["w"];
    assert_eq!(
        (
            w_report.accepted,
            w_report.forced_429,
            w_report.faults.server_error
        ),
        (1, 1, 0)
    );
    let arrivals: Vec<bulkleave::simulator::ArrivalRecord> = admin.get("arrivals/w").await.unwrap();
    let verdicts: Vec<Verdict> = arrivals.iter().map(|a| a.verdict).collect();
    assert_eq!(verdicts, [Verdict::Accepted, Verdict::Forced429]);
    assert!(arrivals[0].at_ms <= arrivals[1].at_ms);
    let missing: Result<serde_json::Value, u16> = admin.get("arrivals/nope").await;
    assert_eq!(missing.unwrap_err(), 404);
    sim.shutdown().await;
}
