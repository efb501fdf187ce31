//! Configuration loading: layering (defaults < file < environment), one problem per mistake
//! naming its key, secrets read from env or files and never printed.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use bulkleave::config::{self, AccountKind, Error, load_with_env, masked};
use bulkleave::providers::Provider;
use bulkleave::providers::kirimin::OwnerPolicy;

const CANARY: &str = "CANARY-s3cr3t-t0ken-9f2c";

fn file(contents: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    f.write_all(contents.as_bytes()).unwrap();
    f
}

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn problems(result: Result<config::Settings, Error>) -> Vec<String> {
    match result {
        Err(Error::Invalid(p)) => p.iter().map(ToString::to_string).collect(),
        Err(e) => panic!("expected validation problems, got {e}"),
        Ok(_) => panic!("expected validation problems, got a valid configuration"),
    }
}

#[test]
fn defaults_alone_are_valid() {
    let s = load_with_env(None, &env(&[])).unwrap();
    assert!(s.accounts.is_empty());
    assert_eq!(s.http.connect_timeout, config::DEFAULT_CONNECT_TIMEOUT);
    assert_eq!(
        s.providers.get(Provider::Wasend).quota.to_string(),
        "10/min"
    );
    assert_eq!(
        s.providers.get(Provider::RyzeApi).quota.to_string(),
        "100/min"
    );
    assert_eq!(
        s.providers.get(Provider::GreenApi).quota.to_string(),
        "10/s"
    );
    assert!(s.providers.get(Provider::GreenApi).api.base_url.is_none());
    assert_eq!(
        s.providers
            .get(Provider::Wasend)
            .api
            .base_url
            .as_ref()
            .unwrap()
            .as_str(),
        "https://api.wasend.dev/"
    );
    assert_eq!(s.worker.concurrency, config::DEFAULT_CONCURRENCY);
}

#[test]
fn the_example_file_is_valid_with_its_credentials_present() {
    let secret = file(CANARY);
    let vars = env(&[
        ("ACME_GREEN_TOKEN", CANARY),
        ("ACME_RYZE_TOKEN", CANARY),
        ("ACME_KIRIMIN_COOKIE", "sid=abc"),
        (
            "BULKLEAVE__ACCOUNTS__ACME_WASEND__CREDENTIAL__FILE",
            secret.path().to_str().unwrap(),
        ),
        ("BULKLEAVE_API_TOKEN_OPS", "ops-token"),
        (
            "BULKLEAVE__API__TOKENS__HR-SYSTEM__FILE",
            secret.path().to_str().unwrap(),
        ),
    ]);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/example.toml");
    let s = load_with_env(Some(&path), &vars).unwrap();
    assert_eq!(s.accounts.len(), 4);
    let callers: Vec<&str> = s.api.tokens.keys().map(String::as_str).collect();
    assert_eq!(callers, ["hr-system", "ops"]);
    let wasend = s.accounts.get(&"acme_wasend".parse().unwrap()).unwrap();
    assert_eq!(s.quota(wasend).to_string(), "5/min");
    let kirimin = s.accounts.get(&"acme_kirimin".parse().unwrap()).unwrap();
    let AccountKind::Kirimin(k) = &kirimin.kind else {
        panic!("kirimin account")
    };
    assert_eq!(k.owner_policy, OwnerPolicy::Refuse);
    assert_eq!(
        s.providers.kirimin.api.request_timeout,
        Duration::from_secs(15)
    );
}

