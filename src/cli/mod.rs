//! The `bulkleave` command line: global options, subcommands, and their exit codes.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success (for `leave`: left, already left, or group gone; for `worker` and `api`: a clean stop) |
//! | 1 | unexpected internal error (also: Redis or PostgreSQL unreachable, `api` address not bindable, an upload whose content cannot be read such as a bad CSV header) |
//! | 2 | command-line usage error (from clap) |
//! | 3-7 | `leave` failure classes: retry later, provider error, account error, owner cannot leave, invalid input ([`OutcomeClass::exit_code`](crate::providers::OutcomeClass::exit_code)) |
//! | 64 | a bad argument value (unknown account or campaign, group reference invalid for the provider, invalid campaign id, a campaign change or upload its state refuses) |
//! | 65 | `enqueue --campaign NAME FILE`: the file was added but some rows were rejected (listed) |
//! | 78 | the configuration is invalid |

mod account;
mod api;
mod campaign;
mod config_check;
mod demo;
mod leave;
mod migrate;
mod queue;
mod simulate;
mod worker;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{self, Settings};
use crate::job::{AccountName, GroupRef, LeaveRequest};
use crate::telemetry::LogFormat;

/// Exit code for a bad argument value (sysexits `EX_USAGE`).
pub const EXIT_BAD_ARGUMENT: u8 = 64;
/// Exit code for an invalid configuration (sysexits `EX_CONFIG`).
pub const EXIT_BAD_CONFIG: u8 = 78;

/// Makes accounts leave messaging groups in bulk, safely, at the speed each provider allows.
#[derive(Debug, Parser)]
#[command(name = "bulkleave", version, about)]
pub struct Cli {
    /// Configuration file (TOML). Environment variables BULKLEAVE__SECTION__KEY override it.
    #[arg(long, global = true, env = "BULKLEAVE_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Log format on standard error: `auto` is text on a terminal and JSON otherwise.
    /// Default: `log.format` from the configuration, else `auto`.
    #[arg(long, global = true, value_enum, env = "BULKLEAVE_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the whole service in one process on embedded defaults (provider simulator,
    /// in-process queue and ledger: nothing to install) on a sample campaign across the four
    /// providers, with live progress and the campaign report.
    Demo(demo::DemoArgs),
    /// Make one account leave one group now, through its provider (no queue), and print the
    /// classified outcome. Use it to check an account's configuration before a campaign.
    Leave(leave::LeaveArgs),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Run the worker pool: pull jobs from Redis, leave groups, record outcomes. Stops
    /// cleanly on SIGTERM/SIGINT.
    Worker,
    /// Serve the HTTP API (campaigns, jobs, dead letters, accounts) until SIGTERM/SIGINT.
    /// Prints `listening on http://ADDR` once bound.
    Api(api::ApiArgs),
    /// Add one leave job to the queue (prints its id), or a whole file of them to a campaign
    /// (`--campaign NAME FILE`, CSV or NDJSON with columns provider, account, group).
    Enqueue(queue::EnqueueArgs),
    /// Campaigns: list them, see their status, export their report, pause, resume, cancel,
    /// close.
    #[command(subcommand)]
    Campaign(campaign::CampaignCommand),
    /// Apply the ledger's database migrations (safe to repeat).
    Migrate,
    /// Inspect the queue.
    #[command(subcommand)]
    Queue(queue::QueueCommand),
    /// Dead letters: list them, requeue them.
    #[command(subcommand)]
    Dlq(queue::DlqCommand),
    /// Provider accounts as the fleet shares them: list their state, resume a paused one.
    #[command(subcommand)]
    Account(account::AccountCommand),
    /// Run the provider simulator: the four providers' leave endpoints with membership state,
    /// quotas and injected faults, for tests, benchmarks and the demo.
    Simulate(simulate::SimulateArgs),
}

/// `bulkleave config …`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration (credentials included) and print it with secrets masked.
    Check,
}

impl Command {
    /// The `service.name` of this command's traces when `OTEL_SERVICE_NAME` gives none.
    pub fn service_name(&self) -> &'static str {
        match self {
            Command::Worker => "bulkleave-worker",
            Command::Api(_) => "bulkleave-api",
            Command::Enqueue(_) => "bulkleave-enqueue",
            Command::Leave(_) => "bulkleave-leave",
            Command::Simulate(_) => "bulkleave-simulator",
            Command::Demo(_) => "bulkleave-demo",
            _ => "bulkleave",
        }
    }
}

