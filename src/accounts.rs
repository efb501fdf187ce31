//! Accounts as operators see them: each configured account joined with its state shared by
//! the fleet (paused, cooling down, effective rate, backlog, ETA). One computation for every
//! view of it: `bulkleave account list` and `GET /v1/accounts`.

use futures_util::future::try_join_all;
use serde::Serialize;

use crate::config::{AccountSettings, Settings};
use crate::queue::{self, Queue};
use crate::quota::{AccountStatus, Eta};

/// An account's state in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountState {
    /// Its jobs run at its effective rate.
    Active,
    /// No request is sent before the cooldown ends (after a 429 or an outage).
    CoolingDown,
    /// Paused after an account error: its jobs are parked until an operator resumes it.
    Paused,
}

/// One configured account and its shared state now.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AccountReport {
    /// The account's name.
    pub account: String,
    /// Its provider.
    pub provider: String,
    /// The quota in force (`N/period`).
    pub quota: String,
    /// Effective requests per second now (the quota, lowered after 429s).
    pub effective_per_second: f64,
    /// Active, cooling down or paused.
    pub state: AccountState,
    /// Why it is paused, if it is.
    pub paused: Option<String>,
    /// When it was paused (ms since the epoch).
    pub paused_at_ms: Option<u64>,
    /// End of the cooldown (ms since the epoch), if cooling down.
    pub cooldown_until_ms: Option<u64>,
    /// Why it is cooling down.
    pub cooldown_reason: Option<String>,
    /// Jobs not yet finished (queued, delayed, running, parked).
    pub backlog: u64,
    /// Jobs parked while the account is paused.
    pub parked: u64,
    /// Requests granted in the current window.
    pub in_window: u64,
    /// "Retry later" answers so far (429s and outages).
    pub throttled: u64,
    /// The next free slot (ms since the epoch): jobs are booked up to here.
    pub booked_until_ms: Option<u64>,
    /// Redis's clock when this was read (ms since the epoch).
    pub now_ms: u64,
    /// When the backlog will be done.
    pub eta: Eta,
}

impl AccountReport {
    /// The report of `account` in `status`.
    pub fn new(settings: &Settings, account: &AccountSettings, status: AccountStatus) -> Self {
        let limits = settings.limits(account);
        let state = if status.paused.is_some() {
            AccountState::Paused
        } else if status.cooldown_until_ms.is_some() {
            AccountState::CoolingDown
        } else {
            AccountState::Active
        };
        AccountReport {
            account: account.name.to_string(),
            provider: account.provider().to_string(),
            quota: limits.quota.to_string(),
            effective_per_second: status.pace(limits.quota, &limits.policy).per_second(),
            state,
            eta: status.eta(limits.quota, &limits.policy, limits.cost),
            paused: status.paused,
            paused_at_ms: status.paused_at_ms,
            cooldown_until_ms: status.cooldown_until_ms,
            cooldown_reason: status.cooldown_reason,
            backlog: status.backlog,
            parked: status.parked,
            in_window: status.in_window,
            throttled: status.throttled,
            booked_until_ms: status.booked_until_ms,
            now_ms: status.now_ms,
        }
    }
}

/// The report of one configured account, read from the queue.
pub async fn report(
    settings: &Settings,
    queue: &Queue,
    account: &AccountSettings,
) -> queue::Result<AccountReport> {
    let limits = settings.limits(account);
    let status = queue.account_status(account.name.as_str(), &limits).await?;
    Ok(AccountReport::new(settings, account, status))
}

/// The reports of every configured account, in name order (read concurrently).
pub async fn report_all(settings: &Settings, queue: &Queue) -> queue::Result<Vec<AccountReport>> {
    try_join_all(
        settings
            .accounts
            .values()
            .map(|account| report(settings, queue, account)),
    )
    .await
}
