//! `bulkleave demo`: the whole service in one process, on embedded defaults, in about a minute.
//!
//! It starts the provider simulator (all four providers on one loopback port), an embedded
//! Redis-compatible queue server ([`crate::embedded`]) and the embedded ledger
//! ([`MemoryLedger`]); then a worker pool (the production [`crate::worker`]: the same
//! admission, fleet quotas, adapters, classification, retries and ledger writer) and a producer
//! that stages and enqueues a sample campaign across the four providers ([`scenario`]). It shows
//! live progress per account (`progress.rs`) and ends with the campaign report, checked against
//! what the scenario planted and what the simulator recorded (`report.rs`).
//!
//! With `--redis-url` the queue is that Redis instead (its keys under a prefix of their own,
//! removed at the end).

mod progress;
mod report;
pub mod scenario;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

pub use self::progress::Display;
pub use self::report::{AccountSummary, Check, DemoReport, render};
use self::scenario::{Expect, Scenario};
use crate::config::Settings;
use crate::job::{CampaignId, IdempotencyKey, JobId, LeaveJob, LeaveRequest};
use crate::ledger::{MemoryLedger, NewItem};
use crate::queue::{Enqueued, Queue};
use crate::simulator::Simulator;
use crate::worker::{self, Recording};

/// The demo's configuration, built into the binary.
pub const CONFIG: &str = include_str!("demo.toml");

/// How long the progress loop sleeps between looks.
const TICK: Duration = Duration::from_millis(250);

