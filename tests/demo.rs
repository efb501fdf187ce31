//! `bulkleave demo`: the README's first command. The shortened scenario runs through the built
//! binary on its embedded defaults, with every server the environment names unreachable, and
//! its report must match the scenario item by item; the same demo on a given Redis leaves no
//! key behind.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use bulkleave::demo::scenario::Scenario;

/// Outcome counts per account that the quick scenario plants.
fn planted() -> BTreeMap<String, BTreeMap<String, u64>> {
    let mut want: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for (account, _, _, expect) in Scenario::quick().items() {
        let class = expect.class().unwrap_or("pending").to_owned();
        *want
            .entry(account.to_owned())
            .or_default()
            .entry(class)
            .or_default() += 1;
    }
    want
}

fn outcomes(report: &serde_json::Value) -> BTreeMap<String, BTreeMap<String, u64>> {
    report["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let counts = a["outcomes"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
                .collect();
            (a["account"].as_str().unwrap().to_owned(), counts)
        })
        .collect()
}

#[test]
fn the_quick_demo_runs_on_embedded_defaults_and_its_report_is_right() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("report.csv");
    // Nothing from the environment is used: servers it names are unreachable.
    let out = Command::new(env!("CARGO_BIN_EXE_bulkleave"))
        .args(["demo", "--quick", "--json", "--progress", "off", "--report"])
        .arg(&csv)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("BULKLEAVE__REDIS__URL", "redis://127.0.0.1:1")
        .env(
            "BULKLEAVE__DATABASE__URL",
            "postgres://nobody@127.0.0.1:1/none",
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    let checks = report["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 5, "{checks:?}");
    for check in checks {
        assert_eq!(check["passed"], true, "{check}");
    }
    assert_eq!(outcomes(&report), planted());

    let items = Scenario::quick().items();
    let storm = &report["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account"] == "acme_green")
        .unwrap();
    assert!(storm["forced_429"].as_u64().unwrap() > 0, "{storm}");
    assert!(storm["throttled"].as_u64().unwrap() > 0, "{storm}");
    let old = report["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account"] == "acme_wasend_old")
        .unwrap();
    assert!(old["paused"].as_str().unwrap().contains("401"), "{old}");
    assert_eq!(old["requests"], 1, "{old}");

    // The CSV report: the production header and one row per item, its group and outcome.
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        format!("{}\n", lines.next().unwrap()),
        bulkleave::campaign::report::CSV_HEADER
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), items.len());
    for (account, _, group, expect) in &items {
        let row = rows
            .iter()
            .find(|r| r.contains(&format!(",{account},{group},")))
            .unwrap_or_else(|| panic!("{account} {group} not in the report"));
        let outcome = expect.class().unwrap_or("pending");
        assert!(
            row.contains(&format!(",{group},{outcome},")),
            "{row}: expected {outcome:?}"
        );
    }
    // The fake credentials stay out of the report.
    for secret in [
        "demo-green-token",
        "demo-wasend-key",
        "demo-ryze-token",
        "demo-kirimin-session",
    ] {
        assert!(!text.contains(secret), "{secret} in the CSV report");
        assert!(!stderr.contains(secret), "{secret} on standard error");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_demo_on_a_given_redis_leaves_no_key_behind() {
    let url = common::redis_url();
    let report = bulkleave::demo::run(bulkleave::demo::Options {
        quick: true,
        redis_url: Some(url.clone()),
        display: bulkleave::demo::Display::Off,
        report_file: None,
    })
    .await
    .unwrap();
    assert!(report.passed(), "{}", bulkleave::demo::render(&report));
    assert!(
        report.keys_removed > 0,
        "the demo wrote nothing to the Redis it was given"
    );
    assert!(
        report.key_prefix.starts_with("demo-"),
        "{}",
        report.key_prefix
    );
    let prefix = format!("{}:*", report.key_prefix);
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(&prefix)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(keys.is_empty(), "left behind: {keys:?}");
}
