//! The scheduler over HTTP (docs/OPERATIONS.md O10, O11): jobs with their next fire times, manual
//! triggers (admin key; same claim, lock and overlap rules as scheduled fires), run history and
//! the status document. None of these answers is cached.

use crate::error::{ApiError, ApiResult};
use crate::extract::{PathParam, QueryParams};
use crate::layers::auth::Caller;
use crate::model::error::{ErrorBody, ErrorDetails};
use crate::model::jobs::{JobInfo, JobList, Run, RunPage};
use crate::params::{DryRun, IdPath, JobPath, Paging, RunQuery};
use crate::state::{AppState, OpsState};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use preciso_core::runs::{RunFilter, RunRecord, RunStatus, Trigger};
use preciso_ops::status::StatusDoc;
use preciso_ops::{OpsError, Triggered};
use std::sync::Arc;

fn ops(state: &AppState) -> ApiResult<Arc<OpsState>> {
    state
        .ops
        .clone()
        .ok_or_else(|| ApiError::unavailable("the scheduler is not running in this process"))
}

/// A run as a caller without an admin key sees it: error texts, planned paths and the owning
/// host left out (they name files, hosts and internals).
fn redacted(mut r: RunRecord) -> RunRecord {
    let clear = |steps: &mut Vec<preciso_core::runs::StepReport>| {
        for s in steps {
            s.error = None;
            s.planned.clear();
        }
    };
    r.error = None;
    r.owner = String::new();
    clear(&mut r.steps);
    for a in &mut r.attempts {
        a.error = None;
        clear(&mut a.steps);
    }
    r
}

/// A run, redacted unless the caller is an admin.
fn run_for(r: RunRecord, caller: &Caller) -> Run {
    if caller.is_admin() { Run::from(&r) } else { Run::from(&redacted(r)) }
}

/// Scheduled jobs with their policies and next three fire times.
#[utoipa::path(
    get,
    path = "/api/jobs",
    operation_id = "list_jobs",
    tag = "operations",
    responses(
        (status = 200, description = "Jobs.", body = JobList),
        (status = 503, description = "No scheduler in this process.", body = ErrorBody),
    )
)]
pub async fn list(State(state): State<AppState>) -> ApiResult<Json<JobList>> {
    let ops = ops(&state)?;
    let now = ops.ops.now();
    let items = ops.ops.jobs().iter().map(|j| JobInfo::new(j, now)).collect();
    Ok(Json(JobList { items, leader: ops.ops.is_leader() }))
}

/// Run a job now (admin key); the same overlap rule as scheduled fires.
#[utoipa::path(
    post,
    path = "/api/jobs/{name}/run",
    operation_id = "run_job",
    tag = "operations",
    params(JobPath, DryRun),
    responses(
        (status = 202, description = "Started: the run id.", body = Triggered),
        (status = 200, description = "Dry run: what it would do.", body = Triggered),
        (status = 403, description = "The API key lacks the admin scope.", body = ErrorBody),
        (status = 404, description = "No such job.", body = ErrorBody),
        (status = 409, description = "The job has an active run; `details.run_id` is the skipped_overlap record.", body = ErrorBody),
        (status = 503, description = "No scheduler in this process.", body = ErrorBody),
    )
)]
pub async fn trigger(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(name): PathParam,
    QueryParams(q): QueryParams,
) -> ApiResult<Response> {
    let ops = ops(&state)?;
    let dry_run = q.flag("dry_run")?;
    tracing::info!(target: "preciso::audit", key = caller.who(), action = "job.run", job = %name, dry_run, "job triggered");
    let handle = ops.ops.clone();
    let outcome = tokio::task::spawn_blocking(move || handle.trigger(&name, Trigger::Api, dry_run))
        .await
        .map_err(|e| ApiError::Internal(format!("blocking task failed: {e}")))?;
    match outcome {
        Ok(t @ Triggered::Started { .. }) => Ok((StatusCode::ACCEPTED, Json(t)).into_response()),
        Ok(t @ Triggered::DryRun { .. }) => Ok((StatusCode::OK, Json(t)).into_response()),
        Ok(Triggered::SkippedOverlap { run_id }) => Err(ApiError::ConflictDetails {
            message:
                "the job already has an active run; this trigger was recorded as skipped_overlap"
                    .into(),
            details: Box::new(ErrorDetails { run_id: Some(run_id), ..Default::default() }),
        }),
        Err(OpsError::UnknownJob(name)) => {
            Err(ApiError::NotFound(format!("no job named {name:?}")))
        }
        Err(OpsError::Store(e)) => Err(e.into()),
    }
}

/// Job runs, newest first.
#[utoipa::path(
    get,
    path = "/api/runs",
    operation_id = "list_runs",
    tag = "operations",
    params(Paging, RunQuery),
    responses(
        (status = 200, description = "Runs.", body = RunPage),
        (status = 503, description = "No scheduler in this process.", body = ErrorBody),
    )
)]
pub async fn runs(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(q): QueryParams,
) -> ApiResult<Json<RunPage>> {
    ops(&state)?;
    let page = q.page()?;
    let status = match q.typed("status")? {
        None => None,
        Some(s) => Some(
            RunStatus::parse(s)
                .ok_or_else(|| ApiError::bad("status", format!("unknown run status {s:?}")))?,
        ),
    };
    let filter = RunFilter {
        job: q.str("job").map(String::from),
        status,
        limit: page.limit,
        offset: page.offset(),
    };
    let runs = state.db(move |c| Ok(c.runs(&filter)?)).await?;
    let items = runs.into_iter().map(|r| run_for(r, &caller)).collect();
    Ok(Json(RunPage { items, page: page.page, limit: page.limit }))
}

/// One run with every attempt and step.
#[utoipa::path(
    get,
    path = "/api/runs/{id}",
    operation_id = "get_run",
    tag = "operations",
    params(IdPath),
    responses(
        (status = 200, description = "The run.", body = Run),
        (status = 404, description = "No such run.", body = ErrorBody),
        (status = 503, description = "No scheduler in this process.", body = ErrorBody),
    )
)]
pub async fn run(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam,
) -> ApiResult<Json<Run>> {
    ops(&state)?;
    let id: i64 = id.parse().map_err(|_| ApiError::bad("id", "a run id is a positive integer"))?;
    let run = state.db(move |c| Ok(c.run(id)?)).await?;
    run.map(|r| Json(run_for(r, &caller))).ok_or_else(|| ApiError::NotFound(format!("no run {id}")))
}

/// The status document (as `status.json`; schema `docs/status.schema.json`).
#[utoipa::path(
    get,
    path = "/api/status",
    operation_id = "status",
    tag = "operations",
    responses(
        (status = 200, description = "Status.", body = StatusDoc),
        (status = 503, description = "No scheduler in this process.", body = ErrorBody),
    )
)]
pub async fn status(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<StatusDoc>> {
    let ops = ops(&state)?;
    let docs = ops.status().await?;
    Ok(Json(if caller.is_admin() { docs.full.clone() } else { docs.redacted.clone() }))
}
