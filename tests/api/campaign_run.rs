//! A campaign run end to end through the API: created from CSV, run by workers in this process
//! against the provider simulator with the ledger on, then its status and report checked item
//! by item.

use std::time::Duration;

use bulkleave::simulator::{Faults, SimAccount, Simulator, SimulatorConfig};
use serde_json::Value;

use crate::campaigns::{api_with_db, jid, post};
use crate::common::{CANARY, InProcessWorker};
use crate::support::{TOKEN, TestApi};

/// The cookie of Kirimin account `k` in the test environment.
const K_COOKIE: &str = "session=abc";

/// Wasend `w` (session `s`) has left group 2 already; group 6228003 is gone for Kirimin `k`;
/// RyzeAPI `bad` answers 500 to everything.
async fn simulator() -> Simulator {
    let q = "1000/s".parse().unwrap();
    Simulator::start(
        SimulatorConfig::default()
            .account(
                "w",
                SimAccount::wasend("s", CANARY, q).already_left(&jid(2)),
            )
            .account(
                "k",
                SimAccount::kirimin("808080", K_COOKIE, q).not_found("6228003"),
            )
            .account(
                "bad",
                SimAccount::ryzeapi("inst2", CANARY, q).with_faults(Faults {
                    error_rate: 1.0,
                    ..Faults::default()
                }),
            ),
    )
    .await
    .unwrap()
}

/// The API with the ledger on, its providers at `sim`.
async fn world(sim: &Simulator) -> TestApi {
    let base = sim.base_url();
    api_with_db(&[
        ("BULKLEAVE__LEDGER__ENABLED", "true"),
        ("BULKLEAVE__PROVIDERS__WASEND__BASE_URL", &base),
        ("BULKLEAVE__PROVIDERS__RYZEAPI__BASE_URL", &base),
        ("BULKLEAVE__PROVIDERS__KIRIMIN__BASE_URL", &base),
        ("BULKLEAVE__ACCOUNTS__K__USER_ID", "808080"),
        ("BULKLEAVE__ACCOUNTS__BAD__PROVIDER", "ryzeapi"),
        ("BULKLEAVE__ACCOUNTS__BAD__INSTANCE", "inst2"),
        ("BULKLEAVE__ACCOUNTS__BAD__CREDENTIAL__ENV", "W_KEY"),
        ("BULKLEAVE__RETRY__MAX_ATTEMPTS", "2"),
        ("BULKLEAVE__RETRY__BASE_DELAY", "10ms"),
        ("BULKLEAVE__RETRY__MAX_DELAY", "20ms"),
    ])
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_campaign_created_by_csv_runs_and_its_report_matches_the_providers() {
    let sim = simulator().await;
    let api = world(&sim).await;
    let csv = format!(
        "provider,account,group\nwasend,w,{}\nwasend,w,{}\nkirimin,k,6228001\nkirimin,k,6228003\nryzeapi,bad,{}\n",
        jid(1),
        jid(2),
        jid(5)
    );
    let created = api
        .send(post("/v1/campaigns?id=run", "text/csv", csv))
        .await;
    assert_eq!(created.ok(201)["intake"]["accepted"], 5, "{created:?}");
    let worker = InProcessWorker::start((*api.settings).clone(), api.queue.clone());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        let status = api
            .call("GET", "/v1/campaigns/run", Some(TOKEN), None)
            .await;
        let status = status.ok(200).clone();
        if status["campaign"]["state"] == "finished" {
            break status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not finished: {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    worker.stop().await;
    assert_eq!(status["campaign"]["pending"], 0);
    assert_eq!(status["eta"]["state"], "done");
    assert_eq!(status["counts"]["dead_letters"], 1);
    assert_eq!(status["counts"]["by_outcome"]["left"], 2);

    let report = api
        .call(
            "GET",
            "/v1/campaigns/run/report?format=ndjson",
            Some(TOKEN),
            None,
        )
        .await;
    assert_eq!(report.status, 200);
    let mut got: Vec<(String, String, String, bool, bool)> = report
        .text
        .lines()
        .map(|l| {
            let i: Value = serde_json::from_str(l).unwrap();
            (
                i["account"].as_str().unwrap().to_owned(),
                i["group"].as_str().unwrap().to_owned(),
                i["outcome"].as_str().unwrap().to_owned(),
                i["success"].as_bool().unwrap(),
                i["dead_letter"].as_bool().unwrap(),
            )
        })
        .collect();
    got.sort();
    let want = [
        ("bad", jid(5), "provider_error", false, true),
        ("k", "6228001".to_owned(), "left", true, false),
        ("k", "6228003".to_owned(), "group_gone", true, false),
        ("w", jid(1), "left", true, false),
        ("w", jid(2), "already_left", true, false),
    ];
    let want: Vec<(String, String, String, bool, bool)> = want
        .into_iter()
        .map(|(a, g, o, s, d)| (a.to_owned(), g, o.to_owned(), s, d))
        .collect();
    assert_eq!(got, want);
    // The filters see the outcomes.
    let dead = api
        .call(
            "GET",
            "/v1/campaigns/run/items?outcome=provider_error",
            Some(TOKEN),
            None,
        )
        .await;
    assert_eq!(dead.ok(200)["items"].as_array().unwrap().len(), 1);
    let k = api
        .call(
            "GET",
            "/v1/campaigns/run/items?account=k&outcome=left",
            Some(TOKEN),
            None,
        )
        .await;
    assert_eq!(k.ok(200)["items"][0]["group"], "6228001");
    let answers = sim.report();
    assert_eq!(answers.accounts["w"].answers.leaves, 1);
    assert_eq!(answers.accounts["w"].answers.already_left, 1);
    assert_eq!(answers.accounts["k"].answers.group_gone, 1);
    api.cleanup().await;
    sim.shutdown().await;
}
