//! Every Redis key the queue uses, derived from one prefix (`redis.key_prefix`).
//!
//! | key | type | holds |
//! |---|---|---|
//! | `{p}:jobs` | stream, group `workers` | jobs ready to run (fields `id`, `job`) |
//! | `{p}:delayed` | sorted set | job id → run-at (ms): retries and scheduled jobs |
//! | `{p}:delayed:job` | hash | job id → payload of a delayed job |
//! | `{p}:dead` | sorted set | job id → dead-lettered at (ms) |
//! | `{p}:dead:job`, `{p}:dead:info` | hash | job id → payload / reason and history |
//! | `{p}:idem:{key}` | string | idempotency key → job id (pending) or `id|final` |
//! | `{p}:hist:{job}` | list | the job's failed attempts so far |
//! | `{p}:runs` | hash | job id → times started since its last settled attempt (crash loops) |
//! | `{p}:outcomes` | stream | every final outcome, once per job |
//! | `{p}:submit` | stream, group `ingest` | the submission contract for other services |
//! | `{p}:rejected` | stream | submissions that failed validation, with the reason |
//! | `{p}:booked` | hash | job id → the quota slot (ms) booked for it |
//! | `{p}:acct:{name}` | hash | an account's shared state: `paused`, `cool`, `tat`, `factor`, `backlog`, counters |
//! | `{p}:acct:{name}:log` | sorted set | requests granted in the account's current window (ms) |
//! | `{p}:acct:{name}:parked` | list | payloads of jobs waiting for a paused account |
//! | `{p}:camp:{id}` | hash | a campaign's hold: `paused`, `cancelled`, `closed` (takes no more items) |
//! | `{p}:camp:{id}:parked` | list | payloads of jobs held while their campaign is paused |
//! | `{p}:events` | stream | campaign completion events (`campaign.finished`, `campaign.cancelled`) |
//!
//! The outcomes stream has a second consumer group, `ledger`: the workers' ledger writers.
//!
//! Lua scripts touch several of these at once; on Redis Cluster give a hash-tagged prefix
//! (`{bulkleave}`) so they share a slot.

/// The consumer group of the jobs stream.
pub const WORKERS_GROUP: &str = "workers";
/// The consumer group of the submission stream.
pub const INGEST_GROUP: &str = "ingest";
/// The consumer group of the outcomes stream that writes the ledger.
pub const LEDGER_GROUP: &str = "ledger";

/// Key names for one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    /// Keys under `prefix`.
    pub fn new(prefix: &str) -> Self {
        Keys {
            prefix: prefix.to_owned(),
        }
    }

    /// The `SCAN MATCH` pattern of every key under the prefix.
    pub fn pattern(&self) -> String {
        self.key("*")
    }

    fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.prefix)
    }

    /// The jobs stream.
    pub fn jobs(&self) -> String {
        self.key("jobs")
    }
    /// The delayed set.
    pub fn delayed(&self) -> String {
        self.key("delayed")
    }
    /// Payloads of delayed jobs.
    pub fn delayed_jobs(&self) -> String {
        self.key("delayed:job")
    }
    /// The dead-letter set.
    pub fn dead(&self) -> String {
        self.key("dead")
    }
    /// Payloads of dead letters.
    pub fn dead_jobs(&self) -> String {
        self.key("dead:job")
    }
    /// Reasons and histories of dead letters.
    pub fn dead_info(&self) -> String {
        self.key("dead:info")
    }
    /// The idempotency key's entry.
    pub fn idem(&self, idempotency_key: &str) -> String {
        self.key(&format!("idem:{idempotency_key}"))
    }
    /// A job's failed-attempt history.
    pub fn history(&self, job_id: &str) -> String {
        self.key(&format!("hist:{job_id}"))
    }
    /// Starts per job since its last settled attempt.
    pub fn runs(&self) -> String {
        self.key("runs")
    }
    /// The outcomes stream.
    pub fn outcomes(&self) -> String {
        self.key("outcomes")
    }
    /// The submission stream.
    pub fn submit(&self) -> String {
        self.key("submit")
    }
    /// The rejection stream.
    pub fn rejected(&self) -> String {
        self.key("rejected")
    }
    /// Slots booked for delayed jobs.
    pub fn booked(&self) -> String {
        self.key("booked")
    }
    /// An account's shared state.
    pub fn account(&self, account: &str) -> String {
        self.key(&format!("acct:{account}"))
    }
    /// An account's sliding window of granted requests.
    pub fn account_log(&self, account: &str) -> String {
        self.key(&format!("acct:{account}:log"))
    }
    /// A campaign's hold.
    pub fn campaign(&self, campaign: &str) -> String {
        self.key(&format!("camp:{campaign}"))
    }
    /// Jobs held while a campaign is paused.
    pub fn campaign_parked(&self, campaign: &str) -> String {
        self.key(&format!("camp:{campaign}:parked"))
    }
    /// Campaign completion events.
    pub fn events(&self) -> String {
        self.key("events")
    }
    /// Jobs parked while an account is paused.
    pub fn account_parked(&self, account: &str) -> String {
        self.key(&format!("acct:{account}:parked"))
    }
}
