//! The simulator's configuration: where it listens, the accounts it knows (provider, the
//! provider's identifier for the account, the credential it expects, the quota it enforces),
//! the groups that are not ordinary memberships, and the faults to inject.
//!
//! Every well-formed group id is, by default, a group the account is a member of, so a
//! benchmark can use millions of generated ids without listing them; only the exceptions
//! (`not_found`, `owned`, `admin`, `already_left`) are listed. It deserializes from TOML (see
//! `config/simulator.example.toml`), and builders make it short to write in tests:
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use bulkleave::simulator::{SimAccount, SimulatorConfig};
//!
//! let config = SimulatorConfig::default()
//!     .account("w", SimAccount::wasend("session1", "key", "10/min".parse()?))
//!     .account("k", SimAccount::kirimin("808080", "sid=abc", "30/min".parse()?).owned("6228482"));
//! config.validate()?;
//! # Ok(())
//! # }
//! ```

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::faults::Faults;
use crate::job::GroupRef;
use crate::providers::Provider;
use crate::quota::Quota;

/// The default listen address: the loopback interface, any free port.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);

/// Why a simulator configuration was rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The text is not valid TOML for this configuration.
    #[error("invalid simulator configuration: {0}")]
    Parse(String),
    /// The configuration parsed but breaks a rule (each problem on its own line).
    #[error("invalid simulator configuration:\n{}", .0.join("\n"))]
    Invalid(Vec<String>),
}

/// The whole simulator configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatorConfig {
    /// Address to bind. Default [`DEFAULT_LISTEN`] (port 0: the OS picks a free port).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Seed of the fault dice, for reproducible runs; random when unset.
    #[serde(default)]
    pub seed: Option<u64>,
    /// Faults for every account that has none of its own.
    #[serde(default)]
    pub faults: Faults,
    /// The accounts, by name (the name the report uses).
    #[serde(default)]
    pub accounts: BTreeMap<String, SimAccount>,
}

fn default_listen() -> SocketAddr {
    DEFAULT_LISTEN
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            listen: DEFAULT_LISTEN,
            seed: None,
            faults: Faults::default(),
            accounts: BTreeMap::new(),
        }
    }
}

/// One simulated account.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimAccount {
    /// The provider serving it.
    pub provider: Provider,
    /// The provider's identifier of the account: Green API `idInstance`, Wasend session id,
    /// RyzeAPI instance name, Kirimin user id.
    pub id: String,
    /// The credential the simulator expects: Green API `apiTokenInstance`, Wasend API key,
    /// RyzeAPI token, Kirimin session cookie (`name=value`, several joined by `; `).
    pub credential: SecretString,
    /// The quota enforced; the provider's documented default when unset.
    #[serde(default)]
    pub quota: Option<Quota>,
    /// Groups that do not exist.
    #[serde(default)]
    pub not_found: Vec<String>,
    /// Groups the account owns.
    #[serde(default)]
    pub owned: Vec<String>,
    /// Groups the account administers.
    #[serde(default)]
    pub admin: Vec<String>,
    /// Groups the account has already left.
    #[serde(default)]
    pub already_left: Vec<String>,
    /// Faults for this account only, replacing the global ones.
    #[serde(default)]
    pub faults: Option<Faults>,
}

impl SimulatorConfig {
    /// Reads and validates a TOML file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text)
    }

    /// Parses and validates TOML text.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: SimulatorConfig =
            toml::from_str(text).map_err(|e| ConfigError::Parse(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Adds (or replaces) the account `name`.
    pub fn account(mut self, name: impl Into<String>, account: SimAccount) -> Self {
        self.accounts.insert(name.into(), account);
        self
    }

    /// Sets the global faults.
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// Sets the listen address.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Seeds the fault dice.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Checks every rule, listing all problems: account ids unique per provider, group ids
    /// well-formed for the provider and listed once, Kirimin cookies of the form `name=value`
    /// and unique, fault rates valid.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Vec::new();
        if let Err(e) = self.faults.validate() {
            problems.push(format!("faults: {e}"));
        }
        let mut ids: HashMap<(Provider, &str), &str> = HashMap::new();
        let mut cookies: HashMap<&str, &str> = HashMap::new();
        for (name, account) in &self.accounts {
            if name.trim().is_empty() {
                problems.push("accounts: an account name is empty".to_owned());
            }
            problems.extend(
                account
                    .problems()
                    .into_iter()
                    .map(|p| format!("{name}: {p}")),
            );
            if let Some(other) = ids.insert((account.provider, account.id.as_str()), name) {
                problems.push(format!(
                    "{name}: {} id {:?} is also account {other}'s",
                    account.provider, account.id
                ));
            }
            if account.provider == Provider::Kirimin {
                let cookie = account.credential.expose_secret();
                if let Some(other) = cookies.insert(cookie, name) {
                    problems.push(format!("{name}: same session cookie as account {other}"));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(problems))
        }
    }
}

/// One of an account's group lists: the groups not in the default state (a member).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum List {
    /// `not_found`: no such group.
    NotFound,
    /// `owned`: the account owns the group.
    Owned,
    /// `admin`: the account is an admin of the group.
    Admin,
    /// `already_left`: the account is not a member any more.
    AlreadyLeft,
}

