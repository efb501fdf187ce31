//! Campaigns as operators watch and steer them; every rule lives in [`crate::campaign`].
//!
//! - `GET /v1/campaigns?before=&limit=`: newest first, keyset pages (`next` is the `before`
//!   of the next page).
//! - `GET /v1/campaigns/{id}`: its status (counts per outcome, provider and account, rate,
//!   ETA); 404 `campaign_not_found`.
//! - `GET /v1/campaigns/{id}/items?outcome=&account=&after=&limit=`: its items in job-id
//!   order, keyset pages (`next` is the `after` of the next page).
//! - `POST /v1/campaigns/{id}/pause|resume|cancel|close`: 200 with the campaign; 409
//!   `campaign_state` when its state refuses (the detail names the state).
//!
//! Creating campaigns and adding items is in [`super::uploads`], the report in
//! [`super::reports`].

use axum::Extension;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, Json, Problem, Query};
use crate::campaign::CampaignStatus;
use crate::ledger::{Campaign, Change, Item, ItemFilter};

/// Campaigns listed when `limit` is not given.
pub const DEFAULT_CAMPAIGNS: i64 = 50;
/// The most campaigns one page may hold.
pub const MAX_CAMPAIGNS: i64 = 500;
/// Items listed when `limit` is not given.
pub const DEFAULT_ITEMS: i64 = 100;
/// The most items one page may hold.
pub const MAX_ITEMS: i64 = 1000;

/// Which page of campaigns.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CampaignQuery {
    /// Only campaigns created before this one (the `next` of the previous page).
    pub before: Option<String>,
    /// At most this many (default 50, at most 500).
    pub limit: Option<i64>,
}

/// One page of campaigns.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CampaignPage {
    /// The campaigns, newest first.
    pub campaigns: Vec<Campaign>,
    /// The `before` of the next page, when this one is full.
    pub next: Option<String>,
}

/// Which of a campaign's items.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ItemQuery {
    /// Only this outcome (`left`, `already_left`, …; `pending` for those without one).
    pub outcome: Option<String>,
    /// Only this account.
    pub account: Option<String>,
    /// Only items after this job id (the `next` of the previous page).
    pub after: Option<String>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<i64>,
}

/// One page of a campaign's items.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ItemPage {
    /// The items, in job-id (time) order.
    pub items: Vec<Item>,
    /// The `after` of the next page, when this one is full.
    pub next: Option<String>,
}

/// The campaign read and steering routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(status))
        .routes(routes!(items))
        .routes(routes!(pause))
        .routes(routes!(resume))
        .routes(routes!(cancel))
        .routes(routes!(close))
}

/// `limit`, or `default`; 400 `invalid_request` outside 1 to `max`.
pub(super) fn page_limit(limit: Option<i64>, default: i64, max: i64) -> Result<i64, ApiError> {
    match limit.unwrap_or(default) {
        n if (1..=max).contains(&n) => Ok(n),
        _ => Err(ApiError::InvalidRequest(format!("limit: 1 to {max}"))),
    }
}

/// The cursor of the next page: the key of the last row of a full page.
fn next<T>(rows: &[T], limit: i64, key: impl Fn(&T) -> &str) -> Option<String> {
    (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| key(r).to_owned()))
        .flatten()
}

/// List campaigns, newest first.
#[utoipa::path(get, path = "/v1/campaigns", tag = "campaigns",
    security(("bearer" = [])),
    params(CampaignQuery),
    responses(
        (status = 200, description = "One page", body = CampaignPage),
        (status = 400, description = "`limit` out of range", body = Problem,
            content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    Query(query): Query<CampaignQuery>,
) -> Result<Json<CampaignPage>, ApiError> {
    let limit = page_limit(query.limit, DEFAULT_CAMPAIGNS, MAX_CAMPAIGNS)?;
    let ledger = state.campaigns().ledger();
    let campaigns = ledger.campaigns(query.before.as_deref(), limit).await?;
    Ok(Json(CampaignPage {
        next: next(&campaigns, limit, |c| &c.id),
        campaigns,
    }))
}

/// A campaign's status: counts per outcome, provider and account, rate and ETA.
#[utoipa::path(get, path = "/v1/campaigns/{id}", tag = "campaigns",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The campaign")),
    responses(
        (status = 200, description = "Its status", body = CampaignStatus),
        (status = 404, description = "`campaign_not_found`", body = Problem,
            content_type = "application/problem+json"),
    ))]
