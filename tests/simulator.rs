//! The provider simulator driven by our own adapters: every provider's documented answers
//! classify as they should (membership, owners, credentials, quota, faults), the quota holds
//! exactly, the admin endpoints work, and `bulkleave simulate` runs as a process.

#![allow(clippy::unwrap_used)]

#[path = "simulator/cli.rs"]
mod cli;
mod common;
#[path = "simulator/faults.rs"]
mod faults;
#[path = "simulator/harness.rs"]
mod harness;

use std::time::{Duration, SystemTime};

use bulkleave::providers::OutcomeClass::{
    AccountError, AlreadyLeft, GroupGone, Left, OwnerCannotLeave, ProviderError, RetryLater,
};
use bulkleave::providers::green_api::LeaveGroupFalse;
use bulkleave::providers::kirimin::OwnerPolicy;
use bulkleave::providers::{HintSource, LeftDetail, Outcome};
use bulkleave::simulator::{SimAccount, Simulator, SimulatorConfig};
use common::{CANARY, Hint, assert_report, check_hint};
use harness::{SECRET_COOKIE, green, id_for, jid, kirimin, leave, num, q, ryze, wasend};

#[tokio::test]
async fn green_api_answers_as_documented() {
    let config = SimulatorConfig::default().account(
        "g",
        SimAccount::green_api("1101000001", CANARY, q("10/s"))
            .admin(&jid(2))
            .not_found(&jid(3)),
    );
    let sim = Simulator::start(config).await.unwrap();
    let g = green(&sim, "1101000001", CANARY, LeaveGroupFalse::AlreadyLeft);
    let r = leave(&g, &jid(1)).await;
    assert_report("member", &r, Left, 1);
    assert_eq!(r.outcome, Outcome::Left(LeftDetail::Member));
    assert_report("twice", &leave(&g, &jid(1)).await, AlreadyLeft, 1);
    let r = leave(&g, &jid(2)).await;
    assert_eq!(r.outcome, Outcome::Left(LeftDetail::WasAdmin), "admin");
    assert_report("unknown group", &leave(&g, &jid(3)).await, AlreadyLeft, 1);
    // Under the adapter's default reading, leaveGroup:false is not a success.
    let strict = green(&sim, "1101000001", CANARY, LeaveGroupFalse::Unconfirmed);
    assert_report("strict", &leave(&strict, &jid(1)).await, ProviderError, 1);
    let wrong_token = green(&sim, "1101000001", "wrong", LeaveGroupFalse::AlreadyLeft);
    let r = leave(&wrong_token, &jid(4)).await;
    assert_eq!(
        (r.outcome.class(), r.answer.unwrap().status),
        (AccountError, 401)
    );
    let unknown = green(&sim, "1101999999", CANARY, LeaveGroupFalse::AlreadyLeft);
    let r = leave(&unknown, &jid(4)).await;
    assert_eq!(
        (r.outcome.class(), r.answer.unwrap().status),
        (AccountError, 403)
    );
    let report = &sim.report().accounts["g"];
    let a = report.answers;
    assert_eq!(
        (a.leaves, a.left_as_admin, a.already_left, a.group_gone),
        (2, 1, 2, 1)
    );
    assert_eq!(
        (a.unauthorized, a.account_missing, report.requests.leave),
        (1, 1, 7)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn wasend_ambiguous_answers_resolve_through_the_follow_ups() {
    let config = SimulatorConfig::default()
        .account(
            "w",
            SimAccount::wasend("sess1", CANARY, q("100/s"))
                .owned(&jid(2))
                .not_found(&jid(3)),
        )
        .account(
            "other",
            SimAccount::wasend("sess2", "other-key", q("100/s")),
        );
    let sim = Simulator::start(config).await.unwrap();
    let w = wasend(&sim, "sess1", CANARY);
    assert_report("member", &leave(&w, &jid(1)).await, Left, 1);
    assert_report(
        "twice: 403, group page 403",
        &leave(&w, &jid(1)).await,
        AlreadyLeft,
        2,
    );
    assert_report(
        "owner: 403, group page 200",
        &leave(&w, &jid(2)).await,
        OwnerCannotLeave,
        2,
    );
    assert_report(
        "gone: 404, session WORKING",
        &leave(&w, &jid(3)).await,
        GroupGone,
        2,
    );
    let ghost = wasend(&sim, "ghost", CANARY);
    assert_report(
        "no session: 404, 404",
        &leave(&ghost, &jid(4)).await,
        AccountError,
        2,
    );
    let r = leave(&wasend(&sim, "sess1", "wrong"), &jid(4)).await;
    assert_eq!(
        (r.outcome.class(), r.requests),
        (AccountError, 1),
        "bad key"
    );
    let report = &sim.report().accounts["w"];
    let (n, a) = (report.requests, report.answers);
    assert_eq!((n.leave, n.group_info, n.session_info), (6, 2, 2));
    assert_eq!(
        (a.leaves, a.already_left, a.owner_refused, a.group_gone),
        (1, 1, 1, 1)
    );
    assert_eq!((a.account_missing, a.unauthorized), (2, 1));
    assert_eq!(sim.report().accounts["other"].requests.total, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn ryzeapi_answers_carry_rate_limit_headers() {
    let config = SimulatorConfig::default().account(
        "r",
        SimAccount::ryzeapi("inst", CANARY, q("2/min"))
            .owned(&jid(2))
            .not_found(&jid(3)),
    );
    let sim = Simulator::start(config).await.unwrap();
    let r = ryze(&sim, "inst", CANARY);
    let before = SystemTime::now();
    let first = leave(&r, &jid(1)).await;
    let after = SystemTime::now();
    assert_report("member", &first, Left, 1);
    let info = first.answer.unwrap().rate_limit.unwrap();
    assert_eq!((info.limit, info.remaining), (Some(2), Some(1)));
    assert_report("twice", &leave(&r, &jid(1)).await, AlreadyLeft, 1);
    // Over quota: 429 until the first request leaves the window, one minute after it.
    let over = leave(&r, &jid(2)).await;
    assert_report("over quota", &over, RetryLater, 1);
    let Outcome::RetryLater { hint: Some(h), .. } = over.outcome else {
        panic!("{over:?}");
    };
    assert_eq!(h.source, HintSource::RateLimitReset);
    let (lo, hi) = (
        before + Duration::from_secs(59),
        after + Duration::from_secs(61),
    );
    assert!(h.not_before >= lo && h.not_before <= hi, "{h:?}");
    sim.reset();
    assert_report("owner", &leave(&r, &jid(2)).await, OwnerCannotLeave, 1);
    assert_report("unknown group", &leave(&r, &jid(3)).await, AlreadyLeft, 1);
    sim.reset();
    let r = leave(&ryze(&sim, "other", CANARY), &jid(4)).await;
    assert!(r.outcome.detail().contains("instance not found"), "{r:?}");
    assert_report("unknown instance", &r, AccountError, 1);
    let r = leave(&ryze(&sim, "inst", "wrong"), &jid(4)).await;
    assert_eq!(
        (r.outcome.class(), r.answer.unwrap().status),
        (AccountError, 401)
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn kirimin_owner_check_and_dissolution() {
    let config = SimulatorConfig::default().account(
        "k",
        SimAccount::kirimin("808080", SECRET_COOKIE, q("100/s"))
            .owned(&num(2))
            .not_found(&num(3)),
    );
    let sim = Simulator::start(config).await.unwrap();
    let refuse = kirimin(&sim, "808080", SECRET_COOKIE, OwnerPolicy::Refuse);
    let r = leave(&refuse, &num(1)).await;
    assert_report("member: check + leave", &r, Left, 2);
    assert_eq!(r.outcome, Outcome::Left(LeftDetail::Member));
    assert_report("twice: 400", &leave(&refuse, &num(1)).await, AlreadyLeft, 2);
    assert_report(
        "owner, refused",
        &leave(&refuse, &num(2)).await,
        OwnerCannotLeave,
        1,
    );
    assert_report("gone", &leave(&refuse, &num(3)).await, GroupGone, 1);
    assert_eq!(sim.report().accounts["k"].answers.dissolved, 0);
    let allow = kirimin(&sim, "808080", SECRET_COOKIE, OwnerPolicy::Allow);
    let r = leave(&allow, &num(2)).await;
    assert_eq!(r.outcome, Outcome::Left(LeftDetail::OwnerDissolvedGroup));
    assert_report(
        "dissolved, then gone",
        &leave(&allow, &num(2)).await,
        GroupGone,
        1,
    );
    let unchecked = kirimin(&sim, "808080", SECRET_COOKIE, OwnerPolicy::Unchecked);
    let r = leave(&unchecked, &num(4)).await;
    assert_eq!(
        (r.outcome, r.requests),
        (Outcome::Left(LeftDetail::RoleUnchecked), 1)
    );
    let bad = kirimin(&sim, "808080", "sid=expired", OwnerPolicy::Unchecked);
    assert_report("bad cookie", &leave(&bad, &num(5)).await, AccountError, 1);
    let report = sim.report();
    let a = report.accounts["k"].answers;
    // The owner check, not the leave, found the gone groups: no leave was answered GRPS_404.
    assert_eq!(
        (a.leaves, a.dissolved, a.already_left, a.group_gone),
        (3, 1, 1, 0)
    );
    assert_eq!(report.accounts["k"].requests.group_info, 6);
    assert_eq!(report.unattributed, 1, "an unknown cookie is nobody's");
    sim.shutdown().await;
}

#[tokio::test]
async fn over_quota_is_retry_later_with_each_providers_hint() {
    let quota = q("2/min");
    let config = SimulatorConfig::default()
        .account("g", SimAccount::green_api("1101000001", CANARY, quota))
        .account("w", SimAccount::wasend("sess1", CANARY, quota))
        .account("k", SimAccount::kirimin("808080", SECRET_COOKIE, quota));
    let sim = Simulator::start(config).await.unwrap();
    let cases = [
        (
            "g",
            green(&sim, "1101000001", CANARY, LeaveGroupFalse::AlreadyLeft),
            2,
            1,
            Hint::Absent,
        ),
        (
            "w",
            wasend(&sim, "sess1", CANARY),
            2,
            1,
            Hint::After(60, HintSource::ProviderDefault),
        ),
        // The owner check counts too: one attempt takes both slots.
        (
            "k",
            kirimin(&sim, "808080", SECRET_COOKIE, OwnerPolicy::Refuse),
            1,
            2,
            Hint::After(5, HintSource::ProviderDefault),
        ),
    ];
    for (name, adapter, attempts, requests, hint) in cases {
        for i in 0..attempts {
            let r = leave(&adapter, &id_for(adapter.provider(), i)).await;
            assert_report(name, &r, Left, requests);
        }
        let t0 = SystemTime::now();
        let r = leave(&adapter, &id_for(adapter.provider(), 99)).await;
        let Outcome::RetryLater { hint: got, .. } = r.outcome else {
            panic!("{name}: {r:?}");
        };
        check_hint(name, got, hint, (t0, SystemTime::now()));
        let report = &sim.report().accounts[name];
        assert_eq!((report.accepted, report.rate_limited), (2, 1), "{name}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn a_burst_gets_exactly_n_admitted_and_the_rest_429() {
    let config = SimulatorConfig::default()
        .account("g", SimAccount::green_api("1101000001", CANARY, q("10/s")));
    let sim = Simulator::start(config).await.unwrap();
    let g = green(&sim, "1101000001", CANARY, LeaveGroupFalse::AlreadyLeft);
    let burst = (0..15).map(|i| {
        let g = g.clone();
        async move { leave(&g, &jid(i)).await.outcome.class() }
    });
    let classes = futures_util::future::join_all(burst).await;
    let report = &sim.report().accounts["g"];
    let span = report.last_request_ms.unwrap() - report.first_request_ms.unwrap();
    assert!(
        span < 1000.0,
        "the burst took {span} ms: not one window, inconclusive"
    );
    assert_eq!(classes.iter().filter(|c| **c == Left).count(), 10);
    assert_eq!(classes.iter().filter(|c| **c == RetryLater).count(), 5);
    assert_eq!((report.accepted, report.rate_limited), (10, 5));
    assert_eq!((report.busiest_window, report.excess), (10, 0));
    assert_eq!(report.answers.leaves, 10);
    sim.shutdown().await;
}

#[tokio::test]
async fn routes_do_not_collide_whatever_the_session_is_called() {
    let mut config = SimulatorConfig::default().account(
        "k",
        SimAccount::kirimin("808080", SECRET_COOKIE, q("100/s")),
    );
    for session in ["x", "api", "sessions", "_sim", "waInstance1"] {
        config = config.account(session, SimAccount::wasend(session, CANARY, q("100/s")));
    }
    let sim = Simulator::start(config).await.unwrap();
    for session in ["x", "api", "sessions", "_sim", "waInstance1"] {
        let w = wasend(&sim, session, CANARY);
        assert_report(session, &leave(&w, &jid(1)).await, Left, 1);
        assert_report(session, &leave(&w, &jid(1)).await, AlreadyLeft, 2);
        assert_eq!(
            sim.report().accounts[session].requests.group_info,
            1,
            "{session}"
        );
    }
    let k = kirimin(&sim, "808080", SECRET_COOKIE, OwnerPolicy::Refuse);
    assert_report("kirimin", &leave(&k, &num(1)).await, Left, 2);
    assert_eq!(sim.report().unattributed, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn requests_our_adapters_never_send_get_the_documented_errors() {
    let sim = Simulator::start(harness::one_account_each(q("100/s")))
        .await
        .unwrap();
    let (http, base) = (reqwest::Client::new(), sim.base_url());
    let green = format!("{base}/waInstance1101000001/leaveGroup/{CANARY}");
    let ryze = format!("{base}/api/group/leave/inst");
    let kirimin = format!("{base}/x/group/leave/{}", num(1));
    let json = "application/json";
    let cases = [
        (
            "green: no groupId",
            http.post(&green).body("{}"),
            400,
            "Validation failed",
        ),
        (
            "green: wrong path",
            http.post(green.replace("waInstance", "wa")),
            404,
            "Not Found",
        ),
        (
            "wasend: bad group",
            http.post(format!("{base}/sess1/groups/1@g.us/leave"))
                .bearer_auth(CANARY),
            400,
            "Invalid groupId",
        ),
        (
            "ryzeapi: no identifier",
            http.delete(&ryze).header("token", CANARY),
            400,
            "Identifier is required",
        ),
        (
            "ryzeapi: bearer",
            http.delete(format!("{ryze}?identifier={}", jid(1)))
                .bearer_auth(CANARY),
            200,
            "Successfully left",
        ),
        (
            "kirimin: not JSON",
            http.post(&kirimin)
                .header("cookie", SECRET_COOKIE)
                .body("{}"),
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            "kirimin: not an object",
            http.post(&kirimin)
                .header("cookie", SECRET_COOKIE)
                .header("content-type", json)
                .body("[]"),
            422,
            "INVALID_BODY",
        ),
    ];
    for (name, request, status, text) in cases {
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{name}");
        let rate_headers = response.headers().contains_key("x-ratelimit-reset");
        assert_eq!(rate_headers, name.starts_with("ryzeapi"), "{name}");
        let body = response.text().await.unwrap();
        assert!(body.contains(text), "{name}: {body}");
    }
    let report = sim.report();
    let invalid = |name: &str| report.accounts[name].answers.invalid;
    assert_eq!(
        [invalid("g"), invalid("w"), invalid("r"), invalid("k")],
        [1, 1, 1, 2]
    );
    assert_eq!(
        (report.accounts["r"].answers.leaves, report.unattributed),
        (1, 1)
    );
    sim.shutdown().await;
}
