//! End-to-end tests of the real `preciso` binary: generate, ingest, re-ingest, rejects,
//! `normalize` against the public sample of the parser contract, and configuration.

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_preciso");

struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        Sandbox { dir: tempfile::tempdir().unwrap() }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs preciso with its data dir inside the sandbox and no ambient config.
    fn run(&self, args: &[&str]) -> Output {
        self.run_with_stdin(args, "")
    }

    fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        self.run_env(args, stdin, &[])
    }

    fn run_env(&self, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
        let mut child = Command::new(BIN)
            .args(args)
            .envs(env.iter().copied())
            .current_dir(self.dir.path())
            .env("PRECISO_DATA_DIR", self.path("data"))
            .env_remove("PRECISO_CONFIG")
            .env_remove("PRECISO_DATABASE_URL")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "preciso {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn ingest_json(&self, args: &[&str]) -> Value {
        let mut all = vec!["ingest", "--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.ok(&all)).unwrap()
    }
}

fn counts(v: &Value) -> [u64; 6] {
    let c = &v["total"]["counts"];
    ["read", "inserted", "updated", "unchanged", "duplicate", "rejected"]
        .map(|k| c[k].as_u64().unwrap())
}

#[test]
fn generated_data_ingests_reingests_and_converges_across_runs() {
    let sb = Sandbox::new();
    let run0 = sb.path("run0.jsonl");
    let run1 = sb.path("run1.jsonl");
    for (run, path) in [("0", &run0), ("1", &run1)] {
        sb.ok(&[
            "gen",
            "--offers",
            "3000",
            "--stores",
            "6",
            "--seed",
            "9",
            "--run",
            run,
            "--out",
            path.to_str().unwrap(),
        ]);
    }
    let first = sb.ingest_json(&[run0.to_str().unwrap()]);
    let [read, inserted, updated, unchanged, duplicate, rejected] = counts(&first);
    assert_eq!(read, 3000);
    assert_eq!(inserted + updated + unchanged + duplicate + rejected, read);
    assert!(inserted > 2500, "most generated records are new offers: {first}");
    assert!(rejected > 0 && rejected < 100, "about 1% invalid records: {first}");
    assert!(duplicate > 0, "the generator writes exact duplicates: {first}");
    let rejects = first["files"][0]["rejects_file"].as_str().unwrap();
    assert_eq!(std::fs::read_to_string(rejects).unwrap().lines().count() as u64, rejected);

    let again = sb.ingest_json(&[run0.to_str().unwrap()]);
    assert_eq!(again["files"][0]["status"], "skipped");

    let second = sb.ingest_json(&[run1.to_str().unwrap()]);
    let [read1, inserted1, updated1, unchanged1, _, _] = counts(&second);
    assert_eq!(read1, 3000);
    assert_eq!(inserted1, 0, "run 1 is the same catalog: {second}");
    assert!(updated1 > 50 && updated1 < 400, "about 5% price changes: {second}");
    assert!(unchanged1 > 2000, "{second}");

    let forced = sb.ingest_json(&["--force", run1.to_str().unwrap()]);
    let [_, ins, upd, _, _, _] = counts(&forced);
    assert_eq!((ins, upd), (0, 0), "re-running the same input changes nothing: {forced}");
}

#[test]
fn human_summary_names_counts_and_rejects_file() {
    let sb = Sandbox::new();
    std::fs::write(
        sb.path("bad.csv"),
        "tienda,nombre,precio,moneda\nexito,Olla,\"$ 45.900\",COP\nexito,Sartén,Consultar precio,COP\n",
    )
    .unwrap();
    let out = sb.ok(&["ingest", "bad.csv"]);
    assert!(
        out.contains("read 2 · inserted 1 · updated 0 · unchanged 0 · duplicate 0 · rejected 1"),
        "{out}"
    );
    assert!(out.contains("rejects: "), "{out}");
    assert!(out.contains("line 3: price"), "{out}");
}

#[test]
fn stdin_and_directories_are_ingested() {
    let sb = Sandbox::new();
    std::fs::create_dir_all(sb.path("drop/sub")).unwrap();
    std::fs::write(
        sb.path("drop/a.jsonl"),
        "{\"store\":\"exito\",\"title\":\"A\",\"price\":\"$ 1.000\",\"currency\":\"COP\"}\n",
    )
    .unwrap();
    std::fs::write(sb.path("drop/sub/b.csv"), "store,title,price,currency\njumbo,B,$ 990,CLP\n")
        .unwrap();
    std::fs::write(sb.path("drop/notes.txt"), "ignored").unwrap();
    let v = sb.ingest_json(&["drop"]);
    assert_eq!(v["files"].as_array().unwrap().len(), 2);
    assert_eq!(counts(&v)[1], 2);
    let out = sb.run_with_stdin(
        &["ingest", "--json", "--store", "exito", "--currency", "COP", "-"],
        "{\"title\":\"C\",\"price\":\"$ 2.000\"}\n",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["files"][0]["file"].as_str(), counts(&v)[1]), (Some("stdin"), 1));
}

