//! `bulkleave enqueue`, `queue stats`, `dlq list` and `dlq requeue` through the binary, on a
//! real Redis.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Output};

use bulkleave::config::RedisSettings;
use bulkleave::queue::{DeadInfo, Delivery, Hold, OutcomeRecord, Queue};

fn run(redis: &RedisSettings, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bulkleave"))
        .args(args)
        .env_remove("BULKLEAVE_CONFIG")
        .env("BULKLEAVE__REDIS__URL", redis.url.expose().as_str())
        .env("BULKLEAVE__REDIS__KEY_PREFIX", &redis.key_prefix)
        .env("BULKLEAVE__ACCOUNTS__W__PROVIDER", "wasend")
        .env("BULKLEAVE__ACCOUNTS__W__SESSION_ID", "s")
        .env("BULKLEAVE__ACCOUNTS__W__CREDENTIAL__ENV", "W_KEY")
        .env("W_KEY", common::CANARY)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[tokio::test]
async fn enqueue_stats_list_and_requeue() {
    let redis = common::redis_settings();
    let queue = Queue::connect(&redis, Default::default()).await.unwrap();
    let group = "120363406289005073@g.us";
    let id = stdout(&run(
        &redis,
        &[
            "enqueue",
            "--account",
            "w",
            "--group",
            group,
            "--campaign",
            "c1",
        ],
    ));
    let id = id.trim();
    // The same request again is a duplicate: same id printed, nothing added.
    assert_eq!(
        stdout(&run(
            &redis,
            &["enqueue", "--account", "w", "--group", group]
        ))
        .trim(),
        id
    );
    let bad = run(
        &redis,
        &["enqueue", "--account", "w", "--group", "79001234567@c.us"],
    );
    assert_eq!(bad.status.code(), Some(64));
    let stats: serde_json::Value =
        serde_json::from_str(&stdout(&run(&redis, &["queue", "stats"]))).unwrap();
    assert_eq!(stats["ready"], 1);

    // Dead-letter it by hand, as a worker would after its attempts.
    let mut conn = queue
        .blocking_connection(std::time::Duration::from_millis(100))
        .await
        .unwrap();
    let d: Delivery = queue
        .fetch(&mut conn, "t", 1, std::time::Duration::from_millis(100))
        .await
        .unwrap()
        .remove(0);
    let info = DeadInfo {
        reason: "attempts exhausted (5 of 5): provider_error: HTTP 502".into(),
        at_ms: 1,
        history: vec![],
        poison: false,
    };
    let record =
        OutcomeRecord::new(&d.job, "provider_error", false, &info.reason, None).dead_lettered();
    queue.finish(&d, &record, Some(&info)).await.unwrap();

    let listed = stdout(&run(&redis, &["dlq", "list"]));
    let line: serde_json::Value = serde_json::from_str(listed.lines().next().unwrap()).unwrap();
    assert_eq!(line["id"], id);
    assert_eq!(line["info"]["reason"], info.reason);
    assert_eq!(line["job"]["campaign"], "c1");
    assert!(!listed.contains("s3cr3t"));

    let requeued = stdout(&run(&redis, &["dlq", "requeue", id, "no-such-job"]));
    assert_eq!(
        requeued,
        format!("{id}: requeued\nno-such-job: not a dead letter\n")
    );
    let stats: serde_json::Value =
        serde_json::from_str(&stdout(&run(&redis, &["queue", "stats"]))).unwrap();
    assert_eq!(
        (stats["ready"].as_u64(), stats["dead"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(
        stdout(&run(&redis, &["dlq", "requeue", "--all"])),
        "requeued 0\n"
    );
    let usage = run(&redis, &["dlq", "requeue"]);
    assert_eq!(usage.status.code(), Some(2), "ids or --all are required");
    common::drop_prefix(&redis.key_prefix).await;
}

/// A single job for a closed or cancelled campaign is refused like any invalid argument
/// (exit code 64, naming `--campaign`), and nothing is queued; an open campaign takes one.
#[tokio::test]
async fn enqueue_refuses_a_closed_or_cancelled_campaign() {
    let redis = common::redis_settings();
    let queue = Queue::connect(&redis, Default::default()).await.unwrap();
    queue.close_campaign("shut").await.unwrap();
    queue.hold_campaign("gone", Hold::Cancel).await.unwrap();
    for (campaign, group) in [
        ("shut", "120363406289005073@g.us"),
        ("gone", "120363406289005074@g.us"),
    ] {
        let out = run(
            &redis,
            &[
                "enqueue",
                "--account",
                "w",
                "--group",
                group,
                "--campaign",
                campaign,
            ],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{campaign}: {out:?}");
        assert!(
            stderr.contains(&format!(
                "--campaign: campaign {campaign:?} takes no more items (closed or cancelled)"
            )),
            "{stderr}"
        );
        assert!(out.stdout.is_empty(), "{out:?}");
    }
    assert_eq!(queue.stats().await.unwrap().ready, 0);
    let group = "120363406289005075@g.us";
    stdout(&run(
        &redis,
        &[
            "enqueue",
            "--account",
            "w",
            "--group",
            group,
            "--campaign",
            "open",
        ],
    ));
    assert_eq!(queue.stats().await.unwrap().ready, 1);
    common::drop_prefix(&redis.key_prefix).await;
}
