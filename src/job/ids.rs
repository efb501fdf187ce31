//! Checked identifiers carried by jobs: account names, job and campaign ids, idempotency keys.
//!
//! Each type can only be built through its parser, so a value of the type is valid by
//! construction. Parse errors are plain rule descriptions; [`super::JobError`] adds the field.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::GroupRef;
use crate::providers::Provider;

/// A rule a value broke, in words (the field is named by the caller).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RuleError(pub String);

macro_rules! string_newtype_serde {
    ($ty:ident) => {
        impl Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// The name of a configured provider account (`acme_green`). Jobs name accounts, never
/// credentials: the name is looked up in configuration.
///
/// Rule: 1-64 characters of lowercase letters, digits and `_`, starting with a letter or digit.
/// Lowercase and no `-`, because accounts are configured from environment variables too
/// (`BULKLEAVE__ACCOUNTS__<NAME>__…`), whose names fold to lowercase and cannot hold `-`; names
/// also become Redis keys and metric labels.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountName(String);

impl AccountName {
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for AccountName {
    type Err = RuleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok_char = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_';
        let first_ok = s
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if (1..=64).contains(&s.len()) && first_ok && s.bytes().all(ok_char) {
            Ok(AccountName(s.to_owned()))
        } else {
            Err(RuleError(format!(
                "{:?} is not an account name: use 1-64 lowercase letters, digits or '_', \
                 starting with a letter or digit (names must be writable as environment \
                 variables)",
                super::excerpt(s)
            )))
        }
    }
}
string_newtype_serde!(AccountName);

/// A job's unique id: a UUIDv7, so ids sort by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(Uuid);

impl JobId {
    /// A new, time-ordered id.
    pub fn new() -> Self {
        JobId(Uuid::now_v7())
    }

    /// A UUIDv7 determined by `seed`: the time part is `unix_ms`, the rest hashes the seed.
    /// The same submission read twice (after a crash) gets the same id.
    pub fn derived(unix_ms: u64, seed: &str) -> Self {
        let digest = Sha256::digest(seed.as_bytes());
        let mut bytes = [0u8; 10];
        bytes.copy_from_slice(&digest[..10]);
        JobId(uuid::Builder::from_unix_timestamp_millis(unix_ms, &bytes).into_uuid())
    }

    /// The id in its hyphenated text form.
    pub fn as_str(&self) -> String {
        self.0.hyphenated().to_string()
    }
}

impl Default for JobId {
    fn default() -> Self {
        Self::new()
    }
}

impl FromStr for JobId {
    type Err = RuleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s)
            .map(JobId)
            .map_err(|_| RuleError(format!("{:?} is not a UUID", super::excerpt(s))))
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl Serialize for JobId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for JobId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A campaign's id: chosen by the producer or generated (a UUIDv7).
///
/// Rule: 1-64 characters of letters, digits, `.`, `_`, `:` and `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CampaignId(String);

impl CampaignId {
    /// A new, time-ordered campaign id.
    pub fn generate() -> Self {
        CampaignId(Uuid::now_v7().hyphenated().to_string())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for CampaignId {
    type Err = RuleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok_char = |b: u8| b.is_ascii_alphanumeric() || b"._:-".contains(&b);
        if (1..=64).contains(&s.len()) && s.bytes().all(ok_char) {
            Ok(CampaignId(s.to_owned()))
        } else {
            Err(RuleError(format!(
                "{:?} is not a campaign id: use 1-64 letters, digits, '.', '_', ':' or '-'",
                super::excerpt(s)
            )))
        }
    }
}
string_newtype_serde!(CampaignId);

/// The key under which duplicate submissions are recognised.
///
/// Derived keys hash (provider, account, normalised group), so equivalent references (an invite
/// link and its bare code, `@G.US` and `@g.us`) give the same key. Producers may supply their own
/// key instead (1-128 printable ASCII characters, no white space).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Derives the key for leaving `group` at `provider` with `account`.
    pub fn derive(provider: Provider, account: &AccountName, group: &GroupRef) -> Self {
        let mut hash = Sha256::new();
        for part in [
            "bulkleave/v1",
            provider.as_str(),
            account.as_str(),
            group.kind(),
            group.as_str(),
        ] {
            hash.update(part.as_bytes());
            hash.update([0u8]);
        }
        let digest = hash.finalize();
        IdempotencyKey(format!("lv1:{}", hex::encode(&digest[..16])))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `key` scoped to `campaign` (`c:{campaign}:{key}`), so an item of one campaign is never
    /// taken for the same target pending in another: each campaign runs all of its items.
    pub fn in_campaign(campaign: &CampaignId, key: &IdempotencyKey) -> Self {
        IdempotencyKey(format!("c:{}:{}", campaign.as_str(), key.as_str()))
    }
}

impl FromStr for IdempotencyKey {
    type Err = RuleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if (1..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(IdempotencyKey(s.to_owned()))
        } else {
            Err(RuleError(format!(
                "{:?} is not an idempotency key: use 1-128 printable ASCII characters \
                 without white space",
                super::excerpt(s)
            )))
        }
    }
}
string_newtype_serde!(IdempotencyKey);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_names_follow_the_rule() {
        for good in ["a", "acme_green", "ops_1", "9lives"] {
            assert!(good.parse::<AccountName>().is_ok(), "{good}");
        }
        for bad in [
            "",
            "-a",
            "_a",
            "Acme",
            "a b",
            "a/b",
            "a.b",
            "acme-green",
            &"a".repeat(65),
        ] {
            let err = bad.parse::<AccountName>().unwrap_err();
            assert!(err.0.contains("lowercase"), "{bad}: {err}");
        }
    }

    #[test]
    fn campaign_ids_follow_the_rule() {
        assert!("offboard-2026-11:acme.1".parse::<CampaignId>().is_ok());
        assert!(
            CampaignId::generate()
                .as_str()
                .parse::<CampaignId>()
                .is_ok()
        );
        assert!("has space".parse::<CampaignId>().is_err());
        assert!("".parse::<CampaignId>().is_err());
    }

    #[test]
    fn job_ids_round_trip_and_sort_by_creation() {
        let a = JobId::new();
        let b = JobId::new();
        assert!(a < b);
        assert_eq!(a.to_string().parse::<JobId>().unwrap(), a);
        assert!("nope".parse::<JobId>().is_err());
    }

    #[test]
    fn derived_job_ids_are_stable_v7_ids() {
        let a = JobId::derived(1_700_000_000_000, "1700000000000-0");
        assert_eq!(a, JobId::derived(1_700_000_000_000, "1700000000000-0"));
        assert_ne!(a, JobId::derived(1_700_000_000_000, "1700000000000-1"));
        assert_eq!(a.0.get_version_num(), 7);
    }

    #[test]
    fn derived_keys_separate_every_component() {
        let acct: AccountName = "acme".parse().unwrap();
        let other: AccountName = "acme2".parse().unwrap();
        let g = GroupRef::Jid("120363406289005073@g.us".into());
        let k = IdempotencyKey::derive(Provider::Wasend, &acct, &g);
        assert_ne!(k, IdempotencyKey::derive(Provider::GreenApi, &acct, &g));
        assert_ne!(k, IdempotencyKey::derive(Provider::Wasend, &other, &g));
        assert!(k.as_str().starts_with("lv1:"));
        assert_eq!(k.as_str().len(), 4 + 32);
    }

    #[test]
    fn supplied_keys_are_checked() {
        assert!("order-42/leave".parse::<IdempotencyKey>().is_ok());
        assert!("has space".parse::<IdempotencyKey>().is_err());
        assert!("".parse::<IdempotencyKey>().is_err());
    }
}
