//! The Redis queue against a real Redis: enqueue and idempotency, delivery and settling,
//! leases and orphans, delayed jobs, poison messages, dead letters, and a backlog larger than
//! any single script could unpack.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, SystemTime};

use common::queue::{failure, fetch_all};

use bulkleave::job::{LeaveJob, LeaveRequest};
use bulkleave::queue::{
    Admit, DeadInfo, Delivery, Enqueued, Limits, OutcomeRecord, Queue, QueueOptions, Requeued,
};
use bulkleave::quota::QuotaPolicy;

fn job(n: u64) -> LeaveJob {
    let group = format!("{:018}@g.us", 120_363_000_000_000_000u64 + n);
    LeaveJob::new(LeaveRequest::parse("wasend", "acme", &group).unwrap())
}

async fn queue(lease: Duration) -> Queue {
    let options = QueueOptions {
        lease,
        ..QueueOptions::default()
    };
    Queue::connect(&common::redis_settings(), options)
        .await
        .unwrap()
}

fn left(d: &Delivery) -> OutcomeRecord {
    OutcomeRecord::new(&d.job, "left", true, "left the group", None)
}

async fn outcomes(q: &Queue) -> Vec<OutcomeRecord> {
    let prefix = q.keys().jobs().trim_end_matches(":jobs").to_owned();
    let redis = bulkleave::config::RedisSettings {
        url: bulkleave::config::SecretUrl::new(common::redis_url().parse().unwrap()),
        key_prefix: prefix,
    };
    common::outcomes(&redis).await
}

async fn cleanup(q: &Queue) {
    common::drop_prefix(q.keys().jobs().trim_end_matches(":jobs")).await;
}

#[tokio::test]
async fn enqueue_fetch_finish_records_the_outcome_once() {
    let q = queue(Duration::from_secs(30)).await;
    let jobs: Vec<LeaveJob> = (0..10).map(job).collect();
    let added = q.enqueue_many(&jobs).await.unwrap();
    assert!(added.iter().all(|e| *e == Enqueued::Added));
    assert_eq!(q.stats().await.unwrap().ready, 10);

    let got = fetch_all(&q, "w1", 10).await;
    assert_eq!(got.len(), 10);
    let stats = q.stats().await.unwrap();
    assert_eq!((stats.ready, stats.in_flight), (0, 10));
    for d in &got {
        assert!(q.finish(d, &left(d), None).await.unwrap());
    }
    // A second delivery of the same job (e.g. after a crash) records nothing new.
    assert!(!q.finish(&got[0], &left(&got[0]), None).await.unwrap());
    let recorded = outcomes(&q).await;
    assert_eq!(recorded.len(), 10);
    let mut ids: Vec<String> = recorded.iter().map(|r| r.job.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 10);
    assert_eq!(q.stats().await.unwrap(), Default::default());
    cleanup(&q).await;
}

#[tokio::test]
async fn duplicates_are_not_enqueued_while_pending_or_within_the_ttl() {
    let q = queue(Duration::from_secs(30)).await;
    let first = job(1);
    assert_eq!(q.enqueue(&first, None).await.unwrap(), Enqueued::Added);
    // Same request, new job id: same derived idempotency key.
    let again = LeaveJob::new(first.request.clone());
    assert_eq!(
        q.enqueue(&again, None).await.unwrap(),
        Enqueued::Duplicate {
            existing: first.id.to_string(),
            finished: false
        }
    );
    let d = fetch_all(&q, "w1", 1).await.remove(0);
    q.finish(&d, &left(&d), None).await.unwrap();
    assert_eq!(
        q.enqueue(&again, None).await.unwrap(),
        Enqueued::Duplicate {
            existing: first.id.to_string(),
            finished: true
        }
    );
    // A producer-supplied key is honoured too.
    let keyed = job(2).with_idempotency_key("order-42".parse().unwrap());
    let other = job(3).with_idempotency_key("order-42".parse().unwrap());
    assert_eq!(q.enqueue(&keyed, None).await.unwrap(), Enqueued::Added);
    assert!(matches!(
        q.enqueue(&other, None).await.unwrap(),
        Enqueued::Duplicate { .. }
    ));
    cleanup(&q).await;
}

