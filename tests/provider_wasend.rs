//! Wasend adapter against an emulated provider (wiremock): exact requests, every documented
//! answer and its follow-ups, hostile answers, redirects, timeouts and secret redaction.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, SystemTime};

use bulkleave::job::GroupRef;
use bulkleave::providers::OutcomeClass::{
    AccountError, AlreadyLeft, GroupGone, InvalidInput, Left, OwnerCannotLeave, ProviderError,
    RetryLater,
};
use bulkleave::providers::wasend::{self, Wasend};
use bulkleave::providers::{
    AttemptReport, HintSource, LeftDetail, Outcome, OutcomeClass, Pacer, Provider, Throttled,
};
use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const GROUP: &str = "120363406289005073@g.us";
const LEAVE_PATH: &str = "/sess1/groups/120363406289005073%40g.us/leave";
const GROUP_PATH: &str = "/sess1/groups/120363406289005073%40g.us";
const SESSION_PATH: &str = "/sessions/sess1";
const FORBIDDEN: &str = "Forbidden - Not a member of the group or group owner";
const NOT_FOUND: &str = "Session or group not found";

/// Everything wrong with `request` compared with the exact Wasend request; empty if exact.
#[rustfmt::skip]
fn request_problems(request: &Request, method: &str, path: &str) -> Vec<String> {
    let header = |name: &str| request.headers.get(name).and_then(|v| v.to_str().ok());
    let bearer = format!("Bearer {}", common::CANARY);
    let checks = [
        (request.method.as_str() == method, "method"),
        (request.url.path() == path, "raw path"),
        (request.url.query().is_none(), "no query"),
        (header("authorization") == Some(bearer.as_str()), "authorization: Bearer <key>"),
        (request.headers.get_all("authorization").iter().count() == 1, "one authorization"),
        (header("user-agent").is_some_and(|ua| ua.starts_with("bulkleave/")), "user-agent"),
        (header("accept") == Some("application/json"), "accept"),
        (header("cookie").is_none(), "no cookie"),
        (header("content-type").is_none(), "no content-type"),
        (matches!(header("content-length"), None | Some("0")), "content-length 0"),
        (request.body.is_empty(), "no body"),
    ];
    let mut problems: Vec<String> =
        checks.iter().filter(|(ok, _)| !ok).map(|(_, what)| (*what).to_owned()).collect();
    if !problems.is_empty() {
        problems.push(format!("got {} {} {:?}", request.method, request.url, request.headers));
    }
    problems
}

/// Which follow-up page an ambiguous answer leads to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Page {
    Group,
    Session,
}

impl Page {
    fn path(self) -> &'static str {
        match self {
            Page::Group => GROUP_PATH,
            Page::Session => SESSION_PATH,
        }
    }
}

struct Case {
    name: &'static str,
    leave: ResponseTemplate,
    follow_up: Option<(Page, ResponseTemplate)>,
    expect: OutcomeClass,
    check: fn(&AttemptReport),
}

fn case(expect: OutcomeClass, name: &'static str, leave: ResponseTemplate) -> Case {
    let check = |_: &AttemptReport| {};
    Case {
        name,
        leave,
        follow_up: None,
        expect,
        check,
    }
}

impl Case {
    fn group(mut self, answer: ResponseTemplate) -> Self {
        self.follow_up = Some((Page::Group, answer));
        self
    }

    fn session(mut self, answer: ResponseTemplate) -> Self {
        self.follow_up = Some((Page::Session, answer));
        self
    }

    fn check(mut self, check: fn(&AttemptReport)) -> Self {
        self.check = check;
        self
    }
}

fn js(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

fn raw(status: u16, body: &str, mime: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.as_bytes().to_vec(), mime)
}

fn err(status: u16, message: &str) -> ResponseTemplate {
    js(status, json!({"success": false, "error": message}))
}

fn forbidden() -> ResponseTemplate {
    err(403, FORBIDDEN)
}

