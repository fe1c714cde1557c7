//! The scheduler inside the real `preciso serve` process: a kill -9 or a SIGTERM in the middle
//! of the ingest job over the drop directory, then a restart, loses and duplicates nothing
//! (issue #5, point 3; docs/OPERATIONS.md O13, O14); jobs, runs, metrics and the status document
//! seen from outside (docs/OPERATIONS.md O10, O11, O24, O28).

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_preciso");
const ADMIN_KEY: &str = "ops-test-admin-key-0123456789";

fn run(args: &[&str]) {
    let out = Command::new(BIN).args(args).env_remove("PRECISO_CONFIG").output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Starts `preciso serve` with `config`; returns the process and its base URL.
fn serve(config: &Path) -> (Child, String) {
    serve_logging(config, "warn")
}

fn serve_logging(config: &Path, level: &str) -> (Child, String) {
    spawn_server(config, level, &[], Stdio::null())
}

/// `preciso serve` with `config`, the log filter, extra environment and where stderr goes;
/// returns the process and the base URL it printed.
fn spawn_server(
    config: &Path,
    level: &str,
    env: &[(&str, &str)],
    stderr: Stdio,
) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["--config", config.to_str().unwrap(), "serve"])
        .env("PRECISO_ADMIN_KEY", ADMIN_KEY)
        .env("PRECISO_LOG", level)
        .env_remove("PRECISO_DATA_DIR")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let url = line.split_whitespace().find(|w| w.starts_with("http://")).expect(&line).to_string();
    (child, url)
}

/// What must be identical whether the ingest ran once or was killed and run again.
fn catalog_facts(db: &Path) -> Vec<i64> {
    let c = rusqlite::Connection::open(db).unwrap();
    [
        "SELECT count(*) FROM offers",
        "SELECT count(*) FROM products",
        "SELECT count(*) FROM price_history",
        "SELECT coalesce(sum(price_minor), 0) FROM offers",
        "SELECT count(*) FROM product_best",
        "SELECT coalesce(sum(offers), 0) FROM product_best",
    ]
    .iter()
    .map(|q| c.query_row(q, [], |r| r.get(0)).unwrap())
    .collect()
}

fn offers_now(db: &Path) -> i64 {
    let Ok(c) = rusqlite::Connection::open(db) else { return 0 };
    c.query_row("SELECT count(*) FROM offers", [], |r| r.get(0)).unwrap_or(0)
}

async fn trigger_ingest(client: &reqwest::Client, url: &str) -> i64 {
    trigger(client, url, "ingest").await
}

