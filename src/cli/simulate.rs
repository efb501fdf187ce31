//! `bulkleave simulate`: run the provider simulator. (Being built.)

/// Arguments of `bulkleave simulate`.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {}

/// Runs the simulator until SIGTERM/SIGINT; returns the exit code.
pub async fn run(_args: SimulateArgs) -> u8 {
    1
}
