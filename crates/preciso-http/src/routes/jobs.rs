//! The scheduler over HTTP (docs/OPERATIONS.md O10, O11): jobs with their next fire times, manual
//! triggers (admin key; same claim, lock and overlap rules as scheduled fires), run history and
//! the status document. None of these answers is cached.

use crate::error::{ApiError, ApiResult};
use crate::extract::{PathParam, QueryParams};
use crate::layers::auth::Caller;
use crate::state::{AppState, OpsState};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use preciso_core::runs::{RunFilter, RunRecord, RunStatus, Trigger};
use preciso_ops::clock::from_millis;
use preciso_ops::{JobSpec, OpsError, Triggered};
use serde_json::{Value, json};
use std::sync::Arc;

fn ops(state: &AppState) -> ApiResult<Arc<OpsState>> {
    state
        .ops
        .clone()
        .ok_or_else(|| ApiError::unavailable("the scheduler is not running in this process"))
}

fn time(ms: i64) -> DateTime<Utc> {
    from_millis(ms)
}

pub fn run_json(r: &RunRecord) -> Value {
    json!({
        "id": r.id,
        "job": r.job,
        "trigger": r.trigger,
        "scheduled_for": time(r.scheduled_for),
        "status": r.status,
        "attempt": r.attempt,
        "dry_run": r.dry_run,
        "owner": r.owner,
        "started_at": time(r.started_at),
        "finished_at": r.finished_at.map(time),
        "duration_ms": r.duration_ms(),
        "error": r.error,
        "steps": r.steps,
        "attempts": r.attempts.iter().map(|a| json!({
            "attempt": a.attempt,
            "status": a.status,
            "started_at": time(a.started_at),
            "finished_at": a.finished_at.map(time),
            "error": a.error,
            "steps": a.steps,
        })).collect::<Vec<_>>(),
    })
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

/// `run_json`, redacted unless the caller is an admin.
fn run_for(r: RunRecord, caller: &Caller) -> Value {
    if caller.is_admin() { run_json(&r) } else { run_json(&redacted(r)) }
}

pub fn job_json(spec: &JobSpec, now: DateTime<Utc>) -> Value {
    let next: Vec<Value> = spec
        .schedule
        .as_ref()
        .map(|s| {
            s.upcoming(now, 3)
                .into_iter()
                .map(|t| json!({ "utc": t, "local": t.with_timezone(&s.tz()).to_rfc3339() }))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "name": spec.name,
        "description": spec.description,
        "enabled": spec.schedule.is_some(),
        "cron": spec.schedule.as_ref().map(|s| s.expr()),
        "timezone": spec.schedule.as_ref().map(|s| s.tz().name()),
        "misfire": spec.misfire,
        "overlap": spec.overlap,
        "grace_secs": spec.grace.as_secs(),
        "timeout_secs": spec.timeout.as_secs(),
        "retry_attempts": spec.retry.attempts,
        "next_runs": next,
    })
}

pub async fn list(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let ops = ops(&state)?;
    let now = ops.ops.now();
    let items: Vec<Value> = ops.ops.jobs().iter().map(|j| job_json(j, now)).collect();
    Ok(Json(json!({ "items": items, "leader": ops.ops.is_leader() })))
}

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
            details: json!({ "run_id": run_id }),
        }),
        Err(OpsError::UnknownJob(name)) => {
            Err(ApiError::NotFound(format!("no job named {name:?}")))
        }
        Err(OpsError::Store(e)) => Err(e.into()),
    }
}

pub async fn runs(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(q): QueryParams,
) -> ApiResult<Json<Value>> {
    ops(&state)?;
    let page = q.page()?;
    let status = match q.str("status") {
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
    let items: Vec<Value> = runs.into_iter().map(|r| run_for(r, &caller)).collect();
    Ok(Json(json!({ "items": items, "page": page.page, "limit": page.limit })))
}

pub async fn run(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam,
) -> ApiResult<Json<Value>> {
    ops(&state)?;
    let id: i64 = id.parse().map_err(|_| ApiError::bad("id", "a run id is a positive integer"))?;
    let run = state.db(move |c| Ok(c.run(id)?)).await?;
    run.map(|r| Json(run_for(r, &caller))).ok_or_else(|| ApiError::NotFound(format!("no run {id}")))
}

pub async fn status(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    let ops = ops(&state)?;
    let docs = ops.status().await?;
    Ok(Json(if caller.is_admin() { docs.full.clone() } else { docs.redacted.clone() }))
}