/// Errors that stop the demo before it can report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Its configuration or scenario is inconsistent (a bug in the build).
    #[error("demo setup: {0}")]
    Setup(String),
    /// The simulator could not start.
    #[error("simulator: {0}")]
    Simulator(#[from] crate::simulator::Error),
    /// The queue failed.
    #[error(transparent)]
    Queue(#[from] crate::queue::Error),
    /// The embedded queue server could not start.
    #[error("embedded Redis: {0}")]
    Embedded(#[from] crate::embedded::Error),
    /// The worker pool failed.
    #[error(transparent)]
    Worker(#[from] worker::Error),
    /// The worker pool panicked, or stopped before the campaign was done.
    #[error("the worker pool stopped: {0}")]
    PoolStopped(String),
    /// The producer's job was refused by the queue.
    #[error("the queue refused job {job}: {why}")]
    Refused {
        /// The job.
        job: String,
        /// What the queue answered.
        why: String,
    },
    /// The campaign did not finish in time.
    #[error("the campaign did not finish within {0:?}: {1}")]
    Deadline(Duration, String),
}

/// How to run the demo.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The shortened scenario (about 10 s).
    pub quick: bool,
    /// A Redis to use instead of the embedded one.
    pub redis_url: Option<String>,
    /// How progress is shown.
    pub display: Display,
    /// Where to write the full CSV report (none: not written).
    pub report_file: Option<std::path::PathBuf>,
}

/// Runs the demo; the report says whether its checks held.
pub async fn run(options: Options) -> Result<DemoReport, Error> {
    let scenario = if options.quick {
        Scenario::quick()
    } else {
        Scenario::full()
    };
    let sim = Simulator::start(scenario.simulator_config().map_err(Error::Setup)?).await?;
    let mut embedded = None;
    let result = async {
        let redis_url = match &options.redis_url {
            Some(url) => url.clone(),
            None => {
                let server = crate::embedded::EmbeddedRedis::start().await?;
                embedded.insert(server).url()
            }
        };
        let prefix = format!("demo-{:08x}", fastrand::u32(..));
        let env = scenario.env(&sim.base_url(), &redis_url, &prefix);
        let settings = crate::config::load_toml_with_env(CONFIG, &env)
            .map_err(|e| Error::Setup(e.to_string()))?;
        let queue = Queue::connect(&settings.redis, settings.queue.clone()).await?;
        let mut report = campaign(&scenario, &settings, &queue, &sim, &options).await;
        if options.redis_url.is_some() {
            match queue.purge().await {
                Ok(n) => {
                    if let Ok(report) = &mut report {
                        report.keys_removed = n;
                    }
                }
                Err(e) => tracing::warn!(error = %e, prefix, "demo: could not remove its keys"),
            }
        }
        report
    }
    .await;
    sim.shutdown().await;
    if let Some(server) = embedded {
        server.shutdown().await;
    }
    result
}

/// Runs the sample campaign on a worker pool and reports.
async fn campaign(
    scenario: &Scenario,
    settings: &Settings,
    queue: &Queue,
    sim: &Simulator,
    options: &Options,
) -> Result<DemoReport, Error> {
    let ledger = MemoryLedger::new();
    let (stop, stopped) = oneshot::channel::<()>();
    let pool = {
        let (settings, queue, ledger) = (settings.clone(), queue.clone(), ledger.clone());
        tokio::spawn(async move {
            worker::run_with_metrics(&settings, queue, Recording::Memory(ledger), None, async {
                let _ = stopped.await;
            })
            .await
        })
    };

    let id = format!("demo-{}", chrono::Utc::now().format("%Y%m%d-%H%M%S"));
    let started = Instant::now();
    // Whatever happens to the producer or the watch, the pool is stopped and awaited here.
    let driven = async {
        let planted = produce(scenario, settings, queue, &ledger, &id).await?;
        let watched = Watched {
            ledger: &ledger,
            id: &id,
            planted: &planted,
            started,
            pool: &pool,
        };
        watch(scenario, settings, queue, sim, watched, options).await?;
        Ok::<_, Error>(planted)
    }
    .await;
    let elapsed_s = started.elapsed().as_secs_f64();
    let _ = stop.send(());
    let ran = pool
        .await
        .map_err(|e| Error::PoolStopped(format!("it panicked: {e}")))?;
    // The pool's own error first: it explains a watch that gave up.
    ran?;
    let planted = driven?;

    let items = ledger.items(&id);
    let fleet = crate::accounts::report_all(settings, queue).await?;
    let simulator = sim.report();
    let mut report = report::build(report::Inputs {
        campaign: &id,
        key_prefix: &settings.redis.key_prefix,
        elapsed_s,
        counts: ledger.counts(&id),
        items: &items,
        expected: &planted,
        fleet: &fleet,
        simulator: &simulator,
        storm_account: scenario.storm.account,
    });
    if let Some(path) = &options.report_file {
        match write_csv(path, &items) {
            Ok(()) => report.report_file = Some(path.display().to_string()),
            Err(e) => report.checks.push(Check {
                name: "the CSV report is written".into(),
                passed: false,
                detail: format!("{}: {e}", path.display()),
            }),
        }
    }
    Ok(report)
}

/// The producer: stages every item of the scenario in the ledger, enqueues them in one
/// campaign, and closes it. Returns what each (account, group) should end as.
async fn produce(
    scenario: &Scenario,
    settings: &Settings,
    queue: &Queue,
    ledger: &MemoryLedger,
    id: &str,
) -> Result<BTreeMap<(String, String), Expect>, Error> {
    let campaign: CampaignId = id.parse().map_err(|e| Error::Setup(format!("{e}")))?;
    let mut planted = BTreeMap::new();
    let mut items = Vec::new();
    let mut jobs = Vec::new();
    // Interleaved across accounts, as a real offboarding list would be.
    let mut all = scenario.items();
    fastrand::shuffle(&mut all);
    for (line, (account, provider, group, expect)) in all.into_iter().enumerate() {
        let request = LeaveRequest::parse(provider.as_str(), account, &group)
            .map_err(|e| Error::Setup(e.to_string()))?;
        settings
            .check_request(&request)
            .map_err(|e| Error::Setup(e.to_string()))?;
        let key = IdempotencyKey::in_campaign(&campaign, &request.idempotency_key());
        let mut job = LeaveJob::new(request)
            .with_campaign(campaign.clone())
            .with_idempotency_key(key.clone());
        job.id = JobId::new();
        job.requested_by = Some("demo".into());
        items.push(NewItem {
            job_id: job.id.to_string(),
            line: i64::try_from(line + 1).ok(),
            provider: provider.to_string(),
            account: account.to_owned(),
            group_ref: job.request.group.to_string(),
            idempotency_key: key.as_str().to_owned(),
            requested_by: job.requested_by.clone(),
        });
        planted.insert((account.to_owned(), job.request.group.to_string()), expect);
        jobs.push(job);
    }
    ledger.stage(id, &items);
    for chunk in jobs.chunks(500) {
        let results = queue.enqueue_many(chunk).await?;
        if let Some((job, why)) = chunk
            .iter()
            .zip(&results)
            .find(|(_, r)| !matches!(r, Enqueued::Added))
        {
            return Err(Error::Refused {
                job: job.id.to_string(),
                why: format!("{why:?}"),
            });
        }
        let ids: Vec<String> = chunk.iter().map(|j| j.id.to_string()).collect();
        ledger.mark_queued(&ids);
    }
    ledger.close(id);
    queue.close_campaign(id).await?;
    Ok(planted)
}

/// The campaign being watched.
struct Watched<'a> {
    ledger: &'a MemoryLedger,
    id: &'a str,
    planted: &'a BTreeMap<(String, String), Expect>,
    /// When the producer started.
    started: Instant,
    /// The worker pool: if it stops, nothing will finish.
    pool: &'a tokio::task::JoinHandle<Result<worker::Summary, worker::Error>>,
}

/// Shows progress until every item has its outcome or waits behind a paused account; starts
/// the scenario's 429 storm on time.
async fn watch(
    scenario: &Scenario,
    settings: &Settings,
    queue: &Queue,
    sim: &Simulator,
    watched: Watched<'_>,
    options: &Options,
) -> Result<(), Error> {
    let Watched {
        ledger,
        id,
        planted,
        started,
        pool,
    } = watched;
    let mut storm = Some(scenario.storm);
    let mut totals: BTreeMap<String, u64> = BTreeMap::new();
    for (account, _) in planted.keys() {
        *totals.entry(account.clone()).or_default() += 1;
    }
    let names: Vec<(String, u64)> = totals.iter().map(|(a, n)| (a.clone(), *n)).collect();
    let mut progress = progress::Progress::new(options.display, &names);
    let deadline = Instant::now() + scenario.deadline;
    let result = loop {
        if let Some(s) = storm.filter(|s| started.elapsed() >= s.after) {
            sim.force_429(s.account, s.retry_after, s.lasting);
            storm = None;
        }
        let counts = ledger.counts(id);
        let fleet = crate::accounts::report_all(settings, queue).await?;
        let snapshots: BTreeMap<String, progress::Snapshot> = fleet
            .iter()
            .filter_map(|account| {
                let total = *totals.get(&account.account)?;
                let pending = counts
                    .by_account
                    .get(&account.account)
                    .map_or(total as i64, |c| c.pending);
                Some((
                    account.account.clone(),
                    progress::Snapshot {
                        total,
                        done: total.saturating_sub(pending.max(0) as u64),
                        account: account.clone(),
                    },
                ))
            })
            .collect();
        progress.update(&snapshots);
        // Done when nothing is pending but behind a paused account.
        let waiting_on: Vec<&String> = snapshots
            .iter()
            .filter(|(_, s)| {
                s.done < s.total && s.account.state != crate::accounts::AccountState::Paused
            })
            .map(|(name, _)| name)
            .collect();
        if waiting_on.is_empty() {
            break Ok(());
        }
        if pool.is_finished() {
            break Err(Error::PoolStopped("before the campaign was done".into()));
        }
        if Instant::now() >= deadline {
            let names: Vec<&str> = waiting_on.iter().map(|s| s.as_str()).collect();
            break Err(Error::Deadline(
                scenario.deadline,
                format!("still running for {}", names.join(", ")),
            ));
        }
        tokio::time::sleep(TICK).await;
    };
    progress.finish();
    result
}

/// Writes the production CSV report of `items` to `path`.
fn write_csv(path: &std::path::Path, items: &[crate::ledger::Item]) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    out.write_all(crate::campaign::report::CSV_HEADER.as_bytes())?;
    for item in items {
        out.write_all(crate::campaign::report::line(item, crate::upload::Format::Csv).as_bytes())?;
    }
    out.flush()
}

/// Used by the CLI: the report of `run` as JSON.
pub fn to_json(report: &DemoReport) -> String {
    serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}