/// A manual run of `job` through the API (admin key); its run id.
async fn trigger(client: &reqwest::Client, url: &str, job: &str) -> i64 {
    let r = client
        .post(format!("{url}/api/jobs/{job}/run"))
        .header("x-api-key", ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    r.json::<Value>().await.unwrap()["run_id"].as_i64().unwrap()
}

async fn wait_for_status(client: &reqwest::Client, url: &str, run: i64, want: &[&str]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v: Value =
            client.get(format!("{url}/api/runs/{run}")).send().await.unwrap().json().await.unwrap();
        if want.iter().any(|w| v["status"] == *w) {
            return v;
        }
        assert!(Instant::now() < deadline, "run {run} never became {want:?}: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A data dir whose inbox holds `file`, and a config running every job only on demand.
fn setup(dir: &Path, file: &Path, extra: &str) -> (PathBuf, PathBuf) {
    let data = dir.join("data");
    let inbox = data.join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::copy(file, inbox.join(file.file_name().unwrap())).unwrap();
    let config = dir.join("preciso.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {data:?}\n[http]\nlisten = \"127.0.0.1:0\"\nrate_limit_per_minute = 0\n\
             shutdown_grace_secs = 1\n[ingest]\nbatch_size = 500\n\
             [scheduler]\nheartbeat_secs = 1\nstable_secs = 0\npoll_secs = 1\n\
             [jobs.ingest]\ncron = \"\"\n[jobs.ingest-full]\ncron = \"\"\n\
             [jobs.backup]\ncron = \"\"\n[jobs.backup-verify]\ncron = \"\"\n{extra}"
        ),
    )
    .unwrap();
    (data, config)
}

fn generate(dir: &Path, offers: &str) -> PathBuf {
    let file = dir.join("offers.jsonl");
    run(&[
        "gen",
        "--offers",
        offers,
        "--stores",
        "6",
        "--seed",
        "11",
        "--out",
        file.to_str().unwrap(),
    ]);
    file
}

fn processed_file(inbox: &Path, name: &str) -> PathBuf {
    inbox.join(format!("processed/{}/{name}", chrono::Utc::now().format("%Y/%m/%d")))
}

/// Interrupts the ingest job of a file of `offers` with `signal` once some batches committed,
/// restarts, and checks the catalog converges on what one undisturbed ingest of the file gives.
async fn interrupted_ingest_converges(signal: &str, offers: &str, interrupted: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let file = generate(dir.path(), offers);
    // The reference: the same file ingested once, undisturbed.
    let reference = dir.path().join("reference");
    run(&["--data-dir", reference.to_str().unwrap(), "ingest", file.to_str().unwrap()]);
    let expected = catalog_facts(&reference.join("preciso.sqlite"));
    let (data, config) = setup(dir.path(), &file, "[jobs.status]\ncron = \"\"\n");
    let inbox = data.join("inbox");
    let db = data.join("preciso.sqlite");
    let client = reqwest::Client::new();

    let (mut server, url) = serve(&config);
    let first = trigger_ingest(&client, &url).await;
    // Interrupt as soon as some batches have committed, long before the file is done.
    let deadline = Instant::now() + Duration::from_secs(60);
    while offers_now(&db) == 0 {
        assert!(Instant::now() < deadline, "the ingest job never committed a batch");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let sent =
        Command::new("kill").args([&format!("-{signal}"), &server.id().to_string()]).status();
    assert!(sent.unwrap().success());
    let exit = tokio::task::spawn_blocking(move || server.wait().unwrap()).await.unwrap();
    if signal == "TERM" {
        assert!(exit.success(), "a SIGTERM ends the server cleanly: {exit:?}");
    }
    let at_stop = offers_now(&db);
    assert!(
        at_stop < expected[0],
        "the stop came after the whole file landed ({at_stop} offers); the test proves nothing"
    );
    assert!(inbox.join("offers.jsonl").exists(), "a half-ingested file stays in the inbox");

    // Restart: the interrupted run ends up abandoned or cancelled, never running forever, and
    // the next run converges on exactly what one undisturbed ingest gives.
    let (mut server, url) = serve(&config);
    wait_for_status(&client, &url, first, interrupted).await;
    let second = trigger_ingest(&client, &url).await;
    wait_for_status(&client, &url, second, &["succeeded"]).await;
    assert_eq!(catalog_facts(&db), expected, "offers, products, history and best prices");
    assert!(!inbox.join("offers.jsonl").exists());
    assert!(processed_file(&inbox, "offers.jsonl").exists());
    let running: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT count(*) FROM ingest_files WHERE status = 'running'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(running, 0, "the interrupted run's ledger row is superseded, not left running");
    server.kill().unwrap();
    server.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_the_ingest_job_then_a_restart_loses_and_duplicates_nothing() {
    interrupted_ingest_converges("KILL", "40000", &["abandoned"]).await;
}

/// docs/OPERATIONS.md O14: SIGTERM stops new fires, gives the running job `shutdown_grace_secs`,
/// and exits; the run is then cancelled or, if the grace ran out, abandoned on the next start.
/// The file must outlast that grace: the job goes on during it, and 40,000 offers (2.4 s in a
/// debug build) often landed whole before the process exited, half the runs on a fast host.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_the_ingest_job_exits_cleanly_and_the_restart_converges() {
    interrupted_ingest_converges("TERM", "120000", &["cancelled", "abandoned", "failed"]).await;
}

/// An upload through the API is archived like a dropped file: its ledger row gets the key,
/// the object is in the archive, and the reconciliation finds nothing missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_archived_like_dropped_files() {
    let dir = tempfile::tempdir().unwrap();
    let file = generate(dir.path(), "30");
    let (data, config) = setup(dir.path(), &file, "");
    let client = reqwest::Client::new();
    let (mut server, url) = serve(&config);
    let body = std::fs::read(&file).unwrap();
    let r = client
        .post(format!("{url}/api/archivos?name=subida.jsonl"))
        .header("x-api-key", ADMIN_KEY)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let ledger: Value = client
        .get(format!("{url}/api/archivos"))
        .header("x-api-key", ADMIN_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = ledger["items"][0]["archive_key"].as_str().expect("archived").to_string();
    assert!(data.join("archive").join(&key).is_file(), "{key}");
    let verify = trigger(&client, &url, "archive-verify").await;
    wait_for_status(&client, &url, verify, &["succeeded"]).await;
    let metrics = client.get(format!("{url}/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("preciso_archive_missing_objects 0"), "{metrics}");
    server.kill().unwrap();
}

/// Operational detail — paths in the status document, error texts of runs, the ledger's file
/// paths — is shown to admin keys only; everyone else gets the same documents redacted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operational_detail_is_shown_to_admin_keys_only() {
    let dir = tempfile::tempdir().unwrap();
    let file = generate(dir.path(), "20");
    let not_a_dir = dir.path().join("not-a-directory");
    std::fs::write(&not_a_dir, "x").unwrap();
    let (data, config) = setup(dir.path(), &file, &format!("[backup]\ndir = {not_a_dir:?}\n"));
    let text = std::fs::read_to_string(&config).unwrap();
    let once = "[jobs.backup]\ncron = \"\"\nattempts = 1\n";
    std::fs::write(&config, text.replace("[jobs.backup]\ncron = \"\"\n", once)).unwrap();
    let client = reqwest::Client::new();
    let (mut server, url) = serve(&config);
    let get = |path: String, admin: bool| {
        let mut req = client.get(format!("{url}{path}"));
        if admin {
            req = req.header("x-api-key", ADMIN_KEY);
        }
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    // The ingest job archives the inbox's file: its ledger row gets an archive key.
    let ingest = trigger_ingest(&client, &url).await;
    wait_for_status(&client, &url, ingest, &["succeeded"]).await;
    let run_id = trigger(&client, &url, "backup").await;
    wait_for_status(&client, &url, run_id, &["failed"]).await;
    let admin_run = get(format!("/api/runs/{run_id}"), true).await;
    let error = admin_run["error"].as_str().unwrap_or_default();
    assert!(error.contains("not-a-directory"), "{admin_run}");
    for view in [
        get(format!("/api/runs/{run_id}"), false).await,
        get("/api/runs".into(), false).await["items"][0].clone(),
    ] {
        assert_eq!(view["status"], "failed");
        assert_eq!(view["error"], Value::Null, "{view}");
        assert!(!view.to_string().contains("not-a-directory"), "{view}");
    }
    let status = get("/api/status".into(), false).await;
    assert_eq!(status["disk"]["data_dir"], Value::Null, "{status}");
    assert!(status["disk"]["free_bytes"].as_u64().is_some());
    let data_dir = data.to_str().unwrap();
    assert!(!status.to_string().contains(data_dir), "{status}");
    let status = get("/api/status".into(), true).await;
    assert_eq!(status["disk"]["data_dir"].as_str(), Some(data_dir));
    let ledger = get("/api/archivos".into(), true).await;
    assert!(ledger["items"][0]["archive_key"].is_string(), "{ledger}");
    let ledger = get("/api/archivos".into(), false).await;
    assert_eq!(ledger["items"][0]["name"], "offers.jsonl", "{ledger}");
    assert_eq!(ledger["items"][0]["archive_key"], Value::Null, "{ledger}");
    server.kill().unwrap();
}

/// Issue #19 in the real binary: `/ops` shows the scheduler's jobs and runs, without error
/// texts to anyone but an admin session; signing in with the admin key through the form shows
/// them and a run button per job, whose form (with its CSRF token) starts the job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ops_page_signs_in_and_runs_a_job() {
    use super::ui::{client, csrf, encode, set_cookie};
    let dir = tempfile::tempdir().unwrap();
    let file = generate(dir.path(), "20");
    let not_a_dir = dir.path().join("not-a-directory");
    std::fs::write(&not_a_dir, "x").unwrap();
    let (_, config) = setup(dir.path(), &file, &format!("[backup]\ndir = {not_a_dir:?}\n"));
    let text = std::fs::read_to_string(&config).unwrap();
    let once = "[jobs.backup]\ncron = \"\"\nattempts = 1\n";
    std::fs::write(&config, text.replace("[jobs.backup]\ncron = \"\"\n", once)).unwrap();
    let (mut server, url) = serve(&config);
    let api = reqwest::Client::new();
    let failed = trigger(&api, &url, "backup").await;
    wait_for_status(&api, &url, failed, &["failed"]).await;
    let browser = client();
    let get = |path: &str, cookie: &str| {
        let req = browser.get(format!("{url}{path}")).header("cookie", cookie);
        async move { req.send().await.unwrap() }
    };
    let anonymous = get("/ops", "").await.text().await.unwrap();
    assert!(anonymous.contains("backup") && anonymous.contains("ingest-full"), "{anonymous}");
    assert!(anonymous.contains(&format!("<td>{failed}</td>")), "{anonymous}");
    assert!(!anonymous.contains("not-a-directory") && !anonymous.contains("/run\""));
    // Sign in through the form.
    let form = get("/login", "").await;
    let login = set_cookie(form.headers(), "preciso_login").unwrap();
    let login = login.split(';').next().unwrap().to_string();
    let token = csrf(&form.text().await.unwrap());
    let signed = browser
        .post(format!("{url}/login"))
        .header("cookie", &login)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode(&[("key", ADMIN_KEY), ("csrf", &token), ("next", "/ops")]))
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), StatusCode::SEE_OTHER);
    let session = set_cookie(signed.headers(), "preciso_session").unwrap();
    let session = session.split(';').next().unwrap().to_string();
    let admin = get("/ops", &session).await.text().await.unwrap();
    assert!(admin.contains("not-a-directory"), "admins see the run's error: {admin}");
    assert!(admin.contains("action=\"/ops/jobs/status/run\""), "{admin}");
    let token = csrf(&admin);
    let run = browser
        .post(format!("{url}/ops/jobs/status/run"))
        .header("cookie", &session)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode(&[("csrf", &token)]))
        .send()
        .await
        .unwrap();
    assert_eq!(run.status(), StatusCode::SEE_OTHER);
    let location = run.headers()["location"].to_str().unwrap().to_string();
    let id: i64 = location.strip_prefix("/ops?run=").expect(&location).parse().unwrap();
    let done = wait_for_status(&api, &url, id, &["succeeded"]).await;
    assert_eq!(done["job"], "status");
    assert_eq!(done["trigger"], "api");
    let after = get(&location, &session).await.text().await.unwrap();
    assert!(after.contains(&format!("<td>{id}</td>")) && after.contains("Ejecución iniciada"));
    server.kill().unwrap();
}

