//! The effective configuration as TOML, with every secret masked: what
//! `bulkleave config check` prints. Defaults are filled in, so the output shows exactly what
//! the service will use; credentials show only where they come from.

use toml::{Table, Value};

use super::{AccountKind, ApiSettings, ProviderConfig, Settings};
use crate::providers::Provider;

fn s(v: impl ToString) -> Value {
    Value::String(v.to_string())
}

fn duration(d: std::time::Duration) -> Value {
    s(humantime::format_duration(d))
}

fn provider_table(which: Provider, p: &ProviderConfig) -> Table {
    let mut t = Table::new();
    let base = match &p.api.base_url {
        Some(url) => url.to_string(),
        None if which == Provider::GreenApi => {
            "(each account's api_url, or derived from its instance id)".into()
        }
        None => "(none)".into(),
    };
    t.insert("base_url".into(), s(base));
    t.insert("request_timeout".into(), duration(p.api.request_timeout));
    t.insert("quota".into(), s(p.quota));
    let r = &p.retry;
    let mut retry = Table::new();
    retry.insert(
        "max_attempts".into(),
        Value::Integer(i64::from(r.max_attempts)),
    );
    retry.insert("base_delay".into(), duration(r.base_delay));
    retry.insert("max_delay".into(), duration(r.max_delay));
    retry.insert("max_hint".into(), duration(r.max_hint));
    retry.insert("max_throttled_for".into(), duration(r.max_throttled_for));
    t.insert("retry".into(), Value::Table(retry));
    let q = &p.pacing;
    let mut pacing = Table::new();
    pacing.insert("headroom".into(), Value::Float(q.headroom));
    pacing.insert("inline_wait".into(), duration(q.inline_wait));
    pacing.insert("follow_up_wait".into(), duration(q.follow_up_wait));
    pacing.insert("aimd_decrease".into(), Value::Float(q.aimd.decrease));
    pacing.insert("aimd_increase".into(), Value::Float(q.aimd.increase));
    pacing.insert("aimd_floor".into(), Value::Float(q.aimd.floor));
    t.insert("pacing".into(), Value::Table(pacing));
    t
}

fn api_table(api: &ApiSettings) -> Table {
    let mut t = Table::new();
    t.insert("listen".into(), s(api.listen));
    t.insert(
        "max_body_bytes".into(),
        Value::Integer(i64::try_from(api.max_body_bytes).unwrap_or(i64::MAX)),
    );
    t.insert(
        "max_upload_bytes".into(),
        Value::Integer(i64::try_from(api.max_upload_bytes).unwrap_or(i64::MAX)),
    );
    t.insert("request_timeout".into(), duration(api.request_timeout));
    let mut tokens = Table::new();
    for (name, token) in &api.tokens {
        tokens.insert(
            name.clone(),
            s(format!("[redacted] (from {})", token.source())),
        );
    }
    t.insert("tokens".into(), Value::Table(tokens));
    t
}

/// Renders `settings` as TOML with secrets masked.
pub fn render(settings: &Settings) -> String {
    let mut root = Table::new();

    let mut http = Table::new();
    http.insert(
        "connect_timeout".into(),
        duration(settings.http.connect_timeout),
    );
    http.insert(
        "request_timeout".into(),
        duration(settings.http.request_timeout),
    );
    http.insert(
        "max_body_bytes".into(),
        Value::Integer(i64::try_from(settings.http.max_body_bytes).unwrap_or(i64::MAX)),
    );
    root.insert("http".into(), Value::Table(http));

    let mut providers = Table::new();
    for which in Provider::ALL {
        providers.insert(
            which.as_str().into(),
            Value::Table(provider_table(which, settings.providers.get(which))),
        );
    }
    root.insert("providers".into(), Value::Table(providers));

    let mut accounts = Table::new();
    for (name, account) in &settings.accounts {
        let mut t = Table::new();
        t.insert("provider".into(), s(account.provider()));
        match &account.kind {
            AccountKind::GreenApi(a) => {
                t.insert("instance_id".into(), s(&a.instance_id));
                if let Some(url) = &a.api_url {
                    t.insert("api_url".into(), s(url));
                }
                t.insert(
                    "leave_group_false".into(),
                    serde_json::to_value(a.leave_group_false)
                        .ok()
                        .and_then(|v| v.as_str().map(s))
                        .unwrap_or_else(|| s("?")),
                );
            }
            AccountKind::Wasend(a) => {
                t.insert("session_id".into(), s(&a.session_id));
            }
            AccountKind::RyzeApi(a) => {
                t.insert("instance".into(), s(&a.instance));
            }
            AccountKind::Kirimin(a) => {
                if let Some(id) = &a.user_id {
                    t.insert("user_id".into(), s(id));
                }
                t.insert(
                    "owner_policy".into(),
                    serde_json::to_value(a.owner_policy)
                        .ok()
                        .and_then(|v| v.as_str().map(s))
                        .unwrap_or_else(|| s("?")),
                );
                t.insert("owner_check_path".into(), s(&a.owner_check_path));
                t.insert("owner_pointer".into(), s(&a.owner_pointer));
            }
        }
        t.insert(
            "credential".into(),
            s(format!("[redacted] (from {})", account.credential.source())),
        );
        let quota = match account.quota {
            Some(q) => format!("{q}"),
            None => format!("{} (provider default)", settings.quota(account)),
        };
        t.insert("quota".into(), s(quota));
        accounts.insert(name.to_string(), Value::Table(t));
    }
    root.insert("accounts".into(), Value::Table(accounts));

    let mut redis = Table::new();
    redis.insert("url".into(), s(settings.redis.url.masked()));
    redis.insert("key_prefix".into(), s(&settings.redis.key_prefix));
    root.insert("redis".into(), Value::Table(redis));
    let mut database = Table::new();
    database.insert("url".into(), s(settings.database.url.masked()));
    database.insert(
        "max_connections".into(),
        Value::Integer(i64::from(settings.database.max_connections)),
    );
    database.insert(
        "migrate_on_start".into(),
        Value::Boolean(settings.database.migrate_on_start),
    );
    root.insert("database".into(), Value::Table(database));
    let mut ledger = Table::new();
    ledger.insert("enabled".into(), Value::Boolean(settings.ledger.enabled));
    ledger.insert(
        "batch".into(),
        Value::Integer(i64::try_from(settings.ledger.batch).unwrap_or(i64::MAX)),
    );
    root.insert("ledger".into(), Value::Table(ledger));
    let mut worker = Table::new();
    worker.insert(
        "concurrency".into(),
        Value::Integer(i64::from(settings.worker.concurrency)),
    );
    root.insert("worker".into(), Value::Table(worker));
    root.insert("api".into(), Value::Table(api_table(&settings.api)));
    let mut metrics = Table::new();
    metrics.insert("enabled".into(), Value::Boolean(settings.metrics.enabled));
    metrics.insert("listen".into(), s(settings.metrics.listen));
    root.insert("metrics".into(), Value::Table(metrics));
    let mut log = Table::new();
    if let Some(format) = settings.log.format {
        log.insert("format".into(), s(format!("{format:?}").to_lowercase()));
    }
    if let Some(level) = &settings.log.level {
        log.insert("level".into(), s(level.clone()));
    }
    root.insert("log".into(), Value::Table(log));

    toml::to_string_pretty(&root).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
}
