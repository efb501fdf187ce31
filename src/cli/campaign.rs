//! Campaign commands: `bulkleave enqueue --campaign NAME FILE` (an upload from a CSV or NDJSON
//! file, streamed, with a progress bar) and `bulkleave campaign list|status|report|pause|
//! resume|cancel|close`, as readable tables or `--json`. They talk to Redis and PostgreSQL
//! directly through [`crate::campaign::Campaigns`], as the HTTP API does.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use futures_util::StreamExt;

use super::EXIT_BAD_ARGUMENT;
use crate::campaign;
use crate::campaign::report::{self, Format as ReportFormat};
use crate::campaign::{CampaignStatus, Campaigns, Eta, Intake};
use crate::config::Settings;
use crate::ledger::{Campaign, Change, ItemFilter, Ledger};
use crate::upload::{self, Format};

/// Exit code when an upload was added but some rows were rejected (sysexits `EX_DATAERR`).
pub const EXIT_ROWS_REJECTED: u8 = 65;

/// `bulkleave campaign …`
#[derive(Debug, Subcommand)]
pub enum CampaignCommand {
    /// List campaigns, newest first.
    List {
        /// Show at most this many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// A campaign's counts per outcome, provider and account, its rate and ETA.
    Status {
        /// The campaign.
        id: String,
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
    },
    /// Every item with its outcome, as CSV (default) or JSON lines, on standard output.
    Report {
        /// The campaign.
        id: String,
        /// JSON lines instead of CSV.
        #[arg(long)]
        json: bool,
        /// Only items with this outcome (`pending` for those without one).
        #[arg(long)]
        outcome: Option<String>,
        /// Only items of this account.
        #[arg(long)]
        account: Option<String>,
    },
    /// Hold the campaign's jobs (none is cut off mid-request) until it is resumed.
    Pause(ChangeArgs),
    /// Let a paused campaign's jobs run again.
    Resume(ChangeArgs),
    /// Drop the campaign's pending jobs: each is recorded as `cancelled`, none is half-run.
    Cancel(ChangeArgs),
    /// Take no more items: the campaign finishes once nothing is pending.
    Close(ChangeArgs),
}

/// The campaign a change applies to.
#[derive(Debug, Args)]
pub struct ChangeArgs {
    /// The campaign.
    pub id: String,
    /// Print JSON instead of a line.
    #[arg(long)]
    pub json: bool,
}

/// Connects to both stores.
async fn campaigns(settings: &Settings) -> Result<Campaigns, u8> {
    let queue = super::queue::connect(settings).await?;
    let ledger = Ledger::connect(&settings.database).await.map_err(|e| {
        eprintln!(
            "bulkleave: cannot reach the ledger at {}: {e}",
            settings.database.url
        );
        1
    })?;
    Ok(Campaigns::new(ledger, queue, Arc::new(settings.clone())))
}

/// Who the audit trail names for CLI actions.
fn actor() -> String {
    format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".into())
    )
}