/// docs/OPERATIONS.md O10, O11, O24, O28 from outside: a manual API trigger needs an admin key and
/// returns the run id; the run's history has its steps and counts; `/metrics` counts job runs and
/// the ingested records of scheduled jobs; the status job writes `status.json`; the CLI lists and
/// shows runs and a dry run records nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_runs_metrics_and_status_of_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let file = generate(dir.path(), "300");
    let (data, config) = setup(dir.path(), &file, "[jobs.status]\ncron = \"*/5 * * * *\"\n");
    let cfg = config.to_str().unwrap();
    let read_key = {
        let out = Command::new(BIN)
            .args(["--config", cfg, "keys", "create", "--name", "reader", "--scopes", "read"])
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        text.split_whitespace().find(|w| w.len() >= 32).expect(&text).to_string()
    };
    let client = reqwest::Client::new();
    let (mut server, url) = serve(&config);
    let post = |key: Option<&str>| {
        let mut req = client.post(format!("{url}/api/jobs/ingest/run"));
        if let Some(k) = key {
            req = req.header("x-api-key", k);
        }
        req.send()
    };
    assert_eq!(post(None).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(post(Some(&read_key)).await.unwrap().status(), StatusCode::FORBIDDEN);
    let started = post(Some(ADMIN_KEY)).await.unwrap();
    assert_eq!(started.status(), StatusCode::ACCEPTED);
    let body: Value = started.json().await.unwrap();
    assert_eq!(body["outcome"], "started");
    let run_id = body["run_id"].as_i64().unwrap();
    let run = wait_for_status(&client, &url, run_id, &["succeeded"]).await;
    assert_eq!((run["job"].as_str(), run["trigger"].as_str()), (Some("ingest"), Some("api")));
    assert_eq!(run["attempts"][0]["status"], "succeeded");
    let steps = run["steps"].as_array().unwrap();
    assert_eq!(steps[0]["name"], "pick");
    assert_eq!(steps[0]["counts"]["files"], 1);
    let ingest_step = &steps[1];
    assert_eq!(ingest_step["name"], "ingest offers.jsonl");
    // The admin view: it carries the archive key (anonymous callers get it redacted).
    let ledger: Value = client
        .get(format!("{url}/api/archivos"))
        .header("x-api-key", ADMIN_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let inserted = ledger["items"][0]["counts"]["inserted"].as_u64().unwrap();
    let rejected = ledger["items"][0]["counts"]["rejected"].as_u64().unwrap();
    assert!(inserted > 250, "{ledger}");
    assert_eq!(ingest_step["counts"]["inserted"].as_u64(), Some(inserted));

    // Jobs with their schedules: status fires every 5 minutes (3 next times); ingest is manual.
    let jobs: Value =
        client.get(format!("{url}/api/jobs")).send().await.unwrap().json().await.unwrap();
    let job = |name: &str| {
        jobs["items"].as_array().unwrap().iter().find(|j| j["name"] == name).unwrap().clone()
    };
    assert_eq!(
        (job("ingest")["enabled"].clone(), job("ingest")["overlap"].clone()),
        (json!(false), json!("forbid"))
    );
    assert_eq!(job("status")["next_runs"].as_array().map(Vec::len), Some(3), "{jobs}");

    // The status job writes the status document atomically.
    let status_run = trigger(&client, &url, "status").await;
    wait_for_status(&client, &url, status_run, &["succeeded"]).await;
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("status.json")).unwrap()).unwrap();
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["backend"], "sqlite");
    assert_eq!(doc["counts"]["offers"].as_u64(), Some(inserted));
    let api_status: Value =
        client.get(format!("{url}/api/status")).send().await.unwrap().json().await.unwrap();
    assert_eq!(api_status["counts"]["offers"].as_u64(), Some(inserted));

    // Before any backup, the series the alerts read exist at 0 (never), so an install whose
    // backups never ran can alert.
    let before = client.get(format!("{url}/metrics")).send().await.unwrap().text().await.unwrap();
    for series in [
        "preciso_backup_last_success_timestamp_seconds 0",
        "preciso_backup_last_verified_timestamp_seconds 0",
        "preciso_job_last_success_timestamp_seconds{job_name=\"backup\"} 0",
        "preciso_archive_missing_objects 0",
    ] {
        assert!(before.lines().any(|l| l == series), "{series} missing:\n{before}");
    }

    // docs/OPERATIONS.md O18, O24: the backup job, the restore drill and the archive
    // reconciliation, seen in the metrics.
    for job in ["backup", "backup-verify", "archive-verify"] {
        let run = trigger(&client, &url, job).await;
        wait_for_status(&client, &url, run, &["succeeded"]).await;
    }
    // Metrics count the job's run and the records it ingested (not only API uploads).
    let metrics = client.get(format!("{url}/metrics")).send().await.unwrap().text().await.unwrap();
    let value = |series: &str| -> f64 {
        let line =
            metrics.lines().find(|l| l.starts_with(series)).unwrap_or_else(|| panic!("{series}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert_eq!(value("preciso_job_runs_total{job_name=\"ingest\",status=\"succeeded\"}"), 1.0);
    assert_eq!(value("preciso_job_duration_seconds_count{job_name=\"ingest\"}"), 1.0);
    assert!(value("preciso_job_last_success_timestamp_seconds{job_name=\"ingest\"}") > 1.7e9);
    assert_eq!(value("preciso_ingest_offers_total{result=\"inserted\"}"), inserted as f64);
    assert_eq!(value("preciso_ingest_offers_total{result=\"rejected\"}"), rejected as f64);
    assert_eq!(value("preciso_ingest_files_total{status=\"done\"}"), 1.0);
    let now = chrono::Utc::now().timestamp() as f64;
    assert!((now - value("preciso_backup_last_success_timestamp_seconds ")).abs() < 120.0);
    assert!((now - value("preciso_backup_last_verified_timestamp_seconds ")).abs() < 120.0);
    assert_eq!(value("preciso_archive_missing_objects "), 0.0, "the job archived its file");
    assert_eq!(value("preciso_archive_orphan_objects "), 0.0);
    // The status document carries the backup and archive state.
    let api_status: Value =
        client.get(format!("{url}/api/status")).send().await.unwrap().json().await.unwrap();
    assert_eq!(api_status["backups"]["count"], 1, "{api_status}");
    assert!(api_status["backups"]["newest_verified_at"].is_string());
    assert_eq!(api_status["archive"]["missing_in_archive"], 0);
    assert_eq!(api_status["archive"]["checked"], 1);

    // The CLI sees the same history; a dry run records nothing.
    let cli = |args: &[&str]| {
        let mut all = vec!["--config", cfg];
        all.extend_from_slice(args);
        let out = Command::new(BIN).args(&all).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let listed = cli(&["runs", "list", "--job", "ingest"]);
    assert!(listed.contains(&run_id.to_string()) && listed.contains("succeeded"), "{listed}");
    let shown = cli(&["runs", "show", &run_id.to_string()]);
    assert!(shown.contains("ingest offers.jsonl") && shown.contains("pick"), "{shown}");
    // docs/OPERATIONS.md O30, O32 from the CLI: a lost object is reported (exit 1), sync restores
    // it from processed/, and verify is clean again.
    let ledger_key = ledger["items"][0]["archive_key"].as_str().expect("archived").to_string();
    std::fs::remove_file(data.join("archive").join(&ledger_key)).unwrap();
    let lost = Command::new(BIN).args(["--config", cfg, "archive", "verify"]).output().unwrap();
    assert!(!lost.status.success());
    assert!(
        String::from_utf8_lossy(&lost.stdout)
            .contains(&format!("missing_in_archive: 1\n  {ledger_key}"))
    );
    let synced = cli(&["archive", "sync"]);
    assert!(synced.contains("uploaded 1 file(s)"), "{synced}");
    assert!(cli(&["archive", "verify"]).contains("missing_in_archive: 0"));
    // docs/OPERATIONS.md O12: dry runs of the backup, ingest and cleanup jobs leave the database
    // file, the backup directory and the archive byte-identical.
    let fingerprint = || {
        let mut files: Vec<(PathBuf, Vec<u8>)> = Vec::new();
        let mut stack = vec![data.join("backups"), data.join("archive")];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    files.push((p.clone(), std::fs::read(&p).unwrap()));
                }
            }
        }
        files.push((
            data.join("preciso.sqlite"),
            std::fs::read(data.join("preciso.sqlite")).unwrap(),
        ));
        files.sort();
        files
    };
    std::fs::copy(&file, data.join("inbox").join("again.jsonl")).unwrap();
    let before = cli(&["runs", "list", "--job", "backup"]).lines().count();
    let unchanged = fingerprint();
    let dry = cli(&["jobs", "run", "backup", "--dry-run"]);
    assert!(dry.contains("write a backup into"), "{dry}");
    cli(&["jobs", "run", "ingest", "--dry-run"]);
    cli(&["jobs", "run", "cleanup", "--dry-run"]);
    assert!(fingerprint() == unchanged, "dry runs change no byte");
    let after = cli(&["runs", "list", "--job", "backup"]).lines().count();
    assert_eq!(after, before, "a dry run records no run");
    server.kill().unwrap();
    server.wait().unwrap();
}

