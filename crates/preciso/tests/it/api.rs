//! The REST API served on a random port over a real SQLite catalog built by the real ingest
//! pipeline. Fixture prices are chosen so every expected answer can be worked out by hand.

use chrono::Utc;
use preciso_core::domain::{Currency, StoreId};
use preciso_core::ports::{Catalog, Cell};
use preciso_http::{AppState, HttpConfig, UploadConfig};
use preciso_ingest::{FieldMap, IngestOptions, IngestSource, RecordContext, ingest};
use preciso_store_sqlite::SqliteCatalog;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

const DAY: i64 = 86_400;
pub(crate) const ADMIN_KEY: &str = "test-admin-key-0123456789";

pub(crate) struct TestApp {
    pub(crate) base: String,
    pub(crate) client: reqwest::Client,
    pub(crate) catalog: Arc<dyn Catalog>,
    pub(crate) _dir: tempfile::TempDir,
    _db: Option<TempPgDb>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
    _analyses: QueueGuard,
}

/// Stops the app's analysis workers with it.
pub(crate) struct QueueGuard(Arc<preciso_ops::forensic::AnalysisQueue>);

impl Drop for QueueGuard {
    fn drop(&mut self) {
        self.0.shutdown();
    }
}

/// Which store the app runs on. Every API test runs on both; PostgreSQL ones skip (and pass)
/// without `PRECISO_TEST_PG_URL`.
#[derive(Clone, Copy)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// A PostgreSQL database created for one test and dropped after it.
pub(crate) struct TempPgDb {
    admin_url: String,
    name: String,
}

impl Drop for TempPgDb {
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        // The synchronous client must not run on an async worker: use a plain thread.
        let _ = std::thread::spawn(move || {
            if let Ok(mut c) = ::postgres::Client::connect(&url, ::postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        })
        .join();
    }
}

/// Runs synchronous catalog code from an async test on a plain thread: PostgreSQL's client
/// blocks on a runtime of its own, which may not start inside the test's runtime.
pub(crate) fn blocking<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(f).join().expect("blocking section panicked"))
}

static PG_SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

fn open_catalog(
    backend: Backend,
    dir: &std::path::Path,
) -> Option<(Arc<dyn Catalog>, Option<TempPgDb>)> {
    match backend {
        Backend::Sqlite => {
            Some((Arc::new(SqliteCatalog::open(&dir.join("catalog.sqlite")).unwrap()), None))
        }
        Backend::Postgres => {
            let (url, guard) = fresh_pg_url()?;
            Some((
                Arc::new(blocking(|| preciso_store_postgres::PgCatalog::open(&url).unwrap())),
                Some(guard),
            ))
        }
    }
}

/// A fresh PostgreSQL database URL, or `None` (skip) without `PRECISO_TEST_PG_URL`.
pub(crate) fn fresh_pg_url() -> Option<(String, TempPgDb)> {
    let Ok(url) = std::env::var("PRECISO_TEST_PG_URL") else {
        eprintln!("skipped: PRECISO_TEST_PG_URL is not set (PostgreSQL API tests)");
        return None;
    };
    let name = format!(
        "preciso_api_{}_{}",
        std::process::id(),
        PG_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    blocking(|| {
        let mut admin = ::postgres::Client::connect(&url, ::postgres::NoTls)
            .expect("PRECISO_TEST_PG_URL reachable");
        admin.batch_execute(&format!("CREATE DATABASE {name}")).expect("create database");
    });
    let base = url.split('?').next().unwrap_or(&url);
    let db_url = format!("{}/{name}", base.rsplit_once('/').map_or(base, |(b, _)| b));
    Some((db_url, TempPgDb { admin_url: url, name }))
}

fn ts(days_ago: i64) -> String {
    chrono::DateTime::from_timestamp(Utc::now().timestamp() - days_ago * DAY, 0)
        .unwrap()
        .to_rfc3339()
}

/// (title, brand, category) of a fixture product.
type Product<'a> = (&'a str, &'a str, &'a str);

fn record(
    store: &str,
    sku: &str,
    (title, brand, category): Product<'_>,
    price: &str,
    extra: Value,
    days_ago: i64,
) -> String {
    let mut v = json!({
        "store": store, "sku": sku, "title": title, "brand": brand, "category": category,
        "price": price, "scraped_at": ts(days_ago), "availability": "in_stock",
    });
    if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
        m.extend(e);
    }
    v.to_string()
}

/// Three scrapes: 20 days ago, 3 days ago, 1 day ago.
fn fixture_files() -> Vec<String> {
    let nevera = |s: &str, sku: &str, p: &str, d| {
        record(
            s,
            sku,
            ("Nevera Mabe 300L", "Mabe", "Electro > Neveras"),
            p,
            json!({"gtin": "7702032101054", "rating": "4.5/5", "reviews": "120"}),
            d,
        )
    };
    let tv = |s: &str, sku: &str, p: &str, d| {
        record(
            s,
            sku,
            ("Televisor Samsung 55", "Samsung", "Tecnologia > TV"),
            p,
            json!({"rating": "4,8 de 5", "reviews": "(1.500 opiniones)"}),
            d,
        )
    };
    let licuadora = |s: &str, sku: &str, p: &str, avail: &str, d| {
        record(
            s,
            sku,
            ("Licuadora Oster", "Oster", "Electro > Pequenos"),
            p,
            json!({"availability": avail}),
            d,
        )
    };
    let cafetera = |p: &str, d| {
        record("exito", "E-CAF", ("Cafetera Imusa", "Imusa", "Electro > Pequenos"), p, json!({}), d)
    };
    let arroz = |sku: &str, title: &str, p: &str, d| {
        record(
            "jumbo",
            sku,
            (title, "Tucapel", "Mercado > Arroz"),
            p,
            json!({"currency": "CLP"}),
            d,
        )
    };
    vec![
        [
            nevera("exito", "E-NEV", "$ 2.349.900", 20),
            nevera("alkosto", "A-NEV", "$ 2.199.900", 20),
            tv("exito", "E-TV", "$ 3.000.000", 20),
            tv("alkosto", "A-TV", "$ 2.900.000", 20),
            licuadora("exito", "E-LIC", "$ 199.900", "Disponible", 20),
            licuadora("alkosto", "A-LIC", "$ 189.900", "Agotado", 20),
            cafetera("$ 100.000", 20),
            arroz("J-1", "Arroz Tucapel 1kg", "$ 1.290", 20),
            arroz("J-2", "Arroz Tucapel 5kg", "$ 5.990", 20),
        ]
        .join("\n"),
        cafetera("$ 150.000", 3),
        [tv("exito", "E-TV", "$ 2.400.000", 1), cafetera("$ 100.000", 1)].join("\n"),
    ]
}

pub(crate) fn options(dir: &std::path::Path) -> IngestOptions {
    let cop = Currency::parse("COP").unwrap();
    IngestOptions {
        format: None,
        dry_run: false,
        force: false,
        backfill: false,
        batch_size: 500,
        rejects_dir: dir.join("rejects"),
        fields: FieldMap::default(),
        context: RecordContext {
            default_store: None,
            default_currency: None,
            store_currency: HashMap::from([
                (StoreId::parse("exito").unwrap(), cop),
                (StoreId::parse("alkosto").unwrap(), cop),
            ]),
            store_timezone: HashMap::new(),
            store_aliases: Default::default(),
            default_timezone: chrono_tz::UTC,
            ingest_time: Utc::now().timestamp(),
        },
        cancel: None,
    }
}

/// Serves `state` on a random port; the server stops when the sender drops.
pub(crate) async fn serve(state: AppState) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(preciso_http::serve(listener, state, async {
        let _ = rx.await;
    }));
    (base, tx)
}

pub(crate) fn test_config(config: HttpConfig) -> HttpConfig {
    HttpConfig {
        static_keys: vec![(preciso_core::hash::api_key_hash(ADMIN_KEY), vec!["admin".into()])],
        ..config
    }
}

pub(crate) async fn spawn_app(backend: Backend, config: HttpConfig) -> Option<TestApp> {
    let dir = tempfile::tempdir().unwrap();
    let (catalog, db) = open_catalog(backend, dir.path())?;
    let opts = options(dir.path());
    for (i, content) in fixture_files().iter().enumerate() {
        let path = dir.path().join(format!("scrape{i}.jsonl"));
        std::fs::write(&path, content).unwrap();
        let source = IngestSource { path, name: format!("scrape{i}.jsonl") };
        let report = blocking(|| ingest(catalog.as_ref(), &source, &opts, &|_| {}).unwrap());
        assert_eq!(report.counts.rejected, 0, "{report:?}");
    }
    let uploads = UploadConfig {
        spool_dir: dir.path().join("incoming"),
        unarchived_dir: None,
        options: opts,
    };
    // The analysis queue as `preciso serve` composes it: two workers, default checks.
    let checks = preciso_core::quality::config::resolve(&Default::default()).unwrap();
    let queue = preciso_ops::forensic::AnalysisQueue::new(catalog.clone(), checks, 2, None);
    let starting = queue.clone();
    blocking(move || starting.start().unwrap());
    // As `preciso serve` sets it: SQLite's point reads run on the request's worker.
    let config = HttpConfig { in_process_catalog: matches!(backend, Backend::Sqlite), ..config };
    let state =
        AppState::new(catalog.clone(), test_config(config), uploads).with_analyses(queue.clone());
    let (base, tx) = serve(state).await;
    Some(TestApp {
        base,
        client: reqwest::Client::new(),
        catalog,
        _dir: dir,
        _db: db,
        _shutdown: tx,
        _analyses: QueueGuard(queue),
    })
}

/// Runs each API test body on SQLite and on PostgreSQL.
macro_rules! api_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Backend::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Backend::Postgres).await } )*
        }
    };
}

