//! Worker memory with 1,000 jobs in flight against a slow provider: the real `bulkleave
//! worker` process at `worker.concurrency` 1,000 drains a backlog through an HTTP stub that
//! answers each request after a delay, next to a BullMQ worker (`concurrency: 1000`, script
//! `benches/bullmq/memory.mjs`) on the same Redis, stub and machine in the same run.
//!
//! ```text
//! cargo bench --bench memory -- [--in-flight 1000] [--jobs 5000] [--delay-ms 2000] [--no-bullmq]
//! ```
//!
//! Per worker process: its resident memory (`VmRSS` in `/proc/<pid>/status`) idle, before any
//! job, and sampled every 50 ms during the drain; the stub counts the requests it holds at
//! each sample, so the figure "at 1,000 in flight" is the median RSS over the samples in which
//! the stub really held at least 95 % of the concurrency. Also the peak (`VmHWM`), the memory
//! each in-flight job adds ((loaded − idle) / in flight), and the drain rate against the ideal
//! `in-flight / delay`. The ledger is off (its writer's memory does not grow with jobs in
//! flight); metrics are on, as deployed.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncBufReadExt;

#[allow(clippy::unwrap_used)]
#[path = "../tests/common/mod.rs"]
mod common;

use common::bench::{self, median};
use common::stub::Stub;
use common::{bullmq, procs};

struct Args {
    in_flight: usize,
    jobs: usize,
    delay: Duration,
    bullmq: bool,
}

fn args() -> Args {
    let mut a = Args {
        in_flight: 1_000,
        jobs: 5_000,
        delay: Duration::from_secs(2),
        bullmq: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--in-flight" => a.in_flight = bench::value(&arg, &mut it),
            "--jobs" => a.jobs = bench::value(&arg, &mut it),
            "--delay-ms" => a.delay = Duration::from_millis(bench::value(&arg, &mut it)),
            "--no-bullmq" => a.bullmq = false,
            other => bench::unknown(other),
        }
    }
    if a.in_flight == 0 || a.jobs < a.in_flight || a.delay.is_zero() {
        bench::usage_error("need --in-flight > 0, --jobs >= --in-flight and --delay-ms > 0");
    }
    a
}

/// How long a worker process runs before its idle memory is read.
const SETTLE: Duration = Duration::from_secs(2);

/// How often memory and the stub's in-flight count are sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(50);

/// The share of the concurrency the stub must hold for a sample to count as "loaded".
const LOADED: f64 = 0.95;

/// What one worker process did.
struct Measured {
    idle_kib: u64,
    /// Median `VmRSS` over the loaded samples.
    loaded_kib: u64,
    /// Median of the stub's in-flight count over the loaded samples.
    loaded_in_flight: usize,
    loaded_samples: usize,
    /// `VmHWM` at the end of the drain.
    peak_kib: u64,
    /// The most requests the stub held at once.
    peak_in_flight: usize,
    jobs_per_s: f64,
}

impl Measured {
    fn kib_per_job(&self) -> f64 {
        (self.loaded_kib as f64 - self.idle_kib as f64) / self.loaded_in_flight.max(1) as f64
    }
}

/// Reads `pid`'s idle memory after [`SETTLE`], runs `enqueue`, then samples until the stub
/// has answered `a.jobs` more requests.
async fn measure(a: &Args, stub: &Stub, pid: u32, enqueue: impl Future<Output = ()>) -> Measured {
    tokio::time::sleep(SETTLE).await;
    let rss = || procs::status_kib(pid, "VmRSS").expect("worker alive");
    let idle_kib = rss();
    stub.reset_peak();
    let answered = stub.answered();
    let limit = (a.delay * (20 * a.jobs / a.in_flight) as u32).max(Duration::from_secs(120));
    let t = Instant::now();
    enqueue.await;
    let mut samples = Vec::new();
    while stub.answered() - answered < a.jobs as u64 {
        assert!(t.elapsed() < limit, "drain did not finish in {limit:?}");
        samples.push((stub.in_flight(), rss()));
        tokio::time::sleep(SAMPLE_EVERY).await;
    }
    let jobs_per_s = a.jobs as f64 / t.elapsed().as_secs_f64();
    let peak_kib = procs::status_kib(pid, "VmHWM").expect("worker alive");
    let peak_in_flight = stub.peak_in_flight();
    let mut floor = (a.in_flight as f64 * LOADED).ceil() as usize;
    if !samples.iter().any(|(n, _)| *n >= floor) {
        eprintln!(
            "  warning: the stub never held {floor} requests at a sample (peak {peak_in_flight}); \
             'loaded' is the samples at 95 % of that peak"
        );
        floor = (peak_in_flight as f64 * LOADED).ceil() as usize;
    }
    let loaded: Vec<(usize, u64)> = samples.into_iter().filter(|(n, _)| *n >= floor).collect();
    Measured {
        idle_kib,
        loaded_kib: median(loaded.iter().map(|(_, r)| *r as f64).collect()) as u64,
        loaded_in_flight: median(loaded.iter().map(|(n, _)| *n as f64).collect()) as usize,
        loaded_samples: loaded.len(),
        peak_kib,
        peak_in_flight,
        jobs_per_s,
    }
}

