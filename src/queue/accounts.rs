//! Accounts as the fleet shares them: their state for operators (`bulkleave account list`)
//! and resuming a paused one (`bulkleave account resume NAME`).

use std::sync::LazyLock;

use redis::Script;

use super::{Limits, Queue, Result};
use crate::quota::{AccountStatus, RateFactor};

/// Parked jobs moved back to the stream per script call while resuming.
pub(super) const RESUME_BATCH: u64 = 500;

/// What resuming an account did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Resumed {
    /// Whether the account was paused.
    pub was_paused: bool,
    /// Parked jobs put back in the queue.
    pub requeued: u64,
}

/// Reads an account's state in one step on Redis's clock: the clock (ms), the account's hash, its
/// parked jobs, and the requests granted in its window. The window is the one admission uses
/// (`period × (1 + headroom)`, see `room_at` in `lua/prelude.lua`); its log is only pruned by
/// admission, so an idle account's old grants are still there and must not be counted.
/// KEYS: 1 account hash, 2 parked list, 3 account log. ARGV: 1 period ms, 2 headroom.
static STATUS: LazyLock<Script> = LazyLock::new(|| {
    Script::new(concat!(
        include_str!("lua/prelude.lua"),
        r#"
local now = now_ms()
local window = tonumber(ARGV[1]) * (1 + tonumber(ARGV[2]))
local in_window = redis.call('ZCOUNT', KEYS[3], string.format('(%.17g', now - window), '+inf')
return {math.floor(now), redis.call('HGETALL', KEYS[1]), redis.call('LLEN', KEYS[2]), in_window}
"#
    ))
});

impl Queue {
    /// `account`'s shared state now; `limits` (its quota and pacing policy) define its window.
    pub async fn account_status(&self, account: &str, limits: &Limits) -> Result<AccountStatus> {
        let mut conn = self.conn.clone();
        let mut invocation = STATUS.prepare_invoke();
        invocation
            .key(self.keys.account(account))
            .key(self.keys.account_parked(account))
            .key(self.keys.account_log(account))
            .arg(u64::try_from(limits.quota.period.as_millis()).unwrap_or(u64::MAX))
            .arg(limits.policy.headroom);
        let (now_ms, fields, parked, in_window): (
            u64,
            std::collections::HashMap<String, String>,
            u64,
            u64,
        ) = self.scripts.run(&mut conn, &invocation).await?;
        let num = |k: &str| fields.get(k).and_then(|v| v.parse::<f64>().ok());
        let ms = |k: &str| num(k).map(|v| v.max(0.0).ceil() as u64);
        let count = |k: &str| ms(k).unwrap_or(0);
        Ok(AccountStatus {
            paused: fields.get("paused").cloned(),
            paused_at_ms: ms("paused_at"),
            cooldown_until_ms: ms("cool").filter(|&c| c > now_ms),
            cooldown_reason: ms("cool")
                .filter(|&c| c > now_ms)
                .and(fields.get("cool_reason").cloned()),
            factor: RateFactor {
                at_decrease: num("factor").unwrap_or(1.0),
                decreased_at_ms: ms("dec_at"),
            },
            backlog: count("backlog"),
            parked,
            in_window,
            throttled: count("throttled"),
            booked_until_ms: ms("tat").filter(|&t| t > now_ms),
            now_ms,
        })
    }

    /// Lifts `account`'s pause (and any cooldown) and puts its parked jobs back in the queue.
    pub async fn resume_account(&self, account: &str) -> Result<Resumed> {
        let (was_paused, requeued) = self
            .requeue_parked(
                &self.keys.account(account),
                &self.keys.account_parked(account),
                RESUME_BATCH,
            )
            .await?;
        Ok(Resumed {
            was_paused,
            requeued,
        })
    }

    /// Lifts the pause in `hash` and moves the jobs parked in `list` back to the jobs stream,
    /// `batch` per script call; returns whether it was paused and how many moved.
    pub(super) async fn requeue_parked(
        &self,
        hash: &str,
        list: &str,
        batch: u64,
    ) -> Result<(bool, u64)> {
        let mut conn = self.conn.clone();
        let mut first = true;
        let (mut was_paused, mut requeued) = (false, 0);
        loop {
            let mut invocation = self.scripts.resume.prepare_invoke();
            invocation
                .key(hash)
                .key(list)
                .key(self.keys.jobs())
                .arg(batch)
                .arg(if first { "1" } else { "0" });
            let (was, moved, left): (u8, u64, u64) =
                self.scripts.run(&mut conn, &invocation).await?;
            if first {
                was_paused = was == 1;
                first = false;
            }
            requeued += moved;
            if left == 0 || moved == 0 {
                return Ok((was_paused, requeued));
            }
        }
    }
}
