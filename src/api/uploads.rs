//! Creating campaigns and adding items to them, from a JSON body or a streamed upload.
//!
//! - `POST /v1/campaigns`: creates a campaign, adds the body's items, and closes it unless
//!   `keep_open`; 201 with `Location: /v1/campaigns/{id}`.
//! - `POST /v1/campaigns/{id}/items`: adds items to an open campaign (`?close=true` closes it
//!   after); 409 `campaign_closed` once it takes no more.
//!
//! The body is chosen by its `Content-Type`: `application/json` (up to `api.max_body_bytes`,
//! read whole), or `text/csv` / `application/x-ndjson` (also `application/ndjson`,
//! `application/jsonl`), streamed row by row into [`crate::campaign::Campaigns::add`] through
//! [`upload::read`] and never held whole, up to `api.max_upload_bytes` ([`routes()`] gives these
//! routes their own body limit). Anything else is 415. Rows that are not valid are listed in
//! the answer's `intake` with their line and reason; an upload that cannot be read at all (a
//! bad CSV header: 422 `invalid_upload`; too large: 413) is discarded whole.

use std::io;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::{TryStreamExt, stream};
use serde::{Deserialize, Serialize};
use tokio_util::io::StreamReader;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, Json, Problem, Query};
use crate::campaign::{self, Intake};
use crate::ledger::{self, Campaign};
use crate::upload::{self, Format, Item, Row};

/// One item of a JSON body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadItem {
    /// `green_api`, `wasend`, `ryzeapi` or `kirimin`.
    pub provider: String,
    /// A configured account of that provider.
    pub account: String,
    /// A group reference valid for the provider.
    pub group: String,
    /// Duplicate detection key (default: derived from the campaign and the target).
    pub idempotency_key: Option<String>,
}

/// A new campaign as a JSON body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCampaign {
    /// Its id: 1-64 letters, digits, `.`, `_`, `:`, `-` (default: a new UUIDv7).
    pub id: Option<String>,
    /// What it is for.
    pub description: Option<String>,
    /// Keep taking items after this request (default: closed once the items are added).
    #[serde(default)]
    pub keep_open: bool,
    /// Its items; a rejected item's `line` is its 1-based position here.
    pub items: Vec<UploadItem>,
}

/// Items to add as a JSON body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewItems {
    /// The items; a rejected item's `line` is its 1-based position here.
    pub items: Vec<UploadItem>,
}

/// The campaign of an upload (CSV and NDJSON bodies; a JSON body carries them itself).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CreateParams {
    /// Its id (default: a new UUIDv7).
    pub id: Option<String>,
    /// What it is for.
    pub description: Option<String>,
    /// Keep taking items after this request (default false).
    pub keep_open: Option<bool>,
}

/// What to do after adding items.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AddParams {
    /// Close the campaign once the items are added (default false).
    pub close: Option<bool>,
}

/// A campaign and what an upload added to it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CampaignIntake {
    /// The campaign after the upload.
    pub campaign: Campaign,
    /// Rows read, accepted and rejected (with line and reason).
    pub intake: Intake,
}

/// `POST /v1/campaigns`, `POST /v1/campaigns/{id}/items`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(add_items))
}

/// A request body: JSON read whole, or rows streamed.
enum Upload {
    Json(Vec<UploadItem>),
    Rows(Format, Body),
}

/// The body's kind by its `Content-Type`; 415 for another one.
fn media(headers: &HeaderMap) -> Result<Option<Format>, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        return Ok(None);
    }
    Format::from_content_type(content_type)
        .map(Some)
        .ok_or_else(|| {
            ApiError::MediaType(
                "the body must be application/json, text/csv or application/x-ndjson".into(),
            )
        })
}

/// A JSON body of at most `api.max_body_bytes`.
async fn json_body<T: serde::de::DeserializeOwned>(
    state: &AppState,
    body: Body,
) -> Result<T, ApiError> {
    let limit = state.settings().api.max_body_bytes;
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|e| {
        if is_length_limit(&e) {
            ApiError::PayloadTooLarge
        } else {
            ApiError::InvalidRequest("the body could not be read".into())
        }
    })?;
    serde_json::from_slice(&bytes).map_err(|e| ApiError::InvalidJson(e.to_string()))
}

/// Whether `e` (or its cause) is a body limit being exceeded.
fn is_length_limit(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(e) = cause {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = e.source();
    }
    false
}

/// Adds `upload`'s rows to campaign `id`.
async fn add(state: &AppState, id: &str, upload: Upload, actor: &str) -> campaign::Result<Intake> {
    let campaigns = state.campaigns();
    match upload {
        Upload::Json(items) => {
            let rows = items.into_iter().zip(1..).map(|(item, line)| {
                Ok(Item::Row(Row {
                    line,
                    provider: item.provider,
                    account: item.account,
                    group: item.group,
                    idempotency_key: item.idempotency_key.filter(|k| !k.is_empty()),
                }))
            });
            campaigns.add(id, stream::iter(rows), actor, |_| {}).await
        }
        Upload::Rows(format, body) => {
            let max = state.settings().api.max_upload_bytes;
            let data = body.into_data_stream().map_err(move |e| {
                if is_length_limit(&e) {
                    let detail = format!("the upload is larger than {max} bytes");
                    io::Error::new(io::ErrorKind::FileTooLarge, detail)
                } else {
                    io::Error::other(e)
                }
            });
            let limits = upload::Limits::default().with_max_bytes(max);
            let rows = upload::read(format, StreamReader::new(data), limits);
            campaigns
                .add(id, rows, actor, |read| {
                    tracing::debug!(read, "upload progress")
                })
                .await
        }
    }
}

