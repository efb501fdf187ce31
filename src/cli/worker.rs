//! `bulkleave worker`: run the worker pool until SIGTERM/SIGINT, then drain and exit 0.

use crate::config::Settings;
use crate::queue::Queue;
use crate::worker;

/// Runs the pool; 0 after a clean drain, 1 if the queue is unreachable or the runtime fails.
pub(super) async fn run(settings: &Settings) -> u8 {
    if settings.ledger.enabled
        && settings.database.migrate_on_start
        && let Err(e) = super::migrate::migrate(settings).await
    {
        eprintln!("bulkleave: migrating {}: {e}", settings.database.url);
        return 1;
    }
    let queue = match Queue::connect(&settings.redis, settings.queue.clone()).await {
        Ok(q) => q,
        Err(e) => {
            eprintln!(
                "bulkleave: cannot reach the queue at {}: {e}",
                settings.redis.url
            );
            return 1;
        }
    };
    match worker::run(settings, queue, worker::termination_signal()).await {
        Ok(_) => 0,
        Err(e) => {
            eprintln!("bulkleave: {e}");
            1
        }
    }
}