#[test]
fn environment_overrides_the_file_and_can_define_accounts() {
    let f = file(
        r#"
        [providers.wasend]
        quota = "10/min"
        [worker]
        concurrency = 4
        "#,
    );
    let vars = env(&[
        ("BULKLEAVE__PROVIDERS__WASEND__QUOTA", "3/min"),
        ("BULKLEAVE__WORKER__CONCURRENCY", "8"),
        ("BULKLEAVE__ACCOUNTS__OPS__PROVIDER", "green_api"),
        ("BULKLEAVE__ACCOUNTS__OPS__INSTANCE_ID", "1101000001"),
        ("BULKLEAVE__ACCOUNTS__OPS__CREDENTIAL__ENV", "OPS_TOKEN"),
        ("OPS_TOKEN", CANARY),
        (
            "BULKLEAVE_CONFIG",
            "ignored: single underscore is not an override",
        ),
    ]);
    let s = load_with_env(Some(f.path()), &vars).unwrap();
    assert_eq!(s.providers.wasend.quota.to_string(), "3/min");
    assert_eq!(s.worker.concurrency, 8);
    let ops = s.accounts.get(&"ops".parse().unwrap()).unwrap();
    let AccountKind::GreenApi(g) = &ops.kind else {
        panic!("green api account")
    };
    assert_eq!(g.instance_id, "1101000001");
}

#[test]
fn every_problem_is_reported_with_its_key() {
    let f = file(
        r#"
        [http]
        connect_timeout = "soon"
        max_body_bytes = 10
        [providers.wasend]
        base_url = "ftp://example.com"
        quota = "lots"
        [providers.ryzeapi]
        base_url = "https://user:pw@ryze.example"
        [accounts.a]
        provider = "green_api"
        instance_id = "12ab"
        session_id = "x"
        credential.env = "MISSING_VAR"
        [accounts.b]
        provider = "whatsapp"
        [accounts.c]
        provider = "wasend"
        credential.file = "/nonexistent/secret"
        [accounts.Bad-Name]
        provider = "wasend"
        [accounts.k]
        provider = "kirimin"
        credential.env = "K_COOKIE"
        owner_policy = "sometimes"
        [worker]
        concurrency = 0
        typo_key = 1
        "#,
    );
    let got = problems(load_with_env(
        Some(f.path()),
        &env(&[("K_COOKIE", "no-equals-sign")]),
    ));
    let expect_keys = [
        "http.connect_timeout: \"soon\" is not a duration",
        "http.max_body_bytes: must be between",
        "providers.wasend.base_url: must be an http:// or https:// URL",
        "providers.wasend.quota: \"lots\" is not a quota",
        "providers.ryzeapi.base_url: must not contain credentials",
        "accounts.a.instance_id: \"12ab\" is not an idInstance",
        "accounts.a.session_id: only applies to wasend accounts",
        "accounts.a.credential.env: environment variable MISSING_VAR is not set",
        "accounts.b.provider: unknown provider \"whatsapp\"",
        "accounts.b.credential: missing",
        "accounts.c.session_id: missing",
        "accounts.c.credential.file: cannot read /nonexistent/secret: no such file",
        "accounts.Bad-Name: \"Bad-Name\" is not an account name",
        "accounts.k.owner_policy: \"sometimes\" is not one of refuse, allow, unchecked",
        "worker.concurrency: must be between 1 and 10000",
        "worker.typo_key: unknown key",
    ];
    for want in expect_keys {
        assert!(
            got.iter().any(|p| p.starts_with(want)),
            "missing problem {want:?} in:\n{}",
            got.join("\n")
        );
    }
}

#[test]
fn kirimin_rules() {
    let f = file(
        r#"
        [accounts.k]
        provider = "kirimin"
        credential.env = "K_COOKIE"
        owner_check_path = "/x/../group"
        owner_pointer = "data.owner"
        "#,
    );
    let got = problems(load_with_env(
        Some(f.path()),
        &env(&[("K_COOKIE", "sid=1")]),
    ));
    for want in [
        "accounts.k.user_id: missing",
        "accounts.k.owner_check_path: must start",
        "accounts.k.owner_pointer: must be a JSON pointer",
    ] {
        assert!(got.iter().any(|p| p.starts_with(want)), "{want}: {got:?}");
    }
    // Unchecked needs no user id.
    let f = file(
        "[accounts.k]\nprovider = \"kirimin\"\ncredential.env = \"K_COOKIE\"\nowner_policy = \"unchecked\"\n",
    );
    load_with_env(Some(f.path()), &env(&[("K_COOKIE", "sid=1")])).unwrap();
}

