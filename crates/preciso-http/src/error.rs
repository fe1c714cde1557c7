//! The API's one error type: a stable machine code, a message, optional details, and one
//! mapping to HTTP status. Internal errors are logged with the request id and never leaked.

use crate::model::error::{ErrorBody, ErrorCode, ErrorDetails, ErrorInfo};
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use preciso_core::ports::StoreError;

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
    ConflictDetails { message: String, details: Box<ErrorDetails> },
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{message}")]
    Unprocessable { message: String, details: Box<ErrorDetails> },
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
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::BadParameter { .. } => ErrorCode::BadParameter,
            ApiError::NotFound(_) => ErrorCode::NotFound,
            ApiError::Conflict(_) | ApiError::ConflictDetails { .. } => ErrorCode::Conflict,
            ApiError::PayloadTooLarge { .. } => ErrorCode::PayloadTooLarge,
            ApiError::UnsupportedMediaType(_) => ErrorCode::UnsupportedMediaType,
            ApiError::Unprocessable { .. } => ErrorCode::Unprocessable,
            ApiError::Unauthorized => ErrorCode::Unauthorized,
            ApiError::Forbidden(_) => ErrorCode::Forbidden,
            ApiError::RateLimited { .. } => ErrorCode::RateLimited,
            ApiError::MethodNotAllowed => ErrorCode::MethodNotAllowed,
            ApiError::Unavailable { .. } => ErrorCode::Unavailable,
            ApiError::Timeout { .. } => ErrorCode::Timeout,
            ApiError::Internal(_) => ErrorCode::Internal,
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

    fn details(&self) -> Option<ErrorDetails> {
        let d = match self {
            ApiError::BadParameter { parameter, .. } => {
                ErrorDetails { parameter: Some(parameter.clone()), ..Default::default() }
            }
            ApiError::PayloadTooLarge { limit } => {
                ErrorDetails { limit_bytes: Some(*limit as u64), ..Default::default() }
            }
            ApiError::Unprocessable { details, .. } | ApiError::ConflictDetails { details, .. } => {
                (**details).clone()
            }
            ApiError::RateLimited { retry_after } => {
                ErrorDetails { retry_after_secs: Some(*retry_after), ..Default::default() }
            }
            ApiError::Forbidden(scope) => {
                ErrorDetails { required_scope: Some((*scope).to_string()), ..Default::default() }
            }
            ApiError::Unavailable { retry_after: Some(s), .. } => {
                ErrorDetails { retry_after_secs: Some(*s), ..Default::default() }
            }
            ApiError::Timeout { limit_secs } => {
                ErrorDetails { limit_secs: Some(*limit_secs), ..Default::default() }
            }
            _ => return None,
        };
        (d != ErrorDetails::default()).then_some(d)
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
        let body = ErrorBody {
            error: ErrorInfo {
                code: self.code(),
                message: self.to_string(),
                details: self.details(),
            },
        };
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