api_tests!(
    best_prices_pick_the_cheapest_buyable_offer_per_product,
    pagination_is_stable_and_bounded,
    user_preferences_change_order_and_budget,
    price_comparison_by_id_gtin_and_text,
    ranked_offers_filter_combine_and_sort,
    listings_filters_and_aggregates_run_in_one_currency,
    trending_counts_real_drops_not_the_end_of_a_spike,
    price_analysis_matches_statistics_computed_here,
    store_comparison_reports_cheapest_share_and_index,
    users_crud_and_validation,
    catalog_listings_offer_detail_and_history,
    uploads_need_a_write_key_ingest_and_show_in_the_ledger,
    uploads_that_are_not_offers_are_4xx_and_leave_nothing,
    keys_scopes_and_reads_behind_auth,
    rate_limit_answers_429_with_retry_after_per_client,
    cors_security_headers_request_ids_and_body_limit,
    probes_metrics_and_bounded_route_labels,
    openapi_document_lists_exactly_the_served_routes,
    docs_are_served_from_the_binary_under_their_own_csp,
    forensic_runs_queue_report_export_and_keep_history,
    answers_are_compressed_as_the_client_accepts_and_cached_compressed,
);

pub(crate) fn open_config() -> HttpConfig {
    HttpConfig { rate_limit_per_minute: 0, ..HttpConfig::default() }
}