/// Runs the parsed command line and returns the process exit code: loads the configuration,
/// sets up logs and traces ([`crate::telemetry`]), runs the subcommand, then flushes the
/// spans.
pub async fn run(cli: Cli) -> ExitCode {
    let needs_settings = !matches!(
        cli.command,
        Command::Config(ConfigCommand::Check) | Command::Simulate(_) | Command::Demo(_)
    );
    let settings = if needs_settings {
        match load(cli.config.as_deref()) {
            Ok(settings) => Some(settings),
            Err(code) => return ExitCode::from(code),
        }
    } else {
        None
    };
    let mut log = settings.as_ref().map(|s| s.log.clone()).unwrap_or_default();
    if matches!(cli.command, Command::Demo(_)) {
        // The progress display and the report say what happens; only errors go to the log
        // (RUST_LOG still wins).
        log.level = Some("error".into());
    }
    let options = crate::telemetry::Options {
        format: cli.log_format.or(log.format).unwrap_or_default(),
        level: log.level,
        service: cli.command.service_name().to_owned(),
    };
    let telemetry = match crate::telemetry::init(&options) {
        Ok(telemetry) => telemetry,
        Err(e) => {
            eprintln!("bulkleave: {e}");
            return ExitCode::from(EXIT_BAD_CONFIG);
        }
    };
    let code = match settings {
        Some(settings) => dispatch(cli.command, settings).await,
        None => match cli.command {
            Command::Simulate(args) => simulate::run(args).await,
            Command::Demo(args) => demo::run(args).await,
            _ => config_check::run(cli.config.as_deref()),
        },
    };
    telemetry.shutdown().await;
    ExitCode::from(code)
}

/// Runs a subcommand that needs the configuration.
async fn dispatch(command: Command, settings: Settings) -> u8 {
    match command {
        Command::Leave(args) => leave::run(&settings, args).await,
        Command::Worker => worker::run(&settings).await,
        Command::Api(args) => api::run(settings, args).await,
        Command::Enqueue(args) => match &args.file {
            Some(file) => {
                let campaign = args.campaign.as_deref().unwrap_or_default();
                campaign::enqueue_file(&settings, campaign, file, args.keep_open).await
            }
            None => queue::enqueue(&settings, args).await,
        },
        Command::Campaign(command) => campaign::run(&settings, command).await,
        Command::Migrate => migrate::run(&settings).await,
        Command::Queue(queue::QueueCommand::Stats) => queue::stats(&settings).await,
        Command::Dlq(command) => queue::dlq(&settings, command).await,
        Command::Account(command) => account::run(&settings, command).await,
        Command::Config(ConfigCommand::Check) | Command::Simulate(_) | Command::Demo(_) => {
            unreachable!("run() handles the commands without configuration")
        }
    }
}

/// Loads the configuration, printing the problems and returning the exit code on failure.
fn load(path: Option<&Path>) -> Result<Settings, u8> {
    config::load(path).map_err(|e| {
        eprintln!("bulkleave: {e}");
        EXIT_BAD_CONFIG
    })
}

/// The request `--account NAME --group REF` names: the account must be configured, and the
/// group valid for its provider. Errors name the argument and the rule.
fn request(settings: &Settings, account: &str, group: &str) -> Result<LeaveRequest, String> {
    let account: AccountName = account.parse().map_err(|e| format!("--account: {e}"))?;
    let Some(configured) = settings.accounts.get(&account) else {
        let names: Vec<&str> = settings.accounts.keys().map(AccountName::as_str).collect();
        return Err(format!(
            "--account: {:?} is not configured (configured: {})",
            account.as_str(),
            if names.is_empty() {
                "none".to_owned()
            } else {
                names.join(", ")
            }
        ));
    };
    let provider = configured.provider();
    let group = GroupRef::parse(provider, group).map_err(|e| format!("--group: {e}"))?;
    Ok(LeaveRequest {
        provider,
        account,
        group,
    })
}
