//! `bulkleave api`: serve the HTTP API until SIGTERM/SIGINT, then finish the requests in
//! flight and exit 0.

use std::net::SocketAddr;
use std::sync::Arc;

use clap::Args;

use crate::api;
use crate::config::Settings;
use crate::worker::termination_signal;

/// Arguments of `bulkleave api`.
#[derive(Debug, Args)]
pub struct ApiArgs {
    /// Address to listen on, overriding `api.listen` (port 0: any free port).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
}

/// Runs the server (after the ledger's migrations with `database.migrate_on_start`); 0 after
/// a clean stop, 1 if the address cannot be bound, a migration fails, the queue is
/// unreachable or the server fails.
pub(super) async fn run(settings: Settings, args: ApiArgs) -> u8 {
    let addr = args.listen.unwrap_or(settings.api.listen);
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("bulkleave: cannot listen on {addr}: {e}");
            return 1;
        }
    };
    if let Err(code) = super::migrate::on_start(&settings).await {
        return code;
    }
    if let Ok(bound) = listener.local_addr() {
        println!("listening on http://{bound}");
    }
    match api::serve(Arc::new(settings), listener, termination_signal()).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("bulkleave: {e}");
            1
        }
    }
}
