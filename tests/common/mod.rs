//! Shared helpers for integration tests: the HTTP client, provider settings pointing at a
//! local emulated provider (wiremock), and the canary secret whose absence from every output
//! the tests assert.

#![allow(dead_code)]

use std::time::Duration;

use bulkleave::providers::http::ClientOptions;
use bulkleave::providers::{AttemptReport, HttpClient, ProviderSettings};
use url::Url;

/// A credential value that must never appear in any output.
pub const CANARY: &str = "CANARY-s3cr3t-t0ken-9f2c";

/// The shared client as production builds it (small body cap to exercise truncation).
pub fn http_client() -> HttpClient {
    HttpClient::new(&ClientOptions {
        connect_timeout: Duration::from_secs(2),
        max_body_bytes: 4096,
    })
    .expect("client builds")
}

/// Provider settings pointing at `base` with a short total timeout.
pub fn provider_settings(base: &str) -> ProviderSettings {
    ProviderSettings {
        base_url: Some(Url::parse(base).expect("base URL")),
        request_timeout: Duration::from_millis(800),
    }
}

/// Asserts that the canary secret appears nowhere in the report (Debug, JSON).
pub fn assert_no_canary(report: &AttemptReport) {
    let debug = format!("{report:?}");
    let json = serde_json::to_string(report).expect("report serialises");
    let display = report.outcome.to_string();
    for text in [debug, json, display] {
        assert!(!text.contains(CANARY), "secret leaked: {text}");
        assert!(!text.contains("s3cr3t"), "secret leaked: {text}");
    }
}
