//! Preciso's REST API (SPEC §5) over the storage port: an axum router with one module per
//! resource, wrapped in observation, CORS, authentication, rate limiting, caching and body
//! limits. `serve` takes a bound listener and a shutdown future so tests bind port 0.

#![recursion_limit = "256"]

pub mod error;
mod extract;
mod heavy;
pub mod layers;
pub mod openapi;
mod params;
mod routes;
pub mod state;

pub use layers::auth::hash_key;
pub use layers::shared::RedisShared;
pub use routes::router;

/// The JSON shapes of jobs and runs, shared with the CLI's `--json` output.
pub mod jobs_json {
    pub use crate::routes::jobs::{job_json, run_json};
}
pub use state::{AppState, HttpConfig, OpsState, UploadConfig};

use std::future::Future;
use std::net::SocketAddr;
use tokio::net::TcpListener;

/// Serves until `shutdown` resolves, then lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}
