//! The sample campaign the demo runs: five accounts across the four providers, the groups each
//! sits in, what the simulator knows about those groups, and what the ledger must say of each
//! one at the end.
//!
//! - `acme_green` (Green API, 10/s): ordinary groups, some it administers, a few the simulator
//!   answers `{"leaveGroup": false}` for (undocumented: never counted as success), 3 % server
//!   errors (retried), and a 429 storm: every request refused for a while with `Retry-After`.
//! - `acme_ryze` (RyzeAPI): ordinary and already-left groups (RyzeAPI answers a vanished group
//!   as "not a member", so it has no vanished ones).
//! - `acme_wasend` (Wasend): ordinary groups, already-left and owned ones (Wasend answers both
//!   with an ambiguous 403, resolved by a follow-up lookup).
//! - `acme_kirimin` (Kirimin, owner check): ordinary, already-left, vanished and owned groups.
//! - `acme_wasend_old` (Wasend): its key was rotated at the provider; the first 401 pauses it
//!   and its items wait, unrun.

use std::collections::HashMap;
use std::time::Duration;

use crate::providers::Provider;
use crate::quota::Quota;
use crate::simulator::{Faults, SimAccount, SimulatorConfig};

/// What the ledger must record for a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Expect {
    /// Left (the provider confirmed).
    Left,
    /// The account was not a member any more.
    AlreadyLeft,
    /// The group no longer exists.
    GroupGone,
    /// The account owns the group: not left.
    OwnerCannotLeave,
    /// Green API's `{"leaveGroup": false}`: not confirmed, so not a success.
    Unconfirmed,
    /// Its account is paused: no outcome yet.
    Waiting,
}

impl Expect {
    /// The outcome class the ledger records (`None`: still pending).
    pub fn class(self) -> Option<&'static str> {
        match self {
            Expect::Left => Some("left"),
            Expect::AlreadyLeft => Some("already_left"),
            Expect::GroupGone => Some("group_gone"),
            Expect::OwnerCannotLeave => Some("owner_cannot_leave"),
            Expect::Unconfirmed => Some("provider_error"),
            Expect::Waiting => None,
        }
    }
}

/// One account of the scenario and its groups.
#[derive(Debug, Clone)]
pub struct DemoAccount {
    /// Its name in the configuration (`src/demo/demo.toml`).
    pub name: &'static str,
    /// Its provider.
    pub provider: Provider,
    /// Groups per expected outcome.
    pub groups: Vec<(Expect, usize)>,
    /// Of the `Left` groups, those it administers (Green API only).
    pub admin: usize,
    /// Server errors the simulator injects (probability per request).
    pub error_rate: f64,
}

/// A forced 429 window on one account.
#[derive(Debug, Clone, Copy)]
pub struct Storm {
    /// The account.
    pub account: &'static str,
    /// When it starts, after the producer starts.
    pub after: Duration,
    /// How long it lasts.
    pub lasting: Duration,
    /// The `Retry-After` it announces.
    pub retry_after: Duration,
}

/// The whole scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The accounts.
    pub accounts: Vec<DemoAccount>,
    /// The 429 storm.
    pub storm: Storm,
    /// The demo gives up (and fails) after this long.
    pub deadline: Duration,
}

/// The simulator's identity for each demo account: (account, provider id, credential the
/// simulator expects, quota it enforces). The quotas are those of `demo.toml`.
const SIM_ACCOUNTS: [(&str, &str, &str, &str); 5] = [
    ("acme_green", "1101000001", "demo-green-token", "10/s"),
    ("acme_wasend", "acme-main", "demo-wasend-key", "60/min"),
    (
        "acme_wasend_old",
        "acme-old",
        "demo-wasend-key-rotated",
        "60/min",
    ),
    ("acme_ryze", "acme-instance", "demo-ryze-token", "600/min"),
    (
        "acme_kirimin",
        "808080",
        "sid=demo-kirimin-session",
        "180/min",
    ),
];

/// The credentials bulkleave is configured with (`demo.toml` names the variables). All match
/// the simulator's but the old Wasend key.
const CREDENTIALS: [(&str, &str); 5] = [
    ("DEMO_GREEN_TOKEN", "demo-green-token"),
    ("DEMO_WASEND_KEY", "demo-wasend-key"),
    ("DEMO_WASEND_OLD_KEY", "demo-wasend-key-before-rotation"),
    ("DEMO_RYZE_TOKEN", "demo-ryze-token"),
    ("DEMO_KIRIMIN_COOKIE", "sid=demo-kirimin-session"),
];

impl Scenario {
    /// The full demo: 768 items, about a minute.
    pub fn full() -> Self {
        Self::scaled(10)
    }

    /// A shortened demo (83 items, about 10 s): the same cases, fewer of each.
    pub fn quick() -> Self {
        Self::scaled(1)
    }