/// `e` as a problem; an upload error says that nothing of the upload was kept (`kept`).
fn discarded(e: campaign::Error, kept: &str) -> ApiError {
    match ApiError::from(e) {
        ApiError::UploadTooLarge(d) => ApiError::UploadTooLarge(format!("{d}; {kept}")),
        ApiError::InvalidUpload(d) => ApiError::InvalidUpload(format!("{d}; {kept}")),
        other => other,
    }
}

/// Create a campaign from items (JSON) or an upload (CSV, NDJSON), then close it unless
/// `keep_open`.
#[utoipa::path(post, path = "/v1/campaigns", tag = "campaigns",
    security(("bearer" = [])),
    params(CreateParams),
    request_body(description = "The items: JSON (campaign fields in the body), or CSV / \
        NDJSON with the columns provider, account, group and optionally idempotency_key \
        (campaign fields in the query)",
        content(
            (NewCampaign = "application/json"),
            (String = "text/csv"),
            (String = "application/x-ndjson"),
        )),
    responses(
        (status = 201, description = "Created; rejected rows are listed in `intake`",
            body = CampaignIntake,
            headers(("Location" = String, description = "/v1/campaigns/{id}"))),
        (status = 409, description = "`campaign_exists`", body = Problem,
            content_type = "application/problem+json"),
        (status = 413, description = "Beyond the body or upload limit; nothing was added",
            body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Another content type", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "`invalid_upload` (bad CSV header) or `invalid_job` (bad \
            campaign id)", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    Extension(Caller(actor)): Extension<Caller>,
    Query(params): Query<CreateParams>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (params, upload) = match media(&headers)? {
        None => {
            let c: NewCampaign = json_body(&state, body).await?;
            let params = CreateParams {
                id: c.id.or(params.id),
                description: c.description.or(params.description),
                keep_open: Some(c.keep_open || params.keep_open.unwrap_or(false)),
            };
            (params, Upload::Json(c.items))
        }
        Some(format) => (params, Upload::Rows(format, body)),
    };
    let campaigns = state.campaigns();
    let created = campaigns
        .create(params.id.as_deref(), params.description.as_deref(), &actor)
        .await?;
    let id = created.id;
    let kept = format!("campaign {id:?} was created and holds nothing from this upload");
    let intake = add(&state, &id, upload, &actor)
        .await
        .map_err(|e| discarded(e, &kept))?;
    let campaign = if params.keep_open.unwrap_or(false) {
        campaigns.ledger().existing_campaign(&id).await?
    } else {
        campaigns.close(&id, &actor).await?
    };
    let location = HeaderValue::try_from(format!("/v1/campaigns/{id}"))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let body = Json(CampaignIntake { campaign, intake });
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], body).into_response())
}

/// Add items (JSON) or an upload (CSV, NDJSON) to an open campaign.
#[utoipa::path(post, path = "/v1/campaigns/{id}/items", tag = "campaigns",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The campaign"), AddParams),
    request_body(description = "The items, as for creating a campaign",
        content(
            (NewItems = "application/json"),
            (String = "text/csv"),
            (String = "application/x-ndjson"),
        )),
    responses(
        (status = 200, description = "Added; rejected rows are listed in `intake`",
            body = CampaignIntake),
        (status = 404, description = "`campaign_not_found`", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "`campaign_closed`: it takes no more items", body = Problem,
            content_type = "application/problem+json"),
        (status = 413, description = "Beyond the body or upload limit; nothing was added",
            body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Another content type", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "`invalid_upload`: bad CSV header", body = Problem,
            content_type = "application/problem+json"),
    ))]
pub async fn add_items(
    State(state): State<AppState>,
    Extension(Caller(actor)): Extension<Caller>,
    Path(id): Path<String>,
    Query(params): Query<AddParams>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<CampaignIntake>, ApiError> {
    let upload = match media(&headers)? {
        None => Upload::Json(json_body::<NewItems>(&state, body).await?.items),
        Some(format) => Upload::Rows(format, body),
    };
    let intake = add(&state, &id, upload, &actor)
        .await
        .map_err(|e| match e {
            campaign::Error::Ledger(e @ ledger::Error::State { .. }) => ApiError::Conflict {
                code: "campaign_closed",
                detail: e.to_string(),
            },
            e => discarded(e, "nothing from this upload was added"),
        })?;
    let campaigns = state.campaigns();
    let campaign = if params.close.unwrap_or(false) {
        campaigns.close(&id, &actor).await?
    } else {
        campaigns.ledger().existing_campaign(&id).await?
    };
    Ok(Json(CampaignIntake { campaign, intake }))
}
