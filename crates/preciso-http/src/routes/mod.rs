//! The router: every operation of the API (`api`, which the OpenAPI document is generated
//! from, each path with and without a trailing slash), the browsable reference at `/docs`,
//! the fallbacks that keep the error shape for unknown paths and methods, and the layers in
//! order.

pub(crate) mod archivos;
pub(crate) mod catalog;
pub(crate) mod compare;
pub(crate) mod forensic;
pub(crate) mod health;
pub(crate) mod jobs;
pub(crate) mod offers;
pub(crate) mod reports;
pub(crate) mod search;
pub(crate) mod users;

use crate::error::ApiError;
use crate::layers::{auth, cache, deadline, observe};
use crate::state::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method};
use axum::middleware::from_fn_with_state;
use axum::response::IntoResponse;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};
use utoipa_axum::routes;
use utoipa_swagger_ui::{Config, SwaggerUi};

/// Registers an operation at its path and, unless the path ends in a catch-all (which
/// already matches a trailing slash), at `path/` too (docs/API.md: trailing slashes are
/// accepted); only the first is in the document.
fn both(
    router: OpenApiRouter<AppState>,
    operation: UtoipaMethodRouter<AppState>,
) -> OpenApiRouter<AppState> {
    let paths: Vec<String> = operation.1.paths.keys().cloned().collect();
    let mut router = router;
    for path in paths.iter().filter(|p| !p.contains("{*")) {
        router = router.route(&format!("{path}/"), operation.2.clone());
    }
    router.routes(operation)
}

/// Every operation of the API, with the document generated from them.
pub(crate) fn api() -> OpenApiRouter<AppState> {
    use utoipa::OpenApi;
    let operations = [
        routes!(offers::best_prices),
        routes!(compare::price_comparison),
        routes!(search::search),
        routes!(offers::ranked),
        routes!(offers::trending),
        routes!(reports::store_comparison),
        routes!(reports::price_analysis),
        routes!(users::list, users::create),
        routes!(users::create_legacy),
        routes!(users::get, users::update, users::delete),
        routes!(catalog::brands),
        routes!(catalog::categories),
        routes!(catalog::stores),
        routes!(offers::detail),
        routes!(offers::history),
        routes!(archivos::list, archivos::upload),
        routes!(jobs::list),
        routes!(jobs::trigger),
        routes!(jobs::runs),
        routes!(jobs::run),
        routes!(jobs::status),
        routes!(forensic::analyze),
        routes!(forensic::batch),
        routes!(forensic::status),
        routes!(forensic::result),
        routes!(forensic::export),
        routes!(forensic::list),
        routes!(forensic::scores),
        routes!(health::openapi),
        routes!(health::health),
        routes!(health::ready),
        routes!(health::metrics),
    ];
    operations
        .into_iter()
        .fold(OpenApiRouter::with_openapi(crate::openapi::ApiDoc::openapi()), both)
}

/// Swagger UI at `/docs`, its assets compiled into the binary, reading `/api/openapi.json`.
fn docs() -> Router<AppState> {
    SwaggerUi::new("/docs").config(Config::from("/api/openapi.json")).into()
}

pub fn router(state: AppState) -> Router {
    let (r, _) = api().split_for_parts();
    let r = r.merge(docs()).merge(crate::ui::router());
    let body_limit = state.config.upload_limit.max(state.config.json_body_limit);
    r.fallback(|req: axum::extract::Request| async move {
        // A browser that followed a wrong link gets a page; clients get the error shape.
        match crate::ui::not_found_page(req.uri().path(), req.headers()) {
            Some(page) => page,
            None => ApiError::NotFound("no such endpoint".into()).into_response(),
        }
    })
    .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
    .layer(DefaultBodyLimit::max(body_limit))
    .layer(from_fn_with_state(state.clone(), cache::cached))
    .layer(from_fn_with_state(state.clone(), auth::guard))
    .layer(cors(&state))
    .layer(from_fn_with_state(state.clone(), deadline::deadline))
    // Inside the access log and metrics (they see the answer as sent); cached answers arrive
    // already gzipped and pass through.
    .layer(tower_http::compression::CompressionLayer::new())
    .layer(from_fn_with_state(state.clone(), observe::observe))
    .with_state(state)
}

/// CORS for the configured origins; `"*"` allows any origin (never with credentials: keys
/// travel in a header a page must set itself).
fn cors(state: &AppState) -> CorsLayer {
    let configured = &state.config.cors_origins;
    let allow = if configured.iter().any(|o| o.trim() == "*") {
        AllowOrigin::any()
    } else {
        let origins: Vec<HeaderValue> =
            configured.iter().filter_map(|o| HeaderValue::from_str(o.trim()).ok()).collect();
        if origins.is_empty() {
            return CorsLayer::new();
        }
        AllowOrigin::list(origins)
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
        .allow_headers([
            HeaderName::from_static("x-api-key"),
            HeaderName::from_static("content-type"),
        ])
        .expose_headers([
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("retry-after"),
        ])
}
