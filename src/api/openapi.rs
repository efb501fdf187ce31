//! The OpenAPI 3 document, generated from the code: each handler's `#[utoipa::path]` and the
//! `ToSchema` types of its bodies, collected by `utoipa_axum::routes!` as the routes are
//! registered ([`super::routes`]). Served at `GET /openapi.json`, public: it describes the API
//! and holds no data. The bearer scheme is declared once here; authenticated operations
//! name it (`security(("bearer" = []))`).

use std::sync::Arc;

use axum::Extension;
use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::Json;

/// The name of the bearer security scheme in the document.
pub const BEARER: &str = "bearer";

/// The document's frame: title, version, tags, shared schemas and the security scheme.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "bulkleave",
        description = "Makes accounts leave messaging groups in bulk. Errors are RFC 9457 \
            problems (application/problem+json) with a stable `code`."
    ),
    modifiers(&BearerScheme),
    components(schemas(super::error::Problem)),
    tags(
        (name = "health", description = "Probes (public)"),
        (name = "jobs", description = "Submit leave jobs"),
        (name = "dead-letters", description = "Jobs that failed for good"),
        (name = "accounts", description = "Provider accounts as the fleet shares them"),
        (name = "campaigns", description = "Bulk leaves: create from JSON, CSV or NDJSON, \
            watch, steer, report"),
        (name = "audit", description = "The trail of operator actions"),
        (name = "meta", description = "This document (public)"),
    )
)]
struct Frame;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A token of [api.tokens.NAME]; NAME is the caller"))
                    .build(),
            ),
        );
    }
}

/// The frame the routes are added to.
pub fn base() -> Document {
    Frame::openapi()
}

/// `GET /openapi.json`.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(document))
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI 3 document", content_type = "application/json")))]
pub async fn document(Extension(document): Extension<Arc<Document>>) -> Json<Document> {
    Json(Document::clone(&document))
}
