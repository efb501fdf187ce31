//! Kirimin adapter against an emulated provider (wiremock): exact requests, the owner check
//! under each policy, every documented answer, hostile answers, redirects, timeouts and secret
//! redaction.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, SystemTime};

use bulkleave::job::GroupRef;
use bulkleave::providers::OutcomeClass::{
    AccountError, AlreadyLeft, GroupGone, Left, OwnerCannotLeave, ProviderError, RetryLater,
};
use bulkleave::providers::kirimin::{self, Kirimin, OwnerPolicy};
use bulkleave::providers::{
    AttemptReport, HintSource, LeftDetail, Outcome, OutcomeClass, Provider,
};
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const GROUP: &str = "6228482";
const ME: &str = "808080";
const LEAVE_PATH: &str = "/x/group/leave/6228482";
const CHECK_PATH: &str = "/x/group/6228482";

fn cookie() -> String {
    format!("sid={}", common::CANARY)
}

/// Everything wrong with `request` compared with the exact Kirimin request (the leave: `POST`,
/// body `{}`, JSON content type; the owner check: a bodiless `GET`); empty if exact.
#[rustfmt::skip]
fn request_problems(request: &Request, method: &str, path: &str) -> Vec<String> {
    let header = |name: &str| request.headers.get(name).and_then(|v| v.to_str().ok());
    let post = method == "POST";
    let cookie = cookie();
    let checks = [
        (request.method.as_str() == method, "method"),
        (request.url.path() == path, "raw path"),
        (request.url.query().is_none(), "no query"),
        (header("cookie") == Some(cookie.as_str()), "cookie: sid=<session>"),
        (request.headers.get_all("cookie").iter().count() == 1, "one cookie header"),
        (header("authorization").is_none(), "no authorization"),
        (header("user-agent").is_some_and(|ua| ua.starts_with("bulkleave/")), "user-agent"),
        (header("accept") == Some("application/json"), "accept"),
        (header("content-type") == post.then_some("application/json"), "content-type"),
        (request.body == if post { &b"{}"[..] } else { b"" }, "body {} on POST, none on GET"),
    ];
    let mut problems: Vec<String> =
        checks.iter().filter(|(ok, _)| !ok).map(|(_, what)| (*what).to_owned()).collect();
    if !problems.is_empty() {
        let body = String::from_utf8_lossy(&request.body);
        let (m, url, headers) = (&request.method, &request.url, &request.headers);
        problems.push(format!("got {m} {url} {headers:?} {body:?}"));
    }
    problems
}

struct Case {
    name: &'static str,
    policy: OwnerPolicy,
    /// The owner check's answer; `None`: the check must not be sent.
    check: Option<ResponseTemplate>,
    /// The leave's answer; `None`: the leave must not be sent.
    leave: Option<ResponseTemplate>,
    expect: OutcomeClass,
    extra: fn(&AttemptReport),
}

fn case(expect: OutcomeClass, name: &'static str, policy: OwnerPolicy) -> Case {
    let extra = |_: &AttemptReport| {};
    let (check, leave) = (None, None);
    Case {
        name,
        policy,
        check,
        leave,
        expect,
        extra,
    }
}

impl Case {
    fn check(mut self, answer: ResponseTemplate) -> Self {
        self.check = Some(answer);
        self
    }

    fn leave(mut self, answer: ResponseTemplate) -> Self {
        self.leave = Some(answer);
        self
    }

    fn extra(mut self, extra: fn(&AttemptReport)) -> Self {
        self.extra = extra;
        self
    }
}

fn env(status: u16, msg: &str) -> ResponseTemplate {
    js(
        status,
        json!({"ok": status == 200, "code": status, "msg": msg}),
    )
}

fn ok() -> ResponseTemplate {
    env(200, "OK")
}

fn info(owner: Value) -> ResponseTemplate {
    let data = json!({"id": GROUP, "name": "Tim", "owner": owner});
    js(
        200,
        json!({"ok": true, "code": 200, "msg": "OK", "data": data}),
    )
}

fn js(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

fn raw(status: u16, body: &str, mime: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.as_bytes().to_vec(), mime)
}

fn left(report: &AttemptReport, detail: LeftDetail) {
    assert_eq!(report.outcome, Outcome::Left(detail));
}

fn detail_has(report: &AttemptReport, needle: &str) {
    let detail = report.outcome.detail();
    assert!(detail.contains(needle), "{needle}: {detail}");
}