pub async fn status(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<CampaignStatus>, ApiError> {
    Ok(Json(state.campaigns().status(&id).await?))
}

/// A campaign's items, in job-id order, optionally of one outcome or account.
#[utoipa::path(get, path = "/v1/campaigns/{id}/items", tag = "campaigns",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The campaign"), ItemQuery),
    responses(
        (status = 200, description = "One page", body = ItemPage),
        (status = 400, description = "`limit` out of range", body = Problem,
            content_type = "application/problem+json"),
        (status = 404, description = "`campaign_not_found`", body = Problem,
            content_type = "application/problem+json"),
    ))]
pub async fn items(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<ItemQuery>,
) -> Result<Json<ItemPage>, ApiError> {
    let limit = page_limit(query.limit, DEFAULT_ITEMS, MAX_ITEMS)?;
    let ledger = state.campaigns().ledger();
    let filter = ItemFilter {
        outcome: query.outcome,
        account: query.account,
    };
    let items = ledger
        .items(&id, &filter, query.after.as_deref(), limit)
        .await?;
    // A page with items proves the campaign exists; only an empty one needs asking.
    if items.is_empty() {
        ledger.existing_campaign(&id).await?;
    }
    Ok(Json(ItemPage {
        next: next(&items, limit, |i| &i.job_id),
        items,
    }))
}

/// Applies `change` to campaign `id` on behalf of `caller`.
async fn change(
    state: &AppState,
    id: &str,
    change: Change,
    Caller(actor): Caller,
) -> Result<Json<Campaign>, ApiError> {
    Ok(Json(state.campaigns().change(id, change, &actor).await?))
}

/// Pause a running campaign: its jobs are held at admission until it is resumed.
#[utoipa::path(post, path = "/v1/campaigns/{id}/pause", tag = "campaigns",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The campaign")),
    responses(
        (status = 200, description = "Paused", body = Campaign),
        (status = 404, description = "`campaign_not_found`", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "`campaign_state`: cancelled or finished", body = Problem,
            content_type = "application/problem+json"),
    ))]
pub async fn pause(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Campaign>, ApiError> {
    change(&state, &id, Change::Pause, caller).await
}

/// Resume a paused campaign: its held jobs run.
#[utoipa::path(post, path = "/v1/campaigns/{id}/resume", tag = "campaigns",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The campaign")),
    responses(
        (status = 200, description = "Running", body = Campaign),
        (status = 404, description = "`campaign_not_found`", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "`campaign_state`: cancelled or finished", body = Problem,
            content_type = "application/problem+json"),
    ))]
pub async fn resume(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Campaign>, ApiError> {
    change(&state, &id, Change::Resume, caller).await
}

/// Cancel a campaign: its pending jobs are dropped (recorded as `cancelled`), none is cut off.
#[utoipa::path(post, path = "/v1/campaigns/{id}/cancel", tag = "campaigns",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The campaign")),
    responses(
        (status = 200, description = "Cancelled", body = Campaign),
        (status = 404, description = "`campaign_not_found`", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "`campaign_state`: finished", body = Problem,
            content_type = "application/problem+json"),
    ))]
pub async fn cancel(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Campaign>, ApiError> {
    change(&state, &id, Change::Cancel, caller).await
}

/// Close a campaign: it takes no more items and finishes once nothing is pending.
#[utoipa::path(post, path = "/v1/campaigns/{id}/close", tag = "campaigns",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The campaign")),
    responses(
        (status = 200, description = "Closed (or closed already)", body = Campaign),
        (status = 404, description = "`campaign_not_found`", body = Problem,
            content_type = "application/problem+json"),
    ))]
pub async fn close(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<Campaign>, ApiError> {
    change(&state, &id, Change::Close, caller).await
}
