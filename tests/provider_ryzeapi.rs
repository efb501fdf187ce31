#![allow(clippy::unwrap_used)]
//! The RyzeAPI adapter against an emulated provider (wiremock): the exact request it sends and
//! how every documented (and a few undocumented) answers are classified.

mod common;

use std::net::TcpListener;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bulkleave::job::GroupRef;
use bulkleave::providers::OutcomeClass::Left;
use bulkleave::providers::ryzeapi::{AccountConfig, RyzeApi};
use bulkleave::providers::{
    AttemptReport, HintSource, LeftDetail, Outcome, OutcomeClass, Provider, RateLimitInfo,
};
use common::Hint;
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{any, header, header_regex, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const INSTANCE: &str = "ops-main_1";
const JID: &str = "120363406289005073@g.us";
const CODE: &str = "AbCdEfGhIjKlMnOpQrStUv";
fn adapter(base: &str, instance: &str) -> RyzeApi {
    RyzeApi::new(
        common::http_client(),
        &common::provider_settings(base),
        &AccountConfig {
            instance: instance.into(),
        },
        SecretString::from(common::CANARY),
    )
}

fn jid() -> GroupRef {
    GroupRef::parse(Provider::RyzeApi, JID).unwrap()
}

async fn leave_at(base: &str) -> AttemptReport {
    adapter(base, INSTANCE).leave(&jid()).await
}

/// Nothing but `identifier` in the query, and no body.
fn only_identifier_no_body(r: &Request) -> bool {
    r.url.query_pairs().count() == 1 && r.body.is_empty()
}

/// Mounts the one mock that matches exactly the documented leave request, expected once.
/// `identifier` is compared decoded.
async fn mount_exact(server: &MockServer, identifier: &str, response: ResponseTemplate) {
    let path = format!("/api/group/leave/{INSTANCE}");
    mount_exact_at(server, &path, identifier, response).await;
}

/// [`mount_exact`] at `leave_path` (for other instance names).
async fn mount_exact_at(
    server: &MockServer,
    leave_path: &str,
    identifier: &str,
    response: ResponseTemplate,
) {
    Mock::given(method("DELETE"))
        .and(path(leave_path))
        .and(query_param("identifier", identifier))
        .and(only_identifier_no_body)
        .and(header("token", common::CANARY))
        .and(header_regex("user-agent", r"^bulkleave/\d"))
        .respond_with(response)
        .expect(1)
        .named("exact RyzeAPI leave request")
        .mount(server)
        .await;
}

fn error_body(message: &str) -> String {
    json!({ "success": false, "error": { "message": message } }).to_string()
}

fn unix_in(secs: u64) -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + secs
}

struct Case {
    name: &'static str,
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
    class: OutcomeClass,
    detail: &'static str,
    hint: Hint,
}

fn case(
    name: &'static str,
    status: u16,
    body: impl Into<String>,
    class: OutcomeClass,
    detail: &'static str,
) -> Case {
    let body = body.into();
    let (headers, hint) = (Vec::new(), Hint::Unchecked);
    Case {
        name,
        status,
        headers,
        body,
        class,
        detail,
        hint,
    }
}

impl Case {
    fn header(mut self, name: &'static str, value: impl ToString) -> Self {
        self.headers.push((name, value.to_string()));
        self
    }
    fn hint(mut self, hint: Hint) -> Self {
        self.hint = hint;
        self
    }
    fn template(&self) -> ResponseTemplate {
        common::respond(self.status, &self.headers, &self.body)
    }
}

async fn run(c: &Case) {
    let server = MockServer::start().await;
    mount_exact(&server, JID, c.template()).await;
    let before = SystemTime::now();
    let report = leave_at(&server.uri()).await;
    let after = SystemTime::now();
    server.verify().await;
    let name = c.name;
    common::check_one(name, &report, c.class, c.detail);
    assert_eq!(
        report.answer.as_ref().map(|a| a.status),
        Some(c.status),
        "{name}"
    );
    if c.class == Left {
        assert_eq!(report.outcome, Outcome::Left(LeftDetail::Member), "{name}");
    }
    match &report.outcome {
        Outcome::RetryLater { hint, .. } => {
            common::check_hint(name, *hint, c.hint, (before, after))
        }
        _ => assert!(matches!(c.hint, Hint::Unchecked), "{name}: expected a hint"),
    }
}

