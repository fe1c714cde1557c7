//! `preciso serve`: the API on a bound listener, graceful shutdown on SIGINT/SIGTERM with a
//! deadline, and a watcher that empties the response cache when another process (a CLI
//! ingest, a scheduled one on another replica) finishes an ingest run.

use crate::settings::Settings;
use anyhow::{Context, Result};
use preciso_core::ports::Catalog;
use preciso_http::{AppState, HttpConfig, OpsState, RedisShared, UploadConfig};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Threads of the blocking pool (database calls, uploads, scheduled jobs).
const BLOCKING_THREADS: usize = 24;

pub fn run(settings: &Settings) -> Result<ExitCode> {
    // Database calls run on the blocking pool but never more at once than the store's pool
    // has connections (plus uploads and jobs): more threads would only wait, each keeping its
    // own allocator heap.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS)
        .build()
        .context("starting the runtime")?;
    runtime.block_on(serve(settings, |addr| {
        println!(
            "preciso listening on http://{addr}  (API: /api/…, health: /health, metrics: /metrics)"
        );
    }))?;
    Ok(ExitCode::SUCCESS)
}

/// `http.db_concurrency`, or its automatic value: two calls per core of this host at once, up
/// to one less than the backend's pool, so the readiness probe and uploads, which take no
/// permit, still find a connection. On SQLite the reads are this process's CPU work: one
/// computes while the other waits on the disk or on its answer being written (on two cores 4
/// gave the mixed load's lowest p99, 3 and 5 a little more, 6 the most). On PostgreSQL they
/// run on the server, whose cores this process does not know; this host's are the guess that
/// holds where the two share a machine or are sized alike, and FIFO turns here beat the
/// server's time-sharing: on two cores shared with the server, p99 191 ms with the pool's 16
/// at once against 79–94 ms with 2–4 (docs/DECISIONS.md, "Catalog reads wait their turn").
fn db_concurrency(settings: &Settings) -> usize {
    match settings.http.db_concurrency {
        0 => {
            let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
            let pool = if crate::backend::in_process(&settings.database_url()) {
                preciso_store_sqlite::MAX_CONNECTIONS
            } else {
                preciso_store_postgres::MAX_CONNECTIONS
            };
            (2 * cores).min(pool - 1)
        }
        n => n,
    }
}

pub fn http_config(settings: &Settings) -> HttpConfig {
    let h = &settings.http;
    HttpConfig {
        require_auth_for_reads: settings.auth.require_for_reads,
        rate_limit_per_minute: h.rate_limit_per_minute,
        cors_origins: h.cors_origins.clone(),
        cache_ttl: Duration::from_secs(h.cache_ttl_secs),
        cache_max_bytes: h.cache_max_bytes,
        json_body_limit: h.json_body_limit_bytes,
        upload_limit: h.upload_limit_bytes,
        behind_tls: h.behind_tls,
        // Validated with the rest of the settings.
        trusted_proxies: h.proxies().unwrap_or_default(),
        default_currency: settings.catalog.currency().ok().flatten(),
        limits: preciso_http::server::ServerLimits {
            header_read_timeout: Duration::from_secs(h.header_read_timeout_secs),
            keepalive_timeout: Duration::from_secs(h.keepalive_timeout_secs),
            max_connections: h.max_connections,
        },
        request_timeout: Duration::from_secs(h.request_timeout_secs),
        upload_timeout: Duration::from_secs(h.upload_timeout_secs),
        session_secret: settings.auth.ui_session_key.clone(),
        db_concurrency: Some(db_concurrency(settings)),
        in_process_catalog: crate::backend::in_process(&settings.database_url()),
        static_keys: settings
            .auth
            .admin_key
            .iter()
            .map(|k| (preciso_core::hash::api_key_hash(k), vec!["admin".to_string()]))
            .collect(),
    }
}

