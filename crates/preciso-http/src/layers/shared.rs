//! State shared by replicas through Redis (when `redis_url` is set): the rate-limit counters
//! and the response cache. Limits use a fixed one-minute window per client (`INCR` +
//! `EXPIRE`), so N replicas enforce one limit together; cache entries live under a
//! generation number that any replica bumps when an ingest commits.
//!
//! Redis is an optimisation, never a reason to refuse or delay traffic: every call has short
//! connect and response timeouts, and after a failure a breaker skips Redis for
//! `BREAK` — requests use the in-process limiter and cache meanwhile. The first failure of an
//! outage is logged once and counted; `/ready` reports Redis as a degraded check.

use axum::body::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Connecting to Redis, and each command's answer, may take at most this long.
const TIMEOUT: Duration = Duration::from_millis(50);

/// How long Redis is skipped after a failure.
const BREAK: Duration = Duration::from_secs(10);

#[derive(Clone)]
pub struct RedisShared {
    conn: ConnectionManager,
    /// Key prefix, so several deployments (or tests) can share one Redis.
    prefix: String,
    breaker: std::sync::Arc<Breaker>,
}

/// Skips Redis for `BREAK` after a failure.
#[derive(Default)]
pub struct Breaker {
    open_until: Mutex<Option<Instant>>,
    /// Failed Redis calls since start (`preciso_redis_errors_total`).
    pub errors: AtomicU64,
}

impl Breaker {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.open_until.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether Redis may be tried now.
    fn closed(&self) -> bool {
        self.lock().is_none_or(|until| Instant::now() >= until)
    }

    /// Whether Redis is being skipped (`preciso_redis_degraded`, `/ready`).
    pub fn is_open(&self) -> bool {
        !self.closed()
    }

    fn failed(&self, what: &str, error: &dyn std::fmt::Display) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut until = self.lock();
        if until.is_none() {
            tracing::warn!(
                error = %error,
                call = what,
                break_secs = BREAK.as_secs(),
                "Redis failed; using the in-process rate limiter and cache until it answers again"
            );
        }
        *until = Some(Instant::now() + BREAK);
    }

    /// A call succeeded; `true` when that ends an outage.
    fn succeeded(&self) -> bool {
        let mut until = self.lock();
        let was_open = until.is_some();
        *until = None;
        if was_open {
            tracing::info!("Redis answers again; rate limits and cache are shared again");
        }
        was_open
    }
}

