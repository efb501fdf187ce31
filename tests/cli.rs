//! The `bulkleave` binary as a user runs it: the README's quick-start configuration against an
//! emulated provider, every exit code, bad arguments and configuration, and no secret in any
//! output, logs at trace level included.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::process::Output;

use common::CANARY;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const JID: &str = "120363406289005073@g.us";

/// The configuration block between the README's quick-start markers, verbatim.
fn readme_config() -> String {
    let readme = include_str!("../README.md");
    let start = readme
        .find("<!-- quickstart-config:begin -->")
        .expect("begin marker");
    let end = readme
        .find("<!-- quickstart-config:end -->")
        .expect("end marker");
    let block = &readme[start..end];
    let body = block.split("```toml").nth(1).expect("toml fence");
    body.split("```").next().expect("closing fence").to_owned()
}

fn config_file(contents: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    f.write_all(contents.as_bytes()).unwrap();
    f
}

/// Runs the binary with `args`, the given environment (and none inherited from BULKLEAVE_*).
async fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_bulkleave"));
        cmd.args(&args)
            .env_remove("BULKLEAVE_CONFIG")
            .env_remove("RUST_LOG");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    })
    .await
    .unwrap()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_no_secret(out: &Output) {
    let (stdout, stderr) = text(out);
    assert!(!stdout.contains("s3cr3t"), "secret in stdout:\n{stdout}");
    assert!(!stderr.contains("s3cr3t"), "secret in stderr:\n{stderr}");
}

/// A Wasend emulator answering the leave with `status` and `body`, expecting the exact request.
async fn wasend(status: u16, body: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/ops-main/groups/120363406289005073%40g.us/leave"))
        .and(header("authorization", format!("Bearer {CANARY}").as_str()))
        .respond_with(ResponseTemplate::new(status).set_body_string(body))
        .expect(1)
        .mount(&server)
        .await;
    server
}

async fn leave_with_readme_config(server: &MockServer, extra: &[&str]) -> Output {
    let file = config_file(&readme_config());
    let mut args = vec![
        "--config",
        file.path().to_str().unwrap(),
        "leave",
        "--account",
        "ops_wasend",
        "--group",
        JID,
    ];
    args.extend_from_slice(extra);
    let base = server.uri();
    run(
        &args,
        &[
            ("OPS_WASEND_KEY", CANARY),
            ("BULKLEAVE__PROVIDERS__WASEND__BASE_URL", &base),
        ],
    )
    .await
}

#[tokio::test]
async fn readme_quickstart_leaves_through_the_emulated_provider() {
    let server = wasend(
        200,
        r#"{"success":true,"message":"Successfully left the group."}"#,
    )
    .await;
    let out = leave_with_readme_config(&server, &[]).await;
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("outcome:  left (success)"), "{stdout}");
    assert!(stdout.contains("account:  ops_wasend (wasend)"), "{stdout}");
    assert!(stdout.contains("answer:   HTTP 200"), "{stdout}");
    assert_no_secret(&out);
}

#[tokio::test]
async fn json_output_is_one_object() {
    let server = wasend(200, r#"{"success":true}"#).await;
    let out = leave_with_readme_config(&server, &["--json"]).await;
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["outcome"]["class"], "left");
    assert_eq!(v["outcome"]["success"], true);
    assert_eq!(v["account"], "ops_wasend");
    assert_eq!(v["provider"], "wasend");
    assert_eq!(v["group"], JID);
    assert_eq!(v["answer"]["status"], 200);
    assert_eq!(v["requests"], 1);
    assert_no_secret(&out);
}

