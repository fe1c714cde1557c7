//! The error body every endpoint answers with: `{"error": {"code", "message", "details"}}`.

use serde::Serialize;
use utoipa::ToSchema;

/// An error answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorInfo,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorInfo {
    pub code: ErrorCode,
    /// For people; may change between versions (match on `code`).
    pub message: String,
    /// Machine-readable detail of some errors; null for the others.
    pub details: Option<ErrorDetails>,
}

/// Stable error codes; one is never renamed, only added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadParameter,
    NotFound,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    Unprocessable,
    Unauthorized,
    Forbidden,
    RateLimited,
    MethodNotAllowed,
    Unavailable,
    Timeout,
    Internal,
}

/// What an error says beyond its message; each field appears only with the errors it belongs
/// to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct ErrorDetails {
    /// `bad_parameter`: the query, path or body parameter at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
    /// `unprocessable`: the body field at fault (`preferences.budget`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// `unprocessable`: why the body was refused (`not_offer_data`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `payload_too_large`: the limit that was exceeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_bytes: Option<u64>,
    /// `rate_limited`, `unavailable`: seconds to wait (also the `Retry-After` header).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
    /// `forbidden`: the scope the key lacks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_scope: Option<String>,
    /// `timeout`: the request's time budget.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit_secs: Option<u64>,
    /// `conflict` of a job trigger: the run recorded as `skipped_overlap`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<i64>,
}
