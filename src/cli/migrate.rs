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
        Err(e) => {
            eprintln!("bulkleave: migrating {}: {e}", settings.database.url);
            1
        }
    }
}

/// Connects and migrates; returns how many migrations there are.
pub(super) async fn migrate(settings: &Settings) -> Result<usize, crate::ledger::Error> {
    Ledger::connect(&settings.database).await?.migrate().await
}
