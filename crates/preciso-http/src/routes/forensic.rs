//! The forensic analysis over HTTP (issue #18, SPEC §5): runs are queued (`202` with the job
//! id and a `Location`), taken by the process's analysis workers (at most
//! `quality.concurrency` at once, the rest `queued`), followed by phase and percent, and their
//! reports served as stored — immutable once succeeded — as JSON, CSV or one self-contained
//! HTML page. The score history gives each store's trend. Never cached.

use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, PathParam, QueryParams};
use crate::layers::auth::Caller;
use crate::model::error::{ErrorBody, ErrorDetails};
use crate::model::forensic::{
    AnalysisAccepted, AnalysisPage, AnalysisRun, BatchAccepted, BatchRequest, ScoreHistory,
};
use crate::params::{AnalysisListQuery, ExportQuery, JobIdPath, Paging, ScoreQuery};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use preciso_core::domain::StoreId;
use preciso_core::quality::engine::Report;
use preciso_core::quality::runs::{AnalysisRequest, AnalysisStatus};
use preciso_ops::forensic::{AnalysisQueue, MAX_BATCH, SubmitError};
use std::sync::Arc;

fn queue(state: &AppState) -> ApiResult<Arc<AnalysisQueue>> {
    state
        .analyses
        .clone()
        .ok_or_else(|| ApiError::unavailable("analysis runs are not served by this process"))
}

fn job_id(raw: &str) -> ApiResult<i64> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id >= 1)
        .ok_or_else(|| ApiError::bad("job_id", "a job id is a positive integer"))
}

/// A scope from the body: an object (serde would also read a struct from an array).
fn scope_from(value: serde_json::Value, field: &str) -> ApiResult<AnalysisRequest> {
    let unprocessable = |message: String| ApiError::Unprocessable {
        message,
        details: Box::new(ErrorDetails { field: Some(field.into()), ..Default::default() }),
    };
    if !value.is_object() {
        return Err(unprocessable(format!("{field}: a scope is a JSON object")));
    }
    serde_json::from_value(value)
        .map_err(|e| unprocessable(format!("body does not match the schema: {e}")))
}

async fn submit(
    state: &AppState,
    caller: &Caller,
    requests: Vec<AnalysisRequest>,
) -> ApiResult<Vec<i64>> {
    let queue = queue(state)?;
    tracing::info!(target: "preciso::audit", key = caller.who(), action = "analysis.queue", runs = requests.len(), "analysis queued");
    let outcome = tokio::task::spawn_blocking(move || queue.submit(&requests, "api"))
        .await
        .map_err(|e| ApiError::Internal(format!("blocking task failed: {e}")))?;
    outcome.map_err(|e| match e {
        SubmitError::Request(r) => ApiError::Unprocessable {
            message: r.to_string(),
            details: Box::new(ErrorDetails { field: Some(r.field.into()), ..Default::default() }),
        },
        SubmitError::Store(s) => s.into(),
        full @ SubmitError::Full { .. } => {
            ApiError::Unavailable { message: full.to_string(), retry_after: Some(60) }
        }
    })
}

/// Analyse a scope (every field optional: `{}` is the whole catalog); `202` with the job id.
#[utoipa::path(
    post,
    path = "/api/forensic/analyze",
    operation_id = "analyze",
    tag = "forensic",
    request_body = AnalysisRequest,
    responses(
        (status = 202, description = "Queued; `Location` is its status.", body = AnalysisAccepted,
            headers(("Location" = String, description = "The run's status document."))),
        (status = 403, description = "The API key lacks the write scope.", body = ErrorBody),
        (status = 413, description = "Body too large.", body = ErrorBody),
        (status = 415, description = "Content-Type is not application/json.", body = ErrorBody),
        (status = 422, description = "Body does not match the schema, or a field cannot be read (`details.field`).", body = ErrorBody),
        (status = 503, description = "Too many runs queued, or no analysis workers in this process.", body = ErrorBody),
    )
)]
pub async fn analyze(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> ApiResult<Response> {
    let request = scope_from(body, "body")?;
    let ids = submit(&state, &caller, vec![request]).await?;
    let accepted = AnalysisAccepted::queued(ids[0]);
    let location = HeaderValue::from_str(&accepted.location)
        .map_err(|e| ApiError::Internal(format!("location header: {e}")))?;
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, location)], Json(accepted)).into_response())
}