impl List {
    /// Every list, in the configuration's order.
    const ALL: [List; 4] = [List::NotFound, List::Owned, List::Admin, List::AlreadyLeft];

    /// The list's configuration key.
    fn name(self) -> &'static str {
        match self {
            List::NotFound => "not_found",
            List::Owned => "owned",
            List::Admin => "admin",
            List::AlreadyLeft => "already_left",
        }
    }
}

impl SimAccount {
    /// An account of `provider` identified by `id`, expecting `credential`, limited to `quota`.
    pub fn new(
        provider: Provider,
        id: impl Into<String>,
        credential: impl Into<String>,
        quota: Quota,
    ) -> Self {
        SimAccount {
            provider,
            id: id.into(),
            credential: SecretString::from(credential.into()),
            quota: Some(quota),
            not_found: Vec::new(),
            owned: Vec::new(),
            admin: Vec::new(),
            already_left: Vec::new(),
            faults: None,
        }
    }

    /// A Green API instance `instance_id` with its `apiTokenInstance`.
    pub fn green_api(instance_id: &str, token: &str, quota: Quota) -> Self {
        Self::new(Provider::GreenApi, instance_id, token, quota)
    }

    /// A Wasend session with the API key it answers to.
    pub fn wasend(session_id: &str, api_key: &str, quota: Quota) -> Self {
        Self::new(Provider::Wasend, session_id, api_key, quota)
    }

    /// A RyzeAPI instance with its token.
    pub fn ryzeapi(instance: &str, token: &str, quota: Quota) -> Self {
        Self::new(Provider::RyzeApi, instance, token, quota)
    }

    /// A Kirimin user with its session cookie (`name=value`).
    pub fn kirimin(user_id: &str, cookie: &str, quota: Quota) -> Self {
        Self::new(Provider::Kirimin, user_id, cookie, quota)
    }

    /// Marks `group` as not existing.
    pub fn not_found(mut self, group: &str) -> Self {
        self.not_found.push(group.to_owned());
        self
    }

    /// Marks `group` as owned by the account.
    pub fn owned(mut self, group: &str) -> Self {
        self.owned.push(group.to_owned());
        self
    }

    /// Marks `group` as administered by the account.
    pub fn admin(mut self, group: &str) -> Self {
        self.admin.push(group.to_owned());
        self
    }

    /// Marks `group` as already left.
    pub fn already_left(mut self, group: &str) -> Self {
        self.already_left.push(group.to_owned());
        self
    }

    /// Gives the account faults of its own (replacing the global ones for it).
    pub fn with_faults(mut self, faults: Faults) -> Self {
        self.faults = Some(faults);
        self
    }

    /// The quota enforced: the configured one or the provider's default.
    pub fn quota(&self) -> Quota {
        self.quota.unwrap_or(self.provider.default_quota())
    }

    /// The groups configured in `list`, as written.
    fn list(&self, list: List) -> &[String] {
        match list {
            List::NotFound => &self.not_found,
            List::Owned => &self.owned,
            List::Admin => &self.admin,
            List::AlreadyLeft => &self.already_left,
        }
    }

