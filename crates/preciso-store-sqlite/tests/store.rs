//! The SQLite store: the shared storage contract (`preciso_core::testing`), plus what only
//! SQLite can show here: all-or-nothing batches under a fault injected by a trigger, and
//! migrations.

use preciso_core::domain::*;
use preciso_core::hash::{ContentHasher, offer_id, product_id, product_key, title_key};
use preciso_core::ports::{CatalogRead, CatalogStore};
use preciso_core::testing::new_file;
use preciso_store_sqlite::SqliteCatalog;
use rusqlite::Connection;

fn offer(store: &str, sku: &str, title: &str, price: i64, at: i64) -> Offer {
    let store = StoreId::parse(store).unwrap();
    let cop = Currency::parse("COP").unwrap();
    let tkey = title_key(Some("Acme"), title);
    let pkey = product_key(None, &tkey);
    let mut h = ContentHasher::default();
    h.field(Some(store.as_str())).field(Some(sku)).field(Some(title)).int(Some(price));
    Offer {
        id: offer_id(&store, Some(sku), None, &tkey),
        store,
        sku: Some(sku.into()),
        url: None,
        product_id: product_id(&pkey),
        title: title.into(),
        brand: Some("Acme".into()),
        category: Some("Hogar > Cocina".into()),
        gtin: None,
        image_url: None,
        price: Money::new(price, cop),
        list_price: None,
        availability: Availability::InStock,
        rating: None,
        review_count: None,
        observed_at: at,
        content_hash: h.finish(),
    }
}

fn open() -> (tempfile::TempDir, SqliteCatalog) {
    let dir = tempfile::tempdir().unwrap();
    let cat = SqliteCatalog::open(&dir.path().join("db/catalog.sqlite")).unwrap();
    (dir, cat)
}

fn raw(cat: &SqliteCatalog) -> Connection {
    Connection::open(cat.path()).unwrap()
}

