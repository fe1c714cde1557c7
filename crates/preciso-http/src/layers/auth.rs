//! API keys, scopes, the client's address and rate limiting. Keys travel in `X-API-Key`; only
//! their SHA-256 is stored, and the final comparison is constant-time. Scopes: `admin` allows
//! everything; `write` allows `read`; `users` (users and `user_id` personalization, which
//! expose personal data) allows `read`. Writes need `write`; reads need `read` only when
//! `require_auth_for_reads` is on; users endpoints always need `users`. A key that is sent but
//! unknown is always refused, so a misconfigured client finds out at once — and each refusal
//! counts against the client's address, so keys cannot be guessed faster than the limit.

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::Method;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use subtle::ConstantTimeEq;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Read,
    Write,
    Users,
    Admin,
}

impl Scope {
    pub const NAMES: [&'static str; 4] = ["read", "write", "users", "admin"];

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    fn parse(name: &str) -> Option<Scope> {
        [Scope::Read, Scope::Write, Scope::Users, Scope::Admin]
            .into_iter()
            .find(|s| s.name() == name)
    }
}

/// The scopes of one key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scopes(u8);

impl Scopes {
    /// The known scopes among `names`; `None` when there is none.
    pub fn from_names(names: &[String]) -> Option<Scopes> {
        let bits = names.iter().filter_map(|n| Scope::parse(n)).fold(0, |b, s| b | 1 << s as u8);
        (bits != 0).then_some(Scopes(bits))
    }

    fn has(self, s: Scope) -> bool {
        self.0 & (1 << s as u8) != 0
    }

    pub fn allows(self, needed: Scope) -> bool {
        self.has(Scope::Admin)
            || self.has(needed)
            || needed == Scope::Read && (self.has(Scope::Write) || self.has(Scope::Users))
    }
}

/// The caller, as the handlers see it.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// `key:<id>` or `static` (never the key itself).
    pub key_id: Option<String>,
    pub scopes: Option<Scopes>,
}

impl Caller {
    /// Whether operational detail (paths, error texts) may be shown.
    pub fn is_admin(&self) -> bool {
        self.scopes.is_some_and(|s| s.allows(Scope::Admin))
    }

    /// 401 without a key, 403 with a key that lacks `scope`.
    pub fn require(&self, scope: Scope) -> ApiResult<()> {
        match self.scopes {
            None => Err(ApiError::Unauthorized),
            Some(s) if !s.allows(scope) => Err(ApiError::Forbidden(scope.name())),
            Some(_) => Ok(()),
        }
    }

    /// For the audit log: the key id, or `anonymous`.
    pub fn who(&self) -> &str {
        self.key_id.as_deref().unwrap_or("anonymous")
    }
}

/// Handlers read the caller the guard recorded (anonymous when it recorded none).
impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Caller>().cloned().unwrap_or_default())
    }
}

use preciso_core::hash::api_key_hash as hash_key;

/// Endpoints that never need a key and are not rate limited (probes and scrapes).
fn is_infrastructure(path: &str) -> bool {
    matches!(path, "/health" | "/ready" | "/metrics" | "/api/openapi.json")
        || is_docs(path)
        || crate::ui::is_asset(path)
}

/// The client's address as the rate limiter keys it (`ip:…`), for handlers that count
/// refusals themselves (the UI's login form).
#[derive(Debug, Clone)]
pub struct ClientAddress(pub String);

/// The API reference (`/docs` and its assets): as open as the document it shows.
pub fn is_docs(path: &str) -> bool {
    path == "/docs" || path.starts_with("/docs/")
}

fn required_scope(state: &AppState, method: &Method, path: &str) -> Option<Scope> {
    if is_infrastructure(path) {
        return None;
    }
    if crate::ui::is_ui_path(path) {
        // Pages read like the API; forms check their session and token in their handlers.
        let read = matches!(*method, Method::GET | Method::HEAD) && path != "/login";
        return (read && state.config.require_auth_for_reads).then_some(Scope::Read);
    }
    if path == "/api/users" || path.starts_with("/api/users/") {
        return Some(Scope::Users);
    }
    if path.starts_with("/api/jobs/") && method == Method::POST {
        return Some(Scope::Admin);
    }
    match *method {
        Method::GET | Method::HEAD | Method::OPTIONS => {
            state.config.require_auth_for_reads.then_some(Scope::Read)
        }
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE => Some(Scope::Write),
        // No route takes TRACE, CONNECT or an invented method: the router's 405 says so.
        _ => None,
    }
}

