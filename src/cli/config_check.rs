//! `bulkleave config check`: validate the configuration and print it with secrets masked.

use std::path::Path;

use super::EXIT_BAD_CONFIG;
use crate::config::{self, masked};

/// Runs the check; 0 when the configuration is valid, [`EXIT_BAD_CONFIG`] otherwise.
pub(super) fn run(path: Option<&Path>) -> u8 {
    match config::load(path) {
        Ok(settings) => {
            print!("{}", masked::render(&settings));
            eprintln!(
                "configuration OK: {} account(s){}",
                settings.accounts.len(),
                path.map(|p| format!(", from {}", p.display()))
                    .unwrap_or_else(|| ", no file (defaults and environment only)".into())
            );
            0
        }
        Err(e) => {
            eprintln!("bulkleave: {e}");
            EXIT_BAD_CONFIG
        }
    }
}
