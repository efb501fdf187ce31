//! Queue throughput: drain backlogs with the real `bulkleave worker` process against a fast
//! local HTTP stub, next to BullMQ on the same Redis, stub and machine in the same run.
//!
//! ```text
//! cargo bench --bench queue -- [--sizes 20000,1000000] [--runs 3] [--concurrency 50] [--no-bullmq]
//! ```
//!
//! Reports per size the median of the runs: enqueue rate, drain rate (jobs/s from worker start
//! to the last outcome recorded), Redis commands per job (`INFO commandstats`, whole run) and
//! the worker's peak RSS. BullMQ (npm `bullmq`, installed on first use into
//! `target/bench-node`, script `benches/bullmq/queue.mjs`) runs the same backlog with the same
//! concurrency against the same stub, at every size; a ratio row per size compares the two.
//! Backlogs of 500,000 and more run `--runs / 3` times (at least once).

use std::collections::BTreeMap;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use bulkleave::config::RedisSettings;

#[allow(clippy::unwrap_used)]
#[path = "../tests/common/mod.rs"]
mod common;

use common::bench::{self, median};
use common::{bullmq, db, procs, redis_info, stub};

struct Args {
    sizes: Vec<usize>,
    runs: usize,
    concurrency: usize,
    bullmq: bool,
    ledger: bool,
}

fn args() -> Args {
    let mut a = Args {
        sizes: vec![20_000, 1_000_000],
        runs: 3,
        concurrency: 50,
        bullmq: true,
        ledger: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--sizes" => a.sizes = bench::list(&arg, &mut it),
            "--runs" => a.runs = bench::value(&arg, &mut it),
            "--concurrency" => a.concurrency = bench::value(&arg, &mut it),
            "--no-bullmq" => a.bullmq = false,
            "--no-ledger" => a.ledger = false,
            other => bench::unknown(other),
        }
    }
    a
}

#[derive(Debug, Clone, Copy)]
struct Run {
    enqueue_per_s: f64,
    drain_per_s: f64,
    /// With the ledger on: outcomes in PostgreSQL per second, from the first job to the last row.
    ledger_per_s: Option<f64>,
    commands_per_job: f64,
    peak_rss_mib: f64,
    /// CPU microseconds per job spent by the worker, Redis and PostgreSQL (bulkleave runs).
    cpu_us_per_job: Option<[f64; 3]>,
    /// After a ledger-off drain: the ledger writer alone writing its outcomes, rows/s.
    writer_per_s: Option<f64>,
}

/// `/proc` counts CPU time in USER_HZ ticks, 100 per second on Linux.
const TICKS_PER_S: f64 = 100.0;

/// A fresh, migrated database for one run with the ledger on.
async fn ledger_database() -> (String, sqlx::PgPool) {
    let url = db::empty_database().await;
    // One connection: its backend's CPU is the bench's own and left out of the figures.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .expect("bench database");
    bulkleave::ledger::Ledger::from_pool(pool.clone())
        .migrate()
        .await
        .expect("migrate");
    (url, pool)
}

