//! What a provider's answer means: the [`Outcome`] of one leave attempt.
//!
//! Adapters classify every answer (or failure to get one) into exactly one variant. Everything
//! downstream (the retry policy, account pausing, the ledger, exit codes) decides on the
//! variant, never on raw status codes or message strings. Only [`Outcome::Left`],
//! [`Outcome::AlreadyLeft`] and [`Outcome::GroupGone`] are successes, and adapters produce them
//! only when the provider's answer says so.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde::ser::SerializeMap;

/// The classified result of one leave attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The provider confirmed the account left the group.
    Left(LeftDetail),
    /// The account was not (or no longer) a member: idempotent success.
    AlreadyLeft(String),
    /// The group no longer exists: a success for offboarding, reported apart.
    GroupGone(String),
    /// Rate limited or temporarily unavailable; come back later (at the hint, if any).
    RetryLater {
        /// Why, in words.
        reason: String,
        /// When the provider said to come back, if it said.
        hint: Option<RetryHint>,
    },
    /// Credentials, session or instance broken (or misconfigured): no job of this account can
    /// succeed until an operator fixes it. The account is paused; never a success.
    AccountError(String),
    /// The account may not leave this group (it owns it), by the provider's rule or our policy.
    OwnerCannotLeave(String),
    /// The request itself is invalid for the provider: permanent for this job.
    InvalidInput(String),
    /// 5xx, network failure, timeout, unparseable or unexpected answer: retry with backoff.
    ProviderError(String),
}

/// How the account left, when the provider tells us (or we checked before leaving).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LeftDetail {
    /// Left as an ordinary member.
    Member,
    /// Left, and the provider said the account had been an admin (Green API `removeAdmin`).
    WasAdmin,
    /// Left a group the account owned: the provider dissolved the group and wiped its history
    /// (Kirimin). Reported so operators can see the destructive side effect.
    OwnerDissolvedGroup,
    /// Left; whether the account owned the group was not checked (Kirimin with
    /// `owner_policy = "unchecked"`: an owned group would have been dissolved).
    RoleUnchecked,
}

impl LeftDetail {
    /// Stable snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            LeftDetail::Member => "member",
            LeftDetail::WasAdmin => "was_admin",
            LeftDetail::OwnerDissolvedGroup => "owner_dissolved_group",
            LeftDetail::RoleUnchecked => "role_unchecked",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            LeftDetail::Member => "left the group",
            LeftDetail::WasAdmin => "left the group (the account was an admin)",
            LeftDetail::OwnerDissolvedGroup => {
                "left a group it owned: the provider dissolved the group and wiped its history"
            }
            LeftDetail::RoleUnchecked => {
                "left the group (ownership not checked: an owned group would have been dissolved)"
            }
        }
    }
}

/// A provider's hint of when to come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryHint {
    /// Do not send another request for this account before this instant.
    pub not_before: SystemTime,
    /// Where the hint came from.
    pub source: HintSource,
}

impl RetryHint {
    /// How long from `now` until the hint allows a retry (zero if already past).
    pub fn wait_from(&self, now: SystemTime) -> Duration {
        self.not_before
            .duration_since(now)
            .unwrap_or(Duration::ZERO)
    }
}

/// The origin of a [`RetryHint`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HintSource {
    /// An HTTP `Retry-After` header (seconds or HTTP date).
    RetryAfter,
    /// RyzeAPI's `X-RateLimit-Reset` (Unix seconds).
    RateLimitReset,
    /// No header: the provider's documented advice (Wasend "about a minute", Kirimin "a few
    /// seconds", RyzeAPI's bridge restart).
    ProviderDefault,
    /// Not the provider: our own quota held a further request of the attempt back.
    OwnQuota,
}

/// The outcome's class, without details: for metrics labels, exit codes and ledger columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OutcomeClass {
    /// See [`Outcome::Left`].
    Left,
    /// See [`Outcome::AlreadyLeft`].
    AlreadyLeft,
    /// See [`Outcome::GroupGone`].
    GroupGone,
    /// See [`Outcome::RetryLater`].
    RetryLater,
    /// See [`Outcome::AccountError`].
    AccountError,
    /// See [`Outcome::OwnerCannotLeave`].
    OwnerCannotLeave,
    /// See [`Outcome::InvalidInput`].
    InvalidInput,
    /// See [`Outcome::ProviderError`].
    ProviderError,
}

impl OutcomeClass {
    /// Stable snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            OutcomeClass::Left => "left",
            OutcomeClass::AlreadyLeft => "already_left",
            OutcomeClass::GroupGone => "group_gone",
            OutcomeClass::RetryLater => "retry_later",
            OutcomeClass::AccountError => "account_error",
            OutcomeClass::OwnerCannotLeave => "owner_cannot_leave",
            OutcomeClass::InvalidInput => "invalid_input",
            OutcomeClass::ProviderError => "provider_error",
        }
    }

    /// Whether the job is done: the account is out of the group.
    pub const fn is_success(self) -> bool {
        matches!(
            self,
            OutcomeClass::Left | OutcomeClass::AlreadyLeft | OutcomeClass::GroupGone
        )
    }

    /// The process exit code `bulkleave leave` uses for this class: 0 for the successes, a
    /// distinct code for each failure class (listed in the README).
    pub const fn exit_code(self) -> u8 {
        match self {
            OutcomeClass::Left | OutcomeClass::AlreadyLeft | OutcomeClass::GroupGone => 0,
            OutcomeClass::RetryLater => 3,
            OutcomeClass::ProviderError => 4,
            OutcomeClass::AccountError => 5,
            OutcomeClass::OwnerCannotLeave => 6,
            OutcomeClass::InvalidInput => 7,
        }
    }
}

