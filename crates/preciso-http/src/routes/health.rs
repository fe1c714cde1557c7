//! Probes, metrics and the API description. `/health` touches nothing external; `/ready`
//! checks the catalog with a one-second timeout and answers `application/health+json`.

use crate::layers::auth::Caller;
use crate::model::error::ErrorBody;
use crate::model::health::{Check, Health, HealthStatus, Readiness};
use crate::state::AppState;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use metrics::{counter, gauge};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

const HEALTH_JSON: &str = "application/health+json";

/// A probe's body as `application/health+json`.
fn health_json(code: StatusCode, body: &impl Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (code, [(header::CONTENT_TYPE, HEALTH_JSON)], bytes).into_response(),
        Err(e) => crate::error::ApiError::Internal(e.to_string()).into_response(),
    }
}

/// Liveness (touches nothing external).
#[utoipa::path(
    get,
    path = "/health",
    operation_id = "health",
    tag = "probes",
    responses((status = 200, description = "Alive.", body = Health, content_type = "application/health+json"))
)]
pub async fn health(State(state): State<AppState>) -> Response {
    let body = Health {
        status: HealthStatus::Pass,
        version: state.version.to_string(),
        uptime_secs: state.started.elapsed().as_secs(),
    };
    health_json(StatusCode::OK, &body)
}

/// One readiness check with its 1 s budget: `pass`, or `fail` with what went wrong.
async fn check<T: Send + 'static>(
    what: &str,
    work: impl std::future::Future<Output = Result<T, String>>,
) -> Check {
    let (status, output) = match tokio::time::timeout(Duration::from_secs(1), work).await {
        Ok(Ok(_)) => (HealthStatus::Pass, None),
        Ok(Err(e)) => (HealthStatus::Fail, Some(e)),
        Err(_) => (HealthStatus::Fail, Some(format!("{what} check timed out after 1 s"))),
    };
    Check { status, output }
}

/// `/ready` names what failed (the check), but only an admin key sees the error text.
#[utoipa::path(
    get,
    path = "/ready",
    operation_id = "ready",
    tag = "probes",
    responses(
        (status = 200, description = "Ready (status pass or warn: Redis, when used, is a degraded check).", body = Readiness, content_type = "application/health+json"),
        (status = 401, description = "An invalid API key.", body = ErrorBody),
        (status = 429, description = "Too many invalid API keys from this address.", body = ErrorBody),
        (status = 503, description = "Not ready (the database does not answer within 1 s, or the archive does not).", body = Readiness, content_type = "application/health+json"),
    )
)]
pub async fn ready(State(state): State<AppState>, caller: Caller) -> Response {
    let mut checks = BTreeMap::new();
    let database = check("database", async {
        state.db_unqueued(|c| Ok(c.ping()?)).await.map_err(|e| e.to_string())
    })
    .await;
    let mut ok = database.status == HealthStatus::Pass;
    checks.insert("database:responseTime".to_string(), vec![database]);
    if let Some(archive) = state.ops.as_ref().and_then(|o| o.archive.clone()) {
        // A HEAD of a key that need not exist: reachability and credentials, nothing more.
        let probe = check("archive", async move {
            tokio::task::spawn_blocking(move || archive.size("raw/.ready-probe"))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())
        })
        .await;
        ok &= probe.status == HealthStatus::Pass;
        checks.insert("archive:responseTime".to_string(), vec![probe]);
    }
    // Redis is an optimisation: unreachable, it degrades the replica (in-process limits and
    // cache) without taking it out of the load balancer.
    let mut degraded = false;
    if let Some(shared) = &state.shared {
        let up = shared.ping().await;
        degraded = !up;
        let check = if up {
            Check { status: HealthStatus::Pass, output: None }
        } else {
            let output = "Redis does not answer; limits and cache are per process";
            Check { status: HealthStatus::Warn, output: Some(output.into()) }
        };
        checks.insert("redis:responseTime".to_string(), vec![check]);
    }
    if !caller.is_admin() {
        checks.values_mut().flatten().for_each(|c| c.output = None);
    }
    let status = match (ok, degraded) {
        (false, _) => HealthStatus::Fail,
        (true, true) => HealthStatus::Warn,
        (true, false) => HealthStatus::Pass,
    };
    let body = Readiness { status, version: state.version.to_string(), checks };
    health_json(if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, &body)
}