/// Analyse several scopes: one run each, in order; all queued or none.
#[utoipa::path(
    post,
    path = "/api/forensic/batch-analyze",
    operation_id = "batch_analyze",
    tag = "forensic",
    request_body = BatchRequest,
    responses(
        (status = 202, description = "Queued, one job id per scope.", body = BatchAccepted),
        (status = 403, description = "The API key lacks the write scope.", body = ErrorBody),
        (status = 413, description = "Body too large.", body = ErrorBody),
        (status = 415, description = "Content-Type is not application/json.", body = ErrorBody),
        (status = 422, description = "Not 1 to 20 scopes, or a field of one cannot be read (`details.field`).", body = ErrorBody),
        (status = 503, description = "Too many runs queued, or no analysis workers in this process.", body = ErrorBody),
    )
)]
pub async fn batch(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<serde_json::Value>,
) -> ApiResult<(StatusCode, Json<BatchAccepted>)> {
    let scopes = match body {
        serde_json::Value::Object(mut map) => map.remove("scopes").filter(|_| map.is_empty()),
        _ => None,
    };
    let Some(serde_json::Value::Array(scopes)) = scopes else {
        return Err(ApiError::Unprocessable {
            message: "the body is an object with one field, scopes: an array of scopes".into(),
            details: Box::new(ErrorDetails { field: Some("scopes".into()), ..Default::default() }),
        });
    };
    let body = BatchRequest {
        scopes: scopes.into_iter().map(|s| scope_from(s, "scopes")).collect::<ApiResult<_>>()?,
    };
    if body.scopes.is_empty() || body.scopes.len() > MAX_BATCH {
        return Err(ApiError::Unprocessable {
            message: format!("scopes: 1 to {MAX_BATCH} scopes, got {}", body.scopes.len()),
            details: Box::new(ErrorDetails { field: Some("scopes".into()), ..Default::default() }),
        });
    }
    let ids = submit(&state, &caller, body.scopes).await?;
    let jobs = ids.into_iter().map(AnalysisAccepted::queued).collect();
    Ok((StatusCode::ACCEPTED, Json(BatchAccepted { jobs })))
}

/// A run's status: queued, running (phase 1–5 and percent), succeeded, failed or abandoned.
#[utoipa::path(
    get,
    path = "/api/forensic/status/{job_id}",
    operation_id = "analysis_status",
    tag = "forensic",
    params(JobIdPath),
    responses(
        (status = 200, description = "The run.", body = AnalysisRun),
        (status = 404, description = "No such run.", body = ErrorBody),
    )
)]
pub async fn status(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(raw): PathParam,
) -> ApiResult<Json<AnalysisRun>> {
    let id = job_id(&raw)?;
    let record = state.db(move |c| Ok(c.analysis(id)?)).await?;
    let record = record.ok_or_else(|| ApiError::NotFound(format!("no analysis run {id}")))?;
    Ok(Json(AnalysisRun::new(record, caller.is_admin())))
}

/// The stored report of a succeeded run, byte for byte (keys sorted).
pub(crate) async fn stored_report(state: &AppState, id: i64) -> ApiResult<String> {
    let (record, report) = state.db(move |c| Ok((c.analysis(id)?, c.analysis_report(id)?))).await?;
    let record = record.ok_or_else(|| ApiError::NotFound(format!("no analysis run {id}")))?;
    report.ok_or_else(|| {
        ApiError::Conflict(format!(
            "analysis run {id} is {}; its report exists once it has succeeded",
            record.status.as_str()
        ))
    })
}

fn json_response(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// A succeeded run's report.
#[utoipa::path(
    get,
    path = "/api/forensic/analysis/{job_id}",
    operation_id = "analysis_result",
    tag = "forensic",
    params(JobIdPath),
    responses(
        (status = 200, description = "The report.", body = Report),
        (status = 404, description = "No such run.", body = ErrorBody),
        (status = 409, description = "The run has not succeeded (queued, running, failed or abandoned).", body = ErrorBody),
    )
)]
pub async fn result(
    State(state): State<AppState>,
    PathParam(raw): PathParam,
) -> ApiResult<Response> {
    let id = job_id(&raw)?;
    Ok(json_response(stored_report(&state, id).await?))
}

