//! Preciso's REST API (docs/API.md) over the storage port: an axum router with one module per
//! resource, wrapped in observation, CORS, authentication, rate limiting, caching and body
//! limits. `serve` takes a bound listener and a shutdown future so tests bind port 0.

#![recursion_limit = "256"]

mod currency;
pub mod error;
mod extract;
pub mod layers;
pub mod model;
pub mod openapi;
mod params;
mod routes;
pub mod server;
pub mod state;
pub mod ui;
pub mod views;

pub use layers::shared::RedisShared;
pub use routes::router;

pub use state::{AppState, HttpConfig, OpsState, UploadConfig};

use std::future::Future;
use tokio::net::TcpListener;

/// How often `watch_ingests` looks at the ledger.
const INGEST_WATCH: std::time::Duration = std::time::Duration::from_secs(2);

/// Drops cached answers — here and, with Redis, on every replica — when the ledger shows an
/// ingest run that ended in another process (a CLI ingest, another replica's scheduled job).
/// Runs until the process ends.
pub async fn watch_ingests(state: AppState) {
    let mut last = None;
    loop {
        let marker = state.db(|c| Ok(c.ingest_marker()?)).await.ok();
        if last.is_some() && marker.is_some() && marker != last {
            state.invalidate_cache().await;
        }
        if marker.is_some() {
            last = marker;
        }
        tokio::time::sleep(INGEST_WATCH).await;
    }
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.config.limits;
    server::serve(listener, router(state), limits, shutdown).await
}