impl TestApp {
    pub(crate) async fn get(&self, path: &str) -> (StatusCode, Value) {
        let r = self.client.get(format!("{}{path}", self.base)).send().await.unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub(crate) async fn ok(&self, path: &str) -> Value {
        let (s, v) = self.get(path).await;
        assert_eq!(s, StatusCode::OK, "GET {path}: {v}");
        v
    }

    /// `ok` with the admin key.
    pub(crate) async fn admin_ok(&self, path: &str) -> Value {
        let (s, v) = self.send(reqwest::Method::GET, path, Some(ADMIN_KEY), None).await;
        assert_eq!(s, StatusCode::OK, "GET {path}: {v}");
        v
    }

    pub(crate) async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(k) = key {
            req = req.header("x-api-key", k);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

pub(crate) fn error_code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("<no error code>")
}

fn titles_and_prices(v: &Value) -> Vec<(String, i64, String)> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["title"].as_str().unwrap().to_string(),
                i["price"]["minor"].as_i64().unwrap(),
                i["store"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn best_prices_pick_the_cheapest_buyable_offer_per_product(backend: Backend) {
    let Some(app) = spawn_app(backend, open_config()).await else { return };
    let v = app.ok("/api/best-prices/electro").await;
    assert_eq!(
        titles_and_prices(&v),
        vec![
            ("Cafetera Imusa".to_string(), 10_000_000, "exito".to_string()),
            // Alkosto's 189.900 is out of stock, so Éxito's 199.900 is the best buyable price.
            ("Licuadora Oster".to_string(), 19_990_000, "exito".to_string()),
            ("Nevera Mabe 300L".to_string(), 219_990_000, "alkosto".to_string()),
        ]
    );
    assert_eq!((&v["total"], &v["total_exact"]), (&json!(3), &json!(true)));
    assert_eq!(v["items"][2]["offers_for_product"], 2);
    assert_eq!(v["items"][2]["price"]["display"], "COP 2.199.900,00");
    // The category by name, with a trailing slash, and a subcategory.
    assert_eq!(app.ok("/api/best-prices/Electro/").await["total"], 3);
    assert_eq!(app.ok("/api/best-prices/Electro%20%3E%20Neveras").await["total"], 1);
    let (s, e) = app.get("/api/best-prices/juguetes").await;
    assert_eq!((s, error_code(&e)), (StatusCode::NOT_FOUND, "not_found"));
}

async fn pagination_is_stable_and_bounded(backend: Backend) {
    let Some(app) = spawn_app(backend, open_config()).await else { return };
    let mut seen = Vec::new();
    for page in 1..=3 {
        let v = app.ok(&format!("/api/best-prices/electro?limit=1&page={page}")).await;
        assert_eq!((v["total"].as_u64(), v["items"].as_array().unwrap().len()), (Some(3), 1));
        seen.push(v["items"][0]["id"].as_str().unwrap().to_string());
    }
    seen.dedup();
    assert_eq!(seen.len(), 3);
    assert!(
        app.ok("/api/best-prices/electro?limit=1&page=4").await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    for bad in [
        "limit=0",
        "limit=101",
        "page=0",
        "limit=abc",
        "sort=cheapest",
        "min_price=-5",
        "store=%20",
    ] {
        let (s, e) = app.get(&format!("/api/ranked-offers?{bad}")).await;
        let param = bad.split('=').next().unwrap();
        if bad == "store=%20" {
            assert_eq!(s, StatusCode::OK, "a blank parameter is absent");
            continue;
        }
        assert_eq!((s, error_code(&e)), (StatusCode::BAD_REQUEST, "bad_parameter"), "{bad}");
        assert_eq!(e["error"]["details"]["parameter"], param, "{bad}: {e}");
    }
}

async fn user_preferences_change_order_and_budget(backend: Backend) {
    let Some(app) = spawn_app(backend, open_config()).await else { return };
    let (s, user) = app
        .send(reqwest::Method::POST, "/api/users", Some(ADMIN_KEY), Some(json!({"name": "Ana", "email": "ana@example.com", "preferences": {"stores": ["Alkosto"]}})))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{user}");
    let id = user["id"].as_i64().unwrap();
    assert_eq!(user["preferences"]["stores"], json!(["alkosto"]));
    // Personalization reads a user's preferences: it needs the `users` scope.
    let personalized = format!("/api/best-prices/electro?user_id={id}");
    let (s, e) = app.get(&personalized).await;
    assert_eq!((s, error_code(&e)), (StatusCode::UNAUTHORIZED, "unauthorized"));
    let (s, e) = app.get(&format!("/api/ranked-offers?user_id={id}")).await;
    assert_eq!((s, error_code(&e)), (StatusCode::UNAUTHORIZED, "unauthorized"));
    let v = app.admin_ok(&personalized).await;
    let first = &v["items"][0];
    assert_eq!(
        (first["title"].as_str(), first["store"].as_str(), first["preferred"].as_bool()),
        (Some("Nevera Mabe 300L"), Some("alkosto"), Some(true))
    );
    assert_eq!(v["items"][1]["preferred"], false);

    let (s, _) = app
        .send(reqwest::Method::PUT, &format!("/api/users/{id}"), Some(ADMIN_KEY), Some(json!({"name": "Ana", "email": "ana@example.com", "preferences": {"budget": 150000}})))
        .await;
    assert_eq!(s, StatusCode::OK);
    let v = app.admin_ok(&personalized).await;
    assert_eq!(
        titles_and_prices(&v),
        vec![("Cafetera Imusa".to_string(), 10_000_000, "exito".to_string())]
    );
    let (s, e) = app
        .send(reqwest::Method::GET, "/api/best-prices/electro?user_id=999", Some(ADMIN_KEY), None)
        .await;
    assert_eq!((s, error_code(&e)), (StatusCode::NOT_FOUND, "not_found"));
}

async fn price_comparison_by_id_gtin_and_text(backend: Backend) {
    let Some(app) = spawn_app(backend, open_config()).await else { return };
    let by_gtin = app.ok("/api/price-comparison?gtin=7702032101054").await;
    assert_eq!(by_gtin["stores"], 2);
    let spread = &by_gtin["spread"][0];
    assert_eq!(
        (spread["min"]["minor"].as_i64(), spread["max"]["minor"].as_i64()),
        (Some(219_990_000), Some(234_990_000))
    );
    assert_eq!(
        (spread["spread"]["minor"].as_i64(), spread["cheapest_store"].as_str()),
        (Some(15_000_000), Some("alkosto"))
    );
    let id = by_gtin["product"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        app.ok(&format!("/api/price-comparison?product_id={id}")).await["offers"],
        by_gtin["offers"]
    );
    let by_text = app.ok("/api/price-comparison?q=televisor%20samsung").await;
    assert_eq!(by_text["offers"][0]["price"]["minor"], 240_000_000, "cheapest first: {by_text}");
    assert_eq!(by_text["offers"][0]["store"], "exito");
    for (query, status) in [
        ("", 400),
        ("gtin=1&q=x", 400),
        ("gtin=123", 400),
        ("gtin=4006381333931", 404),
        ("q=bicicleta", 404),
        ("product_id=zz", 400),
    ] {
        let (s, e) = app.get(&format!("/api/price-comparison?{query}")).await;
        assert_eq!(s.as_u16(), status, "{query}: {e}");
        assert!(e["error"]["message"].is_string());
    }
}

async fn ranked_offers_filter_combine_and_sort(backend: Backend) {
    let Some(app) = spawn_app(backend, open_config()).await else { return };
    let v =
        app.ok("/api/ranked-offers?store=exito&category=electro&max_price=200000&sort=price").await;
    assert_eq!(
        titles_and_prices(&v),
        vec![
            ("Cafetera Imusa".to_string(), 10_000_000, "exito".to_string()),
            ("Licuadora Oster".to_string(), 19_990_000, "exito".to_string()),
        ]
    );
    let v = app.ok("/api/ranked-offers?limit=100").await;
    let scores: Vec<f64> =
        v["items"].as_array().unwrap().iter().map(|i| i["value_score"].as_f64().unwrap()).collect();
    // One currency: the catalog's most common (COP); the two CLP offers are listed apart.
    assert_eq!((scores.len(), v["currency"].as_str()), (7, Some("COP")));
    assert_eq!(v["currencies"][1], json!({"currency": "CLP", "offers": 2, "products": 2}));
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "sorted by value: {scores:?}");
    assert!(scores.iter().all(|s| (0.0..=100.0).contains(s)));
    let v = app.ok("/api/ranked-offers?brand=SAMSUNG&sort=-price").await;
    assert_eq!(
        titles_and_prices(&v).iter().map(|t| t.1).collect::<Vec<_>>(),
        vec![290_000_000, 240_000_000]
    );
    let v = app.ok("/api/ranked-offers?min_price=1000&max_price=2000").await;
    assert_eq!(titles_and_prices(&v), vec![], "bounds in COP, the listing's currency");
    let v = app.ok("/api/ranked-offers?min_price=1000&max_price=2000&currency=CLP").await;
    assert_eq!(
        titles_and_prices(&v),
        vec![("Arroz Tucapel 1kg".to_string(), 1_290, "jumbo".to_string())],
        "bounds in major units of the requested currency"
    );
}

/// A Chilean store sells the nevera too, at CLP 499.990 — a smaller number than any COP price.
/// Listings run in one currency: the catalog's most common (COP) unless the request names
/// another; CLP never heads a Colombian shopper's best prices, and every answer says which
/// currency it used and which others the scope has.
async fn listings_filters_and_aggregates_run_in_one_currency(backend: Backend) {
    let Some(app) = spawn_app(backend, open_config()).await else { return };
    let file = app._dir.path().join("chile.jsonl");
    let line = record(
        "jumbo",
        "J-NEV",
        ("Nevera Mabe 300L", "Mabe", "Electro > Neveras"),
        "$ 499.990",
        json!({"gtin": "7702032101054", "currency": "CLP"}),
        1,
    );
    std::fs::write(&file, line).unwrap();
    let source = IngestSource { path: file, name: "chile.jsonl".into() };
    blocking(|| ingest(app.catalog.as_ref(), &source, &options(app._dir.path()), &|_| {}).unwrap());

    let v = app.ok("/api/best-prices/electro").await;
    assert_eq!(v["currency"], "COP", "{v}");
    let currencies: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["price"]["currency"].as_str().unwrap())
        .collect();
    assert!(currencies.iter().all(|c| *c == "COP"), "{currencies:?}");
    assert_eq!(v["items"][0]["title"], "Cafetera Imusa");
    let listed: Vec<(&str, u64)> = v["currencies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["currency"].as_str().unwrap(), c["offers"].as_u64().unwrap()))
        .collect();
    assert_eq!(listed, vec![("COP", 4), ("CLP", 1)], "buyable offers per currency: {v}");
    let clp = app.ok("/api/best-prices/electro?currency=CLP").await;
    assert_eq!(
        titles_and_prices(&clp),
        vec![("Nevera Mabe 300L".to_string(), 499_990, "jumbo".to_string())]
    );
    assert_eq!((clp["total"].as_u64(), clp["currency"].as_str()), (Some(1), Some("CLP")));
    // A price bound is in the listing's currency: 500.000 keeps the CLP nevera, no COP offer.
    let cheap = app.ok("/api/best-prices/electro?currency=CLP&max_price=500000").await;
    assert_eq!(cheap["total"], 1);
    let cop = app.ok("/api/best-prices/electro?max_price=500000").await;
    assert_eq!(
        titles_and_prices(&cop).iter().map(|t| t.0.as_str()).collect::<Vec<_>>(),
        vec!["Cafetera Imusa", "Licuadora Oster"],
        "COP offers under 500.000 COP, and no CLP one: {cop}"
    );
    // One product across stores: its COP offers (two stores), the CLP one listed apart.
    let cmp = app.ok("/api/price-comparison?gtin=7702032101054").await;
    assert_eq!((cmp["currency"].as_str(), cmp["stores"].as_u64()), (Some("COP"), Some(2)));
    assert_eq!(cmp["spread"].as_array().unwrap().len(), 1);
    let cmp = app.ok("/api/price-comparison?gtin=7702032101054&currency=CLP").await;
    assert_eq!(cmp["offers"][0]["store"], "jumbo");
    // Statistics of one currency at a time.
    let stats = app.ok("/api/reports/price-analysis/electro?currency=CLP").await;
    assert_eq!(
        (stats["offers"].as_u64(), stats["stats"]["min"]["minor"].as_i64()),
        (Some(1), Some(499_990))
    );
    let (s, e) = app.get("/api/best-prices/electro?currency=XYZ").await;
    assert_eq!(
        (s, e["error"]["details"]["parameter"].as_str()),
        (StatusCode::BAD_REQUEST, Some("currency"))
    );
}

async fn trending_counts_real_drops_not_the_end_of_a_spike(backend: Backend) {
    let Some(app) = spawn_app(backend, open_config()).await else { return };
    let v = app.ok("/api/trending-offers?days=7").await;
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{v}");
    assert_eq!(
        (items[0]["title"].as_str(), items[0]["store"].as_str()),
        (Some("Televisor Samsung 55"), Some("exito"))
    );
    assert_eq!(items[0]["reference_price"]["minor"], 300_000_000);
    assert_eq!(items[0]["drop_pct"], 20.0);
    let (s, e) = app.get("/api/trending-offers?days=0").await;
    assert_eq!(
        (s, e["error"]["details"]["parameter"].as_str()),
        (StatusCode::BAD_REQUEST, Some("days"))
    );
}

fn quantile(sorted: &[i64], q: f64) -> i64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    (sorted[lo] as f64 + (sorted[hi] - sorted[lo]) as f64 * (pos - lo as f64)).round() as i64
}

async fn price_analysis_matches_statistics_computed_here(backend: Backend) {
    let Some(app) = spawn_app(backend, open_config()).await else { return };
    // The raw prices, read straight from the offers table; the statistics are computed here.
    let mut prices: Vec<i64> = blocking(|| {
        let cols = preciso_sql::tables::TABLES.iter().find(|t| t.name == "offers").unwrap().columns;
        let at = |name: &str| cols.iter().position(|c| *c == name).unwrap();
        let (key, price) = (at("category_key"), at("price_minor"));
        let mut prices = Vec::new();
        app.catalog
            .dump("offers", &mut |row| {
                if let (Cell::Text(k), Cell::Int(p)) = (&row[key], &row[price])
                    && (k == "electro" || k.starts_with("electro/"))
                {
                    prices.push(*p);
                }
                Ok(())
            })
            .unwrap();
        prices
    });
    prices.sort();
    assert!(prices.len() > 3, "{prices:?}");
    let v = app.ok("/api/reports/price-analysis/Electro?bins=4").await;
    let cop = &v;
    assert_eq!(cop["currency"], "COP");
    let stats = &cop["stats"];
    let n = prices.len() as f64;
    let mean = prices.iter().sum::<i64>() as f64 / n;
    let sd = (prices.iter().map(|p| (*p as f64 - mean).powi(2)).sum::<f64>() / n).sqrt();
    assert_eq!(stats["count"], prices.len());
    assert_eq!(stats["min"]["minor"], prices[0]);
    assert_eq!(stats["max"]["minor"], *prices.last().unwrap());
    assert_eq!(stats["mean"]["minor"], mean.round() as i64);
    assert_eq!(stats["std_dev"]["minor"], sd.round() as i64);
    for (k, q) in [("median", 0.5), ("p10", 0.1), ("p25", 0.25), ("p75", 0.75), ("p90", 0.9)] {
        assert_eq!(stats[k]["minor"], quantile(&prices, q), "{k}");
    }
    let hist = cop["histogram"].as_array().unwrap();
    assert_eq!(hist.len(), 4);
    assert_eq!(hist.iter().map(|b| b["count"].as_u64().unwrap()).sum::<u64>(), prices.len() as u64);
    let brands: Vec<&str> =
        cop["by_brand"].as_array().unwrap().iter().map(|b| b["name"].as_str().unwrap()).collect();
    assert_eq!(brands, vec!["Imusa", "Mabe", "Oster"]);
    let (s, _) = app.get("/api/reports/price-analysis/juguetes").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

async fn store_comparison_reports_cheapest_share_and_index(backend: Backend) {
    let Some(app) = spawn_app(backend, open_config()).await else { return };
    let v = app.ok("/api/reports/store-comparison").await;
    let store = |id: &str| {
        v["stores"].as_array().unwrap().iter().find(|s| s["store"] == id).unwrap().clone()
    };
    let (exito, alkosto) = (store("exito"), store("alkosto"));
    // Shared products: nevera (alkosto cheaper), TV (éxito 2.4M < 2.9M), licuadora (alkosto).
    assert_eq!(
        (exito["compared_products"].as_u64(), alkosto["compared_products"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(
        (exito["cheapest_share"].as_f64(), alkosto["cheapest_share"].as_f64()),
        (Some(0.33), Some(0.67))
    );
    assert_eq!((exito["offers"].as_u64(), alkosto["offers"].as_u64()), (Some(4), Some(3)));
    assert!(exito["price_index"].as_f64().unwrap() > 0.0);
    // The report runs in one currency: jumbo sells in CLP only.
    assert_eq!(v["currency"], "COP");
    assert!(v["stores"].as_array().unwrap().iter().all(|s| s["store"] != "jumbo"));
    let clp = app.ok("/api/reports/store-comparison?currency=CLP").await;
    let jumbo = &clp["stores"][0];
    assert_eq!((jumbo["store"].as_str(), jumbo["offers"].as_u64()), (Some("jumbo"), Some(2)));
    assert_eq!(jumbo["price_index"], Value::Null, "no product shared with another store");
}

async fn users_crud_and_validation(backend: Backend) {
    let Some(app) = spawn_app(backend, open_config()).await else { return };
    use reqwest::Method;
    let (s, u) = app
        .send(
            Method::POST,
            "/api/users/create",
            Some(ADMIN_KEY),
            Some(json!({"name": "Luis", "email": "Luis@Example.com"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(u["email"], "luis@example.com");
    let id = u["id"].as_i64().unwrap();
    assert_eq!(app.admin_ok(&format!("/api/users/{id}/")).await["name"], "Luis");
    assert_eq!(app.admin_ok("/api/users").await["total"], 1);
    // Personal data: no key, no users.
    for path in ["/api/users".to_string(), format!("/api/users/{id}")] {
        let (s, e) = app.get(&path).await;
        assert_eq!((s, error_code(&e)), (StatusCode::UNAUTHORIZED, "unauthorized"), "{path}");
    }
    let (s, e) = app
        .send(
            Method::POST,
            "/api/users",
            Some(ADMIN_KEY),
            Some(json!({"name": "Otro", "email": "luis@example.com"})),
        )
        .await;
    assert_eq!((s, error_code(&e)), (StatusCode::CONFLICT, "conflict"));
    let (s, e) = app
        .send(
            Method::POST,
            "/api/users",
            Some(ADMIN_KEY),
            Some(json!({"name": "X", "email": "not-an-email"})),
        )
        .await;
    assert_eq!((s, error_code(&e)), (StatusCode::UNPROCESSABLE_ENTITY, "unprocessable"));
    let (s, e) =
        app.send(Method::POST, "/api/users", Some(ADMIN_KEY), Some(json!({"nombre": "X"}))).await;
    assert_eq!((s, error_code(&e)), (StatusCode::UNPROCESSABLE_ENTITY, "unprocessable"));
    // What the document's schema refuses, the server refuses, naming the field.
    for (prefs, field) in [
        (json!({"stores": ["  "]}), "preferences.stores"),
        (json!({"brands": ["a\u{7}b"]}), "preferences.brands"),
        (json!({"categories": ["x".repeat(101)]}), "preferences.categories"),
        (json!({"budget": 100_000_000_001u64}), "preferences.budget"),
        (json!({"budget": 2.5}), "preferences.budget"),
    ] {
        let body = json!({"name": "Eva", "email": "eva@example.com", "preferences": prefs});
        let (s, e) = app.send(Method::POST, "/api/users", Some(ADMIN_KEY), Some(body)).await;
        assert_eq!((s, error_code(&e)), (StatusCode::UNPROCESSABLE_ENTITY, "unprocessable"));
        assert_eq!(e["error"]["details"]["field"], field, "{e}");
    }
    // A 100-character entry of multi-byte letters is within the bound (characters, not bytes).
    let body = json!({"name": "Eva", "email": "eva@example.com",
                      "preferences": {"brands": ["é".repeat(100)], "budget": 270.0,
                                      "categories": ["***", "Hogar > Cocina"]}});
    let (s, e) = app.send(Method::POST, "/api/users", Some(ADMIN_KEY), Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    assert_eq!(e["preferences"]["budget"], 270, "{e}");
    assert_eq!(e["preferences"]["categories"], json!(["hogar/cocina"]), "{e}");
    let r = app
        .client
        .post(format!("{}/api/users", app.base))
        .header("x-api-key", ADMIN_KEY)
        .body("name=x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let r = app
        .client
        .post(format!("{}/api/users", app.base))
        .header("x-api-key", ADMIN_KEY)
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let (s, _) = app.send(Method::DELETE, &format!("/api/users/{id}"), Some(ADMIN_KEY), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app.send(Method::GET, &format!("/api/users/{id}"), Some(ADMIN_KEY), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app.send(Method::GET, "/api/users/abc", Some(ADMIN_KEY), None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

async fn catalog_listings_offer_detail_and_history(backend: Backend) {
    let Some(app) = spawn_app(backend, open_config()).await else { return };
    let brands = app.ok("/api/brands").await;
    let first = &brands["items"][0];
    // Most offers first, ties by name: Mabe, Oster, Samsung and Tucapel have 2, Imusa 1.
    assert_eq!(
        (first["brand"].as_str(), first["offers"].as_u64(), first["products"].as_u64()),
        (Some("Mabe"), Some(2), Some(1))
    );
    assert_eq!(brands["items"].as_array().unwrap().last().unwrap()["brand"], "Imusa");
    let cats = app.ok("/api/categories").await;
    let keys: Vec<&str> =
        cats["items"].as_array().unwrap().iter().map(|c| c["key"].as_str().unwrap()).collect();
    assert_eq!(keys, vec!["electro/neveras", "electro/pequenos", "mercado/arroz", "tecnologia/tv"]);
    let stores = app.ok("/api/stores").await;
    assert_eq!(stores["items"].as_array().unwrap().len(), 3);
    let tv = app.ok("/api/price-comparison?q=televisor").await;
    let exito_tv = tv["offers"].as_array().unwrap().iter().find(|o| o["store"] == "exito").unwrap()
        ["id"]
        .as_str()
        .unwrap()
        .to_string();
    let detail = app.ok(&format!("/api/offers/{exito_tv}")).await;
    assert_eq!(
        (detail["price"]["minor"].as_i64(), detail["previous_price"]["minor"].as_i64()),
        (Some(240_000_000), Some(300_000_000))
    );
    let h = app.ok(&format!("/api/offers/{exito_tv}/history")).await;
    let prices: Vec<i64> = h["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["price"]["minor"].as_i64().unwrap())
        .collect();
    assert_eq!(prices, vec![300_000_000, 240_000_000]);
    let (s, _) = app.get("/api/offers/not-an-id").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, e) = app.get("/api/offers/0000000000000000").await;
    assert_eq!((s, error_code(&e)), (StatusCode::NOT_FOUND, "not_found"));
    let (s, e) = app.get("/api/nothing-here").await;
    assert_eq!((s, error_code(&e)), (StatusCode::NOT_FOUND, "not_found"));
    let (s, e) = app.send(reqwest::Method::PATCH, "/api/brands", Some(ADMIN_KEY), None).await;
    assert_eq!((s, error_code(&e)), (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"));
}

const UPLOAD: &str = "{\"store\":\"exito\",\"sku\":\"NEW-1\",\"title\":\"Horno Haceb\",\"category\":\"Electro > Hornos\",\"price\":\"$ 899.900\"}\n{\"store\":\"exito\",\"title\":\"Sin precio\",\"price\":\"Consultar\"}\n";

async fn uploads_need_a_write_key_ingest_and_show_in_the_ledger(backend: Backend) {
    let Some(app) = spawn_app(backend, open_config()).await else { return };
    let url = format!("{}/api/archivos?name=nuevos.jsonl", app.base);
    let r = app.client.post(&url).body(UPLOAD).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = app.client.post(&url).header("x-api-key", "wrong").body(UPLOAD).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let before =
        app.client.get(format!("{}/api/best-prices/electro", app.base)).send().await.unwrap();
    assert_eq!(before.headers()["x-cache"], "miss");
    let again =
        app.client.get(format!("{}/api/best-prices/electro", app.base)).send().await.unwrap();
    assert_eq!(again.headers()["x-cache"], "hit");

    let r = app.client.post(&url).header("x-api-key", ADMIN_KEY).body(UPLOAD).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let report: Value = r.json().await.unwrap();
    assert_eq!(
        (report["counts"]["inserted"].as_u64(), report["counts"]["rejected"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(report["reject_samples"][0]["field"], "price");
    // The ingest emptied the cache: the new oven is in the answer at once.
    let after =
        app.client.get(format!("{}/api/best-prices/electro", app.base)).send().await.unwrap();
    assert_eq!(after.headers()["x-cache"], "miss");
    assert_eq!(after.json::<Value>().await.unwrap()["total"], 4);

    let r = app.client.post(&url).header("x-api-key", ADMIN_KEY).body(UPLOAD).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "skipped");
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(
            b"store,title,price\nalkosto,Horno Haceb,$ 850.000\n".to_vec(),
        )
        .file_name("horno.csv"),
    );
    let r = app
        .client
        .post(format!("{}/api/archivos", app.base))
        .header("x-api-key", ADMIN_KEY)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let ledger = app.ok("/api/archivos").await;
    let names: Vec<&str> =
        ledger["items"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    // The skipped re-upload adds no ledger row.
    assert_eq!(&names[..3], &["horno.csv", "nuevos.jsonl", "scrape2.jsonl"]);
    let r = app.client.post(&url).header("x-api-key", ADMIN_KEY).body("").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

/// Bodies that are not offers are refused with 422 and a stable reason, and write nothing;
/// answers name no server path; spool files never outlive their request.
async fn uploads_that_are_not_offers_are_4xx_and_leave_nothing(backend: Backend) {
    let Some(app) = spawn_app(backend, open_config()).await else { return };
    let ledger_rows =
        || async { app.admin_ok("/api/archivos").await["items"].as_array().unwrap().len() };
    let before = ledger_rows().await;
    let post = |query: &'static str, body: &'static str| {
        let r = app
            .client
            .post(format!("{}/api/archivos{query}", app.base))
            .header("x-api-key", ADMIN_KEY);
        async move {
            let r = r.body(body).send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    for (query, body) in [
        ("", "<!doctype html><html><body>Oferta</body></html>"),
        ("?name=report.csv", "region;ventas\nnorte;12\n"),
        ("", "null"),
    ] {
        let (s, e) = post(query, body).await;
        assert_eq!(
            (s, error_code(&e)),
            (StatusCode::UNPROCESSABLE_ENTITY, "unprocessable"),
            "{body}: {e}"
        );
        assert_eq!(e["error"]["details"]["reason"], "not_offer_data", "{e}");
        assert!(!e.to_string().contains(app._dir.path().to_str().unwrap()), "{e}");
    }
    assert_eq!(ledger_rows().await, before, "no ledger row for a refused upload");
    let (s, report) = post("?name=mixed.jsonl", UPLOAD).await;
    assert_eq!(s, StatusCode::CREATED);
    let rejects = report["rejects_file"].as_str().unwrap();
    assert!(!rejects.contains('/') && rejects.ends_with(".rejects.jsonl"), "{rejects}");
    let spool = app._dir.path().join("incoming");
    let left = std::fs::read_dir(&spool).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "spool files are removed");
    // A client that goes away mid-upload leaves no spool file either.
    let mut stream =
        tokio::net::TcpStream::connect(app.base.trim_start_matches("http://")).await.unwrap();
    let head = format!(
        "POST /api/archivos?name=cut.jsonl HTTP/1.1\r\nHost: x\r\nx-api-key: {ADMIN_KEY}\r\ncontent-length: 100000\r\n\r\n{{\"store\":"
    );
    tokio::io::AsyncWriteExt::write_all(&mut stream, head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(std::fs::read_dir(&spool).unwrap().count(), 1, "spooling");
    drop(stream);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::fs::read_dir(&spool).unwrap().count() > 0 {
        assert!(std::time::Instant::now() < deadline, "the cut upload's spool file stayed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // An oversized multipart upload is a 413 in the API's error shape.
    let small = HttpConfig { upload_limit: 1000, ..open_config() };
    let Some(app) = spawn_app(backend, small).await else { return };
    let form = reqwest::multipart::Form::new()
        .part("file", reqwest::multipart::Part::bytes(vec![b'x'; 5000]).file_name("big.csv"));
    let r = app
        .client
        .post(format!("{}/api/archivos", app.base))
        .header("x-api-key", ADMIN_KEY)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_code(&r.json().await.unwrap()), "payload_too_large");
}

async fn keys_scopes_and_reads_behind_auth(backend: Backend) {
    let Some(app) = spawn_app(
        backend,
        HttpConfig {
            require_auth_for_reads: true,
            rate_limit_per_minute: 0,
            ..HttpConfig::default()
        },
    )
    .await
    else {
        return;
    };
    let catalog = app.catalog.clone();
    let read_key = "pk_read_only_key_for_tests_000";
    let write_key = "pk_write_key_for_tests_0000000";
    let users_key = "pk_users_key_for_tests_0000000";
    blocking(|| {
        for (name, key, scope) in [
            ("reader", read_key, "read"),
            ("writer", write_key, "write"),
            ("crm", users_key, "users"),
        ] {
            catalog
                .create_api_key(
                    name,
                    &key[..7],
                    &preciso_core::hash::api_key_hash(key),
                    &[scope.into()],
                )
                .unwrap();
        }
    });
    let (s, e) = app.get("/api/brands").await;
    assert_eq!((s, error_code(&e)), (StatusCode::UNAUTHORIZED, "unauthorized"));
    let (s, _) = app.send(reqwest::Method::GET, "/api/brands", Some(read_key), None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, e) = app
        .send(
            reqwest::Method::POST,
            "/api/users",
            Some(read_key),
            Some(json!({"name": "a", "email": "a@b.co"})),
        )
        .await;
    assert_eq!((s, error_code(&e)), (StatusCode::FORBIDDEN, "forbidden"));
    assert_eq!(e["error"]["details"]["required_scope"], "users");
    // `write` does not reach personal data; `users` does, and reads the catalog too.
    let (s, e) = app.send(reqwest::Method::GET, "/api/users", Some(write_key), None).await;
    assert_eq!(
        (s, e["error"]["details"]["required_scope"].as_str()),
        (StatusCode::FORBIDDEN, Some("users"))
    );
    let (s, _) = app.send(reqwest::Method::GET, "/api/users", Some(users_key), None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app.send(reqwest::Method::GET, "/api/brands", Some(users_key), None).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) =
        app.send(reqwest::Method::GET, "/api/ranked-offers?user_id=1", Some(read_key), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "personalization needs users");
    // Probes stay open.
    assert_eq!(
        app.client.get(format!("{}/health", app.base)).send().await.unwrap().status(),
        StatusCode::OK
    );
    blocking(|| {
        let id = catalog.api_keys().unwrap().iter().find(|k| k.name == "reader").unwrap().id;
        catalog.revoke_api_key(id).unwrap();
    });
    let (s, _) = app.send(reqwest::Method::GET, "/api/brands", Some(read_key), None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

async fn rate_limit_answers_429_with_retry_after_per_client(backend: Backend) {
    let Some(app) =
        spawn_app(backend, HttpConfig { rate_limit_per_minute: 5, ..HttpConfig::default() }).await
    else {
        return;
    };
    for _ in 0..5 {
        assert_eq!(app.get("/api/categories").await.0, StatusCode::OK);
    }
    let r = app.client.get(format!("{}/api/categories", app.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=12).contains(&retry), "{retry}");
    assert_eq!(error_code(&r.json().await.unwrap()), "rate_limited");
    // A key is its own client; probes are never limited.
    let (s, _) = app.send(reqwest::Method::GET, "/api/categories", Some(ADMIN_KEY), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        app.client.get(format!("{}/health", app.base)).send().await.unwrap().status(),
        StatusCode::OK
    );
}

async fn cors_security_headers_request_ids_and_body_limit(backend: Backend) {
    let Some(app) = spawn_app(
        backend,
        HttpConfig {
            cors_origins: vec!["https://app.example.com".into()],
            json_body_limit: 200,
            rate_limit_per_minute: 0,
            behind_tls: true,
            ..HttpConfig::default()
        },
    )
    .await
    else {
        return;
    };
    let r = app
        .client
        .get(format!("{}/api/brands", app.base))
        .header("origin", "https://app.example.com")
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    let h = r.headers();
    assert_eq!(h["access-control-allow-origin"], "https://app.example.com");
    assert_eq!(h["x-request-id"], "abc-123");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(h["content-security-policy"].to_str().unwrap().contains("default-src 'none'"));
    assert!(h.contains_key("strict-transport-security"));
    assert!(h.contains_key("referrer-policy"));
    let r = app
        .client
        .get(format!("{}/api/brands", app.base))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(!r.headers().contains_key("access-control-allow-origin"));
    assert!(!r.headers()["x-request-id"].is_empty());
    let big = json!({"name": "x".repeat(500), "email": "a@b.co"});
    let (s, e) = app.send(reqwest::Method::POST, "/api/users", Some(ADMIN_KEY), Some(big)).await;
    assert_eq!((s, error_code(&e)), (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"));
}

async fn probes_metrics_and_bounded_route_labels(backend: Backend) {
    let Some(app) = spawn_app(backend, open_config()).await else { return };
    let r = app.client.get(format!("{}/health", app.base)).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/health+json");
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "pass");
    let ready = app.ok("/ready").await;
    assert_eq!(ready["checks"]["database:responseTime"][0]["status"], "pass");
    app.get("/api/offers/0000000000000000").await;
    let scrape = || async {
        app.client.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap()
    };
    let series_count = |text: &str| text.lines().filter(|l| l.starts_with("preciso_")).count();
    // The first scrape adds the /metrics route's own series; count from the second.
    scrape().await;
    let before = series_count(&scrape().await);
    // docs/OPERATIONS.md O23: 10,000 distinct offer URLs, 8 clients at a time; the series count
    // must not move.
    let tasks: Vec<_> = (0..8u64)
        .map(|t| {
            let (client, base) = (app.client.clone(), app.base.clone());
            tokio::spawn(async move {
                for i in (t..10_000).step_by(8) {
                    let url = format!("{base}/api/offers/{:016x}", i + 1);
                    assert_eq!(
                        client.get(url).send().await.unwrap().status(),
                        StatusCode::NOT_FOUND
                    );
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let text = scrape().await;
    assert_eq!(series_count(&text), before, "10,000 distinct URLs added no series");
    let series: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("preciso_http_requests_total{") && l.contains("/api/offers/"))
        .collect();
    assert_eq!(series.len(), 1, "one series for all offer URLs: {series:?}");
    assert!(
        series[0].contains("route=\"/api/offers/{id}\"")
            && series[0].contains("status=\"404\"")
            && series[0].ends_with(" 10001")
    );
    assert!(text.contains("preciso_build_info{version=\"0.1.0\",commit=\""));
    assert!(text.contains("preciso_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/offers/{id}\",le=\"+Inf\"} 10001"));
    assert!(text.contains("preciso_cache_misses_total"));
    // The standard process collector, through the metrics library's registry.
    for name in [
        "process_resident_memory_bytes ",
        "process_cpu_seconds_total ",
        "process_start_time_seconds ",
        "process_open_fds ",
    ] {
        assert!(text.lines().any(|l| l.starts_with(name)), "{name} missing:\n{text}");
    }
    assert!(!text.contains("{job="), "no series carries a `job` label: {text}");
    // USE metrics of the connection pool, and freshness per store from the fixture's offers.
    let gauge = |name: &str| -> f64 {
        let line = text.lines().find(|l| l.starts_with(&format!("{name} "))).expect(name);
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert!(gauge("preciso_db_pool_connections_max") >= 1.0);
    assert!(gauge("preciso_db_pool_connections_open") <= gauge("preciso_db_pool_connections_max"));
    assert!(gauge("preciso_db_pool_waits_total") >= 0.0);
    let newest = blocking(|| app.catalog.store_freshness().unwrap());
    assert!(!newest.is_empty());
    for (store, seen) in newest {
        let want = format!(
            "preciso_store_last_scraped_timestamp_seconds{{store=\"{store}\"}} {}",
            seen.unwrap()
        );
        assert!(text.contains(&want), "{want}");
    }
}

async fn openapi_document_lists_exactly_the_served_routes(backend: Backend) {
    let Some(app) = spawn_app(backend, open_config()).await else { return };
    let doc = app.ok("/api/openapi.json").await;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    let expected = [
        "/api/best-prices/{category}",
        "/api/price-comparison",
        "/api/ranked-offers",
        "/api/trending-offers",
        "/api/reports/store-comparison",
        "/api/reports/price-analysis/{category}",
        "/api/users",
        "/api/users/create",
        "/api/users/{id}",
        "/api/brands",
        "/api/categories",
        "/api/stores",
        "/api/offers/{id}",
        "/api/offers/{id}/history",
        "/api/archivos",
        "/api/jobs",
        "/api/jobs/{name}/run",
        "/api/runs",
        "/api/runs/{id}",
        "/api/search",
        "/api/status",
        "/api/forensic/analyze",
        "/api/forensic/batch-analyze",
        "/api/forensic/status/{job_id}",
        "/api/forensic/analysis/{job_id}",
        "/api/forensic/list",
        "/api/forensic/export/{job_id}",
        "/api/forensic/scores",
        "/api/openapi.json",
        "/health",
        "/ready",
        "/metrics",
    ];
    let mut documented: Vec<&str> = paths.keys().map(String::as_str).collect();
    documented.sort();
    let mut want = expected.to_vec();
    want.sort();
    assert_eq!(documented, want);
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            assert!(!responses.is_empty(), "{method} {path}");
            // Every documented path answers something other than the fallback 404/405.
            if method == "get" && !path.contains('{') {
                let (s, v) = app.get(path).await;
                assert!(
                    responses.contains_key(s.as_str()),
                    "{path} answered {s} which is not documented: {v}"
                );
            }
        }
    }
    let refs = doc.to_string();
    for name in doc["components"]["schemas"].as_object().unwrap().keys() {
        assert!(refs.contains(&format!("#/components/schemas/{name}")), "{name} is unused");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_binary_starts_answers_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_preciso"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("PRECISO_DATA_DIR", dir.path())
        .env("PRECISO_ADMIN_KEY", ADMIN_KEY)
        .env_remove("PRECISO_CONFIG")
        .env_remove("PRECISO_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let url = line.split_whitespace().find(|w| w.starts_with("http://")).unwrap().to_string();
    let r = reqwest::get(format!("{url}/health")).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let client = reqwest::Client::new();
    let r = client
        .get(format!("{url}/api/offers/0000000000000001"))
        .header("x-request-id", "probe-42")
        .header("x-api-key", ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(code) = child.try_wait().unwrap() {
            assert!(code.success(), "exit status {code:?}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "server did not stop after SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut logs = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut logs).unwrap();
    // One JSON object per line; the request's line names route template, status and id.
    let access: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["request_id"] == "probe-42")
        .collect();
    assert_eq!(access.len(), 1, "{logs}");
    assert_eq!(access[0]["route"], "/api/offers/{id}");
    assert_eq!(access[0]["status"], 404);
    assert_eq!(access[0]["level"], "INFO");
    assert_eq!(
        (access[0]["message"].as_str(), access[0]["target"].as_str()),
        (Some("request"), Some("preciso::access"))
    );
    // docs/OPERATIONS.md O27: every line is an object with an RFC 3339 UTC timestamp, a level, a
    // message and a target.
    for line in logs.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        let ts = v["timestamp"].as_str().unwrap_or_default();
        assert!(ts.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(ts).is_ok(), "{line}");
        assert!(
            v["level"].is_string() && v["message"].is_string() && v["target"].is_string(),
            "{line}"
        );
    }
    assert!(!logs.contains(ADMIN_KEY), "the API key never reaches the logs");
}

/// docs/OPERATIONS.md O26: `/ready` answers 503 within its 1 s budget when the database refuses
/// connections, while `/health` (which touches nothing) stays 200; once the database is back, so is
/// readiness.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_fails_fast_while_the_database_is_down_and_recovers() {
    let Some(app) = spawn_app(Backend::Postgres, open_config()).await else { return };
    assert_eq!(app.get("/ready").await.0, StatusCode::OK);
    let db = app._db.as_ref().unwrap();
    let admin = |sql: String| {
        let url = db.admin_url.clone();
        blocking(move || {
            let mut c = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
            c.batch_execute(&sql).unwrap();
        })
    };
    admin(format!(
        "ALTER DATABASE {0} ALLOW_CONNECTIONS false;
         SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{0}';",
        db.name
    ));
    let started = std::time::Instant::now();
    let r = app.client.get(format!("{}/ready", app.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers()["content-type"], "application/health+json");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["checks"]["database:responseTime"][0]["status"], "fail", "{body}");
    assert!(started.elapsed() < Duration::from_secs(3), "answered within the check's budget");
    // What failed is public; why (hosts, database names) only for an admin key.
    assert_eq!(body["checks"]["database:responseTime"][0]["output"], Value::Null, "{body}");
    let (_, admin_view) = app.send(reqwest::Method::GET, "/ready", Some(ADMIN_KEY), None).await;
    let output = &admin_view["checks"]["database:responseTime"][0]["output"];
    assert!(output.as_str().is_some_and(|o| !o.is_empty()), "{admin_view}");
    assert_eq!(app.get("/health").await.0, StatusCode::OK, "liveness touches no database");
    // Catalog reads answer 503 with Retry-After, not 500: the client should come back.
    for path in ["/api/brands", "/api/best-prices/electro", "/api/offers/0000000000000001"] {
        let r = app.client.get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(r.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() > 0);
        let body: Value = r.json().await.unwrap();
        assert_eq!(error_code(&body), "unavailable", "{body}");
        assert!(!body.to_string().contains(&db.name), "the cause is logged, not answered");
    }
    admin(format!("ALTER DATABASE {} ALLOW_CONNECTIONS true", db.name));
    assert_eq!(app.get("/ready").await.0, StatusCode::OK, "the pool reconnects");
    assert_eq!(app.get("/api/brands").await.0, StatusCode::OK, "and reads recover");
}

/// docs/OPERATIONS.md O27: a full server run on PostgreSQL with a password in its URL, requests
/// with a valid and an invalid API key: neither the password nor any key appears in the logs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_of_a_full_run_carry_no_key_and_no_database_password() {
    let Some((url, _db)) = fresh_pg_url() else { return };
    let password = "hunter2-db-password";
    // Trust authentication ignores the password, so the server runs normally with it.
    let url = url.replacen("@", &format!(":{password}@"), 1);
    let wrong_key = "not-a-real-key-0123456789";
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_preciso"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("PRECISO_DATA_DIR", dir.path())
        .env("PRECISO_DATABASE_URL", &url)
        .env("PRECISO_ADMIN_KEY", ADMIN_KEY)
        .env("PRECISO_LOG", "debug")
        .env_remove("PRECISO_CONFIG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Debug logs outgrow a pipe's buffer: drain them as they come, or the server blocks.
    let mut stderr = child.stderr.take().unwrap();
    let logs = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut text).unwrap();
        text
    });
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let base = line.split_whitespace().find(|w| w.starts_with("http://")).unwrap().to_string();
    let client = reqwest::Client::new();
    for (path, key) in [
        ("/api/stores", Some(ADMIN_KEY)),
        ("/api/stores", Some(wrong_key)),
        ("/api/jobs", Some(ADMIN_KEY)),
        ("/ready", None),
        ("/metrics", None),
    ] {
        let mut req = client.get(format!("{base}{path}"));
        if let Some(k) = key {
            req = req.header("x-api-key", k);
        }
        req.send().await.unwrap();
    }
    let r = client
        .post(format!("{base}/api/jobs/status/run"))
        .header("x-api-key", ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let r = client
        .post(format!("{base}/api/users"))
        .header("x-api-key", ADMIN_KEY)
        .json(&json!({"name": "Ana", "email": "ana@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    tokio::time::sleep(Duration::from_millis(300)).await;
    std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let logs = tokio::task::spawn_blocking(move || {
        child.wait().unwrap();
        logs.join().unwrap()
    })
    .await
    .unwrap();
    assert!(logs.lines().count() > 5, "the run logged: {logs}");
    for secret in [password, ADMIN_KEY, wrong_key] {
        assert!(!logs.contains(secret), "{secret:?} leaked into the logs");
    }
    // Writes leave an audit line naming the key that made them by its id, never the key.
    let audit: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["target"] == "preciso::audit")
        .collect();
    let actions: Vec<(&str, &str)> = audit
        .iter()
        .map(|l| (l["action"].as_str().unwrap_or(""), l["key"].as_str().unwrap_or("")))
        .collect();
    assert!(actions.contains(&("job.run", "static")), "{actions:?}");
    assert!(actions.contains(&("user.create", "static")), "{actions:?}");
    // Every event inside a request carries the request's span: id, route, method, key id.
    for line in &audit {
        let span = &line["span"];
        assert_eq!(span["name"], "request", "{line}");
        assert!(span["request_id"].as_str().is_some_and(|id| !id.is_empty()), "{line}");
        assert_eq!(span["key_id"], "static", "{line}");
        assert!(span["route"].as_str().is_some_and(|r| r.starts_with("/api/")), "{line}");
    }
}

/// A second server on the same catalog, optionally sharing state through Redis.
async fn replica(
    app: &TestApp,
    config: HttpConfig,
    shared: Option<preciso_http::RedisShared>,
) -> (String, tokio::sync::oneshot::Sender<()>) {
    let uploads = UploadConfig {
        spool_dir: app._dir.path().join("incoming2"),
        unarchived_dir: None,
        options: options(app._dir.path()),
    };
    serve(AppState::with_shared(app.catalog.clone(), test_config(config), uploads, shared)).await
}

pub(crate) async fn redis(prefix: &str) -> Option<preciso_http::RedisShared> {
    let url =
        std::env::var("PRECISO_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let shared = preciso_http::RedisShared::connect(&url, prefix).expect("a valid Redis URL");
    if shared.ping().await {
        Some(shared)
    } else {
        eprintln!("skipped: Redis at {url} is not reachable");
        None
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_one_rate_limit_and_cache_through_redis() {
    let prefix = format!("preciso-test-{}-{}", std::process::id(), Utc::now().timestamp_micros());
    let (Some(ra), Some(rb)) = (redis(&prefix).await, redis(&prefix).await) else { return };
    let Some(app) = spawn_app(Backend::Sqlite, open_config()).await else { return };
    let config = HttpConfig { rate_limit_per_minute: 5, ..HttpConfig::default() };
    let (a, _sa) = replica(&app, config.clone(), Some(ra)).await;
    let (b, _sb) = replica(&app, config, Some(rb)).await;
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for base in [&a, &b, &a, &b, &a, &b, &a] {
        statuses.push(
            client.get(format!("{base}/api/categories")).send().await.unwrap().status().as_u16(),
        );
    }
    // One shared budget of 5 per minute, unless the minute rolled over mid-test.
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert!(
        limited == 2 || (limited < 2 && statuses.iter().take(5).all(|s| *s == 200)),
        "{statuses:?}"
    );
    assert!(statuses[..5].iter().all(|s| *s == 200), "{statuses:?}");

    // The cache is shared too: B answers from what A stored, and a write on A empties both.
    let prefix2 = format!("{prefix}-cache");
    let (Some(ca), Some(cb)) = (redis(&prefix2).await, redis(&prefix2).await) else { return };
    let open = HttpConfig { rate_limit_per_minute: 0, ..HttpConfig::default() };
    let (a, _sa2) = replica(&app, open.clone(), Some(ca)).await;
    let (b, _sb2) = replica(&app, open, Some(cb)).await;
    let get = |base: String| {
        let client = client.clone();
        async move {
            client.get(format!("{base}/api/brands")).send().await.unwrap().headers()["x-cache"]
                .to_str()
                .unwrap()
                .to_string()
        }
    };
    assert_eq!(get(a.clone()).await, "miss");
    assert_eq!(get(b.clone()).await, "hit");
    let r = client
        .post(format!("{a}/api/users"))
        .header("x-api-key", ADMIN_KEY)
        .json(&json!({"name": "R", "email": "r@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(get(b).await, "miss");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_database_give_the_same_answers() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(app) = spawn_app(backend, open_config()).await else { continue };
        let (other, _stop) = replica(&app, open_config(), None).await;
        for path in [
            "/api/best-prices/electro?limit=5",
            "/api/price-comparison?gtin=7702032101054",
            "/api/ranked-offers?limit=100",
            "/api/trending-offers?days=30",
            "/api/reports/price-analysis/electro",
            "/api/brands",
            "/api/categories",
        ] {
            let one: Value = app
                .client
                .get(format!("{}{path}", app.base))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let two: Value = app
                .client
                .get(format!("{other}{path}"))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(one, two, "{path}");
        }
    }
}

const FIXED_QUERIES: &[&str] = &[
    "/api/best-prices/electro?limit=5",
    "/api/price-comparison?gtin=7702032101054",
    // Its matches carry each product's offers, out of stock too: counts PostgreSQL keeps on
    // the products' rows, which a copy does not carry but derives.
    "/api/price-comparison?q=licuadora",
    "/api/ranked-offers?limit=100",
    "/api/trending-offers?days=30",
    "/api/reports/price-analysis/electro",
    "/api/brands",
    "/api/categories",
    "/api/stores",
    "/api/archivos",
];

async fn answers(client: &reqwest::Client, base: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for path in FIXED_QUERIES {
        out.push(client.get(format!("{base}{path}")).send().await.unwrap().json().await.unwrap());
    }
    out
}

fn copy_cli(from: &str, to: &str, force: bool) -> std::process::Output {
    let mut args = vec!["copy", "--from", from, "--to", to];
    if force {
        args.push("--force");
    }
    std::process::Command::new(env!("CARGO_BIN_EXE_preciso"))
        .args(&args)
        .env_remove("PRECISO_CONFIG")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_moves_the_catalog_sqlite_to_postgres_and_back_with_identical_answers() {
    let Some((pg_url, _pg)) = fresh_pg_url() else { return };
    let Some(app) = spawn_app(Backend::Sqlite, open_config()).await else { return };
    app.send(
        reqwest::Method::POST,
        "/api/users",
        Some(ADMIN_KEY),
        Some(json!({"name": "Ana", "email": "ana@example.com"})),
    )
    .await;
    let before = answers(&app.client, &app.base).await;
    let sqlite_url = format!("sqlite://{}", app._dir.path().join("catalog.sqlite").display());

    let out = blocking(|| copy_cli(&sqlite_url, &pg_url, false));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = blocking(|| copy_cli(&sqlite_url, &pg_url, false));
    assert!(!out.status.success(), "a non-empty target is refused without --force");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));

    let pg: Arc<dyn Catalog> =
        Arc::new(blocking(|| preciso_store_postgres::PgCatalog::open(&pg_url).unwrap()));
    let uploads = UploadConfig {
        spool_dir: app._dir.path().join("in-pg"),
        unarchived_dir: None,
        options: options(app._dir.path()),
    };
    let (pg_base, _stop) =
        serve(AppState::new(pg.clone(), test_config(open_config()), uploads)).await;
    assert_eq!(answers(&app.client, &pg_base).await, before, "SQLite → PostgreSQL");
    // Issue #18: the same catalog gives the same analysis report on both, byte for byte.
    let now = Utc::now().timestamp();
    let report = |c: Arc<dyn Catalog>| {
        blocking(move || {
            let checks = preciso_core::quality::config::resolve(&Default::default()).unwrap();
            let request = preciso_core::quality::runs::AnalysisRequest::default();
            let r =
                preciso_ops::forensic::analyze(c.as_ref(), &checks, &request, now, &mut |_, _| {
                    true
                });
            preciso_ops::forensic::canonical_json(&r.unwrap())
        })
    };
    let on_sqlite = report(app.catalog.clone());
    assert!(on_sqlite.contains("\"M.reject_rate\""));
    assert_eq!(on_sqlite, report(pg.clone()), "the analysis report differs between backends");
    assert_eq!(
        blocking(|| pg.users(preciso_core::query::PageRequest::default()).unwrap().total),
        1
    );

    let back = format!("sqlite://{}", app._dir.path().join("back.sqlite").display());
    let out = blocking(|| copy_cli(&pg_url, &back, false));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let again: Arc<dyn Catalog> =
        Arc::new(SqliteCatalog::open(&app._dir.path().join("back.sqlite")).unwrap());
    let uploads = UploadConfig {
        spool_dir: app._dir.path().join("in-back"),
        unarchived_dir: None,
        options: options(app._dir.path()),
    };
    let (back_base, _stop2) =
        serve(AppState::new(again.clone(), test_config(open_config()), uploads)).await;
    assert_eq!(answers(&app.client, &back_base).await, before, "PostgreSQL → SQLite");
    // New rows after the move get fresh ids (sequences moved past the copied ones).
    let (s, _) = app
        .send(
            reqwest::Method::POST,
            "/api/users",
            Some(ADMIN_KEY),
            Some(json!({"name": "B", "email": "b@example.com"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let created = blocking(|| {
        let user = preciso_core::query::NewUser { name: "C".into(), email: "c@example.com".into() };
        pg.create_user(&user, &Default::default()).unwrap()
    });
    assert!(created.id > 1);
}

fn backup_cli(args: &[&str], data_dir: &std::path::Path, url: &str) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_preciso"))
        .args(["--data-dir", data_dir.to_str().unwrap(), "--database-url", url])
        .args(args)
        .env_remove("PRECISO_CONFIG")
        .output()
        .unwrap()
}

fn newest_backup(dir: &std::path::Path) -> std::path::PathBuf {
    let mut files: Vec<_> = std::fs::read_dir(dir.join("backups"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".preciso-backup.zst"))
        .collect();
    files.sort();
    files.pop().expect("a backup")
}

/// docs/OPERATIONS.md O16, O17, O20: a backup of SQLite restores into PostgreSQL and a backup of
/// that into SQLite with identical API answers; verify restores into a scratch database; restore
/// refuses a non-empty target without --force and takes a safety backup with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_move_the_catalog_sqlite_to_postgres_and_back_with_identical_answers() {
    // No response cache: every answer below comes from the database.
    let uncached = HttpConfig { cache_ttl: Duration::ZERO, ..open_config() };
    let Some(app) = spawn_app(Backend::Sqlite, uncached).await else { return };
    app.send(
        reqwest::Method::POST,
        "/api/users",
        Some(ADMIN_KEY),
        Some(json!({"name": "Ana", "email": "ana@example.com"})),
    )
    .await;
    let before = answers(&app.client, &app.base).await;
    let dir = app._dir.path().to_path_buf();
    let sqlite_url = format!("sqlite://{}", dir.join("catalog.sqlite").display());
    let ok = |out: std::process::Output| {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    ok(blocking(|| backup_cli(&["backup", "create"], &dir, &sqlite_url)));
    let file = newest_backup(&dir);
    let verified = ok(blocking(|| backup_cli(&["backup", "verify"], &dir, &sqlite_url)));
    assert!(verified.contains("ok (hashes, restore, integrity and counts"), "{verified}");
    let listed = ok(blocking(|| backup_cli(&["backup", "list", "--json"], &dir, &sqlite_url)));
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert!(listed["items"][0]["verified_at"].is_string(), "{listed}");

    // Restoring onto the non-empty source is refused without --force.
    let file_arg = file.to_str().unwrap().to_string();
    let out = blocking(|| backup_cli(&["backup", "restore", &file_arg], &dir, &sqlite_url));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));

    let Some((pg_url, _pg)) = fresh_pg_url() else { return };
    ok(blocking(|| {
        backup_cli(&["backup", "restore", &file_arg, "--to", &pg_url], &dir, &sqlite_url)
    }));
    let pg: Arc<dyn Catalog> =
        Arc::new(blocking(|| preciso_store_postgres::PgCatalog::open(&pg_url).unwrap()));
    let uploads =
        UploadConfig { spool_dir: dir.join("in-pg"), unarchived_dir: None, options: options(&dir) };
    let (pg_base, _stop) =
        serve(AppState::new(pg.clone(), test_config(open_config()), uploads)).await;
    assert_eq!(answers(&app.client, &pg_base).await, before, "SQLite backup → PostgreSQL");

    // Back: a backup of PostgreSQL restored with --force over a changed SQLite catalog.
    let pg_dir = dir.join("pg-side");
    ok(blocking(|| backup_cli(&["backup", "create"], &pg_dir, &pg_url)));
    let from_pg = newest_backup(&pg_dir);
    app.send(
        reqwest::Method::POST,
        "/api/users",
        Some(ADMIN_KEY),
        Some(json!({"name": "Luis", "email": "luis@example.com"})),
    )
    .await;
    let extra = dir.join("extra.jsonl");
    std::fs::write(
        &extra,
        "{\"store\":\"exito\",\"sku\":\"NEW-1\",\"title\":\"Nevera nueva\",\"brand\":\"Mabe\",\"category\":\"Electro > Neveras\",\"price\":\"$ 1.000\"}\n",
    )
    .unwrap();
    let source = IngestSource { path: extra, name: "extra.jsonl".into() };
    blocking(|| ingest(app.catalog.as_ref(), &source, &options(&dir), &|_| {}).unwrap());
    assert_ne!(answers(&app.client, &app.base).await, before, "the catalog changed meanwhile");
    let from_pg_arg = from_pg.to_str().unwrap().to_string();
    let restored = ok(blocking(|| {
        backup_cli(&["backup", "restore", &from_pg_arg, "--force"], &dir, &sqlite_url)
    }));
    assert!(restored.contains("safety backup of the target"), "{restored}");
    assert_eq!(answers(&app.client, &app.base).await, before, "PostgreSQL backup → SQLite");
    let users =
        blocking(|| app.catalog.users(preciso_core::query::PageRequest::default()).unwrap());
    assert_eq!(users.total, 1, "Luis, added after the backup, is gone again");
}

/// Swagger UI at `/docs`: its page and assets come from the binary, it reads this server's
/// document, it needs no key even when reads do, and only it gets a CSP that lets scripts and
/// styles of this origin run.
async fn docs_are_served_from_the_binary_under_their_own_csp(backend: Backend) {
    let config = HttpConfig { require_auth_for_reads: true, ..open_config() };
    let Some(app) = spawn_app(backend, config).await else { return };
    let fetch = |path: &'static str| {
        let client = app.client.clone();
        let url = format!("{}{path}", app.base);
        async move {
            let r = client.get(url).send().await.unwrap();
            let csp = r.headers()["content-security-policy"].to_str().unwrap().to_string();
            (r.status(), csp, r.text().await.unwrap())
        }
    };
    let (status, csp, html) = fetch("/docs/").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("swagger-ui-bundle.js") && !html.contains("http"), "{html}");
    assert!(csp.contains("script-src 'self'") && !csp.contains("http"), "{csp}");
    let (status, _, init) = fetch("/docs/swagger-initializer.js").await;
    assert_eq!(status, StatusCode::OK);
    assert!(init.contains("\"/api/openapi.json\""), "{init}");
    let (status, _, bundle) = fetch("/docs/swagger-ui-bundle.js").await;
    assert_eq!(status, StatusCode::OK);
    assert!(bundle.len() > 100_000, "the bundle is {} bytes", bundle.len());
    // Everything else keeps the strict policy (and reads still need a key).
    let (status, csp, _) = fetch("/api/stores").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(csp, "default-src 'none'; frame-ancestors 'none'");
    assert_eq!(fetch("/api/openapi.json").await.0, StatusCode::OK);
}

/// Polls the run list until no run is queued or running (30 s at most).
async fn settled_runs(app: &TestApp) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let page = app.ok("/api/forensic/list?limit=100").await;
        let items = page["items"].as_array().unwrap().clone();
        if items.iter().all(|r| !matches!(r["status"].as_str(), Some("queued" | "running"))) {
            return items;
        }
        assert!(std::time::Instant::now() < deadline, "runs did not finish: {page}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Issue #18, API: runs are queued with 202, a job id and `Location`; at most 2 run at once;
/// each reports phase 5 and 100 % when it succeeds; the report is served exactly as the
/// analysis wrote it, and exported as CSV and one self-contained HTML page; whole-store runs
/// feed the per-store score history, narrowed ones do not; bad requests are 4xx.
async fn forensic_runs_queue_report_export_and_keep_history(backend: Backend) {
    let Some(app) = spawn_app(backend, open_config()).await else { return };
    let post = |path: &str, key: Option<&'static str>, body: Value| {
        let req = app.client.post(format!("{}{path}", app.base)).json(&body);
        match key {
            Some(k) => req.header("x-api-key", k),
            None => req,
        }
        .send()
    };
    let r = post("/api/forensic/analyze", None, json!({})).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let as_of = "2026-12-01T00:00:00Z";
    let r = post("/api/forensic/analyze", Some(ADMIN_KEY), json!({"as_of": as_of})).await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let accepted: Value = r.json().await.unwrap();
    let id = accepted["job_id"].as_i64().unwrap();
    assert_eq!(location, format!("/api/forensic/status/{id}"));
    assert_eq!(accepted["location"], location.as_str());
    let scopes = json!({"scopes": [{}, {"store": "Éxito"}, {"category": "Electro"}, {}]});
    let r = post("/api/forensic/batch-analyze", Some(ADMIN_KEY), scopes).await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let batch: Value = r.json().await.unwrap();
    let ids: Vec<i64> =
        batch["jobs"].as_array().unwrap().iter().map(|j| j["job_id"].as_i64().unwrap()).collect();
    assert_eq!(ids.len(), 4);
    assert!(ids.windows(2).all(|w| w[0] < w[1]) && ids[0] > id);
    // Bad requests: named fields, nothing queued.
    for (path, body, field) in [
        ("/api/forensic/analyze", json!({"as_of": "yesterday"}), "as_of"),
        ("/api/forensic/analyze", json!({"category": " > "}), "category"),
        ("/api/forensic/batch-analyze", json!({"scopes": []}), "scopes"),
        ("/api/forensic/batch-analyze", json!({"scopes": vec![json!({}); 21]}), "scopes"),
        ("/api/forensic/batch-analyze", json!({"scopes": [{}, {"since": "soon"}]}), "since"),
        // serde reads a struct from an array too: a scope must be an object.
        ("/api/forensic/analyze", json!([null, null]), "body"),
        ("/api/forensic/batch-analyze", json!({"scopes": [[null, null]]}), "scopes"),
        ("/api/forensic/batch-analyze", json!({"scopes": [{}], "more": 1}), "scopes"),
    ] {
        let r = post(path, Some(ADMIN_KEY), body.clone()).await.unwrap();
        assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["details"]["field"], field, "{v}");
    }
    let r = post("/api/forensic/analyze", Some(ADMIN_KEY), json!({"shop": "x"})).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let runs = settled_runs(&app).await;
    assert_eq!(runs.len(), 5, "{runs:?}");
    for r in &runs {
        assert_eq!(r["status"], "succeeded", "{r}");
        assert_eq!((r["phase"].as_u64(), r["percent"].as_u64()), (Some(5), Some(100)), "{r}");
        assert_eq!(r["phase_name"], "report");
    }
    // At most two at once (the queue's two workers): no instant inside three runs.
    let span = |r: &Value| {
        let t = |k: &str| chrono::DateTime::parse_from_rfc3339(r[k].as_str().unwrap()).unwrap();
        (t("started_at"), t("finished_at"))
    };
    for r in &runs {
        let (start, _) = span(r);
        let running = runs.iter().filter(|o| {
            let (s, f) = span(o);
            s <= start && start < f
        });
        assert!(running.count() <= 2, "{runs:?}");
    }
    let status = app.ok(&format!("/api/forensic/status/{id}")).await;
    assert_eq!(status["as_of"], "2026-12-01T00:00:00Z");
    assert_eq!(status["request"], json!({"as_of": as_of}));
    assert!(["pass", "warn", "fail"].contains(&status["outcome"].as_str().unwrap()), "{status}");
    // The report as the analysis wrote it, byte for byte, and the same on every read.
    let body = |path: String| {
        let client = app.client.clone();
        let url = format!("{}{path}", app.base);
        async move {
            let r = client.get(url).send().await.unwrap();
            let ct = r.headers()["content-type"].to_str().unwrap().to_string();
            let csp = r.headers()["content-security-policy"].to_str().unwrap().to_string();
            (r.status(), ct, csp, r.text().await.unwrap())
        }
    };
    let (s, ct, _, stored) = body(format!("/api/forensic/analysis/{id}")).await;
    assert_eq!((s, ct.as_str()), (StatusCode::OK, "application/json"));
    let request = preciso_core::quality::runs::AnalysisRequest {
        as_of: Some(as_of.into()),
        ..Default::default()
    };
    let catalog = app.catalog.clone();
    let direct = blocking(move || {
        let checks = preciso_core::quality::config::resolve(&Default::default()).unwrap();
        preciso_ops::forensic::analyze(catalog.as_ref(), &checks, &request, 0, &mut |_, _| true)
            .unwrap()
    });
    assert_eq!(stored, preciso_ops::forensic::canonical_json(&direct));
    assert_eq!(body(format!("/api/forensic/export/{id}?format=json")).await.3, stored);
    let report: Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(report["as_of"], 1_796_083_200);
    assert_eq!(report["stores"].as_array().unwrap().len(), 3);
    let (s, ct, _, csv) = body(format!("/api/forensic/export/{id}?format=csv")).await;
    assert_eq!((s, ct.as_str()), (StatusCode::OK, "text/csv; charset=utf-8"));
    assert!(csv.starts_with("check,"), "{csv}");
    let (s, ct, csp, page) = body(format!("/api/forensic/export/{id}?format=html")).await;
    assert_eq!((s, ct.as_str()), (StatusCode::OK, "text/html; charset=utf-8"));
    assert!(csp.starts_with("default-src 'none'; style-src 'unsafe-inline'"), "{csp}");
    assert!(page.contains("Data-quality report") && page.contains("exito"));
    for external in ["src=", "href=", "url(", "@import", "//"] {
        assert!(!page.replace("://", "").contains(external), "{external} in the page");
    }
    assert_eq!(
        app.get(&format!("/api/forensic/export/{id}?format=pdf")).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(app.get("/api/forensic/status/999999").await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/forensic/analysis/999999").await.0, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/forensic/status/abc").await.0, StatusCode::BAD_REQUEST);
    let page = app.ok("/api/forensic/list?status=succeeded&limit=2").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["items"][0]["job_id"], ids[3]);
    // Whole-store runs (4 of 5: not the category one) each left a score per store they saw.
    let exito = app.ok("/api/forensic/scores?store=exito").await;
    let points = exito["items"].as_array().unwrap();
    assert_eq!(points.len(), 4, "{exito}");
    assert!(points.iter().all(|p| p["store"] == "exito" && p["score"].is_number()));
    assert!(points.iter().all(|p| p["analysis_id"] != ids[2]));
    let all = app.ok("/api/forensic/scores").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 3 * 3 + 1);
    let recent = app.ok("/api/forensic/scores?since=2026-12-02").await;
    assert_eq!(recent["items"].as_array().unwrap().len(), 3 * 2 + 1);
}

/// Issue #20, point 8: answers are compressed when the client accepts it — gzip or zstd — and
/// the response cache keeps them gzipped: a hit is sent as kept, byte for byte, to a gzip
/// client, and decompressed for one that accepts nothing; pages too.
async fn answers_are_compressed_as_the_client_accepts_and_cached_compressed(backend: Backend) {
    let Some(app) = spawn_app(backend, open_config()).await else { return };
    let get = |path: &'static str, encoding: Option<&'static str>| {
        let mut req = app.client.get(format!("{}{path}", app.base));
        if let Some(e) = encoding {
            req = req.header("accept-encoding", e);
        }
        async move {
            let r = req.send().await.unwrap();
            let h = |k: &str| r.headers().get(k).map(|v| v.to_str().unwrap().to_string());
            let (enc, cache) = (h("content-encoding"), h("x-cache"));
            (enc, cache, r.bytes().await.unwrap().to_vec())
        }
    };
    let gunzip = |b: &[u8]| {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(b), &mut out).unwrap();
        out
    };
    let path = "/api/ranked-offers?limit=50";
    let (enc, cache, plain) = get(path, None).await;
    assert_eq!((enc, cache.as_deref()), (None, Some("miss")));
    let (enc, cache, first) = get(path, Some("gzip, deflate")).await;
    assert_eq!((enc.as_deref(), cache.as_deref()), (Some("gzip"), Some("hit")));
    assert_eq!(gunzip(&first), plain, "the kept answer, decompressed, is the plain one");
    assert!(first.len() < plain.len() / 2, "{} of {} bytes", first.len(), plain.len());
    let (_, _, again) = get(path, Some("gzip")).await;
    assert_eq!(again, first, "sent as kept");
    // A client that takes zstd only gets zstd (from the compression layer).
    let (enc, _, z) = get(path, Some("zstd")).await;
    assert_eq!(enc.as_deref(), Some("zstd"));
    assert_eq!(zstd::decode_all(&z[..]).unwrap(), plain);
    // Uncached answers and pages are compressed too.
    let (enc, cache, _) = get("/api/jobs", Some("gzip")).await;
    assert_eq!(cache, None);
    assert!(enc.is_none() || enc.as_deref() == Some("gzip"));
    let (enc, _, page) = get("/", Some("gzip")).await;
    assert_eq!(enc.as_deref(), Some("gzip"));
    assert!(String::from_utf8(gunzip(&page)).unwrap().contains("<html lang="));
}
