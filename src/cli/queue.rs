//! Queue commands: `enqueue` (one job), `queue stats`, `dlq list`, `dlq requeue`.

use clap::{Args, Subcommand};

use super::EXIT_BAD_ARGUMENT;
use crate::config::Settings;
use crate::job::{CampaignId, LeaveJob};
use crate::queue::{Enqueued, Queue, Requeued};

/// Arguments of `bulkleave enqueue`: one job (`--account`, `--group`), or a file of them into
/// a campaign (`--campaign NAME FILE`).
#[derive(Debug, Args)]
pub struct EnqueueArgs {
    /// The configured account that leaves.
    #[arg(
        long,
        value_name = "NAME",
        required_unless_present = "file",
        conflicts_with = "file"
    )]
    pub account: Option<String>,
    /// The group reference (see `bulkleave leave --help`).
    #[arg(
        long,
        value_name = "REF",
        required_unless_present = "file",
        conflicts_with = "file"
    )]
    pub group: Option<String>,
    /// The campaign the job (or the file's jobs) belongs to; created if it does not exist. A
    /// closed or cancelled campaign refuses a single job (exit code 64).
    #[arg(long, value_name = "NAME")]
    pub campaign: Option<String>,
    /// Run it after this long (e.g. 10m) instead of now.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, conflicts_with = "file")]
    pub delay: Option<std::time::Duration>,
    /// A CSV (.csv) or NDJSON (.ndjson, .jsonl) file of jobs (columns provider, account,
    /// group, optional idempotency_key), streamed into `--campaign`. Rejected rows are printed
    /// with their line; the exit code is 65 when there were any.
    #[arg(value_name = "FILE", requires = "campaign")]
    pub file: Option<std::path::PathBuf>,
    /// With FILE: leave the campaign open for more items (by default it is closed after the
    /// upload and finishes once every item has its outcome).
    #[arg(long, requires = "file")]
    pub keep_open: bool,
}

/// `bulkleave dlq …`
#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// List dead letters with their reason and attempt history (JSON lines).
    List {
        /// Skip this many.
        #[arg(long, default_value_t = 0)]
        offset: usize,
        /// Show at most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Put dead letters back in the queue with fresh attempt counters.
    Requeue {
        /// Requeue every dead letter that can run.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
        /// Job ids to requeue.
        #[arg(required_unless_present = "all")]
        ids: Vec<String>,
    },
}

/// `bulkleave queue …`
#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// Print the queue's counts (ready, in flight, delayed, dead) as JSON.
    Stats,
}

pub(super) async fn connect(settings: &Settings) -> Result<Queue, u8> {
    Queue::connect(&settings.redis, settings.queue.clone())
        .await
        .map_err(|e| {
            eprintln!(
                "bulkleave: cannot reach the queue at {}: {e}",
                settings.redis.url
            );
            1
        })
}

/// `bulkleave enqueue`.
pub(super) async fn enqueue(settings: &Settings, args: EnqueueArgs) -> u8 {
    let job = match job(settings, &args) {
        Ok(j) => j,
        Err(message) => {
            eprintln!("bulkleave: {message}");
            return EXIT_BAD_ARGUMENT;
        }
    };
    let queue = match connect(settings).await {
        Ok(q) => q,
        Err(code) => return code,
    };
    let at = args.delay.map(|d| std::time::SystemTime::now() + d);
    match queue.enqueue(&job, at).await {
        Ok(Enqueued::Added) => {
            println!("{}", job.id);
            0
        }
        Ok(Enqueued::Duplicate { existing, finished }) => {
            let state = if finished { "finished" } else { "pending" };
            println!("{existing}");
            eprintln!("bulkleave: duplicate of job {existing} ({state}); not enqueued again");
            0
        }
        Ok(Enqueued::CampaignClosed { campaign }) => {
            let refusal = crate::queue::closed_campaign_error(&campaign);
            eprintln!("bulkleave: --{}: {}", refusal.field, refusal.rule);
            EXIT_BAD_ARGUMENT
        }
        Err(e) => {
            eprintln!("bulkleave: {e}");
            1
        }
    }
}

fn job(settings: &Settings, args: &EnqueueArgs) -> Result<LeaveJob, String> {
    let account = args.account.as_deref().unwrap_or_default();
    let group = args.group.as_deref().unwrap_or_default();
    let mut job = LeaveJob::new(super::request(settings, account, group)?);
    if let Some(c) = &args.campaign {
        job = job.with_campaign(
            c.parse::<CampaignId>()
                .map_err(|e| format!("--campaign: {e}"))?,
        );
    }
    Ok(job)
}

/// `bulkleave dlq …`.
pub(super) async fn dlq(settings: &Settings, command: DlqCommand) -> u8 {
    let queue = match connect(settings).await {
        Ok(q) => q,
        Err(code) => return code,
    };
    let result = match command {
        DlqCommand::List { offset, limit } => queue.dead_letters(offset, limit).await.map(|dead| {
            for d in dead {
                println!("{}", serde_json::to_string(&d).unwrap_or_default());
            }
        }),
        DlqCommand::Requeue { all: true, .. } => queue.requeue_all().await.map(|n| {
            println!("requeued {n}");
        }),
        DlqCommand::Requeue { ids, .. } => queue.requeue(&ids).await.map(|results| {
            for (id, r) in ids.iter().zip(results) {
                let what = match r {
                    Requeued::Requeued => "requeued",
                    Requeued::NotDead => "not a dead letter",
                    Requeued::Poison => "undecodable: kept for inspection",
                    Requeued::Superseded => "a newer job holds its idempotency key: kept",
                };
                println!("{id}: {what}");
            }
        }),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("bulkleave: {e}");
            1
        }
    }
}

/// `bulkleave queue stats`.
pub(super) async fn stats(settings: &Settings) -> u8 {
    let queue = match connect(settings).await {
        Ok(q) => q,
        Err(code) => return code,
    };
    match queue.stats().await {
        Ok(s) => {
            println!("{}", serde_json::to_string(&s).unwrap_or_default());
            0
        }
        Err(e) => {
            eprintln!("bulkleave: {e}");
            1
        }
    }
}
