//! `/login` and `/logout`. The form takes an API key once; a valid key gets a signed session
//! cookie (`ui::session`), an invalid one counts against the client's address exactly like a
//! refused `X-API-Key` (so keys cannot be guessed faster through the form). The form's CSRF
//! token is bound to a short-lived cookie set with the form.

use super::super::layout::Section;
use super::super::session::{
    LOGIN_COOKIE, LOGIN_TTL, SESSION_COOKIE, SESSION_TTL, cookie, nonce, set_cookie,
};
use super::super::{Ctx, see_other};
use crate::error::ApiError;
use crate::layers::auth::ClientAddress;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::html;
use std::collections::HashMap;

/// The largest form body.
const FORM_LIMIT: usize = 16 << 10;

/// An `application/x-www-form-urlencoded` body (at most 16 KiB) with the request's cookies
/// and client address.
pub struct Form {
    fields: HashMap<String, String>,
    cookies: String,
    client: String,
}

impl Form {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

impl FromRequest<crate::state::AppState> for Form {
    type Rejection = Response;
    async fn from_request(req: Request, _: &crate::state::AppState) -> Result<Self, Response> {
        let cookies = req
            .headers()
            .get(header::COOKIE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let client =
            req.extensions().get::<ClientAddress>().map_or_else(String::new, |c| c.0.clone());
        let bytes = axum::body::to_bytes(req.into_body(), FORM_LIMIT)
            .await
            .map_err(|_| ApiError::PayloadTooLarge { limit: FORM_LIMIT }.into_response())?;
        let fields = form_urlencoded::parse(&bytes).into_owned().take(32).collect();
        Ok(Form { fields, cookies, client })
    }
}

/// A local path to go back to after signing in; anything else goes to `/`. Only printable
/// ASCII without spaces or backslashes: browsers drop tabs and newlines from `Location`, so
/// `/\t/evil.example` would become `//evil.example`, another origin.
pub(crate) fn local(next: Option<&str>) -> &str {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && n.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') =>
        {
            n
        }
        _ => "/",
    }
}

pub async fn form(ctx: Ctx) -> Response {
    login_page(&ctx, ctx.get("next"), None, StatusCode::OK)
}

fn login_page(
    ctx: &Ctx,
    next: Option<&str>,
    problem: Option<&str>,
    status: StatusCode,
) -> Response {
    let t = ctx.t;
    let n = nonce();
    let token = ctx.state.sessions.csrf("login", &n);
    let body = html! {
        @if let Some(p) = problem { p.notice.bad role="alert" { (p) } }
        form.inline method="post" action="/login" {
            input type="hidden" name="csrf" value=(token);
            input type="hidden" name="next" value=(local(next));
            label { (t.api_key) input type="password" name="key" required autocomplete="off" maxlength="200"; }
            button type="submit" { (t.login) }
        }
        p.muted { (t.login_help) }
    };
    let mut response = ctx.render(Section::None, t.login_title, body);
    *response.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(&set_cookie(LOGIN_COOKIE, &n, LOGIN_TTL, ctx.secure())) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

pub async fn submit(ctx: Ctx, form: Form) -> Response {
    let t = ctx.t;
    let next = form.get("next");
    let login_nonce = cookie(&form.cookies, LOGIN_COOKIE);
    let token_ok = match (login_nonce, form.get("csrf")) {
        (Some(n), Some(token)) => ctx.state.sessions.csrf_ok("login", n, token),
        _ => false,
    };
    if !token_ok {
        return login_page(&ctx, next, Some(t.login_expired), StatusCode::FORBIDDEN);
    }
    let state = &ctx.state;
    if let Err(retry_after) = state.limiter.blocked(&form.client) {
        return ctx.error(ApiError::RateLimited { retry_after });
    }
    let key = form.get("key").unwrap_or("");
    match crate::layers::auth::authenticate(state, key).await {
        Ok((id, _)) => {
            tracing::info!(target: "preciso::audit", key = %id, action = "ui.login", "signed in");
            let digest = preciso_core::hash::api_key_hash(key);
            let value = state.sessions.issue(&digest, chrono::Utc::now().timestamp());
            let mut r = see_other(local(next));
            for c in [
                set_cookie(SESSION_COOKIE, &value, SESSION_TTL, ctx.secure()),
                set_cookie(LOGIN_COOKIE, "", std::time::Duration::ZERO, ctx.secure()),
            ] {
                if let Ok(v) = HeaderValue::from_str(&c) {
                    r.headers_mut().append(header::SET_COOKIE, v);
                }
            }
            r
        }
        Err(ApiError::Unauthorized) => {
            if state.config.rate_limit_per_minute > 0
                && let Err(retry_after) = state.limiter.fail(&form.client)
            {
                return ctx.error(ApiError::RateLimited { retry_after });
            }
            login_page(&ctx, next, Some(t.login_failed), StatusCode::UNAUTHORIZED)
        }
        Err(e) => ctx.error(e),
    }
}

pub async fn logout(ctx: Ctx, form: Form) -> Response {
    let ok = match (&ctx.session, form.get("csrf")) {
        (Some(s), Some(token)) => ctx.state.sessions.csrf_ok("session", &s.nonce, token),
        // No session: nothing to end.
        (None, _) => true,
        _ => false,
    };
    if !ok {
        return ctx.forbidden();
    }
    let mut r = see_other("/");
    let clear = set_cookie(SESSION_COOKIE, "", std::time::Duration::ZERO, ctx.secure());
    if let Ok(v) = HeaderValue::from_str(&clear) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::local;

    #[test]
    fn only_local_paths_are_followed() {
        for ok in ["/", "/stores", "/search?q=a%20b&page=2", "/products/0a23"] {
            assert_eq!(local(Some(ok)), ok);
        }
        for bad in [
            "//evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\\evil.example",
            "https://evil.example",
            "evil",
            "/ /x",
            "/caf\u{e9}",
        ] {
            assert_eq!(local(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(local(None), "/");
    }
}
