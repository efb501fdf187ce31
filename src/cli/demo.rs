//! `bulkleave demo [--quick] [--json] [--report FILE] [--redis-url URL]`: the whole service
//! in one process on embedded defaults (see [`crate::demo`]). Needs no Redis, no PostgreSQL
//! and no provider account.
//!
//! Exit codes: 0 when the campaign finished and every check of its report held, 1 when a
//! check failed or the demo could not run.

use std::path::PathBuf;

use crate::demo::{self, Display, Options};

/// Arguments of `bulkleave demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// The shortened scenario: the same cases, a tenth of the items (about 10 s).
    #[arg(long)]
    pub quick: bool,

    /// Print the report as JSON on standard output (progress stays on standard error).
    #[arg(long)]
    pub json: bool,

    /// Also write every item with its outcome as the production CSV report to FILE.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,

    /// How progress is shown: bars on a terminal, lines otherwise (auto).
    #[arg(long, value_enum, default_value_t = Display::Auto)]
    pub progress: Display,

    /// Use this Redis for the queue instead of the embedded one (keys under a prefix of their
    /// own, removed at the end).
    #[arg(long, value_name = "URL")]
    pub redis_url: Option<String>,
}

/// Runs the demo; returns the exit code.
pub async fn run(args: DemoArgs) -> u8 {
    if !args.json {
        eprintln!(
            "bulkleave demo: a sample campaign across Green API, Wasend, RyzeAPI and Kirimin, \
             against the built-in provider simulator{}.",
            if args.redis_url.is_some() {
                ", with the given Redis and an embedded ledger"
            } else {
                ", with an embedded queue and ledger"
            }
        );
    }
    let options = Options {
        quick: args.quick,
        redis_url: args.redis_url,
        display: args.progress,
        report_file: args.report,
    };
    match demo::run(options).await {
        Ok(report) => {
            if args.json {
                println!("{}", demo::to_json(&report));
            } else {
                print!("{}", demo::render(&report));
            }
            if report.passed() { 0 } else { 1 }
        }
        Err(e) => {
            eprintln!("bulkleave demo: {e}");
            1
        }
    }
}