/// The public sample of docs/NORMALIZATION.md through the real CLI, exactly as the held-out set is
/// run.
#[test]
fn normalize_command_meets_the_public_price_and_rating_samples() {
    let sb = Sandbox::new();
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata");
    let prices = std::fs::read_to_string(samples.join("prices-sample.tsv"))
        .expect("testdata/ holds the samples");
    let rows: Vec<Vec<&str>> = prices
        .lines()
        .filter(|l| !l.starts_with('#'))
        .skip(1)
        .map(|l| l.split('\t').collect())
        .collect();
    assert!(rows.len() > 20);
    for row in rows {
        let (input, currency, minor, cur) = (row[0], row[1], row[2], row[3]);
        let out = sb.run_with_stdin(
            &["normalize", "--currency", currency],
            &format!("{{\"price\": {input}}}\n"),
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        if minor == "ERROR" {
            assert!(v["price_minor"].is_null(), "{input} should be an error: {v}");
            assert_eq!(v["errors"][0]["field"], "price", "{input}: {v}");
        } else {
            assert_eq!(v["price_minor"].as_i64(), Some(minor.parse().unwrap()), "{input}: {v}");
            assert_eq!(v["price_currency"], cur, "{input}: {v}");
        }
    }
    let ratings = std::fs::read_to_string(samples.join("ratings-sample.tsv")).unwrap();
    let lines: Vec<&str> = ratings.lines().filter(|l| !l.starts_with('#')).skip(1).collect();
    let input: String = lines
        .iter()
        .map(|l| format!("{{\"rating\": {}}}\n", l.split('\t').next().unwrap()))
        .collect();
    let out = sb.run_with_stdin(&["normalize", "--currency", "COP"], &format!("{input}not json\n"));
    let outputs: Vec<Value> = out
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(outputs.len(), lines.len() + 1, "one output line per input line, in order");
    for (line, v) in lines.iter().zip(&outputs) {
        let expected = line.split('\t').nth(1).unwrap();
        if expected == "ERROR" {
            assert!(v["rating"].is_null(), "{line}: {v}");
        } else {
            assert_eq!(v["rating"].as_f64(), Some(expected.parse().unwrap()), "{line}: {v}");
        }
    }
    assert_eq!(outputs.last().unwrap()["errors"][0]["code"], "invalid_json");
}

#[test]
fn config_example_is_valid_and_layers_apply() {
    let sb = Sandbox::new();
    let example = sb.ok(&["config", "example"]);
    std::fs::write(sb.path("preciso.toml"), &example).unwrap();
    let shown = sb.ok(&["config", "show"]);
    assert!(shown.contains("[stores.exito]"), "./preciso.toml is read: {shown}");
    // The environment beats the file; the flag beats the environment.
    assert!(shown.contains(&format!("data_dir = \"{}\"", sb.path("data").display())), "{shown}");
    let flagged = sb.ok(&["--data-dir", "elsewhere", "config", "show"]);
    assert!(flagged.contains("data_dir = \"elsewhere\""), "{flagged}");
    std::fs::write(sb.path("bad.toml"), "[ingest]\nbatch_size = 0\n").unwrap();
    let out = sb.run(&["--config", "bad.toml", "config", "show"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("ingest.batch_size"));
}

#[test]
fn every_setting_is_an_environment_variable() {
    let sb = Sandbox::new();
    let env = [
        ("PRECISO_HTTP__RATE_LIMIT_PER_MINUTE", "0"),
        ("PRECISO_JOBS__BACKUP__CRON", "0 3 * * *"),
        ("PRECISO_HTTP__NO_SUCH_KEY", "1"),
    ];
    let out = sb.run_env(&["config", "show"], "", &env);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("rate_limit_per_minute = 0"), "{shown}");
    assert!(shown.contains("[jobs.backup]") && shown.contains("cron = \"0 3 * * *\""), "{shown}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("PRECISO_HTTP__NO_SUCH_KEY") && stderr.contains("ignored"), "{stderr}");
    let bad = sb.run_env(&["config", "show"], "", &[("PRECISO_HTTP__MAX_CONNECTIONS", "many")]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("PRECISO_HTTP__MAX_CONNECTIONS"));
    let help = sb.ok(&["--help"]);
    assert!(help.contains("PRECISO_DATA_DIR") && help.contains("PRECISO_CONFIG"), "{help}");
}

#[test]
fn unsupported_database_urls_fail_clearly_without_echoing_secrets() {
    let sb = Sandbox::new();
    let out = sb.run(&["--database-url", "mysql://user:hunter2@host/db", "migrate"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unsupported database URL scheme \"mysql\""), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn demo_builds_a_catalog_from_nothing() {
    let sb = Sandbox::new();
    let out = sb.ok(&["demo", "--offers", "2000", "--stores", "4", "--no-serve"]);
    assert!(out.contains("run 0 again"), "{out}");
    assert!(out.contains("skipped"), "{out}");
    assert!(out.contains("== catalog"), "{out}");
    assert!(sb.path("data/preciso.sqlite").exists());
}

#[test]
fn keys_are_shown_once_listed_without_secret_and_revoked() {
    let sb = Sandbox::new();
    let out = sb.ok(&["keys", "create", "--name", "ci", "--scopes", "read,write"]);
    let key =
        out.lines().find(|l| l.starts_with("pk_")).expect("the key is printed once").to_string();
    assert_eq!(key.len(), 51);
    let list = sb.ok(&["keys", "list"]);
    assert!(
        list.contains("ci") && list.contains("read,write") && list.contains("active"),
        "{list}"
    );
    assert!(!list.contains(&key), "the secret is never listed");
    let db = std::fs::read(sb.path("data/preciso.sqlite")).unwrap();
    assert!(!db.windows(key.len()).any(|w| w == key.as_bytes()), "only the hash is stored");
    sb.ok(&["keys", "revoke", "1"]);
    assert!(sb.ok(&["keys", "list"]).contains("revoked"));
    assert!(!sb.run(&["keys", "create", "--name", "x", "--scopes", "root"]).status.success());
}

#[test]
fn openapi_command_prints_the_document() {
    let doc: Value = serde_json::from_str(&Sandbox::new().ok(&["openapi"])).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/best-prices/{category}"]["get"]["responses"]["200"].is_object());
}

/// docs/OPERATIONS.md O1: `jobs list` shows each job's next three fire times in its zone and in
/// UTC; a 6-field cron without the seconds flag is refused with the job named.
#[test]
fn jobs_list_shows_three_fire_times_local_and_utc_and_refuses_six_fields() {
    let sb = Sandbox::new();
    // The default schedules (docs/OPERATIONS.md, "Scheduler"), in the default zone.
    let defaults = sb.ok(&["jobs", "list"]);
    for (job, cron) in
        [("ingest", "0 4-22/2 * * 1-6"), ("ingest-full", "0 4 * * *"), ("status", "*/5 * * * *")]
    {
        let line = defaults.lines().find(|l| l.split_whitespace().next() == Some(job)).unwrap();
        assert!(line.contains(cron) && line.contains("America/Bogota"), "{line}");
    }
    let config = sb.path("preciso.toml");
    std::fs::write(&config, "[jobs.ingest]\ncron = \"30 9 * * *\"\ntimezone = \"Asia/Tokyo\"\n")
        .unwrap();
    let out = sb.ok(&["--config", config.to_str().unwrap(), "jobs", "list"]);
    let section: Vec<&str> =
        out.lines().skip_while(|l| !l.starts_with("ingest ")).skip(1).take(3).collect();
    assert_eq!(section.len(), 3, "{out}");
    for line in section {
        // Tokyo has no DST: 09:30 local is 00:30 UTC every day.
        assert!(line.contains("09:30:00 JST") && line.contains("00:30:00 UTC"), "{line}");
    }
    std::fs::write(&config, "[jobs.ingest]\ncron = \"0 30 9 * * *\"\n").unwrap();
    let refused = sb.run(&["--config", config.to_str().unwrap(), "jobs", "list"]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("ingest") && err.contains("seconds"), "{err}");
}

/// docs/OPERATIONS.md O19 from the command line: an empty keep policy deletes nothing;
/// `backup prune --dry-run` lists what a policy drops and deletes nothing; `backup prune` deletes
/// exactly that.
#[test]
fn backup_prune_follows_the_policy_and_dry_run_deletes_nothing() {
    let sb = Sandbox::new();
    let keep_all = sb.path("all.toml");
    std::fs::write(&keep_all, "[backup.keep]\nlast = 0\ndaily = 0\nweekly = 0\nmonthly = 0\n")
        .unwrap();
    let keep_one = sb.path("one.toml");
    std::fs::write(&keep_one, "[backup.keep]\nlast = 1\ndaily = 0\nweekly = 0\nmonthly = 0\n")
        .unwrap();
    let with = |config: &std::path::Path, args: &[&str]| {
        let mut all = vec!["--config", config.to_str().unwrap()];
        all.extend_from_slice(args);
        sb.ok(&all)
    };
    for _ in 0..3 {
        with(&keep_all, &["backup", "create"]);
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let count = || std::fs::read_dir(sb.path("data/backups")).unwrap().count();
    assert_eq!(count(), 3, "an empty policy keeps every backup");
    let dry = with(&keep_one, &["backup", "prune", "--dry-run"]);
    assert!(dry.contains("would delete 2 backup(s)"), "{dry}");
    assert_eq!(count(), 3);
    let done = with(&keep_one, &["backup", "prune"]);
    assert!(done.contains("deleted 2 backup(s)"), "{done}");
    assert_eq!(count(), 1);
}

/// A store written by its slug in some records and by its name in others: without
/// configuration it splits in two; `preciso stores` shows the names seen for each;
/// `preciso stores merge` joins them, and the same file re-ingested lands unchanged.
#[test]
fn a_split_store_is_listed_with_its_names_and_merged() {
    let sb = Sandbox::new();
    let file = sb.path("offers.jsonl");
    sb.ok(&[
        "gen",
        "--offers",
        "600",
        "--stores",
        "3",
        "--seed",
        "5",
        "--out",
        file.to_str().unwrap(),
    ]);
    let first = sb.ingest_json(&[file.to_str().unwrap()]);
    let stores =
        |sb: &Sandbox| -> Value { serde_json::from_str(&sb.ok(&["stores", "--json"])).unwrap() };
    let listed = stores(&sb);
    let ids: Vec<&str> =
        listed.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"falabella-co") && ids.contains(&"falabella-colombia"), "{ids:?}");
    let split =
        listed.as_array().unwrap().iter().find(|s| s["id"] == "falabella-colombia").unwrap();
    assert_eq!(split["names_seen"][0]["name"], "Falabella Colombia", "{split}");
    let text = sb.ok(&["stores"]);
    assert!(text.contains("\"Falabella Colombia\""), "{text}");

    let merged: Value = serde_json::from_str(&sb.ok(&[
        "stores",
        "merge",
        "Falabella Colombia",
        "falabella-co",
        "--json",
    ]))
    .unwrap();
    assert!(merged["moved"].as_u64().unwrap() > 0, "{merged}");
    let after = stores(&sb);
    let ids: Vec<&str> =
        after.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert!(!ids.contains(&"falabella-colombia"), "{ids:?}");
    let offers = |v: &Value| -> u64 {
        v.as_array().unwrap().iter().map(|s| s["offers"].as_u64().unwrap()).sum()
    };
    assert_eq!(offers(&after), offers(&listed), "no offer lost (none was held twice)");
    let again = sb.ingest_json(&["--force", file.to_str().unwrap()]);
    let [read, inserted, updated, unchanged, duplicate, _] = counts(&again);
    assert_eq!((inserted, updated), (0, 0), "{again}");
    assert_eq!(unchanged + duplicate, read - counts(&first)[5], "{again}");
    let missing = sb.run(&["stores", "merge", "nope", "falabella-co"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no store nope"));
}

/// The demo configures the stores it generates: its catalog has exactly those stores, though
/// ~30% of its records name a store by its name.
#[test]
fn the_demo_catalog_has_exactly_the_generated_stores() {
    let sb = Sandbox::new();
    sb.ok(&["demo", "--no-serve", "--offers", "800", "--stores", "8"]);
    let listed: Value = serde_json::from_str(&sb.ok(&["stores", "--json"])).unwrap();
    let mut ids: Vec<&str> =
        listed.as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    ids.sort();
    let mut want = vec![
        "exito",
        "falabella-co",
        "alkosto",
        "mercadolibre-mx",
        "liverpool",
        "coppel",
        "jumbo-cl",
        "paris",
    ];
    want.sort();
    assert_eq!(ids, want);
    let jumbo = listed.as_array().unwrap().iter().find(|s| s["id"] == "jumbo-cl").unwrap();
    let names: Vec<&str> = jumbo["names_seen"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"Jumbo Chile") && names.contains(&"jumbo-cl"), "{names:?}");
}

/// Retention covers rejects files (raw records) and upload spool files a crash left behind.
#[test]
fn clean_removes_old_rejects_and_stale_spool_files() {
    let sb = Sandbox::new();
    let rejects = sb.path("data/rejects");
    let spool = sb.path("data/incoming");
    std::fs::create_dir_all(&rejects).unwrap();
    std::fs::create_dir_all(&spool).unwrap();
    let old = rejects.join("old.3.rejects.jsonl");
    let fresh = rejects.join("fresh.4.rejects.jsonl");
    let stale = spool.join("20260101T000000-1-0-upload.jsonl");
    for f in [&old, &fresh, &stale] {
        std::fs::write(f, "{}\n").unwrap();
    }
    for (f, age) in [(&old, "40 days ago"), (&stale, "2 days ago")] {
        let touched = Command::new("touch").args(["-d", age]).arg(f).status().unwrap();
        assert!(touched.success());
    }
    let report: Value = serde_json::from_str(&sb.ok(&["clean", "--json"])).unwrap();
    assert_eq!(report["rejects"]["files"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(report["spool"]["files"].as_array().unwrap().len(), 1, "{report}");
    assert!(!old.exists() && !stale.exists());
    assert!(fresh.exists(), "a recent rejects file stays");
}

/// A small tmpfs mounted for one test, unmounted when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    /// `None` (the test is skipped) where mounting is not allowed.
    fn mount(at: &Path, size: &str) -> Option<SmallDisk> {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped: cannot mount a tmpfs here (the full-disk test needs root)");
        }
        ok.then(|| SmallDisk(at.to_path_buf()))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// An initial load that fills the disk fails cleanly but leaves its ledger row `running` and
/// its deferred indexes unbuilt; `preciso status` still answers (it opens the catalog
/// read-only: a normal open would build the indexes, and fail) and says the disk is full.
#[test]
fn status_answers_on_a_full_disk_and_names_it() {
    let sb = Sandbox::new();
    let file = sb.path("offers.jsonl");
    sb.ok(&["gen", "--offers", "120000", "--stores", "4", "--out", file.to_str().unwrap()]);
    let Some(_disk) = SmallDisk::mount(&sb.path("data"), "10M") else { return };
    let out = sb.run(&["ingest", "--batch-size", "2000", file.to_str().unwrap()]);
    assert!(!out.status.success(), "the ingest cannot fit in 10 MB");
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("full") || said.contains("No space left"), "{said}");
    let status = sb.run(&["status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{text}{}", String::from_utf8_lossy(&status.stderr));
    assert!(text.contains("file system is full"), "{text}");
    let json = sb.run(&["status", "--json"]);
    assert!(json.status.success(), "{}", String::from_utf8_lossy(&json.stderr));
    let doc: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert!(doc["counts"]["offers"].as_u64().unwrap() > 0, "whole batches landed: {doc}");
    assert_eq!(doc["last_ingest"]["status"], "running", "{doc}");
    let listed = sb.run(&["stores"]);
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
}

/// One scrape of a small catalog on `day` (days after 2026-01-01): offer A at `a_price`
/// (claiming `a_list` when given) and nine steady offers of the same category priced 60–140
/// (a spread in which A's prices are ordinary, not outliers).
fn scrape(day: u32, a_price: &str, a_list: Option<&str>) -> String {
    let at = (chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
        + chrono::Duration::days(i64::from(day)))
    .format("%Y-%m-%d 08:00:00");
    let mut lines = Vec::new();
    let list = a_list.map(|l| format!(r#","list_price":"{l}""#)).unwrap_or_default();
    lines.push(format!(
        r#"{{"store":"Éxito","sku":"A","title":"Olla Imusa 24","brand":"Imusa","category":"Hogar > Cocina","price":"{a_price}"{list},"currency":"COP","url":"https://exito.example/p/A","scraped_at":"{at}"}}"#
    ));
    for i in 0..9 {
        lines.push(format!(
            r#"{{"store":"Éxito","sku":"S{i}","title":"Sartén {i}","brand":"Imusa","category":"Hogar > Cocina","price":"{}","currency":"COP","url":"https://exito.example/p/S{i}","scraped_at":"{at}"}}"#,
            60 + 10 * i
        ));
    }
    lines.join("\n") + "\n"
}

/// issue #18: `preciso analyze` reads the catalog on the embedded default, reports each check
/// and store score, and exits 4 on a failing check — here a fake discount (30 days at 100, 5
/// at 130, then 110 claiming 130) — and 0 when the same shape of history is an honest
/// reduction (100 for 35 days, then 80 claiming 100).
#[test]
fn analyze_finds_a_fake_discount_and_gates_on_it() {
    let run = |history: &[(u32, &str, Option<&str>)]| {
        let sb = Sandbox::new();
        for (day, price, list) in history {
            let path = sb.path(&format!("day{day}.jsonl"));
            std::fs::write(&path, scrape(*day, price, *list)).unwrap();
            sb.ok(&["ingest", path.to_str().unwrap()]);
        }
        let out = sb.run(&["analyze", "--as-of", "2026-02-06"]);
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        let csv = String::from_utf8(
            sb.run(&["analyze", "--as-of", "2026-02-06", "--format", "csv"]).stdout,
        )
        .unwrap();
        (out.status.code(), report, csv)
    };
    let check = |r: &Value, id: &str| -> Value {
        r["checks"].as_array().unwrap().iter().find(|c| c["id"] == id).cloned().unwrap()
    };
    let (code, report, csv) = run(&[(0, "100", None), (30, "130", None), (35, "110", Some("130"))]);
    let fake = check(&report, "P.fake_discount");
    assert_eq!(code, Some(4), "{report:#}");
    assert_eq!(
        (fake["outcome"].as_str(), fake["unexpected_count"].as_u64()),
        (Some("fail"), Some(1))
    );
    let example = &fake["examples"][0];
    assert_eq!((example["store"].as_str(), example["sku"].as_str()), (Some("exito"), Some("A")));
    // Amounts in minor units, as everywhere in the API (COP has two decimals).
    assert_eq!(example["values"]["lowest_30_days"], 10_000);
    assert_eq!(example["values"]["claimed_list_price"], 13_000);
    assert!(report["stores"][0]["score"].as_f64().unwrap() < 100.0);
    assert!(csv.lines().any(|l| l.starts_with("P.fake_discount,fail,critical,exito,A,")), "{csv}");
    let page = sb_page(&[(0, "100", None), (30, "130", None), (35, "110", Some("130"))]);
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains("P.fake_discount"), "{page}");

    let (code, report, _) = run(&[(0, "100", None), (35, "80", Some("100"))]);
    let fake = check(&report, "P.fake_discount");
    assert_eq!((fake["outcome"].as_str(), fake["element_count"].as_u64()), (Some("pass"), Some(1)));
    assert_eq!(code, Some(0), "{report:#}");
}

/// `preciso analyze --format html --output PATH` over a catalog of these scrapes.
fn sb_page(history: &[(u32, &str, Option<&str>)]) -> String {
    let sb = Sandbox::new();
    for (day, price, list) in history {
        let path = sb.path(&format!("day{day}.jsonl"));
        std::fs::write(&path, scrape(*day, price, *list)).unwrap();
        sb.ok(&["ingest", path.to_str().unwrap()]);
    }
    let page = sb.path("report.html");
    let out = sb.run(&["analyze", "--format", "html", "--output", page.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::read_to_string(page).unwrap()
}

/// An unknown check id, or a key its check does not take, stops the command with the
/// config file and line.
#[test]
fn analyze_settings_name_the_file_and_line_of_a_bad_check() {
    let sb = Sandbox::new();
    let config = sb.path("preciso.toml");
    std::fs::write(
        &config,
        "data_dir = \"data\"\n\n[quality.checks.\"P.outlyer\"]\nthreshold = 4\n",
    )
    .unwrap();
    let out = sb.run(&["--config", config.to_str().unwrap(), "analyze"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("preciso.toml:3: quality.checks.P.outlyer: no such check"), "{err}");
    std::fs::write(&config, "[quality.checks.\"V.url\"]\nmostly = 0.9\nthreshold = 2\n").unwrap();
    let err =
        String::from_utf8_lossy(&sb.run(&["--config", config.to_str().unwrap(), "analyze"]).stderr)
            .to_string();
    assert!(err.contains("preciso.toml:3: quality.checks.V.url.threshold"), "{err}");
    std::fs::write(&config, "[quality.checks.\"V.url\"]\nmostli = 0.9\n").unwrap();
    let err =
        String::from_utf8_lossy(&sb.run(&["--config", config.to_str().unwrap(), "analyze"]).stderr)
            .to_string();
    assert!(err.contains("line 2") && err.contains("mostli"), "{err}");
}
