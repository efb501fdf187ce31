//! Configuration: built-in defaults, then an optional TOML file, then environment variables.
//!
//! - File: `--config PATH` or `BULKLEAVE_CONFIG`.
//! - Environment: `BULKLEAVE__SECTION__KEY` (double underscores nest), e.g.
//!   `BULKLEAVE__PROVIDERS__WASEND__QUOTA=5/min`. Keys are folded to lowercase.
//! - Credentials are never written in configuration: an account says where to read its
//!   credential (`credential.env = "VAR"` or `credential.file = "/run/secrets/…"`), and the value
//!   is loaded into a secret type at start.
//!
//! [`load`] validates everything and fails with one [`Problem`] per mistake, each naming its
//! key. [`masked`] renders the effective configuration with secrets hidden
//! (`bulkleave config check`).

mod api;
pub mod masked;
mod metrics;
mod policies;
mod raw;
mod secret;
mod validate;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

pub use self::secret::{Credential, CredentialSource, SecretUrl};
use crate::job::{AccountName, JobError, LeaveRequest};
use crate::providers::{Provider, ProviderSettings, green_api, kirimin, ryzeapi, wasend};
use crate::queue::{Limits, QueueOptions};
use crate::quota::{Quota, QuotaPolicy};
use crate::retry::RetryPolicy;

/// Default connect timeout for provider requests.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default total timeout of one provider request.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default cap on provider response bodies (64 KiB: leave answers are tiny).
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;
/// Default Redis URL.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";
/// Default prefix of every Redis key.
pub const DEFAULT_KEY_PREFIX: &str = "bulkleave";
/// Default PostgreSQL URL.
pub const DEFAULT_DATABASE_URL: &str = "postgres://127.0.0.1:5432/bulkleave";
/// Default size of each process's PostgreSQL pool.
pub const DEFAULT_DATABASE_CONNECTIONS: u32 = 10;
/// Default number of outcomes written to the ledger per statement.
pub const DEFAULT_LEDGER_BATCH: usize = 500;
/// Default number of jobs a worker runs at once.
pub const DEFAULT_CONCURRENCY: u32 = 32;
/// Default time a stopping worker gives its in-flight jobs before handing them back.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(25);
/// Default address the HTTP API listens on.
pub const DEFAULT_API_LISTEN: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::UNSPECIFIED,
    8080,
));
/// Default cap on JSON request bodies of the HTTP API (1 MiB).
pub const DEFAULT_API_MAX_BODY_BYTES: usize = 1024 * 1024;
/// Default cap on uploads to the HTTP API (256 MiB).
pub const DEFAULT_API_MAX_UPLOAD_BYTES: u64 = 256 * 1024 * 1024;
/// Default time the HTTP API gives one request before answering 503.
pub const DEFAULT_API_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default address of the worker's metrics listener (`GET /metrics`).
pub const DEFAULT_METRICS_LISTEN: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
    std::net::Ipv4Addr::UNSPECIFIED,
    9091,
));
/// The environment-variable prefix (`BULKLEAVE__…`).
pub const ENV_PREFIX: &str = "BULKLEAVE";

/// Errors loading configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be read or parsed, or a value had the wrong type.
    #[error("cannot read the configuration: {0}")]
    Read(String),
    /// The configuration was read but is invalid: one problem per mistake.
    #[error("invalid configuration:\n{}", Problems(.0))]
    Invalid(Vec<Problem>),
}

/// One thing wrong with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The dotted key, e.g. `accounts.acme.credential.env`.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

struct Problems<'a>(&'a [Problem]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in self.0 {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The shared HTTP client.
    pub http: HttpSettings,
    /// Per-provider settings.
    pub providers: ProvidersConfig,
    /// Configured accounts by name.
    pub accounts: BTreeMap<AccountName, AccountSettings>,
    /// The queue's Redis.
    pub redis: RedisSettings,
    /// The ledger's PostgreSQL.
    pub database: DatabaseSettings,
    /// How workers write the ledger.
    pub ledger: LedgerSettings,
    /// Worker settings.
    pub worker: WorkerSettings,
    /// Queue behaviour (leases, idempotency windows).
    pub queue: QueueOptions,
    /// The HTTP API (`bulkleave api`).
    pub api: ApiSettings,
    /// Prometheus metrics (`GET /metrics` on the worker and the API).
    pub metrics: MetricsSettings,
    /// Log lines (the command line's `--log-format` and `RUST_LOG` win over these).
    pub log: LogSettings,
}

/// Settings of the log lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogSettings {
    /// `log.format`: `auto` (default: text on a terminal, JSON otherwise), `text` or `json`.
    pub format: Option<crate::telemetry::LogFormat>,
    /// `log.level`: an `EnvFilter` directive such as `info` (default) or
    /// `bulkleave=debug,warn`.
    pub level: Option<String>,
}

