//! Quotas: how fast each provider account may be driven, and the policies that spend them.
//!
//! - [`Quota`] (`spec.rs`): `N/period`, a provider default overridden per account.
//! - [`QuotaPolicy`] (`policy.rs`): the pacing window's headroom, in-place waits, and the
//!   AIMD rule that lowers an account's effective rate after 429s; the reference arithmetic.
//! - [`AccountStatus`] (`status.rs`): an account's state as the fleet sees it (paused,
//!   cooling down, effective rate, backlog) and its ETA.
//! - [`LocalLimiter`] (`local.rs`): `governor` limiters per account, for one process without
//!   Redis; not used by any command (the demo runs the fleet-wide admission on its embedded
//!   server instead).
//!
//! The fleet-wide limiter, shared by every worker through Redis, is the queue's admission
//! step (`src/queue/admission.rs`): a job is admitted only when its account has a free slot,
//! otherwise it is booked for the account's next free slot and waits in the delayed set
//! without holding a worker.

mod local;
mod policy;
mod spec;
mod status;

pub use self::local::{Admission, LocalLimiter, TokioClock};
pub use self::policy::{
    Aimd, DEFAULT_AIMD_DECREASE, DEFAULT_AIMD_FLOOR, DEFAULT_AIMD_INCREASE, DEFAULT_FOLLOW_UP_WAIT,
    DEFAULT_HEADROOM, DEFAULT_INLINE_WAIT, Pace, QuotaPolicy, RateFactor,
};
pub use self::spec::{Quota, QuotaError};
pub use self::status::{AccountStatus, Eta};
