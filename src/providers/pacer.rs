//! Pacing of an attempt's further requests.
//!
//! The caller admits an attempt's first request against the account's quota (the worker's
//! admission step). Some attempts take more: Wasend's follow-up lookups after an ambiguous
//! answer, Kirimin's owner check. Before each of those an adapter asks its [`Pacer`], so they
//! are spent from the same quota; a pacer that cannot grant one soon enough ends the attempt
//! as "retry later".

use std::time::SystemTime;

use futures_util::future::BoxFuture;

/// Why a further request was not granted, and when to come back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttled {
    /// Not before this instant.
    pub not_before: SystemTime,
    /// In words (safe to log).
    pub reason: String,
}

/// Grants an attempt's requests after the first.
pub trait Pacer: Send + Sync {
    /// Waits (briefly) until one more request of the attempt may be sent, or says when to
    /// come back instead.
    fn follow_up(&self) -> BoxFuture<'_, Result<(), Throttled>>;
}

/// No pacing: every request goes at once (`bulkleave leave`, adapter tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct Unpaced;

impl Pacer for Unpaced {
    fn follow_up(&self) -> BoxFuture<'_, Result<(), Throttled>> {
        Box::pin(async { Ok(()) })
    }
}
