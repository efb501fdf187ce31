//! The `bulkleave` binary: parse the command line and hand over to [`bulkleave::cli::run`],
//! which loads the configuration, sets up logs and traces, and runs the subcommand.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = bulkleave::cli::Cli::parse();
    bulkleave::cli::run(cli).await
}
