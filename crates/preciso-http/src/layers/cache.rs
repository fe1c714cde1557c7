//! The response cache for read endpoints. Every request's query parameters are checked here
//! first (unknown ones are a 400, see `params`), so the cache key is canonical: the path (a
//! category in its key form), the known parameters sorted, and what else the body varies
//! with — whether the caller may see operational detail (`Vary: X-API-Key`).
//!
//! Entries live for the TTL, in a cache bounded in bytes with LRU eviction (`moka`), and are
//! dropped at once when an ingest commits: each entry carries the generation it was computed
//! in, and an answer computed before an invalidation is never stored. With Redis the same
//! rules hold across replicas, and while Redis is unreachable the in-process cache serves.
//!
//! Answers are kept gzip-compressed (a fraction of the bytes, in memory and in Redis) and sent
//! as kept to clients that accept gzip, decompressed for the others. The compression layer
//! outside (`routes::router`) compresses every other answer (gzip or zstd, as the client
//! accepts) and leaves one that already has a `Content-Encoding` as it is.

use crate::error::ApiError;
use crate::layers::auth::Caller;
use crate::params::{canonical_query, check_known};
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use moka::policy::EvictionPolicy;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Largest response body kept in the cache.
const MAX_BODY: usize = 4 << 20;

/// A cached answer: its body gzip-compressed, its media type, and in this process's cache
/// the plain body too (clients that take no gzip are served without decompressing each hit:
/// 12k instead of 70k+ answers/s for a 65 KB body; the bound counts both).
#[derive(Clone)]
pub struct CachedResponse {
    pub body: Bytes,
    pub content_type: String,
    pub plain: Option<Bytes>,
}

/// Gzip of an answer, at the fast level: a miss pays it once, every hit saves the bytes.
fn gzip(raw: &[u8]) -> Bytes {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(raw.len() / 4 + 64),
        flate2::Compression::fast(),
    );
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(raw);
    Bytes::from(enc.finish().unwrap_or_default())
}

fn gunzip(gz: &[u8]) -> Option<Bytes> {
    use std::io::Read;
    let mut out = Vec::with_capacity(gz.len() * 4);
    flate2::read::GzDecoder::new(gz).read_to_end(&mut out).ok()?;
    Some(Bytes::from(out))
}