#[test]
fn credential_problems_never_show_the_value() {
    let f = file(
        "[accounts.w]\nprovider = \"wasend\"\nsession_id = \"s\"\ncredential.env = \"W_KEY\"\n\
         [accounts.k]\nprovider = \"kirimin\"\nowner_policy = \"unchecked\"\ncredential.env = \"K\"\n",
    );
    let bad = format!("{CANARY}\u{7}bell");
    let err = load_with_env(Some(f.path()), &env(&[("W_KEY", &bad), ("K", CANARY)])).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(
            "accounts.w.credential: the credential from env W_KEY has characters not allowed"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "accounts.k.credential: the credential from env K must be a Cookie header value"
        ),
        "{text}"
    );
    assert!(!text.contains("s3cr3t"), "{text}");
}

#[test]
fn masked_output_and_debug_hide_every_secret() {
    let f = file(
        r#"
        [accounts.g]
        provider = "green_api"
        instance_id = "7103000001"
        credential.env = "G"
        [redis]
        url = "redis://:CANARY-s3cr3t-t0ken-9f2c@cache:6379/0"
        [database]
        url = "postgres://app:CANARY-s3cr3t-t0ken-9f2c@db/bulkleave"
        "#,
    );
    let s = load_with_env(Some(f.path()), &env(&[("G", CANARY)])).unwrap();
    let rendered = masked::render(&s);
    let debug = format!("{s:?}");
    for text in [&rendered, &debug] {
        assert!(!text.contains("s3cr3t"), "secret leaked:\n{text}");
    }
    assert!(
        rendered.contains("credential = \"[redacted] (from env G)\""),
        "{rendered}"
    );
    assert!(
        rendered.contains("url = \"redis://:***@cache:6379/0\""),
        "{rendered}"
    );
    assert!(
        rendered.contains("url = \"postgres://app:***@db/bulkleave\""),
        "{rendered}"
    );
    // The masked output is itself valid TOML.
    rendered.parse::<toml::Table>().unwrap();
}

#[test]
fn unreadable_file_is_a_read_error_naming_the_file() {
    let err = load_with_env(
        Some(std::path::Path::new("/nonexistent/bulkleave.toml")),
        &env(&[]),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Read(_)));
    assert!(
        err.to_string().contains("/nonexistent/bulkleave.toml"),
        "{err}"
    );
}

#[test]
fn retry_and_pacing_policies_layer_global_then_per_provider() {
    let s = load_with_env(
        None,
        &env(&[
            ("BULKLEAVE__RETRY__MAX_ATTEMPTS", "7"),
            ("BULKLEAVE__RETRY__MAX_THROTTLED_FOR", "2h"),
            ("BULKLEAVE__PROVIDERS__WASEND__RETRY__MAX_ATTEMPTS", "3"),
            ("BULKLEAVE__PACING__AIMD_DECREASE", "0.7"),
            ("BULKLEAVE__PROVIDERS__GREEN_API__PACING__HEADROOM", "0.05"),
            ("BULKLEAVE__PROVIDERS__GREEN_API__PACING__INLINE_WAIT", "0"),
        ]),
    )
    .unwrap();
    let green = s.providers.get(Provider::GreenApi);
    let wasend = s.providers.get(Provider::Wasend);
    assert_eq!(green.retry.max_attempts, 7);
    assert_eq!(wasend.retry.max_attempts, 3);
    assert_eq!(wasend.retry.max_throttled_for, Duration::from_secs(7200));
    assert_eq!(green.pacing.headroom, 0.05);
    assert_eq!(green.pacing.inline_wait, Duration::ZERO);
    assert_eq!(wasend.pacing.headroom, bulkleave::quota::DEFAULT_HEADROOM);
    assert_eq!(wasend.pacing.aimd.decrease, 0.7);
    assert_eq!(green.pacing.aimd.decrease, 0.7);

    let got = problems(load_with_env(
        None,
        &env(&[
            ("BULKLEAVE__PROVIDERS__KIRIMIN__PACING__HEADROOM", "2"),
            ("BULKLEAVE__PROVIDERS__KIRIMIN__PACING__INLINE_WAIT", "5s"),
            ("BULKLEAVE__PACING__AIMD_FLOOR", "0"),
            ("BULKLEAVE__PROVIDERS__RYZEAPI__RETRY__BASE_DELAY", "10m"),
            ("BULKLEAVE__PROVIDERS__RYZEAPI__RETRY__MAX_DELAY", "1m"),
        ]),
    ));
    for want in [
        "providers.kirimin.pacing.headroom: must be between 0 and 0.5",
        "providers.kirimin.pacing.inline_wait: must be at most 1s",
        "pacing.aimd_floor: must be between 0.01 and 1",
        "providers.ryzeapi.retry.base_delay: must not exceed providers.ryzeapi.retry.max_delay",
    ] {
        assert!(
            got.iter().any(|p| p == want),
            "missing {want:?} in {got:#?}"
        );
    }
}

