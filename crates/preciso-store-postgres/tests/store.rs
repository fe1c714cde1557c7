//! The storage contract against PostgreSQL. Runs when `PRECISO_TEST_PG_URL` points at a server
//! whose user may create databases (CI sets it); each test gets a fresh database, dropped
//! after. Without the variable every test prints that it was skipped and passes.

use postgres::{Client, NoTls};
use preciso_core::domain::{IngestCounts, IngestStatus, StoreId};
use preciso_core::ports::{CatalogRead, CatalogStore};
use preciso_core::testing::new_file;
use preciso_store_postgres::PgCatalog;
use preciso_store_postgres::testing::TempDb;

fn fresh() -> Option<(TempDb, Box<dyn preciso_core::ports::Catalog>)> {
    let db = TempDb::create("contract")?;
    let catalog = PgCatalog::open(&db.url).expect("open test database");
    Some((db, Box::new(catalog)))
}

mod contract {
    use super::fresh;
    preciso_core::contract_tests!(fresh());
}

#[test]
fn unreachable_servers_fail_clearly_without_echoing_the_password() {
    let err = PgCatalog::open("postgres://user:s3cret@127.0.0.1:1/db")
        .err()
        .expect("nothing listens on port 1");
    let text = err.to_string();
    assert!(text.contains("cannot connect to PostgreSQL"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
}

/// The offers indexes, the products' search index, the primary keys of offers, products and
/// price history, and the catalog's foreign keys that exist, sorted (a key's index as
/// `name index`, its constraint as `name key`).
fn deferrable_objects(url: &str) -> Vec<String> {
    let mut c = Client::connect(url, NoTls).unwrap();
    c.query(
        "SELECT indexname::text || ' index' FROM pg_indexes
         WHERE tablename = 'offers' OR indexname IN ('products_search', 'products_pkey',
             'price_history_pkey')
         UNION ALL
         SELECT conname::text || ' key' FROM pg_constraint
         WHERE contype IN ('f', 'p')
           AND conrelid IN ('offers'::regclass, 'products'::regclass, 'price_history'::regclass)
         ORDER BY 1",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

fn offers(skus: &[&str], price: i64) -> Vec<preciso_core::domain::Offer> {
    skus.iter()
        .map(|sku| preciso_core::testing::Fixture { sku, price, ..Default::default() }.offer())
        .collect()
}

#[test]
fn an_initial_load_defers_indexes_and_keys_to_its_end_and_later_runs_keep_them() {
    let Some(db) = TempDb::create("store") else { return };
    let url = db.url.clone();
    let catalog = PgCatalog::open(&url).unwrap();
    let all = deferrable_objects(&url);
    assert_eq!(
        all.len(),
        19,
        "nine offers indexes, the search index, three primary keys (index and constraint), \
         three foreign keys: {all:?}"
    );

    let mut load = catalog.begin_ingest(&new_file("initial"), false).unwrap();
    load.apply_batch(&offers(&["a", "b"], 1_000), &IngestCounts::default()).unwrap();
    assert_eq!(deferrable_objects(&url), Vec::<String>::new(), "an initial load defers them all");
    load.finish(IngestStatus::Done, None).unwrap();
    assert_eq!(deferrable_objects(&url), all, "its end builds every one again");
    // The best-offer summary was filled empty, its page index built after the rows.
    let mut c = Client::connect(&url, NoTls).unwrap();
    let order = "SELECT count(*) FROM pg_indexes WHERE indexname = 'product_best_order'";
    assert_eq!(c.query_one(order, &[]).unwrap().get::<_, i64>(0), 1);
    let best = "SELECT count(*) FROM product_best";
    assert!(c.query_one(best, &[]).unwrap().get::<_, i64>(0) > 0);

    // A catalog with offers: the next run defers nothing.
    let mut next = catalog.begin_ingest(&new_file("next"), false).unwrap();
    next.apply_batch(&offers(&["c"], 2_000), &IngestCounts::default()).unwrap();
    assert_eq!(deferrable_objects(&url), all);
    next.finish(IngestStatus::Done, None).unwrap();
    assert_eq!(catalog.counts().unwrap().offers, 3);
}

#[test]
fn opening_the_catalog_rebuilds_what_a_crashed_initial_load_deferred() {
    let Some(db) = TempDb::create("store") else { return };
    let url = db.url.clone();
    let catalog = PgCatalog::open(&url).unwrap();
    let all = deferrable_objects(&url);
    let mut load = catalog.begin_ingest(&new_file("initial"), false).unwrap();
    load.apply_batch(&offers(&["a", "b"], 1_000), &IngestCounts::default()).unwrap();
    drop(load);
    drop(catalog);
    assert!(deferrable_objects(&url).is_empty(), "the crashed load left them unbuilt");

    let reopened = PgCatalog::open(&url).unwrap();
    assert_eq!(deferrable_objects(&url), all);
    // And the primary keys: an offer stored twice is refused.
    let mut c = Client::connect(&url, NoTls).unwrap();
    let err = c
        .batch_execute(
            "INSERT INTO offers SELECT * FROM offers WHERE id = (SELECT min(id) FROM offers)",
        )
        .unwrap_err();
    let violated = err.as_db_error().and_then(|e| e.constraint());
    assert_eq!(violated, Some("offers_pkey"), "{err:?}");
    // The foreign keys hold again: an offer of an unknown product is refused.
    let err = c
        .batch_execute("UPDATE offers SET product_id = 42 WHERE id = (SELECT min(id) FROM offers)")
        .unwrap_err();
    let violated = err.as_db_error().and_then(|e| e.constraint());
    assert_eq!(violated, Some("offers_product_id_fkey"), "{err:?}");
    assert_eq!(reopened.counts().unwrap().offers, 2);
}

/// `count` fixture offers (skus `sku-0`, `sku-1`, …) as scraped at `at`: one day's scrape.
fn offers_seen_at(count: usize, at: i64) -> Vec<preciso_core::domain::Offer> {
    (0..count)
        .map(|n| {
            let sku = format!("sku-{n}");
            preciso_core::testing::Fixture { sku: &sku, at, ..Default::default() }.offer()
        })
        .collect()
}

#[test]
fn a_run_that_touches_every_offer_updates_them_in_place() {
    let Some(db) = TempDb::create("store") else { return };
    let url = db.url.clone();
    let catalog = PgCatalog::open(&url).unwrap();
    preciso_core::testing::apply(&catalog, "day-1", &offers_seen_at(300, 1_000));
    let heap_bytes = || -> i64 {
        let mut c = Client::connect(&url, NoTls).unwrap();
        c.query_one("SELECT pg_relation_size('offers')", &[]).unwrap().get(0)
    };
    let before = heap_bytes();
    // The next day every offer is seen again unchanged: each one's `last_seen` moves.
    let counts = preciso_core::testing::apply(&catalog, "day-2", &offers_seen_at(300, 2_000));
    assert_eq!(counts.unchanged, 300);
    assert_eq!(heap_bytes(), before, "each new row version fits on its own page");
}

#[test]
fn after_a_run_the_offers_pages_are_all_visible_for_index_only_reads() {
    let Some(db) = TempDb::create("store") else { return };
    let url = db.url.clone();
    let catalog = PgCatalog::open(&url).unwrap();
    let visibility = || -> (i32, i32) {
        let mut c = Client::connect(&url, NoTls).unwrap();
        // ANALYZE counts the visibility map's all-visible pages afresh; `relallvisible` alone
        // would still hold the count of the last VACUUM.
        c.batch_execute("ANALYZE offers").unwrap();
        let r = c
            .query_one("SELECT relpages, relallvisible FROM pg_class WHERE relname = 'offers'", &[])
            .unwrap();
        (r.get(0), r.get(1))
    };
    for (name, at) in [("day-1", 1_000), ("day-2", 2_000)] {
        preciso_core::testing::apply(&catalog, name, &offers_seen_at(500, at));
        let (pages, visible) = visibility();
        assert!(pages > 0, "{name}: the table has pages");
        assert_eq!(visible, pages, "{name}: every page is marked all-visible");
    }
}

#[test]
fn two_runs_into_an_empty_catalog_at_once_both_land_with_indexes_keys_and_summary_whole() {
    let Some(db) = TempDb::create("store") else { return };
    let url = db.url.clone();
    let catalog = PgCatalog::open(&url).unwrap();
    let all = deferrable_objects(&url);
    // Two stores load the same products (titles) at the same time into an empty catalog: one
    // run is the initial load, the other waits for its end and writes by key.
    std::thread::scope(|s| {
        for (store, price) in [("exito", 1_000), ("alkosto", 900)] {
            let catalog = &catalog;
            s.spawn(move || {
                let mut run = catalog.begin_ingest(&new_file(store), false).unwrap();
                for batch in 0..3 {
                    let offers: Vec<_> = (0..50)
                        .map(|n| {
                            let title = format!("producto {batch}-{n}");
                            preciso_core::testing::Fixture {
                                store,
                                sku: &title,
                                title: &title,
                                price: price + n,
                                ..Default::default()
                            }
                            .offer()
                        })
                        .collect();
                    run.apply_batch(&offers, &IngestCounts::default()).unwrap();
                }
                run.finish(IngestStatus::Done, None).unwrap();
            });
        }
    });
    assert_eq!(deferrable_objects(&url), all);
    assert_eq!(catalog.counts().unwrap().offers, 300);
    let mut c = Client::connect(&url, NoTls).unwrap();
    let wrong: i64 = c
        .query_one(
            "SELECT count(*) FROM
               (SELECT product_id, min(price_minor) AS cheapest FROM offers
                WHERE availability <> 'out_of_stock' GROUP BY product_id) s
             FULL JOIN (SELECT product_id, price_minor FROM product_best WHERE scope = '') b
               USING (product_id)
             WHERE s.cheapest IS DISTINCT FROM b.price_minor",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(wrong, 0, "every product's summary row is its cheapest offer");
    let products: i64 =
        c.query_one("SELECT count(*) FROM product_best WHERE scope = ''", &[]).unwrap().get(0);
    assert_eq!(products, 150, "both stores' offers of a title are one product");
}

#[test]
fn a_run_beside_an_initial_load_waits_for_its_end_and_nothing_builds_under_it() {
    let Some(db) = TempDb::create("store") else { return };
    let url = db.url.clone();
    let catalog = PgCatalog::open(&url).unwrap();
    let all = deferrable_objects(&url);
    let mut load = catalog.begin_ingest(&new_file("initial"), false).unwrap();
    load.apply_batch(&offers(&["a", "b"], 1_000), &IngestCounts::default()).unwrap();
    // Another process opens the catalog, and starts a run, while the load goes on.
    let other = PgCatalog::open(&url).unwrap();
    assert!(deferrable_objects(&url).is_empty(), "the running load keeps them deferred");
    // What the test saw while the load ran, asserted once it ended (a failed assertion
    // inside the scope would leave the other run waiting for the load for hours).
    let (waited, deferred, counts) = std::thread::scope(|s| {
        let beside =
            s.spawn(|| preciso_core::testing::apply(&other, "other", &offers(&["c"], 2_000)));
        std::thread::sleep(std::time::Duration::from_millis(500));
        let waited = !beside.is_finished();
        let deferred = deferrable_objects(&url).is_empty();
        load.apply_batch(&offers(&["d"], 3_000), &IngestCounts::default()).unwrap();
        load.finish(IngestStatus::Done, None).unwrap();
        (waited, deferred, beside.join().unwrap())
    });
    assert!(waited, "the other run waits while the keys are dropped");
    assert!(deferred, "and builds nothing under the load");
    assert_eq!(counts.inserted, 1, "then it writes, by key");
    assert_eq!(deferrable_objects(&url), all, "the load's end builds them");
    assert_eq!(catalog.counts().unwrap().offers, 4);
}

/// An initial load's records of offers it wrote already wait for its end and are written
/// then, by key, in file order: counts, prices and history as an ordinary run's.
#[test]
fn an_initial_load_replays_its_repeats_once_the_keys_exist() {
    let Some(db) = TempDb::create("store") else { return };
    let catalog = PgCatalog::open(&db.url).unwrap();
    let at = |sku, price, at| {
        preciso_core::testing::Fixture { sku, price, at, ..Default::default() }.offer()
    };
    let mut load = catalog.begin_ingest(&new_file("initial"), false).unwrap();
    let first = load
        .apply_batch(
            &[at("a", 1_000, 100), at("a", 900, 200), at("b", 500, 100)],
            &IngestCounts::default(),
        )
        .unwrap();
    assert_eq!((first.inserted, first.updated), (2, 0), "the repeat waits");
    load.apply_batch(&[at("a", 900, 300), at("b", 450, 300)], &IngestCounts::default()).unwrap();
    let ledger = load.finish(IngestStatus::Done, None).unwrap().unwrap().counts;
    assert_eq!((ledger.inserted, ledger.updated, ledger.unchanged), (2, 2, 1));
    let a = at("a", 0, 0);
    let history: Vec<(i64, i64)> = catalog
        .offer_history(a.id)
        .unwrap()
        .iter()
        .map(|p| (p.observed_at, p.price.minor))
        .collect();
    assert_eq!(history, [(100, 1_000), (200, 900)]);
    let mut c = Client::connect(&db.url, NoTls).unwrap();
    let row = c
        .query_one(
            "SELECT price_minor, prev_price_minor, last_seen FROM offers WHERE id = $1",
            &[&a.id.as_i64()],
        )
        .unwrap();
    assert_eq!(
        (row.get::<_, i64>(0), row.get::<_, Option<i64>>(1), row.get::<_, i64>(2)),
        (900, Some(1_000), 300)
    );
    let side: i64 = c
        .query_one("SELECT count(*) FROM pg_class WHERE relname = 'bulk_products'", &[])
        .unwrap()
        .get(0);
    assert_eq!(side, 0, "the load's table of products set aside is gone");
}

/// A load into a catalog whose offers were all deleted, its products kept: every product it
/// writes may be stored already, and each id keeps one row (the stored one), also when the
/// load is killed and the next open ends it.
#[test]
fn a_load_beside_stored_products_keeps_one_row_per_product_even_when_killed() {
    let Some(db) = TempDb::create("store") else { return };
    let url = db.url.clone();
    for killed in [false, true] {
        let catalog = PgCatalog::open(&url).unwrap();
        preciso_core::testing::apply(&catalog, "first", &offers(&["a", "b"], 1_000));
        let mut c = Client::connect(&url, NoTls).unwrap();
        c.batch_execute(
            "DELETE FROM trend_dirty; DELETE FROM price_history; DELETE FROM offers;
             UPDATE products SET title = 'stored title'",
        )
        .unwrap();
        let mut load = catalog.begin_ingest(&new_file("again"), false).unwrap();
        load.apply_batch(&offers(&["a", "c"], 2_000), &IngestCounts::default()).unwrap();
        assert!(deferrable_objects(&url).is_empty(), "an initial load again");
        if killed {
            drop(load);
            drop(catalog);
            PgCatalog::open(&url).unwrap();
        } else {
            load.finish(IngestStatus::Done, None).unwrap();
        }
        let rows: Vec<(i64, String)> = c
            .query("SELECT count(*), min(title) FROM products GROUP BY id", &[])
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        assert_eq!(rows, [(1, "stored title".to_string())], "killed: {killed}");
        assert_eq!(deferrable_objects(&url).len(), 19, "killed: {killed}");
        c.batch_execute("DELETE FROM trend_dirty; DELETE FROM price_history; DELETE FROM offers")
            .unwrap();
    }
}

/// `sslmode` as libpq means it, against the CI server whose certificate a throwaway CA signed
/// (`.ci/pg-tls.sh`): `require` encrypts, `verify-full` accepts that CA and refuses another.
#[test]
fn sslmode_is_honoured_as_libpq_does() {
    let var = |name| std::env::var(name).ok();
    let (Some(url), Some(ca), Some(other)) =
        (var("PRECISO_TEST_PG_URL"), var("PRECISO_TEST_PG_CA"), var("PRECISO_TEST_PG_OTHER_CA"))
    else {
        eprintln!("skipped: PRECISO_TEST_PG_CA is not set (run .ci/pg-tls.sh; CI does)");
        return;
    };
    let with = |params: &str| {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}{params}")
    };
    let encrypted = |params: &str| -> Result<bool, String> {
        let mut c = preciso_store_postgres::connect(&with(params)).map_err(|e| e.to_string())?;
        let row = c
            .query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[])
            .map_err(|e| e.to_string())?;
        Ok(row.get(0))
    };
    assert_eq!(encrypted("sslmode=disable"), Ok(false));
    assert_eq!(encrypted("sslmode=require"), Ok(true));
    assert_eq!(encrypted("sslmode=prefer"), Ok(true));
    assert_eq!(encrypted(&format!("sslmode=verify-ca&sslrootcert={ca}")), Ok(true));
    assert_eq!(encrypted(&format!("sslmode=verify-full&sslrootcert={ca}")), Ok(true));
    let refused = encrypted(&format!("sslmode=verify-full&sslrootcert={other}"));
    assert!(refused.as_ref().is_err_and(|e| e.contains("cannot connect")), "{refused:?}");
    let refused = encrypted(&format!("sslmode=verify-ca&sslrootcert={other}"));
    assert!(refused.is_err(), "{refused:?}");
    // The whole catalog opens over a verified connection.
    let db = TempDb::create("tls").expect("the server is reachable");
    let sep = if db.url.contains('?') { '&' } else { '?' };
    let verified = format!("{}{sep}sslmode=verify-full&sslrootcert={ca}", db.url);
    let catalog = PgCatalog::open(&verified).expect("open over verify-full");
    assert_eq!(catalog.counts().unwrap().offers, 0);
}

/// A load (`replace_all`: restore, `preciso copy`) leaves the catalog analyzed and its offers'
/// pages all-visible, as an ingest run does, so its first readers get planned on statistics
/// and read the indexes alone.
#[test]
fn a_loaded_catalog_is_analyzed_and_visible_for_index_only_reads() {
    use preciso_core::ports::{CatalogDump, Cell};
    let Some(source_db) = TempDb::create("store") else { return };
    let Some(target_db) = TempDb::create("store") else { return };
    let source = PgCatalog::open(&source_db.url).unwrap();
    preciso_core::testing::apply(&source, "day-1", &offers_seen_at(500, 1_000));
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
    let target = PgCatalog::open(&target_db.url).unwrap();
    target
        .replace_all(&mut |loader| {
            tables.iter().try_for_each(|(table, rows)| loader.load(table, rows))
        })
        .unwrap();
    assert_offers_analyzed_and_visible(&target_db.url, "a restore");

    // `preciso copy` loads table by table, then `after_load`: the same holds.
    let Some(copied_db) = TempDb::create("store") else { return };
    let copied = PgCatalog::open(&copied_db.url).unwrap();
    for (table, rows) in &tables {
        copied.load(table, rows).unwrap();
    }
    copied.after_load().unwrap();
    assert_offers_analyzed_and_visible(&copied_db.url, "a copy");
}

/// `offers` has statistics (pages, rows) and every page marked all-visible.
fn assert_offers_analyzed_and_visible(url: &str, after: &str) {
    let mut c = Client::connect(url, NoTls).unwrap();
    let r = c
        .query_one(
            "SELECT relpages, relallvisible, reltuples FROM pg_class WHERE relname = 'offers'",
            &[],
        )
        .unwrap();
    let (pages, visible, tuples): (i32, i32, f32) = (r.get(0), r.get(1), r.get(2));
    assert!(pages > 0 && tuples >= 500.0, "after {after}: {pages} pages, {tuples} rows");
    assert_eq!(visible, pages, "after {after} every page is marked all-visible");
}

/// The price history has one index, its primary key, which carries the columns the forensic
/// scan reads (migration 0033: a separate covering index repeated every key), after a load and
/// a later run alike; products keep no grouping key (0032).
#[test]
fn the_history_key_covers_the_forensic_scan_and_products_keep_no_key() {
    let Some(db) = TempDb::create("store") else { return };
    let cat = PgCatalog::open(&db.url).unwrap();
    preciso_core::testing::apply(&cat, "day-1", &offers(&["A", "B"], 5_000));
    preciso_core::testing::apply(&cat, "day-2", &offers(&["A", "C"], 4_000));
    let mut c = Client::connect(&db.url, NoTls).unwrap();
    let indexes: Vec<String> = c
        .query("SELECT indexdef FROM pg_indexes WHERE tablename = 'price_history'", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(indexes.len(), 1, "{indexes:?}");
    assert!(
        indexes[0].contains(
            "(offer_id, observed_at) INCLUDE (currency, price_minor, list_price_minor, arrival)"
        ),
        "{indexes:?}"
    );
    // Three rows: the planner would read the table; what matters is that the index can serve.
    c.batch_execute("SET enable_seqscan = off").unwrap();
    let plan: String = c
        .query(
            "EXPLAIN SELECT offer_id, observed_at, price_minor, list_price_minor, arrival, currency
                FROM price_history ORDER BY offer_id, observed_at",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(plan.contains("Index Only Scan using price_history_pkey"), "{plan}");
    assert!(!preciso_store_postgres::testing::has_column(&mut c, "products", "key"));
}

/// The value score a sort computes (`VALUE_SCORE`, with the median joined) is the own part
/// plus `ranking::price_points` bit for bit: the value scan adds the points in Rust.
#[test]
fn the_value_score_is_the_own_part_plus_the_price_points() {
    use preciso_sql::{VALUE_OWN, VALUE_SCORE};
    let Some(db) = TempDb::create("store") else { return };
    let catalog = PgCatalog::open(&db.url).unwrap();
    preciso_core::testing::value_score_catalog(&catalog);
    let sql = format!(
        "SELECT {VALUE_SCORE}, CAST({VALUE_OWN} AS DOUBLE PRECISION), o.price_minor, cs.median_minor
         FROM offers o LEFT JOIN category_stats cs
           ON cs.category_key = o.category_key AND cs.currency = o.currency"
    );
    let mut c = Client::connect(&db.url, NoTls).unwrap();
    let rows: Vec<(f64, f64, i64, Option<i64>)> = c
        .query(&sql, &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    preciso_core::testing::assert_value_scores(&rows);
}

/// A run that changed no offer keeps the category price analyses; the storage contract's
/// check, given PostgreSQL's raw access.
#[test]
fn an_unchanged_run_keeps_the_price_analyses_and_a_change_rebuilds_them() {
    let Some(db) = TempDb::create("price_kept") else { return };
    let catalog = PgCatalog::open(&db.url).unwrap();
    let sql = |statement: &str| {
        Client::connect(&db.url, NoTls).unwrap().batch_execute(statement).unwrap()
    };
    let plant = || sql("UPDATE price_analysis SET max_minor = 777");
    let mark = || sql(preciso_sql::market::MARK);
    preciso_core::testing::unchanged_runs_keep_the_price_analyses(&catalog, &plant, &mark);
}

/// A text search ranks by the offer counts on the products' rows (migration 0046) while no
/// product waits for its summary refresh, and counts the offers while one does.
#[test]
fn a_search_ranks_by_the_stored_counts_unless_a_refresh_is_pending() {
    use preciso_core::testing::Fixture;
    let Some(db) = TempDb::create("ranked") else { return };
    let catalog = PgCatalog::open(&db.url).unwrap();
    let red = Fixture { sku: "R", title: "Olla Roja", ..Default::default() };
    let blue = Fixture { sku: "B", title: "Olla Azul", ..Default::default() };
    preciso_core::testing::apply(&catalog, "day-1", &[red.offer(), blue.offer()]);
    let ranked = || -> Vec<(String, u64)> {
        catalog.search_products("olla", 10).unwrap().into_iter().map(|(_, t, n)| (t, n)).collect()
    };
    let mut c = Client::connect(&db.url, NoTls).unwrap();
    c.batch_execute("UPDATE products SET offers = 7 WHERE title = 'Olla Azul'").unwrap();
    assert_eq!(ranked()[0], ("Olla Azul".to_string(), 7), "read from the row");
    c.batch_execute(preciso_sql::best::MARK_PRODUCT.replace('?', "0").as_str()).unwrap();
    assert_eq!(
        ranked().iter().map(|(_, n)| *n).collect::<Vec<_>>(),
        vec![1, 1],
        "counted while a mark waits"
    );
}

/// A run that marks few of many products recounts those alone (`best::recount` with the
/// marks): the one that gained an offer counts it, the others keep theirs — even one planted
/// wrong, which a whole recount would have corrected.
#[test]
fn a_run_that_marks_few_products_recounts_them() {
    use preciso_core::testing::Fixture;
    let Some(db) = TempDb::create("recount") else { return };
    let catalog = PgCatalog::open(&db.url).unwrap();
    let titles: Vec<String> = (0..10).map(|i| format!("Olla {i}")).collect();
    let pots: Vec<_> = titles
        .iter()
        .map(|title| Fixture { sku: title, title, ..Default::default() }.offer())
        .collect();
    preciso_core::testing::apply(&catalog, "day-1", &pots);
    let mut c = Client::connect(&db.url, NoTls).unwrap();
    c.batch_execute("ANALYZE products").unwrap();
    let estimate: f32 = c
        .query_one("SELECT reltuples FROM pg_class WHERE relname = 'products'", &[])
        .unwrap()
        .get(0);
    assert_eq!(estimate, 10.0, "one mark of ten products: a partial recount");
    c.batch_execute("UPDATE products SET offers = 5 WHERE title = 'Olla 7'").unwrap();
    let more =
        Fixture { store: "jumbo", sku: "J", title: "Olla 3", at: 2_000, ..Default::default() };
    preciso_core::testing::apply(&catalog, "day-2", &[more.offer()]);
    let counts: Vec<(String, i64)> = c
        .query("SELECT title, offers FROM products ORDER BY title", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let count = |t: &str| match t {
        "Olla 3" => 2, // its new offer
        "Olla 7" => 5, // planted, unmarked: left alone
        _ => 1,
    };
    let expected: Vec<(String, i64)> = titles.iter().map(|t| (t.clone(), count(t))).collect();
    assert_eq!(counts, expected);
}

/// A store merge takes the trends lock (`TRENDS_LOCK`, which trend refreshes take too), so the
/// two never interleave: while another session holds it the merge waits, and it completes once
/// the lock is released.
#[test]
fn store_merges_wait_for_the_trends_lock() {
    let Some(db) = TempDb::create("trends_lock") else { return };
    let catalog = PgCatalog::open(&db.url).unwrap();
    let two: Vec<_> = ["exito", "jumbo"]
        .map(|store| preciso_core::testing::Fixture { store, ..Default::default() }.offer())
        .into();
    preciso_core::testing::apply(&catalog, "two", &two);
    let mut holder = Client::connect(&db.url, NoTls).unwrap();
    let mut held = holder.transaction().unwrap();
    held.execute("SELECT pg_advisory_xact_lock($1)", &[&preciso_store_postgres::TRENDS_LOCK])
        .unwrap();
    let (done, finished) = std::sync::mpsc::channel();
    let merging = std::thread::spawn(move || {
        let (from, into) = (StoreId::parse("exito").unwrap(), StoreId::parse("jumbo").unwrap());
        let report = catalog.merge_stores(&from, &into);
        done.send(()).unwrap();
        report
    });
    let wait = std::time::Duration::from_millis(500);
    assert!(finished.recv_timeout(wait).is_err(), "the merge waits for the lock");
    // Before moving anything (not only before the refreshes after its commit).
    let mut other = Client::connect(&db.url, NoTls).unwrap();
    let left = "SELECT count(*) FROM offers WHERE store_id = 'exito'";
    assert_eq!(other.query_one(left, &[]).unwrap().get::<_, i64>(0), 1);
    held.rollback().unwrap();
    finished.recv_timeout(std::time::Duration::from_secs(30)).expect("then completes");
    merging.join().unwrap().unwrap();
    assert_eq!(other.query_one(left, &[]).unwrap().get::<_, i64>(0), 0);
}
