//! Account commands: `account list` (state, quota, effective rate, backlog, ETA) and
//! `account resume NAME` (lift a pause and put the parked jobs back in the queue).

use std::time::{Duration, UNIX_EPOCH};

use clap::Subcommand;

use super::EXIT_BAD_ARGUMENT;
use super::queue::connect;
use crate::accounts::{self, AccountReport, AccountState};
use crate::config::Settings;
use crate::job::AccountName;
use crate::quota::Eta;

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

/// Runs an account command.
pub(super) async fn run(settings: &Settings, command: AccountCommand) -> u8 {
    let queue = match connect(settings).await {
        Ok(q) => q,
        Err(code) => return code,
    };
    match command {
        AccountCommand::List { json } => {
            let rows = match accounts::report_all(settings, &queue).await {
                Ok(rows) => rows,
                Err(e) => {
                    eprintln!("bulkleave: reading the accounts: {e}");
                    return 1;
                }
            };
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

fn table(rows: &[AccountReport]) -> String {
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
        let detail = match (&r.paused, r.eta) {
            (Some(reason), _) => format!("paused: {reason}"),
            (None, Eta::Idle) => "idle".to_owned(),
            (None, Eta::Paused) => "paused".to_owned(),
            (None, Eta::At { at_ms }) => when(at_ms, r.now_ms),
        };
        let detail = match (&r.cooldown_reason, r.cooldown_until_ms) {
            (Some(reason), Some(until)) if r.paused.is_none() => {
                format!(
                    "{detail}; cooling down until {}: {reason}",
                    when(until, r.now_ms)
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
            state_word(r.state),
            r.backlog,
            r.parked,
            r.throttled,
            detail
        ));
    }
    out
}

fn state_word(state: AccountState) -> &'static str {
    match state {
        AccountState::Active => "active",
        AccountState::CoolingDown => "cooling_down",
        AccountState::Paused => "paused",
    }
}
