//! Provider accounts as the fleet shares them, from [`crate::accounts`] (the same report as
//! `bulkleave account list`):
//!
//! - `GET /v1/accounts`: every configured account with its state, quota, effective rate,
//!   backlog, parked jobs and ETA.
//! - `GET /v1/accounts/{name}`: one of them; 404 if it is not configured.
//! - `POST /v1/accounts/{name}/resume`: lift a pause (after fixing the credential or
//!   session) and put the parked jobs back in the queue.

use axum::Extension;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, Json, Problem};
use crate::accounts::{self, AccountReport};
use crate::config::AccountSettings;
use crate::job::AccountName;

/// Every configured account.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AccountList {
    /// The accounts, by name.
    pub accounts: Vec<AccountReport>,
}

/// What resuming did.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AccountResumed {
    /// The account.
    pub account: String,
    /// Whether it was paused.
    pub was_paused: bool,
    /// Parked jobs put back in the queue.
    pub requeued: u64,
}

/// The account routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(show))
        .routes(routes!(resume))
}

/// The configured account `name`, or 404.
fn configured<'a>(state: &'a AppState, name: &str) -> Result<&'a AccountSettings, ApiError> {
    name.parse::<AccountName>()
        .ok()
        .and_then(|n| state.settings().accounts.get(&n))
        .ok_or_else(|| ApiError::Missing {
            code: "not_found",
            detail: format!(
                "{:?} is not a configured account",
                crate::job::excerpt(name)
            ),
        })
}

/// List every configured account.
#[utoipa::path(get, path = "/v1/accounts", tag = "accounts",
    security(("bearer" = [])),
    responses((status = 200, description = "Every configured account", body = AccountList)))]
pub async fn list(State(state): State<AppState>) -> Result<Json<AccountList>, ApiError> {
    let accounts = accounts::report_all(state.settings(), state.queue()).await?;
    Ok(Json(AccountList { accounts }))
}

/// One configured account.
#[utoipa::path(get, path = "/v1/accounts/{name}", tag = "accounts",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The account's name")),
    responses(
        (status = 200, description = "The account", body = AccountReport),
        (status = 404, description = "Not a configured account", body = Problem,
            content_type = "application/problem+json"),
    ))]
pub async fn show(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<AccountReport>, ApiError> {
    let account = configured(&state, &name)?;
    Ok(Json(
        accounts::report(state.settings(), state.queue(), account).await?,
    ))
}

/// Resume a paused account: its parked jobs go back in the queue.
#[utoipa::path(post, path = "/v1/accounts/{name}/resume", tag = "accounts",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "The account's name")),
    responses(
        (status = 200, description = "Resumed (or was not paused)", body = AccountResumed),
        (status = 404, description = "Not a configured account", body = Problem,
            content_type = "application/problem+json"),
    ))]
pub async fn resume(
    State(state): State<AppState>,
    Extension(Caller(actor)): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Json<AccountResumed>, ApiError> {
    let account = configured(&state, &name)?;
    let resumed = state.queue().resume_account(account.name.as_str()).await?;
    let detail = serde_json::json!({
        "was_paused": resumed.was_paused,
        "requeued": resumed.requeued,
    });
    let target = format!("account:{}", account.name);
    state.audit(&actor, "account.resume", &target, detail).await;
    tracing::info!(
        account = %account.name,
        was_paused = resumed.was_paused,
        requeued = resumed.requeued,
        "account resumed"
    );
    Ok(Json(AccountResumed {
        account: account.name.to_string(),
        was_paused: resumed.was_paused,
        requeued: resumed.requeued,
    }))
}
