//! Traces and logs as a collector and a log shipper see them: real `bulkleave` processes
//! (producer and worker) export over OTLP to a receiver in this test, which decodes the
//! protobuf (`opentelemetry-proto`) over HTTP or gRPC; their JSON log lines are read from
//! standard error.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::{Span, status::StatusCode};
use prost::Message;

const GROUP: &str = "120363406289005073@g.us";
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN_ID: &str = "00f067aa0ba902b7";

/// What a receiver got: every export request, in order.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<ExportTraceServiceRequest>>>);

/// A received span with the `service.name` of the process that sent it.
#[derive(Debug, Clone)]
struct Got {
    service: String,
    span: Span,
}

impl Received {
    fn spans(&self) -> Vec<Got> {
        let requests = self.0.lock().unwrap();
        let mut spans = Vec::new();
        for request in requests.iter() {
            for resource in &request.resource_spans {
                let service = resource
                    .resource
                    .as_ref()
                    .and_then(|r| r.attributes.iter().find(|a| a.key == "service.name"))
                    .and_then(|a| text(a.value.as_ref()?.value.as_ref()?))
                    .unwrap_or_default();
                for scope in &resource.scope_spans {
                    for span in &scope.spans {
                        spans.push(Got {
                            service: service.clone(),
                            span: span.clone(),
                        });
                    }
                }
            }
        }
        spans
    }

    /// Everything received, as text (to search for secrets).
    fn dump(&self) -> String {
        format!("{:?}", self.0.lock().unwrap())
    }
}

