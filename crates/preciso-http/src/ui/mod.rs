//! The web UI (issue #19): server-rendered pages at `/` for people who do not program.
//! Each page renders the same typed answers the API serves, by calling the API's own handlers
//! (so a page and its endpoint cannot disagree), in Spanish or English, money in each
//! currency's own format and never ranked across currencies, charts as inline SVG. Pages need
//! no script. A browser signs in at `/login` with an API key and then carries a signed session
//! cookie (`session`); forms that change something carry a CSRF token.

pub mod chart;
pub mod format;
pub mod i18n;
mod layout;
mod pages;
pub mod session;

use crate::error::ApiError;
use crate::layers::auth::Caller;
use crate::params::Params;
use crate::state::AppState;
use axum::Router;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use i18n::{LANG_COOKIE, Lang, Texts};
use maud::Markup;
use session::Session;

/// What a page may load: its own style sheet; nothing runs, nothing else is fetched, forms
/// post only here.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
    form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The paths the UI serves (the auth guard reads sessions on these and nowhere else).
pub fn is_ui_path(path: &str) -> bool {
    path == "/"
        || [
            "/search",
            "/products/",
            "/categories/",
            "/stores",
            "/ops",
            "/quality",
            "/login",
            "/logout",
        ]
        .iter()
        .any(|p| path == p.trim_end_matches('/') || path.starts_with(p))
}

/// Static files: no key, no rate limit, cached for a year (their names change with content).
pub fn is_asset(path: &str) -> bool {
    path.starts_with("/assets/")
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::home::page))
        .route("/search", get(pages::search::page))
        .route("/products/{id}", get(pages::product::page))
        .route("/categories/{*name}", get(pages::category::page))
        .route("/stores", get(pages::stores::page))
        .route("/quality", get(pages::quality::page))
        .route("/quality/{id}/export", get(pages::quality::export))
        .route("/ops", get(pages::ops::page))
        .route("/ops/jobs/{name}/run", post(pages::ops::run))
        .route("/login", get(pages::login::form).post(pages::login::submit))
        .route("/logout", post(pages::login::logout))
        .route("/assets/{file}", get(asset))
}

async fn asset(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    if format!("/assets/{file}") != *layout::CSS_PATH {
        return ApiError::NotFound("no such asset".into()).into_response();
    }
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        layout::CSS,
    )
        .into_response()
}

/// Everything a page needs about its request: language, caller, session and query.
pub struct Ctx {
    pub state: AppState,
    pub lang: Lang,
    pub t: &'static Texts,
    pub caller: Caller,
    pub session: Option<Session>,
    /// The session's form token (signed in only).
    pub csrf: Option<String>,
    pub path: String,
    /// The query as given, in order.
    pub pairs: Vec<(String, String)>,
    /// Set when `?lang=` chose the language: remembered in a cookie.
    lang_chosen: bool,
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = Response;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Query(pairs) = Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|_| {
            let lang = Lang::choose(None, &parts.headers);
            error_page_bare(lang, StatusCode::BAD_REQUEST, "malformed query string")
        })?;
        let asked = pairs.iter().find(|(k, _)| k == "lang").map(|(_, v)| v.as_str());
        let lang = Lang::choose(asked, &parts.headers);
        let session = parts.extensions.get::<Session>().cloned();
        let csrf = session.as_ref().map(|s| state.sessions.csrf("session", &s.nonce));
        Ok(Ctx {
            state: state.clone(),
            lang,
            t: lang.texts(),
            caller: parts.extensions.get::<Caller>().cloned().unwrap_or_default(),
            session,
            csrf,
            path: parts.uri.path().to_string(),
            lang_chosen: asked.and_then(Lang::parse).is_some(),
            pairs,
        })
    }
}

