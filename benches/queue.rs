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
//! `target/bench-node`) runs the same backlog with the same concurrency against the same stub.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bulkleave::config::{RedisSettings, SecretUrl};
use bulkleave::queue::{Queue, QueueOptions};

#[allow(clippy::unwrap_used)]
#[path = "../tests/common/mod.rs"]
mod common;

use common::bench::{self, median};
use common::{db, procs, stub};

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

fn redis_conn() -> redis::Connection {
    redis::Client::open(common::redis_url())
        .expect("url")
        .get_connection()
        .expect("redis up")
}

/// `INFO commandstats` as command → calls.
fn commandstats() -> BTreeMap<String, u64> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut redis_conn())
        .expect("info");
    info.lines()
        .filter_map(|l| {
            let (name, rest) = l.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = rest
                .split(',')
                .find_map(|kv| kv.strip_prefix("calls="))?
                .parse()
                .ok()?;
            Some((name.to_owned(), calls))
        })
        .collect()
}

fn diff(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0)))
        .filter(|(_, v)| *v > 0)
        .collect()
}

/// CPU time (user + system) a process has used so far, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // Fields after the command name (which may hold spaces): utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| fields.get(i - 3).and_then(|v| v.parse::<u64>().ok());
    field(14).unwrap_or(0) + field(15).unwrap_or(0)
}

/// CPU ticks of every PostgreSQL process, by pid (backends come and go: compare per pid).
fn postgres_ticks() -> BTreeMap<u32, u64> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return BTreeMap::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .map(|pid| (pid, cpu_ticks(pid)))
        .collect()
}

/// CPU seconds Redis has used so far (`INFO cpu`).
fn redis_cpu_s() -> f64 {
    let info: String = redis::cmd("INFO")
        .arg("cpu")
        .query(&mut redis_conn())
        .expect("info");
    info.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| *k == "used_cpu_sys" || *k == "used_cpu_user")
        .filter_map(|(_, v)| v.trim().parse::<f64>().ok())
        .sum()
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
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
    let prefix = format!("bench-{size}-{run}");
    let database = if ledger {
        Some(ledger_database().await)
    } else {
        None
    };
    common::drop_prefix(&prefix).await;
    let settings = RedisSettings {
        url: SecretUrl::new(common::redis_url().parse().expect("url")),
        key_prefix: prefix.clone(),
    };
    let queue = Queue::connect(&settings, QueueOptions::default())
        .await
        .expect("queue");
    let before = commandstats();
    let jobs = common::queue::jobs("wasend", "w", 0..size as u64);
    let t = Instant::now();
    for chunk in jobs.chunks(10_000) {
        queue.enqueue_many(chunk).await.expect("enqueue");
    }
    let enqueue_per_s = size as f64 / t.elapsed().as_secs_f64();
    drop(jobs);

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
    let (pg_before, redis_before) = (postgres_ticks(), redis_cpu_s());
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
        rss = rss.max(peak_rss_kib(child.id()).unwrap_or(0));
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
    rss = rss.max(peak_rss_kib(child.id()).unwrap_or(0));
    let mut ledger_per_s = None;
    if let Some((_, pool)) = &database {
        wait_for_ledger(pool, size, t).await;
        ledger_per_s = Some(size as f64 / t.elapsed().as_secs_f64());
    }
    let worker_s = cpu_ticks(child.id()) as f64 / TICKS_PER_S;
    let redis_s = redis_cpu_s() - redis_before;
    let pg_ticks: u64 = postgres_ticks()
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
    let used = diff(&before, &commandstats());
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
    rate
}

fn node_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-node")
}

fn ensure_bullmq() -> bool {
    let dir = node_dir();
    if dir.join("node_modules/bullmq").exists() && dir.join("node_modules/ioredis").exists() {
        return true;
    }
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("package.json"),
        r#"{"name":"bench","private":true,"type":"module"}"#,
    )
    .expect("write");
    Command::new("npm")
        .args(["install", "--silent", "bullmq@6", "ioredis@5"])
        .current_dir(&dir)
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

