//! Turns the raw configuration into [`Settings`], collecting one [`Problem`] per mistake.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use super::policies::{quota_policy, retry_policy};
use super::raw::{RawAccount, RawCredential, RawProvider, RawQueue, RawSettings};
use super::secret::{self, Credential, CredentialSource, SecretUrl};
use super::{
    AccountKind, AccountSettings, DatabaseSettings, Error, HttpSettings, LedgerSettings, Problem,
    ProviderConfig, ProvidersConfig, RedisSettings, Settings, WorkerSettings,
};
use super::{
    DEFAULT_CONCURRENCY, DEFAULT_CONNECT_TIMEOUT, DEFAULT_DATABASE_CONNECTIONS,
    DEFAULT_DATABASE_URL, DEFAULT_DRAIN_TIMEOUT, DEFAULT_KEY_PREFIX, DEFAULT_LEDGER_BATCH,
    DEFAULT_MAX_BODY_BYTES, DEFAULT_REDIS_URL, DEFAULT_REQUEST_TIMEOUT,
};
use crate::job::AccountName;
use crate::providers::green_api::{self, LeaveGroupFalse};
use crate::providers::kirimin::{self, OwnerPolicy};
use crate::providers::{Provider, ProviderSettings, ryzeapi, wasend};
use crate::queue::QueueOptions;
use crate::quota::{Quota, QuotaPolicy};
use crate::retry::RetryPolicy;

/// Collects problems while validating.
#[derive(Default)]
pub(super) struct Problems(Vec<Problem>);

impl Problems {
    pub(super) fn add(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            key: key.into(),
            message: message.into(),
        });
    }

    /// `parse(value)` or a problem at `key`, giving `None`.
    pub(super) fn check<T, E: ToString>(&mut self, key: &str, parsed: Result<T, E>) -> Option<T> {
        parsed.map_err(|e| self.add(key, e.to_string())).ok()
    }
}

