//! Behaviour of the SQLite store through the storage port: upsert, history only on change,
//! the ledger, idempotent re-application, and all-or-nothing batches (with a real fault
//! injected by a trigger).

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
    NewIngestFile { name: name.into(), sha256: format!("sha-{name}"), size: 10, store: None, received_at: 1 }
}

fn open() -> (tempfile::TempDir, SqliteCatalog) {
    let dir = tempfile::tempdir().unwrap();
    let cat = SqliteCatalog::open(&dir.path().join("db/catalog.sqlite")).unwrap();
    (dir, cat)
}

fn raw(cat: &SqliteCatalog) -> Connection {
    Connection::open(cat.path()).unwrap()
}

fn history(cat: &SqliteCatalog, o: &Offer) -> Vec<(i64, i64)> {
    let conn = raw(cat);
    let mut stmt = conn
        .prepare("SELECT observed_at, price_minor FROM price_history WHERE offer_id = ?1 ORDER BY observed_at")
        .unwrap();
    stmt.query_map([o.id.as_i64()], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
}

fn apply(cat: &SqliteCatalog, name: &str, offers: &[Offer]) -> IngestCounts {
    let mut s = cat.begin_ingest(&file(name), false).unwrap();
    let reader = IngestCounts { read: offers.len() as u64, ..Default::default() };
    let c = s.apply_batch(offers, &reader).unwrap();
    s.finish(IngestStatus::Done, None).unwrap();
    c
}

#[test]
fn upsert_classifies_and_appends_history_only_on_price_change() {
    let (_d, cat) = open();
    let a = offer("exito", "A", "Olla", 10_000, 100);
    let b = offer("exito", "B", "Sartén", 20_000, 100);
    let c = apply(&cat, "f1", &[a.clone(), b.clone(), a.clone()]);
    assert_eq!((c.inserted, c.duplicate, c.updated, c.unchanged), (2, 1, 0, 0));

    // Same content a day later: unchanged, last_seen moves, no history row.
    let a_later = Offer { observed_at: 200, ..a.clone() };
    let c = apply(&cat, "f2", std::slice::from_ref(&a_later));
    assert_eq!(c.unchanged, 1);
    assert_eq!(history(&cat, &a), vec![(100, 10_000)]);
    let last_seen: i64 = raw(&cat)
        .query_row("SELECT last_seen FROM offers WHERE id = ?1", [a.id.as_i64()], |r| r.get(0))
        .unwrap();
    assert_eq!(last_seen, 200);

    // A price change: updated, one more history row.
    let a_cheaper = offer("exito", "A", "Olla", 9_000, 300);
    let c = apply(&cat, "f3", &[a_cheaper]);
    assert_eq!(c.updated, 1);
    assert_eq!(history(&cat, &a), vec![(100, 10_000), (300, 9_000)]);

    // A title-only change updates the offer but is not a price event.
    let mut renamed = offer("exito", "B", "Sartén 24cm", 20_000, 400);
    renamed.id = b.id;
    let c = apply(&cat, "f4", &[renamed]);
    assert_eq!(c.updated, 1);
    assert_eq!(history(&cat, &b).len(), 1);

    let counts = cat.counts().unwrap();
    assert_eq!((counts.offers, counts.stores, counts.ingest_files), (2, 1, 4));
}

#[test]
fn older_observation_goes_to_history_without_replacing_current_price() {
    let (_d, cat) = open();
    apply(&cat, "new", &[offer("jumbo", "A", "Café", 5_000, 1_000)]);
    let old = offer("jumbo", "A", "Café", 4_000, 500);
    let c = apply(&cat, "old", std::slice::from_ref(&old));
    assert_eq!(c.updated, 1);
    assert_eq!(history(&cat, &old), vec![(500, 4_000), (1_000, 5_000)]);
    let price: i64 = raw(&cat)
        .query_row("SELECT price_minor FROM offers WHERE id = ?1", [old.id.as_i64()], |r| r.get(0))
        .unwrap();
    assert_eq!(price, 5_000);
}

#[test]
fn reapplying_the_same_batch_changes_nothing() {
    let (_d, cat) = open();
    let batch: Vec<Offer> = (0..50).map(|i| offer("exito", &format!("S{i}"), "Item", 1_000 + i, 10)).collect();
    apply(&cat, "one", &batch);
    let before = cat.counts().unwrap();
    let c = apply(&cat, "two", &batch);
    assert_eq!(c.unchanged, 50);
    let after = cat.counts().unwrap();
    assert_eq!((before.offers, before.price_observations), (after.offers, after.price_observations));
}

#[test]
fn ledger_records_counts_status_and_finds_completed_content() {
    let (_d, cat) = open();
    let mut s = cat.begin_ingest(&file("a.jsonl"), false).unwrap();
    let id = s.file_id();
    s.apply_batch(&[offer("exito", "A", "x", 1, 1)], &IngestCounts { read: 3, rejected: 2, ..Default::default() })
        .unwrap();
    // Still running: not yet a completed ingest of that content.
    assert!(cat.find_ingested("sha-a.jsonl").unwrap().is_none());
    let row = s.finish(IngestStatus::Done, None).unwrap().unwrap();
    assert_eq!(row.id, id);
    assert_eq!(row.status, IngestStatus::Done);
    assert_eq!((row.counts.read, row.counts.rejected, row.counts.inserted), (3, 2, 1));
    assert_eq!(cat.find_ingested("sha-a.jsonl").unwrap().unwrap().id, id);
    assert_eq!(cat.ingest_files(10, 0).unwrap().len(), 1);
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
    let first = s.apply_batch(std::slice::from_ref(&good), &IngestCounts { read: 1, ..Default::default() });
    assert!(first.is_ok());
    let err = s.apply_batch(&[offer("exito", "H", "also good", 3, 1), bad], &IngestCounts::default());
    assert!(err.unwrap_err().to_string().contains("injected fault"));
    let row = s.finish(IngestStatus::Failed, Some("injected".into())).unwrap().unwrap();
    assert_eq!(row.status, IngestStatus::Failed);
    // The first batch landed; nothing of the second did, ledger counts included.
    assert_eq!(cat.counts().unwrap().offers, 1);
    assert_eq!(row.counts.inserted, 1);

    raw(&cat).execute_batch("DROP TRIGGER inject_fault").unwrap();
    let c = apply(&cat, "f", &[good, offer("exito", "H", "also good", 3, 1), offer("exito", "B", "boom", 2_000, 1)]);
    assert_eq!((c.unchanged, c.inserted), (1, 2));
    assert_eq!(cat.counts().unwrap().offers, 3);
}

#[test]
fn dry_run_writes_nothing_but_counts_like_a_real_run() {
    let (_d, cat) = open();
    let a = offer("exito", "A", "x", 1, 1);
    let mut s = cat.begin_ingest(&file("dry"), true).unwrap();
    let c1 = s.apply_batch(std::slice::from_ref(&a), &IngestCounts::default()).unwrap();
    let c2 = s.apply_batch(std::slice::from_ref(&a), &IngestCounts::default()).unwrap();
    assert!(s.finish(IngestStatus::Done, None).unwrap().is_none());
    assert_eq!((c1.inserted, c2.duplicate), (1, 1));
    assert_eq!(cat.counts().unwrap(), Default::default());
}

#[test]
fn reopening_applies_no_migration_twice_and_bad_urls_are_explicit() {
    let (d, cat) = open();
    drop(cat);
    let again = SqliteCatalog::open(&d.path().join("db/catalog.sqlite")).unwrap();
    again.migrate().unwrap();
    let n: i64 = raw(&again).query_row("SELECT count(*) FROM schema_migrations", [], |r| r.get(0)).unwrap();
    assert_eq!(n, preciso_store_sqlite::MIGRATIONS.len() as i64);
    assert!(SqliteCatalog::path_from_url("mysql://x").is_err());
    assert_eq!(SqliteCatalog::path_from_url("sqlite://a/b.db").unwrap(), std::path::PathBuf::from("a/b.db"));
}
