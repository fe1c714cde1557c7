//! API keys and rate limiting. Keys travel in `X-API-Key`; only their SHA-256 is stored, and
//! the final comparison is constant-time. Scopes nest: `admin` ⊇ `write` ⊇ `read`. Writes need
//! `write`; reads need `read` only when `require_auth_for_reads` is on. A key that is sent but
//! unknown is always refused, so a misconfigured client finds out at once.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use subtle::ConstantTimeEq;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Read,
    Write,
    Admin,
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }

    fn from_names(names: &[String]) -> Option<Scope> {
        names
            .iter()
            .filter_map(|n| match n.as_str() {
                "read" => Some(Scope::Read),
                "write" => Some(Scope::Write),
                "admin" => Some(Scope::Admin),
                _ => None,
            })
            .max()
    }
}

/// The caller, as the handlers see it.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key_id: Option<String>,
    pub scope: Option<Scope>,
}

pub fn hash_key(key: &str) -> String {
    preciso_core::hash::to_hex(&Sha256::digest(key.as_bytes()))
}

/// Endpoints that never need a key and are not rate limited (probes and scrapes).
fn is_infrastructure(path: &str) -> bool {
    matches!(path, "/health" | "/ready" | "/metrics" | "/api/openapi.json")
}

fn required_scope(state: &AppState, method: &Method, path: &str) -> Option<Scope> {
    if is_infrastructure(path) {
        return None;
    }
    if path.starts_with("/api/jobs/") && method == Method::POST {
        return Some(Scope::Admin);
    }
    match *method {
        Method::GET | Method::HEAD | Method::OPTIONS => {
            state.config.require_auth_for_reads.then_some(Scope::Read)
        }
        _ => Some(Scope::Write),
    }
}

async fn authenticate(state: &AppState, key: &str) -> Result<(String, Scope), ApiError> {
    let digest = hash_key(key);
    for (stored, scopes) in &state.config.static_keys {
        if bool::from(stored.as_bytes().ct_eq(digest.as_bytes())) {
            return Scope::from_names(scopes)
                .map(|s| ("static".to_string(), s))
                .ok_or(ApiError::Unauthorized);
        }
    }
    let lookup = digest.clone();
    let record = state.db(move |c| Ok(c.api_key_by_hash(&lookup)?)).await?;
    match record {
        Some(r) => Scope::from_names(&r.scopes)
            .map(|s| (format!("key:{}", r.id), s))
            .ok_or(ApiError::Unauthorized),
        None => Err(ApiError::Unauthorized),
    }
}

fn client_ip(state: &AppState, req: &Request) -> String {
    if state.config.trust_forwarded_for
        && let Some(ip) = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
    {
        return format!("ip:{}", ip.trim());
    }
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "ip:unknown".to_string(), |c| format!("ip:{}", c.0.ip()))
}

pub async fn guard(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let needed = required_scope(&state, req.method(), &path);
    let key = req.headers().get("x-api-key").and_then(|v| v.to_str().ok()).map(str::to_string);
    let caller = match key {
        Some(k) => match authenticate(&state, &k).await {
            Ok((id, scope)) => Caller { key_id: Some(id), scope: Some(scope) },
            Err(e) => return e.into_response(),
        },
        None => Caller { key_id: None, scope: None },
    };
    if let Some(needed) = needed {
        match caller.scope {
            None => return ApiError::Unauthorized.into_response(),
            Some(s) if s < needed => return ApiError::Forbidden(needed.name()).into_response(),
            Some(_) => {}
        }
    }
    if !is_infrastructure(&path) {
        let client = caller.key_id.clone().unwrap_or_else(|| client_ip(&state, &req));
        let verdict = match (&state.shared, state.config.rate_limit_per_minute) {
            (_, 0) => Ok(()),
            (Some(shared), per_minute) => shared.check_rate(&client, per_minute).await,
            (None, _) => state.limiter.check(&client),
        };
        if let Err(retry_after) = verdict {
            return ApiError::RateLimited { retry_after }.into_response();
        }
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}
