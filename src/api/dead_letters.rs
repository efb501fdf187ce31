//! Dead letters: jobs that exhausted their attempts or failed for good.
//!
//! - `GET /v1/dead-letters?offset=&limit=`: oldest first, with the reason and the failed
//!   attempts (`limit` default [`DEFAULT_LIMIT`], at most [`MAX_LIMIT`]).
//! - `POST /v1/dead-letters/{id}/requeue`: one back in the queue with fresh attempt counters;
//!   404 if it is not a dead letter, 409 `poison` (undecodable) or `superseded` (a newer job
//!   holds its idempotency key).
//! - `POST /v1/dead-letters/requeue` with `{"ids": [...]}` (one result each) or
//!   `{"all": true}` (every one that can run, dead-lettered before the call).

use axum::Extension;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, Json, Problem, Query};
use crate::queue::{DeadLetter, Requeued};

/// Dead letters listed when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 100;
/// The most dead letters one page or one requeue request may hold.
pub const MAX_LIMIT: usize = 1000;

/// Which page of dead letters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// Skip this many (default 0).
    pub offset: Option<usize>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<usize>,
}

/// One page of dead letters.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeadLetterPage {
    /// Dead letters in all.
    pub total: u64,
    /// The offset of this page.
    pub offset: usize,
    /// The limit of this page.
    pub limit: usize,
    /// The dead letters, oldest first.
    pub dead_letters: Vec<DeadLetterView>,
}

/// One dead letter.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DeadLetterView {
    /// The job id (`poison-<entry>` for an undecodable entry).
    pub id: String,
    /// Why it is a dead letter.
    pub reason: Option<String>,
    /// When it became one (ms since the epoch).
    pub dead_at_ms: Option<u64>,
    /// Whether the entry could not be decoded (it cannot be requeued).
    pub poison: bool,
    /// The failed attempts, oldest first.
    pub history: Vec<FailedAttempt>,
    /// The job, when it decodes.
    pub job: Option<JobView>,
}

/// One failed attempt.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FailedAttempt {
    /// When (ms since the epoch).
    pub at_ms: u64,
    /// The outcome class.
    pub class: String,
    /// The outcome detail.
    pub detail: String,
    /// The HTTP status of the provider's answer.
    pub http_status: Option<u16>,
}

/// A dead-lettered job.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct JobView {
    /// The provider.
    pub provider: String,
    /// The account.
    pub account: String,
    /// The group, normalised.
    pub group: String,
    /// The campaign, if any.
    pub campaign: Option<String>,
    /// Its idempotency key.
    pub idempotency_key: String,
    /// Who asked for it.
    pub requested_by: Option<String>,
    /// When it was created (ms since the epoch).
    pub created_at_ms: u64,
    /// Attempts counted against the retry budget.
    pub attempts: u32,
    /// Attempts answered "retry later".
    pub throttled: u32,
}

impl From<DeadLetter> for DeadLetterView {
    fn from(d: DeadLetter) -> Self {
        let (reason, dead_at_ms, poison, history) = match d.info {
            Some(i) => (Some(i.reason), Some(i.at_ms), i.poison, i.history),
            None => (None, None, false, Vec::new()),
        };
        DeadLetterView {
            id: d.id,
            reason,
            dead_at_ms,
            poison,
            history: history
                .into_iter()
                .map(|a| FailedAttempt {
                    at_ms: a.at_ms,
                    class: a.class,
                    detail: a.detail,
                    http_status: a.http_status,
                })
                .collect(),
            job: d.job.map(|j| JobView {
                provider: j.request.provider.to_string(),
                account: j.request.account.to_string(),
                group: j.request.group.to_string(),
                campaign: j.campaign.map(|c| c.to_string()),
                idempotency_key: j.idempotency_key.as_str().to_owned(),
                requested_by: j.requested_by,
                created_at_ms: j.created_at_ms,
                attempts: j.attempts.made,
                throttled: j.attempts.throttled,
            }),
        }
    }
}

/// The result for one id.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RequeueOutcome {
    /// The job id.
    pub id: String,
    /// What happened.
    pub result: Requeued,
}

/// Which dead letters to requeue: `ids` or `all`, not both.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequeueRequest {
    /// These job ids (1 to 1000).
    pub ids: Option<Vec<String>>,
    /// Every dead letter that can run.
    pub all: Option<bool>,
}

/// What a bulk requeue did.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RequeueSummary {
    /// How many went back in the queue.
    pub requeued: usize,
    /// One result per id, in order (absent for `all`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results: Option<Vec<RequeueOutcome>>,
}

/// The dead-letter routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(requeue_one))
        .routes(routes!(requeue_many))
}

