//! The API on a bound port: through `api::serve` with reqwest, and as `bulkleave api` (the
//! address printed, SIGTERM stops it with 0); `config check` masks the tokens.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;

use bulkleave::config::load_with_env;
use serde_json::{Value, json};

use crate::support::{GROUP, OTHER_TOKEN, TOKEN, env};

#[tokio::test]
async fn serve_on_a_bound_port_until_shutdown() {
    let redis = crate::common::redis_settings();
    let settings = Arc::new(load_with_env(None, &env(&redis, &[])).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(bulkleave::api::serve(settings, listener, async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let mut ready = None;
    for _ in 0..50 {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await {
            ready = Some(r.status());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(ready, Some(reqwest::StatusCode::OK));
    let created = client
        .post(format!("{base}/v1/jobs"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(json!({"provider": "wasend", "account": "w", "group": GROUP}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let request_id = created.headers().get("x-request-id").cloned();
    assert!(request_id.is_some(), "every answer has a request id");
    let body: Value = serde_json::from_str(&created.text().await.unwrap()).unwrap();
    assert_eq!(body["status"], "queued");
    let refused = client
        .get(format!("{base}/v1/accounts"))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(
        refused.headers()["content-type"],
        "application/problem+json"
    );
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    assert!(client.get(format!("{base}/healthz")).send().await.is_err());
    crate::common::drop_prefix(&redis.key_prefix).await;
}

#[tokio::test]
async fn the_binary_serves_until_sigterm_and_config_check_masks_tokens() {
    let redis = crate::common::redis_settings();
    let env = env(&redis, &[]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_bulkleave"))
        .args(["api", "--listen", "127.0.0.1:0"])
        .env_remove("BULKLEAVE_CONFIG")
        .env("RUST_LOG", "info")
        .envs(&env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    let client = reqwest::Client::new();
    let health = client.get(format!("{base}/healthz")).send().await;
    let accounts = client
        .get(format!("{base}/v1/accounts"))
        .bearer_auth(OTHER_TOKEN)
        .send()
        .await;
    crate::common::procs::signal(&child, "TERM");
    let out = child.wait_with_output().unwrap();
    assert_eq!(health.unwrap().status(), 200);
    assert_eq!(accounts.unwrap().status(), 200);
    assert_eq!(out.status.code(), Some(0));
    let logs = String::from_utf8_lossy(&out.stderr);
    assert!(logs.contains("API listening"), "{logs}");
    for secret in [TOKEN, OTHER_TOKEN] {
        assert!(!logs.contains(secret), "{logs}");
    }

    let check = Command::new(env!("CARGO_BIN_EXE_bulkleave"))
        .args(["config", "check"])
        .env_remove("BULKLEAVE_CONFIG")
        .envs(&env)
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(text.contains("[api.tokens]"), "{text}");
    assert!(
        text.contains("ci = \"[redacted] (from env API_TOKEN_CI)\""),
        "{text}"
    );
    assert!(
        text.contains("hr-system = \"[redacted] (from env API_TOKEN_HR)\""),
        "{text}"
    );
    for secret in [TOKEN, OTHER_TOKEN, "CANARY"] {
        assert!(!text.contains(secret), "{text}");
    }
}
