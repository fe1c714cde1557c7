//! Shared server state: the catalog, settings, and the cross-cutting services (cache, rate
//! limiter, metrics). Cloning is cheap (one `Arc`).

use crate::error::{ApiError, ApiResult};
use crate::layers::cache::ResponseCache;
use crate::layers::ratelimit::RateLimiter;
use crate::layers::shared::RedisShared;
use preciso_core::ports::Catalog;
use preciso_ingest::IngestOptions;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// HTTP settings (the binary fills them from `[http]` and `[auth]` of preciso.toml).
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Require a `read` key for GET endpoints (writes always need `write`).
    pub require_auth_for_reads: bool,
    /// Requests per minute per API key, or per client IP without a key. 0 disables.
    pub rate_limit_per_minute: u32,
    /// Origins allowed by CORS; empty sends no CORS headers.
    pub cors_origins: Vec<String>,
    /// Response cache TTL; zero disables the cache.
    pub cache_ttl: Duration,
    /// Bytes the in-process response cache holds at most.
    pub cache_max_bytes: u64,
    /// Largest JSON body.
    pub json_body_limit: usize,
    /// Largest uploaded data file.
    pub upload_limit: usize,
    /// Served behind TLS (adds HSTS).
    pub behind_tls: bool,
    /// Proxies whose `X-Forwarded-For` is believed (see `layers::auth::client_ip`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The currency listings use when the request names none (`catalog.currency`); unset, the
    /// one with the most offers in the listing's scope.
    pub default_currency: Option<preciso_core::domain::Currency>,
    /// Connection limits of the server loop.
    pub limits: crate::server::ServerLimits,
    /// How long a request may take, from its headers to its response.
    pub request_timeout: Duration,
    /// The same for uploads (`POST /api/archivos`), which read a file and ingest it.
    pub upload_timeout: Duration,
    /// Keys accepted besides those in the database (e.g. a bootstrap admin key from the
    /// environment), as (SHA-256 hex, scopes).
    pub static_keys: Vec<(String, Vec<String>)>,
    /// What the web UI's session cookies are signed with (`[http] session_secret`); the same
    /// on every replica. Unset: random per process.
    pub session_secret: Option<String>,
    /// Catalog calls (`AppState::db`: all but uploads and the readiness probe) run at once;
    /// `None`: as many as the blocking pool runs.
    pub db_concurrency: Option<usize>,
    /// The catalog reads in this process (SQLite): a point read (`AppState::db_point`) then
    /// runs on the request's own worker. PostgreSQL's reads wait on the network: never there.
    pub in_process_catalog: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            require_auth_for_reads: false,
            rate_limit_per_minute: 100,
            cors_origins: Vec::new(),
            cache_ttl: Duration::from_secs(300),
            cache_max_bytes: 64 << 20,
            json_body_limit: 1 << 20,
            upload_limit: 256 << 20,
            behind_tls: false,
            trusted_proxies: Vec::new(),
            default_currency: None,
            limits: crate::server::ServerLimits::default(),
            request_timeout: Duration::from_secs(30),
            upload_timeout: Duration::from_secs(900),
            static_keys: Vec::new(),
            session_secret: None,
            db_concurrency: None,
            in_process_catalog: false,
        }
    }
}

/// How uploads to `POST /api/archivos` are ingested.
#[derive(Clone)]
pub struct UploadConfig {
    /// Where uploaded bodies are spooled before ingest.
    pub spool_dir: PathBuf,
    /// Where an ingested upload is kept when archiving it failed, for `archive sync` (the
    /// drop directory's `processed/uploads`); `None` keeps nothing.
    pub unarchived_dir: Option<PathBuf>,
    /// Options template; the ingest time is set per upload.
    pub options: IngestOptions,
}

