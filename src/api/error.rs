//! Every error the API answers, as RFC 9457 `application/problem+json` bodies.
//!
//! A problem carries `type`, `title`, `status`, `detail` and a stable machine `code` (plus the
//! offending `field` for an invalid job). Clients branch on `code`; `title` and `detail` are
//! for people. Internal causes (a Redis error, a bug) are logged inside the request's span and
//! never returned. Axum's own rejections and the layers' answers (unknown route, wrong method,
//! body too large, time-out) are rewritten into problems by [`problem_layer`], so no error
//! leaves the API in another shape.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderValue, StatusCode, header, request::Parts};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::AppState;
use crate::job::JobError;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error answer of the API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// No valid bearer token (401, `unauthorized`).
    #[error("a valid bearer token is required")]
    Unauthorized,
    /// The named resource does not exist (404, its code: `not_found`, `campaign_not_found`).
    #[error("{detail}")]
    Missing {
        /// The machine code.
        code: &'static str,
        /// What is missing.
        detail: String,
    },
    /// No route has this path (404, `route_not_found`).
    #[error("no route for this path")]
    RouteNotFound,
    /// The route exists, the method does not (405, `method_not_allowed`).
    #[error("this method is not allowed on this path")]
    MethodNotAllowed,
    /// The body is not the JSON expected (400, `invalid_json`).
    #[error("{0}")]
    InvalidJson(String),
    /// A query parameter or body value is invalid (400, `invalid_request`).
    #[error("{0}")]
    InvalidRequest(String),
    /// The job breaks the submission contract (422, `invalid_job`).
    #[error("{0}")]
    InvalidJob(JobError),
    /// An upload cannot be read: a bad CSV header, a body cut off (422, `invalid_upload`).
    #[error("{0}")]
    InvalidUpload(String),
    /// The request conflicts with the resource's state (409, its own code).
    #[error("{detail}")]
    Conflict {
        /// The machine code.
        code: &'static str,
        /// What conflicts.
        detail: String,
    },
    /// The body exceeds the limit (413, `payload_too_large`).
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// An upload exceeds its limit (413, `payload_too_large`), with what became of it.
    #[error("{0}")]
    UploadTooLarge(String),
    /// The body is not `application/json` (415, `unsupported_media_type`).
    #[error("the body must be application/json")]
    UnsupportedMediaType,
    /// The body is none of the media types the route reads (415, `unsupported_media_type`).
    #[error("{0}")]
    MediaType(String),
    /// The request took too long (503, `timeout`).
    #[error("the request took too long")]
    Timeout,
    /// A dependency is down (503, `unavailable`); names it, never its URL.
    #[error("{0} unavailable")]
    Unavailable(String),
    /// A bug or unexpected failure (500, `internal`); the cause is logged, not returned.
    #[error("internal error")]
    Internal(String),
}

