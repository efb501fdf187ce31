//! `bulkleave simulate --sim-config FILE [--listen ADDR] [--report-every SECS]`: run the
//! provider simulator.
//!
//! The simulator's configuration comes from `--sim-config` (the global `--config` is the
//! application's own configuration). Standard output carries, for scripts:
//!
//! 1. one line `listening on http://ADDR` as soon as the port is bound;
//! 2. with `--report-every`, the report as one JSON line every `SECS` seconds;
//! 3. on SIGTERM or SIGINT, the final report as one JSON line; then the process exits 0.
//!
//! Exit codes: 0 after a signal, 78 for an invalid configuration, 1 if the address cannot be
//! bound.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::simulator::{Report, Simulator, SimulatorConfig};

/// Arguments of `bulkleave simulate`.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// The simulator's configuration (TOML): accounts, groups, faults. See
    /// config/simulator.example.toml.
    #[arg(long, env = "BULKLEAVE_SIM_CONFIG", value_name = "PATH")]
    pub sim_config: PathBuf,

    /// Address to listen on, overriding the file's `listen` (port 0: any free port).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// Also print the report every SECS seconds.
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub report_every: Option<u64>,
}

/// Runs the simulator until SIGTERM/SIGINT; returns the exit code.
pub async fn run(args: SimulateArgs) -> u8 {
    let mut config = match SimulatorConfig::load(&args.sim_config) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("bulkleave simulate: {e}");
            return super::EXIT_BAD_CONFIG;
        }
    };
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    let sim = match Simulator::start(config).await {
        Ok(sim) => sim,
        Err(e) => {
            eprintln!("bulkleave simulate: {e}");
            return 1;
        }
    };
    println!("listening on {}", sim.base_url());
    flush();
    let signal = crate::worker::termination_signal();
    tokio::pin!(signal);
    match args.report_every {
        Some(secs) => {
            let period = Duration::from_secs(secs);
            let mut every = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            loop {
                tokio::select! {
                    () = &mut signal => break,
                    _ = every.tick() => print_report(&sim.report()),
                }
            }
        }
        None => signal.await,
    }
    let report = sim.report();
    sim.shutdown().await;
    print_report(&report);
    0
}

/// Prints `report` as one JSON line.
fn print_report(report: &Report) {
    match serde_json::to_string(report) {
        Ok(line) => println!("{line}"),
        Err(e) => eprintln!("bulkleave simulate: cannot serialise the report: {e}"),
    }
    flush();
}

fn flush() {
    if let Err(e) = std::io::stdout().flush() {
        eprintln!("bulkleave simulate: cannot write to standard output: {e}");
    }
}
