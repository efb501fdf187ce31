//! The configuration as files and environment variables spell it, before validation.
//!
//! Everything is optional and loosely typed here (enums and durations are strings) so that
//! validation can report every problem at once, each with its key. Unknown keys are caught by
//! the loader (`serde_ignored`) and reported as problems too.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawSettings {
    pub http: RawHttp,
    pub providers: RawProviders,
    pub accounts: BTreeMap<String, RawAccount>,
    pub redis: RawRedis,
    pub database: RawDatabase,
    pub ledger: RawLedger,
    pub worker: RawWorker,
    pub queue: RawQueue,
    pub retry: RawRetry,
    pub pacing: RawPacing,
    pub api: RawApi,
    pub metrics: RawMetrics,
    pub log: RawLog,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawLog {
    pub format: Option<String>,
    pub level: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawHttp {
    pub connect_timeout: Option<String>,
    pub request_timeout: Option<String>,
    pub max_body_bytes: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawProviders {
    pub green_api: RawProvider,
    pub wasend: RawProvider,
    pub ryzeapi: RawProvider,
    pub kirimin: RawProvider,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawProvider {
    pub base_url: Option<String>,
    pub request_timeout: Option<String>,
    pub quota: Option<String>,
    pub retry: RawRetry,
    pub pacing: RawPacing,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawAccount {
    pub provider: Option<String>,
    pub credential: Option<RawCredential>,
    pub quota: Option<String>,
    // green_api
    pub instance_id: Option<String>,
    pub api_url: Option<String>,
    pub leave_group_false: Option<String>,
    // wasend
    pub session_id: Option<String>,
    // ryzeapi
    pub instance: Option<String>,
    // kirimin
    pub user_id: Option<String>,
    pub owner_policy: Option<String>,
    pub owner_check_path: Option<String>,
    pub owner_pointer: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawCredential {
    pub env: Option<String>,
    pub file: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawApi {
    pub listen: Option<String>,
    pub max_body_bytes: Option<u64>,
    pub max_upload_bytes: Option<u64>,
    pub request_timeout: Option<String>,
    /// Token name (the caller's identity) → where its value is read.
    pub tokens: BTreeMap<String, RawCredential>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawRedis {
    pub url: Option<String>,
    pub key_prefix: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawDatabase {
    pub url: Option<String>,
    pub max_connections: Option<u32>,
    pub migrate_on_start: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawLedger {
    pub enabled: Option<bool>,
    pub batch: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawWorker {
    pub concurrency: Option<u32>,
    pub drain_timeout: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawQueue {
    pub lease: Option<String>,
    pub pending_ttl: Option<String>,
    pub dedup_ttl: Option<String>,
    pub outcomes_max_len: Option<u64>,
    pub max_runs: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawRetry {
    pub max_attempts: Option<u32>,
    pub base_delay: Option<String>,
    pub max_delay: Option<String>,
    pub max_hint: Option<String>,
    pub max_throttled_for: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawPacing {
    pub headroom: Option<f64>,
    pub inline_wait: Option<String>,
    pub follow_up_wait: Option<String>,
    pub aimd_decrease: Option<f64>,
    pub aimd_increase: Option<f64>,
    pub aimd_floor: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(super) struct RawMetrics {
    pub enabled: Option<bool>,
    pub listen: Option<String>,
}
