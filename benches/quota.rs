//! Quota precision and fairness across a fleet: three `bulkleave worker` processes on one
//! Redis drive the provider simulator, which enforces each account's quota itself and records
//! every arrival.
//!
//! ```text
//! cargo bench --bench quota -- [--seconds 60] [--runs 3] [--fast 50/s] [--slow 5/s] [--no-bullmq]
//! ```
//!
//! Each run has two phases on fresh keys:
//! 1. **reference**: the fast account alone, with a backlog larger than the phase can drain;
//! 2. **shared**: the fast account again, next to the slow account with its own large backlog.
//!
//! Reported per account (median of the runs): achieved rate between its first and last
//! accepted request as a share of its quota, the busiest sliding window of the quota's period
//! (of the requests the simulator accepted, and of all the requests sent, 429s included) and
//! its excess over the quota, and the 429s the simulator had to send. The fast account's
//! shared/reference ratio shows whether the slow account's backlog slowed it.
//!
//! Then the same phases with BullMQ (script `benches/bullmq/quota.mjs`): three Node worker
//! processes, the same simulator accounts, quotas and backlogs, paced by BullMQ's own rate
//! limiter (`limiter: { max, duration }`). That limiter is per queue, so each account has a
//! queue of its own: BullMQ gets per-account isolation for free, and its fairness figure only
//! shows that the queues do not disturb each other. Ratios compare the two per account.

use std::collections::HashMap;
use std::process::{Child, Stdio};
use std::time::Duration;

use bulkleave::quota::Quota;
use bulkleave::simulator::{AccountReport, EndpointKind, Simulator, busiest_window};

#[allow(clippy::unwrap_used)]
#[path = "../tests/common/mod.rs"]
mod common;

use common::bench::{self, median};
use common::green::{self, GreenAccount};
use common::{bullmq, procs};

const WORKERS: usize = 3;

/// Jobs run at once per worker process, bulkleave's and BullMQ's.
const CONCURRENCY: usize = 32;

/// Where the slow account's groups start (the fast account's start at 0).
const SLOW_OFFSET: u64 = 10_000_000;

struct Args {
    seconds: u64,
    runs: usize,
    fast: Quota,
    slow: Quota,
    bullmq: bool,
}

fn args() -> Args {
    let mut a = Args {
        seconds: 60,
        runs: 3,
        fast: "50/s".parse().expect("quota"),
        slow: "5/s".parse().expect("quota"),
        bullmq: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seconds" => a.seconds = bench::value(&arg, &mut it),
            "--runs" => a.runs = bench::value(&arg, &mut it),
            "--fast" => a.fast = bench::value(&arg, &mut it),
            "--slow" => a.slow = bench::value(&arg, &mut it),
            "--no-bullmq" => a.bullmq = false,
            other => bench::unknown(other),
        }
    }
    a
}

/// How many jobs are beyond what `seconds` at `quota` can drain.
fn backlog_len(quota: Quota, seconds: u64) -> u64 {
    (quota.per_second_f64() * seconds as f64 * 1.5) as u64 + 100
}

/// Which queue drives the simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum System {
    Bulkleave,
    BullMq,
}

/// The fast and the slow account.
fn accounts(a: &Args) -> [GreenAccount<'static>; 2] {
    [
        GreenAccount {
            name: "fast",
            token: "bench-fast-token",
            quota: a.fast,
        },
        GreenAccount {
            name: "slow",
            token: "bench-slow-token",
            quota: a.slow,
        },
    ]
}

/// What the simulator saw of one account in one phase.
#[derive(Clone)]
struct Seen {
    report: AccountReport,
    /// The most leave requests sent in any window of the quota's period, 429s included: how
    /// far above the quota the workers tried to go (the simulator admits at most the quota).
    busiest_sent: u64,
}

