//! Helpers of `tests/simulator.rs`: our adapters pointed at a simulator, group ids, and the
//! `bulkleave simulate` process.

use std::process::Stdio;
use std::time::Duration;

use bulkleave::job::GroupRef;
use bulkleave::providers::green_api::{self, GreenApi, LeaveGroupFalse};
use bulkleave::providers::kirimin::{self, Kirimin, OwnerPolicy};
use bulkleave::providers::ryzeapi::{self, RyzeApi};
use bulkleave::providers::wasend::{self, Wasend};
use bulkleave::providers::{Adapter, AttemptReport, Provider, ProviderSettings};
use bulkleave::quota::Quota;
use bulkleave::simulator::{SimAccount, Simulator, SimulatorConfig};
use secrecy::SecretString;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use crate::common;

/// A Kirimin session cookie holding the canary secret.
pub const SECRET_COOKIE: &str = "sid=CANARY-s3cr3t-t0ken-9f2c";

/// A quota from its text.
pub fn q(s: &str) -> Quota {
    s.parse().unwrap()
}

/// The `i`-th WhatsApp group JID (18 digits).
pub fn jid(i: u32) -> String {
    format!("12036340628{i:07}@g.us")
}

/// The `i`-th Kirimin group id.
pub fn num(i: u32) -> String {
    (6_228_000 + i).to_string()
}

/// The `i`-th group id in `provider`'s form.
pub fn id_for(provider: Provider, i: u32) -> String {
    match provider {
        Provider::Kirimin => num(i),
        _ => jid(i),
    }
}

/// One leave attempt of `adapter` for the group `id`.
pub async fn leave(adapter: &Adapter, id: &str) -> AttemptReport {
    let group = GroupRef::parse(adapter.provider(), id).unwrap();
    adapter.leave(&group).await
}

fn settings(sim: &Simulator) -> ProviderSettings {
    common::provider_settings(&sim.base_url())
}

/// A Green API adapter for `instance` at the simulator.
pub fn green(sim: &Simulator, instance: &str, token: &str, lgf: LeaveGroupFalse) -> Adapter {
    let account = green_api::AccountConfig {
        instance_id: instance.into(),
        api_url: None,
        leave_group_false: lgf,
    };
    let token = SecretString::from(token);
    Adapter::GreenApi(GreenApi::new(
        common::http_client(),
        &settings(sim),
        &account,
        token,
    ))
}

/// A Wasend adapter for `session` at the simulator.
pub fn wasend(sim: &Simulator, session: &str, key: &str) -> Adapter {
    wasend_at(&sim.base_url(), session, key)
}

/// A Wasend adapter for `session` at `base`.
pub fn wasend_at(base: &str, session: &str, key: &str) -> Adapter {
    let account = wasend::AccountConfig {
        session_id: session.into(),
    };
    let settings = common::provider_settings(base);
    let key = SecretString::from(key);
    Adapter::Wasend(Wasend::new(common::http_client(), &settings, &account, key))
}

/// A RyzeAPI adapter for `instance` at the simulator.
pub fn ryze(sim: &Simulator, instance: &str, token: &str) -> Adapter {
    let account = ryzeapi::AccountConfig {
        instance: instance.into(),
    };
    let token = SecretString::from(token);
    Adapter::RyzeApi(RyzeApi::new(
        common::http_client(),
        &settings(sim),
        &account,
        token,
    ))
}

/// A Kirimin adapter for user `user_id` at the simulator.
pub fn kirimin(sim: &Simulator, user_id: &str, cookie: &str, policy: OwnerPolicy) -> Adapter {
    let account = kirimin::AccountConfig {
        user_id: Some(user_id.into()),
        owner_policy: policy,
        owner_check_path: kirimin::DEFAULT_OWNER_CHECK_PATH.into(),
        owner_pointer: kirimin::DEFAULT_OWNER_POINTER.into(),
    };
    let cookie = SecretString::from(cookie);
    Adapter::Kirimin(Kirimin::new(
        common::http_client(),
        &settings(sim),
        &account,
        cookie,
    ))
}

/// The accounts [`one_of_each`] talks to, each limited to `quota`.
pub fn one_account_each(quota: Quota) -> SimulatorConfig {
    SimulatorConfig::default()
        .account(
            "g",
            SimAccount::green_api("1101000001", common::CANARY, quota),
        )
        .account("w", SimAccount::wasend("sess1", common::CANARY, quota))
        .account("r", SimAccount::ryzeapi("inst", common::CANARY, quota))
        .account("k", SimAccount::kirimin("808080", SECRET_COOKIE, quota))
}

/// One adapter per provider, for accounts `g` (Green API instance 1101000001), `w` (Wasend
/// session sess1), `r` (RyzeAPI instance inst), all with the canary credential, and `k`
/// (Kirimin user 808080, [`SECRET_COOKIE`], no owner check), each with a group to leave.
pub fn one_of_each(sim: &Simulator) -> Vec<(&'static str, Adapter, String)> {
    vec![
        (
            "g",
            green(
                sim,
                "1101000001",
                common::CANARY,
                LeaveGroupFalse::AlreadyLeft,
            ),
            jid(1),
        ),
        ("w", wasend(sim, "sess1", common::CANARY), jid(1)),
        ("r", ryze(sim, "inst", common::CANARY), jid(1)),
        (
            "k",
            kirimin(sim, "808080", SECRET_COOKIE, OwnerPolicy::Unchecked),
            num(1),
        ),
    ]
}

/// Starts `bulkleave simulate ARGS` with its standard output and error piped.
pub fn spawn_cli(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_bulkleave"))
        .arg("simulate")
        .args(args)
        .env_remove("BULKLEAVE_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// Reads the `listening on URL` line; returns the URL and the rest of standard output.
pub async fn address_line(child: &mut Child) -> (String, Lines<BufReader<ChildStdout>>) {
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the address line within 30 s")
        .unwrap()
        .expect("an address line before the end of output");
    let base = first
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
    (base.to_owned(), lines)
}

/// Sends SIGTERM to `child`.
pub fn sigterm(child: &Child) {
    crate::common::procs::signal_pid(child.id().expect("still running"), "TERM");
}

/// A client of the simulator's admin endpoints (`/_sim/…`).
pub struct Admin {
    http: reqwest::Client,
    base: String,
}

impl Admin {
    /// The admin client of `sim`.
    pub fn new(sim: &Simulator) -> Self {
        Admin {
            http: reqwest::Client::new(),
            base: format!("{}/_sim", sim.base_url()),
        }
    }

    /// `POST /_sim/{path}` with a JSON `body`; returns the status.
    pub async fn post(&self, path: &str, body: serde_json::Value) -> u16 {
        let response = self
            .http
            .post(format!("{}/{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        response.status().as_u16()
    }

    /// `GET /_sim/{path}`, parsed; `Err(status)` unless 200.
    pub async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, u16> {
        let response = self
            .http
            .get(format!("{}/{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        if status != 200 {
            return Err(status);
        }
        Ok(serde_json::from_slice(&response.bytes().await.unwrap()).unwrap())
    }
}

/// `report` without its times (floats that JSON may round in the last digit).
pub fn counts_only(
    mut report: bulkleave::simulator::AccountReport,
) -> bulkleave::simulator::AccountReport {
    report.first_request_ms = None;
    report.last_request_ms = None;
    report.achieved_rate_per_s = None;
    report
}