/// docs/OPERATIONS.md O9 with real processes: a second `preciso serve` on the same SQLite file logs
/// `standby` and does not schedule; when the first dies it takes over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_one_sqlite_file_stands_by_then_takes_over() {
    let dir = tempfile::tempdir().unwrap();
    let file = generate(dir.path(), "10");
    let (_data, config) = setup(dir.path(), &file, "[jobs.status]\ncron = \"\"\n");
    let client = reqwest::Client::new();
    let leader_of = |url: String| {
        let client = client.clone();
        async move {
            let v: Value =
                client.get(format!("{url}/api/jobs")).send().await.unwrap().json().await.unwrap();
            v["leader"].as_bool().unwrap()
        }
    };
    let (mut first, first_url) = serve(&config);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !leader_of(first_url.clone()).await {
        assert!(Instant::now() < deadline, "the first server never leads");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (second, second_url) = spawn_server(&config, "info", &[], Stdio::piped());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!leader_of(second_url.clone()).await, "two schedulers on one file");
    first.kill().unwrap();
    first.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !leader_of(second_url.clone()).await {
        assert!(Instant::now() < deadline, "the standby never took over");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Command::new("kill").args(["-TERM", &second.id().to_string()]).status().unwrap();
    let out =
        tokio::task::spawn_blocking(move || second.wait_with_output().unwrap()).await.unwrap();
    let logs = String::from_utf8_lossy(&out.stderr);
    assert!(logs.contains("standby"), "the second server says it stands by: {logs}");
}

