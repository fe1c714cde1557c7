//! The ingest pipeline against a real SQLite catalog and real files: formats, rejects,
//! file-level skip, dry run, per-store mapping, and convergence after a mid-run failure.

use chrono_tz::Tz;
use preciso_core::domain::{Currency, StoreId};
use preciso_core::ports::{Catalog, CatalogStore};
use preciso_core::query::{OfferFilter, PageRequest, Sort};
use preciso_ingest::{
    FieldMap, Format, IngestOptions, IngestReport, IngestSource, RecordContext, ReportStatus,
    ingest,
};
use preciso_store_sqlite::SqliteCatalog;
use rusqlite::Connection;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

struct Env {
    dir: tempfile::TempDir,
    catalog: SqliteCatalog,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let catalog = SqliteCatalog::open(&dir.path().join("catalog.sqlite")).unwrap();
        Env { dir, catalog }
    }

    fn write(&self, name: &str, content: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, content).unwrap();
        p
    }

    fn opts(&self) -> IngestOptions {
        IngestOptions {
            format: None,
            dry_run: false,
            force: false,
            backfill: false,
            batch_size: 3,
            rejects_dir: self.dir.path().join("rejects"),
            fields: FieldMap::default(),
            context: RecordContext {
                default_store: None,
                default_currency: None,
                store_currency: HashMap::from([(
                    StoreId::parse("exito").unwrap(),
                    Currency::parse("COP").unwrap(),
                )]),
                store_timezone: HashMap::new(),
                store_aliases: Default::default(),
                default_timezone: Tz::America__Bogota,
                ingest_time: 1_800_000_000,
            },
            cancel: None,
        }
    }

    fn ingest(&self, path: &Path, opts: &IngestOptions) -> IngestReport {
        let source = IngestSource {
            path: path.to_path_buf(),
            name: path.file_name().unwrap().to_string_lossy().into(),
        };
        ingest(&self.catalog, &source, opts, &|_| {}).unwrap()
    }

    fn conn(&self) -> Connection {
        Connection::open(self.catalog.path()).unwrap()
    }

    /// Offers and history as sorted rows, to compare whole catalog states.
    fn state(&self) -> Vec<String> {
        let conn = self.conn();
        let mut rows = Vec::new();
        let mut stmt = conn
            .prepare("SELECT id, hex(content_hash), price_minor, last_seen FROM offers ORDER BY id")
            .unwrap();
        rows.extend(
            stmt.query_map([], |r| {
                Ok(format!(
                    "o {} {} {} {}",
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?
                ))
            })
            .unwrap()
            .map(Result::unwrap),
        );
        let mut stmt = conn
            .prepare("SELECT offer_id, observed_at, price_minor FROM price_history ORDER BY 1, 2")
            .unwrap();
        rows.extend(
            stmt.query_map([], |r| {
                Ok(format!(
                    "h {} {} {}",
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?
                ))
            })
            .unwrap()
            .map(Result::unwrap),
        );
        rows
    }
}

const MESSY: &str = r#"{"tienda": "Éxito", "codigo": "A1", "nombre": "Nevera Mabe 300L", "marca": "Mabe", "precio": "$ 2.349.900", "precio_anterior": "$ 2.599.900", "disponibilidad": "Disponible", "calificacion": "4,2 de 5", "opiniones": "(1.234 opiniones)", "fecha": "2026-11-01 08:00:00", "vendedor": "x"}
{"store": "exito", "sku": "A2", "title": "Café Sello Rojo 500g", "price": 18990, "ean": "7702032101054", "availability": "agotado"}
{"store": "exito", "sku": "A3", "title": "Sin precio", "price": "Agotado"}
not json at all
{"store": "exito", "sku": "A1", "title": "Nevera Mabe 300L", "brand": "Mabe", "price": "$ 2.349.900", "list_price": "$ 2.599.900", "availability": "in_stock", "rating": "4.2/5", "reviews": 1234, "scraped_at": "2026-11-01T08:00:00-05:00"}
{"store": "", "title": "Sin tienda", "price": "$ 1.000"}
{"store": "exito", "sku": "A4", "title": "Arroz Diana 1kg", "price": "$ 4.500", "gtin": "7702511000018", "rating": "Sin calificación"}
"#;