    /// The listed groups, normalised, with the list each came from.
    pub(crate) fn listed_groups(&self) -> impl Iterator<Item = (List, GroupRef)> + '_ {
        List::ALL.into_iter().flat_map(move |list| {
            self.list(list)
                .iter()
                .filter_map(move |g| GroupRef::parse(self.provider, g).ok().map(|g| (list, g)))
        })
    }

    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.id.trim().is_empty() || self.id.contains('/') {
            problems.push(format!("id {:?} must be non-empty without '/'", self.id));
        }
        if self.credential.expose_secret().is_empty() {
            problems.push("credential must not be empty".to_owned());
        }
        if self.provider == Provider::Kirimin
            && cookie_pairs(self.credential.expose_secret())
                .next()
                .is_none()
        {
            problems.push("the Kirimin credential must be a cookie: name=value".to_owned());
        }
        if let Some(Err(e)) = self.faults.as_ref().map(Faults::validate) {
            problems.push(format!("faults: {e}"));
        }
        let mut seen: HashMap<String, &str> = HashMap::new();
        for list in List::ALL {
            let (list, groups) = (list.name(), self.list(list));
            for group in groups {
                match GroupRef::parse(self.provider, group) {
                    Err(e) => problems.push(format!("{list}: {e}")),
                    Ok(g) => {
                        if let Some(other) = seen.insert(g.as_str().to_owned(), list) {
                            problems.push(format!("{list}: {group:?} is also in {other}"));
                        }
                    }
                }
            }
        }
        problems
    }
}

/// The `name=value` pairs of a cookie string (`a=1; b=2`), trimmed; malformed parts skipped.
pub(crate) fn cookie_pairs(cookie: &str) -> impl Iterator<Item = (&str, &str)> {
    cookie.split(';').filter_map(|part| {
        let (name, value) = part.split_once('=')?;
        let name = name.trim();
        (!name.is_empty()).then_some((name, value.trim()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_toml_with_defaults() {
        let config = SimulatorConfig::from_toml(
            r#"
            [faults]
            latency_ms = 5

            [accounts.w]
            provider = "wasend"
            id = "sess1"
            credential = "key"
            owned = ["120363406289005073@g.us"]

            [accounts.k]
            provider = "kirimin"
            id = "808080"
            credential = "sid=abc"
            quota = "5/s"
            "#,
        )
        .unwrap();
        assert_eq!(config.listen, DEFAULT_LISTEN);
        assert_eq!(config.faults.latency_ms, 5);
        assert_eq!(
            config.accounts["w"].quota(),
            Provider::Wasend.default_quota()
        );
        assert_eq!(config.accounts["k"].quota().to_string(), "5/s");
        assert!(
            !format!("{config:?}").contains("sid=abc"),
            "Debug hides credentials"
        );
    }

    #[test]
    fn lists_every_problem() {
        let q = Quota::per_second(1);
        let err = SimulatorConfig::default()
            .account("a", SimAccount::wasend("s", "k", q).owned("not-a-jid"))
            .account("b", SimAccount::wasend("s", "k2", q))
            .account(
                "c",
                SimAccount::kirimin("1", "no-cookie", q)
                    .admin("12")
                    .owned("012"),
            )
            .faults(Faults::default().with_error_rate(2.0))
            .validate()
            .unwrap_err()
            .to_string();
        for needle in [
            "faults:",
            "a: owned:",
            "b: wasend id \"s\" is also account a's",
            "c: the Kirimin credential must be a cookie",
            "c: admin: \"12\" is also in owned",
        ] {
            assert!(err.contains(needle), "{needle} not in {err}");
        }
    }

    #[test]
    fn rejects_unknown_fields_and_bad_quotas() {
        for text in [
            "lisen = \"127.0.0.1:0\"",
            "[accounts.a]\nprovider = \"wasend\"\nid = \"s\"\ncredential = \"k\"\nquota = \"0/s\"",
            "[accounts.a]\nprovider = \"telegram\"\nid = \"s\"\ncredential = \"k\"",
        ] {
            assert!(SimulatorConfig::from_toml(text).is_err(), "{text}");
        }
    }

    #[test]
    fn cookie_pairs_are_trimmed() {
        let pairs: Vec<_> = cookie_pairs(" sid=abc ; theme = dark;junk; =x").collect();
        assert_eq!(pairs, [("sid", "abc"), ("theme", "dark")]);
    }
}
