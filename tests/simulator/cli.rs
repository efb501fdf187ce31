//! `bulkleave simulate` as a process, and the example configuration it ships with.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bulkleave::providers::OutcomeClass::Left;
use bulkleave::providers::Provider;
use bulkleave::simulator::{Report, SimulatorConfig};

use crate::common::assert_report;
use crate::harness::{self, jid, leave};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config/simulator.example.toml");

#[test]
fn the_example_configuration_is_valid() {
    let config = SimulatorConfig::load(std::path::Path::new(EXAMPLE)).unwrap();
    for provider in Provider::ALL {
        assert!(
            config.accounts.values().any(|a| a.provider == provider),
            "{provider}"
        );
    }
}

#[tokio::test]
async fn the_cli_prints_its_address_serves_and_reports_on_sigterm() {
    let args = [
        "--sim-config",
        EXAMPLE,
        "--listen",
        "127.0.0.1:0",
        "--report-every",
        "1",
    ];
    let mut child = harness::spawn_cli(&args);
    let (base, mut lines) = harness::address_line(&mut child).await;
    let w = harness::wasend_at(&base, "acme-main", "wasend-key");
    assert_report("through the CLI", &leave(&w, &jid(1)).await, Left, 1);
    let leaves = |line: &str| {
        let report: Report = serde_json::from_str(line).unwrap();
        report.accounts["acme_wasend"].answers.leaves
    };
    // A periodic report shows the leave (earlier ones may predate it).
    let periodic = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if leaves(&line) == 1 {
                return;
            }
        }
        panic!("standard output ended before a periodic report showed the leave");
    };
    tokio::time::timeout(Duration::from_secs(30), periodic)
        .await
        .unwrap();
    let signalled = SystemTime::now();
    harness::sigterm(&child);
    let mut last = None;
    while let Some(line) = lines.next_line().await.unwrap() {
        last = Some(line);
    }
    let status = child.wait().await.unwrap();
    assert!(status.success(), "{status:?}");
    let report: Report = serde_json::from_str(&last.unwrap()).unwrap();
    // The last line is the final report, taken after the signal (not a periodic one).
    let taken = UNIX_EPOCH
        + Duration::from_secs_f64((report.started_at_unix_ms as f64 + report.elapsed_ms) / 1000.0);
    assert!(taken >= signalled, "the last line predates SIGTERM");
    let w = &report.accounts["acme_wasend"];
    assert_eq!((w.requests.leave, w.answers.leaves), (1, 1));
}

#[tokio::test]
async fn the_cli_rejects_an_invalid_configuration() {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), "[accounts.a]\nprovider = \"wasend\"\n").unwrap();
    let path = file.path().to_str().unwrap();
    let output = harness::spawn_cli(&["--sim-config", path])
        .wait_with_output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&output.stderr).contains("invalid simulator configuration"));
}