#[test]
fn messy_jsonl_lands_good_records_and_keeps_rejects_with_file_line_and_field() {
    let env = Env::new();
    let path = env.write("exito.jsonl", MESSY);
    let r = env.ingest(&path, &env.opts());
    assert_eq!(r.status, ReportStatus::Done);
    assert_eq!(r.counts.read, 7);
    assert_eq!(r.counts.rejected, 3);
    // Line 5 repeats line 1 in English keys with the same values: the same canonical record.
    assert_eq!((r.counts.inserted, r.counts.duplicate), (3, 1));
    assert_eq!(r.unknown_fields, 1);
    assert_eq!(r.warnings.get("rating/no_rating"), Some(&1));
    assert_eq!(r.warnings.get("gtin/invalid_gtin"), Some(&1), "{:?}", r.warnings);

    let rejects = std::fs::read_to_string(r.rejects_file.as_ref().unwrap()).unwrap();
    let lines: Vec<serde_json::Value> =
        rejects.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(
        (lines[0]["file"].as_str(), lines[0]["line"].as_u64(), lines[0]["field"].as_str()),
        (Some("exito.jsonl"), Some(3), Some("price"))
    );
    assert_eq!(lines[0]["errors"][0]["code"], "no_digits");
    assert_eq!(
        (lines[1]["line"].as_u64(), lines[1]["errors"][0]["code"].as_str()),
        (Some(4), Some("invalid_json"))
    );
    assert_eq!(lines[1]["source"], "not json at all");
    assert_eq!((lines[2]["line"].as_u64(), lines[2]["field"].as_str()), (Some(6), Some("store")));

    let conn = env.conn();
    let (price, list, avail, rating, reviews, seen): (i64, i64, String, i64, i64, i64) = conn
        .query_row(
            "SELECT price_minor, list_price_minor, availability, rating_centi, review_count, last_seen FROM offers WHERE sku = 'A1'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )
        .unwrap();
    assert_eq!(
        (price, list, avail.as_str(), rating, reviews),
        (234_990_000, 259_990_000, "in_stock", 420, 1234)
    );
    // 08:00 in Bogotá (UTC-5) is 13:00 UTC.
    assert_eq!(
        seen,
        chrono::DateTime::parse_from_rfc3339("2026-11-01T13:00:00Z").unwrap().timestamp()
    );
    let cafe: (i64, String, Option<String>) = conn
        .query_row("SELECT price_minor, availability, gtin FROM offers WHERE sku = 'A2'", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!(cafe, (1_899_000, "out_of_stock".to_string(), Some("07702032101054".to_string())));
}

#[test]
fn the_same_file_is_skipped_unless_forced_and_then_changes_nothing() {
    let env = Env::new();
    let path = env.write("exito.jsonl", MESSY);
    env.ingest(&path, &env.opts());
    let before = env.state();
    let again = env.ingest(&path, &env.opts());
    assert_eq!(again.status, ReportStatus::Skipped);
    assert_eq!(again.counts.read, 0);
    let forced = env.ingest(&path, &IngestOptions { force: true, ..env.opts() });
    assert_eq!(forced.status, ReportStatus::Done);
    assert_eq!((forced.counts.inserted, forced.counts.updated), (0, 0));
    assert_eq!(forced.counts.unchanged + forced.counts.duplicate, 4);
    assert_eq!(env.state(), before);
    assert_eq!(env.catalog.counts().unwrap().ingest_files, 2);
}

#[test]
fn dry_run_reports_the_real_counts_and_writes_nothing() {
    let env = Env::new();
    let path = env.write("exito.jsonl", MESSY);
    let dry = env.ingest(&path, &IngestOptions { dry_run: true, ..env.opts() });
    assert_eq!(dry.status, ReportStatus::DryRun);
    assert!(dry.rejects_file.is_none());
    assert_eq!(dry.reject_samples.len(), 3);
    assert!(env.state().is_empty());
    assert_eq!(env.catalog.counts().unwrap().ingest_files, 0);
    let real = env.ingest(&path, &env.opts());
    assert_eq!(dry.counts, real.counts);
}

#[test]
fn json_array_jsonl_and_csv_of_the_same_records_give_the_same_catalog() {
    let jsonl = "{\"store\":\"exito\",\"sku\":\"1\",\"title\":\"TV\",\"price\":\"$ 1.299.900\",\"rating\":\"4.5\",\"scraped_at\":\"2026-11-01 10:00:00\"}\n{\"store\":\"exito\",\"sku\":\"2\",\"title\":\"Radio, FM\",\"price\":\"$ 89.900,00\",\"reviews\":\"12\",\"scraped_at\":\"2026-11-01 10:00:00\"}\n";
    let json = format!("[\n{}\n]", jsonl.trim_end().replace('\n', ",\n"));
    let csv = "store;sku;title;price;rating;reviews;scraped_at\nexito;1;TV;$ 1.299.900;4.5;;2026-11-01 10:00:00\nexito;2;Radio, FM;$ 89.900,00;;12;2026-11-01 10:00:00\n";
    let mut states = Vec::new();
    for (name, content) in
        [("a.jsonl", jsonl.to_string()), ("a.json", json), ("a.csv", csv.to_string())]
    {
        let env = Env::new();
        let r = env.ingest(&env.write(name, &content), &env.opts());
        assert_eq!((r.counts.inserted, r.counts.rejected), (2, 0), "{name}: {r:?}");
        states.push(env.state());
    }
    assert_eq!(states[0], states[1]);
    assert_eq!(states[0], states[2]);
}

#[test]
fn store_flag_and_per_store_mapping_apply_to_files_without_store() {
    let env = Env::new();
    let path = env
        .write("feed.csv", "Codigo,Descripcion,PrecioOferta\nX1,Licuadora Oster,\"$ 199.900\"\n");
    let mut opts = env.opts();
    opts.context.default_store = Some(StoreId::parse("exito").unwrap());
    opts.fields =
        FieldMap::with_overrides([("title", "Descripcion"), ("price", "PrecioOferta")]).unwrap();
    let r = env.ingest(&path, &opts);
    assert_eq!((r.counts.inserted, r.counts.rejected), (1, 0), "{r:?}");
    let title: String = env
        .conn()
        .query_row("SELECT title FROM offers WHERE store_id = 'exito'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(title, "Licuadora Oster");
}

#[test]
fn a_failure_mid_file_keeps_whole_batches_and_a_rerun_converges() {
    let content: String = (0..10)
        .map(|i| format!("{{\"store\":\"exito\",\"sku\":\"S{i}\",\"title\":\"Item {i}\",\"price\":\"$ {i}.000\",\"scraped_at\":\"2026-11-01 10:00:00\"}}\n"))
        .collect();
    let clean = Env::new();
    clean.ingest(&clean.write("f.jsonl", &content), &clean.opts());

    let env = Env::new();
    let path = env.write("f.jsonl", &content);
    env.conn()
        .execute_batch("CREATE TRIGGER fault BEFORE INSERT ON offers WHEN NEW.sku = 'S7' BEGIN SELECT RAISE(ABORT, 'disk on fire'); END;")
        .unwrap();
    let source = IngestSource { path: path.clone(), name: "f.jsonl".into() };
    let err = ingest(&env.catalog, &source, &env.opts(), &|_| {}).unwrap_err();
    assert!(err.to_string().contains("disk on fire"), "{err}");
    // Batches of 3: records 0–5 landed in two whole batches, none of the third.
    assert_eq!(env.catalog.counts().unwrap().offers, 6);
    let ledger = env.catalog.ingest_files(1, 0).unwrap().remove(0);
    assert_eq!((ledger.status.as_str(), ledger.counts.inserted), ("failed", 6));

    env.conn().execute_batch("DROP TRIGGER fault").unwrap();
    let rerun = env.ingest(&path, &env.opts());
    assert_eq!(
        rerun.status,
        ReportStatus::Done,
        "a failed run does not make the file 'already ingested'"
    );
    assert_eq!((rerun.counts.unchanged, rerun.counts.inserted), (6, 4));
    assert_eq!(env.state(), clean.state());
}

/// A file holding two records of one offer (the later one wins), undated: every record is
/// observed when the file arrives. The run dies between the two; the re-run, later, gives
/// exactly what one clean run gives, price history included.
fn a_crash_between_repeats_converges_on_the_clean_catalog(
    open: &dyn Fn() -> Box<dyn Catalog>,
    fault: &dyn Fn(&dyn Catalog, bool),
    dir: &Path,
) {
    let line = |sku: &str, price: &str| {
        format!(
            "{{\"store\":\"exito\",\"sku\":\"{sku}\",\"title\":\"Item {sku}\",\"price\":\"$ {price}\"}}\n"
        )
    };
    // Batches of 3: [S0 S1 S2] [S3 S4 S5] [S6 S7 S1']; S7 fails the first run.
    let mut content: String = (0..7).map(|i| line(&format!("S{i}"), &format!("{i}.000"))).collect();
    content.push_str(&line("S7", "7.000"));
    content.push_str(&line("S1", "900"));
    content.push_str(&line("S8", "8.000"));
    let path = dir.join("repeats.jsonl");
    std::fs::write(&path, &content).unwrap();
    let source = IngestSource { path, name: "repeats.jsonl".into() };
    let mut opts = Env::new().opts();
    opts.rejects_dir = dir.join("rejects");

    let clean = open();
    ingest(clean.as_ref(), &source, &opts, &|_| {}).unwrap();

    let crashed = open();
    fault(crashed.as_ref(), true);
    ingest(crashed.as_ref(), &source, &opts, &|_| {}).unwrap_err();
    assert_eq!(crashed.counts().unwrap().offers, 6, "two whole batches landed");
    fault(crashed.as_ref(), false);
    let mut later = opts.clone();
    later.context.ingest_time += 3_600;
    let rerun = ingest(crashed.as_ref(), &source, &later, &|_| {}).unwrap();
    assert_eq!(rerun.status, ReportStatus::Done);
    assert_eq!(port_state(crashed.as_ref()), port_state(clean.as_ref()));
    let s1 = port_state(clean.as_ref()).into_iter().find(|r| r.contains("Item S1")).unwrap();
    assert!(s1.ends_with("[(1800000000, 90000)]"), "one observation of S1: {s1}");
}

/// Every offer with its price, times and history, through the port (any backend).
fn port_state(c: &dyn Catalog) -> Vec<String> {
    let page = PageRequest { page: 1, limit: 100 };
    let offers = c.list_offers(&OfferFilter::default(), Sort::Price, page, Default::default());
    let mut rows: Vec<String> = offers
        .unwrap()
        .items
        .iter()
        .map(|s| {
            let o = &s.offer;
            let history: Vec<(i64, i64)> = c
                .offer_history(o.id)
                .unwrap()
                .iter()
                .map(|h| (h.observed_at, h.price.minor))
                .collect();
            format!(
                "{} {} {} {:?} {} {} {} {history:?}",
                o.title,
                o.price.minor,
                o.previous_price.map_or(0, |m| m.minor),
                o.first_seen,
                o.last_seen,
                o.price_changed_at,
                o.product_id
            )
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn sqlite_a_crash_between_repeats_converges_on_the_clean_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let n = std::sync::atomic::AtomicU32::new(0);
    let open = || -> Box<dyn Catalog> {
        let i = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Box::new(SqliteCatalog::open(&dir.path().join(format!("c{i}.sqlite"))).unwrap())
    };
    let path = |i: u32| dir.path().join(format!("c{i}.sqlite"));
    let fault = |_: &dyn Catalog, on: bool| {
        let conn = Connection::open(path(1)).unwrap();
        conn.execute_batch(if on {
            "CREATE TRIGGER fault BEFORE INSERT ON offers WHEN NEW.sku = 'S7'
             BEGIN SELECT RAISE(ABORT, 'disk on fire'); END;"
        } else {
            "DROP TRIGGER fault"
        })
        .unwrap();
    };
    a_crash_between_repeats_converges_on_the_clean_catalog(&open, &fault, dir.path());
}

#[test]
fn postgres_a_crash_between_repeats_converges_on_the_clean_catalog() {
    use preciso_store_postgres::{PgCatalog, testing::TempDb};
    let (Some(clean), Some(crashed)) = (TempDb::create("pipeline"), TempDb::create("pipeline"))
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let urls = [clean.url.clone(), crashed.url.clone()];
    let n = std::sync::atomic::AtomicUsize::new(0);
    let open = || -> Box<dyn Catalog> {
        let i = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Box::new(PgCatalog::open(&urls[i]).unwrap())
    };
    let fault = |_: &dyn Catalog, on: bool| {
        let mut c = postgres::Client::connect(&crashed.url, postgres::NoTls).unwrap();
        c.batch_execute(if on {
            "CREATE FUNCTION fault() RETURNS trigger LANGUAGE plpgsql AS
                 $$ BEGIN RAISE EXCEPTION 'disk on fire'; END $$;
             CREATE TRIGGER fault BEFORE INSERT ON offers FOR EACH ROW
                 WHEN (NEW.sku = 'S7') EXECUTE FUNCTION fault();"
        } else {
            "DROP TRIGGER fault ON offers; DROP FUNCTION fault();"
        })
        .unwrap();
    };
    a_crash_between_repeats_converges_on_the_clean_catalog(&open, &fault, dir.path());
}

#[test]
fn formats_are_sniffed_when_the_extension_says_nothing() {
    assert_eq!(Format::sniff(b"  [{}]"), Some(Format::Json));
    assert_eq!(Format::sniff(b"\xEF\xBB\xBF{\"a\":1}"), Some(Format::Jsonl));
    assert_eq!(Format::sniff(b"store,title"), Some(Format::Csv));
    assert_eq!(Format::sniff(b"<?xml version=\"1.0\"?>"), None, "markup is not data");
    let env = Env::new();
    let path =
        env.write("upload.dat", "[{\"store\":\"exito\",\"title\":\"T\",\"price\":\"$ 1.000\"}]");
    let r = env.ingest(&path, &env.opts());
    assert_eq!((r.format, r.counts.inserted), (Some(Format::Json), 1));
    // Files that are not offers fail with the file named, and write nothing.
    let try_ingest = |name: &str, body: &str| {
        let source = IngestSource { path: env.write(name, body), name: name.into() };
        ingest(&env.catalog, &source, &env.opts(), &|_| {}).unwrap_err().to_string()
    };
    let xml = try_ingest("feed.xml", "<?xml version=\"1.0\"?><offers/>");
    assert!(xml.starts_with("feed.xml: cannot tell the format"), "{xml}");
    let csv = try_ingest("report.csv", "region;ventas\nnorte;12\n");
    assert!(
        csv.starts_with("report.csv: line 1: no column of the header names a known field"),
        "{csv}"
    );
    assert_eq!(env.catalog.counts().unwrap().offers, 1);
}

#[test]
fn timestamps_read_the_same_in_every_accepted_form() {
    use preciso_ingest::record::parse_timestamp;
    let bogota: chrono_tz::Tz = "America/Bogota".parse().unwrap();
    let utc = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp();
    // 08:00 in Bogotá (UTC-5) is 13:00 UTC, whichever way the scraper wrote it.
    for text in [
        "2026-11-01 08:00:00",
        "2026-11-01T08:00:00",
        "2026-11-01 08:00",
        "2026-11-01T08:00:00-05:00",
        "2026-11-01T13:00:00Z",
    ] {
        assert_eq!(parse_timestamp(text, bogota), Some(utc("2026-11-01T13:00:00Z")), "{text}");
    }
    assert_eq!(parse_timestamp("2026-11-01", bogota), Some(utc("2026-11-01T05:00:00Z")));
    assert_eq!(parse_timestamp("2024-02-29 23:59:59", bogota), Some(utc("2024-03-01T04:59:59Z")));
    for bad in [
        "2026-02-30 10:00:00",
        "2026-13-01 10:00:00",
        "2026-11-01 24:00:00",
        "2026-11-01 10:60:00",
        "2026-11-01_10:00:00",
        "2026-1a-01 10:00:00",
        "01/11/2026 10:00:00",
        "+026-11-01 08:00:00",
        "26-11-01 08:00:00",
        "+2026-11-01 08:00",
        "-2026-11-01",
        "+2026-11-01T08:00:00Z",
        "",
    ] {
        assert_eq!(parse_timestamp(bad, bogota), None, "{bad:?}");
    }
}

#[test]
fn batches_normalized_in_parallel_are_applied_in_file_order() {
    // One offer re-scraped on every line, an hour apart, with a new price each time, across
    // many small batches: every price lands in history in line order and the last one wins;
    // rejects are listed in line order.
    let env = Env::new();
    let mut lines = Vec::new();
    for i in 0..90u32 {
        if i % 29 == 5 {
            lines.push(format!("broken line {i}"));
        } else {
            lines.push(format!(
                "{{\"store\":\"exito\",\"sku\":\"ONE\",\"title\":\"Nevera\",\"price\":{},\"scraped_at\":\"2026-11-{:02} {:02}:00:00\"}}",
                100_000 + i,
                1 + i / 24,
                i % 24
            ));
        }
    }
    let path = env.write("many.jsonl", &(lines.join("\n") + "\n"));
    let report = env.ingest(&path, &env.opts());
    assert_eq!((report.counts.read, report.counts.rejected), (90, 3));
    let conn = env.conn();
    let price: i64 = conn.query_row("SELECT price_minor FROM offers", [], |r| r.get(0)).unwrap();
    assert_eq!(price, (100_000 + 89) * 100);
    let history: Vec<i64> = conn
        .prepare("SELECT price_minor FROM price_history ORDER BY observed_at")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let expected: Vec<i64> =
        (0..90).filter(|i| i % 29 != 5).map(|i| (100_000 + i64::from(i)) * 100).collect();
    assert_eq!(history, expected);
    let rejects = std::fs::read_to_string(report.rejects_file.unwrap()).unwrap();
    let reject_lines: Vec<u64> = rejects
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["line"].as_u64().unwrap())
        .collect();
    assert_eq!(reject_lines, vec![6, 35, 64]);
}

/// M.reject_rate's counts: each record counted for the store it names, accepted or rejected
/// (one file carries two stores); a reject without a readable store counts for none; a dry
/// run records nothing.
#[test]
fn records_are_counted_per_store_they_name_accepted_and_rejected() {
    use preciso_core::ports::{QualityRead, StoreRecords};
    let env = Env::new();
    let line = |store: &str, sku: &str, price: &str| {
        format!(
            r#"{{"store": "{store}", "sku": "{sku}", "title": "Olla {sku}", "price": "{price}", "currency": "COP"}}"#
        )
    };
    let body = [
        line("Éxito", "A", "$ 10.000"),
        line("exito", "B", "$ 12.000"),
        line("exito", "C", "abc"),
        line("Jumbo", "D", "$ 9.000"),
        line("jumbo", "E", ""),
        line("jumbo", "F", "xyz"),
        r#"{"sku": "G", "title": "Sin tienda", "price": "$ 1.000"}"#.to_string(),
    ]
    .join("\n");
    let path = env.write("two-stores.jsonl", &body);
    let dry = env.ingest(&path, &IngestOptions { dry_run: true, ..env.opts() });
    assert_eq!(dry.counts.rejected, 4, "{:?}", dry.reject_samples);
    assert!(env.catalog.store_records(0, i64::MAX).unwrap().is_empty());
    let report = env.ingest(&path, &env.opts());
    assert_eq!((report.counts.read, report.counts.rejected), (7, 4));
    let rec = |store: &str, accepted, rejected| StoreRecords {
        store: StoreId::parse(store).unwrap(),
        accepted,
        rejected,
    };
    assert_eq!(
        env.catalog.store_records(1_800_000_000, 1_800_000_000).unwrap(),
        vec![rec("exito", 2, 1), rec("jumbo", 1, 2)]
    );
}
