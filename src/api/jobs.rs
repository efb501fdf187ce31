//! `POST /v1/jobs`: submit one leave job, with the fields of the submission contract v1
//! ([`crate::job::submission`]) as a JSON object of strings.
//!
//! The job is validated exactly as a submission from another service is: unknown fields are
//! refused, every field is checked, and the account must be configured for the provider
//! named. `requested_by` defaults to the authenticated caller. Answers 201 with the new job's
//! id, 200 `duplicate` when another job holds the idempotency key, 422 `invalid_job` naming
//! the offending `field` otherwise (`campaign` when the campaign named is closed or cancelled:
//! the same refusal the submission stream gives).

use std::collections::BTreeMap;

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, Json, Problem};
use crate::job::submission::{self, FIELDS};
use crate::job::{JobError, LeaveJob};
use crate::queue::{Enqueued, closed_campaign_error};

/// A job submission: the contract v1 fields, all strings (documentation of the body; the
/// handler reads it as an object so that unknown fields are named in the error).
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobSubmission {
    /// `green_api`, `wasend`, `ryzeapi` or `kirimin`.
    pub provider: String,
    /// A configured account of that provider.
    pub account: String,
    /// A group reference valid for the provider.
    pub group: String,
    /// The campaign: 1-64 letters, digits, `.`, `_`, `:`, `-`.
    pub campaign: Option<String>,
    /// Duplicate detection key: 1-128 printable ASCII, no white space (default: derived
    /// from provider, account and group).
    pub idempotency_key: Option<String>,
    /// Who asked, for the audit trail (default: the authenticated caller's name).
    pub requested_by: Option<String>,
    /// W3C Trace Context.
    pub traceparent: Option<String>,
    /// W3C Trace Context, with `traceparent` only.
    pub tracestate: Option<String>,
    /// Contract version: `1`.
    pub v: Option<String>,
}

/// The job was queued.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct JobQueued {
    /// The new job's id.
    pub job_id: String,
    /// `queued`.
    pub status: String,
}

/// Another job holds the idempotency key; nothing was queued.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct JobDuplicate {
    /// `duplicate`.
    pub status: String,
    /// The job holding the key.
    pub existing_job: String,
    /// Whether that job already has its final outcome.
    pub finished: bool,
}

/// `POST /v1/jobs`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(submit))
}

/// The submission's fields as the contract reads them: strings, `null` for absent. A known
/// field with another type is an invalid job; unknown fields are kept for the contract to
/// refuse by name.
fn contract_fields(body: Map<String, Value>) -> Result<BTreeMap<String, String>, JobError> {
    let mut fields = BTreeMap::new();
    for (key, value) in body {
        let known = FIELDS.iter().find(|f| **f == key);
        match (value, known) {
            (Value::String(s), _) => {
                fields.insert(key, s);
            }
            (Value::Null, Some(_)) => {}
            (_, Some(field)) => {
                return Err(JobError {
                    field,
                    rule: "must be a string".into(),
                });
            }
            (_, None) => {
                fields.insert(key, String::new());
            }
        }
    }
    Ok(fields)
}

/// Submit one leave job.
#[utoipa::path(post, path = "/v1/jobs", tag = "jobs",
    security(("bearer" = [])),
    request_body = JobSubmission,
    responses(
        (status = 201, description = "Queued", body = JobQueued),
        (status = 200, description = "A job with this idempotency key exists", body = JobDuplicate),
        (status = 422, description = "The job is invalid, or its campaign takes no more items; `field` names the culprit",
            body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "The body is not a JSON object", body = Problem,
            content_type = "application/problem+json"),
        (status = 401, description = "No valid bearer token", body = Problem,
            content_type = "application/problem+json"),
    ))]
pub async fn submit(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Json(body): Json<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let mut fields = contract_fields(body)?;
    fields.entry("requested_by".to_owned()).or_insert(caller.0);
    let job: LeaveJob = submission::parse(&fields)?;
    state.settings().check_request(&job.request)?;
    match state.queue().enqueue(&job, None).await? {
        Enqueued::Added => {
            tracing::info!(job.id = %job.id, account = %job.request.account, "job queued");
            let body = JobQueued {
                job_id: job.id.to_string(),
                status: "queued".into(),
            };
            Ok((StatusCode::CREATED, Json(body)).into_response())
        }
        Enqueued::Duplicate { existing, finished } => {
            tracing::info!(existing.job = %existing, "duplicate submission");
            let body = JobDuplicate {
                status: "duplicate".into(),
                existing_job: existing,
                finished,
            };
            Ok((StatusCode::OK, Json(body)).into_response())
        }
        Enqueued::CampaignClosed { campaign } => Err(closed_campaign_error(&campaign).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_body_has_exactly_the_contract_fields() {
        let schema = serde_json::to_value(<JobSubmission as utoipa::PartialSchema>::schema())
            .expect("schema serialises");
        let mut documented: Vec<&str> = schema["properties"]
            .as_object()
            .expect("properties")
            .keys()
            .map(String::as_str)
            .collect();
        let mut contract = FIELDS.to_vec();
        documented.sort_unstable();
        contract.sort_unstable();
        assert_eq!(documented, contract);
        assert_eq!(schema["additionalProperties"], false);
    }

    #[test]
    fn non_string_values_are_refused_by_field_and_unknown_ones_kept() {
        let body = |v: Value| v.as_object().cloned().expect("object");
        let err = contract_fields(body(serde_json::json!({"group": 5}))).unwrap_err();
        assert_eq!(err.field, "group");
        let fields =
            contract_fields(body(serde_json::json!({"grup": 5, "campaign": null}))).unwrap();
        assert_eq!(fields.keys().collect::<Vec<_>>(), ["grup"]);
    }
}