/// Every answer the providers README and RyzeAPI's page document.
#[rustfmt::skip]
fn documented_cases() -> Vec<Case> {
    use OutcomeClass::*;
    let reset = unix_in(42);
    let success = json!({"success": true, "message": "Successfully left the group", "groupJid": JID});
    vec![
        case("200 success", 200, success.to_string(), Left, "left the group")
            .header("x-ratelimit-limit", 100).header("x-ratelimit-remaining", 99).header("x-ratelimit-reset", reset),
        case("400 identifier required", 400, error_body("Identifier is required"), InvalidInput, "Identifier is required"),
        case("400 instance not connected", 400, error_body("Instance not connected"), AccountError, "not connected"),
        case("401", 401, error_body("Unauthorized"), AccountError, "HTTP 401"),
        case("403 not allowed to leave", 403, error_body("Not allowed to leave this group"), OwnerCannotLeave, "Not allowed"),
        case("404 not a member", 404, error_body("Group not found or you are not a member of this group"), AlreadyLeft, "not a member"),
        case("404 instance not found", 404, error_body("Instance not found"), AccountError, "Instance not found"),
        case("429 until X-RateLimit-Reset", 429, error_body("Rate limit exceeded. Try again later."), RetryLater, "rate limited")
            .header("x-ratelimit-limit", 100).header("x-ratelimit-remaining", 0).header("x-ratelimit-reset", reset)
            .hint(Hint::At(UNIX_EPOCH + Duration::from_secs(reset), HintSource::RateLimitReset)),
        case("500", 500, error_body("Internal server error"), ProviderError, "HTTP 500"),
        case("501 permanent", 501, error_body("Not implemented"), InvalidInput, "HTTP 501"),
        case("503 bridge down", 503, error_body("Service unavailable"), RetryLater, "bridge down")
            .hint(Hint::After(30, HintSource::ProviderDefault)),
    ]
}

#[tokio::test]
async fn documented_answers_are_classified_as_the_docs_say() {
    for c in &documented_cases() {
        run(c).await;
    }
}