/// A closed (or cancelled) campaign refuses new jobs in the enqueue script itself, now or
/// delayed, one or many; the items it accepted before closing (a staged upload being released)
/// still go in.
#[tokio::test]
async fn a_closed_campaign_refuses_new_jobs_but_takes_its_accepted_items() {
    let q = queue(Duration::from_secs(30)).await;
    q.close_campaign("shut").await.unwrap();
    let of = |n: u64, campaign: &str| job(n).with_campaign(campaign.parse().unwrap());
    let closed = Enqueued::CampaignClosed {
        campaign: "shut".into(),
    };
    assert_eq!(q.enqueue(&of(1, "shut"), None).await.unwrap(), closed);
    let later = SystemTime::now() + Duration::from_secs(60);
    assert_eq!(
        q.enqueue(&of(2, "shut"), Some(later)).await.unwrap(),
        closed
    );
    assert_eq!(
        q.enqueue_many(&[of(3, "shut"), of(4, "open"), job(5)])
            .await
            .unwrap(),
        [closed.clone(), Enqueued::Added, Enqueued::Added]
    );
    // Refused jobs hold no idempotency key: the same request is accepted as an item.
    assert_eq!(
        q.enqueue_accepted(&[of(1, "shut")]).await.unwrap(),
        [Enqueued::Added]
    );
    let stats = q.stats().await.unwrap();
    assert_eq!((stats.ready, stats.delayed), (3, 0));
    let refusal = bulkleave::queue::closed_campaign_error("shut");
    assert_eq!(refusal.field, "campaign");
    assert_eq!(
        refusal.rule,
        "campaign \"shut\" takes no more items (closed or cancelled)"
    );
    cleanup(&q).await;
}

#[tokio::test]
async fn delayed_jobs_wait_without_a_worker_then_run() {
    let q = queue(Duration::from_secs(30)).await;
    let later = SystemTime::now() + Duration::from_millis(600);
    q.enqueue(&job(1), Some(later)).await.unwrap();
    assert_eq!(q.stats().await.unwrap().delayed, 1);
    assert_eq!(q.promote_due().await.unwrap().moved, 0);
    let mut conn = q
        .blocking_connection(Duration::from_millis(100))
        .await
        .unwrap();
    assert!(
        q.fetch(&mut conn, "w1", 10, Duration::from_millis(50))
            .await
            .unwrap()
            .is_empty()
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(q.promote_due().await.unwrap().moved, 1);
    assert_eq!(fetch_all(&q, "w1", 1).await.len(), 1);
    cleanup(&q).await;
}

#[tokio::test]
async fn retry_goes_through_the_delayed_set_with_history() {
    let q = queue(Duration::from_secs(30)).await;
    q.enqueue(&job(1), None).await.unwrap();
    let d = fetch_all(&q, "w1", 1).await.remove(0);
    let mut next = d.job.clone();
    next.attempts.made += 1;
    let failure = failure("provider_error", Some(502));
    assert!(
        q.retry("w1", &d, &next, SystemTime::now(), &failure)
            .await
            .unwrap()
    );
    // Settling the same delivery twice does nothing the second time.
    assert!(
        !q.retry("w1", &d, &next, SystemTime::now(), &failure)
            .await
            .unwrap()
    );
    assert_eq!(q.stats().await.unwrap().delayed, 1);
    q.promote_due().await.unwrap();
    let again = fetch_all(&q, "w1", 1).await.remove(0);
    assert_eq!(again.job.id, d.job.id);
    assert_eq!(again.job.attempts.made, 1);
    assert_eq!(
        q.history(&d.job.id.to_string()).await.unwrap(),
        vec![failure]
    );
    cleanup(&q).await;
}

#[tokio::test]
async fn an_expired_lease_is_claimed_by_another_worker_and_touch_keeps_it() {
    let q = queue(Duration::from_millis(300)).await;
    q.enqueue_many(&[job(1), job(2)]).await.unwrap();
    let held = fetch_all(&q, "crashed", 2).await;
    assert_eq!(held.len(), 2);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Renew one of them only.
    q.touch("crashed", &[held[0].entry_id.clone()])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (claimed, _) = q.reclaim("rescuer", "0-0", 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].job.id, held[1].job.id);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (claimed, _) = q.reclaim("rescuer", "0-0", 10).await.unwrap();
    assert_eq!(
        claimed.len(),
        2,
        "both idle now (the rescuer did not touch its claim either)"
    );
    cleanup(&q).await;
}