/// `bulkleave enqueue --campaign NAME FILE`.
pub(super) async fn enqueue_file(
    settings: &Settings,
    campaign: &str,
    file: &PathBuf,
    keep_open: bool,
) -> u8 {
    let Some(format) = Format::from_path(file) else {
        eprintln!(
            "bulkleave: FILE: {} is neither .csv nor .ndjson/.jsonl",
            file.display()
        );
        return EXIT_BAD_ARGUMENT;
    };
    let input = match tokio::fs::File::open(file).await {
        Ok(f) => f,
        Err(e) => {
            eprintln!("bulkleave: FILE: cannot open {}: {e}", file.display());
            return EXIT_BAD_ARGUMENT;
        }
    };
    let campaigns = match campaigns(settings).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let actor = actor();
    if let Err(e) = campaigns.open(campaign, &actor).await {
        eprintln!("bulkleave: --campaign: {e}");
        return exit_code(&e);
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg} rows read ({per_sec}) {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let limits = upload::Limits::default().with_max_bytes(u64::MAX);
    let rows = upload::read(format, input, limits);
    let added = campaigns
        .add(campaign, rows, &actor, |n| {
            bar.set_position(n);
            bar.set_message(n.to_string());
        })
        .await;
    bar.finish_and_clear();
    let intake = match added {
        Ok(i) => i,
        Err(e) => {
            eprintln!("bulkleave: {}: nothing added: {e}", file.display());
            return exit_code(&e);
        }
    };
    print_intake(&intake);
    if !keep_open && let Err(e) = campaigns.close(campaign, &actor).await {
        eprintln!("bulkleave: closing {campaign}: {e}");
        return exit_code(&e);
    }
    if intake.rejected > 0 {
        EXIT_ROWS_REJECTED
    } else {
        0
    }
}

fn print_intake(intake: &Intake) {
    println!(
        "campaign {}: {} rows read, {} added, {} rejected",
        intake.campaign, intake.rows, intake.accepted, intake.rejected
    );
    if !intake.rejected_rows.is_empty() {
        println!("{:>8}  {:<16} REASON", "LINE", "FIELD");
        for r in &intake.rejected_rows {
            println!(
                "{:>8}  {:<16} {}",
                r.line,
                r.field.as_deref().unwrap_or("-"),
                r.reason
            );
        }
        if intake.rejected_truncated {
            println!(
                "… {} more rejected rows not listed",
                intake.rejected - intake.rejected_rows.len() as u64
            );
        }
    }
}

/// `bulkleave campaign …`.
pub(super) async fn run(settings: &Settings, command: CampaignCommand) -> u8 {
    let campaigns = match campaigns(settings).await {
        Ok(c) => c,
        Err(code) => return code,
    };
    let result = match command {
        CampaignCommand::List { limit, json } => list(&campaigns, limit, json).await,
        CampaignCommand::Status { id, json } => status(&campaigns, &id, json).await,
        CampaignCommand::Report {
            id,
            json,
            outcome,
            account,
        } => report(&campaigns, &id, json, ItemFilter { outcome, account }).await,
        CampaignCommand::Pause(a) => change(&campaigns, a, Change::Pause).await,
        CampaignCommand::Resume(a) => change(&campaigns, a, Change::Resume).await,
        CampaignCommand::Cancel(a) => change(&campaigns, a, Change::Cancel).await,
        CampaignCommand::Close(a) => change(&campaigns, a, Change::Close).await,
    };
    match result {
        Ok(()) => 0,
        // The reader went away (`| head`): what it wanted is written.
        Err(Failed::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(Failed::Output(e)) => {
            eprintln!("bulkleave: writing to standard output: {e}");
            1
        }
        Err(Failed::Campaign(e)) => {
            eprintln!("bulkleave: {e}");
            exit_code(&e)
        }
    }
}

/// The exit code of a failed campaign operation: [`EXIT_BAD_ARGUMENT`] when the operator named
/// something that does not exist, is invalid, or whose state refuses what was asked; 1 for the
/// rest (a store unreachable or failing, an unreadable upload).
pub(super) fn exit_code(e: &campaign::Error) -> u8 {
    use crate::ledger::Error as L;
    match e {
        campaign::Error::Ledger(L::NotFound { .. } | L::Exists { .. } | L::State { .. })
        | campaign::Error::Invalid(_) => EXIT_BAD_ARGUMENT,
        _ => 1,
    }
}

/// Why a campaign command failed.
enum Failed {
    /// The operation failed.
    Campaign(campaign::Error),
    /// Writing the answer to standard output failed.
    Output(std::io::Error),
}

impl From<campaign::Error> for Failed {
    fn from(e: campaign::Error) -> Self {
        Failed::Campaign(e)
    }
}

impl From<crate::ledger::Error> for Failed {
    fn from(e: crate::ledger::Error) -> Self {
        Failed::Campaign(e.into())
    }
}

type Done = Result<(), Failed>;

async fn list(campaigns: &Campaigns, limit: i64, json: bool) -> Done {
    let list = campaigns.ledger().campaigns(None, limit).await?;
    if json {
        for c in &list {
            println!("{}", serde_json::to_string(c).unwrap_or_default());
        }
        return Ok(());
    }
    println!(
        "{:<38} {:<10} {:<6} {:>9} {:>9}  CREATED",
        "CAMPAIGN", "STATE", "OPEN", "ITEMS", "PENDING"
    );
    for c in &list {
        println!(
            "{:<38} {:<10} {:<6} {:>9} {:>9}  {} by {}",
            c.id,
            c.state,
            if c.accepting { "yes" } else { "no" },
            c.items,
            c.pending,
            c.created_at.format("%Y-%m-%d %H:%M:%S"),
            c.created_by
        );
    }
    Ok(())
}

async fn status(campaigns: &Campaigns, id: &str, json: bool) -> Done {
    let status = campaigns.status(id).await?;
    if json {
        println!("{}", serde_json::to_string(&status).unwrap_or_default());
    } else {
        print!("{}", status_text(&status));
    }
    Ok(())
}

/// The status as readable text.
pub fn status_text(s: &CampaignStatus) -> String {
    let c: &Campaign = &s.campaign;
    let eta = match &s.eta {
        Eta::Done => "done".to_owned(),
        Eta::At { at_ms } => {
            let at = std::time::UNIX_EPOCH + Duration::from_millis(*at_ms);
            humantime::format_rfc3339_seconds(at).to_string()
        }
        Eta::Blocked { reason } => format!("blocked: {reason}"),
    };
    let mut out = format!(
        "campaign {}  {}{}\nitems {}  pending {}  rate {:.2}/s  eta {}\n\nOUTCOME\n",
        c.id,
        c.state,
        if c.accepting { " (taking items)" } else { "" },
        c.items,
        c.pending,
        s.rate_per_s,
        eta
    );
    for (class, n) in &s.counts.by_outcome {
        out.push_str(&format!("  {class:<24} {n:>9}\n"));
    }
    for (title, groups) in [
        ("PROVIDER", &s.counts.by_provider),
        ("ACCOUNT", &s.counts.by_account),
    ] {
        out.push_str(&format!(
            "\n{title:<26} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
            "TOTAL", "PENDING", "SUCCEEDED", "FAILED", "CANCELLED"
        ));
        for (name, g) in groups {
            out.push_str(&format!(
                "  {name:<24} {:>9} {:>9} {:>9} {:>9} {:>9}\n",
                g.total, g.pending, g.succeeded, g.failed, g.cancelled
            ));
        }
    }
    out
}

async fn report(campaigns: &Campaigns, id: &str, json: bool, filter: ItemFilter) -> Done {
    campaigns.ledger().existing_campaign(id).await?;
    let format = if json {
        ReportFormat::Ndjson
    } else {
        ReportFormat::Csv
    };
    // The first failed write stops the report: no page is read for a reader that is gone.
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if format == ReportFormat::Csv {
        out.write_all(report::CSV_HEADER.as_bytes())
            .map_err(Failed::Output)?;
    }
    let mut pages = std::pin::pin!(campaigns.item_pages(id, filter));
    while let Some(page) = pages.next().await {
        for item in page? {
            out.write_all(report::line(&item, format).as_bytes())
                .map_err(Failed::Output)?;
        }
    }
    out.flush().map_err(Failed::Output)
}

async fn change(campaigns: &Campaigns, args: ChangeArgs, change: Change) -> Done {
    let c = campaigns.change(&args.id, change, &actor()).await?;
    if args.json {
        println!("{}", serde_json::to_string(&c).unwrap_or_default());
    } else {
        println!(
            "campaign {}: {}{}, {} pending of {}",
            c.id,
            c.state,
            if c.accepting { " (taking items)" } else { "" },
            c.pending,
            c.items
        );
    }
    Ok(())
}