fn set_age(path: &Path, days: u64) {
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(std::time::SystemTime::now() - Duration::from_secs(days * 86_400)).unwrap();
}

/// Issue #6, retention and logs: `preciso logs --tail` reads the server's daily log file;
/// `preciso clean` removes old logs and old processed raw files only when the archive holds
/// them, `--dry-run` removes nothing, and the report counts bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_tail_and_clean_keep_what_is_not_archived() {
    let dir = tempfile::tempdir().unwrap();
    let file = generate(dir.path(), "50");
    let logs = dir.path().join("logs");
    let extra = format!("[jobs.status]\ncron = \"\"\n[log]\ndir = {logs:?}\n");
    let (data, config) = setup(dir.path(), &file, &extra);
    let cfg = config.to_str().unwrap();
    let client = reqwest::Client::new();
    let (mut server, url) = serve_logging(&config, "info");
    let run = trigger_ingest(&client, &url).await;
    wait_for_status(&client, &url, run, &["succeeded"]).await;
    Command::new("kill").args(["-TERM", &server.id().to_string()]).status().unwrap();
    tokio::task::spawn_blocking(move || server.wait().unwrap()).await.unwrap();

    let cli = |args: &[&str]| {
        let mut all = vec!["--config", cfg];
        all.extend_from_slice(args);
        let out = Command::new(BIN).args(&all).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let tail = cli(&["logs", "--tail", "2"]);
    assert_eq!(tail.lines().count(), 2, "{tail}");
    for line in tail.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        assert!(v["timestamp"].is_string() && v["message"].is_string(), "{line}");
    }

    let processed = processed_file(&data.join("inbox"), "offers.jsonl");
    set_age(&processed, 40);
    let stray = processed.with_file_name("never-archived.jsonl");
    std::fs::write(&stray, "{}\n").unwrap();
    set_age(&stray, 40);
    let old_log = logs.join("preciso.log.2026-01-01");
    std::fs::write(&old_log, "{}\n").unwrap();
    set_age(&old_log, 10);

    let dry: Value = serde_json::from_str(&cli(&["clean", "--dry-run", "--json"])).unwrap();
    assert_eq!(dry["raw_files"]["files"], json!([processed]));
    assert_eq!(dry["raw_kept_unarchived"], json!([stray]));
    assert_eq!(dry["logs"]["files"], json!([old_log]));
    assert!(processed.exists() && old_log.exists(), "a dry run removes nothing");

    let done: Value = serde_json::from_str(&cli(&["clean", "--json"])).unwrap();
    let size = done["raw_files"]["bytes"].as_u64().unwrap();
    assert_eq!(size, std::fs::metadata(&file).unwrap().len());
    assert!(!processed.exists() && !old_log.exists());
    assert!(stray.exists(), "an old raw file the archive does not hold is kept");
    assert!(!logs_in(&logs).is_empty(), "today's log file stays");
}

