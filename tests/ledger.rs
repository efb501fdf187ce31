//! The ledger on a real PostgreSQL (a database of its own per test): migrations on an empty
//! database, an outcome written once per item, the counters, discarded uploads, and the
//! append-only audit trail.

#![allow(clippy::unwrap_used)]

mod common;

use bulkleave::ledger::{AccountState, CampaignState, Change, Error, Ledger, NewItem, UploadState};
use bulkleave::queue::OutcomeRecord;

fn item(job: &str, group: &str) -> NewItem {
    NewItem {
        job_id: job.into(),
        line: Some(2),
        provider: "wasend".into(),
        account: "w".into(),
        group_ref: group.into(),
        idempotency_key: format!("k-{job}"),
        requested_by: Some("tester".into()),
    }
}

fn outcome(job: &str, campaign: Option<&str>, class: &str, success: bool) -> OutcomeRecord {
    OutcomeRecord {
        job: job.into(),
        campaign: campaign.map(str::to_owned),
        provider: "wasend".into(),
        account: "w".into(),
        group: format!("{job}@g.us"),
        class: class.into(),
        success,
        detail: format!("{class} detail"),
        attempts: 1,
        throttled: 0,
        http_status: Some(200),
        at_ms: 1_700_000_000_000,
        dead_letter: !success,
        first_attempt_ms: Some(1_699_999_999_000),
        last_error: None,
        answer: Some("HTTP 200: {}".into()),
        traceparent: None,
    }
}

