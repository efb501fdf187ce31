#![allow(clippy::unwrap_used)]
//! The Green API adapter against an emulated provider (wiremock): the exact request it sends and
//! how every documented (and a few undocumented) answers are classified.

mod common;

use std::net::TcpListener;
use std::time::{Duration, SystemTime};

use bulkleave::job::GroupRef;

use bulkleave::providers::green_api::{AccountConfig, GreenApi, LeaveGroupFalse};
use bulkleave::providers::{
    AttemptReport, HintSource, LeftDetail, Outcome, OutcomeClass, Provider,
};
use common::Hint;
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{any, body_json, header, header_regex, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const INSTANCE: &str = "1101000001";
const JID: &str = "120363406289005073@g.us";
/// The documented path: the token is the last path segment.
fn leave_path() -> String {
    format!("/waInstance{INSTANCE}/leaveGroup/{}", common::CANARY)
}

fn account(lgf: LeaveGroupFalse, api_url: Option<&str>) -> AccountConfig {
    AccountConfig {
        instance_id: INSTANCE.into(),
        api_url: api_url.map(|u| url::Url::parse(u).unwrap()),
        leave_group_false: lgf,
    }
}

fn adapter(base: &str, lgf: LeaveGroupFalse) -> GreenApi {
    GreenApi::new(
        common::http_client(),
        &common::provider_settings(base),
        &account(lgf, None),
        SecretString::from(common::CANARY),
    )
}

fn group() -> GroupRef {
    GroupRef::parse(Provider::GreenApi, JID).unwrap()
}

fn no_query(r: &Request) -> bool {
    r.url.query().is_none()
}

/// Mounts the one mock that matches exactly the documented leaveGroup request, expected once.
async fn mount_exact(server: &MockServer, response: impl Respond + 'static) {
    mount_exact_at(server, &leave_path(), response).await;
}

/// [`mount_exact`] at `leave_path` (for a base URL with a path prefix).
async fn mount_exact_at(server: &MockServer, leave_path: &str, response: impl Respond + 'static) {
    Mock::given(method("POST"))
        .and(path(leave_path))
        .and(no_query)
        .and(header("content-type", "application/json"))
        .and(header_regex("user-agent", r"^bulkleave/\d"))
        .and(body_json(json!({ "groupId": JID })))
        .respond_with(response)
        .expect(1)
        .named("exact Green API leaveGroup request")
        .mount(server)
        .await;
}

struct Case {
    name: &'static str,
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
    class: OutcomeClass,
    detail: &'static str,
    hint: Hint,
    left: Option<LeftDetail>,
    lgf: LeaveGroupFalse,
}

fn case(
    name: &'static str,
    status: u16,
    body: impl Into<String>,
    class: OutcomeClass,
    detail: &'static str,
) -> Case {
    Case {
        name,
        status,
        headers: Vec::new(),
        body: body.into(),
        class,
        detail,
        hint: Hint::Unchecked,
        left: None,
        lgf: LeaveGroupFalse::default(),
    }
}

impl Case {
    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
    fn hint(mut self, hint: Hint) -> Self {
        self.hint = hint;
        self
    }
    fn left(mut self, detail: LeftDetail) -> Self {
        self.left = Some(detail);
        self
    }
    fn lgf(mut self, lgf: LeaveGroupFalse) -> Self {
        self.lgf = lgf;
        self
    }
    fn template(&self) -> ResponseTemplate {
        common::respond(self.status, &self.headers, &self.body)
    }
}

async fn run(c: &Case) {
    let server = MockServer::start().await;
    mount_exact(&server, c.template()).await;
    let before = SystemTime::now();
    let report = adapter(&server.uri(), c.lgf).leave(&group()).await;
    let after = SystemTime::now();
    server.verify().await;
    let name = c.name;
    common::check_one(name, &report, c.class, c.detail);
    assert_eq!(
        report.answer.as_ref().map(|a| a.status),
        Some(c.status),
        "{name}"
    );
    if let Some(left) = c.left {
        assert_eq!(report.outcome, Outcome::Left(left), "{name}");
    }
    match &report.outcome {
        Outcome::RetryLater { hint, .. } => {
            common::check_hint(name, *hint, c.hint, (before, after))
        }
        _ => assert!(matches!(c.hint, Hint::Unchecked), "{name}: expected a hint"),
    }
}

/// Every answer the providers README documents for Green API.
#[rustfmt::skip]
fn documented_cases() -> Vec<Case> {
    use OutcomeClass::*;
    vec![
        case("200 leaveGroup true", 200, r#"{"leaveGroup":true}"#, Left, "left the group")
            .left(LeftDetail::Member),
        case("200 removeAdmin true", 200, r#"{"removeAdmin":true}"#, Left, "was an admin")
            .left(LeftDetail::WasAdmin),
        case("200 leaveGroup false (unconfirmed)", 200, r#"{"leaveGroup":false}"#, ProviderError, "did not confirm")
            .lgf(LeaveGroupFalse::Unconfirmed),
        case("200 leaveGroup false (already_left)", 200, r#"{"leaveGroup":false}"#, AlreadyLeft, "leaveGroup:false")
            .lgf(LeaveGroupFalse::AlreadyLeft),
        case("400 Validation failed (json)", 400, r#"{"code":400,"description":"Validation failed"}"#, InvalidInput, "Validation failed"),
        case("400 Validation failed (text)", 400, "Bad Request. Validation failed", InvalidInput, "HTTP 400"),
        case("400 starting", 400, "instance in starting process try later", RetryLater, "starting")
            .hint(Hint::Absent),
        case("400 not authorized", 400, r#"{"code":400,"description":"instance account not authorized"}"#, AccountError, "not authorized"),
        case("400 expired", 400, "Instance account expired", AccountError, "HTTP 400"),
        case("400 deleted", 400, "Instance account deleted", AccountError, "HTTP 400"),
        case("401", 401, "Unauthorized", AccountError, "HTTP 401"),
        case("403", 403, "Forbidden", AccountError, "HTTP 403"),
        case("466 quota", 466, r#"{"code":466,"description":"Correspondents quota exceeded"}"#, AccountError, "quota"),
        case("404 wrong path", 404, "Not Found", AccountError, "HTTP 404"),
        case("429 (no Retry-After documented)", 429, "Too Many Requests", RetryLater, "rate limited")
            .hint(Hint::Absent),
        case("499", 499, "Client Closed Request", ProviderError, "HTTP 499"),
        case("502", 502, "Bad Gateway", ProviderError, "HTTP 502"),
        case("500", 500, "Internal Server Error", ProviderError, "HTTP 500"),
    ]
}

#[tokio::test]
async fn documented_answers_are_classified_as_the_docs_say() {
    for c in &documented_cases() {
        run(c).await;
    }
}

/// Answers beyond the docs: hints, broken bodies, oversized bodies.
#[rustfmt::skip]
fn undocumented_cases() -> Vec<Case> {
    use OutcomeClass::*;
    let date_at = SystemTime::now() + Duration::from_secs(120);
    let date = httpdate::fmt_http_date(date_at);
    let date_at = httpdate::parse_http_date(&date).unwrap();
    let big = format!(r#"{{"leaveGroup":true,"pad":"{}"}}"#, "x".repeat(5000));
    vec![
        case("429 Retry-After seconds", 429, "", RetryLater, "HTTP 429")
            .header("retry-after", "3")
            .hint(Hint::After(3, HintSource::RetryAfter)),
        case("429 Retry-After date", 429, "", RetryLater, "HTTP 429")
            .header("retry-after", date)
            .hint(Hint::At(date_at, HintSource::RetryAfter)),
        case("429 unparseable Retry-After", 429, "", RetryLater, "HTTP 429")
            .header("retry-after", "soon")
            .hint(Hint::Absent),
        case("400 starting with Retry-After", 400, "instance in starting process try later", RetryLater, "starting")
            .header("retry-after", "5")
            .hint(Hint::After(5, HintSource::RetryAfter)),
        case("500 html", 500, "<html><body><h1>500 Internal Server Error</h1></body></html>", ProviderError, "<h1>500"),
        case("502 html", 502, "<html>\n<head><title>502 Bad Gateway</title></head>\n</html>", ProviderError, "502 Bad Gateway"),
        case("503", 503, "", ProviderError, "empty body"),
        case("200 empty", 200, "", ProviderError, "unparseable"),
        case("200 malformed json", 200, r#"{"leaveGroup":tru"#, ProviderError, "unparseable"),
        case("200 html", 200, "<html><body>ok</body></html>", ProviderError, "unparseable"),
        case("200 json array", 200, "[true]", ProviderError, "unparseable"),
        case("200 empty object", 200, "{}", ProviderError, "without leaveGroup"),
        case("200 leaveGroup as string", 200, r#"{"leaveGroup":"true"}"#, ProviderError, "HTTP 200"),
        case("200 removeAdmin false", 200, r#"{"removeAdmin":false}"#, ProviderError, "HTTP 200"),
        case("200 body over the cap", 200, big, ProviderError, "unparseable"),
    ]
}

#[tokio::test]
async fn undocumented_answers_are_never_successes() {
    for c in &undocumented_cases() {
        run(c).await;
    }
}

async fn leave_at(base: &str) -> AttemptReport {
    adapter(base, LeaveGroupFalse::default())
        .leave(&group())
        .await
}

fn left_answer() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"leaveGroup": true}))
}

#[tokio::test]
async fn request_is_exactly_the_documented_one() {
    let server = MockServer::start().await;
    mount_exact(&server, left_answer()).await;
    let report = leave_at(&server.uri()).await;
    common::check_one("exact", &report, OutcomeClass::Left, "left the group");
    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    let r = &received[0];
    assert_eq!(r.method.as_str(), "POST");
    assert_eq!(r.url.path(), leave_path());
    assert_eq!(r.url.query(), None);
    let body = String::from_utf8_lossy(&r.body);
    assert_eq!(body, format!(r#"{{"groupId":"{JID}"}}"#));
    assert_eq!(r.headers["content-type"], "application/json");
    let agent = r.headers["user-agent"].to_str().unwrap();
    assert!(agent.starts_with("bulkleave/"), "{agent}");
    // The token travels only in the path: no header carries it.
    for (name, value) in &r.headers {
        let leaked = value.as_bytes().windows(6).any(|w| w == b"s3cr3t");
        assert!(!leaked, "token in header {name}");
    }
}

#[tokio::test]
async fn account_api_url_takes_precedence_and_keeps_its_path_prefix() {
    let server = MockServer::start().await;
    mount_exact_at(&server, &format!("/gw{}", leave_path()), left_answer()).await;
    let api_url = format!("{}/gw/", server.uri());
    let a = GreenApi::new(
        common::http_client(),
        &common::provider_settings(&closed_port_url()),
        &account(LeaveGroupFalse::default(), Some(&api_url)),
        SecretString::from(common::CANARY),
    );
    let report = a.leave(&group()).await;
    common::check_one("api_url", &report, OutcomeClass::Left, "left the group");
}

#[tokio::test]
async fn redirects_are_not_followed_and_pause_the_account() {
    for status in [301, 302, 307, 308] {
        let target = MockServer::start().await;
        let never = Mock::given(any()).respond_with(left_answer()).expect(0);
        never.named("redirect target").mount(&target).await;
        let server = MockServer::start().await;
        // The Location repeats the token-bearing path: it must be redacted from the report.
        let location = format!("{}{}", target.uri(), leave_path());
        let answer = ResponseTemplate::new(status).insert_header("location", location.as_str());
        mount_exact(&server, answer).await;
        let report = leave_at(&server.uri()).await;
        common::check_redirect_refused(status, &report, &server, &target).await;
    }
}

#[tokio::test]
async fn no_answer_within_the_timeout_is_a_provider_error() {
    let server = MockServer::start().await;
    mount_exact(&server, left_answer().set_delay(Duration::from_secs(3))).await;
    let report = leave_at(&server.uri()).await;
    common::check_one("timeout", &report, OutcomeClass::ProviderError, "timeout");
    assert!(report.answer.is_none());
    let ms = report.elapsed.as_millis();
    assert!((700..3000).contains(&ms), "elapsed {ms} ms");
    server.verify().await;
}

fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

#[tokio::test]
async fn connection_refused_is_a_provider_error() {
    let report = leave_at(&closed_port_url()).await;
    common::check_one("refused", &report, OutcomeClass::ProviderError, "connect");
    assert!(report.answer.is_none());
}

/// A provider that echoes the request path (token included) after `prefix` in its body.
fn echo_path(status: u16, prefix: String) -> impl Fn(&Request) -> ResponseTemplate {
    move |r: &Request| {
        ResponseTemplate::new(status).set_body_string(format!("{prefix}{}", r.url.path()))
    }
}

#[tokio::test]
async fn token_echoed_in_error_bodies_is_redacted() {
    for (status, prefix, class) in [
        (500, "Internal error at ", OutcomeClass::ProviderError),
        (404, "Cannot POST ", OutcomeClass::AccountError),
    ] {
        let server = MockServer::start().await;
        mount_exact(&server, echo_path(status, prefix.into())).await;
        let report = leave_at(&server.uri()).await;
        let name = format!("echo {status}");
        // The detail quotes the body, with the token replaced.
        let echoed = format!("waInstance{INSTANCE}/leaveGroup/[redacted]");
        common::check_one(&name, &report, class, &echoed);
        let body = &report.answer.as_ref().unwrap().body;
        assert!(body.contains(&echoed), "{name}: body {body:?}");
        let json = serde_json::to_string(&report).unwrap();
        for text in [format!("{report:?}"), json, report.outcome.to_string()] {
            assert!(!text.contains(common::CANARY), "{name}: {text}");
            assert!(text.contains("[redacted]"), "{name}: {text}");
        }
        server.verify().await;
    }
}

#[tokio::test]
async fn token_cut_by_the_excerpt_limit_is_not_leaked() {
    // Padding so that the token starts at character 185 of the body and ends after the
    // 200-character excerpt.
    let pad = "e".repeat(185 - format!("/waInstance{INSTANCE}/leaveGroup/").len());
    let server = MockServer::start().await;
    mount_exact(&server, echo_path(500, pad)).await;
    let report = leave_at(&server.uri()).await;
    let json = serde_json::to_string(&report).unwrap();
    let text = format!("{report:?}\n{json}\n{}", report.outcome);
    // No 8-character piece of the token may appear anywhere in the report.
    for piece in common::CANARY.as_bytes().windows(8) {
        let piece = std::str::from_utf8(piece).unwrap();
        assert!(
            !text.contains(piece),
            "token fragment {piece:?} leaked: {text}"
        );
    }
    common::check_one(
        "straddling",
        &report,
        OutcomeClass::ProviderError,
        "HTTP 500",
    );
}

/// A token with characters a path segment keeps (`-`, `.`, `_`, `~`) and characters it encodes
/// (`/`, `+`, space): its URL form is neither the raw token nor its fully encoded form.
const MIXED_TOKEN: &str = "MIXED-s3cr3t/t0k.en+9f_2c~x y";

#[tokio::test]
async fn a_token_with_reserved_characters_is_redacted_in_its_url_form() {
    let encoded = "MIXED-s3cr3t%2Ft0k.en%2B9f_2c~x%20y";
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/waInstance{INSTANCE}/leaveGroup/{encoded}")))
        .respond_with(echo_path(500, "Internal error at ".into()))
        .expect(1)
        .mount(&server)
        .await;
    let report = GreenApi::new(
        common::http_client(),
        &common::provider_settings(&server.uri()),
        &account(LeaveGroupFalse::default(), None),
        SecretString::from(MIXED_TOKEN),
    )
    .leave(&group())
    .await;
    server.verify().await;
    let echoed = format!("waInstance{INSTANCE}/leaveGroup/[redacted]");
    common::check_one("mixed", &report, OutcomeClass::ProviderError, &echoed);
    let json = serde_json::to_string(&report).unwrap();
    for text in [format!("{report:?}"), json, report.outcome.to_string()] {
        assert!(!text.contains("s3cr3t"), "the token leaked: {text}");
    }
}
