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

async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let server = EmbeddedRedis::bind(SocketAddr::from(([127, 0, 0, 1], args.port))).await?;
    println!("listening on {}", server.url());
    stopped().await;
    server.shutdown().await;
    Ok(())
}