fn not_found() -> ResponseTemplate {
    err(404, NOT_FOUND)
}

fn detail_has(report: &AttemptReport, needle: &str) {
    let detail = report.outcome.detail();
    assert!(detail.contains(needle), "{needle}: {detail}");
}

fn status(state: &str) -> ResponseTemplate {
    js(200, json!({"name": "sess1", "status": state}))
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

fn adapter(server: &MockServer) -> Wasend {
    let account = wasend::AccountConfig {
        session_id: "sess1".into(),
    };
    let settings = common::provider_settings(&server.uri());
    let key = secrecy::SecretString::from(common::CANARY);
    Wasend::new(common::http_client(), &settings, &account, key)
}

async fn mount(server: &MockServer, name: &str, path: &'static str, a: ResponseTemplate, n: u64) {
    let method = if path == LEAVE_PATH { "POST" } else { "GET" };
    Mock::given(common::Exact {
        method,
        path,
        problems: request_problems,
    })
    .respond_with(a)
    .expect(n)
    .named(format!("{name}: {method} {path} expected {n} time(s)"))
    .mount(server)
    .await;
}

async fn run(case: Case) -> AttemptReport {
    run_on(MockServer::start().await, case).await
}

/// Runs `case` on `server`: every endpoint is mounted, those not due expect zero requests, and
/// any other request (a followed redirect, a wrong path) hits a catch-all that expects none.
async fn run_on(server: MockServer, case: Case) -> AttemptReport {
    let name = case.name;
    mount(&server, name, LEAVE_PATH, case.leave, 1).await;
    let mut expected = vec![("POST", LEAVE_PATH)];
    for page in [Page::Group, Page::Session] {
        match &case.follow_up {
            Some((p, answer)) if *p == page => {
                expected.push(("GET", page.path()));
                mount(&server, name, page.path(), answer.clone(), 1).await;
            }
            _ => mount(&server, name, page.path(), ResponseTemplate::new(500), 0).await,
        }
    }
    common::forbid_other_requests(&server, name).await;

    let group = GroupRef::parse(Provider::Wasend, GROUP).unwrap();
    let report = adapter(&server).leave(&group).await;

    common::assert_requests(&server, name, &expected, request_problems).await;
    common::assert_report(name, &report, case.expect, expected.len());
    (case.check)(&report);
    report
}

#[rustfmt::skip]
fn documented_cases() -> Vec<Case> {
    let left = json!({"success": true, "message": "Successfully left the group."});
    let page = json!({"id": GROUP, "subject": "Team", "participants": []});
    let cannot_get = "Cannot GET /sess1/groups/120363406289005073%40g.us";
    vec![
        case(Left, "200 success", js(200, left))
            .check(|r| assert_eq!(r.outcome, Outcome::Left(LeftDetail::Member))),
        case(ProviderError, "200 success false", err(200, "Failed to leave group")),
        case(ProviderError, "201 success false", js(201, json!({"success": false}))),
        case(ProviderError, "202 no success field", js(202, json!({"message": "queued"}))),
        case(ProviderError, "200 success as a string", js(200, json!({"success": "true"}))),
        case(InvalidInput, "400", err(400, "Bad Request - Invalid groupId")),
        case(AccountError, "401", err(401, "Unauthorized - Invalid API key")),
        case(OwnerCannotLeave, "403, group page 200", forbidden()).group(js(200, page)),
        case(AlreadyLeft, "403, group page 404 not found", forbidden()).group(not_found()),
        case(AlreadyLeft, "403, group page 403", forbidden())
            .group(err(403, "Not a member of the group")),
        case(ProviderError, "403, group page Cannot GET", forbidden())
            .group(raw(404, cannot_get, "text/html")),
        case(ProviderError, "403, group page 404 empty", forbidden())
            .group(ResponseTemplate::new(404)),
        case(ProviderError, "403, group page 500", forbidden()).group(err(500, "Internal")),
        case(AccountError, "403, group page 401", forbidden()).group(err(401, "Unauthorized")),
        case(RetryLater, "403, group page 429", forbidden()).group(err(429, "Too Many Requests"))
            .check(|r| hint(r, HintSource::ProviderDefault, 55, 60)),
        case(ProviderError, "403, group page 200 HTML", forbidden())
            .group(raw(200, "<html>ok</html>", "text/html")),
        case(GroupGone, "404, session WORKING", not_found()).session(status("WORKING")),
        case(GroupGone, "404, session connected", not_found()).session(status("connected")),
        case(AccountError, "404, session STOPPED", not_found()).session(status("STOPPED")),
        case(AccountError, "404, session SCAN_QR", not_found()).session(status("SCAN_QR_CODE")),
        case(ProviderError, "404, session without status", not_found())
            .session(js(200, json!({"name": "sess1"}))),
        case(ProviderError, "404, session status 1", not_found())
            .session(js(200, json!({"status": 1}))),
        case(AccountError, "404, session page 404", not_found())
            .session(err(404, "Session not found")),
        case(ProviderError, "404, session page 500", not_found())
            .session(raw(500, "oops", "text/plain")),
        case(AccountError, "404, session page 401", not_found()).session(err(401, "Unauthorized")),
        case(RetryLater, "429 Retry-After", err(429, "Limit").insert_header("retry-after", "7"))
            .check(|r| hint(r, HintSource::RetryAfter, 5, 7)),
        case(RetryLater, "429 without Retry-After", err(429, "Too Many Requests"))
            .check(|r| hint(r, HintSource::ProviderDefault, 55, 60)),
        case(ProviderError, "500", err(500, "Internal Server Error")),
        case(ProviderError, "503 empty", ResponseTemplate::new(503)),
    ]
}

#[rustfmt::skip]
fn hostile_cases() -> Vec<Case> {
    const PE: OutcomeClass = ProviderError;
    let html = "<html><body><h1>502 Bad Gateway</h1></body></html>";
    let big = json!({"success": true, "message": "x".repeat(5000)});
    let big_group = format!(r#"{{"id":"{GROUP}","pad":"{}"}}"#, "x".repeat(5000));
    let big_session = json!({"status": "WORKING", "pad": "x".repeat(5000)});
    vec![
        case(PE, "502 HTML", raw(502, html, "text/html")),
        case(PE, "500 HTML", raw(500, html, "text/html")),
        case(PE, "200 empty body", ResponseTemplate::new(200)),
        case(PE, "200 malformed JSON", raw(200, r#"{"success": tru"#, "application/json")),
        case(PE, "200 JSON array", raw(200, r#"[{"success": true}]"#, "application/json")),
        case(PE, "200 HTML", raw(200, "<html>success: true</html>", "text/html")),
        case(PE, "200 over 4096 bytes", js(200, big)),
        case(PE, "403, group page over 4096 bytes", forbidden())
            .group(raw(200, &big_group, "application/json")),
        case(PE, "404, session page over 4096 bytes", not_found())
            .session(js(200, big_session)),
        case(PE, "404, session page HTML", not_found()).session(raw(200, html, "text/html")),
    ]
}

#[tokio::test]
async fn every_documented_answer_is_classified() {
    for c in documented_cases() {
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
    for page in [None, Some(Page::Group), Some(Page::Session)] {
        let server = MockServer::start().await;
        let to = format!("{}/elsewhere", server.uri());
        let redirect = ResponseTemplate::new(302).insert_header("location", to.as_str());
        Mock::given(wiremock::matchers::path("/elsewhere"))
            .respond_with(js(200, json!({"success": true, "status": "WORKING"})))
            .expect(0)
            .named(format!("redirect target ({page:?})"))
            .mount(&server)
            .await;
        // A 3xx anywhere means a wrong base_url: the account pauses (AccountError), and the
        // redirect is never followed.
        let case = match page {
            None => case(AccountError, "302 on leave", redirect),
            Some(Page::Group) => case(AccountError, "302 group page", forbidden()).group(redirect),
            Some(Page::Session) => case(AccountError, "302 session", not_found()).session(redirect),
        };
        let report = run_on(server, case).await;
        assert_eq!(report.answer.map(|a| a.status), Some(302), "{page:?}");
    }
}

#[tokio::test]
async fn a_silent_server_times_out_as_a_provider_error() {
    let slow = || err(200, "late").set_delay(Duration::from_secs(3));
    let cases = [
        case(ProviderError, "leave times out", slow()),
        case(ProviderError, "group page times out", forbidden()).group(slow()),
        case(ProviderError, "session page times out", not_found()).session(slow()),
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
async fn an_echoed_api_key_is_redacted() {
    let echo = format!("Unauthorized - Invalid API key: Bearer {}", common::CANARY);
    let report = run(case(AccountError, "401 echo", err(401, &echo))).await;
    detail_has(&report, "[redacted]");
    assert!(report.answer.unwrap().body.contains("[redacted]"));

    let echo = format!("<pre>Authorization: Bearer {}</pre>", common::CANARY);
    let report = run(case(
        ProviderError,
        "500 echo",
        raw(500, &echo, "text/html"),
    ))
    .await;
    detail_has(&report, "[redacted]");

    let echo = format!("key {} may not read this group", common::CANARY);
    let report = run(case(ProviderError, "page echo", forbidden()).group(err(500, &echo))).await;
    detail_has(&report, "[redacted]");
}

/// Bodies are cut to a 200-character excerpt before redaction: a key straddling the cut is no
/// longer whole, is not found, and its first 18 characters are reported.
#[tokio::test]
async fn an_echoed_key_cut_by_the_excerpt_is_redacted() {
    let echo = format!("{} Bearer {}", "x".repeat(172), common::CANARY);
    run(case(
        ProviderError,
        "500 echo at the cut",
        raw(500, &echo, "text/plain"),
    ))
    .await;
}

/// A framework's default 404 for an unknown route (NestJS shape) mentions "groups" (in the
/// path) and "Not Found": it says nothing about membership, so it must not be AlreadyLeft.
#[tokio::test]
async fn a_route_not_found_on_the_group_page_is_not_already_left() {
    let route_404 = json!({
        "statusCode": 404,
        "message": "Cannot GET /sess1/groups/120363406289005073%40g.us",
        "error": "Not Found",
    });
    run(case(ProviderError, "group page route 404", forbidden()).group(js(404, route_404))).await;
}

/// A pacer that never grants a further request: our own quota is full for 30 s.
struct Refusing;

impl Pacer for Refusing {
    fn follow_up(&self) -> BoxFuture<'_, Result<(), Throttled>> {
        Box::pin(async {
            Err(Throttled {
                not_before: SystemTime::now() + Duration::from_secs(30),
                reason: "own quota full".into(),
            })
        })
    }
}

/// A follow-up our own quota refuses is not sent, and the attempt is retried later when the
/// quota has room (an own-quota hint), not as an unresolved ambiguity (a provider error).
#[tokio::test]
async fn a_follow_up_our_quota_refuses_is_retried_later() {
    for (leave, page) in [(forbidden(), GROUP_PATH), (not_found(), SESSION_PATH)] {
        let server = MockServer::start().await;
        mount(&server, page, LEAVE_PATH, leave, 1).await;
        mount(&server, page, page, ResponseTemplate::new(500), 0).await;
        common::forbid_other_requests(&server, page).await;

        let group = GroupRef::parse(Provider::Wasend, GROUP).unwrap();
        let report = adapter(&server).leave_paced(&group, &Refusing).await;

        common::assert_requests(&server, page, &[("POST", LEAVE_PATH)], request_problems).await;
        common::assert_report(page, &report, RetryLater, 1);
        hint(&report, HintSource::OwnQuota, 28, 30);
        detail_has(&report, "own quota full");
    }
}