impl fmt::Display for OutcomeClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Outcome {
    /// The class of this outcome.
    pub fn class(&self) -> OutcomeClass {
        match self {
            Outcome::Left(_) => OutcomeClass::Left,
            Outcome::AlreadyLeft(_) => OutcomeClass::AlreadyLeft,
            Outcome::GroupGone(_) => OutcomeClass::GroupGone,
            Outcome::RetryLater { .. } => OutcomeClass::RetryLater,
            Outcome::AccountError(_) => OutcomeClass::AccountError,
            Outcome::OwnerCannotLeave(_) => OutcomeClass::OwnerCannotLeave,
            Outcome::InvalidInput(_) => OutcomeClass::InvalidInput,
            Outcome::ProviderError(_) => OutcomeClass::ProviderError,
        }
    }

    /// Whether the account is out of the group.
    pub fn is_success(&self) -> bool {
        self.class().is_success()
    }

    /// A one-line human description of the outcome's detail.
    pub fn detail(&self) -> &str {
        match self {
            Outcome::Left(d) => d.describe(),
            Outcome::AlreadyLeft(s)
            | Outcome::GroupGone(s)
            | Outcome::RetryLater { reason: s, .. }
            | Outcome::AccountError(s)
            | Outcome::OwnerCannotLeave(s)
            | Outcome::InvalidInput(s)
            | Outcome::ProviderError(s) => s,
        }
    }

    /// Applies `f` to every piece of free text in the outcome (used to redact secrets).
    pub fn map_text(self, f: impl Fn(String) -> String) -> Self {
        match self {
            Outcome::Left(d) => Outcome::Left(d),
            Outcome::AlreadyLeft(s) => Outcome::AlreadyLeft(f(s)),
            Outcome::GroupGone(s) => Outcome::GroupGone(f(s)),
            Outcome::RetryLater { reason, hint } => Outcome::RetryLater {
                reason: f(reason),
                hint,
            },
            Outcome::AccountError(s) => Outcome::AccountError(f(s)),
            Outcome::OwnerCannotLeave(s) => Outcome::OwnerCannotLeave(f(s)),
            Outcome::InvalidInput(s) => Outcome::InvalidInput(f(s)),
            Outcome::ProviderError(s) => Outcome::ProviderError(f(s)),
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.class(), self.detail())
    }
}

impl Serialize for Outcome {
    /// `{"class": "...", "detail": "...", ...}` plus `left` for [`Outcome::Left`] and
    /// `retry_not_before_ms` / `retry_hint_source` for a hinted [`Outcome::RetryLater`].
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("class", &self.class())?;
        map.serialize_entry("success", &self.is_success())?;
        map.serialize_entry("detail", self.detail())?;
        match self {
            Outcome::Left(d) => map.serialize_entry("left", d)?,
            Outcome::RetryLater {
                hint: Some(hint), ..
            } => {
                let ms = hint
                    .not_before
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
                map.serialize_entry("retry_not_before_ms", &ms)?;
                map.serialize_entry("retry_hint_source", &hint.source)?;
            }
            _ => {}
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_three_successes_are_successes() {
        let all = [
            OutcomeClass::Left,
            OutcomeClass::AlreadyLeft,
            OutcomeClass::GroupGone,
            OutcomeClass::RetryLater,
            OutcomeClass::AccountError,
            OutcomeClass::OwnerCannotLeave,
            OutcomeClass::InvalidInput,
            OutcomeClass::ProviderError,
        ];
        let successes: Vec<_> = all.iter().filter(|c| c.is_success()).collect();
        assert_eq!(successes.len(), 3);
        let mut codes: Vec<u8> = all
            .iter()
            .filter(|c| !c.is_success())
            .map(|c| c.exit_code())
            .collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), 5, "failure exit codes must be distinct");
        assert!(!codes.contains(&0));
    }

    #[test]
    fn serialises_class_detail_and_hint() {
        let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let o = Outcome::RetryLater {
            reason: "HTTP 429".into(),
            hint: Some(RetryHint {
                not_before: at,
                source: HintSource::RateLimitReset,
            }),
        };
        let v = serde_json::to_value(&o).unwrap();
        assert_eq!(v["class"], "retry_later");
        assert_eq!(v["success"], false);
        assert_eq!(v["retry_not_before_ms"], 1_700_000_000_000u64);
        assert_eq!(v["retry_hint_source"], "rate_limit_reset");
        let v = serde_json::to_value(Outcome::Left(LeftDetail::OwnerDissolvedGroup)).unwrap();
        assert_eq!(v["left"], "owner_dissolved_group");
        assert_eq!(v["success"], true);
    }
}
