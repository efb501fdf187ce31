//! bulkleave makes accounts leave messaging groups in bulk, safely, at the speed each provider
//! allows.
//!
//! A *leave job* names a provider, a configured account and a group. An adapter builds the
//! provider's exact request and classifies its answer into an [`providers::Outcome`]: only a
//! provider's own word makes a job a success, and an account whose credentials or session are
//! broken is reported as such, never counted as done.
//!
//! # Layout
//!
//! | module | concern |
//! |---|---|
//! | [`job`] | the job model: checked ids, group references per provider, idempotency keys |
//! | [`campaign`] | campaign operations on the ledger and the queue together (create, upload, pause, resume, cancel, close, status, end and completion event), the workers' ledger writer, reports |
//! | [`ledger`] | the audit ledger in PostgreSQL: campaigns, items and outcomes, uploads, account state, audit trail (every SQL statement); the in-memory ledger of the demo |
//! | [`providers`] | one adapter per provider, the [`providers::Outcome`] type, the shared HTTP client |
//! | [`config`] | layered configuration (defaults, file, `BULKLEAVE__*` env), secrets, validation |
//! | [`embedded`] | an in-process Redis-compatible server (RESP, streams, Lua) that runs the queue with no Redis installed |
//! | [`queue`] | the Redis job queue: streams, delayed set, dead letters, leases |
//! | [`quota`] | quotas (`N/period`), pacing and AIMD policies, account status and ETA, the in-process `governor` limiter, not used by any command (the fleet-wide one is the queue's admission, also in the demo) |
//! | [`retry`] | the retry policy: outcome → done, retry at, or dead letter |
//! | [`upload`] | campaign uploads: streaming CSV / NDJSON reader, per-line rejections, size limits |
//! | [`simulator`] | the provider simulator (`bulkleave simulate`) for tests, benchmarks and the demo |
//! | [`demo`] | `bulkleave demo`: simulator, embedded queue and ledger, worker pool and a sample campaign in one process, live progress, checked report |
//! | [`api`] | the HTTP API (`bulkleave api`): axum router, bearer auth, problem+json errors, OpenAPI |
//! | [`accounts`] | accounts as operators see them (state, rate, backlog, ETA), for the CLI and the API |
//! | [`cli`] | the `bulkleave` command line and its subcommands |
//! | [`metrics`] | Prometheus metrics on `/metrics`: job counters of a worker, the fleet's queue depth (runnable vs waiting), accounts, dead letters, campaigns |
//! | [`telemetry`] | logs (text or flat JSON), OpenTelemetry traces over OTLP from `OTEL_*`, W3C context in jobs, flush on exit |
//! | [`worker`] | the worker pool on apalis: fetch, run, settle, drain; its probes (`/healthz`, `/readyz`) |
//!
//! The binary (`src/main.rs`) only parses the command line and hands over to [`cli::run`].

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod accounts;
pub mod api;
pub mod campaign;
pub mod cli;
pub mod config;
pub mod demo;
pub mod embedded;
pub mod job;
pub mod ledger;
pub mod metrics;
pub mod providers;
pub mod queue;
pub mod quota;
pub mod retry;
pub mod simulator;
pub mod telemetry;
pub mod upload;
pub mod worker;