/// A succeeded run's report as JSON (canonical), CSV (one row per example) or one
/// self-contained HTML page.
#[utoipa::path(
    get,
    path = "/api/forensic/export/{job_id}",
    operation_id = "analysis_export",
    tag = "forensic",
    params(JobIdPath, ExportQuery),
    responses(
        (status = 200, description = "The report in the format asked.",
            content(
                (Report = "application/json"),
                (String = "text/csv"),
                (String = "text/html"),
            )),
        (status = 404, description = "No such run.", body = ErrorBody),
        (status = 409, description = "The run has not succeeded.", body = ErrorBody),
    )
)]
pub async fn export(
    State(state): State<AppState>,
    PathParam(raw): PathParam,
    QueryParams(q): QueryParams,
) -> ApiResult<Response> {
    let id = job_id(&raw)?;
    let format = q.typed("format")?.unwrap_or("json").to_string();
    if !matches!(format.as_str(), "json" | "csv" | "html") {
        return Err(ApiError::bad("format", "format is json, csv or html"));
    }
    let text = stored_report(&state, id).await?;
    if format == "json" {
        return Ok(json_response(text));
    }
    let report: Report = serde_json::from_str(&text)
        .map_err(|e| ApiError::Internal(format!("stored report {id}: {e}")))?;
    let disposition = |ext: &str| {
        HeaderValue::from_str(&format!("attachment; filename=\"preciso-analysis-{id}.{ext}\""))
            .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
    };
    if format == "csv" {
        let mut out = Vec::new();
        crate::views::quality::report_csv(&report, &mut out)
            .map_err(|e| ApiError::Internal(format!("writing CSV: {e}")))?;
        return Ok((
            [
                (header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")),
                (header::CONTENT_DISPOSITION, disposition("csv")),
            ],
            out,
        )
            .into_response());
    }
    let page = crate::views::quality::report_html(&report);
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
            // Its one inline style sheet, nothing else: the page loads nothing.
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
                ),
            ),
        ],
        page,
    )
        .into_response())
}

/// Analysis runs, newest first.
#[utoipa::path(
    get,
    path = "/api/forensic/list",
    operation_id = "list_analyses",
    tag = "forensic",
    params(Paging, AnalysisListQuery),
    responses(
        (status = 200, description = "A page of runs.", body = AnalysisPage),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(q): QueryParams,
) -> ApiResult<Json<AnalysisPage>> {
    let page = q.page()?;
    let status = match q.typed("status")? {
        None => None,
        Some(s) => Some(
            AnalysisStatus::parse(s)
                .ok_or_else(|| ApiError::bad("status", format!("unknown run status {s:?}")))?,
        ),
    };
    let (limit, offset) = (page.limit, page.offset());
    let runs = state.db(move |c| Ok(c.analyses(status, limit, offset)?)).await?;
    let admin = caller.is_admin();
    let items = runs.into_iter().map(|r| AnalysisRun::new(r, admin)).collect();
    Ok(Json(AnalysisPage { items, page: page.page, limit: page.limit }))
}

/// Store scores over time from the whole-store runs (scheduled and API), oldest first.
#[utoipa::path(
    get,
    path = "/api/forensic/scores",
    operation_id = "score_history",
    tag = "forensic",
    params(ScoreQuery),
    responses(
        (status = 200, description = "The points.", body = ScoreHistory),
    )
)]
pub async fn scores(
    State(state): State<AppState>,
    QueryParams(q): QueryParams,
) -> ApiResult<Json<ScoreHistory>> {
    let store = match q.typed("store")? {
        Some(s) => Some(
            StoreId::parse(s).map_err(|_| ApiError::bad("store", format!("not a store: {s:?}")))?,
        ),
        None => None,
    };
    let since = match q.typed("since")? {
        Some(s) => Some(
            preciso_ops::forensic::parse_time("since", s)
                .map_err(|e| ApiError::bad("since", e.message))?,
        ),
        None => None,
    };
    let limit = q.int("limit", 1, 1000)?.unwrap_or(100) as u32;
    let items = state.db(move |c| Ok(c.score_history(store.as_ref(), since, limit)?)).await?;
    Ok(Json(ScoreHistory { items }))
}