async fn bulkleave_run(
    size: usize,
    port: u16,
    concurrency: usize,
    run: usize,
    ledger: bool,
    writer: bool,
) -> Run {
    let database = if ledger {
        Some(ledger_database().await)
    } else {
        None
    };
    let (queue, settings) = common::queue::at(&bench::prefix()).await;
    let prefix = settings.key_prefix.clone();
    let before = redis_info::commandstats();
    let t = Instant::now();
    // Built and sent in chunks (BullMQ's script builds its batches inside its timing too).
    common::queue::enqueue_range(&queue, "wasend", "w", 0..size as u64).await;
    let enqueue_per_s = size as f64 / t.elapsed().as_secs_f64();

    let base = format!("http://127.0.0.1:{port}");
    let own_backend: Option<i32> = match &database {
        Some((_, pool)) => Some(
            sqlx::query_scalar("SELECT pg_backend_pid()")
                .fetch_one(pool)
                .await
                .expect("backend pid"),
        ),
        None => None,
    };
    let (pg_before, redis_before) = (procs::cpu_ticks_of("postgres"), redis_info::cpu_s());
    let child = spawn_worker(
        &settings,
        &base,
        concurrency,
        database.as_ref().map(|d| d.0.as_str()),
    );
    let t = Instant::now();
    let mut conn = redis::Client::open(common::redis_url())
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("redis up");
    let mut rss = 0;
    loop {
        let done = common::outcome_count(&mut conn, &settings)
            .await
            .expect("xlen");
        rss = rss.max(procs::status_kib(child.id(), "VmHWM").unwrap_or(0));
        if done as usize >= size {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(1800),
            "drain did not finish"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let drain_per_s = size as f64 / t.elapsed().as_secs_f64();
    rss = rss.max(procs::status_kib(child.id(), "VmHWM").unwrap_or(0));
    let mut ledger_per_s = None;
    if let Some((_, pool)) = &database {
        wait_for_ledger(pool, size, t).await;
        ledger_per_s = Some(size as f64 / t.elapsed().as_secs_f64());
    }
    let worker_s = procs::cpu_ticks(child.id()) as f64 / TICKS_PER_S;
    let redis_s = redis_info::cpu_s() - redis_before;
    let pg_ticks: u64 = procs::cpu_ticks_of("postgres")
        .into_iter()
        .filter(|(pid, _)| Some(*pid as i32) != own_backend)
        .map(|(pid, ticks)| ticks.saturating_sub(pg_before.get(&pid).copied().unwrap_or(0)))
        .sum();
    let per_job = |s: f64| s * 1e6 / size as f64;
    let cpu_us_per_job = Some([
        per_job(worker_s),
        per_job(redis_s),
        per_job(pg_ticks as f64 / TICKS_PER_S),
    ]);
    procs::terminate(vec![child]);
    let used = redis_info::diff(&before, &redis_info::commandstats());
    let total: u64 = used.values().sum();
    if run == 0 {
        let mut top: Vec<_> = used.iter().collect();
        top.sort_by(|a, b| b.1.cmp(a.1));
        let shown: Vec<String> = top
            .iter()
            .take(8)
            .map(|(k, v)| format!("{k} {:.2}", **v as f64 / size as f64))
            .collect();
        eprintln!("  commands per job, by command: {}", shown.join(", "));
    }
    let writer_per_s = if writer {
        Some(writer_alone(&settings, &base, size).await)
    } else {
        None
    };
    common::drop_prefix(&prefix).await;
    if let Some((url, pool)) = database {
        db::drop_database(&url, pool).await;
    }
    Run {
        enqueue_per_s,
        drain_per_s,
        ledger_per_s,
        commands_per_job: total as f64 / size as f64,
        peak_rss_mib: rss as f64 / 1024.0,
        cpu_us_per_job,
        writer_per_s,
    }
}

/// Starts `bulkleave worker` on the queue at `redis` against the stub at `base`; with a
/// database URL the ledger writer runs too.
fn spawn_worker(
    redis: &RedisSettings,
    base: &str,
    concurrency: usize,
    database: Option<&str>,
) -> Child {
    let concurrency = concurrency.to_string();
    let env = common::worker_env(
        redis,
        base,
        &[
            // The quota is enforced (admission runs for every job) but far above the drain
            // rate: this benchmark measures the queue.
            ("BULKLEAVE__ACCOUNTS__W__QUOTA", "1000000/s"),
            ("BULKLEAVE__WORKER__CONCURRENCY", &concurrency),
            ("W_KEY", "bench-key"),
            (
                "BULKLEAVE__LEDGER__ENABLED",
                if database.is_some() { "true" } else { "false" },
            ),
            (
                "BULKLEAVE__DATABASE__URL",
                database.unwrap_or("postgres://127.0.0.1/unused"),
            ),
            // Metrics are recorded as in production; any free port, nobody scrapes them.
            ("BULKLEAVE__METRICS__ENABLED", "true"),
            ("BULKLEAVE__METRICS__LISTEN", "127.0.0.1:0"),
        ],
    );
    procs::spawn_worker(&env, Stdio::inherit())
}

/// Waits until `size` outcomes are in the ledger.
async fn wait_for_ledger(pool: &sqlx::PgPool, size: usize, since: Instant) {
    loop {
        let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM items WHERE outcome IS NOT NULL")
            .fetch_one(pool)
            .await
            .expect("count");
        if n as usize >= size {
            return;
        }
        assert!(
            since.elapsed() < Duration::from_secs(1800),
            "ledger did not catch up"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The ledger writer alone: a worker with the ledger on (and no jobs left) writes the
/// `size` outcomes a ledger-off drain left on `redis`'s outcomes stream. Rows per second.
async fn writer_alone(redis: &RedisSettings, base: &str, size: usize) -> f64 {
    let (url, pool) = ledger_database().await;
    let t = Instant::now();
    let child = spawn_worker(redis, base, 1, Some(&url));
    wait_for_ledger(&pool, size, t).await;
    let rate = size as f64 / t.elapsed().as_secs_f64();
    procs::terminate(vec![child]);
    db::drop_database(&url, pool).await;
    rate
}

const BULLMQ_SCRIPT: &str = include_str!("bullmq/queue.mjs");

/// One BullMQ run of `size` jobs; its peak RSS is the node process's `VmHWM`, read while it
/// runs as for our worker.
async fn bullmq_run(size: usize, port: u16, concurrency: usize) -> Option<Run> {
    let prefix = bench::prefix();
    let before = redis_info::commandstats();
    let args = [size, port.into(), concurrency].map(|n| n.to_string());
    let mut node = bullmq::node("queue.mjs", BULLMQ_SCRIPT, &args);
    node.arg(&prefix).stdout(Stdio::piped());
    let mut child = tokio::process::Command::from(node).spawn().ok()?;
    let pid = child.id()?;
    let mut rss = 0;
    let status = loop {
        rss = rss.max(procs::status_kib(pid, "VmHWM").unwrap_or(0));
        if let Some(status) = child.try_wait().ok()? {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let total: u64 = redis_info::diff(&before, &redis_info::commandstats())
        .values()
        .sum();
    common::drop_prefix(&prefix).await;
    if !status.success() {
        eprintln!("BullMQ run failed: {status}");
        return None;
    }
    let mut out = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut child.stdout.take()?, &mut out)
        .await
        .ok()?;
    let v: serde_json::Value = serde_json::from_slice(&out).ok()?;
    Some(Run {
        enqueue_per_s: v["enqueue"].as_f64()?,
        drain_per_s: v["drain"].as_f64()?,
        ledger_per_s: None,
        commands_per_job: total as f64 / size as f64,
        peak_rss_mib: rss as f64 / 1024.0,
        cpu_us_per_job: None,
        writer_per_s: None,
    })
}

/// The medians of a row's runs.
#[derive(Debug, Clone, Copy)]
struct Medians {
    enqueue: f64,
    drain: f64,
    commands: f64,
    rss: f64,
}

/// Prints the row of `runs` and returns its medians.
fn summarize(name: &str, size: usize, runs: &[Run]) -> Medians {
    let m = |f: fn(&Run) -> f64| median(runs.iter().map(f).collect());
    let medians = Medians {
        enqueue: m(|r| r.enqueue_per_s),
        drain: m(|r| r.drain_per_s),
        commands: m(|r| r.commands_per_job),
        rss: m(|r| r.peak_rss_mib),
    };
    let ledger: Vec<f64> = runs.iter().filter_map(|r| r.ledger_per_s).collect();
    let ledger = if ledger.is_empty() {
        "-".to_owned()
    } else {
        format!("{:.0}", median(ledger))
    };
    let cpu: Vec<[f64; 3]> = runs.iter().filter_map(|r| r.cpu_us_per_job).collect();
    let cpu = if cpu.is_empty() {
        "-".to_owned()
    } else {
        bench::joined(
            (0..3).map(|i| median(cpu.iter().map(|c| c[i]).collect())),
            0,
            " / ",
        )
    };
    let Medians {
        enqueue,
        drain,
        commands,
        rss,
    } = medians;
    println!(
        "| {name} | {size} | {enqueue:.0} | {drain:.0} | {ledger} | {cpu} | {commands:.2} | {rss:.0} | {} |",
        bench::joined(runs.iter().map(|r| r.drain_per_s), 0, " / "),
    );
    medians
}

/// The row of ratios bulkleave / BullMQ at `size`.
fn ratio_row(size: usize, ours: Medians, theirs: Medians) {
    println!(
        "| **bulkleave / BullMQ** | {size} | {:.2}x | {:.2}x | - | - | {:.2}x | {:.2}x | |",
        ours.enqueue / theirs.enqueue,
        ours.drain / theirs.drain,
        ours.commands / theirs.commands,
        ours.rss / theirs.rss,
    );
}

#[tokio::main]
async fn main() {
    let a = args();
    let port = stub::fast_wasend_stub().await;
    let bullmq = a.bullmq && bullmq::install();
    if bullmq {
        println!("BullMQ {}", bullmq::version());
    }
    println!(
        "| queue | backlog | enqueue jobs/s | drain jobs/s (median) | in the ledger jobs/s | CPU µs/job: worker / Redis / PostgreSQL | Redis commands/job | worker peak RSS MiB | drain runs |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut with_ledger = BTreeMap::new();
    let mut ours = BTreeMap::new();
    let mut runs_off: BTreeMap<usize, Vec<Run>> = BTreeMap::new();
    let mut theirs = BTreeMap::new();
    for &size in &a.sizes {
        let runs = if size >= 500_000 {
            1.max(a.runs / 3)
        } else {
            a.runs
        };
        // Ledger off and on alternate, so the machine's drift hits both alike.
        let (mut r, mut l) = (Vec::new(), Vec::new());
        for run in 0..runs {
            let ledger = a.ledger && size <= 100_000;
            r.push(bulkleave_run(size, port, a.concurrency, run, false, ledger).await);
            if ledger {
                l.push(bulkleave_run(size, port, a.concurrency, run, true, false).await);
            }
        }
        let medians = summarize("bulkleave", size, &r);
        ours.insert(size, medians);
        runs_off.insert(size, r.clone());
        if !l.is_empty() {
            summarize("bulkleave + ledger", size, &l);
            // Each ledger-on run against the ledger-off run just before it: the machine's
            // drift between runs cancels out of the ratio.
            let ratios: Vec<f64> = r
                .iter()
                .zip(&l)
                .map(|(off, on)| on.drain_per_s / off.drain_per_s)
                .collect();
            with_ledger.insert(size, ratios);
        }
        if bullmq {
            let mut b = Vec::new();
            for _ in 0..runs {
                b.extend(bullmq_run(size, port, a.concurrency).await);
            }
            if !b.is_empty() {
                let reference = summarize("BullMQ 6", size, &b);
                ratio_row(size, medians, reference);
                theirs.insert(size, reference);
            }
        }
    }
    println!();
    for (size, ratios) in &with_ledger {
        let alone: Vec<f64> = runs_off[size]
            .iter()
            .filter_map(|r| r.writer_per_s)
            .collect();
        if !alone.is_empty() {
            println!(
                "ledger writer alone at {size}: {:.0} rows/s (median; runs {}), {:.2}x the ledger-off drain",
                median(alone.clone()),
                bench::joined(alone.iter().copied(), 0, " / "),
                median(alone.clone()) / ours[size].drain
            );
        }
        println!(
            "ratio at {size}: ledger on / ledger off = {:.2}x (median of pairs run side by side: {})",
            median(ratios.clone()),
            bench::joined(ratios.iter().copied(), 2, " / ")
        );
    }
    for (size, m) in &ours {
        if let Some(b) = theirs.get(size) {
            println!(
                "ratio at {size}: bulkleave / BullMQ = {:.2}x drain, {:.2}x enqueue",
                m.drain / b.drain,
                m.enqueue / b.enqueue
            );
        }
    }
    // The largest backlog against the smallest: does the rate hold as the backlog grows?
    for (name, rows) in [("bulkleave", &ours), ("BullMQ", &theirs)] {
        let (Some((small, s)), Some((big, b))) = (rows.first_key_value(), rows.last_key_value())
        else {
            continue;
        };
        if big > small {
            println!(
                "{name}: the {big} backlog drains at {:.0}% of the {small} rate",
                100.0 * b.drain / s.drain
            );
        }
    }
}
