//! The API under test: settings from a test environment (own Redis key prefix, the `test`
//! PostgreSQL database, two tokens), the router, and a request helper that checks every answer
//! for a leaked token and, for errors, the problem shape.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use bulkleave::api::{AppState, app};
use bulkleave::config::{RedisSettings, Settings, load_with_env};
use bulkleave::queue::{DeadInfo, Delivery, OutcomeRecord, Queue};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use crate::common;

/// The token of caller `ci`.
pub const TOKEN: &str = "api-t0ken-CANARY-5be1f0d2";
/// The token of caller `hr-system` (another length).
pub const OTHER_TOKEN: &str = "api-t0ken-CANARY-other-93c4e7a1b2";
/// The reachable test database (trust authentication).
pub const DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// A group reference Wasend accepts.
pub const GROUP: &str = "120363406289005073@g.us";
/// The JSON body cap of the test configuration.
pub const MAX_BODY: usize = 4096;

/// The environment of a test API: account `w` (wasend), `k` (kirimin), tokens `ci` and
/// `hr-system`, and `extra` on top.
pub fn env(redis: &RedisSettings, extra: &[(&str, &str)]) -> HashMap<String, String> {
    let mut env = common::worker_env(redis, "http://127.0.0.1:9", &[]);
    let max_body = MAX_BODY.to_string();
    for (k, v) in [
        ("BULKLEAVE__ACCOUNTS__K__PROVIDER", "kirimin"),
        ("BULKLEAVE__ACCOUNTS__K__OWNER_POLICY", "unchecked"),
        ("BULKLEAVE__ACCOUNTS__K__CREDENTIAL__ENV", "K_COOKIE"),
        ("K_COOKIE", "session=abc"),
        ("BULKLEAVE__DATABASE__URL", DATABASE_URL),
        ("BULKLEAVE__API__MAX_BODY_BYTES", max_body.as_str()),
        ("BULKLEAVE__API__TOKENS__CI__ENV", "API_TOKEN_CI"),
        ("API_TOKEN_CI", TOKEN),
        ("BULKLEAVE__API__TOKENS__HR-SYSTEM__ENV", "API_TOKEN_HR"),
        ("API_TOKEN_HR", OTHER_TOKEN),
    ] {
        env.insert(k.into(), v.into());
    }
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

/// A running test API.
pub struct TestApi {
    /// The router.
    pub app: Router,
    /// Its queue.
    pub queue: Queue,
    /// Its Redis (own prefix).
    pub redis: RedisSettings,
    /// Its settings.
    pub settings: Arc<Settings>,
}

impl TestApi {
    /// An API with the test environment plus `extra`.
    pub async fn start(extra: &[(&str, &str)]) -> Self {
        let redis = common::redis_settings();
        let settings = Arc::new(load_with_env(None, &env(&redis, extra)).expect("settings"));
        let state = AppState::connect(settings.clone()).await.expect("state");
        let queue = state.queue().clone();
        TestApi {
            app: app(state),
            queue,
            redis,
            settings,
        }
    }

    /// Sends a request with `token` (as a bearer token) and a JSON `body`.
    pub async fn call(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let body = match body {
            Some(v) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        self.send(request.body(body).expect("request")).await
    }

    /// Sends `request` as it is.
    pub async fn send(&self, request: Request<Body>) -> Answer {
        let response = self.app.clone().oneshot(request).await.expect("infallible");
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.expect("body").to_bytes();
        Answer::new(parts.status, parts.headers, &bytes)
    }

    /// Up to `n` jobs waiting in the queue, in order, delivered to consumer `t`.
    pub async fn deliver(&self, n: usize) -> Vec<Delivery> {
        let block = std::time::Duration::from_millis(100);
        let mut conn = self.queue.blocking_connection(block).await.expect("conn");
        self.queue
            .fetch(&mut conn, "t", n, block)
            .await
            .expect("fetch")
    }

    /// Dead-letters the next job of the queue, as a worker does after its last attempt;
    /// returns the job id.
    pub async fn dead_letter_next(&self, reason: &str) -> String {
        let d = self.deliver(1).await.remove(0);
        let info = DeadInfo {
            reason: reason.into(),
            at_ms: 1,
            history: vec![bulkleave::queue::AttemptRecord {
                at_ms: 1,
                class: "provider_error".into(),
                detail: "HTTP 502".into(),
                http_status: Some(502),
            }],
            poison: false,
        };
        let record = OutcomeRecord::new(&d.job, "provider_error", false, reason, None);
        self.queue
            .finish(&d, &record.dead_lettered(), Some(&info))
            .await
            .expect("finish");
        d.job.id.to_string()
    }

    /// Deletes the test's Redis keys.
    pub async fn cleanup(self) {
        common::drop_prefix(&self.redis.key_prefix).await;
    }
}

/// A response: status, headers, body as JSON (`Null` if empty or not JSON) and text.
#[derive(Debug)]
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body as JSON.
    pub json: Value,
    /// The body as text.
    pub text: String,
}

impl Answer {
    /// Reads an answer; no answer may contain a token, and every error is a problem.
    pub fn new(status: StatusCode, headers: HeaderMap, body: &[u8]) -> Self {
        let text = String::from_utf8_lossy(body).into_owned();
        for secret in [TOKEN, OTHER_TOKEN, common::CANARY, "CANARY"] {
            assert!(!text.contains(secret), "secret in the body: {text}");
            let headers = format!("{headers:?}");
            assert!(
                !headers.contains(secret),
                "secret in the headers: {headers}"
            );
        }
        let json = serde_json::from_slice(body).unwrap_or(Value::Null);
        let answer = Answer {
            status,
            headers,
            json,
            text,
        };
        if status.is_client_error() || status.is_server_error() {
            answer.check_problem();
        }
        answer
    }

    fn check_problem(&self) {
        let content_type = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        assert_eq!(content_type, Some("application/problem+json"), "{self:?}");
        let p = self.json.as_object().expect("a problem is an object");
        for key in ["type", "title", "detail", "code"] {
            assert!(p[key].is_string(), "{key} in {self:?}");
        }
        assert_eq!(p["status"], self.status.as_u16(), "{self:?}");
        assert_eq!(
            p["type"],
            format!("urn:bulkleave:problem:{}", p["code"].as_str().unwrap_or("")),
        );
    }

    /// Asserts an error answer with `status` and `code`.
    #[track_caller]
    pub fn problem(&self, status: u16, code: &str) -> &Self {
        assert_eq!(self.status.as_u16(), status, "{self:?}");
        assert_eq!(self.json["code"], code, "{self:?}");
        self
    }

    /// Asserts `status` and returns the JSON body.
    #[track_caller]
    pub fn ok(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "{self:?}");
        &self.json
    }
}
