//! `/metrics` from the outside: a real `bulkleave worker` process runs a campaign against the
//! provider simulator at a tight quota while the test scrapes its metrics listener, then the
//! final counters are compared with what the simulator answered; the API's `/metrics` is
//! scraped through its router. Real Redis and PostgreSQL (own key prefix, own database).

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use bulkleave::api::{AppState, app};
use bulkleave::campaign::Campaigns;
use bulkleave::config::{RedisSettings, Settings, load_with_env};
use bulkleave::job::{LeaveJob, LeaveRequest};
use bulkleave::metrics::{Fleet, FleetOptions, JobMetrics, Metrics};
use bulkleave::queue::Queue;
use bulkleave::simulator::{SimAccount, Simulator, SimulatorConfig};
use bulkleave::upload::{self, Format};
use bulkleave::worker::Recording;
use http_body_util::BodyExt;
use tower::ServiceExt;

/// Jobs in the campaign: 18 memberships, 3 groups already left, 3 groups the account owns.
const JOBS: u32 = 24;
const ALREADY_LEFT: [u32; 3] = [1, 2, 3];
const OWNED: [u32; 3] = [4, 5, 6];

fn jid(i: u32) -> String {
    format!("12036340628{i:07}@g.us")
}

/// The sum of the samples of `name` whose labels include all of `labels` (0 if none).
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    samples(text, name, labels).iter().sum()
}

/// The values of the samples of `name` whose labels include all of `labels`.
fn samples(text: &str, name: &str, labels: &[(&str, &str)]) -> Vec<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, "}"));
            if metric != name {
                return None;
            }
            let pairs: Vec<(&str, &str)> = rest
                .trim_end_matches('}')
                .split(',')
                .filter(|p| !p.is_empty())
                .filter_map(|p| {
                    let (k, v) = p.split_once('=')?;
                    Some((k, v.trim_matches('"')))
                })
                .collect();
            labels
                .iter()
                .all(|l| pairs.contains(l))
                .then(|| value.parse::<f64>().unwrap())
        })
        .collect()
}

fn assert_safe(text: &str) {
    assert!(!text.contains(common::CANARY), "secret in the scrape");
    assert!(!text.contains("s3cr3t"), "secret in the scrape");
    assert!(text.ends_with("# EOF\n"), "an OpenMetrics exposition");
}

async fn simulator() -> Simulator {
    let mut account = SimAccount::ryzeapi("inst", common::CANARY, "100/s".parse().unwrap());
    for i in ALREADY_LEFT {
        account = account.already_left(&jid(i));
    }
    for i in OWNED {
        account = account.owned(&jid(i));
    }
    Simulator::start(SimulatorConfig::default().account("r", account))
        .await
        .unwrap()
}

