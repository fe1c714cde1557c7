//! Per-request observation and hardening: a request id (taken from `X-Request-Id` when sane,
//! else generated) echoed in the response, a `request` span (request id, method, route, and the
//! key id once `auth` knows it) around everything the request does — blocking database calls
//! included (`AppState::db`) — so every event it logs, internal errors too, carries them;
//! security headers, one JSON access-log line, and RED metrics labelled by the matched route
//! template.

use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tracing::Instrument;

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn request_id(req: &Request) -> String {
    let given = req.headers().get("x-request-id").and_then(|v| v.to_str().ok());
    match given {
        Some(id)
            if !id.is_empty()
                && id.len() <= 64
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            id.to_string()
        }
        _ => {
            let n = SEQUENCE.fetch_add(1, Ordering::Relaxed);
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_micros());
            format!("{t:x}-{n:x}")
        }
    }
}

/// The `method` label: a standard method's name, else `other` (any token is a valid method,
/// and a label per invented one would grow `/metrics` without bound).
fn method_label(method: &Method) -> &'static str {
    const STANDARD: [Method; 9] = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::OPTIONS,
        Method::PATCH,
        Method::TRACE,
        Method::CONNECT,
    ];
    STANDARD.iter().find(|m| *m == method).map_or("other", Method::as_str)
}

/// Nothing may load anything, except Swagger UI at `/docs`: its own scripts, styles (it
/// sets some inline), images as data URIs, and the document from this origin.
fn csp(docs: bool) -> &'static str {
    if docs {
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"
    } else {
        "default-src 'none'; frame-ancestors 'none'"
    }
}

pub async fn observe(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(&req);
    let method = method_label(req.method());
    let route =
        req.extensions().get::<MatchedPath>().map_or("unmatched", |m| m.as_str()).to_string();
    let docs = crate::layers::auth::is_docs(req.uri().path());
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method,
        route = %route,
        key_id = tracing::field::Empty
    );
    let mut response = next.run(req).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let seconds = started.elapsed().as_secs_f64();
    state.telemetry.record(|| {
        let labels = [("method", method.to_string()), ("route", route.clone())];
        metrics::histogram!("preciso_http_request_duration_seconds", &labels).record(seconds);
        let [m, r] = labels;
        let with_status = [m, r, ("status", status.to_string())];
        metrics::counter!("preciso_http_requests_total", &with_status).increment(1);
    });
    let _in_request = span.enter();
    tracing::info!(
        target: "preciso::access",
        request_id = %id,
        method = %method,
        route = %route,
        status,
        latency_ms = seconds * 1000.0,
        "request"
    );
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&id) {
        headers.insert("x-request-id", v);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // A handler that serves a self-contained page sets its own, as narrow (the report export).
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp(docs)));
    }
    if state.config.behind_tls {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    response
}
