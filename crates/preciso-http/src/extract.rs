//! Extractors whose rejections use the API's error shape.

use crate::error::ApiError;
use crate::params::Params;
use crate::state::AppState;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

/// The query string as `Params`.
pub struct QueryParams(pub Params);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(pairs) =
            Query::<Vec<(String, String)>>::from_request_parts(parts, state)
                .await
                .map_err(|e| ApiError::bad("query", format!("malformed query string: {e}")))?;
        Ok(QueryParams(Params::from_pairs(pairs)))
    }
}

/// A path parameter as text. Axum's own rejection (a parameter that is not UTF-8 once
/// percent-decoded) is plain text; this one is the API's error shape.
pub struct PathParam(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathParam {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|p| PathParam(p.0))
            .map_err(|e| ApiError::bad("path", format!("bad path parameter: {}", e.body_text())))
    }
}

/// A JSON body: 415 without a JSON content type, 413 over the limit, 422 when it does not
/// match the schema, 400 when it is not JSON at all.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let is_json =
            req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(
                |ct| {
                    ct.split(';')
                        .next()
                        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
                },
            );
        if !is_json {
            return Err(ApiError::UnsupportedMediaType(
                "expected Content-Type: application/json".into(),
            ));
        }
        let limit = state.config.json_body_limit;
        // Any read error here is the length limit: the body is already in memory or streaming
        // from a connection that hyper has validated.
        let bytes = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|_| ApiError::PayloadTooLarge { limit })?;
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::bad("body", format!("body is not valid JSON: {e}")))?;
        serde_json::from_value(value).map(JsonBody).map_err(|e| ApiError::Unprocessable {
            message: format!("body does not match the schema: {e}"),
            details: Default::default(),
        })
    }
}