/// Prometheus metrics settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsSettings {
    /// Whether `worker` and `api` serve `GET /metrics`. Default `true`.
    pub enabled: bool,
    /// Where a worker serves them (the API serves them on its own listener). Default
    /// [`DEFAULT_METRICS_LISTEN`].
    pub listen: SocketAddr,
}

/// Settings of the HTTP API.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Address to listen on. Default [`DEFAULT_API_LISTEN`].
    pub listen: SocketAddr,
    /// Cap on JSON request bodies. Default [`DEFAULT_API_MAX_BODY_BYTES`].
    pub max_body_bytes: usize,
    /// Cap on one CSV or NDJSON campaign upload (streamed; JSON bodies have their own cap). Default
    /// [`DEFAULT_API_MAX_UPLOAD_BYTES`].
    pub max_upload_bytes: u64,
    /// Time one request may take before it is answered 503. Default
    /// [`DEFAULT_API_REQUEST_TIMEOUT`].
    pub request_timeout: Duration,
    /// Bearer tokens by name; the name is the caller's identity in the audit trail. Without
    /// any, every authenticated endpoint answers 401 (there is no open mode).
    pub tokens: BTreeMap<String, Credential>,
}

/// Settings of the shared HTTP client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    /// Connect timeout (TCP + TLS). Default [`DEFAULT_CONNECT_TIMEOUT`].
    pub connect_timeout: Duration,
    /// Default total request timeout for providers that set none. Default
    /// [`DEFAULT_REQUEST_TIMEOUT`].
    pub request_timeout: Duration,
    /// Response body cap. Default [`DEFAULT_MAX_BODY_BYTES`].
    pub max_body_bytes: usize,
}

/// One provider's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderConfig {
    /// What adapters need: base URL and timeout.
    pub api: ProviderSettings,
    /// The default quota of the provider's accounts.
    pub quota: Quota,
    /// The retry policy of its jobs (`[retry]`, overridden by `[providers.NAME.retry]`).
    pub retry: RetryPolicy,
    /// How its quotas are spent (`[pacing]`, overridden by `[providers.NAME.pacing]`).
    pub pacing: QuotaPolicy,
}

/// Settings of all four providers.
#[derive(Debug, Clone, PartialEq)]
pub struct ProvidersConfig {
    /// Green API.
    pub green_api: ProviderConfig,
    /// Wasend.
    pub wasend: ProviderConfig,
    /// RyzeAPI.
    pub ryzeapi: ProviderConfig,
    /// Kirimin.
    pub kirimin: ProviderConfig,
}

impl ProvidersConfig {
    /// The settings of `provider`.
    pub fn get(&self, provider: Provider) -> &ProviderConfig {
        match provider {
            Provider::GreenApi => &self.green_api,
            Provider::Wasend => &self.wasend,
            Provider::RyzeApi => &self.ryzeapi,
            Provider::Kirimin => &self.kirimin,
        }
    }
}

/// A configured account.
#[derive(Debug, Clone)]
pub struct AccountSettings {
    /// The account's name (its key under `accounts`).
    pub name: AccountName,
    /// The provider and its account-specific settings.
    pub kind: AccountKind,
    /// The credential, loaded.
    pub credential: Credential,
    /// A quota overriding the provider's default.
    pub quota: Option<Quota>,
}

/// Provider-specific account settings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccountKind {
    /// A Green API instance.
    GreenApi(green_api::AccountConfig),
    /// A Wasend session.
    Wasend(wasend::AccountConfig),
    /// A RyzeAPI instance.
    RyzeApi(ryzeapi::AccountConfig),
    /// A Kirimin account.
    Kirimin(kirimin::AccountConfig),
}

impl AccountSettings {
    /// Requests one leave normally takes, to book quota for: 2 for Kirimin with an owner
    /// check (every policy but `unchecked`), else 1. Follow-ups after an ambiguous answer are
    /// the exception, paced one by one.
    pub fn requests_per_leave(&self) -> u32 {
        match &self.kind {
            AccountKind::Kirimin(k) if k.owner_policy != kirimin::OwnerPolicy::Unchecked => 2,
            _ => 1,
        }
    }

    /// The account's provider.
    pub fn provider(&self) -> Provider {
        match self.kind {
            AccountKind::GreenApi(_) => Provider::GreenApi,
            AccountKind::Wasend(_) => Provider::Wasend,
            AccountKind::RyzeApi(_) => Provider::RyzeApi,
            AccountKind::Kirimin(_) => Provider::Kirimin,
        }
    }
}

impl Settings {
    /// The quota in force for `account`: its override, else its provider's default.
    pub fn quota(&self, account: &AccountSettings) -> Quota {
        account
            .quota
            .unwrap_or(self.providers.get(account.provider()).quota)
    }