/// Asserts the outcome is a RetryLater whose hint comes from `source`, `lo..=hi` seconds away.
fn hint(report: &AttemptReport, source: HintSource, lo: u64, hi: u64) {
    let Outcome::RetryLater { hint: Some(h), .. } = &report.outcome else {
        panic!("expected a hinted RetryLater, got {:?}", report.outcome);
    };
    assert_eq!(h.source, source, "{:?}", report.outcome);
    let wait = h.wait_from(SystemTime::now());
    let range = Duration::from_secs(lo)..=Duration::from_secs(hi);
    assert!(range.contains(&wait), "{wait:?} not in {range:?}");
}

fn adapter(server: &MockServer, owner_policy: OwnerPolicy) -> Kirimin {
    let account = kirimin::AccountConfig {
        user_id: Some(ME.into()),
        owner_policy,
        owner_check_path: kirimin::DEFAULT_OWNER_CHECK_PATH.into(),
        owner_pointer: kirimin::DEFAULT_OWNER_POINTER.into(),
    };
    let settings = common::provider_settings(&server.uri());
    let cookie = secrecy::SecretString::from(cookie());
    Kirimin::new(common::http_client(), &settings, &account, cookie)
}

/// Mounts the exact mock for `path`: expected once with `answer`, or never when `None`.
async fn mount(
    server: &MockServer,
    name: &str,
    path: &'static str,
    answer: Option<ResponseTemplate>,
) {
    let method = if path == LEAVE_PATH { "POST" } else { "GET" };
    let n = u64::from(answer.is_some());
    Mock::given(common::Exact {
        method,
        path,
        problems: request_problems,
    })
    .respond_with(answer.unwrap_or_else(ok))
    .expect(n)
    .named(format!("{name}: {method} {path} expected {n} time(s)"))
    .mount(server)
    .await;
}

async fn run(case: Case) -> AttemptReport {
    run_on(MockServer::start().await, case).await
}

/// Runs `case` on `server`: both endpoints are mounted (one not due expects zero requests) and
/// any other request (a followed redirect, a wrong path) hits a catch-all that expects none.
async fn run_on(server: MockServer, case: Case) -> AttemptReport {
    let name = case.name;
    let mut expected = Vec::new();
    if case.check.is_some() {
        expected.push(("GET", CHECK_PATH));
    }
    if case.leave.is_some() {
        expected.push(("POST", LEAVE_PATH));
    }
    mount(&server, name, CHECK_PATH, case.check).await;
    mount(&server, name, LEAVE_PATH, case.leave).await;
    common::forbid_other_requests(&server, name).await;

    let group = GroupRef::parse(Provider::Kirimin, GROUP).unwrap();
    let report = adapter(&server, case.policy).leave(&group).await;

    common::assert_requests(&server, name, &expected, request_problems).await;
    common::assert_report(name, &report, case.expect, expected.len());
    (case.extra)(&report);
    report
}

