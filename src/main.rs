//! The `bulkleave` binary: parse the command line, set up logging, run the subcommand.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = bulkleave::cli::Cli::parse();
    bulkleave::telemetry::init(cli.log_format);
    bulkleave::cli::run(cli).await
}