impl RedisShared {
    /// A client that connects on first use (a replica starts while Redis is down, degraded).
    pub fn connect(url: &str, prefix: &str) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| format!("invalid redis_url: {e}"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(10))
            .set_max_delay(TIMEOUT);
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| format!("cannot set up the Redis client: {e}"))?;
        Ok(RedisShared { conn, prefix: prefix.to_string(), breaker: Default::default() })
    }

    pub fn breaker(&self) -> &Breaker {
        &self.breaker
    }

    /// Runs one Redis call through the breaker and the timeout; `None` when Redis is skipped
    /// or failed.
    async fn call<T, F>(&self, what: &str, f: impl FnOnce(ConnectionManager) -> F) -> Option<T>
    where
        F: Future<Output = redis::RedisResult<T>>,
    {
        if !self.breaker.closed() {
            return None;
        }
        match tokio::time::timeout(TIMEOUT * 2, f(self.conn.clone())).await {
            Ok(Ok(value)) => {
                if self.breaker.succeeded() {
                    // Invalidations may have been missed while Redis was away.
                    self.bump_generation().await;
                }
                Some(value)
            }
            Ok(Err(e)) => {
                self.breaker.failed(what, &e);
                None
            }
            Err(_) => {
                self.breaker.failed(what, &"timed out");
                None
            }
        }
    }

    /// `Some(Ok(()))` or `Some(Err(retry_after_secs))`; `None` when Redis cannot tell (the
    /// caller limits in process instead).
    pub async fn check_rate(&self, client: &str, per_minute: u32) -> Option<Result<(), u64>> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let key = format!("{}:rl:{client}:{}", self.prefix, now / 60);
        let count: (i64,) = self
            .call("rate limit", |mut conn| async move {
                redis::pipe()
                    .atomic()
                    .incr(&key, 1)
                    .ignore()
                    .expire(&key, 120)
                    .ignore()
                    .get(&key)
                    .query_async(&mut conn)
                    .await
            })
            .await?;
        Some(if count.0 > i64::from(per_minute) { Err((60 - now % 60).max(1)) } else { Ok(()) })
    }

    fn generation_key(&self) -> String {
        format!("{}:cache:gen", self.prefix)
    }

    /// The cache generation now: read before an answer is computed, and stored with it.
    pub async fn cache_generation(&self) -> Option<i64> {
        let key = self.generation_key();
        let generation: Option<i64> = self
            .call("cache generation", |mut conn| async move {
                redis::cmd("GET").arg(key).query_async(&mut conn).await
            })
            .await?;
        Some(generation.unwrap_or(0))
    }

    fn entry_key(&self, generation: i64, key: &str) -> String {
        // `gz`: entries hold gzip bodies (an older replica's plain ones are never read as such).
        format!("{}:cache:gz:{generation}:{key}", self.prefix)
    }

    pub async fn cache_get(&self, generation: i64, key: &str) -> Option<(Bytes, String)> {
        let key = self.entry_key(generation, key);
        let raw: Option<Vec<u8>> = self
            .call("cache read", |mut conn| async move {
                redis::cmd("GET").arg(key).query_async(&mut conn).await
            })
            .await?;
        split_entry(&raw?)
    }

    /// Stores an answer under the generation it was computed in: if an ingest bumped the
    /// generation meanwhile, the entry is never read (it expires with its TTL).
    pub async fn cache_put(
        &self,
        generation: i64,
        key: &str,
        body: &Bytes,
        content_type: &str,
        ttl_secs: u64,
    ) {
        let mut entry = Vec::with_capacity(content_type.len() + 1 + body.len());
        entry.extend_from_slice(content_type.as_bytes());
        entry.push(b'\n');
        entry.extend_from_slice(body);
        let key = self.entry_key(generation, key);
        let _: Option<()> = self
            .call("cache write", |mut conn| async move {
                redis::cmd("SET")
                    .arg(key)
                    .arg(entry)
                    .arg("EX")
                    .arg(ttl_secs.max(1))
                    .query_async(&mut conn)
                    .await
            })
            .await;
    }

    /// Makes every replica's cached answers stale at once.
    pub async fn cache_invalidate(&self) {
        let key = self.generation_key();
        let _: Option<i64> = self
            .call("cache invalidation", |mut conn| async move {
                redis::cmd("INCR").arg(key).query_async(&mut conn).await
            })
            .await;
    }

    /// `INCR` of the generation outside the breaker (it runs right after Redis came back).
    async fn bump_generation(&self) {
        let mut conn = self.conn.clone();
        let mut incr = redis::cmd("INCR");
        incr.arg(self.generation_key());
        let _ = tokio::time::timeout(TIMEOUT * 2, incr.query_async::<i64>(&mut conn)).await;
    }

    /// `PING` for `/ready`, through the breaker.
    pub async fn ping(&self) -> bool {
        let pong: Option<String> = self
            .call("ping", |mut conn| async move { redis::cmd("PING").query_async(&mut conn).await })
            .await;
        pong.is_some()
    }
}

/// Entries are `content-type \n body`.
fn split_entry(raw: &[u8]) -> Option<(Bytes, String)> {
    let nl = raw.iter().position(|b| *b == b'\n')?;
    let content_type = String::from_utf8(raw[..nl].to_vec()).ok()?;
    Some((Bytes::copy_from_slice(&raw[nl + 1..]), content_type))
}