#[rustfmt::skip]
fn owner_cases() -> Vec<Case> {
    use OwnerPolicy::{Allow, Refuse, Unchecked};
    let no_owner = json!({"ok": true, "code": 200, "msg": "OK", "data": {"id": GROUP}});
    vec![
        case(OwnerCannotLeave, "owner, refuse: no leave", Refuse).check(info(json!(ME))),
        case(Left, "owner, allow: dissolved", Allow).check(info(json!(ME))).leave(ok())
            .extra(|r| left(r, LeftDetail::OwnerDissolvedGroup)),
        case(Left, "member, refuse", Refuse).check(info(json!("999"))).leave(ok())
            .extra(|r| left(r, LeftDetail::Member)),
        case(Left, "member, allow", Allow).check(info(json!("999"))).leave(ok())
            .extra(|r| left(r, LeftDetail::Member)),
        case(Left, "unchecked: no owner check", Unchecked).leave(ok())
            .extra(|r| left(r, LeftDetail::RoleUnchecked)),
        case(OwnerCannotLeave, "owner id a number, refuse", Refuse).check(info(json!(808_080))),
        case(Left, "owner id a number, allow", Allow).check(info(json!(808_080))).leave(ok())
            .extra(|r| left(r, LeftDetail::OwnerDissolvedGroup)),
        case(Left, "other owner a number", Refuse).check(info(json!(999))).leave(ok())
            .extra(|r| left(r, LeftDetail::Member)),
        case(AccountError, "owner field missing", Refuse)
            .check(js(200, no_owner)),
        case(AccountError, "owner null, allow", Allow).check(info(Value::Null)),
        case(GroupGone, "check 404 GRPS_404", Refuse).check(env(404, "GRPS_404")),
        case(AccountError, "check 404 other", Refuse).check(env(404, "NOT_FOUND")),
        case(AccountError, "check 401", Refuse).check(env(401, "UNAUTHORIZED")),
        case(AccountError, "check 401 no envelope", Allow).check(ResponseTemplate::new(401)),
        // Not visible: not proof of non-ownership (the endpoint is inferred), so refuse does not
        // leave, and allow leaves without claiming to know the role.
        case(OwnerCannotLeave, "check 403, refuse: no leave", Refuse).check(env(403, "FORBIDDEN"))
            .extra(|r| assert!(r.outcome.detail().contains("ownership is not confirmed"), "{}", r.outcome)),
        case(OwnerCannotLeave, "check 400, refuse: no leave", Refuse).check(env(400, "BAD_REQUEST")),
        case(Left, "check 403, allow: leave", Allow).check(env(403, "FORBIDDEN")).leave(ok())
            .extra(|r| left(r, LeftDetail::RoleUnchecked)),
        case(AlreadyLeft, "check 400, allow: leave 400", Allow).check(env(400, "BAD_REQUEST"))
            .leave(env(400, "BAD_REQUEST")),
        case(RetryLater, "check 429", Refuse).check(env(429, "TOO_MANY_REQUESTS"))
            .extra(|r| hint(r, HintSource::ProviderDefault, 3, 5)),
        case(ProviderError, "check 500", Refuse).check(raw(500, "Internal", "text/plain")),
        case(AlreadyLeft, "check, then leave 400", Refuse).check(info(json!("999")))
            .leave(env(400, "BAD_REQUEST")),
    ]
}

#[rustfmt::skip]
fn leave_cases() -> Vec<Case> {
    let u = OwnerPolicy::Unchecked;
    let retry_after = env(429, "TOO_MANY_REQUESTS").insert_header("retry-after", "2");
    let not_ok = json!({"ok": false, "code": 200, "msg": "OK"});
    vec![
        case(Left, "200 OK", u).leave(ok()).extra(|r| left(r, LeftDetail::RoleUnchecked)),
        case(ProviderError, "200 ok false", u).leave(js(200, not_ok)),
        case(AlreadyLeft, "400 envelope", u).leave(env(400, "BAD_REQUEST")),
        case(GroupGone, "404 GRPS_404", u).leave(env(404, "GRPS_404")),
        case(AccountError, "404 other msg", u).leave(env(404, "NOT_FOUND")),
        case(AccountError, "401 UNAUTHORIZED", u).leave(env(401, "UNAUTHORIZED")),
        case(AccountError, "403 envelope", u).leave(env(403, "FORBIDDEN")),
        case(RetryLater, "429", u).leave(env(429, "TOO_MANY_REQUESTS"))
            .extra(|r| hint(r, HintSource::ProviderDefault, 3, 5)),
        case(RetryLater, "429 Retry-After", u).leave(retry_after)
            .extra(|r| hint(r, HintSource::RetryAfter, 0, 2)),
        case(ProviderError, "500 envelope", u).leave(env(500, "INTERNAL")),
    ]
}

