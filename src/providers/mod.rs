//! Provider adapters: build each provider's exact leave request and classify its answer.
//!
//! - [`Provider`] names the providers; [`Outcome`] is what an answer means.
//! - One module per provider ([`green_api`], [`wasend`], [`ryzeapi`], [`kirimin`]) holds its
//!   account settings, request building and a pure `classify` function for its answers.
//! - [`Adapter`] dispatches to them; [`Registry`] maps configured account names to adapters,
//!   which is the only way a job reaches a provider: jobs carry no URLs or credentials.
//! - [`http`] is the shared client; [`answer`] the answer snapshot classifiers read.

pub mod answer;
pub mod green_api;
pub mod http;
mod kind;
pub mod kirimin;
pub mod outcome;
pub mod pacer;
pub mod redact;
pub mod ryzeapi;
pub mod wasend;

use std::collections::BTreeMap;
use std::time::Duration;

use secrecy::SecretString;
use serde::Serialize;
use tracing::Instrument;

pub use self::answer::{AnswerSummary, HttpAnswer, RateLimitInfo};
pub use self::http::HttpClient;
pub use self::kind::{Provider, UnknownProvider};
pub use self::outcome::{HintSource, LeftDetail, Outcome, OutcomeClass, RetryHint};
pub use self::pacer::{Pacer, Throttled, Unpaced};
pub use self::redact::{REDACTED, Redactor};
use crate::config::{AccountKind, AccountSettings, Settings};
use crate::job::{AccountName, GroupRef, LeaveRequest};

/// Errors routing a request to an adapter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The job names an account that is not configured.
    #[error("account: {0:?} is not a configured account")]
    UnknownAccount(String),
    /// The job's provider is not the account's provider.
    #[error("provider: account {account:?} is a {actual} account, not {requested}")]
    ProviderMismatch {
        /// The account named by the job.
        account: String,
        /// The provider the job names.
        requested: Provider,
        /// The provider the account is configured for.
        actual: Provider,
    },
}

/// What one leave attempt produced: the outcome, the provider's last answer in summary, how
/// many HTTP requests it took (follow-ups count against the account's quota too) and how long.
///
/// Every text in it has had the account's credential redacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttemptReport {
    /// The classified outcome.
    pub outcome: Outcome,
    /// The last provider answer, if any arrived.
    pub answer: Option<AnswerSummary>,
    /// HTTP requests sent during the attempt.
    pub requests: u32,
    /// Wall time of the attempt.
    #[serde(serialize_with = "serialize_ms")]
    pub elapsed: Duration,
}

fn serialize_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl AttemptReport {
    /// The report with `redactor`'s needles removed from every text.
    ///
    /// Answer bodies are already redacted on receipt ([`HttpAnswer::redact`]); this pass covers
    /// any other text an adapter composed.
    pub fn redacted(mut self, redactor: &Redactor) -> Self {
        self.outcome = self.outcome.map_text(|s| redactor.text(s));
        if let Some(answer) = self.answer.as_mut() {
            answer.body = redactor.text(std::mem::take(&mut answer.body));
        }
        self
    }
}

/// Settings every provider shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderSettings {
    /// The API's base URL. Green API may leave it unset: its URL then comes from the account
    /// (`api_url`) or is derived from the instance id.
    pub base_url: Option<url::Url>,
    /// Total time allowed for one request (connect, send, read the whole body).
    pub request_timeout: Duration,
}

impl ProviderSettings {
    /// The configured base URL, or `default` (a provider's documented API root).
    pub fn base_or(&self, default: &str) -> url::Url {
        self.base_url.clone().unwrap_or_else(|| {
            url::Url::parse(default).expect("documented API roots are valid URLs")
        })
    }
}

/// One configured account's adapter.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Adapter {
    /// A Green API instance.
    GreenApi(green_api::GreenApi),
    /// A Wasend session.
    Wasend(wasend::Wasend),
    /// A RyzeAPI instance.
    RyzeApi(ryzeapi::RyzeApi),
    /// A Kirimin account.
    Kirimin(kirimin::Kirimin),
}