/// List dead letters, oldest first.
#[utoipa::path(get, path = "/v1/dead-letters", tag = "dead-letters",
    security(("bearer" = [])),
    params(Page),
    responses(
        (status = 200, description = "One page", body = DeadLetterPage),
        (status = 400, description = "`limit` above 1000 or not a number", body = Problem,
            content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    Query(page): Query<Page>,
) -> Result<Json<DeadLetterPage>, ApiError> {
    let offset = page.offset.unwrap_or(0);
    let limit = page.limit.unwrap_or(DEFAULT_LIMIT);
    if limit > MAX_LIMIT {
        return Err(ApiError::InvalidRequest(format!(
            "limit: at most {MAX_LIMIT}"
        )));
    }
    let queue = state.queue();
    let total = queue.stats().await?.dead;
    let dead = queue.dead_letters(offset, limit).await?;
    Ok(Json(DeadLetterPage {
        total,
        offset,
        limit,
        dead_letters: dead.into_iter().map(DeadLetterView::from).collect(),
    }))
}

/// Requeue one dead letter with fresh attempt counters.
#[utoipa::path(post, path = "/v1/dead-letters/{id}/requeue", tag = "dead-letters",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The job id")),
    responses(
        (status = 200, description = "Back in the queue", body = RequeueOutcome),
        (status = 404, description = "Not a dead letter", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "`poison` or `superseded`: kept", body = Problem,
            content_type = "application/problem+json"),
    ))]
pub async fn requeue_one(
    State(state): State<AppState>,
    Extension(Caller(actor)): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<RequeueOutcome>, ApiError> {
    let result = state
        .queue()
        .requeue(std::slice::from_ref(&id))
        .await?
        .first()
        .copied()
        .ok_or_else(|| ApiError::Internal("requeue returned no result".into()))?;
    match result {
        Requeued::Requeued => {
            let target = format!("job:{id}");
            let detail = serde_json::json!({});
            state
                .audit(&actor, "dead_letter.requeue", &target, detail)
                .await;
            Ok(Json(RequeueOutcome { id, result }))
        }
        Requeued::NotDead => Err(ApiError::Missing {
            code: "not_found",
            detail: format!("{:?} is not a dead letter", crate::job::excerpt(&id)),
        }),
        Requeued::Poison => Err(ApiError::Conflict {
            code: "poison",
            detail: "the entry cannot be decoded; it is kept for inspection".into(),
        }),
        Requeued::Superseded => Err(ApiError::Conflict {
            code: "superseded",
            detail: "a newer job holds its idempotency key; it is kept".into(),
        }),
    }
}

/// Requeue the dead letters `ids`, or `all` of them.
#[utoipa::path(post, path = "/v1/dead-letters/requeue", tag = "dead-letters",
    security(("bearer" = [])),
    request_body = RequeueRequest,
    responses(
        (status = 200, description = "Done", body = RequeueSummary),
        (status = 400, description = "Neither or both of `ids` and `all`", body = Problem,
            content_type = "application/problem+json"),
    ))]
pub async fn requeue_many(
    State(state): State<AppState>,
    Extension(Caller(actor)): Extension<Caller>,
    Json(request): Json<RequeueRequest>,
) -> Result<Json<RequeueSummary>, ApiError> {
    match (request.ids, request.all) {
        (None, Some(true)) => {
            let requeued = state.queue().requeue_all().await?;
            let detail = serde_json::json!({ "requeued": requeued });
            state
                .audit(&actor, "dead_letter.requeue_all", "dead-letters", detail)
                .await;
            Ok(Json(RequeueSummary {
                requeued,
                results: None,
            }))
        }
        (Some(ids), None | Some(false)) if (1..=MAX_LIMIT).contains(&ids.len()) => {
            let results = state.queue().requeue(&ids).await?;
            let results: Vec<RequeueOutcome> = ids
                .into_iter()
                .zip(results)
                .map(|(id, r)| RequeueOutcome { id, result: r })
                .collect();
            // Each requeued job is audited as if requeued on its own.
            for r in results.iter().filter(|r| r.result == Requeued::Requeued) {
                let target = format!("job:{}", r.id);
                state
                    .audit(
                        &actor,
                        "dead_letter.requeue",
                        &target,
                        serde_json::json!({}),
                    )
                    .await;
            }
            Ok(Json(RequeueSummary {
                requeued: results
                    .iter()
                    .filter(|r| r.result == Requeued::Requeued)
                    .count(),
                results: Some(results),
            }))
        }
        _ => Err(ApiError::InvalidRequest(format!(
            "give either \"ids\" (1 to {MAX_LIMIT} job ids) or \"all\": true"
        ))),
    }
}
