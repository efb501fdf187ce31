//! Account commands: `account list` (state, quota, effective rate, backlog, ETA) and
//! `account resume NAME` (lift a pause and put the parked jobs back in the queue).

use std::time::{Duration, UNIX_EPOCH};

use clap::Subcommand;
use serde::Serialize;

use super::EXIT_BAD_ARGUMENT;
use super::queue::connect;
use crate::config::Settings;
use crate::job::AccountName;
use crate::quota::{AccountStatus, Eta};

/// `bulkleave account …`
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Show every configured account: state (active, cooling down, paused and why), quota,
    /// effective rate, backlog and when it will be done.
    List {
        /// One JSON object per account instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Lift an account's pause (after fixing its credential or session) and put its parked
    /// jobs back in the queue.
    Resume {
        /// The account.
        name: String,
    },
}

/// One row of `account list`.
#[derive(Debug, Serialize)]
struct Row {
    account: String,
    provider: String,
    quota: String,
    /// Effective requests per second now (the quota, lowered after 429s).
    effective_per_second: f64,
    /// `active`, `cooling_down` or `paused`.
    state: &'static str,
    #[serde(flatten)]
    status: AccountStatus,
    eta: Eta,
}

/// Runs an account command.
pub(super) async fn run(settings: &Settings, command: AccountCommand) -> u8 {
    let queue = match connect(settings).await {
        Ok(q) => q,
        Err(code) => return code,
    };
    match command {
        AccountCommand::List { json } => {
            let mut rows = Vec::new();
            for (name, account) in &settings.accounts {
                let status = match queue.account_status(name.as_str()).await {
                    Ok(s) => s,
                    Err(e) => {
                        eprintln!("bulkleave: reading account {name}: {e}");
                        return 1;
                    }
                };
                let limits = settings.limits(account);
                let state = if status.paused.is_some() {
                    "paused"
                } else if status.cooldown_until_ms.is_some() {
                    "cooling_down"
                } else {
                    "active"
                };
                rows.push(Row {
                    account: name.to_string(),
                    provider: account.provider().to_string(),
                    quota: limits.quota.to_string(),
                    effective_per_second: status.pace(limits.quota, &limits.policy).per_second(),
                    state,
                    eta: status.eta(limits.quota, &limits.policy, limits.cost),
                    status,
                });
            }
            if json {
                for row in &rows {
                    match serde_json::to_string(row) {
                        Ok(line) => println!("{line}"),
                        Err(e) => {
                            eprintln!("bulkleave: {e}");
                            return 1;
                        }
                    }
                }
            } else {
                print!("{}", table(&rows));
            }
            0
        }
        AccountCommand::Resume { name } => {
            let name: AccountName = match name.parse() {
                Ok(n) => n,
                Err(e) => {
                    eprintln!("bulkleave: NAME: {e}");
                    return EXIT_BAD_ARGUMENT;
                }
            };
            if !settings.accounts.contains_key(&name) {
                eprintln!(
                    "bulkleave: NAME: {:?} is not a configured account",
                    name.as_str()
                );
                return EXIT_BAD_ARGUMENT;
            }
            match queue.resume_account(name.as_str()).await {
                Ok(r) if r.was_paused => {
                    println!(
                        "{name}: resumed; {} parked jobs back in the queue",
                        r.requeued
                    );
                    0
                }
                Ok(r) => {
                    println!(
                        "{name}: was not paused; {} parked jobs back in the queue",
                        r.requeued
                    );
                    0
                }
                Err(e) => {
                    eprintln!("bulkleave: resuming {name}: {e}");
                    1
                }
            }
        }
    }
}

fn when(ms: u64, now_ms: u64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(ms);
    let left = Duration::from_secs(ms.saturating_sub(now_ms) / 1000);
    format!(
        "{} (in {})",
        humantime::format_rfc3339_seconds(at),
        humantime::format_duration(left)
    )
}

fn table(rows: &[Row]) -> String {
    let mut out = format!(
        "{:<20} {:<9} {:<9} {:>9} {:<13} {:>8} {:>7} {:>9}  {}\n",
        "ACCOUNT",
        "PROVIDER",
        "QUOTA",
        "RATE/S",
        "STATE",
        "BACKLOG",
        "PARKED",
        "THROTTLED",
        "ETA / REASON"
    );
    for r in rows {
        let s = &r.status;
        let detail = match (&s.paused, r.eta) {
            (Some(reason), _) => format!("paused: {reason}"),
            (None, Eta::Idle) => "idle".to_owned(),
            (None, Eta::Paused) => "paused".to_owned(),
            (None, Eta::At { at_ms }) => when(at_ms, s.now_ms),
        };
        let detail = match (&s.cooldown_reason, s.cooldown_until_ms) {
            (Some(reason), Some(until)) if s.paused.is_none() => {
                format!(
                    "{detail}; cooling down until {}: {reason}",
                    when(until, s.now_ms)
                )
            }
            _ => detail,
        };
        out.push_str(&format!(
            "{:<20} {:<9} {:<9} {:>9.3} {:<13} {:>8} {:>7} {:>9}  {}\n",
            r.account,
            r.provider,
            r.quota,
            r.effective_per_second,
            r.state,
            s.backlog,
            s.parked,
            s.throttled,
            detail
        ));
    }
    out
}