const BULLMQ_SCRIPT: &str = r#"
import { Queue, Worker } from "bullmq";
import IORedis from "ioredis";
const [size, port, concurrency, name] = process.argv.slice(2);
const redis = () => new IORedis({ host: "127.0.0.1", port: 6379, maxRetriesPerRequest: null });
const q = new Queue(name, { connection: redis() });
await q.obliterate({ force: true }).catch(() => {});
const t0 = performance.now();
for (let i = 0; i < +size; i += 1000) {
  const batch = [];
  for (let j = i; j < Math.min(+size, i + 1000); j++) batch.push({ name: "leave", data: { group: `${120363000000000000n + BigInt(j)}@g.us` }, opts: { removeOnComplete: true, removeOnFail: true, attempts: 3 } });
  await q.addBulk(batch);
}
const enqueue = +size / ((performance.now() - t0) / 1000);
let done = 0;
const t1 = performance.now();
const finished = new Promise((resolve) => {
  const w = new Worker(name, async (job) => {
    const r = await fetch(`http://127.0.0.1:${port}/s/groups/${encodeURIComponent(job.data.group)}/leave`, { method: "POST", headers: { authorization: "Bearer k" } });
    const body = await r.json();
    if (!body.success) throw new Error("not left");
  }, { connection: redis(), concurrency: +concurrency });
  w.on("completed", () => { if (++done === +size) resolve(w); });
});
const w = await finished;
const drain = +size / ((performance.now() - t1) / 1000);
await w.close(); await q.obliterate({ force: true }).catch(() => {}); await q.close();
console.log(JSON.stringify({ enqueue, drain, rss_mib: process.memoryUsage().rss / 1048576 }));
process.exit(0);
"#;

fn bullmq_run(size: usize, port: u16, concurrency: usize, run: usize) -> Option<Run> {
    let dir = node_dir();
    std::fs::write(dir.join("bench.mjs"), BULLMQ_SCRIPT).ok()?;
    let before = commandstats();
    let out = Command::new("node")
        .args([
            "bench.mjs",
            &size.to_string(),
            &port.to_string(),
            &concurrency.to_string(),
            &format!("bench-bullmq-{run}"),
        ])
        .current_dir(&dir)
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!("bullmq failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let total: u64 = diff(&before, &commandstats()).values().sum();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    Some(Run {
        enqueue_per_s: v["enqueue"].as_f64()?,
        drain_per_s: v["drain"].as_f64()?,
        ledger_per_s: None,
        commands_per_job: total as f64 / size as f64,
        peak_rss_mib: v["rss_mib"].as_f64()?,
        cpu_us_per_job: None,
        writer_per_s: None,
    })
}

fn summarize(name: &str, size: usize, runs: &[Run]) -> f64 {
    let drain = median(runs.iter().map(|r| r.drain_per_s).collect());
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
        (0..3)
            .map(|i| format!("{:.0}", median(cpu.iter().map(|c| c[i]).collect())))
            .collect::<Vec<_>>()
            .join(" / ")
    };
    println!(
        "| {name} | {size} | {:.0} | {drain:.0} | {ledger} | {cpu} | {:.2} | {:.0} | {} |",
        median(runs.iter().map(|r| r.enqueue_per_s).collect()),
        median(runs.iter().map(|r| r.commands_per_job).collect()),
        median(runs.iter().map(|r| r.peak_rss_mib).collect()),
        runs.iter()
            .map(|r| format!("{:.0}", r.drain_per_s))
            .collect::<Vec<_>>()
            .join(" / "),
    );
    drain
}

#[tokio::main]
async fn main() {
    let a = args();
    let port = stub::fast_wasend_stub().await;
    let bullmq = a.bullmq && ensure_bullmq();
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
        ours.insert(size, summarize("bulkleave", size, &r));
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
        if bullmq && size <= 100_000 {
            let b: Vec<Run> = (0..runs)
                .filter_map(|run| bullmq_run(size, port, a.concurrency, run))
                .collect();
            if !b.is_empty() {
                theirs.insert(size, summarize("BullMQ 6", size, &b));
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
                alone
                    .iter()
                    .map(|r| format!("{r:.0}"))
                    .collect::<Vec<_>>()
                    .join(" / "),
                median(alone.clone()) / ours[size]
            );
        }
        println!(
            "ratio at {size}: ledger on / ledger off = {:.2}x (median of pairs run side by side: {})",
            median(ratios.clone()),
            ratios
                .iter()
                .map(|r| format!("{r:.2}"))
                .collect::<Vec<_>>()
                .join(" / ")
        );
    }
    for (size, rate) in &ours {
        if let Some(b) = theirs.get(size) {
            println!("ratio at {size}: bulkleave / BullMQ = {:.2}x", rate / b);
        }
    }
    if let (Some(small), Some(big)) = (ours.get(&20_000), ours.get(&1_000_000)) {
        println!(
            "1,000,000 backlog drains at {:.0}% of the 20,000 rate",
            100.0 * big / small
        );
    }
}
