//! State shared by replicas through Redis (when `redis_url` is set): the rate-limit counters
//! and the response cache. Limits use a fixed one-minute window per client (`INCR` +
//! `EXPIRE`), so N replicas enforce one limit together; cache entries live under a
//! generation number that any replica bumps when an ingest commits. If Redis fails, requests
//! are served (limit not enforced, cache missed) and the failure is logged: Redis is an
//! optimisation, never a reason to refuse traffic.

use axum::body::Bytes;
use redis::aio::ConnectionManager;

#[derive(Clone)]
pub struct RedisShared {
    conn: ConnectionManager,
    /// Key prefix, so several deployments (or tests) can share one Redis.
    prefix: String,
}

impl RedisShared {
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| format!("invalid redis_url: {e}"))?;
        let conn = client
            .get_connection_manager()
            .await
            .map_err(|e| format!("cannot connect to Redis: {e}"))?;
        Ok(RedisShared { conn, prefix: prefix.to_string() })
    }

    /// `Ok(())` or `Err(retry_after_secs)`; Redis errors let the request through.
    pub async fn check_rate(&self, client: &str, per_minute: u32) -> Result<(), u64> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let window = now / 60;
        let key = format!("{}:rl:{client}:{window}", self.prefix);
        let mut conn = self.conn.clone();
        let count: Result<(i64,), _> = redis::pipe()
            .atomic()
            .incr(&key, 1)
            .ignore()
            .expire(&key, 120)
            .ignore()
            .get(&key)
            .query_async(&mut conn)
            .await;
        match count {
            Ok((n,)) if n > i64::from(per_minute) => Err((60 - now % 60).max(1)),
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::warn!(error = %e, "redis rate limit check failed; allowing the request");
                Ok(())
            }
        }
    }

    async fn generation(&self, conn: &mut ConnectionManager) -> redis::RedisResult<i64> {
        let v: Option<i64> =
            redis::cmd("GET").arg(format!("{}:cache:gen", self.prefix)).query_async(conn).await?;
        Ok(v.unwrap_or(0))
    }

    pub async fn cache_get(&self, key: &str) -> Option<(Bytes, String)> {
        let mut conn = self.conn.clone();
        let result: redis::RedisResult<Option<Vec<u8>>> = async {
            let generation = self.generation(&mut conn).await?;
            redis::cmd("GET")
                .arg(format!("{}:cache:{generation}:{key}", self.prefix))
                .query_async(&mut conn)
                .await
        }
        .await;
        match result {
            Ok(Some(raw)) => split_entry(&raw),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(error = %e, "redis cache read failed");
                None
            }
        }
    }

    pub async fn cache_put(&self, key: &str, body: &Bytes, content_type: &str, ttl_secs: u64) {
        let mut conn = self.conn.clone();
        let mut entry = Vec::with_capacity(content_type.len() + 1 + body.len());
        entry.extend_from_slice(content_type.as_bytes());
        entry.push(b'\n');
        entry.extend_from_slice(body);
        let result: redis::RedisResult<()> = async {
            let generation = self.generation(&mut conn).await?;
            redis::cmd("SET")
                .arg(format!("{}:cache:{generation}:{key}", self.prefix))
                .arg(entry)
                .arg("EX")
                .arg(ttl_secs.max(1))
                .query_async(&mut conn)
                .await
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "redis cache write failed");
        }
    }

    /// Makes every replica's cached answers stale at once.
    pub async fn cache_invalidate(&self) {
        let mut conn = self.conn.clone();
        let result: redis::RedisResult<i64> = redis::cmd("INCR")
            .arg(format!("{}:cache:gen", self.prefix))
            .query_async(&mut conn)
            .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "redis cache invalidation failed");
        }
    }
}

/// Entries are `content-type \n body`.
fn split_entry(raw: &[u8]) -> Option<(Bytes, String)> {
    let nl = raw.iter().position(|b| *b == b'\n')?;
    let content_type = String::from_utf8(raw[..nl].to_vec()).ok()?;
    Some((Bytes::copy_from_slice(&raw[nl + 1..]), content_type))
}