/// One phase: the backlogs of `accounts` drained by three worker processes of `system` for
/// `a.seconds`; the simulator's view of each account.
async fn phase(a: &Args, system: System, with_slow: bool) -> HashMap<String, Seen> {
    let sim = Simulator::start(green::simulator_config(accounts(a)))
        .await
        .expect("simulator");
    let prefix = bench::prefix();
    let workers = match system {
        System::Bulkleave => bulkleave_workers(a, &prefix, &sim.base_url(), with_slow).await,
        System::BullMq => bullmq_workers(a, &prefix, &sim.base_url(), with_slow).await,
    };
    tokio::time::sleep(Duration::from_secs(a.seconds)).await;
    procs::terminate(workers);
    let report = sim.report();
    let seen = report
        .accounts
        .into_iter()
        .map(|(name, report)| {
            let sent: Vec<_> = sim
                .arrivals(&name)
                .iter()
                .filter(|arrival| arrival.kind == EndpointKind::Leave)
                .map(|arrival| arrival.at)
                .collect();
            let busiest_sent = busiest_window(&sent, report.quota.period) as u64;
            let seen = Seen {
                report,
                busiest_sent,
            };
            (name, seen)
        })
        .collect();
    sim.shutdown().await;
    common::drop_prefix(&prefix).await;
    seen
}

/// Enqueues the backlogs under `prefix` and starts three `bulkleave worker` processes.
async fn bulkleave_workers(a: &Args, prefix: &str, base: &str, with_slow: bool) -> Vec<Child> {
    let (queue, redis) = common::queue::at(prefix).await;
    // The slow account's backlog goes in first: a FIFO queue would make the fast one wait.
    if with_slow {
        let n = backlog_len(a.slow, a.seconds);
        let slow = SLOW_OFFSET..SLOW_OFFSET + n;
        common::queue::enqueue_range(&queue, "green_api", "slow", slow).await;
    }
    let n = backlog_len(a.fast, a.seconds);
    common::queue::enqueue_range(&queue, "green_api", "fast", 0..n).await;
    let concurrency = CONCURRENCY.to_string();
    let env = green::worker_env(
        &redis,
        base,
        accounts(a),
        &[("BULKLEAVE__WORKER__CONCURRENCY", &concurrency)],
    );
    (0..WORKERS)
        .map(|_| procs::spawn_worker(&env, Stdio::inherit()))
        .collect()
}

const BULLMQ_SCRIPT: &str = include_str!("bullmq/quota.mjs");

/// Enqueues the backlogs under `prefix`, one BullMQ queue per account, and starts three Node
/// processes, each with a limited worker per queue.
async fn bullmq_workers(a: &Args, prefix: &str, base: &str, with_slow: bool) -> Vec<Child> {
    let node = |args: &[String]| bullmq::node("quota.mjs", BULLMQ_SCRIPT, args);
    let mut backlogs = vec![("fast", a.fast, 0)];
    if with_slow {
        backlogs.push(("slow", a.slow, SLOW_OFFSET));
    }
    for (account, quota, offset) in backlogs {
        let n = backlog_len(quota, a.seconds);
        let args = ["enqueue", prefix, account].map(str::to_owned);
        let mut cmd = node(&args);
        cmd.args([n, offset].map(|v| v.to_string()));
        let status = tokio::process::Command::from(cmd)
            .status()
            .await
            .expect("node");
        assert!(status.success(), "BullMQ enqueue failed: {status}");
    }
    let limits: Vec<serde_json::Value> = accounts(a)
        .iter()
        .zip(green::INSTANCES)
        .map(|(account, instance)| {
            serde_json::json!({
                "name": account.name,
                "instance": instance,
                "token": account.token,
                "max": account.quota.count.get(),
                "duration": account.quota.period.as_millis() as u64,
            })
        })
        .collect();
    let args = [
        "worker".to_owned(),
        prefix.to_owned(),
        base.to_owned(),
        serde_json::Value::from(limits).to_string(),
        CONCURRENCY.to_string(),
    ];
    (0..WORKERS)
        .map(|_| node(&args).spawn().expect("start a BullMQ worker"))
        .collect()
}

/// One account's figures over the runs of a phase.
struct Figures {
    /// Median achieved rate, requests/s.
    rate: f64,
    /// The busiest sliding window of accepted requests in any run.
    busiest: u64,
    /// The busiest sliding window of requests sent (429s included) in any run.
    busiest_sent: u64,
    /// Excess over the quota, summed over the runs.
    excess: u64,
    /// 429s the simulator sent, summed over the runs.
    limited: u64,
}

