//! One connection's state and the commands about the connection itself: transactions
//! (`MULTI`/`EXEC`/`DISCARD`, as redis-rs's atomic pipelines send them), `HELLO`, `CLIENT`
//! (`SETNAME`, `GETNAME`, `ID`, `SETINFO`, which redis-rs sends on connecting) and `QUIT`.
//! Everything else goes to the engine.

use super::REDIS_VERSION;
use super::commands;
use super::engine::Ran;
use super::resp::Reply;
use super::server::Shared;

/// What the connection does next.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Step {
    /// Send this reply.
    Reply(Reply),
    /// Wait (at most this many ms; 0: forever) for a stream to change, then run the command
    /// again.
    Block(u64),
    /// Send this reply and close.
    Close(Reply),
}

/// A connection's state.
#[derive(Debug, Default)]
pub(super) struct Session {
    /// The client id (`CLIENT ID`).
    pub(super) id: u64,
    name: Option<Vec<u8>>,
    /// Commands queued since `MULTI`.
    queued: Option<Vec<Vec<Vec<u8>>>>,
    /// A command queued since `MULTI` was refused: `EXEC` aborts.
    dirty: bool,
}

fn error(msg: &str) -> Step {
    Step::Reply(Reply::Error(msg.into()))
}

impl Session {
    pub(super) fn new(id: u64) -> Session {
        Session {
            id,
            ..Session::default()
        }
    }

    /// Handles one request.
    pub(super) fn handle(&mut self, shared: &Shared, args: &[Vec<u8>]) -> Step {
        let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
        match name.as_str() {
            "quit" => return Step::Close(Reply::ok()),
            "multi" if self.queued.is_some() => return error("ERR MULTI calls can not be nested"),
            "multi" => {
                self.queued = Some(Vec::new());
                self.dirty = false;
                return Step::Reply(Reply::ok());
            }
            "exec" => {
                return match self.queued.take() {
                    None => error("ERR EXEC without MULTI"),
                    Some(_) if std::mem::take(&mut self.dirty) => {
                        error("EXECABORT Transaction discarded because of previous errors.")
                    }
                    Some(queued) => Step::Reply(shared.execute_all(&queued)),
                };
            }
            "discard" => {
                return match self.queued.take() {
                    None => error("ERR DISCARD without MULTI"),
                    Some(_) => Step::Reply(Reply::ok()),
                };
            }
            _ => {}
        }
        if let Some(queued) = &mut self.queued {
            if matches!(name.as_str(), "hello" | "client") {
                self.dirty = true;
                return error("ERR Command not allowed inside a transaction");
            }
            return match commands::check(args) {
                Ok(_) => {
                    queued.push(args.to_vec());
                    Step::Reply(Reply::Status("QUEUED".into()))
                }
                Err(fail) => {
                    self.dirty = true;
                    Step::Reply(Reply::Error(fail.0))
                }
            };
        }
        match name.as_str() {
            "hello" => self.hello(args),
            "client" => self.client(args),
            _ => match shared.execute(args, true) {
                Ran::Reply(reply) => Step::Reply(reply),
                Ran::Blocked(timeout) => Step::Block(timeout),
            },
        }
    }

    fn hello(&mut self, args: &[Vec<u8>]) -> Step {
        if let Some(version) = args.get(1) {
            match super::number::parse_i64(version) {
                None => return error("ERR Protocol version is not an integer or out of range"),
                Some(2) => {}
                // Only RESP2 is spoken: clients fall back to it on NOPROTO.
                Some(_) => return error("NOPROTO unsupported protocol version"),
            }
        }
        let mut i = 2;
        while i < args.len() {
            let opt = String::from_utf8_lossy(&args[i]).to_ascii_uppercase();
            match opt.as_str() {
                "AUTH" if i + 2 < args.len() => i += 3,
                "SETNAME" if i + 1 < args.len() => {
                    self.name = Some(args[i + 1].clone());
                    i += 2;
                }
                _ => {
                    return error(&format!(
                        "ERR Syntax error in HELLO option '{}'",
                        String::from_utf8_lossy(&args[i])
                    ));
                }
            }
        }
        let pairs: [(&str, Reply); 7] = [
            ("server", Reply::bulk("redis")),
            ("version", Reply::bulk(REDIS_VERSION)),
            ("proto", Reply::Int(2)),
            ("id", Reply::Int(i64::try_from(self.id).unwrap_or(i64::MAX))),
            ("mode", Reply::bulk("standalone")),
            ("role", Reply::bulk("master")),
            ("modules", Reply::Array(Vec::new())),
        ];
        Step::Reply(Reply::Array(
            pairs
                .into_iter()
                .flat_map(|(k, v)| [Reply::bulk(k), v])
                .collect(),
        ))
    }

    fn client(&mut self, args: &[Vec<u8>]) -> Step {
        let Some(sub) = args.get(1) else {
            return error("ERR wrong number of arguments for 'client' command");
        };
        let sub = String::from_utf8_lossy(sub).to_ascii_uppercase();
        let arity = |n: usize| {
            (args.len() != n).then(|| {
                error(&format!(
                    "ERR wrong number of arguments for 'client|{}' command",
                    sub.to_ascii_lowercase()
                ))
            })
        };
        match sub.as_str() {
            "SETNAME" => arity(3).unwrap_or_else(|| {
                self.name = Some(args[2].clone());
                Step::Reply(Reply::ok())
            }),
            "GETNAME" => arity(2)
                .unwrap_or_else(|| Step::Reply(self.name.clone().map_or(Reply::Nil, Reply::Bulk))),
            "ID" => arity(2).unwrap_or_else(|| {
                Step::Reply(Reply::Int(i64::try_from(self.id).unwrap_or(i64::MAX)))
            }),
            "SETINFO" => arity(4).unwrap_or_else(|| Step::Reply(Reply::ok())),
            _ => error(&format!(
                "ERR unknown subcommand '{}'. Try CLIENT HELP.",
                String::from_utf8_lossy(&args[1])
            )),
        }
    }
}