/// Answers beyond the docs: hints, other envelopes, broken bodies, oversized bodies.
#[rustfmt::skip]
fn undocumented_cases() -> Vec<Case> {
    use OutcomeClass::*;
    let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
    let date_at = httpdate::parse_http_date(&date).unwrap();
    let big = format!(r#"{{"success":true,"pad":"{}"}}"#, "x".repeat(5000));
    let echo = error_body(&format!("Invalid token {}", common::CANARY));
    vec![
        case("429 Retry-After seconds", 429, "", RetryLater, "HTTP 429")
            .header("retry-after", 3).hint(Hint::After(3, HintSource::RetryAfter)),
        case("429 Retry-After date", 429, "", RetryLater, "HTTP 429")
            .header("retry-after", date).hint(Hint::At(date_at, HintSource::RetryAfter)),
        case("429 without any hint", 429, error_body("Rate limit exceeded"), RetryLater, "rate limited")
            .hint(Hint::Absent),
        case("429 Retry-After later than the reset wins", 429, "", RetryLater, "HTTP 429")
            .header("retry-after", 120).header("x-ratelimit-reset", unix_in(10))
            .hint(Hint::After(120, HintSource::RetryAfter)),
        case("503 Retry-After", 503, "", RetryLater, "bridge down")
            .header("retry-after", 5).hint(Hint::After(5, HintSource::RetryAfter)),
        case("403 other: token not allowed", 403, error_body("Forbidden"), AccountError, "HTTP 403"),
        case("403 error as a string", 403, r#"{"success":false,"error":"Not allowed to leave this group"}"#, OwnerCannotLeave, "HTTP 403"),
        case("404 top-level message", 404, r#"{"success":false,"message":"Group not found or you are not a member of this group"}"#, AlreadyLeft, "not a member"),
        case("404 not the envelope (wrong base_url)", 404, "Cannot DELETE /api/group/leave/ops-main_1", AccountError, "HTTP 404"),
        case("404 html mentioning the message", 404, "<html>Group not found or you are not a member of this group</html>", AccountError, "HTTP 404"),
        case("401 echoing the token", 401, echo, AccountError, "[redacted]"),
        case("500 html", 500, "<html><body><h1>500 Internal Server Error</h1></body></html>", ProviderError, "<h1>500"),
        case("502 html", 502, "<html>\n<head><title>502 Bad Gateway</title></head>\n</html>", ProviderError, "502 Bad Gateway"),
        case("200 empty", 200, "", ProviderError, "unparseable"),
        case("200 malformed json", 200, r#"{"success":tru"#, ProviderError, "unparseable"),
        case("200 html", 200, "<html><body>ok</body></html>", ProviderError, "unparseable"),
        case("200 success false", 200, error_body("Group not found"), ProviderError, "not confirmed"),
        case("200 success as string", 200, r#"{"success":"true"}"#, ProviderError, "not confirmed"),
        case("200 body over the cap", 200, big, ProviderError, "unparseable"),
    ]
}

#[tokio::test]
async fn undocumented_answers_are_never_successes() {
    for c in &undocumented_cases() {
        run(c).await;
    }
}

fn left_answer() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"success": true, "groupJid": JID}))
}

#[tokio::test]
async fn identifier_is_form_encoded_in_the_query() {
    let link = format!("https://chat.whatsapp.com/{CODE}");
    let legacy = "5511987654321-1587570015@g.us";
    for (input, decoded, raw) in [
        (JID, JID, "identifier=120363406289005073%40g.us"),
        (legacy, legacy, "identifier=5511987654321-1587570015%40g.us"),
        (link.as_str(), CODE, "identifier=AbCdEfGhIjKlMnOpQrStUv"),
        (CODE, CODE, "identifier=AbCdEfGhIjKlMnOpQrStUv"),
    ] {
        let server = MockServer::start().await;
        mount_exact(&server, decoded, left_answer()).await;
        let group = GroupRef::parse(Provider::RyzeApi, input).unwrap();
        let report = adapter(&server.uri(), INSTANCE).leave(&group).await;
        common::check_one(input, &report, Left, "left the group");
        server.verify().await;
        let received = server.received_requests().await.unwrap();
        assert_eq!(received.len(), 1, "{input}");
        let r = &received[0];
        assert_eq!(r.method.as_str(), "DELETE");
        assert_eq!(r.url.path(), format!("/api/group/leave/{INSTANCE}"));
        assert_eq!(r.url.query(), Some(raw), "{input}");
        assert_eq!(r.headers["token"], common::CANARY);
        let agent = r.headers["user-agent"].to_str().unwrap();
        assert!(agent.starts_with("bulkleave/"), "{agent}");
        assert!(!r.url.as_str().contains("s3cr3t"), "token in the URL");
        assert!(r.headers.get("authorization").is_none());
    }
}

#[tokio::test]
async fn instance_name_is_one_encoded_path_segment() {
    let server = MockServer::start().await;
    mount_exact_at(&server, "/api/group/leave/team%20a%2Fb", JID, left_answer()).await;
    let report = adapter(&server.uri(), "team a/b").leave(&jid()).await;
    common::check_one("instance encoding", &report, Left, "left the group");
}

#[tokio::test]
async fn rate_limit_headers_are_kept_in_the_report() {
    let reset = unix_in(30);
    let answer = left_answer()
        .insert_header("x-ratelimit-limit", "100")
        .insert_header("x-ratelimit-remaining", "57")
        .insert_header("x-ratelimit-reset", reset.to_string().as_str());
    let server = MockServer::start().await;
    mount_exact(&server, JID, answer).await;
    let report = leave_at(&server.uri()).await;
    common::check_one("rate-limit headers", &report, Left, "left the group");
    let summary = report.answer.unwrap();
    assert_eq!(summary.status, 200);
    let info = RateLimitInfo {
        limit: Some(100),
        remaining: Some(57),
        reset_at_ms: Some(reset * 1000),
    };
    assert_eq!(summary.rate_limit, Some(info));
}

#[tokio::test]
async fn bridge_down_is_not_shortened_by_the_rate_limit_window() {
    // Every RyzeAPI response carries X-RateLimit-*; the window resetting in 2 s says nothing
    // about when the instance bridge is back.
    let answer = ResponseTemplate::new(503)
        .insert_header("x-ratelimit-limit", "100")
        .insert_header("x-ratelimit-remaining", "98")
        .insert_header("x-ratelimit-reset", unix_in(2).to_string().as_str());
    let server = MockServer::start().await;
    mount_exact(&server, JID, answer).await;
    let before = SystemTime::now();
    let report = leave_at(&server.uri()).await;
    common::check_one(
        "503 with rate-limit headers",
        &report,
        OutcomeClass::RetryLater,
        "bridge down",
    );
    let Outcome::RetryLater {
        hint: Some(hint), ..
    } = report.outcome
    else {
        panic!("no hint: {report:?}");
    };
    assert!(
        hint.not_before >= before + Duration::from_secs(30),
        "{hint:?}"
    );
}

#[tokio::test]
async fn redirects_are_not_followed_and_pause_the_account() {
    for status in [302, 307] {
        let target = MockServer::start().await;
        let never = Mock::given(any()).respond_with(left_answer()).expect(0);
        never.named("redirect target").mount(&target).await;
        let server = MockServer::start().await;
        let location = format!(
            "{}/api/group/leave/{INSTANCE}?identifier={JID}",
            target.uri()
        );
        let answer = ResponseTemplate::new(status).insert_header("location", location.as_str());
        mount_exact(&server, JID, answer).await;
        let report = leave_at(&server.uri()).await;
        common::check_redirect_refused(status, &report, &server, &target).await;
    }
}

#[tokio::test]
async fn no_answer_within_the_timeout_is_a_provider_error() {
    let server = MockServer::start().await;
    mount_exact(
        &server,
        JID,
        left_answer().set_delay(Duration::from_secs(3)),
    )
    .await;
    let report = leave_at(&server.uri()).await;
    common::check_one("timeout", &report, OutcomeClass::ProviderError, "timeout");
    assert!(report.answer.is_none());
    let ms = report.elapsed.as_millis();
    assert!((700..3000).contains(&ms), "elapsed {ms} ms");
    server.verify().await;
}

#[tokio::test]
async fn connection_refused_is_a_provider_error() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let report = leave_at(&format!("http://127.0.0.1:{port}")).await;
    common::check_one("refused", &report, OutcomeClass::ProviderError, "connect");
    assert!(report.answer.is_none());
}

#[tokio::test]
async fn not_a_member_for_an_invite_proves_nothing() {
    // A revoked or reset invite cannot be resolved to its group, and RyzeAPI then answers like
    // an account that already left: for invites that answer must not count as a success.
    let answer = ResponseTemplate::new(404).set_body_string(error_body(
        "Group not found or you are not a member of this group",
    ));
    let server = MockServer::start().await;
    mount_exact(&server, CODE, answer).await;
    let invite = GroupRef::parse(
        Provider::RyzeApi,
        &format!("https://chat.whatsapp.com/{CODE}"),
    )
    .unwrap();
    let report = adapter(&server.uri(), INSTANCE).leave(&invite).await;
    common::check_one(
        "404 for an invite",
        &report,
        OutcomeClass::InvalidInput,
        "submit the group's JID",
    );
    server.verify().await;
}
