//! Validation of the `[api]` section: the HTTP API's address, limits and bearer tokens.
//!
//! Tokens are read like account credentials (`env = "VAR"` or `file = "/path"`), one per
//! caller; the table key is the caller's name.

use std::collections::BTreeMap;

use super::raw::{RawApi, RawCredential};
use super::validate::{Problems, bounded, credential, duration};
use super::{
    ApiSettings, DEFAULT_API_LISTEN, DEFAULT_API_MAX_BODY_BYTES, DEFAULT_API_MAX_UPLOAD_BYTES,
    DEFAULT_API_REQUEST_TIMEOUT,
};

/// Whether `name` may name an API caller: 1-64 lowercase letters, digits, `_` or `-`
/// (environment keys fold to lowercase).
fn valid_caller(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

pub(super) fn api_settings(
    p: &mut Problems,
    raw: RawApi,
    env: &dyn Fn(&str) -> Option<String>,
) -> ApiSettings {
    let listen = super::validate::listen(p, "api.listen", raw.listen, DEFAULT_API_LISTEN);
    let max_body_bytes = bounded(
        p,
        "api.max_body_bytes",
        raw.max_body_bytes,
        1024..=64 * 1024 * 1024,
        DEFAULT_API_MAX_BODY_BYTES as u64,
    ) as usize;
    let max_upload_bytes = bounded(
        p,
        "api.max_upload_bytes",
        raw.max_upload_bytes,
        1024..=16 * 1024 * 1024 * 1024,
        DEFAULT_API_MAX_UPLOAD_BYTES,
    );
    let request_timeout = duration(p, "api.request_timeout", raw.request_timeout)
        .unwrap_or(DEFAULT_API_REQUEST_TIMEOUT);
    let mut tokens = BTreeMap::new();
    for (name, source) in raw.tokens {
        let key = format!("api.tokens.{name}");
        if !valid_caller(&name) {
            p.add(
                &key,
                "a token's name is its caller's: use 1-64 lowercase letters, digits, '_' or '-'",
            );
            continue;
        }
        if matches!(
            source,
            RawCredential {
                env: None,
                file: None
            }
        ) {
            p.add(
                &key,
                "missing: say where to read the token, env = \"VAR\" or file = \"/path\"",
            );
            continue;
        }
        if let Some(token) = credential(p, &key, Some(&source), env) {
            tokens.insert(name, token);
        }
    }
    ApiSettings {
        listen,
        max_body_bytes,
        max_upload_bytes,
        request_timeout,
        tokens,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_names() {
        for ok in ["ci", "hr-system", "ops_1"] {
            assert!(valid_caller(ok), "{ok}");
        }
        for bad in ["", "CI", "a b", "x/y", &"a".repeat(65)] {
            assert!(!valid_caller(bad), "{bad}");
        }
    }
}
