//! The closed set of providers bulkleave can talk to.
//!
//! Adding a provider means adding a variant here, a module next to this one and a row in the
//! README's provider table; nothing else in the crate matches on provider names as strings.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::quota::Quota;

/// A messaging provider with a leave-group endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// Green API (WhatsApp gateway); token travels in the URL path.
    GreenApi,
    /// Wasend (WhatsApp gateway); bearer API key, sessions.
    Wasend,
    /// RyzeAPI (WhatsApp gateway); `token` header, accepts invite codes and links.
    #[serde(rename = "ryzeapi")]
    RyzeApi,
    /// Kirimin, a standalone chat app; cookie session, numeric group ids.
    Kirimin,
}

impl Provider {
    /// Every provider, in a stable order (used by reports and docs).
    pub const ALL: [Provider; 4] = [
        Provider::GreenApi,
        Provider::Wasend,
        Provider::RyzeApi,
        Provider::Kirimin,
    ];

    /// The canonical name, as used in configuration, jobs, logs and metric labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            Provider::GreenApi => "green_api",
            Provider::Wasend => "wasend",
            Provider::RyzeApi => "ryzeapi",
            Provider::Kirimin => "kirimin",
        }
    }
}

impl Provider {
    /// The provider's default quota (its documented limit, or a conservative guess where none
    /// is published). Accounts may override it.
    pub const fn default_quota(self) -> Quota {
        match self {
            Provider::GreenApi => super::green_api::DEFAULT_QUOTA,
            Provider::Wasend => super::wasend::DEFAULT_QUOTA,
            Provider::RyzeApi => super::ryzeapi::DEFAULT_QUOTA,
            Provider::Kirimin => super::kirimin::DEFAULT_QUOTA,
        }
    }

    /// The provider's documented API root; `None` for Green API, whose URL depends on the
    /// instance.
    pub const fn default_base_url(self) -> Option<&'static str> {
        match self {
            Provider::GreenApi => None,
            Provider::Wasend => Some(super::wasend::DEFAULT_BASE_URL),
            Provider::RyzeApi => Some(super::ryzeapi::DEFAULT_BASE_URL),
            Provider::Kirimin => Some(super::kirimin::DEFAULT_BASE_URL),
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a provider name that names none of [`Provider::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown provider {0:?}: expected one of green_api, wasend, ryzeapi, kirimin")]
pub struct UnknownProvider(pub String);

impl FromStr for Provider {
    type Err = UnknownProvider;

    /// Accepts the canonical names case-insensitively, with `-` or `_` or nothing between words
    /// (`green_api`, `green-api`, `GreenAPI`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let folded: String = s
            .trim()
            .chars()
            .filter(|c| *c != '_' && *c != '-')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        match folded.as_str() {
            "greenapi" => Ok(Provider::GreenApi),
            "wasend" => Ok(Provider::Wasend),
            "ryzeapi" => Ok(Provider::RyzeApi),
            "kirimin" => Ok(Provider::Kirimin),
            _ => Err(UnknownProvider(crate::job::excerpt(s))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_canonical_names_and_spellings() {
        for p in Provider::ALL {
            assert_eq!(p.as_str().parse::<Provider>(), Ok(p));
        }
        assert_eq!("Green-API".parse::<Provider>(), Ok(Provider::GreenApi));
        assert_eq!("RyzeAPI".parse::<Provider>(), Ok(Provider::RyzeApi));
    }

    #[test]
    fn rejects_unknown_names_listing_the_valid_ones() {
        let err = "whatsapp".parse::<Provider>().unwrap_err();
        assert!(
            err.to_string()
                .contains("green_api, wasend, ryzeapi, kirimin")
        );
    }

    #[test]
    fn serde_uses_canonical_names() {
        for p in Provider::ALL {
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(json, format!("\"{}\"", p.as_str()));
        }
    }
}
