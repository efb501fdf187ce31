//! `bulkleave migrate`: apply the ledger's migrations (`migrations/`, embedded) to
//! `database.url`. Safe to run again: applied migrations are skipped, edited ones refused.

use crate::config::Settings;
use crate::ledger::Ledger;

/// Applies the migrations; 0 on success, 1 if PostgreSQL is unreachable or a migration fails.
pub(super) async fn run(settings: &Settings) -> u8 {
    match migrate(settings).await {
        Ok(n) => {
            println!("ledger schema up to date ({n} migrations)");
            0
        }
        Err(code) => code,
    }
}

/// At the start of a service: applies the migrations when `database.migrate_on_start` says
/// so; on failure prints why and returns the exit code (1).
pub(super) async fn on_start(settings: &Settings) -> Result<(), u8> {
    if settings.database.migrate_on_start {
        let n = migrate(settings).await?;
        tracing::info!(migrations = n, "ledger schema up to date");
    }
    Ok(())
}

/// Connects and migrates; returns how many migrations there are, or prints why it failed
/// and returns the exit code (1).
async fn migrate(settings: &Settings) -> Result<usize, u8> {
    let migrated = match Ledger::connect(&settings.database).await {
        Ok(ledger) => ledger.migrate().await,
        Err(e) => Err(e),
    };
    migrated.map_err(|e| {
        eprintln!("bulkleave: migrating {}: {e}", settings.database.url);
        1
    })
}