pub async fn app_state(settings: &Settings, catalog: Arc<dyn Catalog>) -> Result<AppState> {
    // Reads stores from the catalog: run it off the async workers (PostgreSQL's client blocks).
    let options = std::thread::scope(|s| {
        s.spawn(|| super::ingest::configured_options(settings, catalog.as_ref()))
            .join()
            .map_err(|_| anyhow::anyhow!("reading stores failed"))?
    })?;
    let uploads = UploadConfig {
        spool_dir: settings.data_dir.join("incoming"),
        unarchived_dir: Some(settings.drop_dir().join("processed").join("uploads")),
        options,
    };
    let shared = match &settings.redis_url {
        Some(url) => Some(RedisShared::connect(url, "preciso").map_err(anyhow::Error::msg)?),
        None => None,
    };
    Ok(AppState::with_shared(catalog, http_config(settings), uploads, shared))
}

/// Serves until SIGINT/SIGTERM; `ready` is called with the bound address.
pub async fn serve(settings: &Settings, ready: impl FnOnce(SocketAddr)) -> Result<()> {
    // Opening may block (PostgreSQL's client is synchronous): keep it off the async workers.
    let url = settings.database_url();
    let catalog = tokio::task::spawn_blocking(move || crate::backend::open(&url))
        .await
        .context("opening the database")??;
    let state = app_state(settings, catalog.clone()).await?;
    let (ops, deps) = crate::ops::build(settings, catalog.clone(), state.uploads.options.clone())?;
    // Analysis runs left `running` by a previous process are marked abandoned, then the
    // workers take what is queued.
    let analyses = preciso_ops::forensic::AnalysisQueue::new(
        catalog,
        // Resolved once, with the analyze job's.
        deps.quality.clone(),
        settings.quality.concurrency,
        Some(ops.telemetry().clone()),
    );
    let starting = analyses.clone();
    tokio::task::spawn_blocking(move || starting.start())
        .await
        .context("starting the analysis workers")?
        .context("starting the analysis workers")?;
    let state = state
        .with_ops(OpsState {
            ops: ops.clone(),
            inputs: deps.status,
            archive: deps.archive,
            status_cache: Default::default(),
        })
        .with_analyses(analyses.clone());
    if settings.scheduler.enabled {
        ops.spawn_scheduler().context("starting the scheduler")?;
    } else {
        tracing::info!("scheduler disabled (scheduler.enabled = false)");
    }
    let listener = TcpListener::bind(&settings.http.listen)
        .await
        .with_context(|| format!("binding {}", settings.http.listen))?;
    ready(listener.local_addr()?);
    tokio::spawn(preciso_http::watch_ingests(state.clone()));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(preciso_http::serve(listener, state, async {
        let _ = rx.await;
    }));
    shutdown_signal().await;
    tracing::info!("shutdown requested; finishing in-flight requests");
    let _ = tx.send(());
    let grace = Duration::from_secs(settings.http.shutdown_grace_secs);
    match tokio::time::timeout(grace, server).await {
        Ok(joined) => joined.context("server task")?.context("server")?,
        Err(_) => tracing::warn!(
            grace_secs = grace.as_secs(),
            "in-flight requests did not finish in time"
        ),
    }
    analyses.shutdown();
    // No new fires; running jobs get the same grace, then are left to be marked abandoned.
    let left = tokio::task::spawn_blocking(move || ops.shutdown(grace)).await.unwrap_or(0);
    if left > 0 {
        tracing::warn!(
            running = left,
            "jobs still running at shutdown; the next start marks them abandoned"
        );
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `http.db_concurrency = 0` is two per core on either backend, below its pool's size; a
    /// number is taken as it is on either.
    #[test]
    fn db_concurrency_defaults_by_backend() {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let mut settings = Settings::default();
        let sqlite = (2 * cores).min(preciso_store_sqlite::MAX_CONNECTIONS - 1);
        assert_eq!(db_concurrency(&settings), sqlite, "SQLite, the default backend");
        settings.database_url = Some("postgres://preciso@db.example/preciso".into());
        let postgres = (2 * cores).min(preciso_store_postgres::MAX_CONNECTIONS - 1);
        assert_eq!(db_concurrency(&settings), postgres, "PostgreSQL");
        settings.http.db_concurrency = 4;
        assert_eq!(db_concurrency(&settings), 4);
        settings.database_url = None;
        assert_eq!(db_concurrency(&settings), 4);
    }
}
