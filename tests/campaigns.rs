//! Campaigns end to end: uploads into the ledger, workers running them against the provider
//! simulator, the report compared with what the providers answered item by item, pause and
//! cancel (nothing half-run), completion events, and submissions through the Redis contract
//! joining a campaign. Real Redis and PostgreSQL (own key prefix, own database per test).

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use bulkleave::campaign::Campaigns;
use bulkleave::config::{RedisSettings, Settings, load_with_env};
use bulkleave::ledger::{CampaignState, Change, Item, ItemFilter, Ledger};
use bulkleave::queue::Queue;
use bulkleave::simulator::{Faults, SimAccount, Simulator, SimulatorConfig};
use bulkleave::upload::{self, Format};
use common::InProcessWorker;
use futures_util::StreamExt;

const KIRIMIN_COOKIE: &str = "sid=CANARY-s3cr3t-t0ken-9f2c";

fn jid(i: u32) -> String {
    format!("12036340628{i:07}@g.us")
}

fn num(i: u32) -> String {
    (6_228_000 + i).to_string()
}

/// Accounts `g` (Green API), `w` (Wasend), `r` (RyzeAPI), `k` (Kirimin, no owner check) and
/// `bad` (RyzeAPI answering 500 to everything), each at `quota`; `w` has left group 2 already,
/// group 3 is gone for `k`, `r` owns group 4.
async fn simulator(quota: &str) -> Simulator {
    let q = quota.parse().unwrap();
    let c = common::CANARY;
    Simulator::start(
        SimulatorConfig::default()
            .account("g", SimAccount::green_api("1101000001", c, q))
            .account("w", SimAccount::wasend("sess1", c, q).already_left(&jid(2)))
            .account("r", SimAccount::ryzeapi("inst", c, q).owned(&jid(4)))
            .account(
                "k",
                SimAccount::kirimin("808080", KIRIMIN_COOKIE, q).not_found(&num(3)),
            )
            .account(
                "bad",
                SimAccount::ryzeapi("inst2", c, q).with_faults(Faults {
                    error_rate: 1.0,
                    ..Faults::default()
                }),
            ),
    )
    .await
    .unwrap()
}

/// (account, group).
type Target = (String, String);
/// (outcome, success, dead letter, line in the upload).
type Ending = (String, bool, bool, Option<i64>);

struct World {
    redis: RedisSettings,
    db_url: String,
    settings: Settings,
    campaigns: Campaigns,
    sim: Simulator,
}