    /// How `account`'s quota is spent: its quota, its provider's pacing, a leave's cost.
    pub fn limits(&self, account: &AccountSettings) -> Limits {
        Limits {
            quota: self.quota(account),
            policy: self.providers.get(account.provider()).pacing,
            cost: account.requests_per_leave(),
        }
    }

    /// Whether `request` can run here: its account must be configured, for the provider the
    /// request names. The error names the field to blame.
    pub fn check_request(&self, request: &LeaveRequest) -> Result<(), JobError> {
        match self.accounts.get(&request.account) {
            None => Err(JobError {
                field: "account",
                rule: format!("{:?} is not a configured account", request.account.as_str()),
            }),
            Some(a) if a.provider() != request.provider => Err(JobError {
                field: "provider",
                rule: format!(
                    "account {:?} is a {} account, not {}",
                    request.account.as_str(),
                    a.provider(),
                    request.provider
                ),
            }),
            Some(_) => Ok(()),
        }
    }

    /// The retry policy of `account`'s jobs (its provider's).
    pub fn retry(&self, account: &AccountSettings) -> RetryPolicy {
        self.providers.get(account.provider()).retry
    }
}

/// Redis settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisSettings {
    /// `redis://` or `rediss://` URL; may hold a password. Default [`DEFAULT_REDIS_URL`].
    pub url: SecretUrl,
    /// Prefix of every key, so several deployments (or tests) can share a Redis. Default
    /// [`DEFAULT_KEY_PREFIX`].
    pub key_prefix: String,
}

/// PostgreSQL settings (the ledger).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseSettings {
    /// `postgres://` URL; may hold a password. Default [`DEFAULT_DATABASE_URL`].
    pub url: SecretUrl,
    /// Connections per process. Default [`DEFAULT_DATABASE_CONNECTIONS`].
    pub max_connections: u32,
    /// Whether `worker` and `api` apply pending migrations at start. Default `false`
    /// (run `bulkleave migrate` as a deploy step instead).
    pub migrate_on_start: bool,
}

/// How workers write the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerSettings {
    /// Whether workers write final outcomes to the ledger. Default `true`; with `false` the
    /// outcomes stay on the outcomes stream only.
    pub enabled: bool,
    /// Outcomes written per statement. Default [`DEFAULT_LEDGER_BATCH`].
    pub batch: usize,
}

/// Worker settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerSettings {
    /// Jobs run at once per worker process. Default [`DEFAULT_CONCURRENCY`].
    pub concurrency: u32,
    /// On SIGTERM/SIGINT, how long in-flight jobs may run before they are handed back.
    /// Default [`DEFAULT_DRAIN_TIMEOUT`]; keep it below Kubernetes'
    /// `terminationGracePeriodSeconds`.
    pub drain_timeout: Duration,
}

/// Loads the configuration: defaults, then the file at `path` (if any), then `BULKLEAVE__*`
/// environment variables; credentials are read from the process environment or files.
pub fn load(path: Option<&Path>) -> Result<Settings, Error> {
    let env: HashMap<String, String> = std::env::vars().collect();
    load_with_env(path, &env)
}

/// [`load`] with an explicit environment (tests use this instead of the process's).
pub fn load_with_env(
    path: Option<&Path>,
    env: &HashMap<String, String>,
) -> Result<Settings, Error> {
    let file = path.map(|path| {
        ::config::File::from(path)
            .format(::config::FileFormat::Toml)
            .required(true)
    });
    load_layered(file, env)
}

/// [`load_with_env`] with the file's text given (`bulkleave demo` carries its configuration
/// in the binary).
pub fn load_toml_with_env(toml: &str, env: &HashMap<String, String>) -> Result<Settings, Error> {
    let file = ::config::File::from_str(toml, ::config::FileFormat::Toml);
    load_layered(Some(file), env)
}

/// Defaults, then `file`, then the `BULKLEAVE__*` variables of `env`; validated.
fn load_layered<F>(file: Option<F>, env: &HashMap<String, String>) -> Result<Settings, Error>
where
    F: ::config::Source + Send + Sync + 'static,
{
    let mut builder = ::config::Config::builder();
    if let Some(file) = file {
        builder = builder.add_source(file);
    }
    let overrides: HashMap<String, String> = env
        .iter()
        .filter(|(k, _)| k.starts_with(&format!("{ENV_PREFIX}__")))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    builder = builder.add_source(
        ::config::Environment::with_prefix(ENV_PREFIX)
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            .source(Some(overrides)),
    );
    let layered = builder.build().map_err(|e| Error::Read(e.to_string()))?;
    let mut unknown = Vec::new();
    let raw: raw::RawSettings = serde_ignored::deserialize(layered, |path| {
        unknown.push(path.to_string());
    })
    .map_err(|e| Error::Read(e.to_string()))?;
    validate::validate(raw, unknown, &|name| env.get(name).cloned())
}