    /// `n` tenths of the usual item counts, at least one of each case.
    fn scaled(n: usize) -> Self {
        let k = |count: usize| (count * n / 10).max(1);
        let accounts = vec![
            DemoAccount {
                name: "acme_green",
                provider: Provider::GreenApi,
                groups: vec![(Expect::Left, k(300)), (Expect::Unconfirmed, 2)],
                admin: k(20),
                error_rate: 0.03,
            },
            DemoAccount {
                name: "acme_ryze",
                provider: Provider::RyzeApi,
                groups: vec![(Expect::Left, k(330)), (Expect::AlreadyLeft, k(20))],
                admin: 0,
                error_rate: 0.0,
            },
            DemoAccount {
                name: "acme_wasend",
                provider: Provider::Wasend,
                groups: vec![
                    (Expect::Left, k(36)),
                    (Expect::AlreadyLeft, k(3)),
                    (Expect::OwnerCannotLeave, k(2)),
                ],
                admin: 0,
                error_rate: 0.0,
            },
            DemoAccount {
                name: "acme_kirimin",
                provider: Provider::Kirimin,
                groups: vec![
                    (Expect::Left, k(52)),
                    (Expect::AlreadyLeft, k(4)),
                    (Expect::GroupGone, k(2)),
                    (Expect::OwnerCannotLeave, k(2)),
                ],
                admin: 0,
                error_rate: 0.0,
            },
            DemoAccount {
                name: "acme_wasend_old",
                provider: Provider::Wasend,
                groups: vec![(Expect::Waiting, k(15).max(3))],
                admin: 0,
                error_rate: 0.0,
            },
        ];
        let storm = Storm {
            account: "acme_green",
            after: Duration::from_millis(if n >= 10 { 5_000 } else { 1_000 }),
            lasting: Duration::from_millis(if n >= 10 { 6_000 } else { 1_000 }),
            retry_after: Duration::from_secs(if n >= 10 { 2 } else { 1 }),
        };
        Scenario {
            accounts,
            storm,
            deadline: Duration::from_secs(if n >= 10 { 300 } else { 120 }),
        }
    }

    /// Every item: (account, provider, group reference, what the ledger must say), account
    /// by account.
    pub fn items(&self) -> Vec<(&'static str, Provider, String, Expect)> {
        let mut items = Vec::new();
        for (a, account) in self.accounts.iter().enumerate() {
            let mut n = 0;
            for &(expect, count) in &account.groups {
                for _ in 0..count {
                    n += 1;
                    let group = group_ref(account.provider, a, n);
                    items.push((account.name, account.provider, group, expect));
                }
            }
        }
        items
    }

    /// The simulator's configuration: the accounts, their quotas and credentials, and which
    /// groups are special.
    pub fn simulator_config(&self) -> Result<SimulatorConfig, String> {
        let items = self.items();
        let mut config = SimulatorConfig::default();
        for account in &self.accounts {
            let &(_, id, credential, quota) = SIM_ACCOUNTS
                .iter()
                .find(|(name, ..)| *name == account.name)
                .ok_or_else(|| format!("no simulator account for {}", account.name))?;
            let quota: Quota = quota.parse().map_err(|e| format!("{quota}: {e}"))?;
            let mut sim = match account.provider {
                Provider::GreenApi => SimAccount::green_api(id, credential, quota),
                Provider::Wasend => SimAccount::wasend(id, credential, quota),
                Provider::RyzeApi => SimAccount::ryzeapi(id, credential, quota),
                Provider::Kirimin => SimAccount::kirimin(id, credential, quota),
            };
            let mine = items.iter().filter(|(name, ..)| *name == account.name);
            for (i, (_, _, group, expect)) in mine.enumerate() {
                sim = match expect {
                    Expect::Left if i < account.admin => sim.admin(group),
                    Expect::AlreadyLeft | Expect::Unconfirmed => sim.already_left(group),
                    Expect::GroupGone => sim.not_found(group),
                    Expect::OwnerCannotLeave => sim.owned(group),
                    Expect::Left | Expect::Waiting => sim,
                };
            }
            if account.error_rate > 0.0 {
                sim = sim.with_faults(Faults {
                    error_rate: account.error_rate,
                    ..Faults::default()
                });
            }
            config = config.account(account.name, sim);
        }
        config.validate().map_err(|e| e.to_string())?;
        Ok(config)
    }

    /// The demo's environment map: the credentials, every provider pointed at the simulator
    /// at `base_url`, and the queue at `redis_url` under `key_prefix`.
    pub fn env(
        &self,
        base_url: &str,
        redis_url: &str,
        key_prefix: &str,
    ) -> HashMap<String, String> {
        let mut env: HashMap<String, String> = CREDENTIALS
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        for provider in ["GREEN_API", "WASEND", "RYZEAPI", "KIRIMIN"] {
            env.insert(
                format!("BULKLEAVE__PROVIDERS__{provider}__BASE_URL"),
                base_url.to_owned(),
            );
        }
        env.insert("BULKLEAVE__REDIS__URL".into(), redis_url.to_owned());
        env.insert("BULKLEAVE__REDIS__KEY_PREFIX".into(), key_prefix.to_owned());
        env
    }
}

/// The `n`th group of the `a`th account, valid for `provider`: WhatsApp JIDs of 18 digits for
/// the gateways, numeric ids for Kirimin.
fn group_ref(provider: Provider, a: usize, n: usize) -> String {
    match provider {
        Provider::Kirimin => format!("7{a}{n:06}"),
        _ => format!("120363{a:02}{n:010}@g.us"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_is_present_and_the_simulator_config_is_valid() {
        for scenario in [Scenario::full(), Scenario::quick()] {
            let items = scenario.items();
            for expect in [
                Expect::Left,
                Expect::AlreadyLeft,
                Expect::GroupGone,
                Expect::OwnerCannotLeave,
                Expect::Unconfirmed,
                Expect::Waiting,
            ] {
                assert!(items.iter().any(|i| i.3 == expect), "{expect:?}");
            }
            let groups: std::collections::HashSet<_> = items.iter().map(|i| &i.2).collect();
            assert_eq!(groups.len(), items.len(), "group references are distinct");
            scenario.simulator_config().unwrap();
        }
        assert_eq!(Scenario::full().items().len(), 768);
        assert_eq!(Scenario::quick().items().len(), 83);
    }
}