/// SQLite's plan of a shared query, one line per step (`EXPLAIN QUERY PLAN`'s detail).
fn query_plan(conn: &Connection, q: &preciso_sql::reads::Query) -> Vec<String> {
    let params: Vec<rusqlite::types::Value> = q
        .params
        .iter()
        .map(|p| match p {
            preciso_sql::Param::Int(i) => (*i).into(),
            preciso_sql::Param::Text(t) => t.clone().into(),
            _ => rusqlite::types::Value::Null,
        })
        .collect();
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {}", q.sql)).unwrap();
    stmt.query_map(rusqlite::params_from_iter(params), |r| r.get::<_, String>(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn a_failing_batch_rolls_back_whole_and_a_rerun_converges() {
    let (_d, cat) = open();
    raw(&cat)
        .execute_batch(
            "CREATE TRIGGER inject_fault BEFORE INSERT ON offers WHEN NEW.title = 'boom'
             BEGIN SELECT RAISE(ABORT, 'injected fault'); END;",
        )
        .unwrap();
    let good = offer("exito", "G", "good", 1_000, 1);
    let bad = offer("exito", "B", "boom", 2_000, 1);
    let mut s = cat.begin_ingest(&new_file("f"), false).unwrap();
    let first =
        s.apply_batch(std::slice::from_ref(&good), &IngestCounts { read: 1, ..Default::default() });
    assert!(first.is_ok());
    let err =
        s.apply_batch(&[offer("exito", "H", "also good", 3, 1), bad], &IngestCounts::default());
    assert!(err.unwrap_err().to_string().contains("injected fault"));
    // The session goes on: the product the failed batch wrote is gone with it, and a later
    // batch of the same product writes it again.
    let same_product = offer("exito", "H2", "also good", 4, 1);
    s.apply_batch(std::slice::from_ref(&same_product), &IngestCounts::default()).unwrap();
    let row = s.finish(IngestStatus::Failed, Some("injected".into())).unwrap().unwrap();
    assert_eq!(row.status, IngestStatus::Failed);
    // The first and third batches landed; nothing of the second did, ledger counts included.
    assert_eq!(cat.counts().unwrap().offers, 2);
    assert_eq!(row.counts.inserted, 2);

    raw(&cat).execute_batch("DROP TRIGGER inject_fault").unwrap();
    let c = preciso_core::testing::apply(
        &cat,
        "f",
        &[good, offer("exito", "H", "also good", 3, 1), offer("exito", "B", "boom", 2_000, 1)],
    );
    assert_eq!((c.unchanged, c.inserted), (1, 2));
    assert_eq!(cat.counts().unwrap().offers, 4);
}

#[test]
fn reopening_applies_no_migration_twice_and_bad_urls_are_explicit() {
    let (d, cat) = open();
    drop(cat);
    let again = SqliteCatalog::open(&d.path().join("db/catalog.sqlite")).unwrap();
    again.migrate().unwrap();
    let n: i64 =
        raw(&again).query_row("SELECT count(*) FROM schema_migrations", [], |r| r.get(0)).unwrap();
    assert_eq!(n, preciso_store_sqlite::MIGRATIONS.len() as i64);
    assert!(SqliteCatalog::path_from_url("mysql://x").is_err());
    assert_eq!(
        SqliteCatalog::path_from_url("sqlite://a/b.db").unwrap(),
        std::path::PathBuf::from("a/b.db")
    );
}

#[test]
fn reopening_after_a_crashed_run_refreshes_the_best_price_summary() {
    let (d, cat) = open();
    let path = d.path().join("db/catalog.sqlite");
    preciso_core::testing::apply(&cat, "first", &[offer("exito", "A", "olla", 5_000, 1)]);
    let mut s = cat.begin_ingest(&new_file("crashed"), false).unwrap();
    s.apply_batch(&[offer("alkosto", "B", "olla", 4_000, 2)], &IngestCounts::default()).unwrap();
    drop(s);
    let summary_price = |c: &Connection| -> i64 {
        c.query_row("SELECT price_minor FROM product_best WHERE scope = ''", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(summary_price(&raw(&cat)), 5_000, "a run that never finished left its mark");
    drop(cat);
    let reopened = SqliteCatalog::open(&path).unwrap();
    assert_eq!(summary_price(&raw(&reopened)), 4_000);
    let dirty: i64 = raw(&reopened)
        .query_row("SELECT count(*) FROM product_best_dirty", [], |r| r.get(0))
        .unwrap();
    assert_eq!(dirty, 0);
}

#[test]
fn the_append_order_migration_keeps_every_row_of_an_older_catalog() {
    // A catalog written by the current schema is the source of truth...
    let (d, cat) = open();
    preciso_core::testing::apply(
        &cat,
        "day1",
        &[offer("exito", "A", "olla", 5_000, 1), offer("alkosto", "B", "olla", 4_000, 1)],
    );
    preciso_core::testing::apply(&cat, "day2", &[offer("exito", "A", "olla", 4_500, 2)]);
    // ...and its rows are loaded into a database that stopped at the migration before.
    let old_path = d.path().join("old.sqlite");
    let old = Connection::open(&old_path).unwrap();
    old.execute_batch(
        "CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )
    .unwrap();
    for (name, sql) in &preciso_store_sqlite::MIGRATIONS[..5] {
        old.execute_batch(sql).unwrap();
        old.execute("INSERT INTO schema_migrations VALUES (?1, 0)", [name]).unwrap();
    }
    old.execute("ATTACH ?1 AS cur", [cat.path().to_str().unwrap()]).unwrap();
    for table in ["stores", "ingest_files", "products", "offers", "price_history"] {
        // The older schema's columns (later migrations added some).
        let columns: Vec<String> = old
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        // The products' key, dropped later (0032), is any unique text to the older schema.
        let values: Vec<&str> = columns
            .iter()
            .map(|c| if table == "products" && c == "key" { "'k' || id" } else { c.as_str() })
            .collect();
        let (columns, values) = (columns.join(", "), values.join(", "));
        old.execute_batch(&format!(
            "INSERT INTO main.{table} ({columns}) SELECT {values} FROM cur.{table}"
        ))
        .unwrap();
    }
    old.execute_batch("DETACH cur").unwrap();
    drop(old);

    let migrated = SqliteCatalog::open(&old_path).unwrap();
    let conn = raw(&migrated);
    conn.execute("ATTACH ?1 AS cur", [cat.path().to_str().unwrap()]).unwrap();
    for table in ["products", "offers", "price_history"] {
        let differing: i64 = conn
            .query_row(
                &format!(
                    "SELECT (SELECT count(*) FROM (SELECT * FROM main.{table} EXCEPT SELECT * FROM cur.{table}))
                          + (SELECT count(*) FROM (SELECT * FROM cur.{table} EXCEPT SELECT * FROM main.{table}))"
                ),
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(differing, 0, "{table} differs after the migration");
    }
    let history: i64 =
        conn.query_row("SELECT count(*) FROM main.price_history", [], |r| r.get(0)).unwrap();
    assert_eq!(history, 3);
    let dangling: i64 =
        conn.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| r.get(0)).unwrap();
    assert_eq!(dangling, 0);
    // The migrated catalog keeps working: one more price change lands as history.
    let c =
        preciso_core::testing::apply(&migrated, "day3", &[offer("alkosto", "B", "olla", 3_900, 3)]);
    assert_eq!(c.updated, 1);
    let history: i64 =
        conn.query_row("SELECT count(*) FROM main.price_history", [], |r| r.get(0)).unwrap();
    assert_eq!(history, 4);
}

#[test]
fn a_refresh_by_another_run_between_batches_does_not_hide_later_changes() {
    let (_d, cat) = open();
    let mut a = cat.begin_ingest(&new_file("a"), false).unwrap();
    a.apply_batch(&[offer("exito", "A", "olla", 5_000, 1)], &IngestCounts::default()).unwrap();
    // Another run finishes meanwhile; its refresh takes every mark, run A's included.
    preciso_core::testing::apply(&cat, "b", &[offer("alkosto", "Z", "sarten", 9_000, 1)]);
    // Run A lowers the same product's price in a later batch.
    a.apply_batch(&[offer("exito", "A", "olla", 4_000, 2)], &IngestCounts::default()).unwrap();
    a.finish(IngestStatus::Done, None).unwrap();
    let olla: i64 = raw(&cat)
        .query_row(
            "SELECT b.price_minor FROM product_best b JOIN offers o ON o.id = b.offer_id
             WHERE b.scope = '' AND o.title = 'olla'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(olla, 4_000, "the summary shows run A's last batch");
}

/// A fresh catalog in a temporary directory for each contract test.
fn fresh() -> Option<(tempfile::TempDir, Box<dyn preciso_core::ports::Catalog>)> {
    let dir = tempfile::tempdir().unwrap();
    let catalog = SqliteCatalog::open(&dir.path().join("contract.sqlite")).unwrap();
    Some((dir, Box::new(catalog)))
}

mod contract {
    use super::fresh;
    preciso_core::contract_tests!(fresh());
}

/// The snapshot a backup streams from holds the whole catalog: owner-only, whatever the umask.
#[cfg(unix)]
#[test]
fn snapshot_copies_are_readable_by_the_owner_only() {
    use preciso_core::ports::CatalogDump;
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let catalog = SqliteCatalog::open(&dir.path().join("c.sqlite")).unwrap();
    let exito = StoreId::parse("exito").unwrap();
    let store =
        Store { id: exito, name: "Éxito".into(), country: None, currency: None, base_url: None };
    catalog.upsert_store(&store).unwrap();
    let mut modes = Vec::new();
    catalog
        .snapshot(&mut |_, _| {
            if modes.is_empty() {
                for e in std::fs::read_dir(dir.path()).unwrap().flatten() {
                    if e.file_name().to_string_lossy().starts_with(".snapshot-") {
                        modes.push(e.metadata().unwrap().permissions().mode() & 0o777);
                    }
                }
            }
            Ok(())
        })
        .unwrap();
    assert_eq!(modes, vec![0o600]);
}

/// What `PRAGMA integrity_check` and FTS5's own check of the search index against the
/// products say (empty when sound).
fn index_problems(c: &Connection) -> Vec<String> {
    let mut problems: Vec<String> = c
        .prepare("PRAGMA integrity_check")
        .unwrap()
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .filter(|m| m != "ok")
        .collect();
    if let Err(e) = c.execute_batch(
        "INSERT INTO product_search (product_search, rank) VALUES ('integrity-check', 1)",
    ) {
        problems.push(e.to_string());
    }
    problems
}

fn index_count(c: &Connection) -> i64 {
    c.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'index'
             AND tbl_name IN ('offers', 'products', 'price_history')",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

/// Whether the price history is keyed by (offer, time) without a rowid (migration 0033), the
/// form every read uses; an initial load appends to a plain table until its end.
fn history_ordered(c: &Connection) -> bool {
    let key: Vec<String> = c
        .prepare("SELECT name FROM pragma_table_info('price_history') WHERE pk > 0 ORDER BY pk")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let without_rowid: bool = c
        .query_row(
            "SELECT sql LIKE '%WITHOUT ROWID' FROM sqlite_master WHERE name = 'price_history'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    key == ["offer_id", "observed_at"] && without_rowid
}

/// An initial load appends to tables without indexes and sets repeats aside (`bulk.rs`). A
/// load killed midway (here into a catalog that kept its products after losing its offers,
/// so products are appended twice) leaves no index behind; opening the catalog builds them,
/// keeps one row per product with the search index sound, and the file's re-run converges
/// on what a clean run gives.
#[test]
fn opening_after_a_killed_initial_load_builds_its_indexes_and_the_rerun_converges() {
    let (d, cat) = open();
    let path = d.path().join("db/catalog.sqlite");
    let indexes = index_count(&raw(&cat));
    let day1 = [offer("exito", "A", "olla", 5_000, 1), offer("alkosto", "B", "sarten", 4_000, 1)];
    preciso_core::testing::apply(&cat, "day1", &day1);
    raw(&cat).execute_batch("DELETE FROM price_history; DELETE FROM offers;").unwrap();

    let batch = [
        offer("exito", "A", "olla", 5_500, 2),
        offer("exito", "C", "olla", 5_200, 2),
        offer("alkosto", "B", "sarten", 3_900, 2),
        offer("exito", "A", "olla", 5_400, 3),
    ];
    let mut s = cat.begin_ingest(&new_file("killed"), false).unwrap();
    let counts = s.apply_batch(&batch[..2], &IngestCounts::default()).unwrap();
    assert_eq!(counts.inserted, 2);
    s.apply_batch(&batch[2..], &IngestCounts::default()).unwrap();
    assert!(index_count(&raw(&cat)) < indexes, "the load builds its indexes at its end");
    assert!(!history_ordered(&raw(&cat)), "the load appends its history");
    drop(s);
    drop(cat);
    // What a load killed while filling its search index beside it leaves (`search::SideFill`).
    let side_fill = d.path().join("db/catalog.sqlite.search-fill");
    std::fs::write(&side_fill, b"partial").unwrap();

    let reopened = SqliteCatalog::open(&path).unwrap();
    assert!(!side_fill.exists(), "opening removes the killed load's scratch file");
    let c = raw(&reopened);
    assert_eq!(index_count(&c), indexes);
    assert_eq!(index_problems(&c), Vec::<String>::new());
    assert!(history_ordered(&c), "opening orders the history the killed load appended");
    let products: i64 = c.query_row("SELECT count(*) FROM products", [], |r| r.get(0)).unwrap();
    assert_eq!(products, 2, "one row per product");
    assert_eq!(reopened.search_products("sarten", 10).unwrap().len(), 1);

    let clean_dir = tempfile::tempdir().unwrap();
    let clean = SqliteCatalog::open(&clean_dir.path().join("c.sqlite")).unwrap();
    preciso_core::testing::apply(&clean, "file", &batch);
    preciso_core::testing::apply(&reopened, "file", &batch);
    let state = |cat: &SqliteCatalog| -> Vec<(i64, i64, i64)> {
        raw(cat)
            .prepare(
                "SELECT o.price_minor, o.last_seen, (SELECT count(*) FROM price_history h
                     WHERE h.offer_id = o.id) FROM offers o ORDER BY o.sku",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(state(&reopened), state(&clean));
    assert_eq!(state(&clean), vec![(5_400, 3, 2), (3_900, 2, 1), (5_200, 2, 1)]);
    assert_eq!(index_problems(&raw(&reopened)), Vec::<String>::new());
}

/// The end of an initial load commits step by step (each index, then the search index in
/// parts, the last part with `offers_price_change`). Killed after the indexes but before the
/// search index was filled, the catalog has every index but that one: opening it completes the
/// search index and builds it.
#[test]
fn opening_after_a_load_killed_while_filling_the_search_index_completes_it() {
    let (d, cat) = open();
    let path = d.path().join("db/catalog.sqlite");
    let indexes = index_count(&raw(&cat));
    let offers = [offer("exito", "A", "olla", 5_000, 1), offer("alkosto", "B", "sarten", 4_000, 1)];
    preciso_core::testing::apply(&cat, "load", &offers);
    // What the load had done when killed: every step but the search index's last part.
    raw(&cat)
        .execute_batch(
            "DROP INDEX offers_price_change;
             INSERT INTO product_search (product_search) VALUES ('delete-all');",
        )
        .unwrap();
    assert!(cat.search_products("sarten", 10).unwrap().is_empty());
    drop(cat);

    let reopened = SqliteCatalog::open(&path).unwrap();
    let c = raw(&reopened);
    assert_eq!(index_count(&c), indexes);
    assert_eq!(index_problems(&c), Vec::<String>::new());
    assert_eq!(reopened.search_products("sarten", 10).unwrap().len(), 1);
    assert_eq!(reopened.search_products("olla", 10).unwrap().len(), 1);
}

/// A completed initial load whose file repeats offers (a later price, an exact repeat, a new
/// title: a product first written by the replay, which indexes it before the fill, and the
/// fill must not index it again) counts and stores what a run into a non-empty catalog does,
/// and its search index is sound.
#[test]
fn an_initial_load_with_repeats_counts_and_stores_like_any_run() {
    let batch = [
        offer("exito", "A", "olla", 5_000, 1),
        offer("exito", "A", "olla", 5_000, 1),
        offer("exito", "C", "olla grande", 7_000, 1),
        offer("exito", "A", "olla", 4_800, 2),
        offer("exito", "C", "olla roja", 7_000, 3),
    ];
    let (d, bulk) = open();
    let loaded = preciso_core::testing::apply(&bulk, "file", &batch);
    assert!(!d.path().join("db/catalog.sqlite.search-fill").exists(), "no scratch file left");
    let (_e, seeded) = open();
    preciso_core::testing::apply(&seeded, "seed", &[offer("alkosto", "Z", "taza", 1_000, 1)]);
    let normal = preciso_core::testing::apply(&seeded, "file", &batch);
    assert_eq!(loaded, normal);
    assert_eq!((loaded.inserted, loaded.duplicate, loaded.updated), (2, 1, 2));
    let history: i64 =
        raw(&bulk).query_row("SELECT count(*) FROM price_history", [], |r| r.get(0)).unwrap();
    assert_eq!(history, 3);
    assert!(history_ordered(&raw(&bulk)) && history_ordered(&raw(&seeded)));
    assert_eq!(index_problems(&raw(&bulk)), Vec::<String>::new());
    assert_eq!(bulk.search_products("grande", 10).unwrap().len(), 1);
    assert_eq!(bulk.search_products("roja", 10).unwrap().len(), 1, "the replay's product");
    // The fill's term buffer and merge width are FTS5's persistent configuration: later runs,
    // which index a batch's products at a time, get FTS5's defaults back.
    let settings: Vec<(String, i64)> = raw(&bulk)
        .prepare("SELECT k, v FROM product_search_config WHERE k <> 'version' ORDER BY k")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(settings, vec![("automerge".to_string(), 4), ("hashsize".to_string(), 1_048_576)]);
}

/// Whether the search index keeps lists of two- and three-character prefixes (migration
/// 0047), read from its definition: FTS5 answers the same either way, only without them a
/// short prefix merges every word it starts.
fn search_prefixes(c: &Connection) -> bool {
    c.query_row(
        "SELECT sql LIKE '%prefix = ''2 3''%' FROM sqlite_master WHERE name = 'product_search'",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

/// The search index as migration 0013 made it (without prefix lists), filled from the
/// products, with migration 0047 not applied: a catalog from before it.
const BEFORE_PREFIX_LISTS: &str = "
    DROP TRIGGER products_search_delete; DROP TABLE product_search;
    CREATE VIRTUAL TABLE product_search USING fts5(
        brand, title, content = 'products', content_rowid = 'id',
        tokenize = 'unicode61 remove_diacritics 2');
    INSERT INTO product_search (product_search) VALUES ('rebuild');
    CREATE TRIGGER products_search_delete AFTER DELETE ON products BEGIN
        INSERT INTO product_search (product_search, rowid, brand, title)
            VALUES ('delete', old.id, old.brand, old.title);
    END;
    DELETE FROM schema_migrations WHERE name = '0047_search_prefixes';";

/// A price range's total is the summary's less what lies beyond the range only while the
/// summaries are current: with a run's mark on the market summary (its offers written, their
/// totals not yet), the same listing counts its matches (and stops at the count's limit).
#[test]
fn a_price_range_is_counted_while_a_run_has_marked_the_summaries() {
    let (_d, cat) = open();
    let offers: Vec<Offer> = (0..10_040)
        .map(|i| offer("exito", &format!("S{i}"), &format!("olla {i}"), 1_000 + i, 1))
        .collect();
    preciso_core::testing::apply(&cat, "many", &offers);
    let filter = preciso_core::query::OfferFilter {
        currency: Currency::parse("COP").ok(),
        min_price: preciso_core::query::Decimal::parse("10"),
        max_price: preciso_core::query::Decimal::parse("110"),
        ..Default::default()
    };
    let total = || {
        let page = preciso_core::query::PageRequest::default();
        let who = preciso_core::ports::Personalization::default();
        let listed = cat.list_offers(&filter, preciso_core::query::Sort::Price, page, who);
        let listed = listed.unwrap();
        (listed.total, listed.total_exact)
    };
    // 39 offers above 110.00: the summary's 10,040 less them, exact past the limit.
    assert_eq!(total(), (10_001, true));
    raw(&cat).execute(preciso_sql::market::MARK, []).unwrap();
    assert_eq!(total(), (preciso_core::query::COUNT_LIMIT, false));
}

/// Trending totals past the count's limit are exact from the daily counts (they stopped at
/// 10,000 before), and such a page is walked from the largest drop, as the whole list's is.
#[test]
fn trending_totals_past_the_count_limit_are_exact() {
    let (_d, cat) = open();
    let n = preciso_core::query::COUNT_LIMIT as i64 + 100;
    let batch = |price: i64, at: i64| -> Vec<Offer> {
        (0..n)
            .map(|i| offer("exito", &format!("S{i}"), &format!("olla {i}"), price - i, at))
            .collect()
    };
    preciso_core::testing::apply(&cat, "full", &batch(1_000_000, 1));
    preciso_core::testing::apply(&cat, "dropped", &batch(900_000, 86_400 * 3));
    let page = preciso_core::query::PageRequest { page: 2, limit: 5 };
    let all = preciso_core::query::OfferFilter::default();
    let exito = preciso_core::query::OfferFilter {
        store: StoreId::parse("exito").ok(),
        ..Default::default()
    };
    let whole = cat.trending(0, &all, page).unwrap();
    let store = cat.trending(0, &exito, page).unwrap();
    assert_eq!((whole.total, whole.total_exact), (n as u64, true));
    assert_eq!((store.total, store.total_exact), (n as u64, true));
    let ids = |p: &preciso_core::query::Page<preciso_core::ports::TrendingOffer>| {
        p.items.iter().map(|d| d.offer.id).collect::<Vec<_>>()
    };
    assert_eq!(ids(&store), ids(&whole));
    assert_eq!(store.items.len(), 5);
}

/// A catalog from before migration 0048 (drops without their daily counts) gets them at its
/// next open, from its drops: the trending totals of a window that begins on a later day than
/// some drops, over every drop and by store, equal what the pages list.
#[test]
fn a_catalog_from_before_the_daily_drop_counts_gets_them_from_its_drops() {
    let (d, cat) = open();
    let path = d.path().join("db/catalog.sqlite");
    let day = 86_400;
    let offers = |price: i64, at: &dyn Fn(i64) -> i64| -> Vec<Offer> {
        (0..12)
            .map(|i| {
                let store = ["exito", "alkosto"][i as usize % 2];
                offer(store, &format!("S{i}"), &format!("olla {i}"), price - i, at(i))
            })
            .collect()
    };
    preciso_core::testing::apply(&cat, "full", &offers(10_000, &|_| day));
    preciso_core::testing::apply(&cat, "dropped", &offers(8_000, &|i| (3 + i % 4) * day + 60));
    drop(cat);
    let before =
        "DROP TABLE drop_days; DELETE FROM schema_migrations WHERE name = '0048_drop_days';";
    Connection::open(&path).unwrap().execute_batch(before).unwrap();

    let reopened = SqliteCatalog::open(&path).unwrap();
    let days: i64 = raw(&reopened)
        .query_row("SELECT count(*) FROM drop_days WHERE dimension = 'store'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(days, 4, "each store's drops on two days of four");
    // A copy's or restore's recount gives what the migration and the refreshes kept.
    let table = |c: &Connection| -> Vec<(String, String, i64, i64)> {
        let mut stmt = c.prepare("SELECT * FROM drop_days ORDER BY 1, 2, 3").unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    };
    let kept = table(&raw(&reopened));
    raw(&reopened).execute_batch(&preciso_sql::trend::rebuild_days()).unwrap();
    assert_eq!(table(&raw(&reopened)), kept);
    // Four days over all, for the one category and the one brand; each store's two.
    assert_eq!(kept.len(), 4 + 4 + 4 + 4);
    for since in [0, 4 * day + 30, 5 * day] {
        for store in [None, StoreId::parse("exito").ok()] {
            let filter = preciso_core::query::OfferFilter { store, ..Default::default() };
            let all = preciso_core::query::PageRequest::default();
            let page = reopened.trending(since, &filter, all).unwrap();
            assert_eq!((page.total, page.total_exact), (page.items.len() as u64, true));
            assert!(page.total > 0, "{since} {filter:?}");
        }
    }
}

/// A catalog from before migration 0047 (its search index without prefix lists, as 0013 made
/// it) gets them at its next open, filled from its products: short prefixes, words and brands
/// find what they found, a deleted product leaves, and FTS5's own check (which covers the
/// prefix lists) agrees with the products. Catalogs created now and the side fill of an
/// initial load (which copies the catalog's definition) have them too.
#[test]
fn a_catalog_from_before_the_prefix_lists_gets_them_with_every_product_found() {
    let (d, cat) = open();
    let path = d.path().join("db/catalog.sqlite");
    assert!(search_prefixes(&raw(&cat)), "a new catalog's index");
    preciso_core::testing::apply(
        &cat,
        "load",
        &[
            offer("exito", "A", "olla roja", 5_000, 1),
            offer("exito", "B", "sarten", 4_000, 1),
            offer("alkosto", "C", "olla azul", 3_000, 1),
        ],
    );
    assert!(search_prefixes(&raw(&cat)), "after an initial load's side fill");
    assert_eq!(index_problems(&raw(&cat)), Vec::<String>::new());
    drop(cat);
    Connection::open(&path).unwrap().execute_batch(BEFORE_PREFIX_LISTS).unwrap();
    assert!(!search_prefixes(&Connection::open(&path).unwrap()));

    let reopened = SqliteCatalog::open(&path).unwrap();
    let c = raw(&reopened);
    assert!(search_prefixes(&c), "the migration recreates the index with its prefix lists");
    assert_eq!(index_problems(&c), Vec::<String>::new());
    let found = |q: &str| reopened.search_products(q, 10).unwrap().len();
    assert_eq!(
        (found("ol"), found("oll"), found("olla"), found("sa"), found("acme")),
        (2, 2, 2, 1, 3)
    );
    // The product alone (its offers stay: only the trigger is looked at).
    c.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
    assert_eq!(c.execute("DELETE FROM products WHERE title = 'sarten'", []).unwrap(), 1);
    assert_eq!(found("sa"), 0, "the delete trigger is back");
    assert_eq!(index_problems(&c), Vec::<String>::new());
}

/// The same migration over what a killed initial load left (the products it appended twice,
/// none of them in the index): the index is filled after the duplicates are gone, so each
/// product is indexed once (filled before, FTS5 took a repeated id as a second document and its
/// check failed), and the load's re-run converges.
#[test]
fn the_prefix_lists_come_after_a_killed_loads_duplicates_are_removed() {
    let (d, cat) = open();
    let path = d.path().join("db/catalog.sqlite");
    let day1 = [offer("exito", "A", "olla", 5_000, 1), offer("alkosto", "B", "sarten", 4_000, 1)];
    preciso_core::testing::apply(&cat, "day1", &day1);
    let sql = format!("{BEFORE_PREFIX_LISTS} DELETE FROM price_history; DELETE FROM offers;");
    raw(&cat).execute_batch(&sql).unwrap();
    let batch = [
        offer("exito", "A", "olla", 5_500, 2),
        offer("exito", "C", "olla roja", 5_200, 2),
        offer("alkosto", "B", "sarten", 3_900, 2),
    ];
    let mut s = cat.begin_ingest(&new_file("killed"), false).unwrap();
    s.apply_batch(&batch, &IngestCounts::default()).unwrap();
    drop(s);
    drop(cat);

    let reopened = SqliteCatalog::open(&path).unwrap();
    let c = raw(&reopened);
    assert!(search_prefixes(&c));
    assert_eq!(index_problems(&c), Vec::<String>::new());
    let found = |q: &str| reopened.search_products(q, 10).unwrap().len();
    assert_eq!((found("ol"), found("roj"), found("sarten")), (2, 1, 1));
    preciso_core::testing::apply(&reopened, "file", &batch);
    assert_eq!(index_problems(&raw(&reopened)), Vec::<String>::new());
    assert_eq!(found("ol"), 2);
}

/// A restore (`replace_all`) empties the search index and fills it from the loaded products:
/// the replaced catalog's products are no longer found, the loaded ones are, and FTS5's own
/// check agrees with the products table.
#[test]
fn a_restore_rebuilds_the_search_index_from_the_loaded_products() {
    use preciso_core::ports::{CatalogDump, Cell};
    let (_a, source) = open();
    preciso_core::testing::apply(
        &source,
        "a",
        &[offer("exito", "A", "olla", 5_000, 1), offer("alkosto", "B", "sarten", 4_000, 1)],
    );
    let mut tables: Vec<(String, Vec<Vec<Cell>>)> = Vec::new();
    source
        .snapshot(&mut |table: &str, row: Vec<Cell>| {
            match tables.last_mut() {
                Some((name, rows)) if name == table => rows.push(row),
                _ => tables.push((table.to_string(), vec![row])),
            }
            Ok(())
        })
        .unwrap();
    let (_b, target) = open();
    preciso_core::testing::apply(&target, "b", &[offer("exito", "Z", "licuadora", 9_000, 1)]);
    target
        .replace_all(&mut |loader| {
            tables.iter().try_for_each(|(table, rows)| loader.load(table, rows))
        })
        .unwrap();
    assert!(target.search_products("licuadora", 10).unwrap().is_empty());
    assert_eq!(target.search_products("sarten", 10).unwrap().len(), 1);
    assert_eq!(target.search_products("olla", 10).unwrap().len(), 1);
    assert_eq!(index_problems(&raw(&target)), Vec::<String>::new());
}

/// The value ranking's scans read `offers_value` alone (it covers every column the score and
/// the filters read) in index order, never sorting, whichever filter rides along (the adapter
/// pins the index; SQLite can use an index on an expression only when the query's expression
/// is the indexed one, else the pinned query fails to plan); an initial load's deferred build
/// and the check at open both make the index.
#[test]
fn value_ranking_scans_read_the_value_index() {
    use preciso_core::query::{Decimal, OfferFilter, Sort};
    let (_d, cat) = open();
    preciso_core::testing::apply(&cat, "load", &[offer("exito", "A", "olla", 1_000, 1)]);
    let conn = raw(&cat);
    let cop = Some(Currency::parse("COP").unwrap());
    let filters = [
        OfferFilter { currency: cop, ..Default::default() },
        OfferFilter { currency: cop, brand: Some("acme".into()), ..Default::default() },
        OfferFilter {
            currency: cop,
            store: Some(StoreId::parse("exito").unwrap()),
            ..Default::default()
        },
        OfferFilter { currency: cop, min_price: Decimal::parse("10"), ..Default::default() },
        OfferFilter { currency: cop, category: Some("hogar".into()), ..Default::default() },
        OfferFilter {
            currency: cop,
            category: Some("hogar".into()),
            min_price: Decimal::parse("10"),
            ..Default::default()
        },
    ];
    for filter in filters {
        let from = "offers o INDEXED BY offers_value";
        let page = preciso_core::query::PageRequest::default();
        let scan = preciso_sql::reads::value_scan(&filter, Sort::Value, page, None, from).unwrap();
        let q = &scan.passes[0];
        let plan = query_plan(&conn, q);
        assert!(
            plan.iter().any(|p| p.contains("USING COVERING INDEX offers_value")),
            "{filter:?}: {plan:?}"
        );
        assert!(!plan.iter().any(|p| p.contains("TEMP B-TREE")), "{filter:?}: sorted: {plan:?}");
    }
    conn.execute_batch("DROP INDEX offers_value").unwrap();
    drop(cat);
    let cat = SqliteCatalog::open(&_d.path().join("db/catalog.sqlite")).unwrap();
    let exists: bool = raw(&cat)
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'offers_value')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(exists, "the check at open builds the value index");
}

/// A whole-currency date listing reads its page by rank from `market_recent`, a filtered one
/// walks it (or with a store, `store_recent`) on its own columns, and a category's total is
/// `store_category_offers`' (the contract shows both equal sorting and counting; this shows
/// they come from the summary): a rank dropped from the summary drops out
/// of the page, a changed count changes the total, and with the summary marked stale the date
/// listing sorts every offer again.
#[test]
fn listings_read_the_market_summarys_newest_offers_and_counts() {
    use preciso_core::query::{OfferFilter, PageRequest, Sort};
    let (_d, cat) = open();
    let offers: Vec<Offer> = (0..5)
        .map(|i| offer("exito", &format!("S{i}"), &format!("olla {i}"), 1_000, 10 + i))
        .collect();
    preciso_core::testing::apply(&cat, "load", &offers);
    let filter =
        OfferFilter { currency: Some(Currency::parse("COP").unwrap()), ..Default::default() };
    let page = |cat: &SqliteCatalog| -> Vec<i64> {
        let who = preciso_core::ports::Personalization::default();
        let p = cat.list_offers(&filter, Sort::Date, PageRequest::default(), who).unwrap();
        p.items.iter().map(|s| s.offer.last_seen).collect()
    };
    assert_eq!(page(&cat), vec![14, 13, 12, 11, 10]);
    // Filtered by a store (`store_recent`) or anything else (`market_recent`), the page walks
    // the summary's newest offers: with their ranks reversed, so is the page.
    let dated = |cat: &SqliteCatalog, f: &OfferFilter| -> Vec<i64> {
        let who = preciso_core::ports::Personalization::default();
        let p = cat.list_offers(f, Sort::Date, PageRequest::default(), who).unwrap();
        p.items.iter().map(|s| s.offer.last_seen).collect()
    };
    let exito = OfferFilter { store: Some(StoreId::parse("exito").unwrap()), ..filter.clone() };
    let hogar = OfferFilter { category: Some("hogar".into()), ..filter.clone() };
    assert_eq!(dated(&cat, &exito), vec![14, 13, 12, 11, 10]);
    raw(&cat).execute("UPDATE store_recent SET rank = 10 - rank", []).unwrap();
    assert_eq!(dated(&cat, &exito), vec![10, 11, 12, 13, 14], "the store's newest");
    assert_eq!(dated(&cat, &hogar), vec![14, 13, 12, 11, 10]);
    raw(&cat).execute("UPDATE market_recent SET rank = 10 - rank", []).unwrap();
    assert_eq!(dated(&cat, &hogar), vec![10, 11, 12, 13, 14], "the currency's newest");
    raw(&cat).execute("UPDATE market_recent SET rank = 10 - rank", []).unwrap();
    // The walk filters on the list's copy of the offers' columns (migration 0039), reading
    // only the page's own offers: a listed offer whose copy names another category drops out.
    let two = |cat: &SqliteCatalog, f: &OfferFilter| -> Vec<i64> {
        let who = preciso_core::ports::Personalization::default();
        let p = cat.list_offers(f, Sort::Date, PageRequest { page: 1, limit: 2 }, who).unwrap();
        p.items.iter().map(|s| s.offer.last_seen).collect()
    };
    assert_eq!(two(&cat, &hogar), vec![14, 13]);
    raw(&cat)
        .execute("UPDATE market_recent SET category_key = 'otra' WHERE last_seen = 14", [])
        .unwrap();
    assert_eq!(two(&cat, &hogar), vec![13, 12], "filtered on the list's columns");
    raw(&cat)
        .execute(
            "UPDATE market_recent SET category_key =
                (SELECT o.category_key FROM offers o WHERE o.id = offer_id)",
            [],
        )
        .unwrap();
    raw(&cat).execute("DELETE FROM market_recent WHERE rank = 1", []).unwrap();
    assert_eq!(page(&cat), vec![14, 12, 11, 10], "read from the summary");
    // A category's total is the summary's count of its offers, not a count of the offers.
    let in_category = OfferFilter { category: Some("hogar".into()), ..filter.clone() };
    let total = |cat: &SqliteCatalog| {
        let who = preciso_core::ports::Personalization::default();
        cat.list_offers(&in_category, Sort::Price, PageRequest::default(), who).unwrap().total
    };
    assert_eq!(total(&cat), 5);
    raw(&cat).execute("UPDATE store_category_offers SET offers = 7", []).unwrap();
    assert_eq!(total(&cat), 7, "read from the summary");
    raw(&cat).execute_batch(preciso_sql::market::MARK).unwrap();
    assert_eq!(page(&cat), vec![14, 13, 12, 11, 10], "stale: sorted");
}

/// Five offers of one brand at exito in one run, in the same category, priced from 10.00 up
/// by `step` cents.
fn five_ollas(cat: &SqliteCatalog, step: i64) -> Vec<Offer> {
    let offers: Vec<Offer> = (0..5)
        .map(|i| offer("exito", &format!("S{i}"), &format!("olla {i}"), 1_000 + step * i, 10))
        .collect();
    preciso_core::testing::apply(cat, "load", &offers);
    offers
}

/// A category's best prices filtered by a store or a brand take their total from
/// `category_products` (the contract shows it equals counting; this shows it is read): a
/// changed count changes the total.
#[test]
fn category_best_prices_by_store_or_brand_read_their_total_from_the_summary() {
    use preciso_core::query::{OfferFilter, PageRequest};
    let (_d, cat) = open();
    five_ollas(&cat, 1);
    let filter = OfferFilter {
        currency: Some(Currency::parse("COP").unwrap()),
        category: Some("hogar".into()),
        store: Some(StoreId::parse("exito").unwrap()),
        ..Default::default()
    };
    let total = |cat: &SqliteCatalog| {
        let who = preciso_core::ports::Personalization::default();
        // A page of one: the pass stops before reading every match, so the total is looked up.
        cat.best_prices(&filter, PageRequest { page: 1, limit: 1 }, who).unwrap().total
    };
    assert_eq!(total(&cat), 5);
    raw(&cat).execute("UPDATE category_products SET products = 9", []).unwrap();
    assert_eq!(total(&cat), 9, "read from the summary");
}

/// A listing filtered by a brand alone takes its totals from the summary (the contract shows
/// they equal counting; this shows they are read): ranked offers from `brand_offers`, best
/// prices from `category_products`' row across every category.
#[test]
fn listings_by_a_brand_read_their_totals_from_the_summary() {
    use preciso_core::ports::Personalization;
    use preciso_core::query::{OfferFilter, PageRequest, Sort};
    let (_d, cat) = open();
    let offers = five_ollas(&cat, 1);
    let filter = OfferFilter {
        currency: Some(Currency::parse("COP").unwrap()),
        brand: offers[0].brand.clone(),
        ..Default::default()
    };
    let one = PageRequest { page: 1, limit: 1 };
    let who = Personalization::default();
    let ranked = |cat: &SqliteCatalog| cat.list_offers(&filter, Sort::Price, one, who).unwrap();
    let best = |cat: &SqliteCatalog| cat.best_prices(&filter, one, who).unwrap();
    assert_eq!((ranked(&cat).total, best(&cat).total), (5, 5));
    raw(&cat).execute("UPDATE brand_offers SET offers = 7", []).unwrap();
    raw(&cat)
        .execute("UPDATE category_products SET products = 9 WHERE category_key = ''", [])
        .unwrap();
    assert_eq!((ranked(&cat).total, best(&cat).total), (7, 9), "read from the summary");
}

/// A whole currency's value-sorted pages are read by rank from `market_value` (the contract
/// shows they equal scoring every offer; this shows they are read): the ranks reversed, so is
/// the page; with the summary marked stale the listing walks the value index again.
#[test]
fn value_pages_of_a_currency_read_the_market_summarys_list() {
    use preciso_core::ports::Personalization;
    use preciso_core::query::{OfferFilter, PageRequest, Sort};
    let (_d, cat) = open();
    five_ollas(&cat, 300);
    let filter =
        OfferFilter { currency: Some(Currency::parse("COP").unwrap()), ..Default::default() };
    let page = |cat: &SqliteCatalog| -> Vec<(i64, f64)> {
        let who = Personalization::default();
        let p = cat.list_offers(&filter, Sort::Value, PageRequest::default(), who).unwrap();
        p.items.iter().map(|s| (s.offer.id.as_i64(), s.value_score)).collect()
    };
    let ranked = page(&cat);
    assert_eq!(ranked.len(), 5);
    assert!(ranked.windows(2).all(|w| w[0].1 > w[1].1), "best first: {ranked:?}");
    let listed: i64 =
        raw(&cat).query_row("SELECT count(*) FROM market_value", [], |r| r.get(0)).unwrap();
    assert_eq!(listed, 5, "the currency's every offer, fewer than kept");
    raw(&cat).execute("UPDATE market_value SET rank = 10 - rank", []).unwrap();
    let reversed: Vec<(i64, f64)> = ranked.iter().rev().copied().collect();
    assert_eq!(page(&cat), reversed, "read from the summary");
    raw(&cat).execute_batch(preciso_sql::market::MARK).unwrap();
    assert_eq!(page(&cat), ranked, "stale: walked");
}

/// Listings that pin an index answer the same while it is missing (an initial load drops the
/// offers' indexes as it appends), with their statements already cached from before.
#[test]
fn listings_that_pin_an_index_answer_while_it_is_missing() {
    use preciso_core::ports::Personalization;
    use preciso_core::query::{OfferFilter, PageRequest, Sort};
    let (_d, cat) = open();
    let offers: Vec<Offer> = (0..6)
        .map(|i| {
            offer(
                ["exito", "jumbo"][i % 2],
                &format!("S{i}"),
                &format!("olla {i}"),
                900 + i as i64,
                10,
            )
        })
        .collect();
    preciso_core::testing::apply(&cat, "load", &offers);
    let cop = Some(Currency::parse("COP").unwrap());
    let store = Some(StoreId::parse("exito").unwrap());
    let by_store = OfferFilter { currency: cop, store: store.clone(), ..Default::default() };
    let in_category =
        OfferFilter { currency: cop, category: Some("hogar".into()), ..Default::default() };
    let who = Personalization::default();
    let answers = |cat: &SqliteCatalog| {
        let page = PageRequest::default();
        let listed = |sort| -> Vec<i64> {
            let items = cat.list_offers(&in_category, sort, page, who).unwrap().items;
            items.iter().map(|s| s.offer.id.as_i64()).collect()
        };
        let best = cat.best_prices(&by_store, page, who).unwrap().items;
        let best: Vec<i64> = best.iter().map(|b| b.offer.id.as_i64()).collect();
        (best, listed(Sort::Rating), listed(Sort::Value), listed(Sort::Price))
    };
    let before = answers(&cat);
    assert_eq!(before.0.len(), 3);
    for index in ["offers_store", "offers_rating", "offers_value", "offers_category"] {
        raw(&cat).execute_batch(&format!("DROP INDEX {index}")).unwrap();
    }
    assert_eq!(answers(&cat), before);
}

/// A trending listing counts its drops along a covering index — the one leading with its
/// store, brand or category filter (migration 0037) when it has one and no currency — and
/// reads its page from the drops' indexes alone: along the rank index from the largest drop
/// (what the adapter pins for many matches) or along its filter's index (for few).
#[test]
fn trending_reads_the_drop_indexes_alone() {
    use preciso_core::query::{OfferFilter, PageRequest};
    let (_d, cat) = open();
    preciso_core::testing::apply(&cat, "load", &[offer("exito", "A", "olla", 1_000, 1)]);
    let conn = raw(&cat);
    let cop = Some(Currency::parse("COP").unwrap());
    let exito = Some(StoreId::parse("exito").unwrap());
    let bounds = OfferFilter {
        min_price: preciso_core::query::Decimal::parse("1"),
        max_price: preciso_core::query::Decimal::parse("50000"),
        ..Default::default()
    };
    let filters = [
        OfferFilter::default(),
        OfferFilter { store: exito.clone(), ..Default::default() },
        OfferFilter { category: Some("hogar".into()), ..Default::default() },
        OfferFilter { brand: Some("acme".into()), ..Default::default() },
        bounds.clone(),
    ];
    let with_currency = filters.clone().map(|f| OfferFilter { currency: cop, ..f });
    for filter in filters.iter().chain(&with_currency) {
        let count = preciso_sql::reads::trending_count(0, filter).query();
        let plan = query_plan(&conn, &count);
        assert!(
            plan.iter().any(|p| p.contains("COVERING INDEX offer_drops_")),
            "{filter:?}: {plan:?}"
        );
        let own = preciso_sql::reads::drop_filter_index(filter);
        if let (Some(index), None) = (own, filter.currency) {
            assert!(plan.iter().any(|p| p.contains(index)), "{filter:?}: {plan:?}");
        }
        for index in own.into_iter().chain(["offer_drops_rank"]) {
            let drops = format!("offer_drops o INDEXED BY {index}");
            let page =
                preciso_sql::reads::trending_page(0, filter, PageRequest::default(), &drops, None);
            let plan = query_plan(&conn, &page);
            let covering = format!("COVERING INDEX {index}");
            assert!(plan.iter().any(|p| p.contains(&covering)), "{filter:?}: {plan:?}");
        }
    }
}

/// A category's price-sorted page walks `offers_category` once per key under the category,
/// each in price order (pinned by the adapter), cheapest or dearest first, with a price bound
/// too: no sort of the category's offers.
#[test]
fn a_categorys_price_walks_read_the_category_index_in_order() {
    use preciso_core::query::{Decimal, OfferFilter, PageRequest, Sort};
    let (_d, cat) = open();
    preciso_core::testing::apply(&cat, "load", &[offer("exito", "A", "olla", 1_000, 1)]);
    let conn = raw(&cat);
    let cop = Some(Currency::parse("COP").unwrap());
    let keys = vec!["hogar/cocina".to_string(), "hogar/sala".to_string()];
    for (sort, min_price) in [(Sort::Price, None), (Sort::PriceDesc, Decimal::parse("10"))] {
        let filter = OfferFilter {
            currency: cop,
            category: Some("hogar".into()),
            min_price,
            ..Default::default()
        };
        let from = "offers o INDEXED BY offers_category";
        let page = PageRequest::default();
        let walks =
            preciso_sql::reads::price_by_keys(&filter, sort, page, None, &keys, from).unwrap();
        assert_eq!(walks.len(), 2);
        for q in walks {
            let plan = query_plan(&conn, &q);
            assert!(plan.iter().any(|p| p.contains("INDEX offers_category")), "{sort:?}: {plan:?}");
            let sorted = plan.iter().any(|p| p.contains("TEMP B-TREE FOR ORDER BY"));
            assert!(!sorted, "{sort:?}: {plan:?}");
        }
    }
}

#[test]
fn products_keep_no_grouping_key_and_a_gtin_finds_its_product_by_its_row() {
    let (_d, cat) = open();
    let mut with_gtin = offer("exito", "G", "televisor 50", 1_500_000, 1);
    let gtin = Gtin::parse("7702032101054").unwrap();
    with_gtin.product_id = product_id(&product_key(Some(&gtin), ""));
    with_gtin.gtin = Some(gtin.clone());
    preciso_core::testing::apply(
        &cat,
        "day1",
        &[with_gtin.clone(), offer("exito", "A", "olla", 5, 1)],
    );
    let columns: Vec<String> = raw(&cat)
        .prepare("SELECT name FROM pragma_table_info('products')")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    // The key (`gtin:…`, `bt:brand|title`) follows from these; only its hash, the id, is kept.
    assert_eq!(columns, ["id", "gtin", "brand", "title", "category", "created_at"]);
    assert_eq!(cat.product_by_gtin(&gtin).unwrap(), Some(with_gtin.product_id));
    // A row under that id with another GTIN (a hash collision) is not taken for it.
    raw(&cat)
        .execute("UPDATE products SET gtin = '7702032101061' WHERE gtin IS NOT NULL", [])
        .unwrap();
    assert_eq!(cat.product_by_gtin(&gtin).unwrap(), None);
}

/// The value score a sort computes (`VALUE_SCORE`, with the median joined) is the own part
/// plus `ranking::price_points` bit for bit: the value scan adds the points in Rust.
#[test]
fn the_value_score_is_the_own_part_plus_the_price_points() {
    use preciso_sql::{VALUE_OWN, VALUE_SCORE};
    let (_d, cat) = open();
    preciso_core::testing::value_score_catalog(&cat);
    let sql = format!(
        "SELECT {VALUE_SCORE}, CAST({VALUE_OWN} AS DOUBLE PRECISION), o.price_minor, cs.median_minor
         FROM offers o LEFT JOIN category_stats cs
           ON cs.category_key = o.category_key AND cs.currency = o.currency"
    );
    let conn = raw(&cat);
    let rows: Vec<(f64, f64, i64, Option<i64>)> = conn
        .prepare(&sql)
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    preciso_core::testing::assert_value_scores(&rows);
}

/// A run that changed no offer keeps the category price analyses (re-reading every
/// category's prices was a tenth of an unchanged 1M re-ingest); the storage contract's check,
/// given SQLite's raw access.
#[test]
fn an_unchanged_run_keeps_the_price_analyses_and_a_change_rebuilds_them() {
    let (_d, cat) = open();
    let plant =
        || raw(&cat).execute("UPDATE price_analysis SET max_minor = 777", []).map(drop).unwrap();
    let mark = || raw(&cat).execute(preciso_sql::market::MARK, []).map(drop).unwrap();
    preciso_core::testing::unchanged_runs_keep_the_price_analyses(&cat, &plant, &mark);
}

/// A span that no longer holds every price (a batch committed between the span's read and the
/// listing's, planted here) never widens a listing: its page is checked against the bounds as
/// given and read again with them.
#[test]
fn a_stale_price_span_never_lets_a_price_past_the_bounds() {
    use preciso_core::ports::Personalization;
    use preciso_core::query::{Decimal, OfferFilter, PageRequest, read_with_met_bounds_lifted};
    use preciso_core::testing::{Fixture, apply};
    let (_d, cat) = open();
    let cop = Currency::parse("COP").unwrap();
    let offers = [("A", 5_000), ("C", 9_000)]
        .map(|(sku, price)| Fixture { sku, title: sku, price, ..Default::default() }.offer());
    apply(&cat, "day1", &offers);
    raw(&cat).execute("UPDATE price_analysis SET min_minor = 6000", []).unwrap();
    let filter = OfferFilter {
        category: Some("hogar".into()),
        currency: Some(cop),
        min_price: Some(Decimal { mantissa: 6_000, scale: u32::from(cop.exponent()) }),
        ..Default::default()
    };
    assert_eq!(cat.price_span("hogar", cop).unwrap(), Some((6_000, 9_000)), "planted");
    let page = PageRequest { page: 1, limit: 10 };
    let read = |f: &OfferFilter| cat.best_prices(f, page, Personalization::default());
    let listed = read_with_met_bounds_lifted(
        &cat,
        &filter,
        |b: &preciso_core::ports::BestOffer| b.offer.price.minor,
        read,
    )
    .unwrap();
    let prices: Vec<i64> = listed.items.iter().map(|b| b.offer.price.minor).collect();
    assert_eq!(prices, [9_000], "A (5,000) is under the bound as given");
    assert_eq!(listed.total, 1);
}

/// A read by key is quick (and may run on an async worker) only with its key indexes in
/// place: an initial load drops them until its end, here or in another process.
#[test]
fn reads_by_key_are_quick_only_with_their_indexes() {
    let (_d, cat) = open();
    preciso_core::testing::apply(
        &cat,
        "day1",
        &[preciso_core::testing::Fixture::default().offer()],
    );
    assert!(cat.reads_by_key_quick());
    raw(&cat).execute_batch("DROP INDEX offers_product").unwrap();
    // The answer is kept for a second (a lookup per request cost a tenth of a comparison).
    std::thread::sleep(std::time::Duration::from_millis(1_100));
    assert!(!cat.reads_by_key_quick(), "a product's offers would scan the table");
}
