//! Secrets in configuration: provider credentials and URLs with passwords.
//!
//! Configuration never holds a credential itself, only where to read it: an environment
//! variable or a mounted file. The value lives in a [`SecretString`] whose `Debug` prints
//! nothing of it; it is exposed only where an HTTP request is built.

use std::fmt;
use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

/// Where a credential is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// An environment variable, by name.
    Env(String),
    /// A file (a Kubernetes secret mount); surrounding white space is trimmed.
    File(PathBuf),
}

impl fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialSource::Env(name) => write!(f, "env {name}"),
            CredentialSource::File(path) => write!(f, "file {}", path.display()),
        }
    }
}

/// A loaded credential and where it came from.
#[derive(Clone)]
pub struct Credential {
    source: CredentialSource,
    secret: SecretString,
}

impl Credential {
    /// A credential read from `source`.
    pub fn new(source: CredentialSource, secret: SecretString) -> Self {
        Credential { source, secret }
    }

    /// Where it was read from.
    pub fn source(&self) -> &CredentialSource {
        &self.source
    }

    /// The secret itself.
    pub fn secret(&self) -> &SecretString {
        &self.secret
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Credential({}, [redacted])", self.source)
    }
}

/// Reads the credential from `source`, using `env` to look up variables.
pub(super) fn load(
    source: CredentialSource,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Credential, String> {
    let value = match &source {
        CredentialSource::Env(name) => match env(name) {
            None => return Err(format!("environment variable {name} is not set")),
            Some(v) => v,
        },
        CredentialSource::File(path) => std::fs::read_to_string(path).map_err(|e| {
            let why = match e.kind() {
                std::io::ErrorKind::NotFound => "no such file".to_owned(),
                std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
                other => other.to_string(),
            };
            format!("cannot read {}: {why}", path.display())
        })?,
    };
    let value = value.trim();
    if value.is_empty() {
        return Err(format!("the credential from {source} is empty"));
    }
    Ok(Credential::new(
        source,
        SecretString::from(value.to_owned()),
    ))
}

/// A URL that may carry a password (Redis, PostgreSQL): printed with the password masked.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(Url);

impl SecretUrl {
    /// Wraps a URL.
    pub fn new(url: Url) -> Self {
        SecretUrl(url)
    }

    /// The URL, password included: only for opening connections.
    pub fn expose(&self) -> &Url {
        &self.0
    }

    /// The URL with any password replaced by `***`.
    pub fn masked(&self) -> String {
        let mut url = self.0.clone();
        if url.password().is_some() {
            let _ = url.set_password(Some("***"));
        }
        url.to_string()
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretUrl({})", self.masked())
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl ExposeSecret<str> for Credential {
    fn expose_secret(&self) -> &str {
        self.secret.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_secrets() {
        let c = Credential::new(
            CredentialSource::Env("TOKEN".into()),
            SecretString::from("canary-123"),
        );
        assert_eq!(format!("{c:?}"), "Credential(env TOKEN, [redacted])");
        let u = SecretUrl::new(Url::parse("redis://user:canary-123@h:6379/0").unwrap());
        for text in [format!("{u:?}"), u.to_string(), u.masked()] {
            assert!(!text.contains("canary"), "{text}");
            assert!(text.contains("user"), "{text}");
        }
    }

    #[test]
    fn load_trims_and_rejects_empty_or_missing() {
        let env = |k: &str| match k {
            "SET" => Some("  tok\n".to_owned()),
            "EMPTY" => Some(" \n".to_owned()),
            _ => None,
        };
        let c = load(CredentialSource::Env("SET".into()), &env).unwrap();
        assert_eq!(c.expose_secret(), "tok");
        assert!(
            load(CredentialSource::Env("EMPTY".into()), &env)
                .unwrap_err()
                .contains("empty")
        );
        assert!(
            load(CredentialSource::Env("NOPE".into()), &env)
                .unwrap_err()
                .contains("NOPE is not set")
        );
        let err = load(CredentialSource::File("/nonexistent/x".into()), &env).unwrap_err();
        assert!(err.contains("cannot read /nonexistent/x"), "{err}");
    }
}