/// The key's id and scopes; `Unauthorized` when no configured or stored key matches.
pub(crate) async fn authenticate(
    state: &AppState,
    key: &str,
) -> Result<(String, Scopes), ApiError> {
    authenticate_digest(state, hash_key(key)).await
}

/// The same by the key's SHA-256 (hex), as a UI session holds it.
pub(crate) async fn authenticate_digest(
    state: &AppState,
    digest: String,
) -> Result<(String, Scopes), ApiError> {
    for (stored, scopes) in &state.config.static_keys {
        if bool::from(stored.as_bytes().ct_eq(digest.as_bytes())) {
            return Scopes::from_names(scopes)
                .map(|s| ("static".to_string(), s))
                .ok_or(ApiError::Unauthorized);
        }
    }
    let lookup = digest.clone();
    let record = state.db(move |c| Ok(c.api_key_by_hash(&lookup)?)).await?;
    match record {
        Some(r) => Scopes::from_names(&r.scopes)
            .map(|s| (format!("key:{}", r.id), s))
            .ok_or(ApiError::Unauthorized),
        None => Err(ApiError::Unauthorized),
    }
}

/// The client's address. `X-Forwarded-For` is read only when the connecting peer is a
/// trusted proxy; then the client is the rightmost address in it that is not one (each proxy
/// appends the address it saw, so entries left of the first untrusted one are the client's
/// own claims). An entry that is not an IP address ends the walk at the hop that sent it.
pub fn client_ip(
    trusted: &[IpNet],
    peer: Option<IpAddr>,
    forwarded: Option<&str>,
) -> Option<IpAddr> {
    let peer = peer?;
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let Some(header) = forwarded.filter(|_| is_trusted(&peer)) else { return Some(peer) };
    let mut client = peer;
    for entry in header.rsplit(',') {
        match entry.trim().parse::<IpAddr>() {
            Ok(ip) if is_trusted(&ip) => client = ip,
            Ok(ip) => return Some(ip),
            Err(_) => break,
        }
    }
    Some(client)
}

fn client_key(state: &AppState, req: &Request) -> String {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    let forwarded = (!forwarded.is_empty()).then_some(forwarded.as_str());
    client_ip(&state.config.trusted_proxies, peer, forwarded)
        .map_or_else(|| "ip:unknown".to_string(), |ip| format!("ip:{ip}"))
}

/// A refused key: counted against the address; 429 once the address is out of requests.
fn refuse(state: &AppState, address: &str, error: ApiError) -> Response {
    if state.config.rate_limit_per_minute == 0 {
        return error.into_response();
    }
    match state.limiter.fail(address) {
        Ok(()) => error.into_response(),
        Err(retry_after) => ApiError::RateLimited { retry_after }.into_response(),
    }
}

fn cookies(req: &Request) -> Option<String> {
    req.headers().get(axum::http::header::COOKIE)?.to_str().ok().map(str::to_string)
}

/// The caller a UI session cookie stands for: its key authenticated again, so a revoked key
/// ends its sessions.
async fn ui_session(
    state: &AppState,
    cookies: Option<String>,
) -> Option<(Caller, crate::ui::session::Session)> {
    use crate::ui::session::{SESSION_COOKIE, cookie};
    let value = cookie(cookies.as_deref()?, SESSION_COOKIE)?;
    let session = state.sessions.open(value, chrono::Utc::now().timestamp())?;
    let (id, scopes) = authenticate_digest(state, session.key_digest.clone()).await.ok()?;
    Some((Caller { key_id: Some(format!("{id} (session)")), scopes: Some(scopes) }, session))
}