pub(super) fn validate(
    raw: RawSettings,
    unknown_keys: Vec<String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Settings, Error> {
    let mut p = Problems::default();
    for key in unknown_keys {
        p.add(key, "unknown key (check its spelling and section)");
    }

    let connect_timeout = duration(&mut p, "http.connect_timeout", raw.http.connect_timeout)
        .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
    let request_timeout = duration(&mut p, "http.request_timeout", raw.http.request_timeout)
        .unwrap_or(DEFAULT_REQUEST_TIMEOUT);
    let max_body_bytes = bounded(
        &mut p,
        "http.max_body_bytes",
        raw.http.max_body_bytes,
        1024..=16 * 1024 * 1024,
        DEFAULT_MAX_BODY_BYTES as u64,
    ) as usize;
    let http = HttpSettings {
        connect_timeout,
        request_timeout,
        max_body_bytes,
    };

    let retry = retry_policy(&mut p, "retry", &raw.retry, RetryPolicy::default());
    let pacing = quota_policy(&mut p, "pacing", &raw.pacing, QuotaPolicy::default());
    let provider = |p: &mut Problems, which: Provider, raw: RawProvider| {
        let key = |k: &str| format!("providers.{which}.{k}");
        let base_url = match raw.base_url.filter(|s| !s.trim().is_empty()) {
            Some(s) => api_url(p, &key("base_url"), &s),
            None => which
                .default_base_url()
                .map(|u| Url::parse(u).expect("default base URLs are valid")),
        };
        let timeout = duration(p, &key("request_timeout"), raw.request_timeout);
        let quota = raw
            .quota
            .and_then(|q| p.check(&key("quota"), q.parse::<Quota>()))
            .unwrap_or(which.default_quota());
        ProviderConfig {
            api: ProviderSettings {
                base_url,
                request_timeout: timeout.unwrap_or(request_timeout),
            },
            quota,
            retry: retry_policy(p, &key("retry"), &raw.retry, retry),
            pacing: quota_policy(p, &key("pacing"), &raw.pacing, pacing),
        }
    };
    let providers = ProvidersConfig {
        green_api: provider(&mut p, Provider::GreenApi, raw.providers.green_api),
        wasend: provider(&mut p, Provider::Wasend, raw.providers.wasend),
        ryzeapi: provider(&mut p, Provider::RyzeApi, raw.providers.ryzeapi),
        kirimin: provider(&mut p, Provider::Kirimin, raw.providers.kirimin),
    };

    let mut accounts = BTreeMap::new();
    for (name, raw_account) in raw.accounts {
        let key = format!("accounts.{name}");
        let Some(parsed_name) = p.check(&key, name.parse::<AccountName>()) else {
            continue;
        };
        if let Some(account) = account(&mut p, &key, parsed_name.clone(), raw_account, env) {
            accounts.insert(parsed_name, account);
        }
    }

    let redis_url = raw
        .redis
        .url
        .unwrap_or_else(|| DEFAULT_REDIS_URL.to_owned());
    let redis = RedisSettings {
        url: service_url(&mut p, "redis.url", &redis_url, &["redis", "rediss"]),
        key_prefix: {
            let prefix = raw
                .redis
                .key_prefix
                .unwrap_or_else(|| DEFAULT_KEY_PREFIX.to_owned());
            let ok = (1..=64).contains(&prefix.len())
                && prefix
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-.:{}".contains(&b));
            if !ok {
                p.add(
                    "redis.key_prefix",
                    "use 1-64 letters, digits, '_', '-', '.', ':', '{' or '}'",
                );
            }
            prefix
        },
    };
    let database_url = raw
        .database
        .url
        .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
    let database = DatabaseSettings {
        url: service_url(
            &mut p,
            "database.url",
            &database_url,
            &["postgres", "postgresql"],
        ),
        max_connections: bounded(
            &mut p,
            "database.max_connections",
            raw.database.max_connections,
            1..=1000,
            DEFAULT_DATABASE_CONNECTIONS,
        ),
        migrate_on_start: raw.database.migrate_on_start.unwrap_or(false),
    };
    let ledger = LedgerSettings {
        enabled: raw.ledger.enabled.unwrap_or(true),
        batch: bounded(
            &mut p,
            "ledger.batch",
            raw.ledger.batch,
            1..=10_000,
            DEFAULT_LEDGER_BATCH as u64,
        ) as usize,
    };
    let concurrency = bounded(
        &mut p,
        "worker.concurrency",
        raw.worker.concurrency,
        1..=10_000,
        DEFAULT_CONCURRENCY,
    );
    let drain_timeout = duration(&mut p, "worker.drain_timeout", raw.worker.drain_timeout)
        .unwrap_or(DEFAULT_DRAIN_TIMEOUT);
    let queue = queue_options(&mut p, raw.queue);
    let api = super::api::api_settings(&mut p, raw.api, env);
    let metrics = super::metrics::metrics_settings(&mut p, raw.metrics);
    let log = log_settings(&mut p, raw.log);

    if !p.0.is_empty() {
        return Err(Error::Invalid(p.0));
    }
    Ok(Settings {
        http,
        providers,
        accounts,
        redis,
        database,
        ledger,
        worker: WorkerSettings {
            concurrency,
            drain_timeout,
        },
        queue,
        api,
        metrics,
        log,
    })
}

fn log_settings(p: &mut Problems, raw: super::raw::RawLog) -> super::LogSettings {
    use clap::ValueEnum;
    let format = raw.format.and_then(|f| {
        let parsed = crate::telemetry::LogFormat::from_str(f.trim(), true)
            .map_err(|_| format!("{f:?} is not auto, text or json"));
        p.check("log.format", parsed)
    });
    let level = raw.level.and_then(|l| {
        let parsed = tracing_subscriber::EnvFilter::try_new(l.trim()).map(|_| l.trim().to_owned());
        p.check("log.level", parsed)
    });
    super::LogSettings { format, level }
}

fn queue_options(p: &mut Problems, raw: RawQueue) -> QueueOptions {
    let d = QueueOptions::default();
    let lease = duration(p, "queue.lease", raw.lease).unwrap_or(d.lease);
    let pending_ttl =
        long_duration(p, "queue.pending_ttl", raw.pending_ttl).unwrap_or(d.pending_ttl);
    let dedup_ttl = long_duration(p, "queue.dedup_ttl", raw.dedup_ttl).unwrap_or(d.dedup_ttl);
    let outcomes_max_len = bounded(
        p,
        "queue.outcomes_max_len",
        raw.outcomes_max_len,
        1000..=u64::MAX,
        d.outcomes_max_len,
    );
    let max_runs = bounded(p, "queue.max_runs", raw.max_runs, 2..=1000, d.max_runs);
    QueueOptions {
        lease,
        pending_ttl,
        dedup_ttl,
        outcomes_max_len,
        max_runs,
        ..d
    }
}

/// A duration of up to 30 days (idempotency windows).
pub(super) fn long_duration(
    p: &mut Problems,
    key: &str,
    value: Option<String>,
) -> Option<Duration> {
    let value = value?;
    match humantime::parse_duration(value.trim()) {
        Ok(d) if !d.is_zero() && d <= Duration::from_secs(30 * 24 * 3600) => Some(d),
        Ok(_) => {
            p.add(key, "must be above zero and at most 30 days");
            None
        }
        Err(_) => {
            p.add(
                key,
                format!("{value:?} is not a duration (e.g. 24h, 7days)"),
            );
            None
        }
    }
}

/// `value` if it lies in `range`, else a problem at `key` and `default`.
pub(super) fn bounded<T>(
    p: &mut Problems,
    key: &str,
    value: Option<T>,
    range: std::ops::RangeInclusive<T>,
    default: T,
) -> T
where
    T: PartialOrd + std::fmt::Display + Copy,
{
    match value {
        None => default,
        Some(v) if range.contains(&v) => v,
        Some(_) => {
            p.add(
                key,
                format!("must be between {} and {}", range.start(), range.end()),
            );
            default
        }
    }
}

/// A listen address (`IP:PORT`) at `key`, or `default` when absent or unusable.
pub(super) fn listen(
    p: &mut Problems,
    key: &str,
    value: Option<String>,
    default: SocketAddr,
) -> SocketAddr {
    let Some(s) = value else {
        return default;
    };
    p.check(
        key,
        s.trim()
            .parse::<SocketAddr>()
            .map_err(|_| format!("{s:?} is not an address: use IP:PORT, e.g. {default}")),
    )
    .unwrap_or(default)
}

/// A duration: `30s`, `1m 30s`, `500ms`, or a bare number of seconds.
pub(super) fn duration(p: &mut Problems, key: &str, value: Option<String>) -> Option<Duration> {
    let value = value?;
    let value = value.trim();
    let parsed = match value.parse::<u64>() {
        Ok(secs) => Ok(Duration::from_secs(secs)),
        Err(_) => humantime::parse_duration(value),
    };
    match parsed {
        Ok(d) if !d.is_zero() && d <= Duration::from_secs(3600) => Some(d),
        Ok(_) => {
            p.add(key, "must be above zero and at most 1h");
            None
        }
        Err(_) => {
            p.add(
                key,
                format!("{value:?} is not a duration (e.g. 30s, 1m 30s, 500ms)"),
            );
            None
        }
    }
}

/// An HTTP(S) API root: absolute, with a host, no credentials, query or fragment.
fn api_url(p: &mut Problems, key: &str, value: &str) -> Option<Url> {
    let url = match Url::parse(value.trim()) {
        Ok(u) => u,
        Err(e) => {
            p.add(key, format!("not a URL ({e})"));
            return None;
        }
    };
    let problem = if !matches!(url.scheme(), "http" | "https") {
        Some("must be an http:// or https:// URL")
    } else if url.host().is_none() {
        Some("must name a host")
    } else if !url.username().is_empty() || url.password().is_some() {
        Some("must not contain credentials (use the account's credential)")
    } else if url.query().is_some() || url.fragment().is_some() {
        Some("must not have a query or fragment")
    } else {
        None
    };
    match problem {
        Some(m) => {
            p.add(key, m);
            None
        }
        None => Some(url),
    }
}

fn service_url(p: &mut Problems, key: &str, value: &str, schemes: &[&str]) -> SecretUrl {
    match Url::parse(value.trim()) {
        Ok(u) if schemes.contains(&u.scheme()) => SecretUrl::new(u),
        Ok(_) => {
            p.add(key, format!("must be a {} URL", schemes.join("/")));
            SecretUrl::new(Url::parse("invalid://").expect("static"))
        }
        Err(e) => {
            p.add(key, format!("not a URL ({e})"));
            SecretUrl::new(Url::parse("invalid://").expect("static"))
        }
    }
}

/// An id that becomes a path segment: 1-128 characters, no control characters or `/`, not a
/// dot segment.
fn path_id(p: &mut Problems, key: &str, value: Option<String>, what: &str) -> Option<String> {
    let Some(value) = value else {
        p.add(
            key,
            format!("missing: the {what} is required for this provider"),
        );
        return None;
    };
    let ok = (1..=128).contains(&value.len())
        && !value.chars().any(|c| c.is_control() || c == '/')
        && value != "."
        && value != "..";
    if ok {
        Some(value)
    } else {
        p.add(
            key,
            format!(
                "{value:?} is not a valid {what}: 1-128 characters, no '/' or control characters"
            ),
        );
        None
    }
}

fn account(
    p: &mut Problems,
    key: &str,
    name: AccountName,
    raw: RawAccount,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<AccountSettings> {
    let k = |field: &str| format!("{key}.{field}");
    let provider = match raw.provider.as_deref() {
        None => {
            p.add(
                k("provider"),
                "missing: one of green_api, wasend, ryzeapi, kirimin",
            );
            None
        }
        Some(s) => p.check(&k("provider"), s.parse::<Provider>()),
    };
    let quota = raw
        .quota
        .as_ref()
        .and_then(|q| p.check(&k("quota"), q.parse::<Quota>()));
    let credential = credential(p, &k("credential"), raw.credential.as_ref(), env);
    let provider = provider?;

    // Fields that belong to another provider are mistakes worth naming.
    let fields: [(&str, bool, Provider); 8] = [
        ("instance_id", raw.instance_id.is_some(), Provider::GreenApi),
        ("api_url", raw.api_url.is_some(), Provider::GreenApi),
        (
            "leave_group_false",
            raw.leave_group_false.is_some(),
            Provider::GreenApi,
        ),
        ("session_id", raw.session_id.is_some(), Provider::Wasend),
        ("instance", raw.instance.is_some(), Provider::RyzeApi),
        ("user_id", raw.user_id.is_some(), Provider::Kirimin),
        (
            "owner_policy",
            raw.owner_policy.is_some(),
            Provider::Kirimin,
        ),
        (
            "owner_check_path",
            raw.owner_check_path.is_some(),
            Provider::Kirimin,
        ),
    ];
    for (field, given, owner) in fields {
        if given && owner != provider {
            p.add(
                k(field),
                format!("only applies to {owner} accounts, this one is {provider}"),
            );
        }
    }
    if raw.owner_pointer.is_some() && provider != Provider::Kirimin {
        p.add(
            k("owner_pointer"),
            format!("only applies to kirimin accounts, this one is {provider}"),
        );
    }

    let kind = match provider {
        Provider::GreenApi => {
            let instance_id = raw.instance_id.and_then(|id| {
                let ok = (4..=20).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit());
                if !ok {
                    p.add(
                        k("instance_id"),
                        format!("{id:?} is not an idInstance (4-20 digits)"),
                    );
                }
                ok.then_some(id)
            });
            if instance_id.is_none() && !p.0.iter().any(|x| x.key == k("instance_id")) {
                p.add(
                    k("instance_id"),
                    "missing: the idInstance is required for green_api",
                );
            }
            let api_url = raw.api_url.and_then(|u| api_url(p, &k("api_url"), &u));
            let leave_group_false = raw
                .leave_group_false
                .map(|v| {
                    enum_value::<LeaveGroupFalse>(
                        p,
                        &k("leave_group_false"),
                        &v,
                        "unconfirmed, already_left",
                    )
                })
                .unwrap_or(Some(LeaveGroupFalse::default()))?;
            AccountKind::GreenApi(green_api::AccountConfig {
                instance_id: instance_id?,
                api_url,
                leave_group_false,
            })
        }
        Provider::Wasend => AccountKind::Wasend(wasend::AccountConfig {
            session_id: path_id(p, &k("session_id"), raw.session_id, "session id")?,
        }),
        Provider::RyzeApi => AccountKind::RyzeApi(ryzeapi::AccountConfig {
            instance: path_id(p, &k("instance"), raw.instance, "instance name")?,
        }),
        Provider::Kirimin => kirimin_account(p, key, raw, credential.as_ref())?,
    };
    let credential = credential?;
    if credential_header_unsafe(&credential) {
        p.add(
            k("credential"),
            format!(
                "the credential from {} has characters not allowed in an HTTP header",
                credential.source()
            ),
        );
        return None;
    }
    Some(AccountSettings {
        name,
        kind,
        credential,
        quota,
    })
}

fn credential_header_unsafe(c: &Credential) -> bool {
    use secrecy::ExposeSecret;
    c.secret()
        .expose_secret()
        .bytes()
        .any(|b| !(b == b' ' || b == b'\t' || (0x21..0x7f).contains(&b)))
}

fn kirimin_account(
    p: &mut Problems,
    key: &str,
    raw: RawAccount,
    credential: Option<&Credential>,
) -> Option<AccountKind> {
    use secrecy::ExposeSecret;
    let k = |field: &str| format!("{key}.{field}");
    let owner_policy = raw
        .owner_policy
        .map(|v| enum_value::<OwnerPolicy>(p, &k("owner_policy"), &v, "refuse, allow, unchecked"))
        .unwrap_or(Some(OwnerPolicy::default()))?;
    let user_id = raw.user_id.filter(|s| !s.trim().is_empty());
    if user_id.is_none() && owner_policy != OwnerPolicy::Unchecked {
        p.add(
            k("user_id"),
            "missing: the owner check compares the group's owner with the account's user_id \
             (or set owner_policy = \"unchecked\")",
        );
    }
    let owner_check_path = raw
        .owner_check_path
        .unwrap_or_else(|| kirimin::DEFAULT_OWNER_CHECK_PATH.to_owned());
    let dot_segment = owner_check_path.split('/').any(|s| s == "." || s == "..");
    if !owner_check_path.starts_with('/')
        || owner_check_path.matches("{group_id}").count() != 1
        || dot_segment
    {
        p.add(
            k("owner_check_path"),
            "must start with '/', contain {group_id} once and no '.' or '..' segments",
        );
    }
    let owner_pointer = raw
        .owner_pointer
        .unwrap_or_else(|| kirimin::DEFAULT_OWNER_POINTER.to_owned());
    if !owner_pointer.starts_with('/') {
        p.add(
            k("owner_pointer"),
            "must be a JSON pointer starting with '/', e.g. /data/owner",
        );
    }
    if let Some(c) = credential {
        let cookie = c.secret().expose_secret();
        if !cookie.split(';').all(|pair| {
            pair.trim()
                .split_once('=')
                .is_some_and(|(n, _)| !n.trim().is_empty())
        }) {
            p.add(
                k("credential"),
                format!(
                    "the credential from {} must be a Cookie header value: name=value[; name=value]",
                    c.source()
                ),
            );
        }
    }
    if user_id.is_none() && owner_policy != OwnerPolicy::Unchecked {
        return None;
    }
    Some(AccountKind::Kirimin(kirimin::AccountConfig {
        user_id,
        owner_policy,
        owner_check_path,
        owner_pointer,
    }))
}

fn enum_value<T: serde::de::DeserializeOwned>(
    p: &mut Problems,
    key: &str,
    value: &str,
    choices: &str,
) -> Option<T> {
    let parsed =
        serde_json::from_value::<T>(serde_json::Value::String(value.trim().to_lowercase()));
    match parsed {
        Ok(v) => Some(v),
        Err(_) => {
            p.add(key, format!("{value:?} is not one of {choices}"));
            None
        }
    }
}

pub(super) fn credential(
    p: &mut Problems,
    key: &str,
    raw: Option<&RawCredential>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<Credential> {
    let source = match raw {
        Some(RawCredential {
            env: Some(var),
            file: None,
        }) => {
            let ok = var
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                && var.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !ok {
                p.add(
                    format!("{key}.env"),
                    format!("{var:?} is not an environment variable name"),
                );
                return None;
            }
            CredentialSource::Env(var.clone())
        }
        Some(RawCredential {
            env: None,
            file: Some(path),
        }) => CredentialSource::File(PathBuf::from(path)),
        Some(RawCredential {
            env: Some(_),
            file: Some(_),
        }) => {
            p.add(key, "give either env or file, not both");
            return None;
        }
        _ => {
            p.add(
                key,
                "missing: say where to read the credential, credential.env = \"VAR\" or \
                 credential.file = \"/path\"",
            );
            return None;
        }
    };
    let subkey = match source {
        CredentialSource::Env(_) => format!("{key}.env"),
        CredentialSource::File(_) => format!("{key}.file"),
    };
    p.check(&subkey, secret::load(source, env))
}
