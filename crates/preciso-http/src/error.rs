//! The API's one error type: a stable machine code, a message, optional details, and one
//! mapping to HTTP status. Internal errors are logged with the request id and never leaked.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use preciso_core::ports::StoreError;
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadParameter { parameter: String, message: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// A conflict with data the client needs (e.g. the run id a skipped trigger recorded).
    #[error("{message}")]
    ConflictDetails { message: String, details: Value },
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{message}")]
    Unprocessable { message: String, details: Value },
    #[error("missing or invalid API key")]
    Unauthorized,
    #[error("this API key lacks the {0:?} scope")]
    Forbidden(&'static str),
    #[error("rate limit exceeded; retry after {retry_after} s")]
    RateLimited { retry_after: u64 },
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("the service is not ready: {message}")]
    Unavailable { message: String, retry_after: Option<u64> },
    #[error("the request took longer than {limit_secs} s")]
    Timeout { limit_secs: u64 },
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn bad(parameter: &str, message: impl Into<String>) -> Self {
        ApiError::BadParameter { parameter: parameter.to_string(), message: message.into() }
    }

    /// Stable codes, documented in the OpenAPI description.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadParameter { .. } => "bad_parameter",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) | ApiError::ConflictDetails { .. } => "conflict",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::Unprocessable { .. } => "unprocessable",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Unavailable { .. } => "unavailable",
            ApiError::Timeout { .. } => "timeout",
            ApiError::Internal(_) => "internal",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadParameter { .. } => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) | ApiError::ConflictDetails { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unavailable { .. } | ApiError::Timeout { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn details(&self) -> Value {
        match self {
            ApiError::BadParameter { parameter, .. } => json!({ "parameter": parameter }),
            ApiError::PayloadTooLarge { limit } => json!({ "limit_bytes": limit }),
            ApiError::Unprocessable { details, .. } => details.clone(),
            ApiError::ConflictDetails { details, .. } => details.clone(),
            ApiError::RateLimited { retry_after } => json!({ "retry_after_secs": retry_after }),
            ApiError::Forbidden(scope) => json!({ "required_scope": scope }),
            ApiError::Unavailable { retry_after: Some(s), .. } => json!({ "retry_after_secs": s }),
            ApiError::Timeout { limit_secs } => json!({ "limit_secs": limit_secs }),
            _ => Value::Null,
        }
    }
}

/// How long a client should wait before retrying when the database is unavailable.
const DATABASE_RETRY_SECS: u64 = 5;

impl ApiError {
    /// 503 without a retry hint (the feature is off in this process).
    pub fn unavailable(message: impl Into<String>) -> Self {
        ApiError::Unavailable { message: message.into(), retry_after: None }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound("not found".into()),
            StoreError::Conflict(m) => ApiError::Conflict(m),
            StoreError::Unavailable(m) => {
                // The cause names hosts and internals: logged, not answered.
                tracing::warn!(error = %m, "database unavailable");
                ApiError::Unavailable {
                    message: "the database is unavailable; retry later".into(),
                    retry_after: Some(DATABASE_RETRY_SECS),
                }
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(detail) = &self {
            tracing::error!(error = %detail, "internal error");
        }
        let body = json!({
            "error": { "code": self.code(), "message": self.to_string(), "details": self.details() }
        });
        let mut response = (self.status(), Json(body)).into_response();
        let retry_after = match self {
            ApiError::RateLimited { retry_after } => Some(retry_after),
            ApiError::Unavailable { retry_after, .. } => retry_after,
            _ => None,
        };
        if let Some(v) = retry_after.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if let ApiError::Unauthorized = self {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("ApiKey"));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
