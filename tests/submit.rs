//! The submission contract, exercised with a non-Rust client (`redis-cli`): valid submissions
//! run, invalid ones and duplicates are answered on the rejection stream with the original
//! fields and a reason naming the field; nothing is dropped silently.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bulkleave::config::{RedisSettings, load_with_env};
use bulkleave::queue::Keys;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn rejections(redis: &RedisSettings) -> Vec<std::collections::BTreeMap<String, String>> {
    common::stream_entries(redis, &Keys::new(&redis.key_prefix).rejected()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submissions_are_enqueued_or_answered_never_dropped() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"success":true}"#))
        .mount(&server)
        .await;
    let redis = common::redis_settings();
    let env = common::worker_env(&redis, &server.uri(), &[]);
    let settings = load_with_env(None, &env).unwrap();
    let queue = bulkleave::queue::Queue::connect(&redis, settings.queue.clone())
        .await
        .unwrap();

    // Submitted before any worker runs: they wait in the stream.
    let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let ok = common::submit(
        &redis,
        &[
            ("v", "1"),
            ("provider", "wasend"),
            ("account", "w"),
            ("group", "120363406289005073@g.us"),
            ("campaign", "c-1"),
            ("requested_by", "hr-system"),
            ("traceparent", tp),
        ],
    );
    let keyed = common::submit(
        &redis,
        &[
            ("provider", "wasend"),
            ("account", "w"),
            ("group", "120363406289005074@g.us"),
            ("idempotency_key", "hr-4711"),
        ],
    );
    let dup = common::submit(
        &redis,
        &[
            ("provider", "wasend"),
            ("account", "w"),
            ("group", "120363406289005075@g.us"),
            ("idempotency_key", "hr-4711"),
        ],
    );
    let same_group = common::submit(
        &redis,
        &[
            ("provider", "wasend"),
            ("account", "w"),
            ("group", " 120363406289005073@G.US "),
        ],
    );
    let bad_group = common::submit(
        &redis,
        &[
            ("provider", "wasend"),
            ("account", "w"),
            ("group", "79001234567@c.us"),
        ],
    );
    let typo = common::submit(
        &redis,
        &[
            ("provider", "wasend"),
            ("account", "w"),
            ("grup", "120363406289005073@g.us"),
        ],
    );
    let unknown_account = common::submit(
        &redis,
        &[
            ("provider", "wasend"),
            ("account", "nobody"),
            ("group", "120363406289005076@g.us"),
        ],
    );
    let wrong_provider = common::submit(
        &redis,
        &[
            ("provider", "kirimin"),
            ("account", "w"),
            ("group", "6228482"),
        ],
    );

    let worker = common::InProcessWorker::start(settings, queue.clone());
    let start = Instant::now();
    let (mut outcomes, mut rejected) = (Vec::new(), Vec::new());
    while start.elapsed() < Duration::from_secs(20) {
        outcomes = common::outcomes(&redis).await;
        rejected = rejections(&redis).await;
        if outcomes.len() >= 2 && rejected.len() >= 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    worker.stop().await;

    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    assert!(outcomes.iter().all(|o| o.class == "left"));
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| o.campaign.as_deref() == Some("c-1"))
            .count(),
        1
    );
    let by_id: HashMap<&str, &std::collections::BTreeMap<String, String>> = rejected
        .iter()
        .map(|r| (r["submission_id"].as_str(), r))
        .collect();
    assert_eq!(rejected.len(), 6, "{rejected:#?}");
    for id in [&ok, &keyed] {
        assert!(!by_id.contains_key(id.as_str()), "{id} was accepted");
    }
    let expect = [
        (&dup, "duplicate", "idempotency_key", "hr-4711"),
        (&same_group, "duplicate", "idempotency_key", "still pending"),
        (&bad_group, "invalid", "group", "a contact"),
        (&typo, "invalid", "fields", "\"grup\" is not a field"),
        (
            &unknown_account,
            "invalid",
            "account",
            "\"nobody\" is not a configured account",
        ),
        (
            &wrong_provider,
            "invalid",
            "provider",
            "is a wasend account, not kirimin",
        ),
    ];
    for (id, code, field, reason) in expect {
        let r = by_id
            .get(id.as_str())
            .unwrap_or_else(|| panic!("no answer for {id}"));
        assert_eq!(r["code"], code, "{r:?}");
        assert_eq!(r["field"], field, "{r:?}");
        assert!(r["reason"].contains(reason), "{r:?}");
        let original: HashMap<String, String> = serde_json::from_str(&r["original"]).unwrap();
        assert!(original.contains_key("provider"), "{r:?}");
    }
    assert!(by_id[dup.as_str()].contains_key("existing_job"));
    // Everything submitted was consumed from the submission stream.
    let client = redis::Client::open(redis.url.expose().as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let left: u64 = redis::cmd("XLEN")
        .arg(Keys::new(&redis.key_prefix).submit())
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(left, 0);
    common::drop_prefix(&redis.key_prefix).await;
}

#[tokio::test]
async fn a_non_utf8_value_is_answered_naming_the_field() {
    let redis = common::redis_settings();
    let queue = bulkleave::queue::Queue::connect(&redis, Default::default())
        .await
        .unwrap();
    let client = redis::Client::open(redis.url.expose().as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: String = redis::cmd("XADD")
        .arg(queue.keys().submit())
        .arg("*")
        .arg("provider")
        .arg("wasend")
        .arg("account")
        .arg(&b"\xff\xfe"[..])
        .arg("group")
        .arg("120363406289005073@g.us")
        .query_async(&mut conn)
        .await
        .unwrap();
    let mut blocking = queue
        .blocking_connection(Duration::from_millis(100))
        .await
        .unwrap();
    let accept = |_: &bulkleave::job::LeaveJob| -> Result<(), bulkleave::job::JobError> { Ok(()) };
    let report = queue
        .ingest(&mut blocking, "t", 10, Duration::from_millis(100), &accept)
        .await
        .unwrap();
    assert_eq!(report.rejected, 1);
    let rejected = rejections(&redis).await;
    assert_eq!(rejected[0]["field"], "fields");
    assert!(
        rejected[0]["reason"].contains("\"account\" is not UTF-8"),
        "{:?}",
        rejected[0]
    );
    common::drop_prefix(&redis.key_prefix).await;
}