#[rustfmt::skip]
fn hostile_cases() -> Vec<Case> {
    use OwnerPolicy::{Allow, Refuse, Unchecked as U};
    let html = "<html><body><h1>502 Bad Gateway</h1></body></html>";
    let big = json!({"ok": true, "code": 200, "msg": "OK", "data": "x".repeat(5000)});
    let pad = "x".repeat(5000);
    let big_info = json!({"ok": true, "code": 200, "data": {"owner": "999", "pad": pad}});
    let mime = "application/json";
    vec![
        case(ProviderError, "502 HTML", U).leave(raw(502, html, "text/html")),
        case(ProviderError, "200 empty body", U).leave(ResponseTemplate::new(200)),
        case(ProviderError, "200 malformed JSON", U).leave(raw(200, r#"{"ok": true, "co"#, mime)),
        case(ProviderError, "200 HTML", U).leave(raw(200, "<html>OK</html>", "text/html")),
        case(ProviderError, "200 no ok field", U).leave(js(200, json!({"code": 200, "msg": "OK"}))),
        case(ProviderError, "200 over 4096 bytes", U).leave(js(200, big)),
        case(ProviderError, "400 HTML: not AlreadyLeft", U).leave(raw(400, html, "text/html")),
        case(ProviderError, "400 empty: not AlreadyLeft", U).leave(ResponseTemplate::new(400)),
        case(ProviderError, "400 JSON, no envelope", U).leave(raw(400, r#"{"error":"bad"}"#, mime)),
        case(ProviderError, "check 200 HTML: no leave", Refuse).check(raw(200, html, "text/html")),
        case(ProviderError, "check 200 empty: no leave", Allow).check(ResponseTemplate::new(200)),
        case(ProviderError, "check over 4096 bytes: no leave", Refuse)
            .check(js(200, big_info)),
        case(ProviderError, "check 502 HTML: no leave", Allow).check(raw(502, html, "text/html")),
    ]
}

#[tokio::test]
async fn owner_check_under_each_policy() {
    for c in owner_cases() {
        run(c).await;
    }
}

#[tokio::test]
async fn every_documented_leave_answer_is_classified() {
    for c in leave_cases() {
        run(c).await;
    }
}

#[tokio::test]
async fn hostile_answers_are_never_successes() {
    for c in hostile_cases() {
        run(c).await;
    }
}

#[tokio::test]
async fn redirects_are_not_followed() {
    for on_check in [false, true] {
        let server = MockServer::start().await;
        let to = format!("{}/elsewhere", server.uri());
        let redirect = ResponseTemplate::new(302).insert_header("location", to.as_str());
        Mock::given(wiremock::matchers::path("/elsewhere"))
            .respond_with(info(json!("999")))
            .expect(0)
            .named(format!("redirect target (on check: {on_check})"))
            .mount(&server)
            .await;
        let case = if on_check {
            case(AccountError, "302 on the owner check", OwnerPolicy::Refuse).check(redirect)
        } else {
            case(AccountError, "302 on leave", OwnerPolicy::Unchecked).leave(redirect)
        };
        let report = run_on(server, case).await;
        assert_eq!(report.answer.map(|a| a.status), Some(302), "{on_check}");
    }
}

#[tokio::test]
async fn a_silent_server_times_out_as_a_provider_error() {
    let delay = Duration::from_secs(3);
    let cases = [
        case(ProviderError, "leave", OwnerPolicy::Unchecked).leave(ok().set_delay(delay)),
        case(ProviderError, "check: no leave", OwnerPolicy::Refuse)
            .check(info(json!("999")).set_delay(delay)),
        case(ProviderError, "leave after check", OwnerPolicy::Allow)
            .check(info(json!("999")))
            .leave(ok().set_delay(delay)),
    ];
    for c in cases {
        let report = run(c).await;
        detail_has(&report, "timeout");
        assert!(
            report.elapsed < Duration::from_millis(2900),
            "{:?}",
            report.elapsed
        );
    }
}

#[tokio::test]
async fn an_echoed_cookie_is_redacted() {
    let data =
        json!({"ok": false, "code": 401, "msg": "UNAUTHORIZED", "data": {"cookie": cookie()}});
    let answer = js(401, data);
    let report = run(case(AccountError, "401 echo", OwnerPolicy::Unchecked).leave(answer)).await;
    detail_has(&report, "[redacted]");
    assert!(report.answer.unwrap().body.contains("[redacted]"));

    let echo = raw(
        500,
        &format!("<pre>Cookie: {}</pre>", cookie()),
        "text/html",
    );
    let report = run(case(ProviderError, "check 500 echo", OwnerPolicy::Refuse).check(echo)).await;
    detail_has(&report, "[redacted]");
}

/// The adapter redacts the whole cookie header value (`sid=<token>`); a server that echoes
/// only the session token (a common shape: `{"sid": "<token>"}`) leaks it.
#[tokio::test]
async fn an_echoed_session_token_is_redacted() {
    let data =
        json!({"ok": false, "code": 401, "msg": "UNAUTHORIZED", "data": {"sid": common::CANARY}});
    let answer = js(401, data);
    run(case(AccountError, "401 token echo", OwnerPolicy::Unchecked).leave(answer)).await;
}