/// Whether `Accept-Encoding` accepts gzip (named or `*`, with a weight above 0).
pub fn accepts_gzip(headers: &axum::http::HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).any(|v| {
        v.split(',').any(|item| {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .find_map(|p| {
                    p.trim().strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            (name == "gzip" || name == "x-gzip" || name == "*") && q > 0.0
        })
    })
}

/// The kept answer as this client takes it: as kept with `Content-Encoding: gzip`, or
/// decompressed.
fn serve(entry: CachedResponse, gzip_ok: bool) -> Response {
    let ct = [(header::CONTENT_TYPE, entry.content_type)];
    if gzip_ok {
        let encoding = (header::CONTENT_ENCODING, "gzip".to_string());
        return (StatusCode::OK, [ct[0].clone(), encoding], entry.body).into_response();
    }
    match entry.plain.or_else(|| gunzip(&entry.body)) {
        Some(raw) => (StatusCode::OK, ct, raw).into_response(),
        None => ApiError::Internal("a cached answer did not decompress".into()).into_response(),
    }
}

#[derive(Clone)]
struct Entry {
    generation: u64,
    response: CachedResponse,
}

pub struct ResponseCache {
    pub ttl: Duration,
    generation: AtomicU64,
    entries: moka::sync::Cache<String, Entry>,
    pub hits: AtomicU64,
    pub misses: AtomicU64,
}

impl ResponseCache {
    /// A cache of answers for `ttl` (zero disables it), at most `max_bytes` of them.
    pub fn new(ttl: Duration, max_bytes: u64) -> Self {
        let entries = moka::sync::Cache::builder()
            .max_capacity(max_bytes)
            .weigher(|key: &String, e: &Entry| {
                let plain = e.response.plain.as_ref().map_or(0, Bytes::len);
                let bytes =
                    key.len() + e.response.body.len() + plain + e.response.content_type.len();
                u32::try_from(bytes + 64).unwrap_or(u32::MAX)
            })
            .time_to_live(ttl.max(Duration::from_millis(1)))
            .eviction_policy(EvictionPolicy::lru())
            .build();
        ResponseCache {
            ttl,
            generation: AtomicU64::new(0),
            entries,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    pub fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    /// Read before an answer is computed, handed back to `put` with it.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn get(&self, key: &str) -> Option<CachedResponse> {
        let generation = self.generation();
        let hit = self.entries.get(key).filter(|e| e.generation == generation).map(|e| e.response);
        self.count(hit.is_some());
        hit
    }

    fn count(&self, hit: bool) {
        let counter = if hit { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Stores an answer computed in `generation`, unless an invalidation came since.
    pub fn put(&self, key: String, generation: u64, response: CachedResponse) {
        if generation == self.generation() {
            self.entries.insert(key, Entry { generation, response });
        }
    }

    /// Called when an ingest commits: every entry becomes stale.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.invalidate_all();
    }

    /// Bytes held (after pending evictions).
    pub fn weighted_size(&self) -> u64 {
        self.entries.run_pending_tasks();
        self.entries.weighted_size()
    }
}

/// Scheduler, status and analysis-run answers change by the second: never cached.
fn is_operational(path: &str) -> bool {
    ["/api/jobs", "/api/runs", "/api/status", "/api/forensic"].iter().any(|p| path.starts_with(p))
}

/// Path parameters that name a category are keyed by the category's key, so its spellings
/// (`Tecnología > Celulares`, `tecnologia/celulares`) share an entry.
fn canonical_path(route: &str, path: &str) -> String {
    let path = path.trim_end_matches('/');
    for prefix in ["/api/best-prices/", "/api/reports/price-analysis/"] {
        if route.starts_with(prefix)
            && let Some(raw) = path.strip_prefix(prefix)
        {
            let decoded = percent_encoding::percent_decode_str(raw).decode_utf8_lossy();
            return format!("{prefix}{}", preciso_core::domain::category_key(&decoded));
        }
    }
    path.to_string()
}

/// Where an answer is kept: the generation it is computed in, and the key.
enum Slot {
    Local(u64),
    Shared(i64),
}

pub async fn cached(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string());
    // `/docs` serves Swagger UI's files and the web UI reads its own query: the document
    // describes neither.
    let path = req.uri().path();
    let described = !crate::layers::auth::is_docs(path)
        && !crate::ui::is_ui_path(path)
        && !crate::ui::is_asset(path);
    if let Some(route) = route.as_ref().filter(|_| described)
        && let Err(e) = check_known(req.method(), route, req.uri().query())
    {
        return e.into_response();
    }
    let cacheable = req.method() == Method::GET
        && req.uri().path().starts_with("/api/")
        && !is_operational(req.uri().path())
        && state.cache.enabled();
    let Some(route) = route.filter(|_| cacheable) else {
        let is_write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        let response = next.run(req).await;
        if is_write && response.status().is_success() {
            state.invalidate_cache().await;
        }
        return response;
    };
    let caller = req.extensions().get::<Caller>().cloned().unwrap_or_default();
    let gzip_ok = accepts_gzip(req.headers());
    let view = if caller.is_admin() { "admin" } else { "public" };
    let key = format!(
        "{}?{}|{view}",
        canonical_path(&route, req.uri().path()),
        canonical_query(req.uri().query())
    );
    let (slot, hit) = lookup(&state, &key).await;
    if let Some(hit) = hit {
        return with_cache_headers(serve(hit, gzip_ok), "hit");
    }
    let response = next.run(req).await;
    if response.status() != StatusCode::OK {
        return with_cache_headers(response, "miss");
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        let error = ApiError::Internal("a cacheable answer exceeded its size bound".into());
        return with_cache_headers(error.into_response(), "miss");
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_string();
    let compressed = gzip(&bytes);
    let entry =
        CachedResponse { body: compressed.clone(), content_type, plain: Some(bytes.clone()) };
    store(&state, slot, key, entry).await;
    let mut response = if gzip_ok {
        Response::from_parts(parts, Body::from(compressed))
    } else {
        Response::from_parts(parts, Body::from(bytes))
    };
    if gzip_ok {
        response.headers_mut().insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        response.headers_mut().remove(header::CONTENT_LENGTH);
    }
    with_cache_headers(response, "miss")
}

/// The generation the answer belongs to, and the cached answer if there is one. Redis when it
/// answers, else this process's cache.
async fn lookup(state: &AppState, key: &str) -> (Slot, Option<CachedResponse>) {
    if let Some(shared) = &state.shared
        && let Some(generation) = shared.cache_generation().await
    {
        let hit = shared
            .cache_get(generation, key)
            .await
            .map(|(body, content_type)| CachedResponse { body, content_type, plain: None });
        state.cache.count(hit.is_some());
        return (Slot::Shared(generation), hit);
    }
    let generation = state.cache.generation();
    (Slot::Local(generation), state.cache.get(key))
}

async fn store(state: &AppState, slot: Slot, key: String, entry: CachedResponse) {
    match (slot, &state.shared) {
        (Slot::Shared(generation), Some(shared)) => {
            let ttl = state.cache.ttl.as_secs();
            shared.cache_put(generation, &key, &entry.body, &entry.content_type, ttl).await
        }
        // Redis keeps the gzipped body only (above); this process keeps both.
        (Slot::Local(generation), _) => state.cache.put(key, generation, entry),
        // Redis went away while computing: keep nothing rather than guess a generation.
        (Slot::Shared(_), None) => {}
    }
}

fn with_cache_headers(mut response: Response, value: &'static str) -> Response {
    let headers = response.headers_mut();
    headers.insert("x-cache", HeaderValue::from_static(value));
    // What an admin key sees may differ (redacted operational detail); the encoding follows
    // Accept-Encoding.
    headers.append(header::VARY, HeaderValue::from_static("x-api-key"));
    headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(body: &'static [u8]) -> CachedResponse {
        CachedResponse {
            body: Bytes::from_static(body),
            content_type: "application/json".into(),
            plain: None,
        }
    }

    #[test]
    fn answers_are_kept_gzipped_and_served_as_the_client_accepts() {
        let raw = br#"{"items":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]}"#.repeat(20);
        let kept = CachedResponse {
            body: gzip(&raw),
            content_type: "application/json".into(),
            plain: None,
        };
        assert!(kept.body.len() < raw.len() / 4, "{} of {}", kept.body.len(), raw.len());
        assert_eq!(gunzip(&kept.body).unwrap(), Bytes::from(raw.clone()));
        let as_is = serve(kept.clone(), true);
        assert_eq!(as_is.headers()[header::CONTENT_ENCODING], "gzip");
        let plain = serve(kept, false);
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        let accepts = |v: &str| {
            let mut h = axum::http::HeaderMap::new();
            h.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
            accepts_gzip(&h)
        };
        assert!(accepts("gzip, deflate, br, zstd") && accepts("*") && accepts("GZIP;q=0.5"));
        assert!(!accepts("zstd") && !accepts("gzip;q=0") && !accepts("identity"));
        assert!(!accepts_gzip(&axum::http::HeaderMap::new()));
    }

    #[test]
    fn entries_expire_and_invalidate() {
        let c = ResponseCache::new(Duration::from_secs(60), 1 << 20);
        assert!(c.get("a").is_none());
        c.put("a".into(), c.generation(), response(b"x"));
        assert!(c.get("a").is_some());
        c.invalidate();
        assert!(c.get("a").is_none());
        let zero = ResponseCache::new(Duration::ZERO, 1 << 20);
        assert!(!zero.enabled());
        assert_eq!((c.hits.load(Ordering::Relaxed), c.misses.load(Ordering::Relaxed)), (1, 2));
    }

    #[test]
    fn an_answer_computed_before_an_invalidation_is_not_stored() {
        let c = ResponseCache::new(Duration::from_secs(60), 1 << 20);
        let computed_in = c.generation();
        c.invalidate();
        c.put("a".into(), computed_in, response(b"stale"));
        assert!(c.get("a").is_none());
    }

    #[test]
    fn the_cache_is_bounded_in_bytes() {
        let c = ResponseCache::new(Duration::from_secs(60), 100_000);
        let body: &'static [u8] = Box::leak(vec![b'x'; 10_000].into_boxed_slice());
        for i in 0..1_000 {
            c.put(format!("k{i}"), c.generation(), response(body));
        }
        assert!(c.weighted_size() <= 100_000, "{}", c.weighted_size());
        assert!(c.weighted_size() > 50_000, "it still holds what fits");
    }

    #[test]
    fn category_spellings_share_a_key() {
        let route = "/api/best-prices/{*category}";
        let a = canonical_path(route, "/api/best-prices/Tecnolog%C3%ADa%20%3E%20Celulares");
        assert_eq!(a, "/api/best-prices/tecnologia/celulares");
        assert_eq!(canonical_path(route, "/api/best-prices/tecnologia/celulares/"), a);
        assert_eq!(canonical_path("/api/brands", "/api/brands/"), "/api/brands");
    }
}