fn text(v: &AnyValue) -> Option<String> {
    match v {
        AnyValue::StringValue(s) => Some(s.clone()),
        AnyValue::IntValue(i) => Some(i.to_string()),
        AnyValue::BoolValue(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The attribute `key` of `span` as text.
fn attr(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| text(a.value.as_ref()?.value.as_ref()?))
}

/// An OTLP/HTTP receiver (`POST /v1/traces`, protobuf); returns its base URL.
async fn http_receiver(received: Received) -> String {
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: axum::body::Bytes| {
            let received = received.clone();
            async move {
                let request = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
                received.0.lock().unwrap().push(request);
                let answer = ExportTraceServiceResponse {
                    partial_success: None,
                };
                (
                    [("content-type", "application/x-protobuf")],
                    answer.encode_to_vec(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

struct Sink(Received);

#[tonic::async_trait]
impl TraceService for Sink {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.0.0.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

/// An OTLP/gRPC receiver (the collector's `TraceService`); returns its URL.
async fn grpc_receiver(received: Received) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(Sink(received)))
            .serve_with_incoming(incoming),
    );
    format!("http://{addr}")
}

/// Runs `bulkleave ARGS` to completion with `env`; returns its standard output.
fn run(args: &[&str], env: &HashMap<String, String>) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_bulkleave"))
        .args(args)
        .env_remove("BULKLEAVE_CONFIG")
        .env("RUST_LOG", "warn")
        .envs(env)
        .output()
        .expect("run bulkleave");
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn find<'a>(spans: &'a [Got], what: &str, pred: impl Fn(&Got) -> bool) -> &'a Got {
    let found: Vec<&Got> = spans.iter().filter(|g| pred(g)).collect();
    assert_eq!(found.len(), 1, "{what}: {:#?}", names(spans));
    found[0]
}

fn names(spans: &[Got]) -> Vec<String> {
    spans
        .iter()
        .map(|g| format!("{} {}", g.service, g.span.name))
        .collect()
}

/// The children of `parent` among `spans`.
fn children<'a>(spans: &'a [Got], parent: &Span) -> Vec<&'a Got> {
    spans
        .iter()
        .filter(|g| g.span.parent_span_id == parent.span_id && g.span.trace_id == parent.trace_id)
        .collect()
}

// Multi-threaded: the receiver answers while the test waits for a process to exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_continues_the_producers_trace_and_flushes_on_sigterm() {
    let received = Received::default();
    let endpoint = http_receiver(received.clone()).await;
    let port = common::stub::fast_wasend_stub().await;
    let redis = common::redis_settings();
    let prefix = redis.key_prefix.clone();
    let base = format!("http://127.0.0.1:{port}");
    let otel = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        // Nothing is exported before the process ends: what arrives was flushed on exit.
        ("OTEL_BSP_SCHEDULE_DELAY", "600000"),
    ];
    let env = common::worker_env(&redis, &base, &otel);

    // Producer 1: the CLI. Its span is exported when it exits.
    let job_id = run(&["enqueue", "--account", "w", "--group", GROUP], &env);
    let spans = received.spans();
    let send = find(&spans, "the CLI's send span", |g| {
        g.span.name == format!("send {prefix}:jobs")
    });
    assert_eq!(send.service, "bulkleave-enqueue");
    assert_eq!(send.span.kind, SpanKind::Producer as i32);
    assert_eq!(
        attr(&send.span, "messaging.system").as_deref(),
        Some("redis")
    );
    assert_eq!(
        attr(&send.span, "messaging.operation.type").as_deref(),
        Some("send")
    );
    assert_eq!(
        attr(&send.span, "messaging.destination.name"),
        Some(format!("{prefix}:jobs"))
    );
    assert_eq!(
        attr(&send.span, "messaging.message.id"),
        Some(job_id.clone())
    );

    // Producer 2: the submission stream, with a traceparent of its own.
    let traceparent = format!("00-{TRACE_ID}-{SPAN_ID}-01");
    common::submit(
        &redis,
        &[
            ("provider", "wasend"),
            ("account", "w"),
            ("group", "120363406289005074@g.us"),
            ("traceparent", traceparent.as_str()),
        ],
    );

    let worker = common::procs::spawn_worker(&env, Stdio::null());
    let done = common::await_outcome_count(&redis, 2, Duration::from_secs(20)).await;
    assert_eq!(done, 2);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = received.spans().len();
    assert_eq!(before, 1, "the worker exported before it was stopped");
    common::procs::terminate(vec![worker]);

    let spans = received.spans();
    let worker_spans: Vec<Got> = spans
        .iter()
        .filter(|g| g.service == "bulkleave-worker")
        .cloned()
        .collect();
    assert!(!worker_spans.is_empty(), "no span flushed on SIGTERM");
    let process_name = format!("process {prefix}:jobs");
    let process = find(&worker_spans, "the CLI job's process span", |g| {
        g.span.name == process_name && attr(&g.span, "job.id").as_deref() == Some(&job_id)
    });
    let p = &process.span;
    assert_eq!(p.kind, SpanKind::Consumer as i32);
    assert_eq!(
        p.trace_id, send.span.trace_id,
        "the producer's trace continues"
    );
    assert_eq!(
        p.parent_span_id, send.span.span_id,
        "child of the send span"
    );
    for (key, value) in [
        ("messaging.system", "redis"),
        ("messaging.operation.type", "process"),
        ("messaging.message.id", job_id.as_str()),
        ("provider", "wasend"),
        ("account", "w"),
        ("job.attempt", "1"),
        ("outcome", "left"),
    ] {
        assert_eq!(attr(p, key).as_deref(), Some(value), "{key}");
    }
    // process → provider.leave → POST (client)
    let leave = children(&worker_spans, p);
    let leave = leave
        .iter()
        .find(|g| g.span.name == "provider.leave")
        .unwrap_or_else(|| panic!("provider.leave: {:#?}", names(&worker_spans)));
    assert_eq!(attr(&leave.span, "outcome").as_deref(), Some("left"));
    let http = children(&worker_spans, &leave.span);
    assert_eq!(http.len(), 1, "{:#?}", names(&worker_spans));
    let h = &http[0].span;
    assert_eq!(h.name, "POST");
    assert_eq!(h.kind, SpanKind::Client as i32);
    assert_eq!(attr(h, "http.request.method").as_deref(), Some("POST"));
    assert_eq!(attr(h, "http.response.status_code").as_deref(), Some("200"));
    assert_eq!(attr(h, "server.address").as_deref(), Some("127.0.0.1"));
    assert_eq!(attr(h, "server.port"), Some(port.to_string()));
    let url = attr(h, "url.full").unwrap();
    assert!(url.starts_with(&format!("{base}/")), "{url}");

    // The stream's submission: its traceparent is the parent of the job's span, and the
    // receive span links to it.
    let streamed = find(&worker_spans, "the streamed job's process span", |g| {
        g.span.name == process_name && attr(&g.span, "job.id").as_deref() != Some(&job_id)
    });
    assert_eq!(hex(&streamed.span.trace_id), TRACE_ID);
    assert_eq!(hex(&streamed.span.parent_span_id), SPAN_ID);
    let receive = find(&worker_spans, "the receive span", |g| {
        g.span.name == format!("receive {prefix}:submit")
    });
    assert_eq!(receive.span.kind, SpanKind::Consumer as i32);
    assert!(
        receive
            .span
            .links
            .iter()
            .any(|l| hex(&l.trace_id) == TRACE_ID && hex(&l.span_id) == SPAN_ID),
        "{:?}",
        receive.span.links
    );
    common::drop_prefix(&prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_links_to_its_first_attempt_over_grpc_and_the_green_api_token_stays_out() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    // Characters a path segment keeps (`-`, `_`, `.`) and ones it encodes (`/`, `+`): the
    // URL carries a form that is neither the raw token nor its fully encoded one.
    const TOKEN: &str = "CANARY-s3cr3t/t0k_en+9f.2c";
    let received = Received::default();
    let endpoint = grpc_receiver(received.clone()).await;
    let green = MockServer::start().await;
    let leave_path = "/waInstance1101000001/leaveGroup/CANARY-s3cr3t%2Ft0k_en%2B9f.2c";
    Mock::given(method("POST"))
        .and(path(leave_path))
        .respond_with(ResponseTemplate::new(500).set_body_string("try again"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&green)
        .await;
    Mock::given(method("POST"))
        .and(path(leave_path))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"leaveGroup": true})),
        )
        .mount(&green)
        .await;
    let redis = common::redis_settings();
    let prefix = redis.key_prefix.clone();
    let green_uri = green.uri();
    let (database, _ledger) = common::db::fresh_ledger().await;
    let env = common::worker_env(
        &redis,
        "http://127.0.0.1:9",
        &[
            (
                "BULKLEAVE__PROVIDERS__GREEN_API__BASE_URL",
                green_uri.as_str(),
            ),
            ("BULKLEAVE__ACCOUNTS__G__PROVIDER", "green_api"),
            ("BULKLEAVE__ACCOUNTS__G__INSTANCE_ID", "1101000001"),
            ("BULKLEAVE__ACCOUNTS__G__CREDENTIAL__ENV", "G_TOKEN"),
            ("BULKLEAVE__ACCOUNTS__G__QUOTA", "1000/s"),
            ("G_TOKEN", TOKEN),
            ("BULKLEAVE__RETRY__BASE_DELAY", "10ms"),
            ("BULKLEAVE__RETRY__MAX_DELAY", "20ms"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_SERVICE_NAME", "leaver"),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("BULKLEAVE__LEDGER__ENABLED", "true"),
            ("BULKLEAVE__DATABASE__URL", database.as_str()),
        ],
    );
    common::submit(
        &redis,
        &[
            ("provider", "green_api"),
            ("account", "g"),
            ("group", GROUP),
        ],
    );
    let worker = common::procs::spawn_worker(&env, Stdio::null());
    let done = common::await_outcome_count(&redis, 1, Duration::from_secs(20)).await;
    assert_eq!(done, 1);
    for _ in 0..200 {
        if received
            .spans()
            .iter()
            .any(|g| g.span.name == "ledger write")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    common::procs::terminate(vec![worker]);

    let spans = received.spans();
    assert!(
        spans.iter().all(|g| g.service == "leaver"),
        "OTEL_SERVICE_NAME"
    );
    let send = find(&spans, "the ingester's send span", |g| {
        g.span.name == format!("send {prefix}:jobs")
    });
    let receive = find(&spans, "the receive span", |g| {
        g.span.name == format!("receive {prefix}:submit")
    });
    assert_eq!(send.span.parent_span_id, receive.span.span_id);
    let attempt = |n: &str| {
        find(&spans, &format!("attempt {n}"), |g| {
            g.span.name == format!("process {prefix}:jobs")
                && attr(&g.span, "job.attempt").as_deref() == Some(n)
        })
        .span
        .clone()
    };
    let (first, second) = (attempt("1"), attempt("2"));
    for a in [&first, &second] {
        assert_eq!(a.trace_id, send.span.trace_id);
        assert_eq!(a.parent_span_id, send.span.span_id);
        assert_eq!(attr(a, "provider").as_deref(), Some("green_api"));
        assert_eq!(attr(a, "account").as_deref(), Some("g"));
    }
    assert_eq!(attr(&first, "outcome").as_deref(), Some("provider_error"));
    assert_eq!(
        first.status.as_ref().map(|s| s.code),
        Some(StatusCode::Error as i32)
    );
    assert_eq!(attr(&second, "outcome").as_deref(), Some("left"));
    assert_eq!(second.links.len(), 1, "{:?}", second.links);
    assert_eq!(second.links[0].span_id, first.span_id, "links to attempt 1");
    assert_eq!(second.links[0].trace_id, first.trace_id);
    assert!(first.links.is_empty());
    let ledger = find(&spans, "the ledger write", |g| {
        g.span.name == "ledger write"
    });
    assert_eq!(
        attr(&ledger.span, "db.system.name").as_deref(),
        Some("postgresql")
    );
    assert_eq!(
        attr(&ledger.span, "db.operation.batch.size").as_deref(),
        Some("1")
    );
    assert!(
        ledger
            .span
            .links
            .iter()
            .any(|l| l.span_id == second.span_id),
        "the ledger write links to the attempt it records: {:?}",
        ledger.span.links
    );

    let mut statuses: Vec<String> = spans
        .iter()
        .filter(|g| g.span.kind == SpanKind::Client as i32)
        .map(|g| {
            let url = attr(&g.span, "url.full").unwrap();
            assert_eq!(
                url,
                format!("{green_uri}/waInstance1101000001/leaveGroup/[redacted]")
            );
            attr(&g.span, "http.response.status_code").unwrap()
        })
        .collect();
    statuses.sort();
    assert_eq!(statuses, ["200", "500"]);
    let dump = received.dump();
    assert!(!dump.contains("s3cr3t"), "the token was exported");
    common::drop_prefix(&prefix).await;
}

#[tokio::test]
async fn json_log_lines_inside_a_job_carry_its_job_campaign_provider_and_account() {
    use wiremock::matchers::any;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let wasend = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(401).set_body_string("bad key"))
        .mount(&wasend)
        .await;
    let redis = common::redis_settings();
    let mut env = common::worker_env(&redis, &wasend.uri(), &[]);
    env.insert("RUST_LOG".into(), "info".into());
    common::submit(
        &redis,
        &[
            ("provider", "wasend"),
            ("account", "w"),
            ("group", GROUP),
            ("campaign", "spring-clean"),
        ],
    );
    let log = tempfile::NamedTempFile::new().unwrap();
    let worker = common::procs::spawn_worker(&env, Stdio::from(log.reopen().unwrap()));
    let mut paused = None;
    for _ in 0..200 {
        let text = std::fs::read_to_string(log.path()).unwrap();
        if let Some(line) = text.lines().find(|l| l.contains("account paused")) {
            paused = Some(line.to_owned());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    common::procs::terminate(vec![worker]);
    let text = std::fs::read_to_string(log.path()).unwrap();
    for line in text.lines() {
        let parsed: Result<serde_json::Value, _> = serde_json::from_str(line);
        assert!(parsed.is_ok(), "not a JSON line: {line}");
    }
    assert!(!text.contains("s3cr3t"), "a secret was logged");
    let line = paused.unwrap_or_else(|| panic!("no 'account paused' line in:\n{text}"));
    let line: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(line["level"], "WARN");
    assert_eq!(line["campaign"], "spring-clean");
    assert_eq!(line["provider"], "wasend");
    assert_eq!(line["account"], "w");
    assert!(
        line["job.id"].as_str().is_some_and(|id| !id.is_empty()),
        "{line}"
    );
    assert_eq!(line["job.attempt"], 1);
    common::drop_prefix(&redis.key_prefix).await;
}

#[test]
fn a_bad_otel_variable_refuses_to_start_and_names_it() {
    let out = Command::new(env!("CARGO_BIN_EXE_bulkleave"))
        .args(["queue", "stats"])
        .env_remove("BULKLEAVE_CONFIG")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
        .env("OTEL_TRACES_SAMPLER", "sometimes")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("OTEL_TRACES_SAMPLER: \"sometimes\" is not supported"),
        "{stderr}"
    );
}

/// The canary: accounts of three providers whose credentials are a secret (Green API's in the
/// URL path, Wasend's and RyzeAPI's in headers), plus an account with a wrong secret (401,
/// paused, its answer logged). A campaign of jobs runs with debug JSON logs, traces exported
/// and metrics served; no log line, exported span or metric carries either secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_with_secret_tokens_leaks_them_into_no_log_span_or_metric() {
    use bulkleave::simulator::{SimAccount, Simulator, SimulatorConfig};

    const WRONG: &str = "WRONG-s3cr3t-k3y-71d0";
    let quota = || "100/s".parse().unwrap();
    let sim = Simulator::start(
        SimulatorConfig::default()
            .account(
                "g",
                SimAccount::green_api("1101000001", common::CANARY, quota()),
            )
            .account(
                "w",
                SimAccount::wasend("s", common::CANARY, quota()).already_left(GROUP),
            )
            .account("r", SimAccount::ryzeapi("inst", common::CANARY, quota())),
    )
    .await
    .unwrap();
    let base = sim.base_url();
    let received = Received::default();
    let endpoint = http_receiver(received.clone()).await;
    let listen = format!("127.0.0.1:{}", common::procs::free_port());
    let redis = common::redis_settings();
    let (database, _ledger) = common::db::fresh_ledger().await;
    let mut env = common::worker_env(&redis, &base, &[]);
    for (k, v) in [
        ("BULKLEAVE__PROVIDERS__GREEN_API__BASE_URL", base.as_str()),
        ("BULKLEAVE__PROVIDERS__RYZEAPI__BASE_URL", base.as_str()),
        ("BULKLEAVE__ACCOUNTS__G__PROVIDER", "green_api"),
        ("BULKLEAVE__ACCOUNTS__G__INSTANCE_ID", "1101000001"),
        ("BULKLEAVE__ACCOUNTS__G__CREDENTIAL__ENV", "SECRET"),
        ("BULKLEAVE__ACCOUNTS__R__PROVIDER", "ryzeapi"),
        ("BULKLEAVE__ACCOUNTS__R__INSTANCE", "inst"),
        ("BULKLEAVE__ACCOUNTS__R__CREDENTIAL__ENV", "SECRET"),
        ("BULKLEAVE__ACCOUNTS__X__PROVIDER", "wasend"),
        ("BULKLEAVE__ACCOUNTS__X__SESSION_ID", "s"),
        ("BULKLEAVE__ACCOUNTS__X__CREDENTIAL__ENV", "WRONG_KEY"),
        ("BULKLEAVE__ACCOUNTS__G__QUOTA", "100/s"),
        ("BULKLEAVE__ACCOUNTS__R__QUOTA", "100/s"),
        ("BULKLEAVE__ACCOUNTS__X__QUOTA", "100/s"),
        ("SECRET", common::CANARY),
        ("WRONG_KEY", WRONG),
        ("BULKLEAVE__LEDGER__ENABLED", "true"),
        ("BULKLEAVE__DATABASE__URL", database.as_str()),
        ("BULKLEAVE__METRICS__ENABLED", "true"),
        ("BULKLEAVE__METRICS__LISTEN", listen.as_str()),
        ("BULKLEAVE__LOG__FORMAT", "json"),
        ("RUST_LOG", "debug"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ] {
        env.insert(k.to_owned(), v.to_owned());
    }
    // The campaign: every account, a group left and one already left; `x` answers 401.
    let other = "120363406289005074@g.us";
    let jobs = [
        ("green_api", "g"),
        ("wasend", "w"),
        ("ryzeapi", "r"),
        ("wasend", "x"),
    ];
    let mut expected = 0;
    for (provider, account) in jobs {
        for group in [GROUP, other] {
            common::submit(
                &redis,
                &[
                    ("provider", provider),
                    ("account", account),
                    ("group", group),
                    ("campaign", "offboard-canary"),
                ],
            );
            expected += usize::from(account != "x");
        }
    }
    let worker = common::procs::spawn_worker(&env, Stdio::piped());
    let done = common::await_outcome_count(&redis, expected as u64, Duration::from_secs(30)).await;
    assert_eq!(done as usize, expected, "every job of a good account ends");
    let scrape = reqwest::get(format!("http://{listen}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        scrape.contains("bulkleave_jobs_total") && scrape.contains("account=\"x\""),
        "the scrape covers the jobs and the paused account: {scrape}"
    );
    common::procs::signal(&worker, "TERM");
    let output = worker.wait_with_output().unwrap();
    let logs = String::from_utf8(output.stderr).unwrap();
    let spans = received.dump();

    assert!(logs.lines().count() > 20, "debug logs were written: {logs}");
    assert!(
        logs.lines()
            .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
        "JSON lines"
    );
    // The 401 paused `x`, and the line saying so is the job's: its fields and the reason.
    let paused = logs
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|l| {
            l["account"] == "x"
                && l["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("account paused"))
        })
        .unwrap_or_else(|| panic!("no 'account paused' line for x in:\n{logs}"));
    assert_eq!(paused["level"], "WARN", "{paused}");
    assert_eq!(paused["provider"], "wasend", "{paused}");
    assert_eq!(paused["campaign"], "offboard-canary", "{paused}");
    assert!(
        paused["reason"].as_str().is_some_and(|r| r.contains("401")),
        "{paused}"
    );
    assert!(
        received.spans().iter().any(|g| g.span.name == "POST"),
        "provider calls were exported"
    );
    assert!(
        spans.contains("/waInstance1101000001/leaveGroup/[redacted]"),
        "Green API's URL was exported, its token removed"
    );
    // The URL is an attribute of the exported span only, never a field of log lines (which
    // copy the fields of the spans they are logged in).
    assert!(!logs.contains("url.full"), "a URL was logged");
    assert!(!logs.contains("leaveGroup"), "Green API's URL was logged");
    for secret in [common::CANARY, WRONG] {
        assert!(!logs.contains(secret), "{secret} in a log line");
        assert!(!spans.contains(secret), "{secret} in an exported span");
        assert!(!scrape.contains(secret), "{secret} in a metric");
    }
    common::drop_prefix(&redis.key_prefix).await;
}
