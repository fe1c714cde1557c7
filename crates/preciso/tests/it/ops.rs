//! The scheduler inside the real `preciso serve` process: a kill -9 in the middle of the ingest
//! job over the drop directory, then a restart, loses and duplicates nothing (issue #5, point 3).

use reqwest::StatusCode;
use serde_json::Value;
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
    let mut child = Command::new(BIN)
        .args(["--config", config.to_str().unwrap(), "serve"])
        .env("PRECISO_ADMIN_KEY", ADMIN_KEY)
        .env("PRECISO_LOG", "warn")
        .env_remove("PRECISO_DATA_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
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
    let r = client
        .post(format!("{url}/api/jobs/ingest/run"))
        .header("x-api-key", ADMIN_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    r.json::<Value>().await.unwrap()["run_id"].as_i64().unwrap()
}

async fn wait_for_status(client: &reqwest::Client, url: &str, run: i64, want: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v: Value =
            client.get(format!("{url}/api/runs/{run}")).send().await.unwrap().json().await.unwrap();
        if v["status"] == want {
            return v;
        }
        assert!(Instant::now() < deadline, "run {run} never became {want}: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn processed_file(inbox: &Path, name: &str) -> PathBuf {
    inbox.join(format!("processed/{}/{name}", chrono::Utc::now().format("%Y/%m/%d")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_the_ingest_job_then_a_restart_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("offers.jsonl");
    run(&[
        "gen",
        "--offers",
        "40000",
        "--stores",
        "6",
        "--seed",
        "11",
        "--out",
        file.to_str().unwrap(),
    ]);
    // The reference: the same file ingested once, undisturbed.
    let reference = dir.path().join("reference");
    run(&["--data-dir", reference.to_str().unwrap(), "ingest", file.to_str().unwrap()]);
    let expected = catalog_facts(&reference.join("preciso.sqlite"));

    let data = dir.path().join("data");
    let inbox = data.join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::copy(&file, inbox.join("offers.jsonl")).unwrap();
    let config = dir.path().join("preciso.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {data:?}\n[http]\nlisten = \"127.0.0.1:0\"\nrate_limit_per_minute = 0\n\
             [ingest]\nbatch_size = 500\n\
             [scheduler]\nheartbeat_secs = 1\nstable_secs = 0\npoll_secs = 1\n\
             [jobs.ingest]\ncron = \"\"\n[jobs.ingest-full]\ncron = \"\"\n[jobs.status]\ncron = \"\"\n"
        ),
    )
    .unwrap();
    let db = data.join("preciso.sqlite");
    let client = reqwest::Client::new();

    let (mut server, url) = serve(&config);
    let first = trigger_ingest(&client, &url).await;
    // Kill as soon as some batches have committed, long before the file is done.
    let deadline = Instant::now() + Duration::from_secs(60);
    while offers_now(&db) == 0 {
        assert!(Instant::now() < deadline, "the ingest job never committed a batch");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill().unwrap();
    server.wait().unwrap();
    let at_kill = offers_now(&db);
    assert!(
        at_kill < expected[0],
        "the kill came after the whole file landed ({at_kill} offers); the test proves nothing"
    );
    assert!(inbox.join("offers.jsonl").exists(), "a half-ingested file stays in the inbox");

    // Restart: the dead run is abandoned once its heartbeat is stale, and the next run
    // converges on exactly what one undisturbed ingest gives.
    let (mut server, url) = serve(&config);
    wait_for_status(&client, &url, first, "abandoned").await;
    let second = trigger_ingest(&client, &url).await;
    wait_for_status(&client, &url, second, "succeeded").await;
    assert_eq!(catalog_facts(&db), expected, "offers, products, history and best prices");
    assert!(!inbox.join("offers.jsonl").exists());
    assert!(processed_file(&inbox, "offers.jsonl").exists());
    let running: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT count(*) FROM ingest_files WHERE status = 'running'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(running, 0, "the killed run's ledger row is superseded, not left running");
    server.kill().unwrap();
    server.wait().unwrap();
}
