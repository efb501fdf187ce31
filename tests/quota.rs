//! The fleet-wide quota in Redis, through the queue's admission API: booking, the sliding
//! window, cooldowns, AIMD, pausing and resuming, backlog and ETA. Each test has its own key
//! prefix on the real Redis.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use bulkleave::job::LeaveJob;
use bulkleave::queue::{Admit, FollowUp, Limits, QueueOptions};
use bulkleave::quota::{Eta, QuotaPolicy};
use bulkleave::simulator::busiest_window;
use common::queue::{admit_through_waits, fetch, fetch_all, fresh};

fn jobs(account: &str, range: std::ops::Range<u64>) -> Vec<LeaveJob> {
    common::queue::jobs("wasend", account, range)
}

fn job(account: &str, i: u64) -> LeaveJob {
    jobs(account, i..i + 1).remove(0)
}

fn failure() -> bulkleave::queue::AttemptRecord {
    common::queue::failure("retry_later", Some(429))
}

fn limits(quota: &str) -> Limits {
    Limits {
        quota: quota.parse().unwrap(),
        policy: QuotaPolicy::default(),
        cost: 1,
    }
}

#[tokio::test]
async fn a_backlog_is_booked_one_slot_per_job_and_each_job_delayed_once() {
    let (q, redis) = fresh(QueueOptions::default()).await;
    let lim = limits("10/s"); // window 1010 ms: a slot every 101 ms
    q.enqueue_many(&jobs("a", 0..20)).await.unwrap();
    let deliveries = fetch_all(&q, "w", 20).await;
    assert_eq!(deliveries.len(), 20);
    let mut slots = Vec::new();
    let mut went = 0;
    for d in &deliveries {
        match q.admit("w", d, &lim, true).await.unwrap() {
            Admit::Go => went += 1,
            Admit::Booked { at_ms } => slots.push(at_ms),
            Admit::Wait(w) => panic!("no slot is due within the inline wait here: {w:?}"),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(went, 1, "one request at once, the rest booked");
    assert_eq!(slots.len(), 19);
    for pair in slots.windows(2) {
        let gap = pair[1] - pair[0];
        assert!((100..=102).contains(&gap), "slots {} ms apart", gap);
    }
    let stats = q.stats().await.unwrap();
    assert_eq!((stats.delayed, stats.in_flight), (19, 1));

    // The backlog is known, and so is when it will be done.
    let status = q.account_status("a", &lim).await.unwrap();
    assert_eq!(status.backlog, 20);
    match status.eta(lim.quota, &lim.policy, 1) {
        Eta::At { at_ms } => {
            let span = at_ms - status.now_ms;
            assert!(
                (2_000..=2_030).contains(&span),
                "20 jobs at 10/s: {span} ms"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(status.booked_until_ms.unwrap() >= *slots.last().unwrap());

    // At its slot each job is promoted and admitted: delayed once, never booked twice. (A
    // late consumer pushes later grants back: the window holds. The inline wait is raised to
    // 1 s so a test process stalled under load waits in place rather than re-booking.)
    let lim = Limits {
        policy: QuotaPolicy {
            inline_wait: Duration::from_secs(1),
            ..lim.policy
        },
        ..lim
    };
    let mut admitted = 1;
    let start = std::time::Instant::now();
    while admitted < 20 && start.elapsed() < Duration::from_secs(10) {
        q.promote_due().await.unwrap();
        for d in fetch(&q, "w", 20).await {
            match admit_through_waits(&q, "w", &d, &lim).await {
                Admit::Go => admitted += 1,
                other => panic!("a job at its booked slot was {other:?}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(admitted, 20);
    // ~1.9 s for 19 booked slots at 101 ms.
    assert!(
        start.elapsed() >= Duration::from_millis(1_800),
        "{:?}",
        start.elapsed()
    );
    common::drop_prefix(&redis.key_prefix).await;
}

#[tokio::test]
async fn the_window_never_holds_more_than_the_quota_however_jobs_arrive() {
    let (q, redis) = fresh(QueueOptions::default()).await;
    // 5 per 1.1 s: the grants are timed here, after their round trip to Redis, and 10 % of
    // headroom keeps that jitter from putting a sixth grant into a 1 s window.
    let lim = Limits {
        policy: QuotaPolicy {
            headroom: 0.1,
            ..QuotaPolicy::default()
        },
        ..limits("5/s")
    };
    // Booked jobs that all come back at once (a worker outage, say) still go at most 5 per
    // window: the window decides, not the booking.
    q.enqueue_many(&jobs("a", 0..12)).await.unwrap();
    let mut went_at = Vec::new();
    for d in fetch_all(&q, "w", 12).await {
        if q.admit("w", &d, &lim, true).await.unwrap() == Admit::Go {
            went_at.push(Instant::now());
        }
    }
    assert_eq!(went_at.len(), 1, "one at once, 11 booked 220 ms apart");
    // Every booked slot (the last 2.42 s after the first grant) is due.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    q.promote_due().await.unwrap();
    let late = fetch_all(&q, "w", 11).await;
    assert_eq!(late.len(), 11);
    // The first grant is out of the window by now: exactly 5 go, the rest are booked again.
    let mut rebooked = 0;
    for d in &late {
        match q.admit("w", d, &lim, true).await.unwrap() {
            Admit::Go => went_at.push(Instant::now()),
            Admit::Booked { .. } => rebooked += 1,
            other => panic!("a late job was {other:?}"),
        }
    }
    assert_eq!(
        (went_at.len() - 1, rebooked),
        (5, 6),
        "granted in one window"
    );
    let status = q.account_status("a", &lim).await.unwrap();
    assert_eq!(status.in_window, 5);
    // The re-booked ones go at their new slots, through their waits.
    let start = Instant::now();
    while went_at.len() < 12 && start.elapsed() < Duration::from_secs(10) {
        q.promote_due().await.unwrap();
        for d in fetch(&q, "w", 12).await {
            match admit_through_waits(&q, "w", &d, &lim).await {
                Admit::Go => went_at.push(Instant::now()),
                Admit::Booked { .. } => {}
                other => panic!("a re-booked job was {other:?}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(went_at.len(), 12, "every job went");
    let busiest = busiest_window(&went_at, Duration::from_secs(1));
    assert!(busiest <= 5, "{busiest} grants in one second: {went_at:?}");
    common::drop_prefix(&redis.key_prefix).await;
}

#[tokio::test]
async fn a_slow_account_does_not_delay_another() {
    let (q, redis) = fresh(QueueOptions::default()).await;
    let slow = limits("10/min");
    let fast = limits("1000/s");
    let mut batch = jobs("slow", 0..200);
    batch.extend(jobs("fast", 1000..1050));
    q.enqueue_many(&batch).await.unwrap();
    let deliveries = fetch_all(&q, "w", 250).await;
    let mut fast_went = 0;
    let mut last_slow = 0;
    for d in &deliveries {
        let lim = if d.job.request.account.as_str() == "slow" {
            &slow
        } else {
            &fast
        };
        match admit_through_waits(&q, "w", d, lim).await {
            Admit::Go if lim == &fast => fast_went += 1,
            Admit::Booked { at_ms } => last_slow = last_slow.max(at_ms),
            _ => {}
        }
    }
    assert_eq!(fast_went, 50, "the fast account ran at once");
    let status = q.account_status("slow", &slow).await.unwrap();
    // 199 booked slots at 6.06 s: about 20 minutes ahead.
    let ahead = last_slow - status.now_ms;
    assert!((1_195_000..=1_206_000).contains(&ahead), "{ahead}");
    common::drop_prefix(&redis.key_prefix).await;
}

#[tokio::test]
async fn a_429_cools_the_whole_account_and_lowers_its_rate_once_per_period() {
    let (q, redis) = fresh(QueueOptions::default()).await;
    let lim = limits("10/s");
    q.enqueue_many(&jobs("a", 0..3)).await.unwrap();
    q.enqueue(&job("b", 9), None).await.unwrap();
    let ds = fetch_all(&q, "w", 4).await;
    assert_eq!(q.admit("w", &ds[0], &lim, true).await.unwrap(), Admit::Go);
    let mut next = ds[0].job.clone();
    next.attempts.throttled += 1;
    let at = q
        .throttle(
            "w",
            &ds[0],
            &next,
            Duration::from_secs(3),
            true,
            &failure(),
            &lim,
        )
        .await
        .unwrap()
        .unwrap();
    let status = q.account_status("a", &lim).await.unwrap();
    let cool = status.cooldown_until_ms.unwrap();
    assert!((2_990..=3_010).contains(&(cool - status.now_ms)));
    assert!(at >= cool, "the throttled job runs after the cooldown");
    assert_eq!(status.factor_now(lim.quota, &lim.policy), 0.5);
    assert_eq!(status.throttled, 1);
    assert!(status.cooldown_reason.unwrap().contains("429"));
    // Nothing for the account before the cooldown ends; its next job is booked after it.
    match q.admit("w", &ds[1], &lim, true).await.unwrap() {
        Admit::Booked { at_ms } => assert!(at_ms >= cool + 150, "{}", at_ms - cool),
        other => panic!("{other:?}"),
    }
    // Follow-ups wait too.
    match q.follow_up(&ds[2].job, &lim).await.unwrap() {
        FollowUp::Wait(w) => assert!(w > Duration::from_millis(2_900), "{w:?}"),
        other => panic!("{other:?}"),
    }
    // Other accounts are not affected.
    assert_eq!(q.admit("w", &ds[3], &lim, true).await.unwrap(), Admit::Go);

    // A second 429 in the same period is the same signal: the rate stays at half, and a
    // shorter wait does not cut the cooldown short.
    let mut next = ds[2].job.clone();
    next.attempts.throttled += 1;
    q.throttle(
        "w",
        &ds[2],
        &next,
        Duration::from_millis(100),
        true,
        &failure(),
        &lim,
    )
    .await
    .unwrap()
    .unwrap();
    let status = q.account_status("a", &lim).await.unwrap();
    assert_eq!(status.factor_now(lim.quota, &lim.policy), 0.5);
    assert_eq!(status.throttled, 2);
    assert_eq!(status.cooldown_until_ms, Some(cool));
    common::drop_prefix(&redis.key_prefix).await;
}

#[tokio::test]
async fn an_account_error_pauses_the_account_and_parks_its_jobs_until_resumed() {
    let (q, redis) = fresh(QueueOptions::default()).await;
    let lim = limits("100/s");
    let jobs = jobs("a", 0..5);
    q.enqueue_many(&jobs).await.unwrap();
    q.enqueue(&job("b", 9), None).await.unwrap();
    let ds = fetch_all(&q, "w", 6).await;
    let (a, b): (Vec<_>, Vec<_>) = ds
        .iter()
        .partition(|d| d.job.request.account.as_str() == "a");
    assert_eq!(q.admit("w", a[0], &lim, true).await.unwrap(), Admit::Go);
    let reason = "account_error: HTTP 401: invalid API key";
    assert!(
        q.pause_account("w", a[0], &a[0].job, reason, &failure())
            .await
            .unwrap()
    );
    // The account's other jobs park as they come, without running or failing.
    for d in &a[1..] {
        assert_eq!(q.admit("w", d, &lim, true).await.unwrap(), Admit::Parked);
    }
    // Another account runs on.
    assert_eq!(q.admit("w", b[0], &lim, true).await.unwrap(), Admit::Go);
    let status = q.account_status("a", &lim).await.unwrap();
    assert_eq!(status.paused.as_deref(), Some(reason));
    assert!(status.paused_at_ms.is_some());
    assert_eq!((status.parked, status.backlog), (5, 5));
    assert_eq!(status.eta(lim.quota, &lim.policy, 1), Eta::Paused);
    let stats = q.stats().await.unwrap();
    assert_eq!(stats.dead, 0, "nothing failed");

    let resumed = q.resume_account("a").await.unwrap();
    assert!(resumed.was_paused);
    assert_eq!(resumed.requeued, 5);
    let status = q.account_status("a", &lim).await.unwrap();
    assert_eq!((status.paused, status.parked), (None, 0));
    let back = fetch(&q, "w", 10).await;
    let mut ids: Vec<_> = back.iter().map(|d| d.job.id).collect();
    ids.sort();
    let mut want: Vec<_> = jobs.iter().map(|j| j.id).collect();
    want.sort();
    assert_eq!(ids, want, "every parked job is back, once");
    assert!(!q.resume_account("a").await.unwrap().was_paused);
    common::drop_prefix(&redis.key_prefix).await;
}

#[tokio::test]
async fn a_delivery_another_worker_claimed_is_not_settled_by_admission() {
    let (q, redis) = fresh(QueueOptions::default()).await;
    let lim = limits("1/min");
    q.enqueue_many(&[job("a", 1), job("a", 2)]).await.unwrap();
    let ds = fetch_all(&q, "w", 2).await;
    assert_eq!(q.admit("w", &ds[0], &lim, true).await.unwrap(), Admit::Go);
    // "other" does not own ds[1]: it may not move it.
    assert_eq!(
        q.admit("other", &ds[1], &lim, true).await.unwrap(),
        Admit::Lost
    );
    assert_eq!(q.stats().await.unwrap().in_flight, 2);
    common::drop_prefix(&redis.key_prefix).await;
}