/// The worker's environment: account `r` (RyzeAPI) at 4/s, the ledger on `db_url`, metrics
/// on `port`.
fn env(redis: &RedisSettings, db_url: &str, base: &str, port: u16) -> HashMap<String, String> {
    let listen = format!("127.0.0.1:{port}");
    [
        ("BULKLEAVE__REDIS__URL", redis.url.expose().as_str()),
        ("BULKLEAVE__REDIS__KEY_PREFIX", redis.key_prefix.as_str()),
        ("BULKLEAVE__DATABASE__URL", db_url),
        ("BULKLEAVE__LEDGER__ENABLED", "true"),
        ("BULKLEAVE__PROVIDERS__RYZEAPI__BASE_URL", base),
        ("BULKLEAVE__ACCOUNTS__R__PROVIDER", "ryzeapi"),
        ("BULKLEAVE__ACCOUNTS__R__INSTANCE", "inst"),
        ("BULKLEAVE__ACCOUNTS__R__CREDENTIAL__ENV", "SECRET"),
        ("BULKLEAVE__ACCOUNTS__R__QUOTA", "4/s"),
        ("BULKLEAVE__PACING__HEADROOM", "0.1"),
        ("BULKLEAVE__WORKER__CONCURRENCY", "8"),
        ("BULKLEAVE__METRICS__ENABLED", "true"),
        ("BULKLEAVE__METRICS__LISTEN", listen.as_str()),
        ("SECRET", common::CANARY),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// `GET /metrics` through the API's router.
async fn api_scrape(app: &axum::Router) -> String {
    let response = app
        .clone()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "public: no token needed");
    let kind = response.headers()[header::CONTENT_TYPE].to_str().unwrap();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert_safe(&text);
    text
}

/// `GET /metrics` from the worker process; `None` while it does not answer yet.
async fn worker_scrape(port: u16) -> Option<String> {
    let response = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .ok()?;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert_safe(&text);
    Some(text)
}

/// Scrapes the worker until `done` holds for a scrape; panics after `limit`.
async fn scrape_until(port: u16, limit: Duration, done: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    let mut last = None;
    while start.elapsed() < limit {
        if let Some(text) = worker_scrape(port).await {
            if done(&text) {
                return text;
            }
            last = Some(text);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("condition not met in {limit:?}; last scrape:\n{last:?}");
}

fn queue_jobs(text: &str, labels: &[(&str, &str)]) -> f64 {
    sample(text, "bulkleave_queue_jobs", labels)
}

async fn upload(campaigns: &Campaigns, id: &str) {
    campaigns.create(Some(id), None, "tester").await.unwrap();
    let mut csv = String::from("provider,account,group\n");
    for i in 1..=JOBS {
        csv += &format!("ryzeapi,r,{}\n", jid(i));
    }
    let rows = upload::read(
        Format::Csv,
        std::io::Cursor::new(csv.into_bytes()),
        upload::Limits::default(),
    );
    let intake = campaigns.add(id, rows, "tester", |_| {}).await.unwrap();
    assert_eq!(intake.accepted, u64::from(JOBS), "{intake:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_scraped_during_a_campaign_counts_quota_waits_apart_and_every_answer() {
    let redis = common::redis_settings();
    let (db_url, ledger) = common::db::fresh_ledger().await;
    let sim = simulator().await;
    let port = common::procs::free_port();
    let env = env(&redis, &db_url, &sim.base_url(), port);
    let settings: Settings = load_with_env(None, &env).unwrap();
    let queue = Queue::connect(&settings.redis, settings.queue.clone())
        .await
        .unwrap();
    let campaigns = Campaigns::new(ledger, queue.clone(), Arc::new(settings.clone()));
    let api = app(AppState::connect(Arc::new(settings.clone())).await.unwrap());

    // Before any worker: the campaign's jobs are runnable, and two jobs scheduled an hour
    // ahead wait (reason retry: nothing but time makes them run).
    upload(&campaigns, "offboard-m").await;
    let later = SystemTime::now() + Duration::from_secs(3600);
    for i in [101, 102] {
        let job = LeaveJob::new(LeaveRequest::parse("ryzeapi", "r", &jid(i)).unwrap());
        queue.enqueue(&job, Some(later)).await.unwrap();
    }
    let before = api_scrape(&api).await;
    assert_eq!(sample(&before, "bulkleave_fleet_up", &[]), 1.0);
    assert_eq!(
        queue_jobs(&before, &[("state", "runnable")]),
        f64::from(JOBS)
    );
    assert_eq!(queue_jobs(&before, &[("reason", "quota")]), 0.0);
    assert_eq!(queue_jobs(&before, &[("reason", "retry")]), 2.0);
    assert_eq!(queue_jobs(&before, &[("state", "in_flight")]), 0.0);
    let campaign = [("campaign", "offboard-m")];
    assert_eq!(sample(&before, "bulkleave_campaign_items", &campaign), 24.0);
    assert_eq!(
        sample(&before, "bulkleave_campaign_pending_items", &campaign),
        24.0
    );
    assert_eq!(
        sample(&before, "bulkleave_jobs_total", &[]),
        0.0,
        "the API runs no jobs"
    );

    // With the worker: at 4/s (3.6/s within the headroom) it books a slot for every job it
    // cannot start now; those wait for quota and are not runnable.
    let worker = common::procs::spawn_worker(&env, Stdio::inherit());
    let during = scrape_until(port, Duration::from_secs(20), |t| {
        queue_jobs(t, &[("reason", "quota")]) >= 10.0
    })
    .await;
    let runnable = queue_jobs(&during, &[("state", "runnable")]);
    assert!(
        runnable <= 3.0,
        "runnable {runnable} while the rest waits for quota:\n{during}"
    );
    assert!(sample(&during, "bulkleave_jobs_total", &[("outcome", "booked")]) >= 10.0);
    assert_eq!(queue_jobs(&during, &[("reason", "retry")]), 2.0);
    let booked = sample(
        &during,
        "bulkleave_account_booked_seconds",
        &[("account", "r")],
    );
    assert!(booked > 1.0, "slots booked {booked} s ahead");

    // Done: every job counted once by its final outcome, as the provider answered.
    let finished =
        common::await_outcome_count(&redis, u64::from(JOBS), Duration::from_secs(40)).await;
    assert_eq!(finished, u64::from(JOBS));
    let after = scrape_until(port, Duration::from_secs(20), |t| {
        sample(t, "bulkleave_campaign_pending_items", &campaign) == 0.0
            && queue_jobs(t, &[("state", "in_flight")]) == 0.0
    })
    .await;
    let report = sim.report();
    let r = &report.accounts["r"];
    let jobs = |outcome: &str| {
        sample(
            &after,
            "bulkleave_jobs_total",
            &[("outcome", outcome), ("final", "true")],
        )
    };
    assert_eq!(jobs("left"), r.answers.leaves as f64);
    assert_eq!(jobs("left"), 18.0);
    assert_eq!(jobs("already_left"), r.answers.already_left as f64);
    assert_eq!(jobs("already_left"), 3.0);
    assert_eq!(jobs("owner_cannot_leave"), r.answers.owner_refused as f64);
    assert_eq!(jobs("owner_cannot_leave"), 3.0);
    let finals = sample(&after, "bulkleave_jobs_total", &[("final", "true")]);
    assert_eq!(finals, f64::from(JOBS), "each job once");
    let labelled = [("provider", "ryzeapi"), ("account", "r")];
    assert_eq!(
        sample(&after, "bulkleave_jobs_total", &labelled),
        finals + sample(&after, "bulkleave_jobs_total", &[("final", "false")])
    );
    let status = |s: &str| {
        sample(
            &after,
            "bulkleave_provider_responses_total",
            &[("status", s), ("account", "r")],
        )
    };
    assert_eq!(
        (status("200"), status("404"), status("403")),
        (18.0, 3.0, 3.0)
    );
    assert_eq!(status("none"), 0.0);
    let requests = sample(&after, "bulkleave_provider_requests_total", &labelled);
    assert_eq!(requests, r.accepted as f64);
    assert_eq!(
        sample(
            &after,
            "bulkleave_attempt_duration_seconds_count",
            &[("provider", "ryzeapi")]
        ),
        f64::from(JOBS)
    );
    assert_eq!(
        sample(
            &after,
            "bulkleave_attempt_duration_seconds_count",
            &[("outcome", "left")]
        ),
        18.0
    );

    // The fleet now: nothing runnable, the two scheduled jobs waiting, three dead letters.
    assert_eq!(queue_jobs(&after, &[("state", "runnable")]), 0.0);
    assert_eq!(queue_jobs(&after, &[("reason", "quota")]), 0.0);
    assert_eq!(queue_jobs(&after, &[("reason", "retry")]), 2.0);
    assert_eq!(sample(&after, "bulkleave_dead_letters", &[]), 3.0);
    let account = |name: &str| sample(&after, name, &[("account", "r"), ("provider", "ryzeapi")]);
    assert_eq!(account("bulkleave_account_quota_per_second"), 4.0);
    let effective = account("bulkleave_account_effective_per_second");
    assert!((effective - 4.0 / 1.1).abs() < 0.01, "{effective}");
    assert_eq!(account("bulkleave_account_paused"), 0.0);
    assert_eq!(account("bulkleave_account_cooldown_seconds"), 0.0);
    assert_eq!(
        account("bulkleave_account_backlog_jobs"),
        2.0,
        "the scheduled jobs"
    );
    assert_eq!(account("bulkleave_account_parked_jobs"), 0.0);
    assert_eq!(account("bulkleave_account_throttled_total"), 0.0);
    // The campaign takes items until closed, so it is still under way, all items done.
    assert_eq!(sample(&after, "bulkleave_campaign_items", &campaign), 24.0);
    let by_outcome = |o: &str| {
        sample(
            &after,
            "bulkleave_campaign_outcome_items",
            &[("campaign", "offboard-m"), ("outcome", o)],
        )
    };
    assert_eq!(
        (by_outcome("left"), by_outcome("already_left")),
        (18.0, 3.0)
    );
    assert_eq!(by_outcome("owner_cannot_leave"), 3.0);

    // The API shows the same fleet, and no job counters of its own.
    let api_after = api_scrape(&api).await;
    assert_eq!(sample(&api_after, "bulkleave_dead_letters", &[]), 3.0);
    assert_eq!(queue_jobs(&api_after, &[("reason", "retry")]), 2.0);
    assert!(!api_after.contains("bulkleave_jobs_total"));

    common::procs::terminate(vec![worker]);
    sim.shutdown().await;
    common::drop_prefix(&redis.key_prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_error_shows_the_account_paused_and_its_jobs_waiting_not_runnable() {
    let redis = common::redis_settings();
    // The simulator expects another credential: every leave answers 401.
    let sim = Simulator::start(SimulatorConfig::default().account(
        "r",
        SimAccount::ryzeapi("inst", "another-token", "100/s".parse().unwrap()),
    ))
    .await
    .unwrap();
    let mut env = env(&redis, "postgres://127.0.0.1:9/unused", &sim.base_url(), 0);
    env.insert("BULKLEAVE__LEDGER__ENABLED".into(), "false".into());
    env.insert("BULKLEAVE__ACCOUNTS__R__QUOTA".into(), "1000/s".into());
    // One job at a time: the first one's attempt pauses the account before the next starts.
    env.insert("BULKLEAVE__WORKER__CONCURRENCY".into(), "1".into());
    let settings = load_with_env(None, &env).unwrap();
    let queue = Queue::connect(&settings.redis, settings.queue.clone())
        .await
        .unwrap();
    let jobs: Vec<LeaveJob> = (1..=5)
        .map(|i| LeaveJob::new(LeaveRequest::parse("ryzeapi", "r", &jid(i)).unwrap()))
        .collect();
    queue.enqueue_many(&jobs).await.unwrap();

    let fleet = Fleet::new(
        Arc::new(settings.clone()),
        queue.clone(),
        None,
        FleetOptions {
            cache_for: Duration::ZERO,
            ..FleetOptions::default()
        },
    );
    let jobs = JobMetrics::new(&settings);
    let metrics = Arc::new(Metrics::new(fleet).with_jobs(&jobs));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = {
        let (settings, queue, jobs) = (settings.clone(), queue.clone(), Some(jobs));
        tokio::spawn(async move {
            bulkleave::worker::run_with_metrics(&settings, queue, Recording::Off, jobs, async {
                let _ = stopped.await;
            })
            .await
        })
    };
    let start = Instant::now();
    let text = loop {
        let text = metrics.render().await;
        if sample(&text, "bulkleave_account_parked_jobs", &[("account", "r")]) == 5.0 {
            break text;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "not parked:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_safe(&text);
    let _ = stop.send(());
    run.await.unwrap().unwrap();

    assert_eq!(
        sample(&text, "bulkleave_account_paused", &[("account", "r")]),
        1.0
    );
    assert_eq!(queue_jobs(&text, &[("reason", "account_paused")]), 5.0);
    assert_eq!(queue_jobs(&text, &[("state", "runnable")]), 0.0);
    // The first job's attempt paused the account (and parked its job); the others were parked
    // without a request.
    let jobs = |o: &str| {
        sample(
            &text,
            "bulkleave_jobs_total",
            &[("outcome", o), ("final", "false")],
        )
    };
    assert_eq!((jobs("paused"), jobs("parked")), (1.0, 4.0));
    let unauthorized = [("status", "401"), ("account", "r")];
    assert_eq!(
        sample(&text, "bulkleave_provider_responses_total", &unauthorized),
        1.0
    );
    assert_eq!(
        sample(&text, "bulkleave_jobs_total", &[("final", "true")]),
        0.0
    );
    // No ledger in this process: no campaign gauges, and no campaign_paused reason claimed.
    assert!(!text.contains("bulkleave_campaign_"));
    assert_eq!(
        samples(
            &text,
            "bulkleave_queue_jobs",
            &[("reason", "campaign_paused")]
        ),
        Vec::<f64>::new()
    );
    sim.shutdown().await;
    common::drop_prefix(&redis.key_prefix).await;
}

#[tokio::test]
async fn metrics_turned_off_are_not_served_by_the_api() {
    let redis = common::redis_settings();
    let mut env = env(
        &redis,
        "postgres://127.0.0.1:9/unused",
        "http://127.0.0.1:9",
        0,
    );
    env.insert("BULKLEAVE__METRICS__ENABLED".into(), "false".into());
    let settings = load_with_env(None, &env).unwrap();
    assert!(!settings.metrics.enabled);
    let api = app(AppState::connect(Arc::new(settings)).await.unwrap());
    let response = api
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    common::drop_prefix(&redis.key_prefix).await;
}