async fn bulkleave_run(a: &Args, stub: &Stub) -> Measured {
    let (queue, redis) = common::queue::at(&bench::prefix()).await;
    let concurrency = a.in_flight.to_string();
    let env = common::worker_env(
        &redis,
        &format!("http://127.0.0.1:{}", stub.port),
        &[
            // Enforced but far above the rate: the provider's delay is the limit here.
            ("BULKLEAVE__ACCOUNTS__W__QUOTA", "1000000/s"),
            ("BULKLEAVE__WORKER__CONCURRENCY", &concurrency),
            ("W_KEY", "bench-key"),
            ("BULKLEAVE__METRICS__ENABLED", "true"),
            ("BULKLEAVE__METRICS__LISTEN", "127.0.0.1:0"),
        ],
    );
    let worker = procs::spawn_worker(&env, Stdio::inherit());
    let enqueue = common::queue::enqueue_range(&queue, "wasend", "w", 0..a.jobs as u64);
    let measured = measure(a, stub, worker.id(), enqueue).await;
    procs::terminate(vec![worker]);
    common::drop_prefix(&redis.key_prefix).await;
    measured
}

const BULLMQ_SCRIPT: &str = include_str!("bullmq/memory.mjs");

async fn bullmq_run(a: &Args, stub: &Stub) -> Measured {
    let prefix = bench::prefix();
    let node = |args: &[String]| {
        let mut cmd = bullmq::node("memory.mjs", BULLMQ_SCRIPT, args);
        cmd.arg(&prefix);
        tokio::process::Command::from(cmd)
    };
    let mut worker = node(&["worker".into()])
        .args([stub.port.to_string(), a.in_flight.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the BullMQ worker");
    let pid = worker.id().expect("BullMQ worker pid");
    let mut lines = tokio::io::BufReader::new(worker.stdout.take().expect("stdout")).lines();
    let ready = tokio::time::timeout(Duration::from_secs(60), lines.next_line()).await;
    assert!(
        matches!(ready, Ok(Ok(Some(ref l))) if l == "ready"),
        "BullMQ worker did not start: {ready:?}"
    );
    let enqueue = async {
        let status = node(&["enqueue".into()])
            .arg(a.jobs.to_string())
            .status()
            .await
            .expect("node");
        assert!(status.success(), "BullMQ enqueue failed: {status}");
    };
    let measured = measure(a, stub, pid, enqueue).await;
    procs::signal_pid(pid, "TERM");
    let _ = worker.wait().await;
    common::drop_prefix(&prefix).await;
    measured
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn row(name: &str, m: &Measured) {
    println!(
        "| {name} | {} / {} ({} samples) | {:.1} | {:.1} | {:.1} | {:.1} | {:.0} |",
        m.loaded_in_flight,
        m.peak_in_flight,
        m.loaded_samples,
        mib(m.idle_kib),
        mib(m.loaded_kib),
        mib(m.peak_kib),
        m.kib_per_job(),
        m.jobs_per_s,
    );
}

#[tokio::main]
async fn main() {
    let a = args();
    let stub = Stub::start(a.delay).await;
    let bullmq = a.bullmq && bullmq::install();
    println!(
        "memory bench: {} jobs, concurrency {}, provider answers after {} ms (ideal drain {:.0} jobs/s)",
        a.jobs,
        a.in_flight,
        a.delay.as_millis(),
        a.in_flight as f64 / a.delay.as_secs_f64()
    );
    println!(
        "| worker | in flight at the stub: loaded median / peak | idle RSS MiB | RSS at {} in flight MiB (median) | peak RSS MiB | KiB per in-flight job | drain jobs/s |",
        a.in_flight
    );
    println!("|---|---|---|---|---|---|---|");
    let ours = bulkleave_run(&a, &stub).await;
    row("bulkleave", &ours);
    if bullmq {
        let theirs = bullmq_run(&a, &stub).await;
        row(&format!("BullMQ {}", bullmq::version()), &theirs);
        println!(
            "| **bulkleave / BullMQ** | | {:.2}x | {:.2}x | {:.2}x | {:.2}x | {:.2}x |",
            ours.idle_kib as f64 / theirs.idle_kib as f64,
            ours.loaded_kib as f64 / theirs.loaded_kib as f64,
            ours.peak_kib as f64 / theirs.peak_kib as f64,
            ours.kib_per_job() / theirs.kib_per_job(),
            ours.jobs_per_s / theirs.jobs_per_s,
        );
    }
}