pub struct Inner {
    /// Blocking port: reached only through `db` (the PostgreSQL client panics on
    /// an async worker).
    catalog: Arc<dyn Catalog>,
    pub config: HttpConfig,
    pub uploads: UploadConfig,
    /// Signs and checks the web UI's session cookies and form tokens.
    pub sessions: crate::ui::session::SessionKeys,
    pub cache: ResponseCache,
    pub limiter: RateLimiter,
    /// The process's metrics registry (the scheduler's, once attached: `with_ops`).
    pub telemetry: Arc<preciso_ops::Telemetry>,
    /// Rate limits and cache shared with other replicas, when Redis is configured.
    pub shared: Option<RedisShared>,
    pub started: Instant,
    pub version: &'static str,
    /// The scheduler and what the status document needs; `None` when this process runs none.
    pub ops: Option<Arc<OpsState>>,
    /// Permits for catalog calls (`db`, `HttpConfig::db_concurrency`); `None`: unbounded. A
    /// fair semaphore: requests beyond the permits wait in arrival order, off the blocking
    /// pool, within the request's timeout (a request that times out or whose client leaves
    /// while waiting drops its place and is never computed). SQLite's reads are this process's
    /// CPU work: with 8 of them sharing 2 cores, every request ran as slowly as the slowest
    /// beside it (mixed load over 66 endpoints, 1M offers: p99 66-72 ms unbounded). Ranked
    /// listings take the same permits: on two threads of their own beside 3 permits for the
    /// rest they queued apart, p99 49-64 ms against 37-53 ms with one queue of 4
    /// (docs/DECISIONS.md, "Catalog reads wait their turn").
    pub db_permits: Option<DbPermits>,
    /// The analysis runs' queue and workers; `None` answers their endpoints with 503.
    pub analyses: Option<Arc<preciso_ops::forensic::AnalysisQueue>>,
}

/// The permits of `Inner::db_permits`, with what `/metrics` reports of them.
pub struct DbPermits {
    semaphore: Arc<tokio::sync::Semaphore>,
    /// How many there are.
    pub max: usize,
    /// Calls that found none free and waited (`preciso_db_permit_waits_total`).
    pub waits: std::sync::atomic::AtomicU64,
}

impl DbPermits {
    fn new(max: usize) -> Self {
        let max = max.clamp(1, tokio::sync::Semaphore::MAX_PERMITS);
        DbPermits {
            semaphore: Arc::new(tokio::sync::Semaphore::new(max)),
            max,
            waits: Default::default(),
        }
    }

    /// Permits held by running calls.
    pub fn in_use(&self) -> usize {
        self.max - self.semaphore.available_permits()
    }

    async fn acquire(&self) -> ApiResult<tokio::sync::OwnedSemaphorePermit> {
        if self.semaphore.available_permits() == 0 {
            self.waits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let permit = self.semaphore.clone().acquire_owned().await;
        permit.map_err(|e| ApiError::Internal(format!("db permits closed: {e}")))
    }
}

/// The scheduler service as the HTTP layer sees it.
pub struct OpsState {
    pub ops: Arc<preciso_ops::Ops>,
    /// Backend, start time, data and backup directories (backups' age and last verification
    /// are exported as metrics), archive location: what the status document reports.
    pub inputs: preciso_ops::status::StatusInputs,
    /// The raw-file archive, checked by `/ready` when configured.
    pub archive: Option<Arc<preciso_ops::archive::Archive>>,
    /// The latest status document (it walks the data directory: at most one build per
    /// `STATUS_MAX_AGE`, however many callers ask; they wait for the one in progress).
    pub status_cache: tokio::sync::Mutex<Option<Arc<StatusDocs>>>,
}

/// The status document as admins see it and as everyone else does, built together.
pub struct StatusDocs {
    pub built: Instant,
    /// `JobMetrics::runs_ended` when built: a run that ended since makes it stale.
    pub runs_ended: u64,
    pub full: preciso_ops::status::StatusDoc,
    pub redacted: preciso_ops::status::StatusDoc,
}

/// How old a served status document may be.
const STATUS_MAX_AGE: Duration = Duration::from_secs(5);

impl OpsState {
    /// The status documents, built again when the cached ones are older than
    /// `STATUS_MAX_AGE`.
    pub async fn status(self: &Arc<Self>) -> ApiResult<Arc<StatusDocs>> {
        let mut cached = self.status_cache.lock().await;
        let runs_ended = self.ops.metrics().runs_ended();
        let fresh =
            |d: &&Arc<StatusDocs>| d.built.elapsed() < STATUS_MAX_AGE && d.runs_ended == runs_ended;
        if let Some(docs) = cached.as_ref().filter(fresh) {
            return Ok(docs.clone());
        }
        let ops = self.clone();
        let docs = tokio::task::spawn_blocking(move || -> ApiResult<StatusDocs> {
            let doc = preciso_ops::status::build(ops.ops.view(), &ops.inputs)?;
            Ok(StatusDocs {
                built: Instant::now(),
                runs_ended,
                full: doc.clone(),
                redacted: doc.redacted(),
            })
        })
        .await
        .map_err(|e| ApiError::Internal(format!("blocking task failed: {e}")))??;
        let docs = Arc::new(docs);
        *cached = Some(docs.clone());
        Ok(docs)
    }
}

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(catalog: Arc<dyn Catalog>, config: HttpConfig, uploads: UploadConfig) -> Self {
        Self::with_shared(catalog, config, uploads, None)
    }