#[tokio::test]
async fn released_deliveries_go_back_to_the_queue() {
    let q = queue(Duration::from_secs(30)).await;
    q.enqueue_many(&[job(1), job(2)]).await.unwrap();
    let held = fetch_all(&q, "stopping", 2).await;
    let both: Vec<(Delivery, bool)> = held.iter().map(|d| (d.clone(), false)).collect();
    assert_eq!(q.release("stopping", &both).await.unwrap(), 2);
    assert_eq!(
        q.release("stopping", &both).await.unwrap(),
        0,
        "already handed back"
    );
    let stats = q.stats().await.unwrap();
    assert_eq!((stats.ready, stats.in_flight), (2, 0));
    let again = fetch_all(&q, "next", 2).await;
    let mut ids: Vec<_> = again.iter().map(|d| d.job.id).collect();
    ids.sort();
    let mut want: Vec<_> = held.iter().map(|d| d.job.id).collect();
    want.sort();
    assert_eq!(ids, want);
    cleanup(&q).await;
}

#[tokio::test]
async fn poison_entries_are_dead_lettered_and_never_stall_the_worker() {
    let q = queue(Duration::from_secs(30)).await;
    let client = redis::Client::open(common::redis_url()).unwrap();
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    let _: String = redis::cmd("XADD")
        .arg(q.keys().jobs())
        .arg("*")
        .arg("job")
        .arg("{not json")
        .query_async(&mut raw)
        .await
        .unwrap();
    let _: String = redis::cmd("XADD")
        .arg(q.keys().jobs())
        .arg("*")
        .arg("other")
        .arg("x")
        .query_async(&mut raw)
        .await
        .unwrap();
    q.enqueue(&job(1), None).await.unwrap();
    let got = fetch_all(&q, "w1", 1).await;
    assert_eq!(got.len(), 1, "the good job still comes through");
    let dead = q.dead_letters(0, 10).await.unwrap();
    assert_eq!(dead.len(), 2);
    for d in &dead {
        let info = d.info.as_ref().unwrap();
        assert!(info.poison);
        assert!(
            info.reason.starts_with("undecodable job"),
            "{}",
            info.reason
        );
    }
    assert_eq!(
        q.requeue(&[dead[0].id.clone()]).await.unwrap(),
        vec![Requeued::Poison]
    );
    assert_eq!(
        q.stats().await.unwrap().in_flight,
        1,
        "poison entries are acknowledged"
    );
    cleanup(&q).await;
}

#[tokio::test]
async fn dead_letters_keep_history_and_requeue_with_fresh_attempts() {
    let q = queue(Duration::from_secs(30)).await;
    q.enqueue_many(&[job(1), job(2)]).await.unwrap();
    for d in fetch_all(&q, "w1", 2).await {
        // One failed attempt goes through the delayed set, the next ends in the dead letters.
        let failure = failure("provider_error", Some(502));
        let mut j = d.job.clone();
        j.attempts.made = 4;
        assert!(
            q.retry("w1", &d, &j, SystemTime::now(), &failure)
                .await
                .unwrap()
        );
    }
    q.promote_due().await.unwrap();
    for d in fetch_all(&q, "w1", 2).await {
        let mut j = d.job.clone();
        j.attempts.made = 5;
        let mut history = q.history(&j.id.to_string()).await.unwrap();
        assert_eq!(history.len(), 1);
        history.push(failure("provider_error", Some(503)));
        let d = Delivery {
            entry_id: d.entry_id,
            job: j,
        };
        let info = DeadInfo {
            reason: "attempts exhausted".into(),
            at_ms: 1,
            history,
            poison: false,
        };
        let record =
            OutcomeRecord::new(&d.job, "provider_error", false, "attempts exhausted", None)
                .dead_lettered();
        assert!(q.finish(&d, &record, Some(&info)).await.unwrap());
    }
    let dead = q.dead_letters(0, 10).await.unwrap();
    assert_eq!(dead.len(), 2);
    assert_eq!(dead[0].job.as_ref().unwrap().attempts.made, 5);
    let statuses: Vec<Option<u16>> = dead[0]
        .info
        .as_ref()
        .unwrap()
        .history
        .iter()
        .map(|h| h.http_status)
        .collect();
    assert_eq!(statuses, vec![Some(502), Some(503)]);
    assert_eq!(
        q.requeue(&[dead[0].id.clone(), "nope".into()])
            .await
            .unwrap(),
        vec![Requeued::Requeued, Requeued::NotDead]
    );
    assert_eq!(q.requeue_all().await.unwrap(), 1);
    let back = fetch_all(&q, "w2", 2).await;
    assert_eq!(back.len(), 2);
    assert!(back.iter().all(|d| d.job.attempts.made == 0));
    // A requeued job's next outcome is recorded again (the key went back to pending).
    for d in &back {
        assert!(q.finish(d, &left(d), None).await.unwrap());
    }
    cleanup(&q).await;
}

