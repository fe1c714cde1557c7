//! In-process response cache for read endpoints: entries live for the TTL and are dropped at
//! once when an ingest commits (a generation counter), so answers are never staler than the
//! last ingest. Bounded: when full, it is cleared rather than growing.

use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const MAX_ENTRIES: usize = 10_000;

#[derive(Clone)]
pub struct CachedResponse {
    pub body: Bytes,
    pub content_type: String,
}

struct Entry {
    stored: Instant,
    generation: u64,
    response: CachedResponse,
}

pub struct ResponseCache {
    pub ttl: Duration,
    generation: AtomicU64,
    entries: Mutex<HashMap<String, Entry>>,
    pub hits: AtomicU64,
    pub misses: AtomicU64,
}

impl ResponseCache {
    pub fn new(ttl: Duration) -> Self {
        ResponseCache {
            ttl,
            generation: AtomicU64::new(0),
            entries: Mutex::new(HashMap::new()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    pub fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    pub fn get(&self, key: &str) -> Option<CachedResponse> {
        let generation = self.generation.load(Ordering::Acquire);
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let hit = entries
            .get(key)
            .filter(|e| e.generation == generation && e.stored.elapsed() < self.ttl)
            .map(|e| e.response.clone());
        let counter = if hit.is_some() { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        hit
    }

    pub fn put(&self, key: String, response: CachedResponse) {
        let generation = self.generation.load(Ordering::Acquire);
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, Entry { stored: Instant::now(), generation, response });
    }

    /// Called when an ingest commits: every entry becomes stale.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

/// Largest response body kept in the cache.
const MAX_BODY: usize = 4 << 20;

/// Serves GET `/api/…` responses from the cache; any successful write empties it (users and
/// uploads change answers). Responses carry `X-Cache: hit|miss`.
/// Scheduler and status answers change by the second: never cached.
fn is_operational(path: &str) -> bool {
    ["/api/jobs", "/api/runs", "/api/status"].iter().any(|p| path.starts_with(p))
}

pub async fn cached(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let cacheable = req.method() == Method::GET
        && req.uri().path().starts_with("/api/")
        && !is_operational(req.uri().path())
        && state.cache.enabled();
    if !cacheable {
        let is_write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        let response = next.run(req).await;
        if is_write && response.status().is_success() {
            state.invalidate_cache().await;
        }
        return response;
    }
    let key = req.uri().to_string();
    let hit = match &state.shared {
        Some(shared) => {
            let found = shared
                .cache_get(&key)
                .await
                .map(|(body, content_type)| CachedResponse { body, content_type });
            let counter = if found.is_some() { &state.cache.hits } else { &state.cache.misses };
            counter.fetch_add(1, Ordering::Relaxed);
            found
        }
        None => state.cache.get(&key),
    };
    if let Some(hit) = hit {
        return with_cache_header(
            (StatusCode::OK, [(header::CONTENT_TYPE, hit.content_type)], hit.body).into_response(),
            "hit",
        );
    }
    let response = next.run(req).await;
    if response.status() != StatusCode::OK {
        return with_cache_header(response, "miss");
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return with_cache_header(StatusCode::INTERNAL_SERVER_ERROR.into_response(), "miss");
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_string();
    match &state.shared {
        Some(shared) => {
            shared.cache_put(&key, &bytes, &content_type, state.cache.ttl.as_secs()).await
        }
        None => state.cache.put(key, CachedResponse { body: bytes.clone(), content_type }),
    }
    with_cache_header(Response::from_parts(parts, Body::from(bytes)), "miss")
}

fn with_cache_header(mut response: Response, value: &'static str) -> Response {
    response.headers_mut().insert("x-cache", HeaderValue::from_static(value));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_invalidate() {
        let c = ResponseCache::new(Duration::from_secs(60));
        let r = CachedResponse {
            body: Bytes::from_static(b"x"),
            content_type: "application/json".into(),
        };
        assert!(c.get("a").is_none());
        c.put("a".into(), r.clone());
        assert!(c.get("a").is_some());
        c.invalidate();
        assert!(c.get("a").is_none());
        let zero = ResponseCache::new(Duration::ZERO);
        zero.put("a".into(), r);
        assert!(zero.get("a").is_none());
        assert_eq!((c.hits.load(Ordering::Relaxed), c.misses.load(Ordering::Relaxed)), (1, 2));
    }
}