impl Adapter {
    /// Builds the adapter for `account`, using its provider's shared settings.
    pub fn new(http: &HttpClient, provider: &ProviderSettings, account: &AccountSettings) -> Self {
        let credential: SecretString = account.credential.secret().clone();
        match &account.kind {
            AccountKind::GreenApi(a) => Adapter::GreenApi(green_api::GreenApi::new(
                http.clone(),
                provider,
                a,
                credential,
            )),
            AccountKind::Wasend(a) => {
                Adapter::Wasend(wasend::Wasend::new(http.clone(), provider, a, credential))
            }
            AccountKind::RyzeApi(a) => {
                Adapter::RyzeApi(ryzeapi::RyzeApi::new(http.clone(), provider, a, credential))
            }
            AccountKind::Kirimin(a) => {
                Adapter::Kirimin(kirimin::Kirimin::new(http.clone(), provider, a, credential))
            }
        }
    }

    /// The provider this adapter talks to.
    pub fn provider(&self) -> Provider {
        match self {
            Adapter::GreenApi(_) => Provider::GreenApi,
            Adapter::Wasend(_) => Provider::Wasend,
            Adapter::RyzeApi(_) => Provider::RyzeApi,
            Adapter::Kirimin(_) => Provider::Kirimin,
        }
    }

    /// Makes the account leave `group`: one attempt, classified, with no pacing.
    pub async fn leave(&self, group: &GroupRef) -> AttemptReport {
        self.leave_paced(group, &Unpaced).await
    }

    /// Makes the account leave `group`: one attempt, classified.
    ///
    /// The caller is responsible for the quota slot of the first request; every further one
    /// waits for `pacer`. [`AttemptReport::requests`] says how many were sent in all.
    pub async fn leave_paced(&self, group: &GroupRef, pacer: &dyn Pacer) -> AttemptReport {
        let span = tracing::info_span!(
            "provider.leave",
            provider = %self.provider(),
            group.kind = group.kind(),
            outcome = tracing::field::Empty,
            http.response.status_code = tracing::field::Empty,
            requests = tracing::field::Empty,
        );
        let report = match self {
            Adapter::GreenApi(a) => a.leave_paced(group, pacer).instrument(span.clone()).await,
            Adapter::Wasend(a) => a.leave_paced(group, pacer).instrument(span.clone()).await,
            Adapter::RyzeApi(a) => a.leave_paced(group, pacer).instrument(span.clone()).await,
            Adapter::Kirimin(a) => a.leave_paced(group, pacer).instrument(span.clone()).await,
        };
        span.record("outcome", report.outcome.class().as_str());
        span.record("requests", report.requests);
        if let Some(answer) = &report.answer {
            span.record("http.response.status_code", answer.status);
        }
        report
    }
}

/// The adapters of every configured account, by account name.
#[derive(Debug, Clone)]
pub struct Registry {
    adapters: BTreeMap<AccountName, Adapter>,
}

impl Registry {
    /// Builds an adapter for every account in `settings`, sharing one HTTP client.
    pub fn new(http: &HttpClient, settings: &Settings) -> Self {
        let adapters = settings
            .accounts
            .iter()
            .map(|(name, account)| {
                let provider = &settings.providers.get(account.provider()).api;
                (name.clone(), Adapter::new(http, provider, account))
            })
            .collect();
        Registry { adapters }
    }

    /// The adapter for `request`'s account, checking it belongs to the request's provider.
    pub fn route(&self, request: &LeaveRequest) -> Result<&Adapter, Error> {
        let adapter = self
            .adapters
            .get(&request.account)
            .ok_or_else(|| Error::UnknownAccount(request.account.to_string()))?;
        if adapter.provider() != request.provider {
            return Err(Error::ProviderMismatch {
                account: request.account.to_string(),
                requested: request.provider,
                actual: adapter.provider(),
            });
        }
        Ok(adapter)
    }

    /// The configured account names.
    pub fn accounts(&self) -> impl Iterator<Item = &AccountName> {
        self.adapters.keys()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_covers_raw_and_percent_encoded_secrets() {
        let secret = "s3cr/t+tok";
        let report = AttemptReport {
            outcome: Outcome::ProviderError(format!("echo {secret} and s3cr%2Ft%2Btok")),
            answer: Some(AnswerSummary {
                status: 500,
                body: format!("path /leaveGroup/{secret}"),
                rate_limit: None,
            }),
            requests: 1,
            elapsed: Duration::ZERO,
        }
        .redacted(&Redactor::new(secret));
        let text = format!("{report:?}");
        assert!(!text.contains("s3cr"), "{text}");
        assert_eq!(report.outcome.detail(), "echo [redacted] and [redacted]");
    }
}
