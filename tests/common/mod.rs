//! Shared helpers for integration tests: the HTTP client, provider settings pointing at a
//! local emulated provider (wiremock), and the canary secret whose absence from every output
//! the tests assert.

#![allow(dead_code)]

pub mod bench;
pub mod bullmq;
pub mod db;
pub mod green;
pub mod procs;
pub mod queue;
pub mod redis_info;
pub mod stub;

use std::time::{Duration, SystemTime};

use bulkleave::providers::OutcomeClass::{self, AlreadyLeft, GroupGone, Left};
use bulkleave::providers::http::ClientOptions;
use bulkleave::providers::{AttemptReport, HintSource, HttpClient, ProviderSettings, RetryHint};
use url::Url;

/// The only classes that count as success.
pub const SUCCESSES: [OutcomeClass; 3] = [Left, AlreadyLeft, GroupGone];

/// A credential value that must never appear in any output.
pub const CANARY: &str = "CANARY-s3cr3t-t0ken-9f2c";

/// The shared client as production builds it (small body cap to exercise truncation).
pub fn http_client() -> HttpClient {
    HttpClient::new(&ClientOptions {
        connect_timeout: Duration::from_secs(2),
        max_body_bytes: 4096,
    })
    .expect("client builds")
}

/// Provider settings pointing at `base` with a short total timeout.
pub fn provider_settings(base: &str) -> ProviderSettings {
    ProviderSettings {
        base_url: Some(Url::parse(base).expect("base URL")),
        request_timeout: Duration::from_millis(800),
    }
}

/// Asserts that the canary secret appears nowhere in the report (Debug, JSON).
pub fn assert_no_canary(report: &AttemptReport) {
    let debug = format!("{report:?}");
    let json = serde_json::to_string(report).expect("report serialises");
    let display = report.outcome.to_string();
    for text in [debug, json, display] {
        assert!(!text.contains(CANARY), "secret leaked: {text}");
        assert!(!text.contains("s3cr3t"), "secret leaked: {text}");
    }
}

/// The invariants of every report: the expected class, success exactly for the three successes
/// (in the value and its JSON), the number of requests sent, and no secret anywhere.
pub fn assert_report(name: &str, report: &AttemptReport, class: OutcomeClass, requests: usize) {
    assert_eq!(report.outcome.class(), class, "{name}: {report:?}");
    let success = SUCCESSES.contains(&class);
    assert_eq!(report.outcome.is_success(), success, "{name}: is_success");
    let v = serde_json::to_value(report).expect("report serialises");
    assert_eq!(v["outcome"]["class"], class.as_str(), "{name}: {v}");
    assert_eq!(v["outcome"]["success"], success, "{name}: {v}");
    assert_eq!(report.requests as usize, requests, "{name}: requests");
    assert_no_canary(report);
}

/// The retry hint a case expects.
#[derive(Debug, Clone, Copy)]
pub enum Hint {
    /// Not checked by this case.
    Unchecked,
    /// No hint.
    Absent,
    /// `n` seconds after the answer arrived.
    After(u64, HintSource),
    /// Exactly this instant.
    At(SystemTime, HintSource),
}

/// Checks `got` against `want`; `span` brackets when the answer arrived (before and after the
/// call).
pub fn check_hint(name: &str, got: Option<RetryHint>, want: Hint, span: (SystemTime, SystemTime)) {
    match want {
        Hint::Unchecked => {}
        Hint::Absent => assert_eq!(got, None, "{name}"),
        Hint::After(secs, source) => {
            let h = got.unwrap_or_else(|| panic!("{name}: no hint"));
            let d = Duration::from_secs(secs);
            assert_eq!(h.source, source, "{name}");
            let within = h.not_before >= span.0 + d && h.not_before <= span.1 + d;
            assert!(within, "{name}: {h:?} is not {secs}s after the answer");
        }
        Hint::At(not_before, source) => {
            assert_eq!(got, Some(RetryHint { not_before, source }), "{name}");
        }
    }
}