pub async fn guard(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    // Probes and scrapes take no key (`/ready` does: an admin key sees its error texts).
    if is_infrastructure(&path) && path != "/ready" {
        return next.run(req).await;
    }
    let needed = required_scope(&state, req.method(), &path);
    let address = client_key(&state, &req);
    let key = req.headers().get("x-api-key").and_then(|v| v.to_str().ok()).map(str::to_string);
    let caller = match key {
        Some(k) => {
            if let Err(retry_after) = state.limiter.blocked(&address) {
                return ApiError::RateLimited { retry_after }.into_response();
            }
            match authenticate(&state, &k).await {
                Ok((id, scopes)) => {
                    tracing::Span::current().record("key_id", id.as_str());
                    Caller { key_id: Some(id), scopes: Some(scopes) }
                }
                Err(ApiError::Unauthorized) => {
                    return refuse(&state, &address, ApiError::Unauthorized);
                }
                Err(e) => return e.into_response(),
            }
        }
        None if crate::ui::is_ui_path(&path) => match ui_session(&state, cookies(&req)).await {
            Some((caller, session)) => {
                if let Some(id) = &caller.key_id {
                    tracing::Span::current().record("key_id", id.as_str());
                }
                req.extensions_mut().insert(session);
                caller
            }
            None => Caller::default(),
        },
        None => Caller::default(),
    };
    if let Some(needed) = needed
        && let Err(e) = caller.require(needed)
    {
        if crate::ui::is_ui_path(&path) && caller.scopes.is_none() {
            let here = req.uri().path_and_query().map_or("/", |p| p.as_str());
            return crate::ui::to_login(here);
        }
        return refuse(&state, &address, e);
    }
    req.extensions_mut().insert(ClientAddress(address.clone()));
    if !is_infrastructure(&path) {
        let client = caller.key_id.clone().unwrap_or(address);
        let per_minute = state.config.rate_limit_per_minute;
        let shared = match &state.shared {
            Some(shared) if per_minute > 0 => shared.check_rate(&client, per_minute).await,
            _ => None,
        };
        // Without Redis, or while it does not answer, this process limits on its own.
        let verdict = shared.unwrap_or_else(|| state.limiter.check(&client));
        if let Err(retry_after) = verdict {
            return ApiError::RateLimited { retry_after }.into_response();
        }
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn forwarded_for_is_read_only_from_trusted_proxies_and_from_the_right() {
        let proxies = nets(&["10.0.0.0/8", "::1/128"]);
        let peer = ip("10.0.0.5");
        // A direct client's header is ignored.
        assert_eq!(client_ip(&proxies, ip("203.0.113.9"), Some("1.2.3.4")), ip("203.0.113.9"));
        // Behind nginx's $proxy_add_x_forwarded_for the client's own claim is on the left.
        assert_eq!(client_ip(&proxies, peer, Some("6.6.6.6, 198.51.100.7")), ip("198.51.100.7"));
        // Trusted hops are skipped.
        assert_eq!(client_ip(&proxies, peer, Some("198.51.100.7, 10.1.1.1")), ip("198.51.100.7"));
        // Garbage stops the walk at the hop that sent it.
        assert_eq!(client_ip(&proxies, peer, Some("198.51.100.7, x, 10.1.1.1")), ip("10.1.1.1"));
        assert_eq!(client_ip(&proxies, peer, Some("not-an-ip")), peer);
        // No trusted proxies configured: the peer, whatever the header says.
        assert_eq!(client_ip(&[], peer, Some("1.2.3.4")), peer);
        assert_eq!(client_ip(&proxies, ip("::1"), Some("2001:db8::1")), ip("2001:db8::1"));
    }

    #[test]
    fn scopes_nest_as_documented() {
        let s = |names: &[&str]| {
            Scopes::from_names(&names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
        };
        let read = s(&["read"]).unwrap();
        assert!(read.allows(Scope::Read) && !read.allows(Scope::Users));
        let write = s(&["write"]).unwrap();
        assert!(write.allows(Scope::Read) && !write.allows(Scope::Users));
        let users = s(&["users"]).unwrap();
        assert!(users.allows(Scope::Read) && users.allows(Scope::Users));
        assert!(!users.allows(Scope::Write) && !users.allows(Scope::Admin));
        let admin = s(&["admin"]).unwrap();
        assert!(
            [Scope::Read, Scope::Write, Scope::Users, Scope::Admin]
                .iter()
                .all(|x| admin.allows(*x))
        );
        assert_eq!(s(&["bogus"]), None);
    }
}
