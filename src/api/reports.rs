//! `GET /v1/campaigns/{id}/report`: every item of a campaign with its outcome, streamed from
//! the ledger page by page ([`crate::campaign::Campaigns::item_pages`]) so a report of
//! millions of items is never held in memory.
//!
//! The format is `?format=` (`csv`, `ndjson`, `json`), else chosen by `Accept` (`text/csv`,
//! `application/x-ndjson`), else JSON: a JSON array written item by item. CSV and NDJSON come
//! as attachments (`{id}.csv`, `{id}.ndjson`). A database failure half-way cuts the answer off
//! (its status is sent already); it is logged.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures_util::{StreamExt, TryStreamExt, stream};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiError, Problem, Query};
use crate::campaign::report::{self, CSV_HEADER};
use crate::ledger::{Item, ItemFilter};

/// A report format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    /// CSV with a header row (`text/csv`).
    Csv,
    /// One JSON object per line (`application/x-ndjson`).
    Ndjson,
    /// A JSON array (`application/json`).
    Json,
}

impl ReportFormat {
    /// The format an `Accept` header asks for (JSON when it names neither CSV nor NDJSON).
    fn accepted(headers: &HeaderMap) -> Self {
        let accept = headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if accept.contains("text/csv") {
            ReportFormat::Csv
        } else if accept.contains("ndjson") || accept.contains("jsonl") {
            ReportFormat::Ndjson
        } else {
            ReportFormat::Json
        }
    }

    /// Content type, and the file extension of an attachment.
    fn media(self) -> (&'static str, Option<&'static str>) {
        match self {
            ReportFormat::Csv => ("text/csv; charset=utf-8", Some("csv")),
            ReportFormat::Ndjson => ("application/x-ndjson", Some("ndjson")),
            ReportFormat::Json => ("application/json", None),
        }
    }

    /// What comes before the first item, and after the last.
    fn frame(self) -> (&'static str, &'static str) {
        match self {
            ReportFormat::Csv => (CSV_HEADER, ""),
            ReportFormat::Ndjson => ("", ""),
            ReportFormat::Json => ("[", "]\n"),
        }
    }
}

/// Which format.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// `csv`, `ndjson` or `json` (default: by `Accept`, else `json`).
    pub format: Option<ReportFormat>,
}

/// `GET /v1/campaigns/{id}/report`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_report))
}

/// One page of items as text in `format`; `first` says whether no item was written yet.
fn chunk(page: &[Item], format: ReportFormat, first: &mut bool) -> String {
    let mut out = String::new();
    for item in page {
        match format {
            ReportFormat::Csv => out.push_str(&report::line(item, report::Format::Csv)),
            ReportFormat::Ndjson => out.push_str(&report::line(item, report::Format::Ndjson)),
            ReportFormat::Json => {
                if !std::mem::take(first) {
                    out.push(',');
                }
                out.push_str(&report::line(item, report::Format::Ndjson));
            }
        }
    }
    out
}

/// A campaign's report: every item with its outcome, in job-id order.
#[utoipa::path(get, path = "/v1/campaigns/{id}/report", tag = "campaigns",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The campaign"), ReportQuery),
    responses(
        (status = 200, description = "The report, streamed", content(
            (Vec<Item> = "application/json"),
            (String = "text/csv"),
            (String = "application/x-ndjson"),
        )),
        (status = 400, description = "Unknown `format`", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "`campaign_not_found`", body = Problem,
            content_type = "application/problem+json"),
    ))]
pub async fn get_report(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<ReportQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let format = query
        .format
        .unwrap_or_else(|| ReportFormat::accepted(&headers));
    let campaigns = state.campaigns();
    let campaign = campaigns.ledger().existing_campaign(&id).await?;
    let (head, tail) = format.frame();
    let mut first = true;
    let items = campaigns
        .item_pages(&campaign.id, ItemFilter::default())
        .map_ok(move |page| chunk(&page, format, &mut first))
        .inspect_err(|e| tracing::error!(error = %e, "report cut off"));
    let body = stream::once(async move { Ok(head.to_owned()) })
        .chain(items)
        .chain(stream::once(async move { Ok(tail.to_owned()) }));
    let (content_type, extension) = format.media();
    let mut response = Body::from_stream(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(ext) = extension {
        // Campaign ids are letters, digits and `._:-`: safe in a quoted file name.
        let disposition = format!("attachment; filename=\"{}.{ext}\"", campaign.id);
        let value =
            HeaderValue::try_from(disposition).map_err(|e| ApiError::Internal(e.to_string()))?;
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
