//! Probes, metrics and the API description. `/health` touches nothing external; `/ready`
//! checks the catalog with a one-second timeout and answers `application/health+json`.

use crate::layers::auth::Caller;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::atomic::Ordering;
use std::time::Duration;

const HEALTH_JSON: &str = "application/health+json";

pub async fn health(State(state): State<AppState>) -> Response {
    let body = json!({ "status": "pass", "version": state.version, "uptime_secs": state.started.elapsed().as_secs() });
    ([(header::CONTENT_TYPE, HEALTH_JSON)], body.to_string()).into_response()
}

/// One readiness check with its 1 s budget: `pass`, or `fail` with what went wrong.
async fn check<T: Send + 'static>(
    what: &str,
    work: impl std::future::Future<Output = Result<T, String>>,
) -> (&'static str, Option<String>) {
    match tokio::time::timeout(Duration::from_secs(1), work).await {
        Ok(Ok(_)) => ("pass", None),
        Ok(Err(e)) => ("fail", Some(e)),
        Err(_) => ("fail", Some(format!("{what} check timed out after 1 s"))),
    }
}

/// `/ready` names what failed (the check), but only an admin key sees the error text.
pub async fn ready(State(state): State<AppState>, caller: Caller) -> Response {
    let database =
        check("database", async { state.db(|c| Ok(c.ping()?)).await.map_err(|e| e.to_string()) })
            .await;
    let mut checks = serde_json::Map::new();
    checks.insert(
        "database:responseTime".into(),
        json!([{ "status": database.0, "output": database.1 }]),
    );
    let mut ok = database.0 == "pass";
    if let Some(archive) = state.ops.as_ref().and_then(|o| o.archive.clone()) {
        // A HEAD of a key that need not exist: reachability and credentials, nothing more.
        let probe = check("archive", async move {
            tokio::task::spawn_blocking(move || archive.size("raw/.ready-probe"))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())
        })
        .await;
        ok &= probe.0 == "pass";
        checks.insert(
            "archive:responseTime".into(),
            json!([{ "status": probe.0, "output": probe.1 }]),
        );
    }
    // Redis is an optimisation: unreachable, it degrades the replica (in-process limits and
    // cache) without taking it out of the load balancer.
    let mut degraded = false;
    if let Some(shared) = &state.shared {
        let up = shared.ping().await;
        degraded = !up;
        let output = (!up).then_some("Redis does not answer; limits and cache are per process");
        checks.insert(
            "redis:responseTime".into(),
            json!([{ "status": if up { "pass" } else { "warn" }, "output": output }]),
        );
    }
    if !caller.is_admin() {
        for check in checks.values_mut() {
            check[0]["output"] = serde_json::Value::Null;
        }
    }
    let status = match (ok, degraded) {
        (false, _) => "fail",
        (true, true) => "warn",
        (true, false) => "pass",
    };
    let body = json!({ "status": status, "version": state.version, "checks": checks });
    let code = if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, [(header::CONTENT_TYPE, HEALTH_JSON)], body.to_string()).into_response()
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut text = state.metrics.render(
        state.cache.hits.load(Ordering::Relaxed),
        state.cache.misses.load(Ordering::Relaxed),
        state.version,
        state.started.elapsed().as_secs_f64(),
    );
    if let Some(shared) = &state.shared {
        let b = shared.breaker();
        text.push_str(&format!(
            "# HELP preciso_redis_errors_total Failed or timed-out Redis calls.\n\
             # TYPE preciso_redis_errors_total counter\npreciso_redis_errors_total {}\n\
             # HELP preciso_redis_degraded 1 while Redis is skipped after a failure \
             (limits and cache per process).\n# TYPE preciso_redis_degraded gauge\n\
             preciso_redis_degraded {}\n",
            b.errors.load(Ordering::Relaxed),
            u8::from(b.is_open())
        ));
    }
    let pool = state.pool_stats();
    // A scrape must not fail because the store does: freshness is then left out, and the
    // stale-data alert sees the gap.
    let freshness = state.db(|c| Ok(c.store_freshness()?)).await.unwrap_or_default();
    crate::layers::metrics::render_store(&mut text, &pool, &freshness);
    if let Some(ops) = &state.ops {
        ops.ops.metrics().render(&mut text);
        render_backups(&mut text, &ops.inputs.backup_dir);
        render_archive(&mut text);
        let disk = preciso_ops::status::disk_free(&ops.inputs.data_dir);
        text.push_str(&format!(
            "# HELP preciso_data_dir_free_bytes Free bytes on the data directory's file system.\n# TYPE preciso_data_dir_free_bytes gauge\npreciso_data_dir_free_bytes {}\n# HELP preciso_data_dir_filesystem_size_bytes Size of the data directory's file system.\n# TYPE preciso_data_dir_filesystem_size_bytes gauge\npreciso_data_dir_filesystem_size_bytes {}\n",
            disk.0, disk.1
        ));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

/// docs/OPERATIONS.md O18: the newest backup's creation time and the newest successful restore
/// drill, read from the backup directory (so backups made by the CLI count too); 0 until there
/// is one, so the alerts that read them can fire on an install that never made one.
fn render_backups(text: &mut String, dir: &std::path::Path) {
    let state = preciso_ops::status::backup_state(dir);
    let (created, verified) = (state.newest_created_at, state.newest_verified_at);
    for (name, help, at) in [
        (
            "preciso_backup_last_success_timestamp_seconds",
            "Creation time of the newest backup.",
            created,
        ),
        (
            "preciso_backup_last_verified_timestamp_seconds",
            "Time of the newest successful restore drill.",
            verified,
        ),
    ] {
        text.push_str(&format!("# HELP {name} {help} 0: never.\n# TYPE {name} gauge\n"));
        text.push_str(&format!("{name} {}\n", at.map_or(0, |at| at.timestamp())));
    }
}

/// docs/OPERATIONS.md O24: the sets of the latest archive reconciliation of this process (the
/// hourly `archive-verify` job); 0 until one ran (no drift known).
fn render_archive(text: &mut String) {
    let last = preciso_ops::archive::last_reconciliation();
    for (name, help, n) in [
        (
            "preciso_archive_missing_objects",
            "Ledger files missing from the archive.",
            last.as_ref().map(|r| r.missing_in_archive.len()),
        ),
        (
            "preciso_archive_orphan_objects",
            "Archive objects the ledger does not know.",
            last.as_ref().map(|r| r.orphan_in_archive.len()),
        ),
        (
            "preciso_archive_size_mismatch_objects",
            "Archive objects whose size differs from the ledger.",
            last.as_ref().map(|r| r.size_mismatch.len()),
        ),
    ] {
        text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} gauge\n"));
        text.push_str(&format!("{name} {}\n", n.unwrap_or(0)));
    }
}

pub async fn openapi() -> Json<serde_json::Value> {
    Json(crate::openapi::document())
}
