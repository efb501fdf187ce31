//! The queue's Lua scripts (in `lua/`), and running them by hash with a reload when Redis
//! forgot them (after a restart or `SCRIPT FLUSH`).

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
}

impl Scripts {
    pub fn new() -> Self {
        Scripts {
            enqueue: Script::new(include_str!("lua/enqueue.lua")),
            promote: Script::new(include_str!("lua/promote.lua")),
            finish: Script::new(include_str!("lua/finish.lua")),
            retry: Script::new(include_str!("lua/retry.lua")),
            release: Script::new(include_str!("lua/release.lua")),
            requeue: Script::new(include_str!("lua/requeue.lua")),
            touch: Script::new(include_str!("lua/touch.lua")),
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