    pub fn with_shared(
        catalog: Arc<dyn Catalog>,
        config: HttpConfig,
        uploads: UploadConfig,
        shared: Option<RedisShared>,
    ) -> Self {
        let db_permits = config.db_concurrency.map(DbPermits::new);
        AppState(Arc::new(Inner {
            shared,
            sessions: crate::ui::session::SessionKeys::new(config.session_secret.as_deref()),
            cache: ResponseCache::new(config.cache_ttl, config.cache_max_bytes),
            limiter: RateLimiter::new(config.rate_limit_per_minute),
            telemetry: preciso_ops::Telemetry::new(),
            catalog,
            config,
            uploads,
            started: Instant::now(),
            version: env!("CARGO_PKG_VERSION"),
            ops: None,
            db_permits,
            analyses: None,
        }))
    }

    /// Attaches the scheduler (right after construction, before the state is shared).
    pub fn with_ops(mut self, ops: OpsState) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            // One registry per process: the scheduler's jobs already record into its own.
            inner.telemetry = ops.ops.telemetry().clone();
            inner.ops = Some(Arc::new(ops));
        }
        self
    }

    /// Attaches the analysis queue (right after construction, before the state is shared).
    pub fn with_analyses(mut self, queue: Arc<preciso_ops::forensic::AnalysisQueue>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.0) {
            inner.analyses = Some(queue);
        }
        self
    }

    /// Drops cached answers here and, with Redis, on every replica.
    pub async fn invalidate_cache(&self) {
        self.cache.invalidate();
        if let Some(shared) = &self.shared {
            shared.cache_invalidate().await;
        }
    }

    /// The store's connection pool use (counters only: no database call).
    pub fn pool_stats(&self) -> preciso_core::ports::PoolStats {
        self.catalog.pool_stats()
    }

    /// Runs a catalog call on the blocking pool once one of the `db_permits` is free. The
    /// permit goes with the call: a request that times out while its query runs keeps the
    /// permit until the query ends, so no more than the permits' number ever run at once.
    pub async fn db<T, F>(&self, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Catalog) -> Result<T, ApiError> + Send + 'static,
    {
        let permit = match &self.db_permits {
            Some(permits) => Some(permits.acquire().await?),
            None => None,
        };
        self.blocking(permit, f).await
    }

    /// A catalog call that reads a handful of rows by key (one product's offers): on an
    /// in-process catalog, when a permit is free right away and the catalog answers such reads
    /// without waiting (`reads_by_key_quick`: its key indexes built, a connection free), it
    /// runs here on the request's worker; else as `db`. Handing such a read to the blocking
    /// pool and back cost more than the read — two thread wake-ups on a 2-core VM: 134
    /// against 106 µs of CPU per uncached comparison, 11.6–12.5k against 13.2–14.3k
    /// requests/s (docs/DECISIONS.md, "Point reads run on the request's worker"). Listings and
    /// searches, which take milliseconds, would hold up every other connection of that
    /// worker: they go through `db`.
    pub async fn db_point<T, F>(&self, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Catalog) -> Result<T, ApiError> + Send + 'static,
    {
        if self.config.in_process_catalog {
            let free = self.db_permits.as_ref().map(|p| p.semaphore.clone().try_acquire_owned());
            if let Some(Ok(_permit)) = free
                && self.catalog.reads_by_key_quick()
            {
                // A panic answers 500, as one on the blocking pool does.
                let run = std::panic::AssertUnwindSafe(|| f(self.catalog.as_ref()));
                return std::panic::catch_unwind(run)
                    .unwrap_or_else(|_| Err(ApiError::Internal("catalog call panicked".into())));
            }
        }
        self.db(f).await
    }

    /// A catalog call that takes no permit: an upload's ingest (minutes, mostly waiting its
    /// turn to write, which would hold a permit every read needs) and the readiness probe
    /// (which must see the database, not the queue in front of it).
    pub async fn db_unqueued<T, F>(&self, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Catalog) -> Result<T, ApiError> + Send + 'static,
    {
        self.blocking(None, f).await
    }

    async fn blocking<T, F>(
        &self,
        permit: Option<tokio::sync::OwnedSemaphorePermit>,
        f: F,
    ) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Catalog) -> Result<T, ApiError> + Send + 'static,
    {
        let catalog = self.catalog.clone();
        // The request's span follows the call onto the blocking pool.
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            span.in_scope(|| f(catalog.as_ref()))
        })
        .await
        .map_err(|e| ApiError::Internal(format!("blocking task failed: {e}")))?
    }
}