/// `/metrics`: the values read at scrape time are set into the registry, then it renders.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "probes",
    responses((status = 200, description = "Prometheus text exposition format.", body = String, content_type = "text/plain"))
)]
pub async fn metrics(State(state): State<AppState>) -> Response {
    // A scrape must not fail because the store does: freshness is then left out, and the
    // stale-data alert sees the gap.
    let freshness = state.db(|c| Ok(c.store_freshness()?)).await.unwrap_or_default();
    let pool = state.pool_stats();
    state.telemetry.record(|| {
        record_server(&state);
        record_store(&pool, &freshness);
        if let Some(ops) = &state.ops {
            record_backups(&ops.inputs.backup_dir);
            record_archive(ops.ops.view().last_reconciliation());
            let (free, size) = preciso_ops::status::disk_free(&ops.inputs.data_dir);
            gauge!("preciso_data_dir_free_bytes").set(free as f64);
            gauge!("preciso_data_dir_filesystem_size_bytes").set(size as f64);
        }
    });
    let text = state.telemetry.render();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

/// Build, uptime, response cache, catalog call permits and the Redis breaker. (Ingest totals
/// are counted as runs end, by the upload handler and the ingest jobs.)
fn record_server(state: &AppState) {
    let build = [("version", state.version.to_string()), ("commit", env!("PRECISO_COMMIT").into())];
    gauge!("preciso_build_info", &build).set(1.0);
    gauge!("preciso_uptime_seconds").set(state.started.elapsed().as_secs_f64());
    counter!("preciso_cache_hits_total").absolute(state.cache.hits.load(Ordering::Relaxed));
    counter!("preciso_cache_misses_total").absolute(state.cache.misses.load(Ordering::Relaxed));
    if let Some(permits) = &state.db_permits {
        gauge!("preciso_db_permits_in_use").set(permits.in_use() as f64);
        gauge!("preciso_db_permits_max").set(permits.max as f64);
        counter!("preciso_db_permit_waits_total").absolute(permits.waits.load(Ordering::Relaxed));
    }
    if let Some(shared) = &state.shared {
        let b = shared.breaker();
        counter!("preciso_redis_errors_total").absolute(b.errors.load(Ordering::Relaxed));
        gauge!("preciso_redis_degraded").set(f64::from(u8::from(b.is_open())));
    }
}

/// The store's gauges: connection pool use (USE) and the newest scrape per store (data
/// freshness; one series per store, a bounded set).
fn record_store(
    pool: &preciso_core::ports::PoolStats,
    freshness: &[(preciso_core::domain::StoreId, Option<i64>)],
) {
    gauge!("preciso_db_pool_connections_in_use").set(pool.in_use as f64);
    gauge!("preciso_db_pool_connections_open").set(pool.open as f64);
    gauge!("preciso_db_pool_connections_max").set(pool.max as f64);
    counter!("preciso_db_pool_waits_total").absolute(pool.waits);
    gauge!("preciso_db_pool_wait_seconds").set(pool.wait_seconds);
    for (store, seen) in freshness {
        if let Some(seen) = seen {
            gauge!("preciso_store_last_scraped_timestamp_seconds", "store" => store.to_string())
                .set(*seen as f64);
        }
    }
}

/// docs/OPERATIONS.md O18: the newest backup's creation time and the newest successful restore
/// drill, read from the backup directory (so backups made by the CLI count too); 0 until there
/// is one, so the alerts that read them can fire on an install that never made one.
fn record_backups(dir: &std::path::Path) {
    let state = preciso_ops::status::backup_state(dir);
    let at = |t: Option<chrono::DateTime<chrono::Utc>>| t.map_or(0.0, |t| t.timestamp() as f64);
    gauge!("preciso_backup_last_success_timestamp_seconds").set(at(state.newest_created_at));
    gauge!("preciso_backup_last_verified_timestamp_seconds").set(at(state.newest_verified_at));
}

/// docs/OPERATIONS.md O24: the sets of the latest archive reconciliation of this process (the
/// hourly `archive-verify` job); 0 until one ran (no drift known).
fn record_archive(last: Option<preciso_ops::archive::Reconciliation>) {
    let count = |f: fn(&preciso_ops::archive::Reconciliation) -> usize| {
        last.as_ref().map_or(0.0, |r| f(r) as f64)
    };
    gauge!("preciso_archive_missing_objects").set(count(|r| r.missing_in_archive.len()));
    gauge!("preciso_archive_orphan_objects").set(count(|r| r.orphan_in_archive.len()));
    gauge!("preciso_archive_size_mismatch_objects").set(count(|r| r.size_mismatch.len()));
}

/// This document. It is free-form here: the one response whose schema is not spelled out.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    operation_id = "openapi",
    tag = "probes",
    responses((status = 200, description = "The OpenAPI 3.1 document.", body = Object))
)]
pub async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        axum::body::Bytes::from_static(crate::openapi::document_bytes()),
    )
        .into_response()
}