/// The body of every error answer (RFC 9457).
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the problem type: `urn:bulkleave:problem:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the type.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong in this request.
    pub detail: String,
    /// The stable machine code.
    pub code: String,
    /// The offending field (`invalid_job` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Missing { .. } | ApiError::RouteNotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::InvalidJson(_) | ApiError::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::InvalidJob(_) | ApiError::InvalidUpload(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge | ApiError::UploadTooLarge(_) => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ApiError::UnsupportedMediaType | ApiError::MediaType(_) => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            ApiError::Timeout | ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthorized => "unauthorized",
            ApiError::Missing { code, .. } => code,
            ApiError::RouteNotFound => "route_not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::InvalidJson(_) => "invalid_json",
            ApiError::InvalidRequest(_) => "invalid_request",
            ApiError::InvalidJob(_) => "invalid_job",
            ApiError::InvalidUpload(_) => "invalid_upload",
            ApiError::Conflict { code, .. } => code,
            ApiError::PayloadTooLarge | ApiError::UploadTooLarge(_) => "payload_too_large",
            ApiError::UnsupportedMediaType | ApiError::MediaType(_) => "unsupported_media_type",
            ApiError::Timeout => "timeout",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    /// The problem body.
    pub fn problem(&self) -> Problem {
        let status = self.status();
        let detail = match self {
            ApiError::Unavailable(what) => format!("{what} unavailable; try again later"),
            other => other.to_string(),
        };
        Problem {
            kind: format!("urn:bulkleave:problem:{}", self.code()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            code: self.code().to_owned(),
            field: match self {
                ApiError::InvalidJob(e) => Some(e.field.to_owned()),
                _ => None,
            },
        }
    }

    /// The problem for an error answer of `status` made elsewhere (axum, a layer).
    fn from_status(status: StatusCode) -> Self {
        match status {
            StatusCode::UNAUTHORIZED => ApiError::Unauthorized,
            StatusCode::NOT_FOUND => ApiError::RouteNotFound,
            StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
            StatusCode::REQUEST_TIMEOUT => ApiError::Timeout,
            s if s.is_client_error() => ApiError::InvalidRequest("the request is invalid".into()),
            s => ApiError::Internal(format!("an inner service answered {s}")),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            tracing::error!(error = %cause, "internal error");
        }
        if let ApiError::Unavailable(what) = &self {
            tracing::warn!(dependency = %what, "dependency unavailable");
        }
        let mut response = (self.status(), axum::Json(self.problem())).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if matches!(self, ApiError::Unauthorized) {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<JobError> for ApiError {
    fn from(e: JobError) -> Self {
        ApiError::InvalidJob(e)
    }
}

impl From<crate::queue::Error> for ApiError {
    fn from(e: crate::queue::Error) -> Self {
        match e {
            crate::queue::Error::Redis(e) => {
                tracing::error!(error = %e, "queue error");
                ApiError::Unavailable("the queue".into())
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<crate::ledger::Error> for ApiError {
    fn from(e: crate::ledger::Error) -> Self {
        use crate::ledger::Error;
        match e {
            Error::NotFound { what, id } => ApiError::Missing {
                code: if what == "campaign" {
                    "campaign_not_found"
                } else {
                    "not_found"
                },
                detail: format!("{what} {:?} does not exist", crate::job::excerpt(&id)),
            },
            Error::Exists { what, id } => ApiError::Conflict {
                code: if what == "campaign" {
                    "campaign_exists"
                } else {
                    "exists"
                },
                detail: format!("{what} {:?} exists already", crate::job::excerpt(&id)),
            },
            e @ Error::State { .. } => ApiError::Conflict {
                code: "campaign_state",
                detail: e.to_string(),
            },
            // An upload idle past the stale limit was discarded while its sender was away.
            e @ Error::UploadGone { .. } => ApiError::Conflict {
                code: "upload_gone",
                detail: e.to_string(),
            },
            Error::Db(e) if is_unreachable(&e) => {
                tracing::error!(error = %e, "ledger unreachable");
                ApiError::Unavailable("the database".into())
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// Whether a database error means PostgreSQL cannot be reached (rather than a bad statement).
fn is_unreachable(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
    )
}

impl From<crate::campaign::Error> for ApiError {
    fn from(e: crate::campaign::Error) -> Self {
        use crate::campaign::Error;
        use crate::upload::Error as Upload;
        match e {
            Error::Ledger(e) => e.into(),
            Error::Queue(e) => e.into(),
            Error::Invalid(e) => ApiError::InvalidJob(e),
            Error::Upload(Upload::TooLarge { limit }) => {
                ApiError::UploadTooLarge(format!("the upload is larger than {limit} bytes"))
            }
            Error::Upload(Upload::Io(e)) if e.kind() == std::io::ErrorKind::FileTooLarge => {
                ApiError::UploadTooLarge(e.to_string())
            }
            Error::Upload(e) => ApiError::InvalidUpload(e.to_string()),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
            _ => ApiError::InvalidJson(r.body_text()),
        }
    }
}

/// `axum::Json` whose rejections are problems.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let axum::Json(value) = axum::Json::<T>::from_request(req, state).await?;
        Ok(Json(value))
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Query` whose rejections are problems (`invalid_request`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|r: QueryRejection| ApiError::InvalidRequest(r.body_text()))
    }
}

/// Middleware: bounds each request by the configured timeout and rewrites every error answer
/// that is not yet a problem (axum's 404 and 405, the body limit's 413, …) into one, keeping
/// its headers (`Allow` on a 405).
pub async fn problem_layer(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let timeout = state.settings().api.request_timeout;
    let response = match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => return ApiError::Timeout.into_response(),
    };
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == PROBLEM_JSON.as_bytes());
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    let (mut parts, _) = response.into_parts();
    let mut problem = ApiError::from_status(status).into_response();
    parts.headers.remove(header::CONTENT_LENGTH);
    for (name, value) in problem.headers() {
        parts.headers.insert(name.clone(), value.clone());
    }
    parts.status = problem.status();
    Response::from_parts(parts, std::mem::take(problem.body_mut()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_discarded_upload_is_a_conflict_not_a_server_error() {
        let e = ApiError::from(crate::ledger::Error::UploadGone {
            id: uuid::Uuid::nil(),
            expected: "receiving",
        });
        assert_eq!(
            (e.status(), e.code()),
            (StatusCode::CONFLICT, "upload_gone")
        );
    }
}
