//! Bearer-token authentication for every endpoint but `/healthz`, `/readyz` and
//! `/openapi.json` (the document describes the API, it holds no data).
//!
//! Tokens come from `[api.tokens.NAME]`; NAME is the caller's identity, put in the request's
//! extensions as [`Caller`] (and recorded in its span) for the audit trail. A presented token
//! is compared with every configured one in constant time over SHA-256 digests, so neither its
//! content nor its length shows in the timing. A missing, malformed or unknown token answers
//! 401 with `WWW-Authenticate: Bearer`. With no token configured every authenticated endpoint
//! answers 401: there is no open mode.

use std::fmt;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use super::AppState;
use super::error::ApiError;
use crate::config::ApiSettings;

/// The authenticated caller: the name of the token it presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller(pub String);

/// The configured tokens, as digests: the values themselves are not kept.
#[derive(Clone, Default)]
pub struct Tokens(Vec<(String, [u8; 32])>);

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(name, _)| name))
            .finish()
    }
}

fn digest(token: &[u8]) -> [u8; 32] {
    Sha256::digest(token).into()
}

impl Tokens {
    /// The tokens of `[api.tokens]`.
    pub fn from_settings(api: &ApiSettings) -> Self {
        Tokens(
            api.tokens
                .iter()
                .map(|(name, token)| {
                    (
                        name.clone(),
                        digest(token.secret().expose_secret().as_bytes()),
                    )
                })
                .collect(),
        )
    }

    /// Whether no token is configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The caller whose token is `presented`: every configured digest is compared, in
    /// constant time, whichever matches.
    pub fn caller(&self, presented: &[u8]) -> Option<Caller> {
        let presented = digest(presented);
        let mut found = None;
        for (name, configured) in &self.0 {
            let equal: Choice = presented.ct_eq(configured);
            if bool::from(equal) && found.is_none() {
                found = Some(Caller(name.clone()));
            }
        }
        found
    }
}

/// The token of an `Authorization: Bearer <token>` header value (scheme case-insensitive).
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let space = value.iter().position(|&b| b == b' ')?;
    let (scheme, rest) = value.split_at(space);
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return None;
    }
    let token = rest.trim_ascii();
    (!token.is_empty()).then_some(token)
}

/// Middleware: admits requests with a configured bearer token, answers 401 otherwise.
pub async fn require_token(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let caller = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| bearer(v.as_bytes()))
        .and_then(|token| state.tokens().caller(token));
    let Some(caller) = caller else {
        tracing::info!("request refused: no valid bearer token");
        return ApiError::Unauthorized.into_response();
    };
    tracing::Span::current().record("caller", caller.0.as_str());
    request.extensions_mut().insert(caller);
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(bearer(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer(b"bearer  abc "), Some(&b"abc"[..]));
        assert_eq!(bearer(b"Basic abc"), None);
        assert_eq!(bearer(b"Bearer "), None);
        assert_eq!(bearer(b"Bearerabc"), None);
    }

    #[test]
    fn tokens_match_by_digest_and_debug_shows_names_only() {
        let tokens = Tokens(vec![
            ("ci".into(), digest(b"one")),
            ("hr".into(), digest(b"two")),
        ]);
        assert_eq!(tokens.caller(b"two"), Some(Caller("hr".into())));
        assert_eq!(tokens.caller(b"tw"), None);
        assert_eq!(tokens.caller(b""), None);
        assert_eq!(format!("{tokens:?}"), r#"["ci", "hr"]"#);
        assert_eq!(Tokens::default().caller(b"one"), None);
    }
}
