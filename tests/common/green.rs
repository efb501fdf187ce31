//! Two Green API accounts on the provider simulator, and the worker environment that drives
//! them: shared by the fleet tests (`tests/fleet.rs`) and the quota bench (`benches/quota.rs`).

use std::collections::HashMap;

use bulkleave::config::RedisSettings;
use bulkleave::quota::Quota;
use bulkleave::simulator::{SimAccount, SimulatorConfig};

/// The Green API instances of the two accounts, in order.
pub const INSTANCES: [&str; 2] = ["1101000001", "1101000002"];

/// One of the two Green API accounts.
#[derive(Debug, Clone, Copy)]
pub struct GreenAccount<'a> {
    /// The account's name in the worker's configuration and the simulator's report.
    pub name: &'a str,
    /// Its API token.
    pub token: &'a str,
    /// Its quota, as the simulator enforces it and the worker is told.
    pub quota: Quota,
}

/// The simulator's configuration: `accounts[i]` on instance [`INSTANCES`]`[i]`.
pub fn simulator_config(accounts: [GreenAccount<'_>; 2]) -> SimulatorConfig {
    accounts
        .iter()
        .zip(INSTANCES)
        .fold(SimulatorConfig::default(), |config, (a, instance)| {
            config.account(a.name, SimAccount::green_api(instance, a.token, a.quota))
        })
}

/// A worker's environment for the queue at `redis` (ledger off, see [`super::base_env`]) with
/// `accounts` on the Green API at `base` (the simulator), each at its quota, plus `extra`.
pub fn worker_env(
    redis: &RedisSettings,
    base: &str,
    accounts: [GreenAccount<'_>; 2],
    extra: &[(&str, &str)],
) -> HashMap<String, String> {
    let mut env = super::base_env(
        redis,
        &[("BULKLEAVE__PROVIDERS__GREEN_API__BASE_URL", base)],
    );
    for (a, instance) in accounts.iter().zip(INSTANCES) {
        let key = |field: &str| format!("BULKLEAVE__ACCOUNTS__{}__{field}", a.name.to_uppercase());
        let token_var = format!("{}_TOKEN", a.name.to_uppercase());
        env.insert(key("PROVIDER"), "green_api".into());
        env.insert(key("INSTANCE_ID"), instance.into());
        env.insert(key("CREDENTIAL__ENV"), token_var.clone());
        env.insert(key("QUOTA"), a.quota.to_string());
        env.insert(token_var, a.token.into());
    }
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}