#[test]
fn a_kirimin_leave_with_an_owner_check_books_two_requests() {
    let base = [
        ("BULKLEAVE__ACCOUNTS__K__PROVIDER", "kirimin"),
        ("BULKLEAVE__ACCOUNTS__K__USER_ID", "808080"),
        ("BULKLEAVE__ACCOUNTS__K__CREDENTIAL__ENV", "K_COOKIE"),
        ("K_COOKIE", "sid=abc"),
        ("BULKLEAVE__ACCOUNTS__W__PROVIDER", "wasend"),
        ("BULKLEAVE__ACCOUNTS__W__SESSION_ID", "s"),
        ("BULKLEAVE__ACCOUNTS__W__CREDENTIAL__ENV", "K_COOKIE"),
    ];
    let s = load_with_env(None, &env(&base)).unwrap();
    let cost = |name: &str| s.limits(&s.accounts[&name.parse().unwrap()]).cost;
    assert_eq!((cost("k"), cost("w")), (2, 1));
    let mut unchecked = base.to_vec();
    unchecked.push(("BULKLEAVE__ACCOUNTS__K__OWNER_POLICY", "unchecked"));
    let s = load_with_env(None, &env(&unchecked)).unwrap();
    assert_eq!(s.limits(&s.accounts[&"k".parse().unwrap()]).cost, 1);
}

#[test]
fn api_section_defaults_and_problems_name_their_keys() {
    let s = load_with_env(None, &env(&[])).unwrap();
    assert_eq!(s.api.listen, config::DEFAULT_API_LISTEN);
    assert_eq!(s.api.max_body_bytes, config::DEFAULT_API_MAX_BODY_BYTES);
    assert!(s.api.tokens.is_empty());
    let vars = env(&[
        ("BULKLEAVE__API__LISTEN", "localhost"),
        ("BULKLEAVE__API__MAX_BODY_BYTES", "10"),
        ("BULKLEAVE__API__TOKENS__CI__ENV", "UNSET_TOKEN_VAR"),
        ("BULKLEAVE__API__TOKENS__CI_2__ENV", "T"),
        ("BULKLEAVE__API__TOKENS__CI_2__FILE", "/x"),
    ]);
    let Err(Error::Invalid(problems)) = load_with_env(None, &vars) else {
        panic!("invalid")
    };
    let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "api.listen",
            "api.max_body_bytes",
            "api.tokens.ci.env",
            "api.tokens.ci_2"
        ]
    );
}

#[test]
fn log_format_and_level_are_checked() {
    let s = load_with_env(
        None,
        &env(&[
            ("BULKLEAVE__LOG__FORMAT", "JSON"),
            ("BULKLEAVE__LOG__LEVEL", "bulkleave=debug,warn"),
        ]),
    )
    .unwrap();
    assert_eq!(s.log.format, Some(bulkleave::telemetry::LogFormat::Json));
    assert_eq!(s.log.level.as_deref(), Some("bulkleave=debug,warn"));
    let found = problems(load_with_env(
        None,
        &env(&[
            ("BULKLEAVE__LOG__FORMAT", "xml"),
            ("BULKLEAVE__LOG__LEVEL", "info,bulkleave=loud"),
        ]),
    ));
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].starts_with("log.format"), "{found:?}");
    assert!(found[1].starts_with("log.level"), "{found:?}");
}