fn logs_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect()
}

/// docs/OPERATIONS.md O26: with an archive configured, `/ready` also checks it within its 1 s
/// budget; an unreachable S3 endpoint makes the process not ready (503), while the database check
/// passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_checks_the_archive_when_one_is_configured() {
    let dir = tempfile::tempdir().unwrap();
    let file = generate(dir.path(), "5");
    let (_data, config) = setup(dir.path(), &file, "[archive]\nurl = \"s3://unreachable\"\n");
    // Nothing listens on port 9 of loopback: connections are refused at once.
    let s3 = [
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
    ];
    let (mut child, url) = spawn_server(&config, "warn", &s3, Stdio::null());
    let started = Instant::now();
    let r = reqwest::get(format!("{url}/ready")).await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["checks"]["database:responseTime"][0]["status"], "pass", "{body}");
    assert_eq!(body["checks"]["archive:responseTime"][0]["status"], "fail", "{body}");
    assert!(started.elapsed() < Duration::from_millis(2500), "within the check budget");
    child.kill().unwrap();
    child.wait().unwrap();

    // The default local archive is ready.
    let dir = tempfile::tempdir().unwrap();
    let (_data, config) = setup(dir.path(), &file, "");
    let (mut server, url) = serve(&config);
    let body: Value = reqwest::get(format!("{url}/ready")).await.unwrap().json().await.unwrap();
    assert_eq!(body["checks"]["archive:responseTime"][0]["status"], "pass", "{body}");
    server.kill().unwrap();
    server.wait().unwrap();
}

