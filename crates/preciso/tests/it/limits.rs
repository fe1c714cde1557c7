//! The server's defences, seen by clients on a real socket (SQLite; none depends on the
//! backend): slow and idle connections are closed, requests are bounded in time (uploads
//! longer), connections beyond the cap wait, failed keys are rate limited per address, the
//! client address comes from `X-Forwarded-For` only through trusted proxies, and invented
//! methods add no metric series, and catalog calls beyond `http.db_concurrency` wait in order.
//! Timeouts are set to a second or two and checked with wide margins; no test asserts a
//! duration tighter than that.

use super::api::{ADMIN_KEY, Backend, TestApp, error_code, open_config, spawn_app};
use preciso_http::HttpConfig;
use preciso_http::server::ServerLimits;
use reqwest::StatusCode;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

async fn start(config: HttpConfig) -> TestApp {
    spawn_app(Backend::Sqlite, config).await.expect("SQLite always runs")
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base.trim_start_matches("http://")).await.unwrap()
}

/// Reads until the server closes the connection (or `limit` passes): how long that took,
/// and what it sent.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (Duration, String) {
    let started = Instant::now();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while started.elapsed() < limit {
        match tokio::time::timeout(limit - started.elapsed(), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    (started.elapsed(), String::from_utf8_lossy(&seen).into_owned())
}

fn limits(header: u64, idle: u64, max: usize) -> ServerLimits {
    ServerLimits {
        header_read_timeout: secs(header),
        keepalive_timeout: secs(idle),
        max_connections: max,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_its_headers_is_dropped() {
    let app = start(HttpConfig { limits: limits(1, 30, 64), ..open_config() }).await;
    let mut stream = connect(&app).await;
    stream.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let (took, _) = read_until_closed(&mut stream, secs(10)).await;
    assert!(took < secs(6), "a half-sent request held the connection for {took:?}");
    // A silent connection too.
    let mut silent = connect(&app).await;
    let (took, _) = read_until_closed(&mut silent, secs(10)).await;
    assert!(took < secs(6), "a silent connection was held for {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_kept_alive_connection_is_closed_and_a_busy_one_is_not() {
    let app = start(HttpConfig { limits: limits(30, 1, 64), ..open_config() }).await;
    let mut stream = connect(&app).await;
    stream.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 1024];
    let n = stream.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let (took, rest) = read_until_closed(&mut stream, secs(10)).await;
    assert!(rest.is_empty(), "{rest}");
    assert!(took < secs(6), "an idle connection stayed open {took:?}");
    // Requests one after another keep it open past the idle timeout.
    let mut stream = connect(&app).await;
    for _ in 0..4 {
        stream.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let n = stream.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
}

/// A body trickled slower than the request timeout allows is answered 503 `timeout`; the
/// same trickle to the upload endpoint, whose budget is longer, lands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_bounded_in_time_and_uploads_get_longer() {
    let app =
        start(HttpConfig { request_timeout: secs(1), upload_timeout: secs(30), ..open_config() })
            .await;
    let body = r#"{"name": "Ana", "email": "ana@example.com"}"#;
    let (mut reader, mut writer) = connect(&app).await.into_split();
    let head = format!(
        "POST /api/users HTTP/1.1\r\nHost: x\r\nx-api-key: {ADMIN_KEY}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    writer.write_all(head.as_bytes()).await.unwrap();
    let trickle = tokio::spawn(async move {
        for b in body.as_bytes() {
            if writer.write_all(&[*b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    // The server answers while the body is still coming.
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(Ok(n)) = tokio::time::timeout(secs(10), reader.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
    }
    trickle.abort();
    let answer = String::from_utf8_lossy(&answer);
    assert!(started.elapsed() < secs(4), "answered after {:?}", started.elapsed());
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains(r#""code":"timeout""#), "{answer}");

    let upload = r#"{"store":"exito","sku":"U1","title":"Horno","price":"$ 899.900"}"#;
    let mut stream = connect(&app).await;
    let head = format!(
        "POST /api/archivos?name=slow.jsonl HTTP/1.1\r\nHost: x\r\nx-api-key: {ADMIN_KEY}\r\n\
         content-type: application/x-ndjson\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        upload.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for chunk in upload.as_bytes().chunks(8) {
        stream.write_all(chunk).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, answer) = read_until_closed(&mut stream, secs(20)).await;
    assert!(
        answer.starts_with("HTTP/1.1 201"),
        "the upload outlived the request timeout: {answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let app = start(HttpConfig { limits: limits(30, 30, 2), ..open_config() }).await;
    let (first, second) = (connect(&app).await, connect(&app).await);
    // Both slots are taken by connections that say nothing; the third waits in the backlog.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let client = reqwest::Client::new();
    let third = client.get(format!("{}/health", app.base)).timeout(secs(1)).send().await;
    assert!(third.is_err(), "served beyond the cap: {third:?}");
    drop(first);
    let fourth = client.get(format!("{}/health", app.base)).timeout(secs(10)).send().await;
    assert_eq!(fourth.unwrap().status(), StatusCode::OK, "a slot freed up");
    drop(second);
}

/// Wrong keys count against the address like any request: once its bucket is empty the
/// address gets 429, even for a valid key, without the key being looked up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_keys_are_rate_limited_per_address() {
    let app = start(HttpConfig { rate_limit_per_minute: 5, ..HttpConfig::default() }).await;
    for i in 0..5 {
        let (s, e) = app
            .send(reqwest::Method::GET, "/api/brands", Some(&format!("pk_guess_{i:030}")), None)
            .await;
        assert_eq!((s, error_code(&e)), (StatusCode::UNAUTHORIZED, "unauthorized"), "guess {i}");
    }
    let (s, e) = app.send(reqwest::Method::GET, "/api/brands", Some("pk_guess_next"), None).await;
    assert_eq!((s, error_code(&e)), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
    let (s, _) = app.send(reqwest::Method::GET, "/api/brands", Some(ADMIN_KEY), None).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "the address is blocked, valid key or not");
    // A missing key where one is required counts too.
    let other = start(HttpConfig { rate_limit_per_minute: 3, ..HttpConfig::default() }).await;
    for _ in 0..3 {
        assert_eq!(other.get("/api/users").await.0, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(other.get("/api/users").await.0, StatusCode::TOO_MANY_REQUESTS);
}

async fn status_as(app: &TestApp, forwarded: &str) -> StatusCode {
    let r = app.client.get(format!("{}/api/brands", app.base)).header("x-forwarded-for", forwarded);
    r.send().await.unwrap().status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_names_the_client_only_through_trusted_proxies() {
    // The test client connects from 127.0.0.1: a trusted proxy here.
    let trusted = HttpConfig {
        rate_limit_per_minute: 2,
        trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
        ..HttpConfig::default()
    };
    let app = start(trusted).await;
    // nginx appends the address it saw; the client's own claim on the left changes nothing.
    for claim in ["1.1.1.1", "2.2.2.2"] {
        assert_eq!(status_as(&app, &format!("{claim}, 198.51.100.7")).await, StatusCode::OK);
    }
    assert_eq!(status_as(&app, "3.3.3.3, 198.51.100.7").await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(status_as(&app, "198.51.100.8").await, StatusCode::OK, "another client");
    // Without trusted proxies the header is ignored: every request is 127.0.0.1's.
    let app = start(HttpConfig { rate_limit_per_minute: 2, ..HttpConfig::default() }).await;
    for n in 0..2 {
        assert_eq!(status_as(&app, &format!("203.0.113.{n}")).await, StatusCode::OK);
    }
    assert_eq!(status_as(&app, "203.0.113.99").await, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invented_methods_add_no_metric_series() {
    let app = start(open_config()).await;
    let scrape = || async {
        let text = app.client.get(format!("{}/metrics", app.base)).send().await.unwrap();
        text.text().await.unwrap()
    };
    let send = |method: String| {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        app.client.request(m, format!("{}/api/brands", app.base)).send()
    };
    send("M0".into()).await.unwrap();
    scrape().await;
    let before = scrape().await.lines().filter(|l| l.starts_with("preciso_")).count();
    for i in 1..1000 {
        send(format!("M{i}")).await.unwrap();
    }
    let text = scrape().await;
    let after = text.lines().filter(|l| l.starts_with("preciso_")).count();
    assert_eq!(after, before, "1,000 invented methods added series");
    assert!(text.contains(r#"preciso_http_requests_total{method="other""#), "{text}");
    assert!(!text.contains("method=\"M"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_parameters_are_refused_and_cache_keys_are_canonical() {
    let app = start(open_config()).await;
    for (path, param) in [("/api/brands?limt=5", "limt"), ("/api/categories?junk=1", "junk")] {
        let (s, e) = app.get(path).await;
        assert_eq!((s, error_code(&e)), (StatusCode::BAD_REQUEST, "bad_parameter"), "{path}");
        assert_eq!(e["error"]["details"]["parameter"], param, "{e}");
    }
    // A method the path does not have is the router's 405, whatever the query says.
    let trace = reqwest::Method::from_bytes(b"TRACE").unwrap();
    let (s, e) = app.send(trace, "/api/runs?limit=20&job=", None, None).await;
    assert_eq!((s, error_code(&e)), (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"));
    // Blank values are absent (the document's allowEmptyValue), not errors.
    app.ok("/api/reports/store-comparison?currency=").await;
    // A category path that names no category is not found.
    let (s, e) = app.get("/api/best-prices/%0F%2A%F0%9F%BA%A9").await;
    assert_eq!((s, error_code(&e)), (StatusCode::NOT_FOUND, "not_found"), "{e}");
    let (s, _) = app.get("/api/reports/price-analysis/%2A%2A").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let cache = |path: &'static str, key: Option<&'static str>| {
        let mut r = app.client.get(format!("{}{path}", app.base));
        if let Some(k) = key {
            r = r.header("x-api-key", k);
        }
        async move {
            let r = r.send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            let vary = r.headers().get_all("vary").iter().any(|v| v == "x-api-key");
            assert!(vary, "{path}: the answer varies with the key");
            r.headers()["x-cache"].to_str().unwrap().to_string()
        }
    };
    assert_eq!(cache("/api/best-prices/electro?limit=5&page=1", None).await, "miss");
    // Another spelling of the same category, the parameters in another order: one entry.
    assert_eq!(cache("/api/best-prices/Electro/?page=1&limit=5", None).await, "hit");
    // Admins see other documents: their answers are cached apart.
    assert_eq!(cache("/api/archivos", Some(ADMIN_KEY)).await, "miss");
    assert_eq!(cache("/api/archivos", None).await, "miss");
    assert_eq!(cache("/api/archivos", None).await, "hit");
}

/// An ingest that another process ran (here: the pipeline on the catalog, as the CLI does)
/// empties the cache of every replica that shares Redis, not only the in-process ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ingest_elsewhere_reaches_every_replica_through_redis() {
    use super::api::{options, redis, serve, test_config};
    let prefix =
        format!("preciso-watch-{}-{}", std::process::id(), chrono::Utc::now().timestamp_micros());
    let (Some(ra), Some(rb)) = (redis(&prefix).await, redis(&prefix).await) else { return };
    let app = start(open_config()).await;
    let replica = |shared| {
        let uploads = preciso_http::UploadConfig {
            spool_dir: app._dir.path().join("incoming-r"),
            unarchived_dir: None,
            options: options(app._dir.path()),
        };
        preciso_http::AppState::with_shared(
            app.catalog.clone(),
            test_config(open_config()),
            uploads,
            Some(shared),
        )
    };
    let (a, b) = (replica(ra), replica(rb));
    tokio::spawn(preciso_http::watch_ingests(a.clone()));
    tokio::spawn(preciso_http::watch_ingests(b.clone()));
    let (a, _sa) = serve(a).await;
    let (b, _sb) = serve(b).await;
    let brands = |base: String| {
        let client = app.client.clone();
        async move {
            let r = client.get(format!("{base}/api/brands")).send().await.unwrap();
            let cache = r.headers()["x-cache"].to_str().unwrap().to_string();
            let body: serde_json::Value = r.json().await.unwrap();
            (cache, body["items"].as_array().unwrap().len())
        }
    };
    let (_, before) = brands(a.clone()).await;
    assert_eq!(brands(b.clone()).await, ("hit".to_string(), before));
    tokio::time::sleep(secs(3)).await; // the watchers have read the ledger once
    let file = app._dir.path().join("elsewhere.jsonl");
    std::fs::write(&file, r#"{"store":"exito","sku":"X-1","title":"Horno Haceb","brand":"Haceb","price":"$ 899.900"}"#).unwrap();
    let source = preciso_ingest::IngestSource { path: file, name: "elsewhere.jsonl".into() };
    let report = super::api::blocking(|| {
        preciso_ingest::ingest(app.catalog.as_ref(), &source, &options(app._dir.path()), &|_| {})
            .unwrap()
    });
    assert_eq!(report.counts.inserted, 1);
    let deadline = Instant::now() + secs(15);
    loop {
        let (cache, n) = brands(b.clone()).await;
        if n == before + 1 {
            assert_eq!(cache, "miss");
            break;
        }
        assert!(Instant::now() < deadline, "replica B still serves the old answer");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A Redis this test started, stopped under a replica: requests keep their speed, limits
/// and the cache work in process, `/ready` says degraded, and the metric counts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_degrades_a_replica_without_stalling_it() {
    use super::api::{options, serve, test_config};
    if std::process::Command::new("redis-server").arg("--version").output().is_err() {
        eprintln!("skipped: no redis-server binary");
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut server = std::process::Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("redis://127.0.0.1:{port}");
    let shared = preciso_http::RedisShared::connect(&url, "outage").unwrap();
    let deadline = Instant::now() + secs(10);
    while !shared.ping().await {
        assert!(Instant::now() < deadline, "redis-server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let app = start(open_config()).await;
    let config = HttpConfig { rate_limit_per_minute: 3, ..HttpConfig::default() };
    let uploads = preciso_http::UploadConfig {
        spool_dir: app._dir.path().join("incoming-o"),
        unarchived_dir: None,
        options: options(app._dir.path()),
    };
    let state = preciso_http::AppState::with_shared(
        app.catalog.clone(),
        test_config(config),
        uploads,
        Some(shared),
    );
    let (base, _stop) = serve(state).await;
    let get = |path: &'static str| {
        let r = app.client.get(format!("{base}{path}")).send();
        async move { r.await.unwrap() }
    };
    let ready: serde_json::Value = get("/ready").await.json().await.unwrap();
    assert_eq!(ready["checks"]["redis:responseTime"][0]["status"], "pass", "{ready}");
    server.kill().unwrap();
    server.wait().unwrap();
    let started = Instant::now();
    let statuses: Vec<u16> = {
        let mut out = Vec::new();
        for _ in 0..4 {
            out.push(get("/api/categories").await.status().as_u16());
        }
        out
    };
    assert!(started.elapsed() < secs(3), "4 requests took {:?} without Redis", started.elapsed());
    assert_eq!(statuses, [200, 200, 200, 429], "the in-process limiter took over");
    let r = get("/ready").await;
    assert_eq!(r.status(), StatusCode::OK, "degraded, still ready");
    let ready: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        (ready["status"].as_str(), ready["checks"]["redis:responseTime"][0]["status"].as_str()),
        (Some("warn"), Some("warn")),
        "{ready}"
    );
    let metrics = get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("preciso_redis_degraded 1"), "{metrics}");
    assert!(!metrics.contains("preciso_redis_errors_total 0\n"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_origin_cors_and_bad_path_parameters_answer_in_the_api_shape() {
    // `cors_origins = ["*"]` used to panic at start; it allows any origin, no credentials.
    let app = start(HttpConfig { cors_origins: vec!["*".into()], ..open_config() }).await;
    let r = app
        .client
        .get(format!("{}/api/brands", app.base))
        .header("origin", "https://anywhere.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["access-control-allow-origin"], "*");
    assert!(r.headers().get("access-control-allow-credentials").is_none());
    // A path parameter that is not UTF-8 once decoded: 400 in the error shape, not text.
    for path in ["/api/offers/%FF%FE", "/api/users/%C3%28", "/api/best-prices/%FF"] {
        let (s, e) = app.send(reqwest::Method::GET, path, Some(ADMIN_KEY), None).await;
        assert_eq!((s, error_code(&e)), (StatusCode::BAD_REQUEST, "bad_parameter"), "{path}: {e}");
    }
}

/// A second state over `app`'s catalog whose catalog calls have one permit
/// (`http.db_concurrency = 1`).
fn one_permit_state(app: &TestApp) -> preciso_http::AppState {
    one_permit_state_of(app, false)
}

/// The same, saying whether the catalog reads in this process (`in_process_catalog`).
fn one_permit_state_of(app: &TestApp, in_process_catalog: bool) -> preciso_http::AppState {
    use super::api::{options, test_config};
    let config = HttpConfig { db_concurrency: Some(1), in_process_catalog, ..open_config() };
    let uploads = preciso_http::UploadConfig {
        spool_dir: app._dir.path().join("incoming-one-permit"),
        unarchived_dir: None,
        options: options(app._dir.path()),
    };
    preciso_http::AppState::new(app.catalog.clone(), test_config(config), uploads)
}

/// A catalog call of `state` that holds a permit until the sender is used (or 10 s pass).
fn hold_the_permit(
    state: &preciso_http::AppState,
) -> (std::sync::mpsc::Sender<()>, tokio::task::JoinHandle<preciso_http::error::ApiResult<()>>) {
    let (release, hold) = std::sync::mpsc::channel::<()>();
    let state = state.clone();
    let holder = tokio::spawn(async move {
        state
            .db(move |_| {
                hold.recv_timeout(secs(10)).expect("released");
                Ok(())
            })
            .await
    });
    (release, holder)
}

/// A point read (`db_point`) on an in-process catalog runs within the request's own task when
/// a permit is free; with none free it waits its turn on the blocking pool like any call, and a
/// catalog on another machine (`in_process_catalog: false`) is never read on the worker. Where
/// it ran is told by the task: the blocking pool runs each call as a task of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn point_reads_run_on_the_requests_worker_when_a_permit_is_free() {
    let app = start(open_config()).await;
    let in_process = one_permit_state_of(&app, true);
    // In a task of its own: whether the read ran within it, and the stores it saw.
    let read = |state: preciso_http::AppState| {
        tokio::spawn(async move {
            let me = tokio::task::id();
            let (ran_in, stores) = state
                .db_point(|c| Ok((tokio::task::try_id(), c.stores().map(|s| s.len()).unwrap_or(0))))
                .await
                .unwrap();
            (ran_in == Some(me), stores)
        })
    };
    let (inline, stores) = read(in_process.clone()).await.unwrap();
    assert!(inline, "an in-process point read with a free permit runs in the request's task");
    assert!(stores > 0);
    let (inline, _) = read(one_permit_state(&app)).await.unwrap();
    assert!(!inline, "a catalog that is not in-process is read on the blocking pool");

    // The one permit held by a slow call: the point read waits for it, then runs on the pool.
    let (release, holder) = hold_the_permit(&in_process);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let waiting = read(in_process.clone());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!waiting.is_finished(), "no permit is free: the point read waits its turn");
    release.send(()).unwrap();
    holder.await.unwrap().unwrap();
    let (inline, _) = waiting.await.unwrap();
    assert!(!inline, "after waiting for a permit it runs as any call does");
}

/// `http.db_concurrency`: catalog calls beyond the permits wait their turn, in arrival order,
/// and run once a permit is free (SQLite's default is two per core); the readiness
/// probe and uploads (`db_unqueued`) do not wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_calls_beyond_the_permits_wait_their_turn_in_order() {
    use std::sync::{Arc, Mutex, mpsc};
    let app = start(open_config()).await;
    let state = one_permit_state(&app);
    let (release, hold) = mpsc::channel::<()>();
    let order = Arc::new(Mutex::new(Vec::new()));
    let first = {
        let (state, order) = (state.clone(), order.clone());
        tokio::spawn(async move {
            state
                .db(move |c| {
                    hold.recv_timeout(secs(10)).expect("released");
                    order.lock().unwrap().push("first");
                    Ok(c.stores().map(|s| s.len()).unwrap_or(0))
                })
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut waiting = Vec::new();
    for name in ["second", "third"] {
        let (state, order) = (state.clone(), order.clone());
        waiting.push(tokio::spawn(async move {
            state
                .db(move |_| {
                    order.lock().unwrap().push(name);
                    Ok(())
                })
                .await
        }));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(order.lock().unwrap().is_empty(), "ran beside the call holding the only permit");
    // The readiness probe and uploads take no permit: they run while every permit is held.
    let probe = tokio::time::timeout(secs(5), state.db_unqueued(|c| Ok(c.ping()?))).await;
    assert!(matches!(probe, Ok(Ok(()))), "the probe waited behind the permits: {probe:?}");
    release.send(()).unwrap();
    first.await.unwrap().unwrap();
    for w in waiting {
        w.await.unwrap().unwrap();
    }
    assert_eq!(*order.lock().unwrap(), ["first", "second", "third"]);
    // What `/metrics` reports: the two that waited, and no permit left held.
    let permits = state.db_permits.as_ref().expect("one permit");
    assert_eq!(permits.waits.load(std::sync::atomic::Ordering::Relaxed), 2);
    assert_eq!((permits.in_use(), permits.max), (0, 1));
}

/// Ranked listings take the same permits as every other catalog call (they had two threads of
/// their own beside them, where they queued apart): one waits while the only permit is held
/// and answers once it is free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranked_listings_wait_for_the_catalog_permits_too() {
    use super::api::serve;
    let app = start(open_config()).await;
    let state = one_permit_state(&app);
    let (base, _shutdown) = serve(state.clone()).await;
    let (release, holder) = hold_the_permit(&state);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let url = format!("{base}/api/ranked-offers?limit=5");
    let ranked = tokio::spawn(async move { reqwest::get(url).await.unwrap().status() });
    // The listing queues for the permit (however long the request takes to get there) ...
    let permits = state.db_permits.as_ref().expect("one permit");
    let waited = || permits.waits.load(std::sync::atomic::Ordering::Relaxed);
    let deadline = Instant::now() + secs(10);
    while waited() == 0 && Instant::now() < deadline && !ranked.is_finished() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(waited(), 1, "the ranked listing did not wait for the permit");
    // ... and stays there while the permit is held.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!ranked.is_finished(), "answered while the only permit was held");
    release.send(()).unwrap();
    holder.await.unwrap().unwrap();
    assert_eq!(tokio::time::timeout(secs(10), ranked).await.unwrap().unwrap(), StatusCode::OK);
}