impl Ctx {
    /// The query for the API's handlers.
    pub fn params(&self) -> Params {
        Params::from_pairs(self.pairs.clone())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, v)| k == name && !v.is_empty()).map(|(_, v)| v.as_str())
    }

    /// This page's URL with some parameters replaced (an empty value drops one); `lang` is
    /// never carried (the cookie keeps it).
    pub fn url_with(&self, changes: &[(&str, &str)]) -> String {
        let mut pairs: Vec<(&str, &str)> = self
            .pairs
            .iter()
            .filter(|(k, v)| !v.is_empty() && k != "lang" && !changes.iter().any(|c| c.0 == k))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        pairs.extend(changes.iter().filter(|c| !c.1.is_empty()).copied());
        url(&self.path, &pairs)
    }

    /// This page's path and query, percent-encoded for a `next=` parameter.
    pub fn encoded_here(&self) -> String {
        let here = self.url_with(&[]);
        form_urlencoded::byte_serialize(here.as_bytes()).collect()
    }

    /// The full page as a response: HTML, its CSP, never cached by shared caches and
    /// revalidated by the browser (pages change with each ingest and show the session).
    pub fn render(&self, section: layout::Section, title: &str, body: Markup) -> Response {
        let page = layout::shell(self, section, title, body);
        let mut response = html_response(StatusCode::OK, page.into_string());
        if self.lang_chosen {
            let cookie = format!(
                "{LANG_COOKIE}={}; Max-Age=31536000; Path=/; SameSite=Lax{}",
                self.lang.code(),
                if self.state.config.behind_tls { "; Secure" } else { "" }
            );
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                response.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        response
    }

    /// An error as a page: the API error's status and message (internal detail is logged,
    /// not shown).
    pub fn error(&self, e: ApiError) -> Response {
        let status = e.status();
        if let ApiError::Internal(detail) = &e {
            tracing::error!(error = %detail, "internal error in a page");
        }
        let title = match status {
            StatusCode::NOT_FOUND => self.t.not_found,
            s if s.is_client_error() => self.t.bad_request,
            _ => self.t.failed,
        };
        let message = e.to_string();
        let body = maud::html! {
            p.notice.bad { (message) }
            p { a href="/" { (self.t.home_link) } }
        };
        let mut response = self.render(layout::Section::None, title, body);
        *response.status_mut() = status;
        if let ApiError::RateLimited { retry_after } = e
            && let Ok(v) = HeaderValue::from_str(&retry_after.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }

    /// 403 as a page: a form without its session's token, or a session that is not an
    /// admin's.
    pub fn forbidden(&self) -> Response {
        let body = maud::html! { p.notice.bad { (self.t.forbidden) } p { a href="/login" { (self.t.login) } } };
        let mut response = self.render(layout::Section::None, self.t.forbidden, body);
        *response.status_mut() = StatusCode::FORBIDDEN;
        response
    }

    /// Whether the cookie should be `Secure`.
    pub fn secure(&self) -> bool {
        self.state.config.behind_tls
    }
}

/// `path?k=v&…`, encoded.
pub fn url(path: &str, pairs: &[(&str, &str)]) -> String {
    if pairs.is_empty() {
        return path.to_string();
    }
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        q.append_pair(k, v);
    }
    format!("{path}?{}", q.finish())
}

/// A path segment, percent-encoded.
pub fn segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn html_response(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    h.insert(header::VARY, HeaderValue::from_static("Cookie, Accept-Language"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    response
}

/// An error page before a `Ctx` exists (a query string that does not parse).
fn error_page_bare(lang: Lang, status: StatusCode, message: &str) -> Response {
    let t = lang.texts();
    let title = if status == StatusCode::NOT_FOUND { t.not_found } else { t.bad_request };
    let body = maud::html! {
        (maud::DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Preciso" }
                link rel="stylesheet" href=(layout::CSS_PATH.as_str());
            }
            body { main { h1 { (title) } p { (message) } p { a href="/" { (t.home_link) } } } }
        }
    };
    html_response(status, body.into_string())
}

/// A 404 page for a browser (it asks for HTML) outside `/api/`; `None` for API clients.
pub fn not_found_page(path: &str, headers: &axum::http::HeaderMap) -> Option<Response> {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if !wants_html || path.starts_with("/api/") || path == "/api" {
        return None;
    }
    let lang = Lang::choose(None, headers);
    Some(error_page_bare(lang, StatusCode::NOT_FOUND, lang.texts().not_found))
}

/// 303 to a local path.
pub fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Where a browser without a session is sent when the pages need one.
pub fn to_login(path_and_query: &str) -> Response {
    let next: String = form_urlencoded::byte_serialize(path_and_query.as_bytes()).collect();
    see_other(&format!("/login?next={next}"))
}