/// Issue #18: analysis runs live in the database. On start a server marks abandoned the run a
/// dead process of this host left `running` (never `running` forever), leaves another host's
/// live run alone, and runs what was queued; after a kill -9 and a restart the succeeded
/// report is served byte for byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analysis_runs_survive_a_restart_and_dead_ones_are_abandoned() {
    use preciso_core::ports::AnalysisLog;
    use preciso_core::quality::runs::AnalysisRequest;
    let dir = tempfile::tempdir().unwrap();
    let file = generate(dir.path(), "300");
    let (data, config) = setup(dir.path(), &file, "[jobs.status]\ncron = \"\"\n");
    run(&["--config", config.to_str().unwrap(), "ingest", file.to_str().unwrap()]);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_string();
    let mut gone = Command::new("true").spawn().unwrap();
    let dead_pid = gone.id();
    gone.wait().unwrap();
    let (dead, live, queued) = {
        let catalog =
            preciso_store_sqlite::SqliteCatalog::open(&data.join("preciso.sqlite")).unwrap();
        let now = chrono::Utc::now().timestamp_millis();
        let whole = AnalysisRequest::default();
        let dead = catalog
            .begin_analysis(&whole, "api", &format!("{host}:{dead_pid}:0000abcd"), now)
            .unwrap();
        let live = catalog.begin_analysis(&whole, "api", "another-host:1:0000abcd", now).unwrap();
        let queued = catalog.queue_analyses(&[whole], "api", now).unwrap()[0];
        (dead, live, queued)
    };
    let client = reqwest::Client::new();
    let status = |url: String, id: i64| {
        let client = client.clone();
        async move {
            client
                .get(format!("{url}/api/forensic/status/{id}"))
                .header("x-api-key", ADMIN_KEY)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let (mut server, url) = serve(&config);
    let deadline = Instant::now() + Duration::from_secs(30);
    while status(url.clone(), queued).await["status"] != "succeeded" {
        assert!(Instant::now() < deadline, "the queued run never ran");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let abandoned = status(url.clone(), dead).await;
    assert_eq!(abandoned["status"], "abandoned", "{abandoned}");
    assert!(abandoned["error"].as_str().unwrap().contains("went away"), "{abandoned}");
    assert_eq!(status(url.clone(), live).await["status"], "running");
    let report = |url: String, id: i64| {
        let client = client.clone();
        async move {
            let r = client.get(format!("{url}/api/forensic/analysis/{id}")).send().await.unwrap();
            (r.status(), r.text().await.unwrap())
        }
    };
    let (code, before) = report(url.clone(), queued).await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(report(url.clone(), dead).await.0, StatusCode::CONFLICT);
    server.kill().unwrap();
    server.wait().unwrap();
    let (mut server, url) = serve(&config);
    assert_eq!(report(url.clone(), queued).await, (StatusCode::OK, before));
    assert_eq!(status(url.clone(), dead).await["status"], "abandoned");
    server.kill().unwrap();
    server.wait().unwrap();
}
