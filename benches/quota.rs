//! Quota precision and fairness across a fleet: three `bulkleave worker` processes on one
//! Redis drive the provider simulator, which enforces each account's quota itself and records
//! every arrival.
//!
//! ```text
//! cargo bench --bench quota -- [--seconds 60] [--runs 3] [--fast 50/s] [--slow 5/s]
//! ```
//!
//! Each run has two phases on fresh keys:
//! 1. **reference**: the fast account alone, with a backlog larger than the phase can drain;
//! 2. **shared**: the fast account again, next to the slow account with its own large backlog.
//!
//! Reported per account (median of the runs): achieved rate between its first and last
//! accepted request as a share of its quota, the busiest sliding window of the quota's period
//! and its excess over the quota, and the 429s the simulator had to send. The fast account's
//! shared/reference ratio shows whether the slow account's backlog slowed it.

use std::collections::HashMap;
use std::process::Stdio;
use std::time::Duration;

use bulkleave::config::{RedisSettings, SecretUrl};
use bulkleave::job::LeaveJob;
use bulkleave::queue::{Queue, QueueOptions};
use bulkleave::quota::Quota;
use bulkleave::simulator::{AccountReport, Simulator};

#[allow(clippy::unwrap_used)]
#[path = "../tests/common/mod.rs"]
mod common;

use common::bench::{self, median};
use common::green::{self, GreenAccount};
use common::procs;

const WORKERS: usize = 3;

struct Args {
    seconds: u64,
    runs: usize,
    fast: Quota,
    slow: Quota,
}

fn args() -> Args {
    let mut a = Args {
        seconds: 60,
        runs: 3,
        fast: "50/s".parse().expect("quota"),
        slow: "5/s".parse().expect("quota"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seconds" => a.seconds = bench::value(&arg, &mut it),
            "--runs" => a.runs = bench::value(&arg, &mut it),
            "--fast" => a.fast = bench::value(&arg, &mut it),
            "--slow" => a.slow = bench::value(&arg, &mut it),
            other => bench::unknown(other),
        }
    }
    a
}

/// Jobs for `account` (a Green API account) beyond what `seconds` at `quota` can drain.
fn backlog(account: &str, quota: Quota, seconds: u64, offset: u64) -> Vec<LeaveJob> {
    let n = (quota.per_second_f64() * seconds as f64 * 1.5) as u64 + 100;
    common::queue::jobs("green_api", account, offset..offset + n)
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

/// One phase: the backlogs of `accounts` drained by three workers for `a.seconds`; the
/// simulator's view of each account.
async fn phase(a: &Args, name: &str, with_slow: bool) -> HashMap<String, AccountReport> {
    let sim = Simulator::start(green::simulator_config(accounts(a)))
        .await
        .expect("simulator");
    let prefix = format!("bench-quota-{name}");
    common::drop_prefix(&prefix).await;
    let redis = RedisSettings {
        url: SecretUrl::new(common::redis_url().parse().expect("url")),
        key_prefix: prefix.clone(),
    };
    let queue = Queue::connect(&redis, QueueOptions::default())
        .await
        .expect("queue");
    // The slow account's backlog goes in first: a FIFO queue would make the fast one wait.
    if with_slow {
        let slow = backlog("slow", a.slow, a.seconds, 10_000_000);
        for chunk in slow.chunks(10_000) {
            queue.enqueue_many(chunk).await.expect("enqueue");
        }
    }
    let fast = backlog("fast", a.fast, a.seconds, 0);
    for chunk in fast.chunks(10_000) {
        queue.enqueue_many(chunk).await.expect("enqueue");
    }
    let env = green::worker_env(
        &redis,
        &sim.base_url(),
        accounts(a),
        &[("BULKLEAVE__WORKER__CONCURRENCY", "32")],
    );
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| procs::spawn_worker(&env, Stdio::inherit()))
        .collect();
    tokio::time::sleep(Duration::from_secs(a.seconds)).await;
    procs::terminate(workers);
    let report = sim.report();
    sim.shutdown().await;
    common::drop_prefix(&prefix).await;
    report.accounts.into_iter().collect()
}

fn line(name: &str, quota: Quota, runs: &[AccountReport]) -> f64 {
    let rates: Vec<f64> = runs
        .iter()
        .map(|r| r.achieved_rate_per_s.unwrap_or(0.0))
        .collect();
    let share = median(rates.clone()) / quota.per_second_f64();
    let busiest = runs.iter().map(|r| r.busiest_window).max().unwrap_or(0);
    let excess: u64 = runs.iter().map(|r| r.excess).sum();
    let limited: u64 = runs.iter().map(|r| r.rate_limited).sum();
    let accepted: Vec<String> = runs.iter().map(|r| r.accepted.to_string()).collect();
    println!(
        "{name:<18} quota {quota:<6} achieved {:>7.3}/s median ({:>5.1}% of quota; runs {}) \
         busiest window {busiest} (excess {excess}), 429s {limited}, accepted per run [{}]",
        median(rates.clone()),
        share * 100.0,
        rates
            .iter()
            .map(|r| format!("{r:.3}"))
            .collect::<Vec<_>>()
            .join(", "),
        accepted.join(", "),
    );
    share
}

#[tokio::main]
async fn main() {
    let a = args();
    println!(
        "quota bench: {WORKERS} worker processes, {} s per phase, {} runs, fast {} / slow {}",
        a.seconds, a.runs, a.fast, a.slow
    );
    let mut alone = Vec::new();
    let mut shared_fast = Vec::new();
    let mut shared_slow = Vec::new();
    for run in 0..a.runs {
        let r = phase(&a, &format!("ref-{run}"), false).await;
        alone.push(r["fast"].clone());
        let r = phase(&a, &format!("shared-{run}"), true).await;
        shared_fast.push(r["fast"].clone());
        shared_slow.push(r["slow"].clone());
        eprintln!("  run {} done", run + 1);
    }
    let reference = line("fast, alone", a.fast, &alone);
    let with_slow = line("fast, with slow", a.fast, &shared_fast);
    line("slow, with fast", a.slow, &shared_slow);
    println!(
        "fast account with the slow backlog / alone: {:.3}",
        with_slow / reference
    );
}
