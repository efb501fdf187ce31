//! The queue's Lua scripts (in `lua/`), and running them by hash with a reload when Redis
//! forgot them (after a restart or `SCRIPT FLUSH`).
//!
//! Scripts cannot call each other, so the steps they share (Redis's clock, the delivery owner
//! check, settling a delivery, the delayed set, a job's history, its idempotency key, the quota
//! window) live once in `lua/prelude.lua`, prepended to the scripts that use them.

use redis::aio::ConnectionManager;
use redis::{FromRedisValue, Pipeline, Script, ScriptInvocation};

use super::Result;

/// The loaded scripts.
#[derive(Debug, Clone)]
pub(crate) struct Scripts {
    pub enqueue: Script,
    pub promote: Script,
    pub finish: Script,
    pub retry: Script,
    pub release: Script,
    pub requeue: Script,
    pub touch: Script,
    pub admit: Script,
    pub follow_up: Script,
    pub throttle: Script,
    pub pause: Script,
    pub resume: Script,
    pub depth: Script,
}

/// A script from `lua/NAME.lua` with the shared prelude in front.
macro_rules! with_prelude {
    ($name:literal) => {
        Script::new(concat!(
            include_str!("lua/prelude.lua"),
            include_str!(concat!("lua/", $name, ".lua"))
        ))
    };
}

impl Scripts {
    pub fn new() -> Self {
        Scripts {
            enqueue: Script::new(include_str!("lua/enqueue.lua")),
            promote: with_prelude!("promote"),
            finish: Script::new(include_str!("lua/finish.lua")),
            retry: with_prelude!("retry"),
            release: with_prelude!("release"),
            requeue: Script::new(include_str!("lua/requeue.lua")),
            touch: Script::new(include_str!("lua/touch.lua")),
            admit: with_prelude!("admit"),
            follow_up: with_prelude!("follow_up"),
            throttle: with_prelude!("throttle"),
            pause: with_prelude!("pause"),
            resume: Script::new(include_str!("lua/resume.lua")),
            depth: with_prelude!("depth"),
        }
    }

    /// Loads every script (`SCRIPT LOAD`), so pipelined `EVALSHA`s find them.
    pub async fn load(&self, conn: &mut ConnectionManager) -> Result<()> {
        let mut pipe = redis::pipe();
        for script in [
            &self.enqueue,
            &self.promote,
            &self.finish,
            &self.retry,
            &self.release,
            &self.requeue,
            &self.touch,
            &self.admit,
            &self.follow_up,
            &self.throttle,
            &self.pause,
            &self.resume,
            &self.depth,
        ] {
            pipe.load_script(script).ignore();
        }
        pipe.query_async::<()>(conn).await?;
        Ok(())
    }

    /// Runs `pipe` (of script invocations); on `NOSCRIPT`, loads the scripts and runs it again.
    pub async fn run_pipeline<T: FromRedisValue>(
        &self,
        conn: &mut ConnectionManager,
        pipe: &Pipeline,
    ) -> Result<T> {
        match pipe.query_async::<T>(conn).await {
            Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
                self.load(conn).await?;
                Ok(pipe.query_async::<T>(conn).await?)
            }
            other => Ok(other?),
        }
    }

    /// Runs one invocation (the redis crate reloads on `NOSCRIPT` itself).
    pub async fn run<T: FromRedisValue>(
        &self,
        conn: &mut ConnectionManager,
        invocation: &ScriptInvocation<'_>,
    ) -> Result<T> {
        Ok(invocation.invoke_async(conn).await?)
    }
}
