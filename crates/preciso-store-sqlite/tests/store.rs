//! The SQLite store: the shared storage contract (`preciso_core::testing`), plus what only
//! SQLite can show here: all-or-nothing batches under a fault injected by a trigger, and
//! migrations.

use preciso_core::domain::*;
use preciso_core::hash::{ContentHasher, offer_id, product_id, product_key, title_key};
use preciso_core::ports::{CatalogStore, NewIngestFile};
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
        product_key: pkey,
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

fn file(name: &str) -> NewIngestFile {
    NewIngestFile {
        name: name.into(),
        sha256: format!("sha-{name}"),
        size: 10,
        store: None,
        received_at: 1,
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
    let mut s = cat.begin_ingest(&file("f"), false).unwrap();
    let first =
        s.apply_batch(std::slice::from_ref(&good), &IngestCounts { read: 1, ..Default::default() });
    assert!(first.is_ok());
    let err =
        s.apply_batch(&[offer("exito", "H", "also good", 3, 1), bad], &IngestCounts::default());
    assert!(err.unwrap_err().to_string().contains("injected fault"));
    let row = s.finish(IngestStatus::Failed, Some("injected".into())).unwrap().unwrap();
    assert_eq!(row.status, IngestStatus::Failed);
    // The first batch landed; nothing of the second did, ledger counts included.
    assert_eq!(cat.counts().unwrap().offers, 1);
    assert_eq!(row.counts.inserted, 1);

    raw(&cat).execute_batch("DROP TRIGGER inject_fault").unwrap();
    let c = preciso_core::testing::apply(
        &cat,
        "f",
        &[good, offer("exito", "H", "also good", 3, 1), offer("exito", "B", "boom", 2_000, 1)],
    );
    assert_eq!((c.unchanged, c.inserted), (1, 2));
    assert_eq!(cat.counts().unwrap().offers, 3);
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
    let mut s = cat.begin_ingest(&file("crashed"), false).unwrap();
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
