//! Serves an embedded Redis ([`bulkleave::embedded::EmbeddedRedis`]) until Ctrl-C or SIGTERM,
//! so tools and test suites that want a Redis URL can use it:
//!
//! ```sh
//! cargo run --example embedded_redis -- --port 6390
//! BULKLEAVE_TEST_REDIS_URL=redis://127.0.0.1:6390 cargo test --test queue
//! ```

use std::net::SocketAddr;

use bulkleave::embedded::EmbeddedRedis;
use clap::Parser;

/// Serves an in-memory, Redis-compatible server on 127.0.0.1.
#[derive(Debug, Parser)]
struct Args {
    /// The port to listen on (0: a free one).
    #[arg(long, default_value_t = 6390)]
    port: u16,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let server = EmbeddedRedis::bind(SocketAddr::from(([127, 0, 0, 1], args.port))).await?;
    println!("listening on {}", server.url());
    bulkleave::worker::termination_signal().await;
    server.shutdown().await;
    Ok(())
}