/// The Redis the tests use (`BULKLEAVE_TEST_REDIS_URL`, default the local one).
pub fn redis_url() -> String {
    std::env::var("BULKLEAVE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Redis settings with a key prefix of its own, so tests never see each other's keys.
pub fn redis_settings() -> bulkleave::config::RedisSettings {
    bulkleave::config::RedisSettings {
        url: bulkleave::config::SecretUrl::new(Url::parse(&redis_url()).expect("redis URL")),
        key_prefix: format!("test-{}", uuid::Uuid::now_v7().simple()),
    }
}

/// Deletes every key under `prefix` (best effort, at the end of a test or bench run), with
/// [`Queue::purge`](bulkleave::queue::Queue::purge).
pub async fn drop_prefix(prefix: &str) {
    let settings = bulkleave::config::RedisSettings {
        url: bulkleave::config::SecretUrl::new(Url::parse(&redis_url()).expect("redis URL")),
        key_prefix: prefix.to_owned(),
    };
    if let Ok(queue) =
        bulkleave::queue::Queue::connect(&settings, bulkleave::queue::QueueOptions::default()).await
    {
        let _ = queue.purge().await;
    }
}

/// How many outcomes the queue at `redis` has recorded; `None` while Redis cannot be read.
pub async fn try_outcome_count(redis: &bulkleave::config::RedisSettings) -> Option<u64> {
    let client = redis::Client::open(redis.url.expose().as_str()).ok()?;
    let mut conn = client.get_multiplexed_async_connection().await.ok()?;
    outcome_count(&mut conn, redis).await.ok()
}

/// How many outcomes the queue at `redis` has recorded, asked on `conn` (a poll that must not
/// open a connection each time).
pub async fn outcome_count(
    conn: &mut redis::aio::MultiplexedConnection,
    redis: &bulkleave::config::RedisSettings,
) -> redis::RedisResult<u64> {
    redis::cmd("XLEN")
        .arg(bulkleave::queue::Keys::new(&redis.key_prefix).outcomes())
        .query_async(conn)
        .await
}

/// Waits until the queue at `redis` has recorded `n` outcomes, or `limit` passes (also across
/// a Redis restart); returns the count seen last.
pub async fn await_outcome_count(
    redis: &bulkleave::config::RedisSettings,
    n: u64,
    limit: Duration,
) -> u64 {
    let start = std::time::Instant::now();
    loop {
        let done = try_outcome_count(redis).await.unwrap_or(0);
        if done >= n || start.elapsed() > limit {
            return done;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every record of the outcomes stream of the queue at `redis`, read in pages; panics if
/// Redis cannot be read (a final check must not pass on an empty read).
pub async fn outcomes(
    redis: &bulkleave::config::RedisSettings,
) -> Vec<bulkleave::queue::OutcomeRecord> {
    try_outcomes(redis).await.expect("outcomes stream readable")
}

/// Like [`outcomes`], but `None` while Redis cannot be read (polling across a restart).
pub async fn try_outcomes(
    redis: &bulkleave::config::RedisSettings,
) -> Option<Vec<bulkleave::queue::OutcomeRecord>> {
    let keys = bulkleave::queue::Keys::new(&redis.key_prefix);
    let client = redis::Client::open(redis.url.expose().as_str()).ok()?;
    let mut conn = client.get_multiplexed_async_connection().await.ok()?;
    let entries = read_stream(&mut conn, &keys.outcomes()).await.ok()?;
    entries
        .iter()
        .map(|entry| {
            let text: String = entry.get("outcome")?;
            Some(serde_json::from_str(&text).expect("outcome record"))
        })
        .collect()
}

/// Every entry of the stream `key` (oldest first), read in pages of 2,000.
async fn read_stream(
    conn: &mut redis::aio::MultiplexedConnection,
    key: &str,
) -> redis::RedisResult<Vec<redis::streams::StreamId>> {
    let mut entries = Vec::new();
    let mut start = "-".to_owned();
    loop {
        let page: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(key)
            .arg(&start)
            .arg("+")
            .arg("COUNT")
            .arg(2000)
            .query_async(conn)
            .await?;
        let Some(last) = page.ids.last() else {
            return Ok(entries);
        };
        start = format!("({}", last.id);
        entries.extend(page.ids);
    }
}

/// The `BULKLEAVE__*` environment every worker of the tests and benches starts from: the queue
/// at `redis` and the ledger off, plus `settings` (which may override either).
pub fn base_env(
    redis: &bulkleave::config::RedisSettings,
    settings: &[(&str, &str)],
) -> std::collections::HashMap<String, String> {
    [
        ("BULKLEAVE__REDIS__URL", redis.url.expose().as_str()),
        ("BULKLEAVE__REDIS__KEY_PREFIX", redis.key_prefix.as_str()),
        // `ledger.enabled` defaults to true: a worker would write to the default database.
        // Tests of the ledger turn it on with a database of their own.
        ("BULKLEAVE__LEDGER__ENABLED", "false"),
    ]
    .iter()
    .chain(settings)
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The `BULKLEAVE__*` environment of a worker for the queue at `redis` with one Wasend account
/// `w` (session `s`, key [`CANARY`]) whose API is at `base`, plus `extra` settings.
pub fn worker_env(
    redis: &bulkleave::config::RedisSettings,
    base: &str,
    extra: &[(&str, &str)],
) -> std::collections::HashMap<String, String> {
    let mut env = base_env(
        redis,
        &[
            ("BULKLEAVE__PROVIDERS__WASEND__BASE_URL", base),
            ("BULKLEAVE__ACCOUNTS__W__PROVIDER", "wasend"),
            ("BULKLEAVE__ACCOUNTS__W__SESSION_ID", "s"),
            ("BULKLEAVE__ACCOUNTS__W__CREDENTIAL__ENV", "W_KEY"),
            // Far above what a test sends: these tests are about the queue, not the quota.
            ("BULKLEAVE__ACCOUNTS__W__QUOTA", "100000/s"),
            ("W_KEY", CANARY),
        ],
    );
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

/// A worker pool running in this process; [`InProcessWorker::stop`] drains it.
pub struct InProcessWorker {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<bulkleave::worker::Summary, bulkleave::worker::Error>>,
}

impl InProcessWorker {
    /// Starts `bulkleave::worker::run` for `settings` on `queue`.
    pub fn start(settings: bulkleave::config::Settings, queue: bulkleave::queue::Queue) -> Self {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            bulkleave::worker::run(&settings, queue, async {
                let _ = stopped.await;
            })
            .await
        });
        InProcessWorker { stop, task }
    }

    /// Signals the stop and waits for the drain; panics if the run failed.
    pub async fn stop(self) -> bulkleave::worker::Summary {
        let _ = self.stop.send(());
        self.task.await.expect("worker task").expect("worker run")
    }
}

/// A response with `status`, `headers` and `body`, its content type sniffed from the body
/// (JSON, HTML or plain text), as providers send them.
pub fn respond(
    status: u16,
    headers: &[(&'static str, String)],
    body: &str,
) -> wiremock::ResponseTemplate {
    let mime = match body.trim_start().chars().next() {
        Some('{' | '[') => "application/json",
        Some('<') => "text/html",
        _ => "text/plain",
    };
    let mut t = wiremock::ResponseTemplate::new(status).set_body_raw(body.to_owned(), mime);
    for (k, v) in headers {
        t = t.insert_header(*k, v.as_str());
    }
    t
}

/// The invariants of a one-request report, and `detail` in the outcome's text.
pub fn check_one(name: &str, report: &AttemptReport, class: OutcomeClass, detail: &str) {
    assert_report(name, report, class, 1);
    let text = report.outcome.detail();
    assert!(text.contains(detail), "{name}: {text:?} lacks {detail:?}");
}

/// Mounts a catch-all that expects no request: anything the case did not mount (a followed
/// redirect, a wrong path, a request that should not be sent) fails verification.
pub async fn forbid_other_requests(server: &wiremock::MockServer, name: &str) {
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(wiremock::ResponseTemplate::new(418))
        .expect(0)
        .with_priority(u8::MAX)
        .named(format!("{name}: unexpected request"))
        .mount(server)
        .await;
}

/// Asserts the server received exactly `expected` (method, raw path), in order, each passing
/// `problems` (which lists what is wrong with a request), then verifies the mocks.
pub async fn assert_requests(
    server: &wiremock::MockServer,
    name: &str,
    expected: &[(&str, &str)],
    problems: RequestProblems,
) {
    let received = server.received_requests().await.expect("recording on");
    let seen: Vec<(&str, &str)> = received
        .iter()
        .map(|r| (r.method.as_str(), r.url.path()))
        .collect();
    assert_eq!(seen, expected, "{name}: requests received, in order");
    for (request, (method, path)) in received.iter().zip(expected) {
        let found = problems(request, method, path);
        assert!(found.is_empty(), "{name}: {method} {path}: {found:?}");
    }
    server.verify().await;
}

/// What is wrong with a request compared with the exact one expected (empty if exact).
pub type RequestProblems = fn(&wiremock::Request, &str, &str) -> Vec<String>;

/// A wiremock matcher for exactly the expected request: `method`, raw `path`, and whatever
/// else `problems` checks.
pub struct Exact {
    /// HTTP method.
    pub method: &'static str,
    /// Raw (percent-encoded) path.
    pub path: &'static str,
    /// The provider's checks.
    pub problems: RequestProblems,
}

impl wiremock::Match for Exact {
    fn matches(&self, request: &wiremock::Request) -> bool {
        (self.problems)(request, self.method, self.path).is_empty()
    }
}

/// Every entry of the stream `key` (oldest first), its fields as text.
pub async fn stream_entries(
    redis: &bulkleave::config::RedisSettings,
    key: &str,
) -> Vec<std::collections::BTreeMap<String, String>> {
    let client = redis::Client::open(redis.url.expose().as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    read_stream(&mut conn, key)
        .await
        .unwrap()
        .iter()
        .map(|e| {
            e.map
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        redis::from_redis_value::<String>(v.clone()).unwrap(),
                    )
                })
                .collect()
        })
        .collect()
}

/// `redis-cli XADD <prefix>:submit * <fields…>`; returns the entry id.
pub fn submit(redis: &bulkleave::config::RedisSettings, fields: &[(&str, &str)]) -> String {
    let mut cmd = std::process::Command::new("redis-cli");
    cmd.arg("-u")
        .arg(redis.url.expose().as_str())
        .arg("XADD")
        .arg(bulkleave::queue::Keys::new(&redis.key_prefix).submit())
        .arg("*");
    for (k, v) in fields {
        cmd.arg(k).arg(v);
    }
    let out = cmd.output().expect("redis-cli on PATH");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A `status` redirect answered as an account error (the URL is wrong), with the answer's
/// status kept, and `target` (where it pointed) never asked.
pub async fn check_redirect_refused(
    status: u16,
    report: &AttemptReport,
    server: &wiremock::MockServer,
    target: &wiremock::MockServer,
) {
    let name = format!("{status} redirect");
    check_one(&name, report, OutcomeClass::AccountError, "redirect");
    assert_eq!(report.answer.as_ref().map(|a| a.status), Some(status));
    server.verify().await;
    target.verify().await;
    let followed = target.received_requests().await.unwrap();
    assert!(followed.is_empty(), "{name}: followed");
}
