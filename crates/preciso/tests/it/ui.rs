//! The web UI (issue #19) served on a random port over the API tests' catalog: each page's
//! HTML holds the prices, stores and chart titles it must show, in Spanish or English, money in
//! each currency's format; sessions, CSRF and the admin-only run button; headers. The browser
//! side (navigation, axe-core, screenshots) is `.ci/ui.py`, run by `.ci/run`.

use super::api::{ADMIN_KEY, Backend, TestApp, blocking, open_config, spawn_app};
use preciso_http::HttpConfig;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;

/// Runs each UI test on SQLite and on PostgreSQL.
macro_rules! ui_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Backend::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Backend::Postgres).await } )*
        }
    };
}

ui_tests!(
    pages_show_prices_stores_and_charts,
    language_and_currency_switch,
    quality_and_store_scores_come_from_the_newest_analysis,
    login_sessions_csrf_and_logout,
    pages_behind_auth_send_browsers_to_login,
    a_search_past_its_candidates_pages_them_alone,
);

struct Page {
    status: StatusCode,
    headers: HeaderMap,
    html: String,
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn page(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> Page {
    let mut req = client().get(format!("{}{path}", app.base));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.unwrap();
    Page { status: r.status(), headers: r.headers().clone(), html: r.text().await.unwrap() }
}

async fn ok(app: &TestApp, path: &str) -> String {
    let p = page(app, path, &[]).await;
    assert_eq!(p.status, StatusCode::OK, "GET {path}: {}", p.html);
    p.html
}

async fn post_form(app: &TestApp, path: &str, cookie: &str, form: &[(&str, &str)]) -> Page {
    let r = client()
        .post(format!("{}{path}", app.base))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode(form))
        .send()
        .await
        .unwrap();
    Page { status: r.status(), headers: r.headers().clone(), html: r.text().await.unwrap() }
}

/// A form body, every byte but letters and digits percent-encoded.
pub(crate) fn encode(form: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    form.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

/// The value of a form's hidden CSRF field.
pub(crate) fn csrf(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    html[at..].split('"').next().unwrap().to_string()
}

/// `name=value` of a `Set-Cookie` named `name`.
pub(crate) fn set_cookie(h: &HeaderMap, name: &str) -> Option<String> {
    h.get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(str::to_string)
}

async fn product_id(app: &TestApp, q: &str) -> String {
    let v = app.ok(&format!("/api/price-comparison?q={q}")).await;
    v["product"]["id"].as_str().unwrap().to_string()
}

async fn pages_show_prices_stores_and_charts(backend: Backend) {
    let Some(app) = spawn_app(backend, open_config()).await else { return };
    // The overview: counts, categories, in Spanish; strict headers.
    let home = page(&app, "/", &[]).await;
    assert_eq!(home.status, StatusCode::OK);
    assert_eq!(home.headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(home.headers["cache-control"], "private, no-cache");
    let csp = home.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'none'; style-src 'self'") && !csp.contains("http"));
    assert!(home.html.contains("<html lang=\"es\">") && home.html.contains("Ofertas"));
    assert!(home.html.contains("href=\"/categories/electro/neveras\""), "{}", home.html);
    // Its style sheet, named by content and cached for a year.
    let css =
        home.html.split("rel=\"stylesheet\" href=\"").nth(1).unwrap().split('"').next().unwrap();
    let r = client().get(format!("{}{css}", app.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert!(r.text().await.unwrap().contains("--brand"));
    assert_eq!(page(&app, "/assets/app.0.css", &[]).await.status, StatusCode::NOT_FOUND);
    // A wrong link: a page for a browser, the error shape for an API client.
    let lost = page(&app, "/productos", &[("accept", "text/html,*/*")]).await;
    assert_eq!(lost.status, StatusCode::NOT_FOUND);
    assert!(lost.html.contains("<h1>No encontrado</h1>"), "{}", lost.html);
    let api = page(&app, "/api/nada", &[("accept", "text/html")]).await;
    assert!(api.html.contains("\"not_found\""), "{}", api.html);

    // Search by text: the best price first, in the currency's own format, with its store.
    let found = ok(&app, "/search?q=nevera").await;
    assert!(found.contains("Nevera Mabe 300L") && found.contains("$ 2.199.900"), "{found}");
    assert!(found.contains("alkosto") && !found.contains("Televisor"));
    // Filters narrow and stay in the form.
    let exito = ok(&app, "/search?q=nevera&store=exito").await;
    assert!(exito.contains("$ 2.349.900") && !exito.contains("$ 2.199.900"), "{exito}");
    assert!(exito.contains("<option value=\"exito\" selected>"), "{exito}");
    let dear = ok(&app, "/search?q=mabe+oster&min_price=1000000").await;
    assert!(dear.contains("Ningún producto coincide"), "both words must match: {dear}");
    // Pages: one product per page, the next link keeps the filters.
    let first = ok(&app, "/search?category=electro&limit=1").await;
    assert!(first.contains("Página 1 de 3"), "{first}");
    assert!(
        first.contains("href=\"/search?category=electro&amp;limit=1&amp;page=2\" rel=\"next\"")
    );
    let second = ok(&app, "/search?category=electro&limit=1&page=2").await;
    assert!(second.contains("Página 2 de 3") && second.contains("rel=\"prev\""));
    assert_eq!(page(&app, "/search?min_price=abc", &[]).await.status, StatusCode::BAD_REQUEST);

    // A product across stores: ranked offers, spread, the history chart and its table.
    let id = product_id(&app, "televisor").await;
    let tv = ok(&app, &format!("/products/{id}")).await;
    assert!(tv.contains("<h1>Televisor Samsung 55</h1>"), "{tv}");
    let (cheap, dear) = (tv.find("$ 2.400.000").unwrap(), tv.find("$ 2.900.000").unwrap());
    assert!(cheap < dear, "cheapest first");
    assert!(tv.contains("exito") && tv.contains("alkosto"));
    assert!(tv.contains("$ 500.000"), "the spread: {tv}");
    assert!(tv.contains(r#"<svg"#) && tv.contains(r#"role="img""#));
    assert!(
        tv.contains("<title id=\"history-t\">Historial de precios: Televisor Samsung 55</title>")
    );
    // Its history in the data table: 3.000.000 then 2.400.000 at exito.
    assert!(tv.contains("$ 3.000.000") && tv.contains("Datos del gráfico"));
    assert!(tv.contains("Mínimo de 30 días"));
    assert_eq!(page(&app, "/products/0000000000000001", &[]).await.status, StatusCode::NOT_FOUND);
    assert_eq!(page(&app, "/products/not-an-id", &[]).await.status, StatusCode::BAD_REQUEST);

    // A category: best prices, the histogram with its title, per-brand and per-store tables.
    let electro = ok(&app, "/categories/electro").await;
    assert!(electro.contains("<title id=\"histogram-t\">Distribución de precios: electro</title>"));
    assert!(electro.contains("Licuadora Oster") && electro.contains("Por marca"));
    assert!(electro.contains("Mabe") && electro.contains("Imusa"));
    let neveras = ok(&app, "/categories/electro/neveras").await;
    assert!(neveras.contains("<h1>Electro &gt; Neveras</h1>"), "{neveras}");
    assert_eq!(page(&app, "/categories/nada", &[]).await.status, StatusCode::NOT_FOUND);

    // Stores side by side; the scheduler page says there is none in this process.
    let stores = ok(&app, "/stores").await;
    assert!(["exito", "alkosto", "jumbo"].iter().all(|s| stores.contains(s)), "{stores}");
    assert!(stores.contains("Índice de precio"));
    let ops = ok(&app, "/ops").await;
    assert!(ops.contains("Este proceso no ejecuta el programador."));
}

async fn language_and_currency_switch(backend: Backend) {
    let Some(app) = spawn_app(backend, open_config()).await else { return };
    let id = product_id(&app, "televisor").await;
    let path = format!("/products/{id}");
    // English by the query (remembered in a cookie), by the cookie, by Accept-Language.
    let en = page(&app, &format!("{path}?lang=en"), &[]).await;
    assert!(en.html.contains("<html lang=\"en\">"));
    assert!(en.html.contains("Price history: Televisor Samsung 55"), "{}", en.html);
    let cookie = set_cookie(&en.headers, "preciso_lang").unwrap();
    assert!(cookie.starts_with("preciso_lang=en;"), "{cookie}");
    let again = page(&app, "/stores", &[("cookie", "preciso_lang=en")]).await;
    assert!(again.html.contains("Store comparison"));
    let accepted = page(&app, "/", &[("accept-language", "en-GB,en;q=0.9,es;q=0.5")]).await;
    assert!(
        accepted.html.contains("Catalog overview") && accepted.html.contains("hreflang=\"es\"")
    );
    assert!(ok(&app, "/").await.contains("Resumen del catálogo"));
    // Counts are grouped as the language writes them; prices keep the currency's format.
    // The catalog sells in COP and CLP: the switcher lists both, money is never mixed.
    let cop = ok(&app, "/search").await;
    assert!(
        cop.contains("<option value=\"COP\" selected>") && cop.contains("<option value=\"CLP\"")
    );
    assert!(cop.contains("$ 100.000") && !cop.contains("$ 1.290"), "{cop}");
    let clp = ok(&app, "/search?currency=CLP").await;
    assert!(
        clp.contains("Arroz Tucapel 1kg") && clp.contains("$ 1.290") && clp.contains("$ 5.990")
    );
    assert!(!clp.contains("Cafetera"), "{clp}");
    assert_eq!(page(&app, "/search?currency=XYZ", &[]).await.status, StatusCode::BAD_REQUEST);
}

/// Runs an analysis over the API and waits for it.
async fn analyse(app: &TestApp) {
    let r = app
        .client
        .post(format!("{}/api/forensic/analyze", app.base))
        .header("x-api-key", ADMIN_KEY)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while app.ok("/api/forensic/list?status=succeeded").await["items"]
        .as_array()
        .unwrap()
        .is_empty()
    {
        assert!(std::time::Instant::now() < deadline, "the analysis did not finish");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn quality_and_store_scores_come_from_the_newest_analysis(backend: Backend) {
    let Some(app) = spawn_app(backend, open_config()).await else { return };
    assert!(ok(&app, "/quality").await.contains("Aún no hay un análisis de calidad"));
    analyse(&app).await;
    let report = app.ok("/api/forensic/list?status=succeeded").await;
    let id = report["items"][0]["job_id"].as_i64().unwrap();
    let stored = app.ok(&format!("/api/forensic/analysis/{id}")).await;
    let mut scores: Vec<(f64, String)> = stored["stores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["score"].as_f64().unwrap(), s["store"].as_str().unwrap().to_string()))
        .collect();
    scores.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (worst_score, worst) = &scores[0];
    let quality = ok(&app, "/quality").await;
    assert!(quality.contains(&format!("Último análisis</strong> #{id}")), "{quality}");
    assert!(
        quality
            .contains(&format!("Los datos más débiles: {worst}</strong> ({worst_score:.1}/100)")),
        "{quality}"
    );
    assert!(quality.contains(&format!("/quality/{id}/export?format=csv")));
    // The exports under the page's session: the HTML report with its own CSP, the CSV.
    let html = page(&app, &format!("/quality/{id}/export?format=html"), &[]).await;
    assert_eq!(html.status, StatusCode::OK);
    assert!(html.html.contains("Data-quality report"));
    let csp = html.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("style-src 'unsafe-inline'"), "{csp}");
    let csv = page(&app, &format!("/quality/{id}/export?format=csv"), &[]).await;
    assert!(csv.html.starts_with("check,"), "{}", csv.html);
    assert_eq!(page(&app, "/quality/999999/export", &[]).await.status, StatusCode::NOT_FOUND);
    // Every failing or warning check of the report is listed under its severity.
    for c in stored["checks"].as_array().unwrap() {
        if matches!(c["outcome"].as_str(), Some("fail" | "warn")) {
            let id = c["id"].as_str().unwrap();
            assert!(quality.contains(&format!("<section id=\"{id}\">")), "{id} missing");
        }
    }
    let home = ok(&app, "/").await;
    assert!(home.contains(&format!("Los datos más débiles: {worst}")));
    let stores = ok(&app, "/stores").await;
    assert!(stores.contains("<title id=\"scores-t\">Puntaje de calidad en el tiempo</title>"));
    assert!(stores.contains(&format!("{worst_score:.1}")));
}

async fn login_sessions_csrf_and_logout(backend: Backend) {
    let config = HttpConfig { rate_limit_per_minute: 1000, ..open_config() };
    let Some(app) = spawn_app(backend, config).await else { return };
    let form = page(&app, "/login?next=/stores", &[]).await;
    assert_eq!(form.status, StatusCode::OK);
    let login_cookie = set_cookie(&form.headers, "preciso_login").unwrap();
    assert!(login_cookie.contains("HttpOnly") && login_cookie.contains("SameSite=Strict"));
    assert!(!login_cookie.contains("Secure"), "not behind TLS");
    let nonce = login_cookie.split(';').next().unwrap().to_string();
    let token = csrf(&form.html);
    assert!(form.html.contains("name=\"next\" value=\"/stores\""));
    // Without the form's token (or its cookie) nothing is checked.
    let forged = post_form(&app, "/login", "", &[("key", ADMIN_KEY), ("csrf", &token)]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(set_cookie(&forged.headers, "preciso_session").is_none());
    // A wrong key is refused on the page.
    let wrong = post_form(&app, "/login", &nonce, &[("key", "not-a-key"), ("csrf", &token)]).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.html.contains("Clave no válida."));
    // The admin key opens a session and goes back where it was asked to.
    let fields = [("key", ADMIN_KEY), ("csrf", &token), ("next", "/stores")];
    let signed = post_form(&app, "/login", &nonce, &fields).await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.html);
    assert_eq!(signed.headers["location"], "/stores");
    let session = set_cookie(&signed.headers, "preciso_session").unwrap();
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Strict"), "{session}");
    assert!(session.contains("Max-Age=28800"));
    assert!(!session.contains(ADMIN_KEY), "the key itself is never in the cookie");
    let cookie = session.split(';').next().unwrap().to_string();
    let home = page(&app, "/", &[("cookie", &cookie)]).await;
    assert!(home.html.contains("Sesión iniciada (administrador)"), "{}", home.html);
    let session_token = csrf(&home.html);
    // An altered cookie is no session.
    let altered = cookie.replacen("v1.", "v1.0", 1);
    assert!(page(&app, "/", &[("cookie", &altered)]).await.html.contains(">Entrar<"));
    // Only local paths are followed after signing in.
    let away = [("key", ADMIN_KEY), ("csrf", &token), ("next", "//evil.example/")];
    assert_eq!(post_form(&app, "/login", &nonce, &away).await.headers["location"], "/");
    // Signing out needs the session's token, then clears the cookie.
    assert_eq!(post_form(&app, "/logout", &cookie, &[]).await.status, StatusCode::FORBIDDEN);
    let out = post_form(&app, "/logout", &cookie, &[("csrf", &session_token)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(set_cookie(&out.headers, "preciso_session").unwrap().contains("Max-Age=0"));
    // The run form needs an admin session and its token.
    let run = post_form(&app, "/ops/jobs/status/run", &cookie, &[("csrf", "0")]).await;
    assert_eq!(run.status, StatusCode::FORBIDDEN);
}

async fn pages_behind_auth_send_browsers_to_login(backend: Backend) {
    let config =
        HttpConfig { require_auth_for_reads: true, rate_limit_per_minute: 3, ..open_config() };
    let Some(app) = spawn_app(backend, config).await else { return };
    let home = page(&app, "/search?q=nevera", &[]).await;
    assert_eq!(home.status, StatusCode::SEE_OTHER);
    assert_eq!(home.headers["location"], "/login?next=%2Fsearch%3Fq%3Dnevera");
    let form = page(&app, "/login", &[]).await;
    assert_eq!(form.status, StatusCode::OK);
    let nonce = set_cookie(&form.headers, "preciso_login").unwrap();
    let nonce = nonce.split(';').next().unwrap().to_string();
    let token = csrf(&form.html);
    // Failed sign-ins count against the address like refused keys: then 429.
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let r = post_form(&app, "/login", &nonce, &[("key", "guess"), ("csrf", &token)]).await;
        statuses.push(r.status);
    }
    assert_eq!(statuses[0], StatusCode::UNAUTHORIZED);
    assert_eq!(*statuses.last().unwrap(), StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
}

/// A search past its 2,000 candidates says "at least" and pages through them to the last, with
/// no link to a page past them (it would be empty: the search reads no further).
async fn a_search_past_its_candidates_pages_them_alone(backend: Backend) {
    let Some(app) = spawn_app(backend, open_config()).await else { return };
    let lines: Vec<String> = (0..2_001)
        .map(|i| {
            serde_json::json!({"store": "exito", "sku": format!("S{i}"), "title": format!("Sarten {i}"),
                "category": "Hogar > Cocina", "price": "$ 10.000", "scraped_at": "2026-01-01T00:00:00Z"})
            .to_string()
        })
        .collect();
    let path = app._dir.path().join("sartenes.jsonl");
    std::fs::write(&path, lines.join("\n")).unwrap();
    let source = preciso_ingest::IngestSource { path, name: "sartenes.jsonl".into() };
    let opts = super::api::options(app._dir.path());
    let report =
        blocking(|| preciso_ingest::ingest(app.catalog.as_ref(), &source, &opts, &|_| {}).unwrap());
    assert_eq!(report.counts.rejected, 0, "{report:?}");
    let api = app.ok("/api/search?q=sarten").await;
    assert_eq!((api["total"].as_u64(), api["total_exact"].as_bool()), (Some(2_000), Some(false)));
    let first = ok(&app, "/search?q=sarten").await;
    assert!(first.contains("al menos") && first.contains("rel=\"next\""), "{first}");
    let pages = 2_000u64.div_ceil(api["limit"].as_u64().unwrap());
    let last = ok(&app, &format!("/search?q=sarten&page={pages}")).await;
    assert!(!last.contains("rel=\"next\""), "no page past the candidates: {last}");
}