async fn world(quota: &str) -> World {
    let redis = common::redis_settings();
    let (db_url, ledger) = common::db::fresh_ledger().await;
    let sim = simulator(quota).await;
    let base = sim.base_url();
    let env: HashMap<String, String> = [
        ("BULKLEAVE__REDIS__URL", redis.url.expose().as_str()),
        ("BULKLEAVE__REDIS__KEY_PREFIX", redis.key_prefix.as_str()),
        ("BULKLEAVE__DATABASE__URL", &db_url),
        ("BULKLEAVE__PROVIDERS__GREEN_API__BASE_URL", &base),
        ("BULKLEAVE__PROVIDERS__WASEND__BASE_URL", &base),
        ("BULKLEAVE__PROVIDERS__RYZEAPI__BASE_URL", &base),
        ("BULKLEAVE__PROVIDERS__KIRIMIN__BASE_URL", &base),
        ("BULKLEAVE__PROVIDERS__GREEN_API__QUOTA", quota),
        ("BULKLEAVE__PROVIDERS__WASEND__QUOTA", quota),
        ("BULKLEAVE__PROVIDERS__RYZEAPI__QUOTA", quota),
        ("BULKLEAVE__PROVIDERS__KIRIMIN__QUOTA", quota),
        ("BULKLEAVE__ACCOUNTS__G__PROVIDER", "green_api"),
        ("BULKLEAVE__ACCOUNTS__G__INSTANCE_ID", "1101000001"),
        ("BULKLEAVE__ACCOUNTS__G__CREDENTIAL__ENV", "SECRET"),
        ("BULKLEAVE__ACCOUNTS__W__PROVIDER", "wasend"),
        ("BULKLEAVE__ACCOUNTS__W__SESSION_ID", "sess1"),
        ("BULKLEAVE__ACCOUNTS__W__CREDENTIAL__ENV", "SECRET"),
        ("BULKLEAVE__ACCOUNTS__R__PROVIDER", "ryzeapi"),
        ("BULKLEAVE__ACCOUNTS__R__INSTANCE", "inst"),
        ("BULKLEAVE__ACCOUNTS__R__CREDENTIAL__ENV", "SECRET"),
        ("BULKLEAVE__ACCOUNTS__BAD__PROVIDER", "ryzeapi"),
        ("BULKLEAVE__ACCOUNTS__BAD__INSTANCE", "inst2"),
        ("BULKLEAVE__ACCOUNTS__BAD__CREDENTIAL__ENV", "SECRET"),
        ("BULKLEAVE__ACCOUNTS__K__PROVIDER", "kirimin"),
        ("BULKLEAVE__ACCOUNTS__K__USER_ID", "808080"),
        ("BULKLEAVE__ACCOUNTS__K__OWNER_POLICY", "unchecked"),
        ("BULKLEAVE__ACCOUNTS__K__CREDENTIAL__ENV", "COOKIE"),
        ("BULKLEAVE__RETRY__MAX_ATTEMPTS", "2"),
        ("BULKLEAVE__RETRY__BASE_DELAY", "10ms"),
        ("BULKLEAVE__RETRY__MAX_DELAY", "20ms"),
        ("BULKLEAVE__PACING__HEADROOM", "0.1"),
        ("BULKLEAVE__WORKER__CONCURRENCY", "16"),
        ("SECRET", common::CANARY),
        ("COOKIE", KIRIMIN_COOKIE),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let settings = load_with_env(None, &env).unwrap();
    let queue = Queue::connect(&settings.redis, settings.queue.clone())
        .await
        .unwrap();
    let campaigns = Campaigns::new(ledger, queue, Arc::new(settings.clone()));
    World {
        redis,
        db_url,
        settings,
        campaigns,
        sim,
    }
}

impl World {
    fn worker(&self) -> InProcessWorker {
        InProcessWorker::start(self.settings.clone(), self.campaigns.queue().clone())
    }

    fn ledger(&self) -> &Ledger {
        self.campaigns.ledger()
    }

    async fn upload(&self, id: &str, csv: &str) -> bulkleave::campaign::Intake {
        let rows = upload::read(
            Format::Csv,
            std::io::Cursor::new(csv.as_bytes().to_vec()),
            upload::Limits::default(),
        );
        self.campaigns
            .add(id, rows, "tester", |_| {})
            .await
            .unwrap()
    }

    /// Waits until campaign `id` has ended; panics after `limit`.
    async fn ended(&self, id: &str, limit: Duration) -> bulkleave::ledger::Campaign {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let c = self.ledger().existing_campaign(id).await.unwrap();
            if c.ended_at.is_some() {
                return c;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "campaign {id} did not end: {c:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn items(&self, id: &str) -> Vec<Item> {
        let mut pages = std::pin::pin!(self.campaigns.item_pages(id, ItemFilter::default()));
        let mut all = Vec::new();
        while let Some(page) = pages.next().await {
            all.extend(page.unwrap());
        }
        all
    }

    async fn events(&self) -> Vec<BTreeMap<String, String>> {
        let key = format!("{}:events", self.redis.key_prefix);
        common::stream_entries(&self.redis, &key).await
    }

    async fn finish(self) {
        common::drop_prefix(&self.redis.key_prefix).await;
        self.sim.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_mixed_campaign_runs_and_its_report_matches_the_providers_answers() {
    let w = world("1000/s").await;
    w.campaigns
        .create(Some("offboard-1"), Some("mixed"), "tester")
        .await
        .unwrap();
    let mut csv = String::from("provider,account,group\n");
    // Lines 2-5: one of each provider, group 1 (all members: left).
    csv += &format!(
        "green_api,g,{}\nwasend,w,{}\nryzeapi,r,{}\nkirimin,k,{}\n",
        jid(1),
        jid(1),
        jid(1),
        num(1)
    );
    // 6: already left; 7: group gone; 8: owner; 9: a dead letter (500s).
    csv += &format!(
        "wasend,w,{}\nkirimin,k,{}\nryzeapi,r,{}\nryzeapi,bad,{}\n",
        jid(2),
        num(3),
        jid(4),
        jid(5)
    );
    // 10-14: rejected (bad provider, unknown account, bad group, account of another provider,
    // a duplicate of line 2).
    csv += &format!(
        "telegram,g,{}\nwasend,nobody,{}\nkirimin,k,12x\nwasend,g,{}\ngreen_api,g,{}\n",
        jid(1),
        jid(1),
        jid(6),
        jid(1)
    );
    // 15: a row with too few fields.
    csv += "wasend,w\n";
    let intake = w.upload("offboard-1", &csv).await;
    assert_eq!(
        (intake.rows, intake.accepted, intake.rejected),
        (14, 8, 6),
        "{intake:?}"
    );
    let rejected: Vec<(u64, Option<&str>)> = intake
        .rejected_rows
        .iter()
        .map(|r| (r.line, r.field.as_deref()))
        .collect();
    assert_eq!(
        rejected,
        vec![
            (10, Some("provider")),
            (11, Some("account")),
            (12, Some("group")),
            (13, Some("provider")),
            (14, Some("group")),
            (15, None),
        ],
        "{:#?}",
        intake.rejected_rows
    );
    assert!(
        intake.rejected_rows[4].reason.contains("duplicate"),
        "{:?}",
        intake.rejected_rows[4]
    );

    w.campaigns.close("offboard-1", "tester").await.unwrap();
    let worker = w.worker();
    let ended = w.ended("offboard-1", Duration::from_secs(60)).await;
    worker.stop().await;
    assert_eq!(ended.state, CampaignState::Finished);
    assert_eq!((ended.items, ended.pending), (8, 0));

    let items = w.items("offboard-1").await;
    let got: BTreeMap<Target, Ending> = items
        .iter()
        .map(|i| {
            (
                (i.account.clone(), i.group_ref.clone()),
                (
                    i.outcome.clone().unwrap(),
                    i.success.unwrap(),
                    i.dead_letter,
                    i.line,
                ),
            )
        })
        .collect();
    let want: BTreeMap<Target, Ending> = [
        ("g", jid(1), "left", true, false, 2),
        ("w", jid(1), "left", true, false, 3),
        ("r", jid(1), "left", true, false, 4),
        ("k", num(1), "left", true, false, 5),
        ("w", jid(2), "already_left", true, false, 6),
        ("k", num(3), "group_gone", true, false, 7),
        ("r", jid(4), "owner_cannot_leave", false, true, 8),
        ("bad", jid(5), "provider_error", false, true, 9),
    ]
    .into_iter()
    .map(|(a, g, o, s, d, l)| ((a.to_owned(), g), (o.to_owned(), s, d, Some(l))))
    .collect();
    assert_eq!(got, want);
    for item in &items {
        assert!(
            item.first_attempt_at.is_some() && item.last_attempt_at.is_some(),
            "{item:?}"
        );
        assert!(
            item.answer
                .as_deref()
                .is_some_and(|a| a.starts_with("HTTP ")),
            "{item:?}"
        );
        for text in [&item.detail, &item.answer, &item.last_error] {
            assert!(
                !text.as_deref().unwrap_or("").contains("CANARY"),
                "{item:?}"
            );
        }
    }
    let bad = &items.iter().find(|i| i.account == "bad").unwrap();
    assert_eq!(bad.attempts, 2, "{bad:?}");
    assert!(
        bad.last_error.as_deref().unwrap_or("").contains("500"),
        "{bad:?}"
    );

    // What the providers say they did, per account, against the ledger.
    let report = w.sim.report();
    let answers = |a: &str| report.accounts[a].answers;
    assert_eq!(answers("g").leaves, 1);
    assert_eq!(answers("k").group_gone, 1);
    assert_eq!(answers("w").leaves, 1);
    assert_eq!(answers("w").already_left, 1);
    assert_eq!(answers("r").leaves, 1);
    assert_eq!(answers("k").leaves, 1);
    assert_eq!(answers("r").owner_refused, 1);
    assert_eq!(report.accounts["bad"].faults.server_error, 2);

    let counts = w.ledger().counts("offboard-1").await.unwrap();
    assert_eq!(counts.by_outcome["left"], 4);
    assert_eq!(counts.dead_letters, 2);
    assert_eq!(counts.by_account["bad"].failed, 1);
    assert_eq!(counts.by_provider["wasend"].succeeded, 2);

    // The report as CSV: the header, then one line per item whose cells are the item's. The
    // first ten columns hold no comma or quote, so a split reads them exactly.
    use bulkleave::campaign::report::{self, CSV_HEADER};
    let csv_report: String = std::iter::once(CSV_HEADER.to_owned())
        .chain(items.iter().map(|i| report::line(i, report::Format::Csv)))
        .collect();
    let mut lines = csv_report.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').take(10).collect();
    assert_eq!(
        header,
        [
            "job_id",
            "line",
            "provider",
            "account",
            "group",
            "outcome",
            "success",
            "dead_letter",
            "attempts",
            "throttled"
        ]
    );
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').take(10).map(str::to_owned).collect())
        .collect();
    let want: Vec<Vec<String>> = items
        .iter()
        .map(|i| {
            vec![
                i.job_id.clone(),
                i.line.unwrap().to_string(),
                i.provider.clone(),
                i.account.clone(),
                i.group_ref.clone(),
                i.outcome.clone().unwrap(),
                i.success.unwrap().to_string(),
                i.dead_letter.to_string(),
                i.attempts.to_string(),
                i.throttled.to_string(),
            ]
        })
        .collect();
    assert_eq!(rows, want);
    assert_eq!(rows.len(), 8);

    let events = w.events().await;
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(e["type"], "campaign.finished");
    assert_eq!(e["campaign"], "offboard-1");
    assert_eq!(
        (
            e["items"].as_str(),
            e["succeeded"].as_str(),
            e["failed"].as_str()
        ),
        ("8", "6", "2")
    );

    let trail = w
        .ledger()
        .audit_trail(Some("campaign:offboard-1"), 10)
        .await
        .unwrap();
    let actions: Vec<&str> = trail.iter().rev().map(|a| a.action.as_str()).collect();
    assert_eq!(
        actions,
        ["campaign.create", "campaign.add", "campaign.close"]
    );
    w.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_paused_campaign_holds_its_jobs_and_resume_runs_them() {
    let w = world("1000/s").await;
    w.campaigns.create(Some("p"), None, "tester").await.unwrap();
    let csv: String = std::iter::once("provider,account,group\n".to_owned())
        .chain((1..=20).map(|i| format!("wasend,w,{}\n", jid(i))))
        .collect();
    w.campaigns
        .change("p", Change::Pause, "tester")
        .await
        .unwrap();
    assert_eq!(w.upload("p", &csv).await.accepted, 20);
    w.campaigns.close("p", "tester").await.unwrap();
    let worker = w.worker();
    // Every job comes up for admission and is held; none reaches the provider.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let stats = w.campaigns.queue().stats().await.unwrap();
        if stats.ready == 0 && stats.in_flight == 0 && stats.delayed == 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{stats:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(w.sim.report().accounts["w"].requests.total, 0);
    let c = w.ledger().existing_campaign("p").await.unwrap();
    assert_eq!((c.state, c.pending), (CampaignState::Paused, 20));

    w.campaigns
        .change("p", Change::Resume, "tester")
        .await
        .unwrap();
    let ended = w.ended("p", Duration::from_secs(30)).await;
    worker.stop().await;
    assert_eq!(ended.state, CampaignState::Finished);
    let answers = w.sim.report().accounts["w"].answers;
    // Wasend account `w` had left group 2 before.
    assert_eq!((answers.leaves, answers.already_left), (19, 1));
    w.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancelling_drops_pending_jobs_and_never_cuts_one_off() {
    // 10 leaves a second, 200 ms per answer: the cancel comes while some are in flight.
    let w = world("10/s").await;
    w.sim.set_faults(
        Some("r"),
        Faults {
            latency_ms: 200,
            ..Faults::default()
        },
    );
    w.campaigns.create(Some("c"), None, "tester").await.unwrap();
    let csv: String = std::iter::once("provider,account,group\n".to_owned())
        // Groups 100 and up: plain memberships (`r` owns group 4).
        .chain((100..160).map(|i| format!("ryzeapi,r,{}\n", jid(i))))
        .collect();
    assert_eq!(w.upload("c", &csv).await.accepted, 60);
    let worker = w.worker();
    // Cancel once some have left (at 10/s the rest take seconds more).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while w.sim.report().accounts["r"].answers.leaves < 3 {
        assert!(tokio::time::Instant::now() < deadline, "no leave yet");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    w.campaigns
        .change("c", Change::Cancel, "tester")
        .await
        .unwrap();
    let ended = w.ended("c", Duration::from_secs(30)).await;
    worker.stop().await;
    assert_eq!(ended.state, CampaignState::Cancelled);

    let items = w.items("c").await;
    let cancelled = items
        .iter()
        .filter(|i| i.outcome.as_deref() == Some("cancelled"))
        .count();
    let left = items
        .iter()
        .filter(|i| i.outcome.as_deref() == Some("left"))
        .count();
    let other: Vec<&Item> = items
        .iter()
        .filter(|i| !matches!(i.outcome.as_deref(), Some("cancelled" | "left")))
        .collect();
    assert_eq!(
        cancelled + left,
        60,
        "every item is either run or dropped: {other:#?}"
    );
    assert!(
        left > 0 && cancelled > 0,
        "left {left}, cancelled {cancelled}"
    );
    // Every item that was run reached the provider once; no dropped one did.
    let report = w.sim.report();
    assert_eq!(report.accounts["r"].requests.leave as usize, left);
    assert_eq!(report.accounts["r"].answers.leaves as usize, left);

    let events = w.events().await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["type"], "campaign.cancelled");
    assert_eq!(events[0]["cancelled"], cancelled.to_string());
    // A cancelled campaign takes nothing more, and cannot be resumed.
    match w.campaigns.change("c", Change::Resume, "tester").await {
        Err(bulkleave::campaign::Error::Ledger(bulkleave::ledger::Error::State {
            state: CampaignState::Cancelled,
            action: "resume",
            ..
        })) => {}
        other => panic!("{other:?}"),
    }
    w.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn submissions_through_the_redis_contract_join_their_campaign() {
    let w = world("1000/s").await;
    for i in 1..=3 {
        let group = jid(i);
        let fields = [
            ("provider", "wasend"),
            ("account", "w"),
            ("group", group.as_str()),
            ("campaign", "from-hr"),
            ("requested_by", "hr-system"),
        ];
        common::submit(&w.redis, &fields);
    }
    let worker = w.worker();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let campaign = loop {
        if let Some(c) = w.ledger().campaign("from-hr").await.unwrap()
            && c.items == 3
            && c.pending == 0
        {
            break c;
        }
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(campaign.created_by, "submission");
    assert!(
        campaign.accepting,
        "a contract campaign takes items until closed"
    );
    assert!(w.events().await.is_empty());
    w.campaigns.close("from-hr", "tester").await.unwrap();
    let ended = w.ended("from-hr", Duration::from_secs(10)).await;
    worker.stop().await;
    assert_eq!(ended.state, CampaignState::Finished);
    let events = w.events().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["succeeded"], "3");
    // A late joiner is refused with the reason.
    let late = jid(9);
    let fields = [
        ("provider", "wasend"),
        ("account", "w"),
        ("group", late.as_str()),
        ("campaign", "from-hr"),
    ];
    common::submit(&w.redis, &fields);
    let queue = w.campaigns.queue();
    let mut blocking = queue
        .blocking_connection(Duration::from_millis(100))
        .await
        .unwrap();
    let accept_all = |_: &bulkleave::job::LeaveJob| Ok(());
    let report = queue
        .ingest(
            &mut blocking,
            "test",
            10,
            Duration::from_millis(100),
            &accept_all,
        )
        .await
        .unwrap();
    assert_eq!(report.rejected, 1, "{report:?}");
    let key = format!("{}:rejected", w.redis.key_prefix);
    let rejected = common::stream_entries(&w.redis, &key).await;
    assert_eq!(rejected[0]["field"], "campaign");
    assert!(
        rejected[0]["reason"].contains("takes no more items"),
        "{rejected:?}"
    );
    assert_eq!(
        w.ledger().existing_campaign("from-hr").await.unwrap().items,
        3
    );
    w.finish().await;
}

/// A closed campaign with its one item recorded but not ended, as a ledger writer leaves it
/// when it stops between writing the last outcomes and ending the campaign.
async fn done_but_not_ended(w: &World, id: &str) {
    let ledger = w.ledger();
    ledger
        .create_campaign(id, "tester", None, true)
        .await
        .unwrap();
    let job = bulkleave::job::JobId::new().to_string();
    let item = bulkleave::ledger::NewItem {
        job_id: job.clone(),
        line: None,
        provider: "wasend".into(),
        account: "w".into(),
        group_ref: jid(1),
        idempotency_key: format!("k-{job}"),
        requested_by: None,
    };
    ledger.stage(Some(id), None, &[item]).await.unwrap();
    ledger.change_campaign(id, Change::Close).await.unwrap();
    let record = bulkleave::queue::OutcomeRecord {
        job,
        campaign: Some(id.into()),
        provider: "wasend".into(),
        account: "w".into(),
        group: jid(1),
        class: "left".into(),
        success: true,
        detail: "left".into(),
        attempts: 1,
        throttled: 0,
        http_status: Some(200),
        at_ms: 1_700_000_000_000,
        dead_letter: false,
        first_attempt_ms: None,
        last_error: None,
        answer: None,
        traceparent: None,
    };
    let recorded = ledger.record([&record]).await.unwrap();
    assert_eq!(recorded.done, [id]);
    // The writer stops here. The batch, delivered again, is all duplicates: it ends nothing.
    let again = ledger.record([&record]).await.unwrap();
    assert!(again.done.is_empty(), "{again:?}");
    assert_eq!(ledger.existing_campaign(id).await.unwrap().ended_at, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_campaign_left_unended_by_a_stopped_writer_is_ended_by_housekeeping() {
    let w = world("1000/s").await;
    done_but_not_ended(&w, "orphan").await;
    let stop = tokio_util::sync::CancellationToken::new();
    let writer = tokio::spawn(bulkleave::campaign::recorder::run(
        w.campaigns.clone(),
        w.campaigns.queue().clone(),
        "test-writer".into(),
        bulkleave::campaign::recorder::RecorderOptions::default(),
        stop.clone(),
    ));
    let ended = w.ended("orphan", Duration::from_secs(10)).await;
    stop.cancel();
    writer.await.unwrap();
    assert_eq!(ended.state, CampaignState::Finished);
    let events = w.events().await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        (events[0]["type"].as_str(), events[0]["campaign"].as_str()),
        ("campaign.finished", "orphan")
    );
    w.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_completion_event_is_published_once_by_concurrent_housekeeping() {
    let w = world("1000/s").await;
    w.ledger()
        .create_campaign("once", "tester", None, false)
        .await
        .unwrap();
    // Ended by a writer that is publishing its event right now: the outbox leaves it alone.
    assert!(w.ledger().end_if_done("once").await.unwrap().is_some());
    assert_eq!(w.campaigns.publish_pending_events().await.unwrap(), 0);
    assert!(w.events().await.is_empty());

    // That writer stopped long ago: the outbox publishes the event, once, however many
    // workers' housekeeping run at the same time.
    let db = sqlx::PgPool::connect(&w.db_url).await.unwrap();
    sqlx::query("UPDATE campaigns SET ended_at = ended_at - interval '2 minutes'")
        .execute(&db)
        .await
        .unwrap();
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let campaigns = w.campaigns.clone();
            tokio::spawn(async move { campaigns.publish_pending_events().await.unwrap() })
        })
        .collect();
    let mut published = 0;
    for run in runs {
        published += run.await.unwrap();
    }
    assert_eq!(published, 1);
    assert_eq!(w.campaigns.publish_pending_events().await.unwrap(), 0);
    let events = w.events().await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["campaign"], "once");
    w.finish().await;
}
