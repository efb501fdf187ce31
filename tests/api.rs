//! The HTTP API through its router (`oneshot`) and through a bound port, on a real Redis (own
//! key prefix per test) and PostgreSQL: authentication, problem answers, jobs, dead letters,
//! accounts, campaigns (uploads, operations, reports, the audit trail, a run against the
//! provider simulator), health, the OpenAPI document, and that no token ever shows.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[path = "api/accounts.rs"]
mod accounts;
#[path = "api/auth.rs"]
mod auth;
#[path = "api/campaign_ops.rs"]
mod campaign_ops;
#[path = "api/campaign_run.rs"]
mod campaign_run;
#[path = "api/campaigns.rs"]
mod campaigns;
#[path = "api/dead_letters.rs"]
mod dead_letters;
#[path = "api/errors.rs"]
mod errors;
#[path = "api/health.rs"]
mod health;
#[path = "api/jobs.rs"]
mod jobs;
#[path = "api/openapi.rs"]
mod openapi;
#[path = "api/served.rs"]
mod served;
#[path = "api/support.rs"]
mod support;
