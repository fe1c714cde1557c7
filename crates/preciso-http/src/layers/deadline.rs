//! The request timeout: a request that is not answered within `request_timeout` (uploads:
//! `upload_timeout`) gets a 503 with code `timeout`, and the connection is closed (its body
//! may be half read). The handler's future is dropped; work it started elsewhere sees that
//! (an upload's ingest is cancelled after its current batch).

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

fn is_upload(req: &Request) -> bool {
    req.method() == Method::POST && req.uri().path().trim_end_matches('/') == "/api/archivos"
}

pub async fn deadline(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit =
        if is_upload(&req) { state.config.upload_timeout } else { state.config.request_timeout };
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            let limit_secs = limit.as_secs();
            tracing::warn!(limit_secs, "request timed out");
            let mut response = ApiError::Timeout { limit_secs }.into_response();
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}