#[tokio::test]
async fn a_large_due_backlog_promotes_in_bounded_batches() {
    // apalis-redis 1.0 fails with 'too many results to unpack' at about 8,000 due jobs.
    let q = queue(Duration::from_secs(30)).await;
    let at = SystemTime::now() + Duration::from_secs(3600);
    let jobs: Vec<LeaveJob> = (0..20_000).map(job).collect();
    for j in &jobs {
        q.enqueue(j, Some(at)).await.unwrap();
    }
    assert_eq!(q.stats().await.unwrap().delayed, 20_000);
    let later = at + Duration::from_secs(1);
    let mut moved = 0;
    loop {
        let n = q.promote_due_at(later).await.unwrap().moved;
        assert!(n <= q.options().promote_batch);
        if n == 0 {
            break;
        }
        moved += n;
    }
    assert_eq!(moved, 20_000);
    assert_eq!(q.stats().await.unwrap().ready, 20_000);
    cleanup(&q).await;
}

#[tokio::test]
async fn reclaiming_never_judges_and_starts_are_counted_until_an_attempt_settles() {
    // Deliveries that were only prefetched (never started) may be claimed many times: the
    // crash-loop guard counts starts (a worker's first admission of its delivery), not
    // deliveries. With max_runs 0 every start is over the limit, so admission reports the
    // count it keeps without granting anything.
    let options = QueueOptions {
        lease: Duration::from_millis(50),
        max_runs: 0,
        ..QueueOptions::default()
    };
    let q = Queue::connect(&common::redis_settings(), options)
        .await
        .unwrap();
    let limits = Limits {
        quota: "100000/s".parse().unwrap(),
        policy: QuotaPolicy::default(),
        cost: 1,
    };
    let start = async |d: &Delivery| q.admit("w2", d, &limits, true).await.unwrap();
    q.enqueue(&job(1), None).await.unwrap();
    let d = fetch_all(&q, "w1", 1).await.remove(0);
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(80)).await;
        let (claimed, _) = q.reclaim("w2", "0-0", 10).await.unwrap();
        assert_eq!(claimed.len(), 1);
    }
    assert_eq!(start(&d).await, Admit::CrashLoop { runs: 1 });
    assert_eq!(start(&d).await, Admit::CrashLoop { runs: 2 });
    // A settled attempt resets the count.
    let failure = failure("provider_error", None);
    assert!(
        q.retry("w2", &d, &d.job, SystemTime::now(), &failure)
            .await
            .unwrap()
    );
    assert_eq!(start(&d).await, Admit::CrashLoop { runs: 1 });
    cleanup(&q).await;
}