#[tokio::test]
async fn migrations_apply_on_an_empty_database_and_again_as_a_no_op() {
    let url = common::db::empty_database().await;
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let ledger = Ledger::from_pool(pool.clone());
    let n = ledger.migrate().await.unwrap();
    assert!(n >= 1);
    let applied = || async {
        sqlx::query_as::<_, (i64, chrono::DateTime<chrono::Utc>)>(
            "SELECT version, installed_on FROM _sqlx_migrations ORDER BY version",
        )
        .fetch_all(&pool)
        .await
        .unwrap()
    };
    let before = applied().await;
    assert_eq!(before.len(), n);
    assert_eq!(ledger.migrate().await.unwrap(), n);
    assert_eq!(applied().await, before, "a second run applies nothing");
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT table_name::text FROM information_schema.tables
         WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations' ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let tables: Vec<&str> = tables.iter().map(|(t,)| t.as_str()).collect();
    assert_eq!(
        tables,
        ["accounts", "audit_log", "campaigns", "items", "uploads"]
    );
    let (applied,): (i64,) = sqlx::query_as("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(applied as usize, n);
}

#[tokio::test]
async fn an_outcome_is_written_once_per_item_and_the_counters_follow() {
    let (url, ledger) = common::db::fresh_ledger().await;
    ledger
        .create_campaign("c", "tester", None, true)
        .await
        .unwrap();
    let inserted = ledger
        .stage(
            Some("c"),
            None,
            &[
                item("j1", "1@g.us"),
                item("j2", "2@g.us"),
                item("j3", "2@g.us"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(inserted, ["j1", "j2"], "a target is in a campaign once");
    let c = ledger.existing_campaign("c").await.unwrap();
    assert_eq!((c.items, c.pending), (2, 2));

    // j1 delivered twice (two records in one batch and one more later): written once.
    let first = ledger
        .record(&[
            outcome("j1", Some("c"), "left", true),
            outcome("j1", Some("c"), "provider_error", false),
        ])
        .await
        .unwrap();
    assert_eq!((first.written, first.duplicates), (1, 0));
    let again = ledger
        .record(&[outcome("j1", Some("c"), "provider_error", false)])
        .await
        .unwrap();
    assert_eq!((again.written, again.duplicates), (0, 1));
    let j1 = ledger.item("j1").await.unwrap().unwrap();
    assert_eq!(
        (j1.outcome.as_deref(), j1.success),
        (Some("left"), Some(true))
    );
    assert_eq!(j1.answer.as_deref(), Some("HTTP 200: {}"));
    assert!(j1.first_attempt_at.unwrap() < j1.last_attempt_at.unwrap());

    // An outcome of a job the ledger never saw (the Redis contract) adds its item, counted
    // as done, to a campaign created on the fly.
    let seen = ledger
        .record(&[outcome("j9", Some("new"), "already_left", true)])
        .await
        .unwrap();
    assert!(seen.done.is_empty(), "it takes items until closed");
    let new = ledger.existing_campaign("new").await.unwrap();
    assert_eq!(
        (new.items, new.pending, new.created_by.as_str()),
        (1, 0, "submission")
    );

    // c ends only once closed and nothing is pending.
    assert!(ledger.end_if_done("c").await.unwrap().is_none());
    ledger.change_campaign("c", Change::Close).await.unwrap();
    assert!(
        ledger.end_if_done("c").await.unwrap().is_none(),
        "j2 is pending"
    );
    let last = ledger
        .record(&[outcome("j2", Some("c"), "provider_error", false)])
        .await
        .unwrap();
    assert_eq!(last.done, ["c"], "closed, and its last pending item is in");
    let ended = ledger.end_if_done("c").await.unwrap().expect("ends now");
    assert_eq!(ended.state, CampaignState::Finished);
    assert!(
        ledger.end_if_done("c").await.unwrap().is_none(),
        "it ends once"
    );
    let counts = ledger.counts("c").await.unwrap();
    assert_eq!(counts.by_outcome["left"], 1);
    assert_eq!(counts.dead_letters, 1);
    assert_eq!(counts.by_account["w"].succeeded, 1);
    assert_eq!(counts.by_account["w"].failed, 1);
    assert_eq!(counts.finished_last_minute, 2);
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    sqlx::query("UPDATE items SET finished_at = now() - interval '2 minutes' WHERE job_id = 'j1'")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(ledger.counts("c").await.unwrap().finished_last_minute, 1);
    // Its completion event: its ender publishes it; the outbox takes it a lease later, once.
    let minute = std::time::Duration::from_secs(60);
    let zero = std::time::Duration::ZERO;
    assert!(
        ledger
            .claim_unpublished_ends(minute, 10)
            .await
            .unwrap()
            .is_empty(),
        "its ender has a lease to publish it"
    );
    let claimed = ledger.claim_unpublished_ends(zero, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, "c");
    assert!(
        ledger
            .claim_unpublished_ends(minute, 10)
            .await
            .unwrap()
            .is_empty(),
        "claimed for a lease"
    );
    ledger.mark_published("c").await.unwrap();
    assert!(
        ledger
            .claim_unpublished_ends(zero, 10)
            .await
            .unwrap()
            .is_empty(),
        "published"
    );

    // State changes follow the table; a finished campaign refuses them.
    match ledger.change_campaign("c", Change::Pause).await {
        Err(Error::State {
            state: CampaignState::Finished,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_discarded_upload_leaves_nothing_behind() {
    let (_, ledger) = common::db::fresh_ledger().await;
    ledger
        .create_campaign("c", "tester", None, true)
        .await
        .unwrap();
    let kept = ledger.start_upload("c", "tester").await.unwrap();
    ledger
        .stage(Some("c"), Some(kept), &[item("a", "1@g.us")])
        .await
        .unwrap();
    ledger.releasing(kept, 1, 0).await.unwrap();
    ledger.mark_queued(kept, &["a".into()]).await.unwrap();
    assert!(
        ledger
            .end_upload(kept, UploadState::Released)
            .await
            .unwrap()
    );
    let failed = ledger.start_upload("c", "tester").await.unwrap();
    ledger
        .stage(
            Some("c"),
            Some(failed),
            &[item("b", "2@g.us"), item("d", "3@g.us")],
        )
        .await
        .unwrap();
    assert_eq!(ledger.staged(failed, 10).await.unwrap().len(), 2);
    assert!(
        ledger
            .end_upload(failed, UploadState::Discarded)
            .await
            .unwrap()
    );
    let c = ledger.existing_campaign("c").await.unwrap();
    assert_eq!((c.items, c.pending), (1, 1));
    assert!(ledger.item("b").await.unwrap().is_none());
    assert!(ledger.item("a").await.unwrap().is_some());
    // Ended uploads stay as they are.
    assert!(
        !ledger
            .end_upload(kept, UploadState::Discarded)
            .await
            .unwrap()
    );
    assert!(
        !ledger
            .end_upload(failed, UploadState::Released)
            .await
            .unwrap()
    );
    assert_eq!(ledger.existing_campaign("c").await.unwrap().items, 1);
}

/// Sets `column` of upload `id` `ago` in the past.
async fn age(url: &str, id: uuid::Uuid, column: &str, ago: &str) {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    sqlx::query(&format!(
        "UPDATE uploads SET {column} = now() - interval '{ago}' WHERE id = $1"
    ))
    .bind(id)
    .execute(&pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn an_upload_still_at_work_is_neither_discarded_nor_taken_over() {
    let (url, ledger) = common::db::fresh_ledger().await;
    let hour = std::time::Duration::from_secs(3600);
    let minute = std::time::Duration::from_secs(60);
    ledger
        .create_campaign("c", "tester", None, true)
        .await
        .unwrap();
    // Started two hours ago, and still staging batches.
    let long = ledger.start_upload("c", "tester").await.unwrap();
    age(&url, long, "started_at", "2 hours").await;
    age(&url, long, "touched_at", "2 hours").await;
    ledger
        .stage(Some("c"), Some(long), &[item("a", "1@g.us")])
        .await
        .unwrap();
    assert_eq!(ledger.discard_stale_uploads(hour).await.unwrap(), 0);
    ledger.releasing(long, 1, 0).await.unwrap();
    // Its release is under way: nobody takes it over…
    assert!(
        ledger
            .claim_stalled_releases(minute)
            .await
            .unwrap()
            .is_empty()
    );
    // …until it has not moved for the idle time; then one caller takes it, with its campaign.
    age(&url, long, "touched_at", "2 minutes").await;
    let stalled = ledger.claim_stalled_releases(minute).await.unwrap();
    assert_eq!(stalled, [(long, "c".to_owned())]);
    assert!(
        ledger
            .claim_stalled_releases(minute)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(ledger.existing_campaign("c").await.unwrap().items, 1);
}

#[tokio::test]
async fn a_stale_upload_is_discarded_and_its_sender_is_told() {
    let (url, ledger) = common::db::fresh_ledger().await;
    ledger
        .create_campaign("c", "tester", None, true)
        .await
        .unwrap();
    let gone = ledger.start_upload("c", "tester").await.unwrap();
    ledger
        .stage(Some("c"), Some(gone), &[item("a", "1@g.us")])
        .await
        .unwrap();
    age(&url, gone, "touched_at", "2 hours").await;
    let hour = std::time::Duration::from_secs(3600);
    assert_eq!(ledger.discard_stale_uploads(hour).await.unwrap(), 1);
    let c = ledger.existing_campaign("c").await.unwrap();
    assert_eq!((c.items, c.pending), (0, 0));
    // Its sender comes back: neither a batch nor the release goes through.
    match ledger
        .stage(Some("c"), Some(gone), &[item("b", "2@g.us")])
        .await
    {
        Err(Error::UploadGone { id, .. }) if id == gone => {}
        other => panic!("{other:?}"),
    }
    match ledger.releasing(gone, 1, 0).await {
        Err(Error::UploadGone { id, .. }) if id == gone => {}
        other => panic!("{other:?}"),
    }
    let c = ledger.existing_campaign("c").await.unwrap();
    assert_eq!((c.items, c.pending), (0, 0));
    assert!(ledger.item("b").await.unwrap().is_none());
}

#[tokio::test]
async fn the_audit_trail_is_append_only() {
    let (_, ledger) = common::db::fresh_ledger().await;
    ledger
        .audit(
            "ops",
            "campaign.cancel",
            "campaign:c",
            serde_json::json!({"requeued": 3}),
        )
        .await
        .unwrap();
    let trail = ledger.audit_trail(Some("campaign:c"), 10).await.unwrap();
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].detail["requeued"], 3);
    for sql in [
        "UPDATE audit_log SET actor = 'x'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ] {
        let err = sqlx::query(sql).execute(ledger.pool()).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(ledger.audit_trail(None, 10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn account_states_are_recorded_in_one_statement_and_only_changes_count() {
    let (url, ledger) = common::db::fresh_ledger().await;
    let state = |name, pause| AccountState {
        name,
        provider: "wasend",
        pause,
    };
    let first = [
        state("a", None),
        state("b", Some(("account_error: 401", Some(1_700_000_000_000)))),
    ];
    assert_eq!(ledger.sync_accounts(&first).await.unwrap(), 2);
    assert_eq!(ledger.sync_accounts(&first).await.unwrap(), 0, "no change");
    let later = [state("a", Some(("operator", None))), state("b", None)];
    assert_eq!(ledger.sync_accounts(&later).await.unwrap(), 2);
    assert_eq!(ledger.sync_accounts(&[]).await.unwrap(), 0);
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let rows: Vec<(String, bool, Option<String>)> =
        sqlx::query_as("SELECT name, paused, reason FROM accounts ORDER BY name")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        rows,
        [
            ("a".into(), true, Some("operator".into())),
            ("b".into(), false, None)
        ]
    );
}