#[tokio::test]
async fn each_failure_class_has_its_exit_code() {
    let cases = [
        (
            429,
            r#"{"success":false,"error":"Too many requests"}"#,
            3,
            "retry_later",
        ),
        (
            500,
            "<html>Internal Server Error</html>",
            4,
            "provider_error",
        ),
        (
            401,
            r#"{"success":false,"error":"Unauthorized"}"#,
            5,
            "account_error",
        ),
        (
            400,
            r#"{"success":false,"error":"Invalid groupId"}"#,
            7,
            "invalid_input",
        ),
    ];
    for (status, body, code, class) in cases {
        let server = wasend(status, body).await;
        let out = leave_with_readme_config(&server, &["--json"]).await;
        assert_eq!(out.status.code(), Some(code), "HTTP {status}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["outcome"]["class"], class, "HTTP {status}");
        assert_eq!(v["outcome"]["success"], false);
        assert_no_secret(&out);
    }
}

#[tokio::test]
async fn owner_refusal_exits_6_after_the_follow_up() {
    let server = wasend(
        403,
        r#"{"success":false,"error":"Not a member of the group or group owner"}"#,
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/ops-main/groups/120363406289005073%40g.us"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(r#"{"id":"120363406289005073@g.us","subject":"x"}"#),
        )
        .expect(1)
        .mount(&server)
        .await;
    let out = leave_with_readme_config(&server, &[]).await;
    assert_eq!(out.status.code(), Some(6));
    assert!(text(&out).0.contains("requests: 2"), "{}", text(&out).0);
}

#[tokio::test]
async fn bad_arguments_exit_64_naming_the_argument() {
    let file = config_file(&readme_config());
    let cfg = file.path().to_str().unwrap();
    let env = [("OPS_WASEND_KEY", CANARY)];
    let out = run(
        &[
            "--config",
            cfg,
            "leave",
            "--account",
            "ops_wasend",
            "--group",
            "79001234567@c.us",
        ],
        &env,
    )
    .await;
    assert_eq!(out.status.code(), Some(64));
    let stderr = text(&out).1;
    assert!(
        stderr.contains("--group: \"79001234567@c.us\" is not a valid wasend group reference"),
        "{stderr}"
    );
    assert!(stderr.contains("a contact"), "{stderr}");

    let out = run(
        &[
            "--config",
            cfg,
            "leave",
            "--account",
            "nobody",
            "--group",
            JID,
        ],
        &env,
    )
    .await;
    assert_eq!(out.status.code(), Some(64));
    assert!(
        text(&out)
            .1
            .contains("\"nobody\" is not configured (configured: ops_wasend)"),
        "{}",
        text(&out).1
    );
}

#[tokio::test]
async fn invalid_configuration_exits_78_listing_every_problem() {
    let file = config_file(&readme_config());
    let cfg = file.path().to_str().unwrap();
    // The credential variable is not set, and an override is malformed.
    let out = run(
        &["--config", cfg, "config", "check"],
        &[("BULKLEAVE__WORKER__CONCURRENCY", "0")],
    )
    .await;
    assert_eq!(out.status.code(), Some(78));
    let stderr = text(&out).1;
    assert!(
        stderr.contains(
            "accounts.ops_wasend.credential.env: environment variable OPS_WASEND_KEY is not set"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("worker.concurrency: must be between 1 and 10000"),
        "{stderr}"
    );
    let out = run(
        &[
            "--config",
            cfg,
            "leave",
            "--account",
            "ops_wasend",
            "--group",
            JID,
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(78));
}

#[tokio::test]
async fn config_check_prints_the_effective_configuration_masked() {
    let file = config_file(&readme_config());
    let out = run(
        &["--config", file.path().to_str().unwrap(), "config", "check"],
        &[
            ("OPS_WASEND_KEY", CANARY),
            (
                "BULKLEAVE__REDIS__URL",
                &format!("redis://:{CANARY}@cache:6379"),
            ),
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out).0;
    assert!(
        stdout.contains("credential = \"[redacted] (from env OPS_WASEND_KEY)\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("url = \"redis://:***@cache:6379\""),
        "{stdout}"
    );
    assert_no_secret(&out);
}

/// A configuration with one Green API account `g` at `api_url`, token from `G_TOKEN`.
fn green_api_config(api_url: &str) -> tempfile::NamedTempFile {
    config_file(&format!(
        "[accounts.g]\nprovider = \"green_api\"\ninstance_id = \"1101000001\"\n\
         api_url = \"{api_url}\"\ncredential.env = \"G_TOKEN\"\n"
    ))
}

#[tokio::test]
async fn green_api_token_in_the_url_never_reaches_output_or_trace_logs() {
    let server = MockServer::start().await;
    let token_path = format!("/waInstance1101000001/leaveGroup/{CANARY}");
    Mock::given(method("POST"))
        .and(path(token_path.as_str()))
        .respond_with(
            ResponseTemplate::new(500).set_body_string(format!("no route for POST {token_path}")),
        )
        .expect(2)
        .mount(&server)
        .await;
    let file = green_api_config(&server.uri());
    for format in ["text", "json"] {
        let out = run(
            &[
                "--config",
                file.path().to_str().unwrap(),
                "--log-format",
                format,
                "leave",
                "--account",
                "g",
                "--group",
                JID,
            ],
            &[("G_TOKEN", CANARY), ("RUST_LOG", "trace")],
        )
        .await;
        assert_eq!(out.status.code(), Some(4), "{:?}", text(&out));
        assert!(text(&out).0.contains("[redacted]"), "{}", text(&out).0);
        assert_no_secret(&out);
    }
    // A server that is not there: the connection error must not carry the URL either.
    let port = common::procs::free_port();
    let file = green_api_config(&format!("http://127.0.0.1:{port}"));
    let out = run(
        &[
            "--config",
            file.path().to_str().unwrap(),
            "leave",
            "--account",
            "g",
            "--group",
            JID,
        ],
        &[("G_TOKEN", CANARY), ("RUST_LOG", "trace")],
    )
    .await;
    assert_eq!(out.status.code(), Some(4));
    assert!(
        text(&out).0.contains("connection failed"),
        "{}",
        text(&out).0
    );
    assert_no_secret(&out);
}