#[tokio::test]
async fn only_the_owner_of_a_delivery_can_retry_release_or_renew_it() {
    let q = queue(Duration::from_millis(100)).await;
    q.enqueue(&job(1), None).await.unwrap();
    let a = fetch_all(&q, "a", 1).await.remove(0);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let (claimed, _) = q.reclaim("b", "0-0", 10).await.unwrap();
    assert_eq!(claimed.len(), 1, "b took over after a's lease ran out");
    // A's stale heartbeat does not take the delivery back.
    assert_eq!(
        q.touch("a", std::slice::from_ref(&a.entry_id))
            .await
            .unwrap(),
        vec![a.entry_id.clone()]
    );
    let failure = failure("provider_error", None);
    assert!(
        !q.retry("a", &a, &a.job, SystemTime::now(), &failure)
            .await
            .unwrap(),
        "a's retry is refused"
    );
    assert_eq!(
        q.release("a", &[(a.clone(), true)]).await.unwrap(),
        0,
        "a's hand-back is refused"
    );
    let stats = q.stats().await.unwrap();
    assert_eq!(
        (stats.ready, stats.in_flight, stats.delayed),
        (0, 1, 0),
        "only b's copy exists"
    );
    assert!(q.history(&a.job.id.to_string()).await.unwrap().is_empty());
    // Settled entries are neither renewed nor reported as lost.
    assert!(
        q.touch("a", &[String::from("0-1")])
            .await
            .unwrap()
            .is_empty()
    );
    // B, the owner, settles it.
    assert!(
        q.retry("b", &claimed[0], &a.job, SystemTime::now(), &failure)
            .await
            .unwrap()
    );
    assert_eq!(q.stats().await.unwrap().delayed, 1);
    cleanup(&q).await;
}

#[tokio::test]
async fn a_waiting_job_keeps_its_idempotency_key() {
    let options = QueueOptions {
        pending_ttl: Duration::from_secs(1),
        ..QueueOptions::default()
    };
    let q = Queue::connect(&common::redis_settings(), options)
        .await
        .unwrap();
    // Scheduled beyond the pending TTL: the key is held until then.
    let later = job(1);
    q.enqueue(&later, Some(SystemTime::now() + Duration::from_secs(3)))
        .await
        .unwrap();
    // Retried again and again: each retry renews the key.
    let busy = job(2);
    q.enqueue(&busy, None).await.unwrap();
    let failure = failure("retry_later", Some(429));
    for _ in 0..3 {
        q.promote_due().await.unwrap();
        let d = fetch_all(&q, "w", 1).await.remove(0);
        assert_eq!(d.job.id, busy.id);
        assert!(
            q.retry("w", &d, &d.job, SystemTime::now(), &failure)
                .await
                .unwrap()
        );
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    for original in [&later, &busy] {
        let again = LeaveJob::new(original.request.clone());
        assert_eq!(
            q.enqueue(&again, None).await.unwrap(),
            Enqueued::Duplicate {
                existing: original.id.to_string(),
                finished: false
            },
        );
    }
    cleanup(&q).await;
}

#[tokio::test]
async fn requeue_refuses_when_a_newer_job_holds_the_key() {
    let options = QueueOptions {
        dedup_ttl: Duration::from_secs(1),
        ..QueueOptions::default()
    };
    let q = Queue::connect(&common::redis_settings(), options)
        .await
        .unwrap();
    let first = job(1);
    q.enqueue(&first, None).await.unwrap();
    let d = fetch_all(&q, "w", 1).await.remove(0);
    let info = DeadInfo {
        reason: "permanent".into(),
        at_ms: 1,
        history: vec![],
        poison: false,
    };
    q.finish(
        &d,
        &OutcomeRecord::new(&d.job, "invalid_input", false, "x", None).dead_lettered(),
        Some(&info),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let newer = LeaveJob::new(first.request.clone());
    assert_eq!(q.enqueue(&newer, None).await.unwrap(), Enqueued::Added);
    assert_eq!(
        q.requeue(&[first.id.to_string()]).await.unwrap(),
        vec![Requeued::Superseded]
    );
    let stats = q.stats().await.unwrap();
    assert_eq!(
        (stats.ready, stats.dead),
        (1, 1),
        "only the newer job runs; the old one stays dead"
    );
    // The newer job's key was not taken over by the old one's outcome either.
    assert_eq!(
        q.enqueue(&LeaveJob::new(first.request.clone()), None)
            .await
            .unwrap(),
        Enqueued::Duplicate {
            existing: newer.id.to_string(),
            finished: false
        },
    );
    cleanup(&q).await;
}