/// Prints the row of `account` for `system` and returns its figures.
fn row(system: &str, account: &str, quota: Quota, runs: &[Seen]) -> Figures {
    let rates: Vec<f64> = runs
        .iter()
        .map(|r| r.report.achieved_rate_per_s.unwrap_or(0.0))
        .collect();
    let f = Figures {
        rate: median(rates.clone()),
        busiest: runs
            .iter()
            .map(|r| r.report.busiest_window)
            .max()
            .unwrap_or(0),
        busiest_sent: runs.iter().map(|r| r.busiest_sent).max().unwrap_or(0),
        excess: runs.iter().map(|r| r.report.excess).sum(),
        limited: runs.iter().map(|r| r.report.rate_limited).sum(),
    };
    let accepted: Vec<String> = runs.iter().map(|r| r.report.accepted.to_string()).collect();
    println!(
        "| {system} | {account} | {quota} | {:.3}/s | {:.1} % | {} | {} | {} | {} | {} | {} |",
        f.rate,
        100.0 * f.rate / quota.per_second_f64(),
        f.busiest,
        f.busiest_sent,
        f.excess,
        f.limited,
        accepted.join(" / "),
        bench::joined(rates, 3, " / "),
    );
    f
}

/// The three rows of `system` (fast alone, fast with slow, slow with fast), and the fairness
/// figure: the fast account's rate with the slow backlog over its rate alone.
fn rows(a: &Args, system: &str, runs: &Runs) -> [Figures; 3] {
    let figures = [
        row(system, "fast, alone", a.fast, &runs.alone),
        row(system, "fast, with slow", a.fast, &runs.shared_fast),
        row(system, "slow, with fast", a.slow, &runs.shared_slow),
    ];
    println!(
        "| {system} | fast with slow / alone | | {:.3}x | | | | | | | |",
        figures[1].rate / figures[0].rate
    );
    figures
}

/// What the simulator reported for each phase's accounts, run after run.
#[derive(Default)]
struct Runs {
    alone: Vec<Seen>,
    shared_fast: Vec<Seen>,
    shared_slow: Vec<Seen>,
}

impl Runs {
    /// Runs both phases once with `system`.
    async fn add(&mut self, a: &Args, system: System) {
        let r = phase(a, system, false).await;
        self.alone.push(r["fast"].clone());
        let r = phase(a, system, true).await;
        self.shared_fast.push(r["fast"].clone());
        self.shared_slow.push(r["slow"].clone());
    }
}

#[tokio::main]
async fn main() {
    let a = args();
    let bullmq = a.bullmq && bullmq::install();
    println!(
        "quota bench: {WORKERS} worker processes of concurrency {CONCURRENCY}, {} s per phase, {} runs, fast {} / slow {}",
        a.seconds, a.runs, a.fast, a.slow
    );
    let (mut ours, mut theirs) = (Runs::default(), Runs::default());
    // One system after the other within each run, so the machine's drift hits both alike.
    for run in 0..a.runs {
        ours.add(&a, System::Bulkleave).await;
        if bullmq {
            theirs.add(&a, System::BullMq).await;
        }
        eprintln!("  run {} done", run + 1);
    }
    println!(
        "| queue | account | quota | achieved (median) | share of quota | busiest window accepted (max) | busiest window sent (max) | excess (sum) | 429s (sum) | accepted per run | achieved per run |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let ours = rows(&a, "bulkleave", &ours);
    if !bullmq {
        return;
    }
    let name = format!("BullMQ {} (queue per account)", bullmq::version());
    let theirs = rows(&a, &name, &theirs);
    for ((account, us), them) in ["fast, alone", "fast, with slow", "slow, with fast"]
        .iter()
        .zip(&ours)
        .zip(&theirs)
    {
        println!(
            "| **bulkleave / BullMQ** | {account} | | {:.3}x | | {:.2}x | {:.2}x | {} vs {} | {} vs {} | | |",
            us.rate / them.rate,
            us.busiest as f64 / them.busiest.max(1) as f64,
            us.busiest_sent as f64 / them.busiest_sent.max(1) as f64,
            us.excess,
            them.excess,
            us.limited,
            them.limited,
        );
    }
}
