//! No secret reaches `Debug` or `Display`: settings, credentials, adapters of every provider,
//! the registry, routing errors.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::io::Write;

use bulkleave::config::load_with_env;
use bulkleave::job::LeaveRequest;
use bulkleave::providers::Registry;
use common::CANARY;

#[test]
fn nothing_built_from_configuration_prints_a_credential() {
    let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    write!(
        f,
        r#"
        [accounts.g]
        provider = "green_api"
        instance_id = "1101000001"
        credential.env = "TOKEN"
        [accounts.w]
        provider = "wasend"
        session_id = "s"
        credential.env = "TOKEN"
        [accounts.r]
        provider = "ryzeapi"
        instance = "i"
        credential.env = "TOKEN"
        [accounts.k]
        provider = "kirimin"
        user_id = "1"
        credential.env = "COOKIE"
        [database]
        url = "postgres://u:{CANARY}@db/x"
        "#
    )
    .unwrap();
    let env: HashMap<String, String> = [
        ("TOKEN", CANARY.to_owned()),
        ("COOKIE", format!("sid={CANARY}")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let settings = load_with_env(Some(f.path()), &env).unwrap();
    let registry = Registry::new(&common::http_client(), &settings);
    let mismatch = registry
        .route(&LeaveRequest::parse("wasend", "g", "120363406289005073@g.us").unwrap())
        .unwrap_err();
    let unknown = registry
        .route(&LeaveRequest::parse("wasend", "zz", "120363406289005073@g.us").unwrap())
        .unwrap_err();
    assert_eq!(
        mismatch.to_string(),
        "provider: account \"g\" is a green_api account, not wasend"
    );
    assert_eq!(
        unknown.to_string(),
        "account: \"zz\" is not a configured account"
    );
    for text in [
        format!("{settings:?}"),
        format!("{registry:?}"),
        format!("{mismatch:?} {mismatch}"),
        bulkleave::config::masked::render(&settings),
    ] {
        assert!(!text.contains("s3cr3t"), "secret leaked:\n{text}");
    }
    for account in settings.accounts.values() {
        let debug = format!("{:?}", account.credential);
        assert!(debug.ends_with("[redacted])"), "{debug}");
    }
}
