//! The router: every path of docs/API.md (with and without a trailing slash), the fallbacks that
//! keep the error shape for unknown paths and methods, and the layers in order.

mod archivos;
mod catalog;
mod compare;
mod health;
pub(crate) mod jobs;
mod offers;
mod reports;
mod users;

use crate::error::ApiError;
use crate::layers::{auth, cache, deadline, observe};
use crate::state::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method};
use axum::middleware::from_fn_with_state;
use axum::routing::{MethodRouter, get, post};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Registers `path` and `path/` (docs/API.md: trailing slashes are accepted).
fn both(router: Router<AppState>, path: &str, handler: MethodRouter<AppState>) -> Router<AppState> {
    router.route(path, handler.clone()).route(&format!("{path}/"), handler)
}

pub fn router(state: AppState) -> Router {
    let mut r = Router::new();
    for (path, handler) in [
        ("/api/best-prices/{*category}", get(offers::best_prices)),
        ("/api/price-comparison", get(compare::price_comparison)),
        ("/api/ranked-offers", get(offers::ranked)),
        ("/api/trending-offers", get(offers::trending)),
        ("/api/reports/store-comparison", get(reports::store_comparison)),
        ("/api/reports/price-analysis/{*category}", get(reports::price_analysis)),
        ("/api/users", get(users::list).post(users::create)),
        ("/api/users/create", post(users::create)),
        ("/api/users/{id}", get(users::get).put(users::update).delete(users::delete)),
        ("/api/brands", get(catalog::brands)),
        ("/api/categories", get(catalog::categories)),
        ("/api/stores", get(catalog::stores)),
        ("/api/offers/{id}", get(offers::detail)),
        ("/api/offers/{id}/history", get(offers::history)),
        ("/api/archivos", get(archivos::list).post(archivos::upload)),
        ("/api/jobs", get(jobs::list)),
        ("/api/jobs/{name}/run", post(jobs::trigger)),
        ("/api/runs", get(jobs::runs)),
        ("/api/runs/{id}", get(jobs::run)),
        ("/api/status", get(jobs::status)),
        ("/api/openapi.json", get(health::openapi)),
        ("/health", get(health::health)),
        ("/ready", get(health::ready)),
        ("/metrics", get(health::metrics)),
    ] {
        // Wildcard routes already match a trailing slash as part of the capture.
        r = if path.contains("{*") { r.route(path, handler) } else { both(r, path, handler) };
    }
    let body_limit = state.config.upload_limit.max(state.config.json_body_limit);
    r.fallback(|| async { ApiError::NotFound("no such endpoint".into()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(from_fn_with_state(state.clone(), cache::cached))
        .layer(from_fn_with_state(state.clone(), auth::guard))
        .layer(cors(&state))
        .layer(from_fn_with_state(state.clone(), deadline::deadline))
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
