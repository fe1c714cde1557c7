//! The storage contract: behaviour every `Catalog` backend must show, written once against the
//! port. Each adapter's tests call every function here with a fresh, empty catalog
//! (`contract_tests!` generates one test per function). Panics describe the broken rule.

use crate::domain::*;
use crate::hash::{OfferContent, content_hash, offer_id, product_id, product_key, title_key};
use crate::ports::{Catalog, MergeReport, NewIngestFile, Personalization, SeenName};
use crate::query::{NewUser, OfferFilter, PageRequest, Preferences, Sort};
use crate::runs::{
    AttemptEnd, NewRun, RunClaim, RunFilter, RunStatus, StepReport, StepStatus, Trigger,
};

/// A fixture offer; `gtin` groups across stores, else brand + title do.
pub struct Fixture<'a> {
    pub store: &'a str,
    pub sku: &'a str,
    pub title: &'a str,
    pub brand: &'a str,
    pub category: &'a str,
    pub price: i64,
    pub currency: &'a str,
    pub gtin: Option<&'a str>,
    pub availability: Availability,
    pub at: i64,
}

impl Default for Fixture<'_> {
    fn default() -> Self {
        Fixture {
            store: "exito",
            sku: "A",
            title: "Olla",
            brand: "Imusa",
            category: "Hogar > Cocina",
            price: 10_000,
            currency: "COP",
            gtin: None,
            availability: Availability::InStock,
            at: 1_000,
        }
    }
}

impl Fixture<'_> {
    pub fn offer(&self) -> Offer {
        let store = StoreId::parse(self.store).expect("fixture store");
        let currency = Currency::parse(self.currency).expect("fixture currency");
        let gtin = self.gtin.map(|g| Gtin::parse(g).expect("fixture gtin"));
        let tkey = title_key(Some(self.brand), self.title);
        let content_hash = content_hash(&OfferContent {
            store: store.as_str(),
            sku: Some(self.sku),
            gtin: gtin.as_ref().map(Gtin::as_str),
            title: self.title,
            brand: Some(self.brand),
            category: Some(self.category),
            price_minor: self.price,
            currency: currency.code(),
            list_price_minor: None,
            availability: self.availability.as_str(),
            rating_hundredths: None,
            review_count: None,
            url: None,
            image_url: None,
        });
        Offer {
            id: offer_id(&store, Some(self.sku), None, &tkey),
            store,
            sku: Some(self.sku.into()),
            url: None,
            product_id: product_id(&product_key(gtin.as_ref(), &tkey)),
            title: self.title.into(),
            brand: Some(self.brand.into()),
            category: Some(self.category.into()),
            gtin,
            image_url: None,
            price: Money::new(self.price, currency),
            list_price: None,
            availability: self.availability,
            rating: None,
            review_count: None,
            observed_at: self.at,
            content_hash,
        }
    }
}

/// A ledger entry for a run named `name` (its content hash is derived from the name).
pub fn new_file(name: &str) -> NewIngestFile {
    NewIngestFile {
        name: name.into(),
        sha256: format!("sha-{name}"),
        size: 1,
        store: None,
        received_at: 1,
        backfill: false,
    }
}

/// Applies one batch as a complete ingest run and returns its counts.
pub fn apply(c: &dyn Catalog, name: &str, offers: &[Offer]) -> IngestCounts {
    let mut s = c.begin_ingest(&new_file(name), false).expect("begin");
    let reader = IngestCounts { read: offers.len() as u64, ..Default::default() };
    let counts = s.apply_batch(offers, &reader).expect("apply");
    // The ledger holds the run's final counts (an initial load writes repeats at its end).
    s.finish(IngestStatus::Done, None).expect("finish").map_or(counts, |ledger| ledger.counts)
}

fn prices(c: &dyn Catalog, o: &Offer) -> Vec<(i64, i64)> {
    c.offer_history(o.id).expect("history").iter().map(|p| (p.observed_at, p.price.minor)).collect()
}

pub fn classifies_and_appends_history_only_on_change(c: &dyn Catalog) {
    let a = Fixture { sku: "A", ..Default::default() }.offer();
    let b = Fixture { sku: "B", title: "Sartén", price: 20_000, ..Default::default() }.offer();
    let n = apply(c, "f1", &[a.clone(), b.clone(), a.clone()]);
    assert_eq!((n.inserted, n.duplicate), (2, 1), "insert and in-run duplicate");
    let n = apply(c, "f2", &[Fixture { sku: "A", at: 2_000, ..Default::default() }.offer()]);
    assert_eq!(n.unchanged, 1, "same content later is unchanged");
    assert_eq!(prices(c, &a), vec![(1_000, 10_000)], "no history row without a price change");
    assert_eq!(c.offer(a.id).unwrap().unwrap().last_seen, 2_000, "last_seen moves");
    let n = apply(
        c,
        "f3",
        &[Fixture { sku: "A", price: 9_000, at: 3_000, ..Default::default() }.offer()],
    );
    assert_eq!(n.updated, 1);
    assert_eq!(prices(c, &a), vec![(1_000, 10_000), (3_000, 9_000)]);
    let view = c.offer(a.id).unwrap().unwrap();
    assert_eq!(
        (view.price.minor, view.previous_price.map(|m| m.minor), view.price_changed_at),
        (9_000, Some(10_000), 3_000)
    );
    let old = Fixture { sku: "A", price: 8_000, at: 500, ..Default::default() }.offer();
    assert_eq!(apply(c, "late", &[old]).updated, 1, "a late observation is history");
    assert_eq!(c.offer(a.id).unwrap().unwrap().price.minor, 9_000, "but not the current price");
    assert_eq!(prices(c, &a).len(), 3);
    // How each row arrived (C.history_order): the late one after a later one was stored; in a
    // run marked as a backfill, as backfilled.
    let mut s = c
        .begin_ingest(&NewIngestFile { backfill: true, ..new_file("backfill") }, false)
        .expect("begin");
    let older = Fixture { sku: "A", price: 7_000, at: 200, ..Default::default() }.offer();
    s.apply_batch(&[older], &IngestCounts { read: 1, ..Default::default() }).expect("apply");
    s.finish(IngestStatus::Done, None).expect("finish");
    let mut arrivals = Vec::new();
    let scope = crate::ports::QualityScope::default();
    c.quality_rows(&scope, &mut |offer, history| {
        if offer.id == a.id {
            arrivals = history.iter().map(|h| (h.at, h.arrival)).collect();
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(arrivals, vec![(200, 2), (500, 1), (1_000, 0), (3_000, 0)]);
}

pub fn repeats_count_alike_within_a_batch_and_across_batches(c: &dyn Catalog) {
    let a = Fixture { sku: "A", ..Default::default() }.offer();
    let b = Fixture { sku: "B", price: 20_000, ..Default::default() }.offer();
    let b_later = Fixture { sku: "B", price: 20_000, at: 5_000, ..Default::default() }.offer();
    apply(c, "first", &[a.clone(), b.clone()]);
    // The same file again, its repeats falling in a later batch.
    let mut s = c.begin_ingest(&new_file("again"), false).expect("begin");
    let none = IngestCounts::default();
    let one = s.apply_batch(&[a.clone(), b.clone()], &none).expect("batch 1");
    assert_eq!(one.unchanged, 2);
    let two = s.apply_batch(&[a.clone(), b_later.clone()], &none).expect("batch 2");
    assert_eq!(
        (two.duplicate, two.unchanged),
        (1, 1),
        "an exact repeat is a duplicate; a later sighting is unchanged and moves last_seen"
    );
    s.finish(IngestStatus::Done, None).expect("finish");
    assert_eq!(c.offer(b.id).unwrap().unwrap().last_seen, 5_000);
    assert_eq!(c.offer(a.id).unwrap().unwrap().last_seen, 1_000);
    // Within one batch, the same rules.
    let a_later = Fixture { sku: "A", at: 6_000, ..Default::default() }.offer();
    let n = apply(c, "third", &[a.clone(), a.clone(), a_later]);
    assert_eq!((n.unchanged, n.duplicate), (2, 1));
    assert_eq!(c.offer(a.id).unwrap().unwrap().last_seen, 6_000);
    let ledger = c.find_ingested("sha-again").unwrap().expect("the second run is done");
    assert_eq!((ledger.counts.unchanged, ledger.counts.duplicate), (3, 1));
}

/// A run remembers each offer it found unchanged (SQLite by the row's number, PostgreSQL by
/// id): of 300 stored offers, a first batch finds 150 unchanged; a second batch that repeats
/// 50 of them and brings the other 150 counts exactly 50 duplicates.
pub fn unchanged_offers_are_remembered_one_by_one_across_batches(c: &dyn Catalog) {
    let skus: Vec<String> = (0..300).map(|n| format!("S{n:03}")).collect();
    let offers: Vec<Offer> = skus
        .iter()
        .enumerate()
        .map(|(n, sku)| Fixture { sku, price: 1_000 + n as i64, ..Default::default() }.offer())
        .collect();
    assert_eq!(apply(c, "first", &offers).inserted, 300);
    let mut s = c.begin_ingest(&new_file("again"), false).expect("begin");
    let none = IngestCounts::default();
    let one = s.apply_batch(&offers[..150], &none).expect("batch 1");
    assert_eq!((one.unchanged, one.duplicate), (150, 0));
    let two = s.apply_batch(&offers[100..], &none).expect("batch 2");
    assert_eq!((two.unchanged, two.duplicate), (150, 50));
    s.finish(IngestStatus::Done, None).expect("finish");
}

pub fn reapplying_changes_nothing_and_ledger_counts(c: &dyn Catalog) {
    let batch: Vec<Offer> = (0..30)
        .map(|i| Fixture { sku: &format!("S{i}"), price: 1_000 + i, ..Default::default() }.offer())
        .collect();
    apply(c, "one", &batch);
    let before = c.counts().unwrap();
    assert_eq!(apply(c, "two", &batch).unchanged, 30);
    let after = c.counts().unwrap();
    assert_eq!(
        (before.offers, before.price_observations),
        (after.offers, after.price_observations)
    );
    assert_eq!(after.ingest_files, 2);
    let row = c.find_ingested("sha-two").unwrap().expect("completed run is found by hash");
    assert_eq!((row.counts.read, row.counts.unchanged, row.status), (30, 30, IngestStatus::Done));
    assert!(c.find_ingested("sha-none").unwrap().is_none());
    let ledger = c.ingest_files(10, 0).unwrap();
    assert_eq!(
        ledger.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
        vec!["two", "one"],
        "newest first"
    );
}

pub fn a_running_or_failed_run_is_not_ingested(c: &dyn Catalog) {
    let mut s = c.begin_ingest(&new_file("x"), false).unwrap();
    s.apply_batch(&[Fixture::default().offer()], &IngestCounts::default()).unwrap();
    assert!(c.find_ingested("sha-x").unwrap().is_none(), "running");
    s.finish(IngestStatus::Failed, Some("boom".into())).unwrap();
    assert!(c.find_ingested("sha-x").unwrap().is_none(), "failed");
    assert_eq!(c.ingest_files(1, 0).unwrap()[0].error.as_deref(), Some("boom"));
}

/// A crash between two records of one offer in one file, then a re-run: stamped with the
/// interrupted run's time (what the pipeline does with `interrupted_since`), the offer keeps
/// the one observation a clean run gives.
pub fn an_interrupted_run_resumes_at_its_first_ingest_time(c: &dyn Catalog) {
    let file = |received_at| NewIngestFile { received_at, ..new_file("repeats") };
    let none = IngestCounts::default();
    let at = |t, price| Fixture { price, at: t, ..Default::default() }.offer();
    assert_eq!(c.interrupted_since("sha-repeats").unwrap(), None, "never ingested");
    // Run 1 commits its first batch (the offer at 10.000), then the process dies.
    let mut s = c.begin_ingest(&file(100), false).unwrap();
    s.apply_batch(&[at(100, 10_000)], &none).unwrap();
    drop(s);
    assert_eq!(c.interrupted_since("sha-repeats").unwrap(), Some(100));
    // Run 2 fails before writing anything; the first run's time still stands.
    let s = c.begin_ingest(&file(200), false).unwrap();
    s.finish(IngestStatus::Failed, Some("disk full".into())).unwrap();
    let since = c.interrupted_since("sha-repeats").unwrap();
    assert_eq!(since, Some(100), "the earliest unfinished run since the last finished one");
    // Run 3 goes through the whole file: the same record, then the later one at 9.000.
    let t = since.unwrap();
    let mut s = c.begin_ingest(&file(300), false).unwrap();
    s.apply_batch(&[at(t, 10_000)], &none).unwrap();
    s.apply_batch(&[at(t, 9_000)], &none).unwrap();
    s.finish(IngestStatus::Done, None).unwrap();
    let offer = Fixture::default().offer();
    assert_eq!(prices(c, &offer), vec![(100, 9_000)], "one observation, as in a clean run");
    assert_eq!(c.offer(offer.id).unwrap().unwrap().price.minor, 9_000);
    assert_eq!(c.interrupted_since("sha-repeats").unwrap(), None, "finished");
    // A forced run of the same content that dies starts a new interruption.
    let mut s = c.begin_ingest(&file(400), false).unwrap();
    s.apply_batch(&[at(400, 9_000)], &none).unwrap();
    drop(s);
    assert_eq!(c.interrupted_since("sha-repeats").unwrap(), Some(400));
}

/// A scraper wrote one store under two names; the merge re-keys the split offers under the
/// target, merges the histories of offers both held (the latest row stays current), moves the
/// ledger and names, and leaves the old name as an alias.
pub fn merging_a_split_store_moves_offers_histories_and_the_ledger(c: &dyn Catalog) {
    let (from, into) = ("falabella-colombia", "falabella-co");
    let at = |store, sku, price, at| Fixture { store, sku, price, at, ..Default::default() };
    // A under both names (the alias seen last, at 3.000), B only under the alias.
    let first =
        [at(into, "A", 10_000, 1_000), at(from, "A", 9_000, 2_000), at(from, "B", 5_000, 2_000)];
    let offers: Vec<Offer> = first.iter().map(Fixture::offer).collect();
    let mut file = new_file("split");
    file.store = Some(StoreId::parse(from).unwrap());
    let mut s = c.begin_ingest(&file, false).unwrap();
    s.apply_batch(&offers, &IngestCounts::default()).unwrap();
    s.finish(IngestStatus::Done, None).unwrap();
    apply(c, "later", &[at(from, "A", 8_000, 3_000).offer()]);
    let names = |n: &[(&str, &str)]| {
        n.iter()
            .map(|(store, name)| SeenName {
                store: StoreId::parse(store).unwrap(),
                name: name.to_string(),
                records: 2,
                last_seen: 3_000,
            })
            .collect::<Vec<_>>()
    };
    c.record_store_names(&names(&[(into, "falabella-co"), (from, "Falabella Colombia")])).unwrap();

    let report = c.merge_stores(&StoreId::parse(from).unwrap(), &StoreId::parse(into).unwrap());
    assert_eq!(report.unwrap(), MergeReport { moved: 1, merged: 1, ledger_rows: 1 });
    let stores: Vec<String> = c.stores().unwrap().iter().map(|s| s.id.to_string()).collect();
    assert_eq!(stores, vec![into.to_string()], "one store left");
    let a = at(into, "A", 8_000, 3_000).offer();
    let kept = c.offer(a.id).unwrap().expect("A under the target's id");
    assert_eq!((kept.price.minor, kept.first_seen, kept.last_seen), (8_000, 1_000, 3_000));
    let history: Vec<(i64, i64)> = prices(c, &a);
    assert_eq!(history, vec![(1_000, 10_000), (2_000, 9_000), (3_000, 8_000)], "time order");
    let b = at(into, "B", 5_000, 2_000).offer();
    assert_eq!(c.offer(b.id).unwrap().map(|o| o.price.minor), Some(5_000), "B re-keyed");
    assert_eq!(prices(c, &b), vec![(2_000, 5_000)]);
    assert!(c.offer(at(from, "B", 5_000, 2_000).offer().id).unwrap().is_none());
    assert_eq!(c.counts().unwrap().offers, 2);
    assert!(
        c.ingest_files(10, 0)
            .unwrap()
            .iter()
            .all(|f| f.store.as_ref().is_none_or(|s| s.as_str() == into))
    );
    let seen: Vec<(String, String)> =
        c.store_names().unwrap().into_iter().map(|n| (n.store.to_string(), n.name)).collect();
    assert!(seen.contains(&(into.to_string(), "Falabella Colombia".to_string())), "{seen:?}");
    let aliases = c.store_aliases().unwrap();
    assert!(aliases.iter().any(|(a, s)| a == from && s.as_str() == into), "{aliases:?}");
    // The content hashes follow the new store: the same scrape under the target is unchanged.
    assert_eq!(apply(c, "again", &[b]).unchanged, 1);
    assert_summary_matches_scan(c, "after a merge");
    let missing = c.merge_stores(&StoreId::parse("nope").unwrap(), &StoreId::parse(into).unwrap());
    assert!(matches!(missing, Err(crate::ports::StoreError::NotFound)));
}

pub fn dry_run_writes_nothing(c: &dyn Catalog) {
    let o = Fixture::default().offer();
    let mut s = c.begin_ingest(&new_file("dry"), true).unwrap();
    let first = s.apply_batch(std::slice::from_ref(&o), &IngestCounts::default()).unwrap();
    let second = s.apply_batch(std::slice::from_ref(&o), &IngestCounts::default()).unwrap();
    assert!(s.finish(IngestStatus::Done, None).unwrap().is_none());
    assert_eq!((first.inserted, second.duplicate), (1, 1), "later batches see earlier ones");
    assert_eq!(c.counts().unwrap(), Default::default());
}

pub fn groups_products_by_gtin_else_brand_and_title(c: &dyn Catalog) {
    let gtin = Some("7702032101054");
    let a = Fixture {
        store: "exito",
        sku: "1",
        title: "Nevera 300L",
        brand: "Mabe",
        gtin,
        ..Default::default()
    }
    .offer();
    let b = Fixture {
        store: "alkosto",
        sku: "9",
        title: "Refrigerador distinto",
        brand: "MABE",
        gtin,
        price: 9_000,
        ..Default::default()
    }
    .offer();
    let x = Fixture {
        store: "exito",
        sku: "2",
        title: "Café Sello Rojo",
        brand: "Sello Rojo",
        ..Default::default()
    }
    .offer();
    let y = Fixture {
        store: "jumbo",
        sku: "3",
        title: "SELLO ROJO cafe sello rojo",
        brand: "sello rojo",
        ..Default::default()
    }
    .offer();
    let z = Fixture {
        store: "jumbo",
        sku: "4",
        title: "Café Águila Roja",
        brand: "Águila Roja",
        ..Default::default()
    }
    .offer();
    apply(c, "g", &[a.clone(), b.clone(), x.clone(), y.clone(), z.clone()]);
    assert_eq!(a.product_id, b.product_id);
    assert_eq!(c.product_offers(a.product_id).unwrap().len(), 2);
    assert_eq!(
        c.product_by_gtin(&Gtin::parse("7702032101054").unwrap()).unwrap(),
        Some(a.product_id)
    );
    assert_eq!(
        x.product_id, y.product_id,
        "accents, case and a repeated brand do not split a product"
    );
    assert_ne!(x.product_id, z.product_id);
    let found = c.search_products("cafe sello", 5).unwrap();
    assert_eq!(found.first().map(|f| (f.0, f.2)), Some((x.product_id, 2)));
    assert_eq!(c.counts().unwrap().products, 3);
}

fn catalog_for_queries(c: &dyn Catalog) -> Vec<Offer> {
    let f = |store, sku, title, brand, category, price, currency, availability| {
        Fixture {
            store,
            sku,
            title,
            brand,
            category,
            price,
            currency,
            availability,
            ..Default::default()
        }
        .offer()
    };
    let offers = vec![
        f(
            "exito",
            "n1",
            "Nevera",
            "Mabe",
            "Electro > Neveras",
            234_990_000,
            "COP",
            Availability::InStock,
        ),
        f(
            "alkosto",
            "n2",
            "Nevera",
            "Mabe",
            "Electro > Neveras",
            219_990_000,
            "COP",
            Availability::InStock,
        ),
        f(
            "exito",
            "l1",
            "Licuadora",
            "Oster",
            "Electro > Pequenos",
            19_990_000,
            "COP",
            Availability::InStock,
        ),
        f(
            "alkosto",
            "l2",
            "Licuadora",
            "Oster",
            "Electro > Pequenos",
            18_990_000,
            "COP",
            Availability::OutOfStock,
        ),
        f("jumbo", "a1", "Arroz", "Tucapel", "Mercado", 1_290, "CLP", Availability::Unknown),
    ];
    apply(c, "q", &offers);
    offers
}

pub fn best_prices_respect_stock_filters_and_preferences(c: &dyn Catalog) {
    catalog_for_queries(c);
    let electro = OfferFilter { category: Some("electro".into()), ..Default::default() };
    let page = c.best_prices(&electro, PageRequest::default(), Personalization::default()).unwrap();
    let got: Vec<(&str, i64)> =
        page.items.iter().map(|b| (b.offer.store.as_str(), b.offer.price.minor)).collect();
    assert_eq!(
        got,
        vec![("exito", 19_990_000), ("alkosto", 219_990_000)],
        "out-of-stock offers never win"
    );
    assert_eq!(page.total, 2);
    let prefs = Preferences { stores: vec!["exito".into()], ..Default::default() };
    let page = c
        .best_prices(
            &electro,
            PageRequest::default(),
            Personalization { preferences: Some(&prefs) },
        )
        .unwrap();
    assert!(
        page.items.iter().all(|b| b.offer.store.as_str() == "exito" && b.preferred),
        "preferred store first"
    );
    let budget = Preferences { budget: Some(1_000_000), ..Default::default() };
    let page = c
        .best_prices(
            &electro,
            PageRequest::default(),
            Personalization { preferences: Some(&budget) },
        )
        .unwrap();
    assert_eq!(page.items.len(), 1, "budget caps the price");
    let second = c
        .best_prices(&electro, PageRequest { page: 2, limit: 1 }, Personalization::default())
        .unwrap();
    assert_eq!((second.items.len(), second.items[0].offer.store.as_str()), (1, "alkosto"));
}

/// Best prices of a scope in COP as the summary answers them and as a scan of the offers
/// does (a `min_price` of 0 matches every offer but sends the store down the scan path).
fn best_both_ways(
    c: &dyn Catalog,
    category: Option<&str>,
    page: PageRequest,
) -> [Vec<(i64, i64, u64)>; 2] {
    let summary = OfferFilter {
        category: category.map(str::to_string),
        currency: Some(crate::domain::Currency::COP),
        ..Default::default()
    };
    assert!(crate::best::summary_scope(&summary, None).is_some(), "the summary answers it");
    let scan = OfferFilter { min_price: crate::query::Decimal::parse("0"), ..summary.clone() };
    [summary, scan].map(|f| {
        let p = c.best_prices(&f, page, Personalization::default()).expect("best prices");
        let mut rows: Vec<(i64, i64, u64)> = p
            .items
            .iter()
            .map(|b| (b.offer.id.as_i64(), b.offer.price.minor, b.offers_for_product))
            .collect();
        rows.push((-1, -1, p.total));
        rows
    })
}

fn assert_summary_matches_scan(c: &dyn Catalog, when: &str) {
    for category in [None, Some("electro"), Some("electro/neveras"), Some("hogar"), Some("nada")] {
        for page in [PageRequest::default(), PageRequest { page: 2, limit: 1 }] {
            let [summary, scan] = best_both_ways(c, category, page);
            assert_eq!(summary, scan, "{when}: best prices of {category:?} {page:?}");
        }
        // The scope's counts (what `currencies` reports) follow the rows.
        let all = best_both_ways(c, category, PageRequest { page: 1, limit: 100 })[1].clone();
        let rows = &all[..all.len() - 1]; // the last is the total
        let (products, offers) = rows.iter().fold((0, 0), |(p, o), r| (p + 1, o + r.2));
        let counted = c.currencies(category.unwrap_or("")).expect("currencies");
        let cop = counted.iter().find(|x| x.currency == crate::domain::Currency::COP);
        assert_eq!(
            cop.map_or((0, 0), |x| (x.products, x.offers)),
            (products, offers),
            "{when}: counts of {category:?}"
        );
    }
}

pub fn best_price_summary_follows_every_change(c: &dyn Catalog) {
    let fixture = |store, sku, title, category, price, availability| Fixture {
        store,
        sku,
        title,
        category,
        price,
        availability,
        ..Default::default()
    };
    use Availability::{InStock, OutOfStock};
    let first = [
        fixture("exito", "n1", "Nevera", "Electro > Neveras", 900, InStock),
        fixture("alkosto", "n2", "Nevera", "Electro > Neveras", 800, InStock),
        fixture("jumbo", "n3", "Nevera", "Electro > Neveras", 700, OutOfStock),
        fixture("exito", "l1", "Licuadora", "Electro > Pequenos", 300, InStock),
        fixture("alkosto", "l2", "Licuadora", "Electro > Pequenos", 300, InStock),
        fixture("exito", "o1", "Olla", "Hogar > Cocina", 100, InStock),
    ];
    apply(c, "first", &first.iter().map(Fixture::offer).collect::<Vec<_>>());
    let electro = OfferFilter { category: Some("electro".into()), ..Default::default() };
    let page = c.best_prices(&electro, PageRequest::default(), Personalization::default()).unwrap();
    let got: Vec<(i64, u64)> =
        page.items.iter().map(|b| (b.offer.price.minor, b.offers_for_product)).collect();
    assert_eq!(
        got,
        [(300, 2), (800, 2)],
        "cheapest buyable offer per product, buyable offers counted"
    );
    assert_summary_matches_scan(c, "after the first load");

    // The best nevera goes out of stock, a dearer one drops below it, a licuadora moves to
    // Hogar, and the olla is renamed (a new product for the same offer).
    let second = [
        fixture("alkosto", "n2", "Nevera", "Electro > Neveras", 800, OutOfStock),
        fixture("exito", "n1", "Nevera", "Electro > Neveras", 850, InStock),
        fixture("alkosto", "l2", "Licuadora", "Hogar > Cocina", 250, InStock),
        fixture("exito", "o1", "Olla Grande", "Hogar > Cocina", 100, InStock),
    ];
    apply(
        c,
        "second",
        &second.iter().map(|f| Fixture { at: 2_000, ..*f }.offer()).collect::<Vec<_>>(),
    );
    assert_summary_matches_scan(c, "after updates");
    let page = c.best_prices(&electro, PageRequest::default(), Personalization::default()).unwrap();
    let got: Vec<(&str, i64)> =
        page.items.iter().map(|b| (b.offer.store.as_str(), b.offer.price.minor)).collect();
    assert_eq!(got, [("exito", 300), ("exito", 850)]);

    // A run that dies after committing a batch (no finish): its changes reach the summary at
    // the next run's end at the latest.
    let mut crashed = c.begin_ingest(&new_file("crashed"), false).expect("begin");
    let cheap = Fixture {
        at: 3_000,
        ..fixture("jumbo", "n3", "Nevera", "Electro > Neveras", 100, InStock)
    };
    crashed.apply_batch(&[cheap.offer()], &IngestCounts::default()).expect("batch");
    drop(crashed);
    let later = Fixture { at: 3_000, ..fixture("exito", "x1", "Cafe", "Mercado", 50, InStock) };
    apply(c, "later", &[later.offer()]);
    assert_summary_matches_scan(c, "after a crashed run and a later run");
    let page = c.best_prices(&electro, PageRequest::default(), Personalization::default()).unwrap();
    assert_eq!(page.items[0].offer.price.minor, 100, "the crashed run's committed batch counts");

    // Runs touching few products refresh just those (a backend may write only differences):
    // a price that is not the product's best, then a product left with no buyable offer.
    let dearer = fixture("exito", "n1", "Nevera", "Electro > Neveras", 870, InStock);
    apply(c, "dearer", &[Fixture { at: 4_000, ..dearer }.offer()]);
    assert_summary_matches_scan(c, "after a change that is not a best price");
    let gone = fixture("exito", "x1", "Cafe", "Mercado", 50, OutOfStock);
    apply(c, "gone", &[Fixture { at: 5_000, ..gone }.offer()]);
    assert_summary_matches_scan(c, "after a product lost its last buyable offer");
    let everything = c.currencies("").unwrap();
    assert_eq!(everything[0].products, 3, "nevera, licuadora, olla grande: {everything:?}");
}

pub fn an_initial_load_that_dies_reaches_the_summary_at_the_next_run(c: &dyn Catalog) {
    let electro = |sku, title, price| Fixture {
        sku,
        title,
        category: "Electro > Hogar",
        price,
        ..Default::default()
    };
    // The catalog is empty, so this run is an initial load (a backend may defer indexes and
    // per-product marks to its end); it dies after committing one batch of five products.
    let mut crashed = c.begin_ingest(&new_file("initial"), false).expect("begin");
    let batch: Vec<Offer> = ["Nevera", "Licuadora", "Horno", "Lavadora", "Cafetera"]
        .iter()
        .zip(1..)
        .map(|(title, n)| electro(title, title, n * 100).offer())
        .collect();
    crashed.apply_batch(&batch, &IngestCounts::default()).expect("batch");
    drop(crashed);
    // The next run touches one other product only.
    apply(c, "next", &[Fixture { sku: "o1", at: 2_000, ..Default::default() }.offer()]);
    assert_summary_matches_scan(c, "after a crashed initial load and a later run");
    let filter = OfferFilter { category: Some("electro".into()), ..Default::default() };
    let page = c.best_prices(&filter, PageRequest::default(), Personalization::default()).unwrap();
    let got: Vec<i64> = page.items.iter().map(|b| b.offer.price.minor).collect();
    assert_eq!(got, [100, 200, 300, 400, 500], "the crashed load's products are listed");
    // The market summary too: the crashed run's category and store totals are there.
    let cats: Vec<(String, u64)> =
        c.categories().unwrap().into_iter().map(|k| (k.key, k.offers)).collect();
    assert!(cats.contains(&("electro/hogar".into(), 5)), "{cats:?}");
    assert_eq!(c.store_summaries().unwrap()[0].offers, 6);
}

pub fn archived_files_keep_their_key_in_the_ledger(c: &dyn Catalog) {
    apply(c, "raw", &[Fixture::default().offer()]);
    let file = c.find_ingested("sha-raw").unwrap().expect("completed run");
    assert_eq!(file.archive_key, None);
    c.mark_archived(file.id, "raw/mixed/2026/03/01/abc.jsonl").unwrap();
    let again = c.find_ingested("sha-raw").unwrap().unwrap();
    assert_eq!(again.archive_key.as_deref(), Some("raw/mixed/2026/03/01/abc.jsonl"));
}

pub fn store_freshness_is_the_newest_observation(c: &dyn Catalog) {
    let at = |store, sku, at| Fixture { store, sku, at, ..Default::default() }.offer();
    apply(c, "one", &[at("exito", "a", 5_000), at("exito", "b", 7_000), at("jumbo", "c", 6_000)]);
    // An older observation of a known offer does not move freshness back.
    apply(c, "two", &[at("exito", "a", 4_000)]);
    c.upsert_store(&Store {
        id: StoreId::parse("nuevo").unwrap(),
        name: "Nuevo".into(),
        country: None,
        currency: None,
        base_url: None,
    })
    .unwrap();
    let got: Vec<(String, Option<i64>)> =
        c.store_freshness().unwrap().into_iter().map(|(s, t)| (s.to_string(), t)).collect();
    assert_eq!(
        got,
        [("exito".into(), Some(7_000)), ("jumbo".into(), Some(6_000)), ("nuevo".into(), None)]
    );
}

pub fn listings_filter_sort_and_page(c: &dyn Catalog) {
    catalog_for_queries(c);
    let all = |f: &OfferFilter, sort| {
        c.list_offers(f, sort, PageRequest { page: 1, limit: 100 }, Personalization::default())
            .unwrap()
    };
    let by_store =
        OfferFilter { store: Some(StoreId::parse("alkosto").unwrap()), ..Default::default() };
    assert_eq!(all(&by_store, Sort::Price).total, 2);
    let brand = OfferFilter {
        brand: Some("OSTER".into()),
        max_price: crate::query::Decimal::parse("195000"),
        ..Default::default()
    };
    let r = all(&brand, Sort::Price);
    assert_eq!(r.items.iter().map(|s| s.offer.price.minor).collect::<Vec<_>>(), vec![18_990_000]);
    let cheap = OfferFilter {
        min_price: crate::query::Decimal::parse("1000"),
        max_price: crate::query::Decimal::parse("2000"),
        ..Default::default()
    };
    assert_eq!(all(&cheap, Sort::Price).items.len(), 1, "CLP 1.290 only: bounds are per currency");
    let desc = all(&OfferFilter::default(), Sort::PriceDesc);
    let cop: Vec<i64> = desc
        .items
        .iter()
        .filter(|s| s.offer.price.currency.code() == "COP")
        .map(|s| s.offer.price.minor)
        .collect();
    assert!(cop.windows(2).all(|w| w[0] >= w[1]));
    let value = all(&OfferFilter::default(), Sort::Value);
    assert!(value.items.windows(2).all(|w| w[0].value_score >= w[1].value_score));
    let p1 = c
        .list_offers(
            &OfferFilter::default(),
            Sort::Price,
            PageRequest { page: 1, limit: 2 },
            Personalization::default(),
        )
        .unwrap();
    let p2 = c
        .list_offers(
            &OfferFilter::default(),
            Sort::Price,
            PageRequest { page: 2, limit: 2 },
            Personalization::default(),
        )
        .unwrap();
    assert_eq!(p1.total, 5);
    assert!(
        p1.items.iter().all(|a| p2.items.iter().all(|b| a.offer.id != b.offer.id)),
        "pages do not overlap"
    );
}

/// Every offer `filter` lists under `sort`, read in pages of `limit`; with `total`, every
/// page (the empty one past the end too) must report that many matches.
fn every_listed(
    c: &dyn Catalog,
    filter: &OfferFilter,
    sort: Sort,
    limit: u32,
    who: Personalization<'_>,
    total: Option<usize>,
) -> Vec<crate::ports::ScoredOffer> {
    let mut every = Vec::new();
    for page in 1.. {
        let p = c.list_offers(filter, sort, PageRequest { page, limit }, who).unwrap();
        if let Some(total) = total {
            assert_eq!(p.total, total as u64, "{filter:?} {sort:?}: total");
        }
        if p.items.is_empty() {
            break;
        }
        every.extend(p.items);
    }
    every
}

/// A catalog where value scores spread: prices around several category medians, ratings,
/// review counts, stock states and (second run) price drops, in two currencies.
fn catalog_for_ranking(c: &dyn Catalog) {
    let stores = ["exito", "jumbo", "alkosto"];
    let brands = ["Imusa", "Oster", "Mabe", "Sony"];
    let categories = ["Hogar > Cocina", "Hogar > Sala", "Tecnologia > TV", "Mercado"];
    let skus: Vec<String> = (0..480).map(|i| format!("S{i}")).collect();
    let titles: Vec<String> = (0..480).map(|i| format!("Producto {i}")).collect();
    let run = |round: i64| -> Vec<Offer> {
        (0..480usize)
            .map(|i| {
                let n = i as i64;
                // The second round lowers a third of the prices (drops) and raises a sixth.
                let change = match (round, n % 6) {
                    (1, 0 | 1) => -((n * 7) % 45) - 5,
                    (1, 2) => 10,
                    _ => 0,
                };
                let base = 1_000 + (n * 7_919) % 90_000;
                let mut offer = Fixture {
                    store: stores[i % 3],
                    sku: &skus[i],
                    title: &titles[i],
                    brand: brands[(i / 3) % 4],
                    category: categories[(i / 7) % 4],
                    price: base + base * change / 100,
                    currency: if i % 5 == 0 { "CLP" } else { "COP" },
                    availability: match i % 9 {
                        0 => Availability::OutOfStock,
                        1 => Availability::Unknown,
                        _ => Availability::InStock,
                    },
                    at: 1_000 + round,
                    ..Default::default()
                }
                .offer();
                offer.rating = (i % 4 != 0)
                    .then(|| crate::domain::Rating::from_hundredths((n * 37) % 501).unwrap());
                offer.review_count = (i % 3 != 0).then(|| ((n * n * 13) % 3_000) as u32);
                offer
            })
            .collect()
    };
    apply(c, "rank-0", &run(0));
    apply(c, "rank-1", &run(1));
}

/// The value ranking (`crate::ranking`: a scan in descending own part that stops early) ranks
/// exactly as scoring every matching offer and sorting would, page by page, with preferences
/// first and filters applied.
pub fn value_ranking_equals_scoring_every_offer(c: &dyn Catalog) {
    catalog_for_ranking(c);
    let cop = Some(Currency::parse("COP").unwrap());
    let prefs = Preferences { stores: vec!["jumbo".into()], ..Default::default() };
    let cases: Vec<(OfferFilter, Option<&Preferences>)> = vec![
        (OfferFilter { currency: cop, ..Default::default() }, None),
        (OfferFilter { currency: cop, brand: Some("oster".into()), ..Default::default() }, None),
        (
            OfferFilter {
                currency: cop,
                store: Some(StoreId::parse("alkosto").unwrap()),
                ..Default::default()
            },
            None,
        ),
        (
            OfferFilter {
                currency: cop,
                min_price: crate::query::Decimal::parse("300"),
                ..Default::default()
            },
            None,
        ),
        (OfferFilter { currency: cop, ..Default::default() }, Some(&prefs)),
        // Half the catalog: ranked by the scan; a leaf, a quarter: also.
        (OfferFilter { currency: cop, category: Some("hogar".into()), ..Default::default() }, None),
        (
            OfferFilter {
                currency: cop,
                category: Some("hogar/sala".into()),
                ..Default::default()
            },
            Some(&prefs),
        ),
    ];
    for (filter, prefs) in cases {
        let who = Personalization { preferences: prefs };
        let preferred = |s: &crate::ports::ScoredOffer| {
            prefs.is_some_and(|p| p.stores.iter().any(|x| x == s.offer.store.as_str()))
        };
        // Every matching offer with its score, in price order: the expectation.
        let entry =
            |s: &crate::ports::ScoredOffer| (preferred(s), s.value_score, s.offer.id.as_i64());
        let every = every_listed(c, &filter, Sort::Price, 100, who, None);
        let mut expected: Vec<(bool, f64, i64)> = every.iter().map(entry).collect();
        assert!(expected.len() > 30, "{filter:?}: the case matches offers");
        expected.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.total_cmp(&a.1)));
        let ranked = every_listed(c, &filter, Sort::Value, 7, who, Some(expected.len()));
        let ranked: Vec<(bool, f64, i64)> = ranked.iter().map(entry).collect();
        let order = |v: &[(bool, f64, i64)]| v.iter().map(|e| (e.0, e.1)).collect::<Vec<_>>();
        assert_eq!(order(&ranked), order(&expected), "{filter:?} {prefs:?}: scores in order");
        let ids = |v: &[(bool, f64, i64)]| {
            let mut ids: Vec<i64> = v.iter().map(|e| e.2).collect();
            ids.sort_unstable();
            ids
        };
        assert_eq!(ids(&ranked), ids(&expected), "{filter:?}: every offer once");
        // The price order in pages of 7 (a page's ids are read first, then their scores):
        // preferred stores first, then price, then id, each offer scored as the value order
        // scores it.
        let priced = |s: &crate::ports::ScoredOffer| {
            (preferred(s), s.offer.price.minor, s.offer.id.as_i64(), s.value_score)
        };
        let mut by_price: Vec<(bool, i64, i64, f64)> = every.iter().map(priced).collect();
        by_price.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        let paged = every_listed(c, &filter, Sort::Price, 7, who, Some(expected.len()));
        let paged: Vec<(bool, i64, i64, f64)> = paged.iter().map(priced).collect();
        assert_eq!(paged, by_price, "{filter:?} {prefs:?}: price pages");
        let scores: std::collections::HashMap<i64, f64> =
            ranked.iter().map(|e| (e.2, e.1)).collect();
        assert!(paged.iter().all(|p| scores[&p.2] == p.3), "{filter:?}: the same scores");
    }
}

/// The date sort of a whole currency reads its page by rank from the market summary's newest
/// offers (`market::RECENT_KEPT` per currency): page by page it equals sorting every offer by
/// last seen, then id — after a run, in the middle of one (its batches moved offers the
/// summary has not caught up with, so the listing sorts) and after a store merge.
pub fn date_listing_equals_sorting_every_offer(c: &dyn Catalog) {
    let skus: Vec<String> = (0..120).map(|i| format!("D{i}")).collect();
    let titles: Vec<String> = (0..120).map(|i| format!("Fecha {i}")).collect();
    let offer = |i: usize, at: i64, price: i64| {
        Fixture {
            store: ["exito", "jumbo", "alkosto"][i % 3],
            sku: &skus[i],
            title: &titles[i],
            currency: if i.is_multiple_of(4) { "CLP" } else { "COP" },
            price,
            at,
            ..Default::default()
        }
        .offer()
    };
    // Five observation times: many ties, broken by id.
    let first: Vec<Offer> = (0..120).map(|i| offer(i, 1_000 + (i as i64 * 7) % 5, 5_000)).collect();
    apply(c, "date-0", &first);
    dated_pages_equal_sorted(c, "after the first run");
    // A third seen again: later (to the front; half of those with a new price) or earlier
    // (no move).
    let again: Vec<Offer> = (0..120)
        .filter(|i| i % 3 == 0)
        .map(|i| match i % 2 {
            0 => offer(i, 2_000, if i % 4 == 0 { 4_000 } else { 5_000 }),
            _ => offer(i, 900, 5_000),
        })
        .collect();
    let mut s = c.begin_ingest(&new_file("date-1"), false).expect("begin");
    let reader = IngestCounts { read: again.len() as u64, ..Default::default() };
    s.apply_batch(&again, &reader).expect("apply");
    dated_pages_equal_sorted(c, "between a run's batches and its end");
    s.finish(IngestStatus::Done, None).expect("finish");
    dated_pages_equal_sorted(c, "after the second run");
    c.merge_stores(&StoreId::parse("jumbo").unwrap(), &StoreId::parse("exito").unwrap()).unwrap();
    dated_pages_equal_sorted(c, "after a merge");
}

fn dated_pages_equal_sorted(c: &dyn Catalog, when: &str) {
    for code in ["COP", "CLP"] {
        let filter = OfferFilter { currency: Currency::parse(code).ok(), ..Default::default() };
        let who = Personalization::default();
        let entry = |s: &crate::ports::ScoredOffer| (s.offer.last_seen, s.offer.id.as_i64());
        let every = every_listed(c, &filter, Sort::Price, 100, who, None);
        let mut expected: Vec<(i64, i64)> = every.iter().map(entry).collect();
        assert!(expected.len() >= 30, "{code} {when}: the currency has offers");
        expected.sort_by_key(|&(seen, id)| (std::cmp::Reverse(seen), id));
        let dated = every_listed(c, &filter, Sort::Date, 7, who, Some(expected.len()));
        let dated: Vec<(i64, i64)> = dated.iter().map(entry).collect();
        assert_eq!(dated, expected, "{code} {when}: newest first, then by id");
        // Filtered, a page walks the kept newest offers where that reads fewer than sorting
        // the matches (the first pages), and sorts otherwise: the same order either way.
        let narrowed = [
            OfferFilter { store: Some(StoreId::parse("exito").unwrap()), ..filter.clone() },
            OfferFilter { category: Some("hogar".into()), ..filter.clone() },
            OfferFilter { min_price: crate::query::Decimal::parse("45"), ..filter.clone() },
        ];
        for narrow in narrowed {
            let every = every_listed(c, &narrow, Sort::Price, 100, who, None);
            let mut expected: Vec<(i64, i64)> = every.iter().map(entry).collect();
            assert!(!expected.is_empty(), "{code} {when} {narrow:?}: matches");
            expected.sort_by_key(|&(seen, id)| (std::cmp::Reverse(seen), id));
            let dated = every_listed(c, &narrow, Sort::Date, 7, who, Some(expected.len()));
            let dated: Vec<(i64, i64)> = dated.iter().map(entry).collect();
            assert_eq!(dated, expected, "{code} {when} {narrow:?}: newest first");
        }
        // Totals of a category or a store (and both) in the currency, from the market summary:
        // each equals the offers its pages list.
        let exito = Some(StoreId::parse("exito").unwrap());
        for (category, store) in [("hogar", None), ("hogar/cocina", None), ("hogar", exito)] {
            let filter = OfferFilter { category: Some(category.into()), store, ..filter.clone() };
            let mut listed = 0;
            let mut total = None;
            for page in 1.. {
                let p = c.list_offers(&filter, Sort::Price, PageRequest { page, limit: 50 }, who);
                let p = p.unwrap();
                total = Some(p.total);
                if p.items.is_empty() {
                    break;
                }
                listed += p.items.len() as u64;
            }
            assert_eq!(total, Some(listed), "{code} {when} {filter:?}: total");
        }
        let filter = OfferFilter { category: Some("mercado".into()), ..filter };
        assert_eq!(
            c.list_offers(&filter, Sort::Price, PageRequest::default(), who).unwrap().total,
            0
        );
    }
}

/// Best prices keep one offer per product however many offers of one product come first in
/// price order — more than a backend reads at once (PostgreSQL reads a LIMIT first, then
/// streams the rest).
pub fn best_prices_reach_past_many_offers_of_one_product(c: &dyn Catalog) {
    let skus: Vec<String> = (0..600).map(|i| format!("M{i}")).collect();
    let mut offers: Vec<Offer> = skus
        .iter()
        .enumerate()
        .map(|(i, sku)| {
            Fixture {
                sku,
                title: "Olla grande",
                gtin: Some("7702032101054"),
                price: 1_000 + i as i64,
                ..Default::default()
            }
            .offer()
        })
        .collect();
    // Two more products, dearer than every offer of the first, in two other categories under
    // the same top level (a category's listing may walk each key apart: PostgreSQL does).
    offers.push(
        Fixture {
            sku: "N1",
            title: "Sarten",
            category: "Hogar > Sala",
            price: 50_000,
            ..Default::default()
        }
        .offer(),
    );
    offers.push(
        Fixture {
            sku: "N2",
            title: "Licuadora",
            category: "Hogar > Bano",
            price: 60_000,
            ..Default::default()
        }
        .offer(),
    );
    apply(c, "many", &offers);
    for category in [None, Some("hogar")] {
        let filter = OfferFilter {
            currency: Currency::parse("COP").ok(),
            min_price: crate::query::Decimal::parse("1"),
            category: category.map(str::to_string),
            ..Default::default()
        };
        let page =
            c.best_prices(&filter, PageRequest::default(), Personalization::default()).unwrap();
        let got: Vec<(i64, u64)> =
            page.items.iter().map(|b| (b.offer.price.minor, b.offers_for_product)).collect();
        assert_eq!(got, vec![(1_000, 600), (50_000, 1), (60_000, 1)], "{category:?}");
        assert_eq!(page.total, 3);
    }
}

/// A total counted over a filter's matches stops past `COUNT_LIMIT` offers: the listing then
/// answers a lower bound, not exact (offers: `COUNT_LIMIT`; best prices: the products among
/// the offers counted), and still serves pages past it; a total a summary keeps, or a count
/// that ended before the limit, is exact.
pub fn counted_totals_stop_past_the_count_limit(c: &dyn Catalog) {
    let many = crate::query::COUNT_LIMIT as usize + 40;
    let skus: Vec<String> = (0..many).map(|i| format!("S{i}")).collect();
    // 5,000 products of two or three offers each.
    let titles: Vec<String> = (0..many).map(|i| format!("Producto {}", i % 5_000)).collect();
    let offers: Vec<Offer> = skus
        .iter()
        .zip(&titles)
        .enumerate()
        .map(|(i, (sku, title))| {
            Fixture { sku, title, price: 1_000 + i as i64, ..Default::default() }.offer()
        })
        .collect();
    apply(c, "many", &offers);
    let cop = Currency::parse("COP").ok();
    let who = Personalization::default();
    let bounded = |min: &str, max: &str| OfferFilter {
        currency: cop,
        min_price: crate::query::Decimal::parse(min),
        max_price: crate::query::Decimal::parse(max),
        ..Default::default()
    };
    // Without a currency no summary knows the unbounded totals: counted, and the count stops.
    let past = OfferFilter { currency: None, ..bounded("1", "100000000") };
    let ranked = c.list_offers(&past, Sort::Price, PageRequest::default(), who).unwrap();
    assert_eq!((ranked.total, ranked.total_exact), (crate::query::COUNT_LIMIT, false));
    let best = c.best_prices(&past, PageRequest::default(), who).unwrap();
    // Any 10,001 of the offers leave out 39, which hold at most 19 products whole.
    assert!((4_981..=5_000).contains(&best.total) && !best.total_exact, "{}", best.total);
    // In the currency, the summaries' totals less the few offers the bounds leave out: exact
    // past the limit (none below 10.00; 39 above 110.00, whose products have cheaper offers).
    for max in ["100000000", "110"] {
        let wide = bounded("10", max);
        let ranked = c.list_offers(&wide, Sort::Price, PageRequest::default(), who).unwrap();
        let expected = if max == "110" { many as u64 - 39 } else { many as u64 };
        assert_eq!((ranked.total, ranked.total_exact), (expected, true));
        let best = c.best_prices(&wide, PageRequest::default(), who).unwrap();
        assert_eq!((best.total, best.total_exact), (5_000, true));
    }
    // The page past the limit is read, not assumed empty.
    let deep = PageRequest { page: 101, limit: 100 };
    let last = c.list_offers(&past, Sort::Price, deep, who).unwrap();
    assert_eq!(last.items.len(), 40);
    assert_eq!(last.items[0].offer.price.minor, 1_000 + crate::query::COUNT_LIMIT as i64);
    // Many matches and many outside the bounds (past what a complement reads): counted.
    let middle = bounded("20", "60"); // 20.00 to 60.00: 4,001 offers, each its own product
    let ranked = c.list_offers(&middle, Sort::Price, PageRequest::default(), who).unwrap();
    assert_eq!((ranked.total, ranked.total_exact), (4_001, true));
    let best = c.best_prices(&middle, PageRequest::default(), who).unwrap();
    assert_eq!((best.total, best.total_exact), (4_001, true));
    // Fewer matches: counted exactly.
    let few = bounded("1", "10.49"); // prices are in cents: 10.00 to 10.49
    let ranked = c.list_offers(&few, Sort::Price, PageRequest::default(), who).unwrap();
    assert_eq!((ranked.total, ranked.total_exact), (50, true));
    let best = c.best_prices(&few, PageRequest::default(), who).unwrap();
    assert_eq!((best.total, best.total_exact), (50, true));
    // The currency's total comes from the market summary: exact past the limit.
    let whole = OfferFilter { currency: cop, ..Default::default() };
    let ranked = c.list_offers(&whole, Sort::Price, PageRequest::default(), who).unwrap();
    assert_eq!((ranked.total, ranked.total_exact), (many as u64, true));
    // A text search considers the first 2,000 matching products: past them its total is a
    // lower bound, from the summary and from the offers (a store's) alike.
    let store = OfferFilter { store: StoreId::parse("exito").ok(), ..whole.clone() };
    let search = |q: &str, f: &OfferFilter| {
        let found = c.search_offers(q, f, false, PageRequest::default()).unwrap();
        (found.total, found.total_exact)
    };
    let cap = crate::query::SEARCH_CANDIDATES;
    assert_eq!(search("producto", &whole), (cap, false));
    assert_eq!(search("producto", &store), (cap, false));
    // "Producto 17", "Producto 170" to "179" and "Producto 1700" to "1799".
    assert_eq!(search("producto 17", &whole), (111, true));
    assert_eq!(search("producto 17", &store), (111, true));
}

/// A category's best prices filtered by one store or one brand answer the total the market
/// summary keeps: the products with a buyable offer there, as counting the matching offers
/// gives (`counted`).
pub fn category_best_price_totals_by_store_and_brand_match_counting(c: &dyn Catalog) {
    catalog_for_ranking(c);
    let who = Personalization::default();
    let mut nonzero = 0;
    for currency in ["COP", "CLP"] {
        for category in ["hogar", "hogar/sala", "tecnologia", "mercado", "nada"] {
            let by_store = ["exito", "jumbo", "alkosto"].map(|s| (Some(s), None));
            let by_brand = ["Imusa", "oster", "MABE", "Nadie"].map(|b| (None, Some(b)));
            for (store, brand) in by_store.into_iter().chain(by_brand) {
                let filter = OfferFilter {
                    currency: Currency::parse(currency).ok(),
                    category: Some(category.into()),
                    store: store.map(|s| StoreId::parse(s).unwrap()),
                    brand: brand.map(str::to_string),
                    ..Default::default()
                };
                let p = c.best_prices(&filter, PageRequest { page: 1, limit: 1 }, who).unwrap();
                assert!(p.total_exact, "{filter:?}");
                let expected = counted(c, &filter).1;
                assert_eq!(p.total, expected, "{filter:?}");
                nonzero += usize::from(expected > 0);
            }
        }
    }
    assert!(nonzero > 20, "the cases find products: {nonzero}");
}

/// A listing filtered by one brand alone answers the totals the market summary keeps: its
/// offers in the currency, out of stock too (ranked offers), and its products with a buyable
/// offer in any category or none (best prices) — as counting the matching offers gives
/// (`counted`).
pub fn brand_totals_match_counting(c: &dyn Catalog) {
    catalog_for_ranking(c);
    // One of Sony's offers has no category: counted by both totals all the same.
    let mut radio =
        Fixture { sku: "X1", title: "Radio", brand: "Sony", ..Default::default() }.offer();
    radio.category = None;
    apply(c, "uncategorized", &[radio]);
    let who = Personalization::default();
    let one = PageRequest { page: 1, limit: 1 };
    let mut nonzero = 0;
    for currency in ["COP", "CLP", "ARS"] {
        for brand in ["Imusa", "oster", "MABE", " Sony ", "Nadie"] {
            let filter = OfferFilter {
                currency: Currency::parse(currency).ok(),
                brand: Some(brand.into()),
                ..Default::default()
            };
            let ranked = c.list_offers(&filter, Sort::Price, one, who).unwrap();
            let best = c.best_prices(&filter, one, who).unwrap();
            assert!(ranked.total_exact && best.total_exact, "{filter:?}");
            let (offers, products) = counted(c, &filter);
            assert_eq!(ranked.total, offers, "{filter:?}");
            assert_eq!(best.total, products, "{filter:?}");
            assert!(products <= offers, "{filter:?}");
            nonzero += usize::from(products > 0 && products < offers);
        }
    }
    assert!(nonzero >= 6, "the cases find offers out of stock or of one product: {nonzero}");
}

/// What counting a filter's matches gives, from every page of its price-sorted listing read
/// with a budget no price reaches (a budget keeps every summary out, so that listing's pages
/// end where its counted total does): the offers, and the distinct products with a buyable
/// offer among them (a best-prices total).
fn counted(c: &dyn Catalog, filter: &OfferFilter) -> (u64, u64) {
    let budget = Preferences { budget: Some(u64::MAX), ..Default::default() };
    let who = Personalization { preferences: Some(&budget) };
    let mut products = std::collections::HashSet::new();
    let mut offers = 0;
    for page in 1.. {
        let request = PageRequest { page, limit: PageRequest::MAX_LIMIT };
        let items = c.list_offers(filter, Sort::Price, request, who).unwrap().items;
        if items.is_empty() {
            break;
        }
        offers += items.len() as u64;
        for o in items.iter().map(|i| &i.offer) {
            if o.availability != Availability::OutOfStock {
                products.insert(o.product_id);
            }
        }
    }
    (offers, products.len() as u64)
}

/// Listings bounded in price whose totals without the bounds the summaries keep (a currency, a
/// category, a store, a brand, and a category narrowed to one store or brand) answer, exact,
/// what counting their matches gives: the offers within the bounds, and the products with a
/// buyable offer within them — a product whose offers lie partly outside the bounds is still
/// counted, one whose every matching offer lies outside is not.
pub fn price_bounded_totals_equal_counting(c: &dyn Catalog) {
    let stores = ["exito", "jumbo", "alkosto"];
    let brands = ["Imusa", "Oster", "Mabe"];
    let categories = ["Hogar > Cocina", "Hogar > Sala", "Tecnologia > TV"];
    let titles: Vec<String> = (0..600).map(|p| format!("Equipo {p}")).collect();
    let skus: Vec<String> = (0..1_800).map(|i| format!("S{i}")).collect();
    let mut offers = Vec::new();
    // 600 products of one to three offers (~1,100 in COP), prices spread from 10.00 to
    // 510.00 so a product's offers fall on both sides of a bound (a bound near either end
    // leaves out fewer than a complement reads, a narrow window more); some out of stock, a
    // few in CLP.
    for (p, title) in titles.iter().enumerate() {
        for (s, store) in stores.iter().enumerate().take(1 + p % 3) {
            let i = p * 3 + s;
            offers.push(
                Fixture {
                    store,
                    sku: &skus[i],
                    title,
                    brand: brands[p % 3],
                    category: categories[(p / 3) % 3],
                    price: 1_000 + ((p * 7_919 + s * 17_351) % 50_000) as i64,
                    currency: if p % 11 == 0 { "CLP" } else { "COP" },
                    availability: if i % 7 == 0 {
                        Availability::OutOfStock
                    } else {
                        Availability::InStock
                    },
                    ..Default::default()
                }
                .offer(),
            );
        }
    }
    apply(c, "bounded", &offers);
    let who = Personalization::default();
    let one = PageRequest { page: 1, limit: 1 };
    let cop = Currency::parse("COP").ok();
    let narrowings = [
        OfferFilter { currency: cop, ..Default::default() },
        OfferFilter { currency: cop, category: Some("hogar".into()), ..Default::default() },
        OfferFilter { currency: cop, category: Some("hogar/sala".into()), ..Default::default() },
        OfferFilter { currency: cop, store: StoreId::parse("jumbo").ok(), ..Default::default() },
        OfferFilter { currency: cop, brand: Some("oster".into()), ..Default::default() },
        OfferFilter {
            currency: cop,
            category: Some("hogar".into()),
            store: StoreId::parse("exito").ok(),
            ..Default::default()
        },
        OfferFilter {
            currency: cop,
            category: Some("hogar/sala".into()),
            brand: Some("Mabe".into()),
            ..Default::default()
        },
    ];
    let bound = crate::query::Decimal::parse;
    let bounds = [(Some("60"), None), (None, Some("450")), (Some("60"), Some("450"))];
    let bounds = bounds.into_iter().chain([(Some("200"), Some("260")), (Some("0"), None)]);
    let bounds: Vec<_> = bounds.collect();
    let mut left_out = 0;
    for narrowed in &narrowings {
        let (_, unbounded) = counted(c, narrowed);
        for (min, max) in &bounds {
            let filter = OfferFilter {
                min_price: min.and_then(bound),
                max_price: max.and_then(bound),
                ..narrowed.clone()
            };
            let ranked = c.list_offers(&filter, Sort::Price, one, who).unwrap();
            let best = c.best_prices(&filter, one, who).unwrap();
            let (offers, products) = counted(c, &filter);
            assert_eq!((ranked.total, ranked.total_exact), (offers, true), "{filter:?}");
            assert_eq!((best.total, best.total_exact), (products, true), "{filter:?}");
            // Products with offers on both sides of a bound are kept, not only those wholly
            // inside: fewer left out than the offers outside.
            left_out += usize::from(products < unbounded);
        }
    }
    assert!(left_out >= 20, "bounds leave products out: {left_out}");
}

/// Filters of `catalog_for_ranking`'s categories in COP (a top-level one, a leaf, one without
/// subcategories), each bare and with a price bound.
fn category_filters_for_ranking() -> Vec<OfferFilter> {
    let mut filters = Vec::new();
    for category in ["hogar", "hogar/sala", "mercado"] {
        for min_price in [None, crate::query::Decimal::parse("300")] {
            filters.push(OfferFilter {
                currency: Currency::parse("COP").ok(),
                category: Some(category.into()),
                min_price,
                ..Default::default()
            });
        }
    }
    filters
}

/// A category's best prices (a top-level category's keys, a leaf's one key), bare and with a
/// price bound, list the cheapest buyable offer of each product in price order, as taking
/// them from every matching offer in price order gives.
pub fn category_best_prices_equal_the_cheapest_offer_per_product(c: &dyn Catalog) {
    catalog_for_ranking(c);
    for filter in category_filters_for_ranking() {
        best_prices_equal_the_cheapest_offer_per_product(c, &filter, 7);
    }
    // Narrowed to one store or one brand (a store walks the category's keys where it holds
    // many of the category's products, `CatalogRead::best_prices`' adapters may choose).
    for category in ["hogar", "hogar/sala"] {
        for min_price in [None, crate::query::Decimal::parse("300")] {
            let base = OfferFilter {
                currency: Currency::parse("COP").ok(),
                category: Some(category.into()),
                min_price,
                ..Default::default()
            };
            let store = OfferFilter { store: StoreId::parse("exito").ok(), ..base.clone() };
            let brand = OfferFilter { brand: Some("imusa".into()), ..base };
            best_prices_equal_the_cheapest_offer_per_product(c, &store, 7);
            best_prices_equal_the_cheapest_offer_per_product(c, &brand, 7);
        }
    }
}

/// Top-level categories of two keys whose 30 products have 40 offers each: the first rows of
/// each key (a few hundred) hold too few products for a page when prices follow the product
/// ("hogar": a reader that merges per-key walks must go past them), and all of them when
/// prices are mixed ("tecnologia"); the pages and totals stay those of every offer.
pub fn best_prices_of_many_offers_per_product_equal_the_cheapest(c: &dyn Catalog) {
    let n = 1_200;
    let skus: Vec<String> = (0..2 * n).map(|i| format!("S{i}")).collect();
    let titles: Vec<String> =
        (0..2 * n).map(|i| format!("Producto {} {}", i / n, i % 30)).collect();
    let offers: Vec<Offer> = (0..2 * n)
        .map(|i| {
            let (product, k) = ((i % 30) as i64, (i % n / 30) as i64);
            let (category, price) = if i < n {
                let leaf = if product < 15 { "Hogar > Cocina" } else { "Hogar > Sala" };
                (leaf, 1_000 + product * 100 + k)
            } else {
                let leaf = if product < 15 { "Tecnologia > TV" } else { "Tecnologia > Audio" };
                (leaf, 1_000 + (i as i64 * 7_919) % 5_000)
            };
            Fixture { sku: &skus[i], title: &titles[i], category, price, ..Default::default() }
                .offer()
        })
        .collect();
    apply(c, "many", &offers);
    for category in ["hogar", "tecnologia"] {
        let filter = OfferFilter {
            currency: Currency::parse("COP").ok(),
            category: Some(category.into()),
            min_price: crate::query::Decimal::parse("5"),
            ..Default::default()
        };
        best_prices_equal_the_cheapest_offer_per_product(c, &filter, 20);
    }
}

/// `filter`'s best prices, paged by `limit`, against the first buyable offer of each product
/// among every matching offer in price order.
fn best_prices_equal_the_cheapest_offer_per_product(
    c: &dyn Catalog,
    filter: &OfferFilter,
    limit: u32,
) {
    let who = Personalization::default();
    let every = every_listed(c, filter, Sort::Price, 100, who, None);
    let mut seen = std::collections::HashSet::new();
    let expected: Vec<i64> = every
        .iter()
        .map(|s| &s.offer)
        .filter(|o| o.availability != Availability::OutOfStock)
        .filter(|o| seen.insert(o.product_id))
        .map(|o| o.id.as_i64())
        .collect();
    assert!(expected.len() > 10, "{filter:?}: the case finds products");
    let mut listed = Vec::new();
    for page in 1.. {
        let p = c.best_prices(filter, PageRequest { page, limit }, who).unwrap();
        assert_eq!(p.total, expected.len() as u64, "{filter:?}: total");
        if p.items.is_empty() {
            break;
        }
        listed.extend(p.items.iter().map(|b| b.offer.id.as_i64()));
    }
    assert_eq!(listed, expected, "{filter:?}");
}

/// A category's rating-sorted pages (walked along the currency's rating order, sorted when
/// the walk runs out) list exactly its offers best rated first — no rating last, then most
/// reviews (none last), ties by id — with a price bound riding along.
pub fn rating_sorted_category_pages_equal_sorting(c: &dyn Catalog) {
    catalog_for_ranking(c);
    let who = Personalization::default();
    for filter in category_filters_for_ranking() {
        let key = |o: &crate::query::OfferView| {
            let rating = o.rating.map(|r| r.hundredths());
            (
                rating.is_none(),
                std::cmp::Reverse(rating),
                o.review_count.is_none(),
                std::cmp::Reverse(o.review_count),
                o.id.as_i64(),
            )
        };
        let every = every_listed(c, &filter, Sort::Price, 100, who, None);
        let mut expected: Vec<_> = every.iter().map(|s| key(&s.offer)).collect();
        assert!(expected.len() > 20, "{filter:?}: the case matches offers");
        expected.sort();
        let listed = every_listed(c, &filter, Sort::Rating, 7, who, Some(expected.len()));
        let listed: Vec<_> = listed.iter().map(|s| key(&s.offer)).collect();
        assert_eq!(listed, expected, "{filter:?}");
    }
}

/// A category whose offers all rate below the first ~21,000 of its currency: the rating walk
/// reads its budget without filling the page, and the listing sorts the category instead.
pub fn a_rating_walk_that_runs_out_sorts_instead(c: &dyn Catalog) {
    let wanted = 20;
    let many = crate::ranking::scan_cap(wanted) as usize + 100;
    let skus: Vec<String> = (0..many).map(|i| format!("S{i}")).collect();
    let titles: Vec<String> = (0..many).map(|i| format!("Producto {i}")).collect();
    let offers: Vec<Offer> = (0..many)
        .map(|i| {
            let low = i >= many - 50;
            let category = if low { "Bajo" } else { "Alto" };
            let mut o =
                Fixture { sku: &skus[i], title: &titles[i], category, ..Default::default() }
                    .offer();
            o.rating =
                Some(Rating::from_hundredths(if low { 100 + i as i64 % 7 } else { 450 }).unwrap());
            o
        })
        .collect();
    apply(c, "walk", &offers);
    let filter = OfferFilter {
        currency: Currency::parse("COP").ok(),
        category: Some("bajo".into()),
        ..Default::default()
    };
    let page = PageRequest { page: 1, limit: wanted as u32 };
    let p = c.list_offers(&filter, Sort::Rating, page, Personalization::default()).unwrap();
    let ratings: Vec<u16> = p.items.iter().map(|s| s.offer.rating.unwrap().hundredths()).collect();
    assert_eq!(p.total, 50);
    assert_eq!(ratings.len(), wanted as usize, "the page is filled by the sort");
    assert!(ratings.windows(2).all(|w| w[0] >= w[1]) && ratings[0] == 106, "{ratings:?}");
}

/// A category's price-sorted pages (walked along the price index when the category is a large
/// share of its currency, sorted otherwise) list exactly its offers in price order, cheapest
/// or dearest first, ties by id, with a price bound riding along.
pub fn price_sorted_category_pages_equal_sorting(c: &dyn Catalog) {
    catalog_for_ranking(c);
    let who = Personalization::default();
    for filter in category_filters_for_ranking() {
        let entry = |s: &crate::ports::ScoredOffer| (s.offer.price.minor, s.offer.id.as_i64());
        let every = every_listed(c, &filter, Sort::Value, 100, who, None);
        let every: Vec<(i64, i64)> = every.iter().map(entry).collect();
        assert!(every.len() > 20, "{filter:?}: the case matches offers");
        for sort in [Sort::Price, Sort::PriceDesc] {
            let mut expected = every.clone();
            match sort {
                Sort::Price => expected.sort(),
                _ => expected.sort_by_key(|&(price, id)| (std::cmp::Reverse(price), id)),
            }
            let listed = every_listed(c, &filter, sort, 7, who, Some(expected.len()));
            let listed: Vec<(i64, i64)> = listed.iter().map(entry).collect();
            assert_eq!(listed, expected, "{filter:?} {sort:?}");
        }
    }
}

pub fn reports_brands_categories_and_drops(c: &dyn Catalog) {
    catalog_for_queries(c);
    let cats: Vec<(String, u64)> =
        c.categories().unwrap().into_iter().map(|k| (k.key, k.offers)).collect();
    assert_eq!(
        cats,
        vec![("electro/neveras".into(), 2), ("electro/pequenos".into(), 2), ("mercado".into(), 1)]
    );
    let brands = c.brands(10).unwrap();
    assert_eq!((brands[0].brand.as_str(), brands[0].offers, brands[0].products), ("Mabe", 2, 1));
    // The stored price analyses: every path, each currency, out-of-stock offers included.
    let (cop, clp) = (Currency::COP, Currency::parse("CLP").unwrap());
    let electro = c.price_analysis("electro", cop).unwrap().expect("electro in COP");
    let prices = [234_990_000, 219_990_000, 19_990_000, 18_990_000];
    assert_eq!(electro.stats, crate::analysis::stats::summarize(&prices).unwrap());
    let counts = |bins| electro.histogram(bins).iter().map(|b| b.count).collect::<Vec<_>>();
    assert_eq!(counts(2), [2, 2]);
    assert_eq!(counts(100).iter().sum::<u64>(), 4);
    let brands: Vec<(&str, u64)> =
        electro.by_brand.iter().map(|b| (b.name.as_str(), b.stats.count)).collect();
    assert_eq!(brands, [("Mabe", 2), ("Oster", 2)]);
    assert_eq!(electro.by_brand[0].stats.median, 227_490_000);
    let stores: Vec<(&str, i64)> =
        electro.by_store.iter().map(|b| (b.name.as_str(), b.stats.min)).collect();
    assert_eq!(stores, [("alkosto", 18_990_000), ("exito", 19_990_000)]);
    let neveras = c.price_analysis("electro/neveras", cop).unwrap().expect("a leaf");
    assert_eq!((neveras.stats.count, neveras.stats.max), (2, 234_990_000));
    assert!(c.price_analysis("electro", clp).unwrap().is_none(), "no offers in that currency");
    assert_eq!(c.price_analysis("mercado", clp).unwrap().map(|a| a.stats.count), Some(1));
    assert!(c.price_analysis("elec", cop).unwrap().is_none(), "a path ends at a separator");
    let cop = crate::domain::Currency::parse("COP").unwrap();
    let market = c.store_market(cop, 0).unwrap();
    assert_eq!(market.iter().map(|s| s.offers).sum::<u64>(), 4, "{market:?}");
    assert!(market.iter().all(|s| s.fresh == s.offers), "all seen after hour 0");
    let nevera = || Fixture {
        store: "exito",
        sku: "n1",
        title: "Nevera",
        brand: "Mabe",
        category: "Electro > Neveras",
        ..Default::default()
    };
    apply(c, "drop", &[Fixture { price: 200_000_000, at: 5_000, ..nevera() }.offer()]);
    let page = PageRequest::default();
    let drops = c.trending(4_000, &OfferFilter::default(), page).unwrap();
    assert_eq!(drops.total, 1);
    let d = &drops.items[0];
    // The usual price before the drop was 2.349.900; 2.000.000 is 14.89% below it.
    assert_eq!((d.reference_minor, d.drop_bp, d.dropped_at), (234_990_000, 1489, 5_000));
    assert!(c.trending(6_000, &OfferFilter::default(), page).unwrap().items.is_empty());
    // A rise back ends the drop; an unchanged re-scrape keeps it.
    let back = Fixture { price: 234_990_000, at: 7_000, ..nevera() };
    apply(c, "back", &[back.offer()]);
    assert!(c.trending(0, &OfferFilter::default(), page).unwrap().items.is_empty());
    apply(c, "again", &[Fixture { price: 190_000_000, at: 8_000, ..nevera() }.offer()]);
    apply(c, "same", &[Fixture { price: 190_000_000, at: 9_000, ..nevera() }.offer()]);
    let drops = c.trending(0, &OfferFilter::default(), page).unwrap();
    assert_eq!((drops.total, drops.items[0].dropped_at), (1, 8_000));
    let elsewhere =
        OfferFilter { store: Some(StoreId::parse("jumbo").unwrap()), ..Default::default() };
    assert_eq!(c.trending(0, &elsewhere, page).unwrap().total, 0, "filters apply");
    // Every trending filter, read from the drop rows, and kept current when the offer changes
    // what they read without a new price.
    let count = |f: OfferFilter| {
        let p = c.trending(0, &f, page).unwrap();
        assert_eq!(p.items.len() as u64, p.total, "{f:?}: the page holds every match");
        p.total
    };
    let cop = Some(Currency::parse("COP").unwrap());
    let in_category =
        |key: &str| OfferFilter { category: Some(key.into()), currency: cop, ..Default::default() };
    assert_eq!(count(in_category("electro")), 1);
    assert_eq!(count(in_category("hogar")), 0);
    assert_eq!(count(OfferFilter { brand: Some("MABE".into()), ..Default::default() }), 1);
    assert_eq!(count(OfferFilter { brand: Some("Oster".into()), ..Default::default() }), 0);
    let under = |max: &str| OfferFilter {
        currency: cop,
        max_price: crate::query::Decimal::parse(max),
        ..Default::default()
    };
    assert_eq!(count(under("1900000")), 1, "COP 1.900.000 is within the bound");
    assert_eq!(count(under("1899999.99")), 0);
    let moved = Fixture { price: 190_000_000, at: 9_500, category: "Hogar > Frio", ..nevera() };
    apply(c, "recategorized", &[moved.offer()]);
    assert_eq!(count(in_category("hogar")), 1, "the drop follows its offer's new category");
    assert_eq!(count(in_category("electro")), 0);
    // A merged store's drops follow its offers to their new ids.
    let merged = StoreId::parse("exito-merged").unwrap();
    c.merge_stores(&StoreId::parse("exito").unwrap(), &merged).unwrap();
    let drops = c.trending(0, &OfferFilter::default(), page).unwrap();
    assert_eq!(drops.total, 1);
    let d = &drops.items[0];
    assert_eq!((d.offer.store.as_str(), d.dropped_at), ("exito-merged", 8_000));
    let here = OfferFilter { store: Some(merged), ..Default::default() };
    assert_eq!(c.trending(0, &here, page).unwrap().total, 1);
}

/// Every page of a filtered trending listing equals the filter's drops cut from the whole
/// list, largest first — whether the adapter finds the page near the top of every drop (a
/// store whose drops rank high: SQLite walks the rank index down to a floor) or must sort the
/// filter's own (a store whose drops all rank low, a brand spread across both).
pub fn trending_pages_equal_the_filtered_list_of_every_drop(c: &dyn Catalog) {
    let stores = ["grande", "mediana", "chica"];
    let brands = ["Mabe", "Oster"];
    let mut before = Vec::new();
    let mut after = Vec::new();
    for i in 0..600usize {
        let store = stores[i % 3];
        // Drops of 30–59% at "grande", 10–39% at "mediana", 1–3% at "chica".
        let pct: i64 = match store {
            "grande" => 30 + (i as i64 * 7) % 30,
            "mediana" => 10 + (i as i64 * 11) % 30,
            _ => 1 + (i as i64 / 3) % 3,
        };
        let sku = format!("s{i}");
        let title = format!("Producto {i}");
        let fixture = |price, at| Fixture {
            store,
            sku: &sku,
            title: &title,
            brand: brands[i % 2],
            category: if i % 4 == 0 { "Electro > Neveras" } else { "Hogar > Cocina" },
            price,
            at,
            ..Default::default()
        };
        // A fifth of the drops begin later: a window from 6,000 leaves the others out.
        let at = if i % 5 == 0 { 9_000 } else { 5_000 };
        before.push(fixture(1_000_000, 1_000).offer());
        after.push(fixture(1_000_000 - pct * 10_000 - i as i64, at).offer());
    }
    apply(c, "before", &before);
    apply(c, "after", &after);
    for (since, drops) in [(0, 600), (6_000, 120)] {
        trending_pages_equal_the_filtered_list(c, since, drops);
    }
}

/// A store's drops dense enough that a page walks down the rank (past the extra a walk must
/// save, `ranking::DROP_WALK_EXTRA`): its pages are those of the whole list filtered, whether
/// the walk holds them ("grande": the largest drops), comes up short and sorts ("chica": the
/// smallest), or is not tried (a deep page; "mediana", too few).
pub fn trending_pages_of_dense_drops_equal_the_filtered_list(c: &dyn Catalog) {
    let n = 5_500usize;
    let skus: Vec<String> = (0..n).map(|i| format!("w{i}")).collect();
    let titles: Vec<String> = (0..n).map(|i| format!("Articulo {i}")).collect();
    let store = |i: usize| match i {
        0..2_600 => "grande",
        2_600..5_200 => "chica",
        _ => "mediana",
    };
    let offers = |round: i64| -> Vec<Offer> {
        (0..n)
            .map(|i| {
                let pct: i64 = match store(i) {
                    "grande" => 30 + (i as i64 * 7) % 30,
                    "chica" => 1 + (i as i64) % 3,
                    _ => 10 + (i as i64 * 11) % 30,
                };
                let price =
                    if round == 0 { 1_000_000 } else { 1_000_000 - pct * 10_000 - i as i64 };
                Fixture {
                    store: store(i),
                    sku: &skus[i],
                    title: &titles[i],
                    price,
                    at: 1_000 + round * 1_000,
                    ..Default::default()
                }
                .offer()
            })
            .collect()
    };
    apply(c, "dense-before", &offers(0));
    apply(c, "dense-after", &offers(1));
    let mut all = Vec::new();
    for page in 1.. {
        let listed = c.trending(0, &OfferFilter::default(), PageRequest { page, limit: 100 });
        let items = listed.unwrap().items;
        if items.is_empty() {
            break;
        }
        all.extend(items);
    }
    assert_eq!(all.len(), n);
    for name in ["grande", "chica", "mediana"] {
        let filter = OfferFilter { store: StoreId::parse(name).ok(), ..Default::default() };
        let wanted: Vec<OfferId> =
            all.iter().filter(|d| d.offer.store.as_str() == name).map(|d| d.offer.id).collect();
        for page in [1, 2, 3, 50] {
            let request = PageRequest { page, limit: 7 };
            let got = c.trending(0, &filter, request).unwrap();
            let ids: Vec<OfferId> = got.items.iter().map(|d| d.offer.id).collect();
            let from = (request.offset() as usize).min(wanted.len());
            let to = (from + 7).min(wanted.len());
            assert_eq!(ids, wanted[from..to], "{name} {request:?}");
            assert_eq!((got.total, got.total_exact), (wanted.len() as u64, true));
        }
    }
}

/// Seconds in a day, for timestamps that span several.
const DAY: i64 = 86_400;

/// Drops that begin on different days, then end, move to another category or brand, or
/// follow a store merge: a trending listing's total, over every drop and by one store,
/// category or brand, is what its pages list, for windows that begin before, within and
/// between the days (the totals come from counts kept per day and the window's first day).
pub fn trending_totals_equal_the_listed_drops_across_days(c: &dyn Catalog) {
    let stores = ["grande", "mediana", "chica"];
    let categories = ["Electro > Neveras", "Electro > Lavadoras", "Hogar > Cocina"];
    let skus: Vec<String> = (0..60).map(|i| format!("d{i}")).collect();
    let titles: Vec<String> = (0..60).map(|i| format!("Equipo {i}")).collect();
    let run = |round: i64| -> Vec<Offer> {
        (0..60usize)
            .map(|i| {
                let n = i as i64;
                // Day 10 at full price; a drop on one of days 12–16 at some hour; on day 20 a
                // third go back up, a sixth move to the kitchen, a fifth change brand.
                let (price, at) = match round {
                    0 => (1_000_000, 10 * DAY),
                    1 => (900_000 - n * 1_000, (12 + n % 5) * DAY + (n % 7) * 3_600),
                    _ if i % 3 == 0 => (1_000_000, 20 * DAY),
                    _ => (900_000 - n * 1_000, 20 * DAY),
                };
                let moved = round == 2 && i % 6 == 1;
                let rebranded = round == 2 && i % 5 == 2;
                Fixture {
                    store: stores[i % 3],
                    sku: &skus[i],
                    title: &titles[i],
                    brand: if rebranded { "Haceb" } else { ["Mabe", "Oster"][i % 2] },
                    category: if moved { categories[2] } else { categories[i % 3] },
                    price,
                    at,
                    ..Default::default()
                }
                .offer()
            })
            .collect()
    };
    let filters: Vec<OfferFilter> = [
        OfferFilter::default(),
        OfferFilter { store: StoreId::parse("grande").ok(), ..Default::default() },
        OfferFilter { store: StoreId::parse("chica").ok(), ..Default::default() },
        OfferFilter { category: Some("electro".into()), ..Default::default() },
        OfferFilter { category: Some("electro/neveras".into()), ..Default::default() },
        OfferFilter { category: Some("hogar".into()), ..Default::default() },
        OfferFilter { brand: Some(" OSTER ".into()), ..Default::default() },
        OfferFilter { brand: Some("haceb".into()), ..Default::default() },
    ]
    .into();
    let windows = [0, 13 * DAY + 5 * 3_600, 15 * DAY, 30 * DAY];
    // Every offer is in COP: the same filter with the currency counts its drops one by one
    // (no daily counts serve it), and lists them all.
    let counted = |since: i64, filter: &OfferFilter| {
        let cop = OfferFilter { currency: Currency::parse("COP").ok(), ..filter.clone() };
        let mut listed = 0;
        for page in 1.. {
            let got = c.trending(since, &cop, PageRequest { page, limit: 7 }).unwrap();
            assert!(got.total_exact);
            if got.items.is_empty() {
                assert_eq!(got.total, listed, "{cop:?}");
                return listed;
            }
            listed += got.items.len() as u64;
        }
        unreachable!()
    };
    let check = |stage: &str, expected_all: u64| {
        for since in windows {
            for filter in &filters {
                let got = c.trending(since, filter, PageRequest { page: 1, limit: 7 }).unwrap();
                let expected = (counted(since, filter), true);
                assert_eq!((got.total, got.total_exact), expected, "{stage} {since} {filter:?}");
            }
        }
        let all = c.trending(0, &OfferFilter::default(), PageRequest::default()).unwrap();
        assert_eq!(all.total, expected_all, "{stage}");
    };
    apply(c, "day-10", &run(0));
    apply(c, "days-12-16", &run(1));
    check("dropped", 60);
    apply(c, "day-20", &run(2));
    check("changed", 40);
    c.merge_stores(&StoreId::parse("chica").unwrap(), &StoreId::parse("grande").unwrap()).unwrap();
    apply(c, "after-merge", &[]);
    let all = c.trending(0, &OfferFilter::default(), PageRequest::default()).unwrap();
    check("merged", all.total);
    assert!(all.total > 0, "drops survive the merge");
}

fn trending_pages_equal_the_filtered_list(c: &dyn Catalog, since: i64, drops: usize) {
    let mut all = Vec::new();
    for page in 1.. {
        let request = PageRequest { page, limit: 100 };
        let listed = c.trending(since, &OfferFilter::default(), request).unwrap();
        assert_eq!(listed.total, drops as u64);
        if listed.items.is_empty() {
            break;
        }
        all.extend(listed.items);
    }
    assert_eq!(all.len(), drops);
    let filters = [
        OfferFilter { store: Some(StoreId::parse("grande").unwrap()), ..Default::default() },
        OfferFilter { store: Some(StoreId::parse("mediana").unwrap()), ..Default::default() },
        OfferFilter { store: Some(StoreId::parse("chica").unwrap()), ..Default::default() },
        OfferFilter { brand: Some("oster".into()), ..Default::default() },
        OfferFilter { category: Some("electro".into()), ..Default::default() },
    ];
    for filter in filters {
        let wanted: Vec<OfferId> = all
            .iter()
            .filter(|d| match (&filter.store, &filter.brand) {
                (Some(s), _) => d.offer.store == *s,
                (_, Some(_)) => d.offer.brand.as_deref() == Some("Oster"),
                _ => d.offer.category.as_deref() == Some("Electro > Neveras"),
            })
            .map(|d| d.offer.id)
            .collect();
        for limit in [4, 7] {
            for (n, chunk) in wanted.chunks(limit as usize).chain([&[][..]]).enumerate() {
                let page = PageRequest { page: n as u32 + 1, limit };
                let got = c.trending(since, &filter, page).unwrap();
                let ids: Vec<OfferId> = got.items.iter().map(|d| d.offer.id).collect();
                assert_eq!(ids, chunk, "{since} {filter:?} {page:?}");
                assert_eq!((got.total, got.total_exact), (wanted.len() as u64, true));
            }
        }
    }
}

/// Text search goes through the backend's index: every word of the query is a word prefix of
/// the brand or title (a word of one character a whole word), in any order, whatever the case
/// and accents; products grouped by GTIN are found by their words too.
pub fn products_are_found_by_words_of_their_brand_and_title(c: &dyn Catalog) {
    let cafe = Fixture {
        sku: "C1",
        title: "Café Sello Rojo 500g",
        brand: "Sello Rojo",
        gtin: Some("7702032101054"),
        ..Default::default()
    };
    let te = Fixture { sku: "T1", title: "Té Hindú", brand: "Hindú", ..Default::default() };
    let olla =
        Fixture { sku: "O1", title: "Olla Imusa 24cm", brand: "Imusa", ..Default::default() };
    let camiseta =
        Fixture { sku: "M1", title: "Camiseta Talla L", brand: "Arturo", ..Default::default() };
    let licuadora =
        Fixture { sku: "L1", title: "Licuadora Oster", brand: "Oster", ..Default::default() };
    let items = [cafe.offer(), te.offer(), olla.offer(), camiseta.offer(), licuadora.offer()];
    apply(c, "search", &items);
    let titles = |q: &str| -> Vec<String> {
        c.search_products(q, 10).unwrap().into_iter().map(|(_, t, _)| t).collect()
    };
    assert_eq!(titles("cafe sello"), vec!["Café Sello Rojo 500g"]);
    assert_eq!(titles("ROJO caf"), vec!["Café Sello Rojo 500g"], "prefixes, any order");
    assert_eq!(titles("hindu"), vec!["Té Hindú"]);
    assert_eq!(titles("imusa 24"), vec!["Olla Imusa 24cm"]);
    assert!(titles("cafe hindu").is_empty(), "every word must match");
    assert!(titles("  ¿? ").is_empty(), "no words, no search");
    // A word of one character matches that word alone, not every word it begins.
    assert_eq!(titles("l"), vec!["Camiseta Talla L"]);
    assert_eq!(titles("TALLA l"), vec!["Camiseta Talla L"]);
    assert_eq!(titles("li"), vec!["Licuadora Oster"], "two characters are a prefix");
    assert!(titles("imusa 2").is_empty(), "no word is 2");
    assert_eq!(c.search_products("olla", 10).unwrap()[0].2, 1, "offers per product");
    // The offers of the matches (buyable, filtered), grouped by product, cheapest first.
    let other = Fixture { store: "jumbo", price: 8_000, ..olla };
    let gone = Fixture { store: "alkosto", availability: Availability::OutOfStock, ..olla };
    let small = Fixture { sku: "O2", title: "Olla Imusa 20cm", price: 5_000, ..olla };
    let big = Fixture { sku: "O3", title: "Olla Imusa 30cm", price: 12_000, ..olla };
    apply(c, "search2", &[other.offer(), gone.offer(), small.offer(), big.offer()]);
    let search = |q: &str, filter: &OfferFilter, descending: bool, page: PageRequest| {
        let page = c.search_offers(q, filter, descending, page).unwrap();
        let items: Vec<(String, i64, u64)> = page
            .items
            .iter()
            .map(|b| (b.offer.title.clone(), b.offer.price.minor, b.offers_for_product))
            .collect();
        (items, page.total)
    };
    let all = OfferFilter::default();
    let first = PageRequest::default();
    let found = |title: &str, price: i64, offers: u64| (title.to_string(), price, offers);
    // Each product's cheapest buyable offer (the 24 cm pot: two in stock, one out of stock).
    let cheapest = vec![
        found("Olla Imusa 20cm", 5_000, 1),
        found("Olla Imusa 24cm", 8_000, 2),
        found("Olla Imusa 30cm", 12_000, 1),
    ];
    assert_eq!(search("imusa", &all, false, first), (cheapest.clone(), 3));
    let dearest: Vec<_> = cheapest.iter().rev().cloned().collect();
    assert_eq!(search("imusa", &all, true, first), (dearest, 3));
    let second = PageRequest { page: 2, limit: 1 };
    assert_eq!(search("imusa", &all, false, second), (vec![cheapest[1].clone()], 3));
    let exito = OfferFilter { store: Some(StoreId::parse("exito").unwrap()), ..Default::default() };
    let (in_exito, total) = search("imusa olla 24", &exito, false, first);
    assert_eq!((in_exito, total), (vec![found("Olla Imusa 24cm", 10_000, 1)], 1));
    assert_eq!(search("imusa cafe", &all, false, first), (vec![], 0));
    assert_eq!(search(" ", &all, false, first), (vec![], 0));
    // With one currency, as the API always asks, and nothing but a category narrowing it, the
    // page comes from the best-offer summary: the same as reading the offers (which a price
    // bound of 0 makes the search do).
    let cop = OfferFilter { currency: Some(crate::domain::Currency::COP), ..Default::default() };
    let zero = crate::query::Decimal { mantissa: 0, scale: 0 };
    let in_category = |key: &str| OfferFilter { category: Some(key.into()), ..cop.clone() };
    for filter in [cop.clone(), in_category("hogar"), in_category("hogar/cocina")] {
        let offers_read = OfferFilter { min_price: Some(zero), ..filter.clone() };
        for descending in [false, true] {
            for page in [first, second] {
                let from_summary = search("imusa", &filter, descending, page);
                assert_eq!(from_summary, search("imusa", &offers_read, descending, page));
            }
        }
        assert_eq!(search("imusa", &filter, false, first), (cheapest.clone(), 3), "{filter:?}");
    }
    assert_eq!(search("imusa", &in_category("tecnologia"), false, first), (vec![], 0));
    // Between a run's batches and its end the summary waits for its refresh: the search reads
    // the offers, so a new cheapest offer shows at once, as it does after the run.
    let cheaper = Fixture { store: "olimpica", price: 4_000, ..small };
    let mut s = c.begin_ingest(&new_file("search3"), false).expect("begin");
    let reader = IngestCounts { read: 1, ..Default::default() };
    s.apply_batch(&[cheaper.offer()], &reader).expect("apply");
    let during = search("imusa", &cop, false, first);
    assert_eq!(during.0[0], found("Olla Imusa 20cm", 4_000, 2), "during the run");
    s.finish(IngestStatus::Done, None).expect("finish");
    assert_eq!(search("imusa", &cop, false, first), during, "after it");
}

/// A text search ranks its matches by their offers of every availability, and the counts
/// follow each run and merge: an offer added, one moved to another product (its title
/// changed), one out of stock, and one merged away.
pub fn search_ranks_by_offers_that_follow_every_run(c: &dyn Catalog) {
    let big = Fixture { sku: "O1", title: "Olla Imusa 24cm", ..Default::default() };
    let small = Fixture { title: "Olla Imusa 20cm", ..big };
    let ranked = || -> Vec<(String, u64)> {
        let mut found: Vec<(String, u64)> =
            c.search_products("olla", 10).unwrap().into_iter().map(|(_, t, n)| (t, n)).collect();
        // Most offers first; equal counts in id order, which the titles do not follow.
        found.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        found
    };
    let pair = |a: &str, n: u64, b: &str, m: u64| vec![(a.to_string(), n), (b.to_string(), m)];
    // An initial load: three stores sell the 24cm pot (one of them out of stock), one the 20cm.
    let gone = Fixture { store: "alkosto", availability: Availability::OutOfStock, ..big };
    let olimpica = Fixture { store: "olimpica", ..small };
    apply(
        c,
        "rank-1",
        &[big.offer(), Fixture { store: "jumbo", ..big }.offer(), gone.offer(), olimpica.offer()],
    );
    assert_eq!(ranked(), pair("Olla Imusa 24cm", 3, "Olla Imusa 20cm", 1));
    // jumbo's offer becomes the 20cm pot, and falabella sells that one too.
    let moved = Fixture { store: "jumbo", at: 2_000, ..small };
    let falabella = Fixture { store: "falabella", at: 2_000, ..small };
    apply(c, "rank-2", &[moved.offer(), falabella.offer()]);
    assert_eq!(ranked(), pair("Olla Imusa 20cm", 3, "Olla Imusa 24cm", 2));
    // olimpica merged into falabella: both sold the same SKU, which becomes one offer.
    c.merge_stores(&StoreId::parse("olimpica").unwrap(), &StoreId::parse("falabella").unwrap())
        .unwrap();
    assert_eq!(ranked(), pair("Olla Imusa 20cm", 2, "Olla Imusa 24cm", 2));
}

/// A merge where both stores sold one SKU as different products keeps the newer row: the kept
/// offer moves to that row's product, and the product it leaves drops out of the best prices.
pub fn a_merge_that_moves_the_kept_offer_updates_the_product_it_leaves(c: &dyn Catalog) {
    let red = Fixture { sku: "X", title: "Olla Roja", at: 1_000, ..Default::default() };
    let blue = Fixture { store: "olimpica", title: "Olla Azul", at: 2_000, ..red };
    apply(c, "two-stores", &[red.offer(), blue.offer()]);
    c.merge_stores(&StoreId::parse("olimpica").unwrap(), &StoreId::parse("exito").unwrap())
        .unwrap();
    let cop = OfferFilter { currency: Currency::parse("COP").ok(), ..Default::default() };
    let best = c.best_prices(&cop, PageRequest::default(), Personalization::default()).unwrap();
    let products: Vec<ProductId> = best.items.iter().map(|b| b.offer.product_id).collect();
    assert_eq!(products, vec![blue.offer().product_id], "the red pot sells nowhere now");
    let found = c.search_products("olla", 10).unwrap();
    let red_count = found.iter().find(|f| f.0 == red.offer().product_id).map(|f| f.2);
    assert_eq!(red_count, Some(0), "its count follows: {found:?}");
}

/// The market summary (`crate::market`) follows every ingest run and merge: categories with
/// their names, stores' totals, and each store against the market in a currency.
pub fn market_summary_follows_ingest_and_merge(c: &dyn Catalog) {
    let cop = Currency::parse("COP").unwrap();
    let olla = |store, sku, price| Fixture { store, sku, price, at: 7_200, ..Default::default() };
    let agotada = Fixture { availability: Availability::OutOfStock, ..olla("exito", "B", 30_000) };
    let otra = Fixture { title: "Sartén", category: "Hogar > Sartenes", ..agotada };
    apply(
        c,
        "m1",
        &[olla("exito", "A", 12_000).offer(), olla("jumbo", "J", 8_000).offer(), otra.offer()],
    );
    let cats: Vec<(String, String, u64)> =
        c.categories().unwrap().into_iter().map(|k| (k.key, k.category, k.offers)).collect();
    assert_eq!(
        cats,
        vec![
            ("hogar/cocina".into(), "Hogar > Cocina".into(), 2),
            ("hogar/sartenes".into(), "Hogar > Sartenes".into(), 1)
        ]
    );
    let totals: Vec<(String, u64, u64, u64, Option<i64>)> = c
        .store_summaries()
        .unwrap()
        .into_iter()
        .map(|s| (s.store.to_string(), s.offers, s.categories, s.in_stock, s.last_seen))
        .collect();
    assert_eq!(
        totals,
        vec![("exito".into(), 2, 2, 1, Some(7_200)), ("jumbo".into(), 1, 1, 1, Some(7_200))]
    );
    // The olla in two stores: median 10.000, exito 120, jumbo 80 and the cheapest.
    let standing = |since| -> Vec<(String, Option<f64>, u64, u64, u64)> {
        c.store_market(cop, since)
            .unwrap()
            .into_iter()
            .map(|s| (s.store.to_string(), s.price_index, s.compared, s.cheapest, s.fresh))
            .collect()
    };
    assert_eq!(
        standing(0),
        vec![("exito".into(), Some(120.0), 1, 0, 2), ("jumbo".into(), Some(80.0), 1, 1, 1)]
    );
    assert!(standing(3).iter().all(|s| s.4 == 0), "nothing seen in or after hour 3");
    // A store's listing takes its total from the summary: the same as counting the offers.
    let exito = StoreId::parse("exito").unwrap();
    let listing = |min_price| {
        let filter = OfferFilter {
            store: Some(exito.clone()),
            currency: Some(cop),
            min_price,
            ..Default::default()
        };
        c.best_prices(&filter, PageRequest::default(), Personalization::default()).unwrap()
    };
    let (summed, counted) = (listing(None), listing(crate::query::Decimal::parse("0")));
    assert_eq!((summed.total, counted.total), (1, 1), "the sartén is out of stock");
    assert_eq!(summed.items, counted.items);
    // A store without offers in the currency has no summary row: an empty listing, not an error.
    let nowhere = OfferFilter {
        store: Some(StoreId::parse("exito").unwrap()),
        currency: Currency::parse("CLP").ok(),
        ..Default::default()
    };
    let empty = c.best_prices(&nowhere, PageRequest::default(), Personalization::default());
    assert_eq!(empty.unwrap().total, 0);
    // A run that dies after its batches leaves the summary marked; a later run that changes
    // nothing (unchanged offers, seen again) still brings it up to date.
    let mut crashed = c.begin_ingest(&new_file("dies"), false).unwrap();
    let sopa = Fixture {
        sku: "S",
        title: "Sopera",
        category: "Hogar > Mesa",
        ..olla("exito", "S", 9_000)
    };
    crashed.apply_batch(&[sopa.offer()], &IngestCounts::default()).unwrap();
    drop(crashed);
    apply(c, "rerun", &[sopa.offer()]);
    let keys: Vec<String> = c.categories().unwrap().into_iter().map(|k| k.key).collect();
    assert!(keys.contains(&"hogar/mesa".to_string()), "{keys:?}");
    // A later run moves prices and adds a category; a merge folds jumbo into exito.
    apply(c, "m2", &[olla("jumbo", "J", 20_000).offer()]);
    assert_eq!(standing(0)[0].1, Some(75.0), "exito now cheaper than the median");
    c.merge_stores(&StoreId::parse("jumbo").unwrap(), &StoreId::parse("exito").unwrap()).unwrap();
    let merged = c.store_summaries().unwrap();
    assert_eq!(merged.len(), 1);
    assert_eq!((merged[0].store.as_str(), merged[0].offers), ("exito", 4));
    assert_eq!(standing(0), vec![("exito".into(), None, 0, 0, 4)], "one store: no comparison");
}

pub fn users_and_keys(c: &dyn Catalog) {
    let prefs = Preferences {
        stores: vec!["exito".into()],
        brands: vec!["Mabe".into()],
        categories: vec![],
        budget: Some(5),
    };
    let u =
        c.create_user(&NewUser { name: "Ana".into(), email: "ana@x.co".into() }, &prefs).unwrap();
    assert_eq!(c.user(u.id).unwrap().unwrap().preferences, prefs);
    let dup = c.create_user(
        &NewUser { name: "B".into(), email: "ana@x.co".into() },
        &Preferences::default(),
    );
    assert!(matches!(dup, Err(crate::ports::StoreError::Conflict(_))), "unique e-mail");
    let updated = c
        .update_user(
            u.id,
            &NewUser { name: "Ana M".into(), email: "ana@x.co".into() },
            &Preferences::default(),
        )
        .unwrap()
        .unwrap();
    assert_eq!((updated.name.as_str(), updated.preferences.budget), ("Ana M", None));
    assert!(
        c.update_user(
            9_999,
            &NewUser { name: "x".into(), email: "x@y.co".into() },
            &Preferences::default()
        )
        .unwrap()
        .is_none()
    );
    assert_eq!(c.users(PageRequest::default()).unwrap().total, 1);
    assert!(c.delete_user(u.id).unwrap());
    assert!(!c.delete_user(u.id).unwrap());
    let k = c.create_api_key("ci", "pk_abc", "hash1", &["read".into(), "write".into()]).unwrap();
    assert_eq!(c.api_key_by_hash("hash1").unwrap().unwrap().scopes, vec!["read", "write"]);
    assert!(c.revoke_api_key(k.id).unwrap());
    assert!(c.api_key_by_hash("hash1").unwrap().is_none(), "revoked keys do not authenticate");
    assert_eq!(c.api_keys().unwrap().len(), 1);
}

pub fn stores_are_registered_and_updated(c: &dyn Catalog) {
    apply(c, "s", &[Fixture::default().offer()]);
    let store = Store {
        id: StoreId::parse("exito").unwrap(),
        name: "Éxito".into(),
        country: Some("CO".into()),
        currency: Currency::parse("COP").ok(),
        base_url: None,
    };
    c.upsert_store(&store).unwrap();
    assert_eq!(c.stores().unwrap(), vec![store]);
    let summary = c.store_summaries().unwrap();
    assert_eq!((summary[0].offers, summary[0].in_stock), (1, 1));
    let before = c.ingest_marker().unwrap();
    apply(c, "s2", &[Fixture { sku: "Z", ..Default::default() }.offer()]);
    assert_ne!(c.ingest_marker().unwrap(), before, "the marker moves with every finished run");
}

fn new_run(job: &str, slot: i64, trigger: Trigger, now: i64) -> NewRun {
    NewRun {
        overlap: crate::runs::Overlap::Forbid,
        job: job.into(),
        scheduled_for: slot,
        trigger,
        dry_run: false,
        owner: "test:1".into(),
        now,
    }
}

fn end(status: RunStatus, error: Option<&str>, now: i64) -> AttemptEnd {
    let step =
        StepReport { name: "work".into(), status: StepStatus::Skipped, ..Default::default() };
    AttemptEnd { status, error: error.map(String::from), steps: vec![step], now }
}

pub fn runs_have_one_identity_one_active_run_and_attempts(c: &dyn Catalog) {
    let RunClaim::Started(first) =
        c.claim_run(&new_run("a", 1_000, Trigger::Schedule, 1_000)).unwrap()
    else {
        panic!("a free slot of an idle job starts")
    };
    assert_eq!(
        c.claim_run(&new_run("a", 1_000, Trigger::Schedule, 1_001)).unwrap(),
        RunClaim::AlreadyRecorded,
        "(job, scheduled_for) is recorded once"
    );
    let RunClaim::SkippedOverlap(skipped) =
        c.claim_run(&new_run("a", 2_000, Trigger::Schedule, 2_000)).unwrap()
    else {
        panic!("a slot that finds the job running is skipped")
    };
    assert_eq!(c.run(skipped).unwrap().unwrap().status, RunStatus::SkippedOverlap);
    assert!(matches!(
        c.claim_run(&new_run("b", 1_000, Trigger::Manual, 1_000)).unwrap(),
        RunClaim::Started(_)
    ));

    c.end_attempt(first, &end(RunStatus::RetryWait, Some("boom"), 2_500)).unwrap();
    assert!(
        matches!(
            c.claim_run(&new_run("a", 3_000, Trigger::Schedule, 3_000)).unwrap(),
            RunClaim::SkippedOverlap(_)
        ),
        "a run waiting for its retry still holds the job"
    );
    assert_eq!(c.start_attempt(first, 4_000).unwrap(), 2);
    assert!(c.start_attempt(first, 4_001).is_err(), "only a waiting run starts another attempt");
    c.end_attempt(first, &end(RunStatus::Succeeded, None, 5_000)).unwrap();

    let run = c.run(first).unwrap().unwrap();
    assert_eq!((run.status, run.attempt, run.finished_at), (RunStatus::Succeeded, 2, Some(5_000)));
    assert_eq!(run.steps.len(), 1);
    let attempts: Vec<_> =
        run.attempts.iter().map(|a| (a.attempt, a.status, a.error.clone())).collect();
    assert_eq!(
        attempts,
        vec![(1, RunStatus::Failed, Some("boom".into())), (2, RunStatus::Succeeded, None)]
    );
    assert!(matches!(
        c.claim_run(&new_run("a", 6_000, Trigger::Manual, 6_000)).unwrap(),
        RunClaim::Started(_)
    ));
    assert_eq!(c.last_scheduled("a").unwrap(), Some(3_000), "manual runs are not schedule slots");
    assert_eq!(c.last_scheduled("nope").unwrap(), None);
    assert_eq!(c.last_finished("a", RunStatus::Succeeded).unwrap(), Some(5_000));

    let all_a =
        c.runs(&RunFilter { job: Some("a".into()), limit: 10, ..Default::default() }).unwrap();
    let slots: Vec<i64> = all_a.iter().map(|r| r.scheduled_for).collect();
    assert_eq!(slots, vec![6_000, 3_000, 2_000, 1_000], "newest first");
    let skipped = c
        .runs(&RunFilter {
            status: Some(RunStatus::SkippedOverlap),
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(skipped.len(), 2);
    let page = c.runs(&RunFilter { limit: 1, offset: 1, ..Default::default() }).unwrap();
    assert_eq!(page.len(), 1);
}

/// docs/OPERATIONS.md O7: replicas racing to record one slot: exactly one run starts.
pub fn concurrent_claims_of_one_slot_start_one_run(c: &dyn Catalog) {
    let claims: Vec<RunClaim> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                s.spawn(move || {
                    let run = NewRun {
                        owner: format!("replica-{i}"),
                        ..new_run("race", 60_000, Trigger::Schedule, 1)
                    };
                    c.claim_run(&run).expect("claim")
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("claim thread")).collect()
    });
    let started = claims.iter().filter(|c| matches!(c, RunClaim::Started(_))).count();
    assert_eq!(started, 1, "{claims:?}");
    assert!(
        claims.iter().all(|c| matches!(c, RunClaim::Started(_) | RunClaim::AlreadyRecorded)),
        "{claims:?}"
    );
    let runs =
        c.runs(&RunFilter { job: Some("race".into()), limit: 100, ..Default::default() }).unwrap();
    assert_eq!(runs.len(), 1);
}

pub fn overlap_policies_allow_and_replace(c: &dyn Catalog) {
    use crate::runs::Overlap;
    let claim = |job: &str, slot: i64, overlap: Overlap| {
        c.claim_run(&NewRun { overlap, ..new_run(job, slot, Trigger::Schedule, slot) }).unwrap()
    };
    let status = |id| c.run(id).unwrap().unwrap().status;
    // allow: runs of one job side by side, each still one per slot.
    let (RunClaim::Started(a), RunClaim::Started(b)) =
        (claim("side", 1, Overlap::Allow), claim("side", 2, Overlap::Allow))
    else {
        panic!("allow starts both")
    };
    assert_eq!((status(a), status(b)), (RunStatus::Running, RunStatus::Running));
    assert_eq!(claim("side", 2, Overlap::Allow), RunClaim::AlreadyRecorded);
    // forbid still skips against a running forbid-lane run of another job only.
    let RunClaim::Started(f) = claim("solo", 1, Overlap::Forbid) else { panic!() };
    assert!(matches!(claim("solo", 2, Overlap::Forbid), RunClaim::SkippedOverlap(_)));
    // replace: the active run is closed as replaced, with its open attempt.
    let RunClaim::Started(r) = claim("solo", 3, Overlap::Replace) else { panic!("replace starts") };
    let old = c.run(f).unwrap().unwrap();
    assert_eq!((old.status, old.attempts[0].status), (RunStatus::Replaced, RunStatus::Replaced));
    assert!(!c.heartbeat(f, 10).unwrap(), "the replaced run learns it at its heartbeat");
    assert!(c.heartbeat(r, 10).unwrap());
    // What the replaced run records afterwards does not overwrite the verdict.
    c.end_attempt(f, &end(RunStatus::Succeeded, None, 11)).unwrap();
    assert_eq!(status(f), RunStatus::Replaced);
    // Replacing an already recorded slot changes nothing.
    assert_eq!(claim("solo", 3, Overlap::Replace), RunClaim::AlreadyRecorded);
    assert_eq!(status(r), RunStatus::Running);
}

pub fn stale_runs_are_abandoned_and_old_runs_deleted(c: &dyn Catalog) {
    let RunClaim::Started(old) =
        c.claim_run(&new_run("a", 1_000, Trigger::Schedule, 1_000)).unwrap()
    else {
        panic!()
    };
    let RunClaim::Started(live) =
        c.claim_run(&new_run("b", 1_000, Trigger::Schedule, 1_000)).unwrap()
    else {
        panic!()
    };
    let RunClaim::Started(own) =
        c.claim_run(&new_run("c", 1_000, Trigger::Schedule, 1_000)).unwrap()
    else {
        panic!()
    };
    c.heartbeat(live, 9_000).unwrap();
    assert_eq!(
        c.abandon_stale_runs(5_000, 10_000, &[own, 12_345]).unwrap(),
        1,
        "only the silent run nobody executes"
    );
    assert_eq!(c.run(own).unwrap().unwrap().status, RunStatus::Running, "a live run of the caller");
    let abandoned = c.run(old).unwrap().unwrap();
    assert_eq!((abandoned.status, abandoned.finished_at), (RunStatus::Abandoned, Some(10_000)));
    assert_eq!(abandoned.attempts[0].status, RunStatus::Abandoned);
    assert_eq!(c.run(live).unwrap().unwrap().status, RunStatus::Running);
    assert!(
        matches!(
            c.claim_run(&new_run("a", 2_000, Trigger::Schedule, 11_000)).unwrap(),
            RunClaim::Started(_)
        ),
        "an abandoned run no longer holds its job"
    );
    assert_eq!(c.delete_runs_before(1_500).unwrap(), 1, "closed runs only; the live one stays");
    assert!(c.run(old).unwrap().is_none());
    assert!(c.run(live).unwrap().is_some());
}

pub fn leadership_is_exclusive_and_released_on_drop(c: &dyn Catalog) {
    let lead = c.try_lead().unwrap().expect("the first replica leads");
    assert!(c.try_lead().unwrap().is_none(), "a second one stays standby");
    let mut lead = lead;
    assert!(lead.still_held());
    drop(lead);
    // Releasing may close a connection in the background.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        if c.try_lead().unwrap().is_some() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "leadership is released on drop");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The forensic analysis's read: every offer of the scope once, in id order, with its whole
/// history oldest first; the scope filters by store, category (and below) and last sighting.
pub fn quality_rows_stream_each_offer_with_its_history(c: &dyn Catalog) {
    use crate::ports::QualityScope;
    let day = |d: i64| 1_000 + d * 86_400;
    let cocina = "Hogar > Cocina";
    apply(
        c,
        "d0",
        &[
            Fixture { sku: "A", price: 100, at: day(0), ..Default::default() }.offer(),
            Fixture { sku: "B", title: "Sartén", price: 200, at: day(0), ..Default::default() }
                .offer(),
            Fixture {
                store: "jumbo",
                sku: "C",
                title: "Taza",
                category: "Hogar > Mesa",
                price: 50,
                at: day(0),
                ..Default::default()
            }
            .offer(),
        ],
    );
    apply(c, "d30", &[Fixture { sku: "A", price: 130, at: day(30), ..Default::default() }.offer()]);
    apply(c, "d35", &[Fixture { sku: "A", price: 110, at: day(35), ..Default::default() }.offer()]);
    let read = |scope: &QualityScope| {
        let mut out: Vec<(String, Vec<(i64, i64)>)> = Vec::new();
        let mut ids = Vec::new();
        c.quality_rows(scope, &mut |o, h| {
            ids.push(o.id.as_i64());
            assert!(o.category_key.is_some());
            out.push((
                o.sku.clone().unwrap_or_default(),
                h.iter().map(|x| (x.at, x.price)).collect(),
            ));
            Ok(())
        })
        .unwrap();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        assert_eq!(ids, sorted, "offers come in id order");
        out.sort();
        out
    };
    let all = read(&QualityScope::default());
    assert_eq!(all.len(), 3);
    let a = all.iter().find(|(sku, _)| sku == "A").unwrap();
    assert_eq!(a.1, vec![(day(0), 100), (day(30), 130), (day(35), 110)]);
    assert!(all.iter().all(|(_, h)| !h.is_empty()), "every offer has its first observation");
    let exito = QualityScope {
        store: Some(crate::domain::StoreId::parse("exito").unwrap()),
        ..Default::default()
    };
    assert_eq!(read(&exito).len(), 2);
    let kitchen =
        QualityScope { category: Some(crate::domain::category_key(cocina)), ..Default::default() };
    assert_eq!(read(&kitchen).iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>(), vec!["A", "B"]);
    let recent = QualityScope { since: Some(day(30)), ..Default::default() };
    assert_eq!(read(&recent).iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>(), vec!["A"]);
    assert_eq!(c.quality_size(&kitchen).unwrap(), 2);
    assert_eq!(c.quality_size(&recent).unwrap(), 1);
}

/// Issue #18: analysis runs queue in order, one process claims each, progress stops counting
/// once a run is abandoned, a succeeded report is kept byte for byte with its scores, and
/// the history reads back by store and before a time.
pub fn analysis_runs_queue_claim_finish_and_keep_history(c: &dyn Catalog) {
    use crate::quality::runs::{AnalysisEnd, AnalysisRequest, AnalysisStatus, ScorePoint};
    let whole = AnalysisRequest::default();
    let kitchen = AnalysisRequest { category: Some("cocina".into()), ..Default::default() };
    let ids = c.queue_analyses(&[whole.clone(), kitchen.clone()], "api", 1_000).unwrap();
    assert_eq!(ids.len(), 2);
    assert!(ids[0] < ids[1]);
    assert_eq!(c.queued_analyses().unwrap(), 2);
    let first = c.claim_analysis("host:1:aa", 2_000).unwrap().expect("a queued run");
    assert_eq!((first.id, first.status, first.phase), (ids[0], AnalysisStatus::Running, 1));
    assert_eq!(first.request, whole);
    assert_eq!(first.owner.as_deref(), Some("host:1:aa"));
    let second = c.claim_analysis("host:2:bb", 2_001).unwrap().expect("the other run");
    assert_eq!(second.id, ids[1]);
    assert_eq!(second.request, kitchen);
    assert!(c.claim_analysis("host:2:bb", 2_002).unwrap().is_none());
    assert!(c.analysis_progress(first.id, 3, 40, 2_500).unwrap());
    let now = c.analysis(first.id).unwrap().unwrap();
    assert_eq!((now.phase, now.percent, now.heartbeat_at), (3, 40, Some(2_500)));
    // The second run's process went away: abandoned, and its late progress and end ignored.
    assert_eq!(c.abandon_analyses(&[second.id], 3_000).unwrap(), 1);
    assert!(!c.analysis_progress(second.id, 4, 90, 3_100).unwrap());
    let late = AnalysisEnd::Failed { error: "late".into() };
    c.finish_analysis(second.id, &late, 3_200).unwrap();
    let abandoned = c.analysis(second.id).unwrap().unwrap();
    assert_eq!(abandoned.status, AnalysisStatus::Abandoned);
    assert_eq!(abandoned.finished_at, Some(3_000));
    let report = "{\n  \"as_of\": 86400,\n  \"checks\": []\n}".to_string();
    let point = |store: &str, offers, score| ScorePoint {
        analysis_id: first.id,
        store: store.into(),
        as_of: 86_400,
        offers: offers + 1,
        live_offers: offers,
        score,
    };
    let end = AnalysisEnd::Succeeded {
        report: report.clone(),
        outcome: "warn".into(),
        overall_score: Some(87.5),
        as_of: 86_400,
        scores: vec![point("exito", 120, 91.3), point("jumbo", 80, 81.8)],
    };
    c.finish_analysis(first.id, &end, 4_000).unwrap();
    let done = c.analysis(first.id).unwrap().unwrap();
    assert_eq!(done.status, AnalysisStatus::Succeeded);
    assert_eq!((done.phase, done.percent), (5, 100));
    assert_eq!(done.overall_score, Some(87.5));
    assert_eq!(done.outcome.as_deref(), Some("warn"));
    assert_eq!(done.as_of, Some(86_400));
    assert_eq!(c.analysis_report(first.id).unwrap(), Some(report.clone()));
    assert_eq!(c.analysis_report(second.id).unwrap(), None);
    // Immutable: a second end changes nothing.
    c.finish_analysis(first.id, &late, 5_000).unwrap();
    assert_eq!(c.analysis(first.id).unwrap().unwrap().status, AnalysisStatus::Succeeded);
    assert_eq!(c.analysis_report(first.id).unwrap(), Some(report));
    let listed = c.analyses(None, 10, 0).unwrap();
    assert_eq!(listed.iter().map(|r| r.id).collect::<Vec<_>>(), vec![ids[1], ids[0]]);
    let succeeded = c.analyses(Some(AnalysisStatus::Succeeded), 10, 0).unwrap();
    assert_eq!(succeeded.len(), 1);
    assert!(c.analyses(None, 10, 2).unwrap().is_empty());
    // A later run adds a point; the history reads oldest first, per store or all.
    let later = c.begin_analysis(&whole, "schedule", "host:1:aa", 90_000_000).unwrap();
    let mut p = point("exito", 130, 93.0);
    p.analysis_id = later;
    p.as_of = 2 * 86_400;
    c.finish_analysis(
        later,
        &AnalysisEnd::Succeeded {
            report: "{}".into(),
            outcome: "pass".into(),
            overall_score: Some(93.0),
            as_of: 2 * 86_400,
            scores: vec![p],
        },
        90_000_001,
    )
    .unwrap();
    let exito = StoreId::parse("exito").unwrap();
    let history = c.score_history(Some(&exito), None, 10).unwrap();
    assert_eq!(
        history.iter().map(|p| (p.as_of, p.score)).collect::<Vec<_>>(),
        vec![(86_400, 91.3), (2 * 86_400, 93.0)]
    );
    assert_eq!(c.score_history(None, None, 10).unwrap().len(), 3);
    assert_eq!(c.score_history(None, Some(2 * 86_400), 10).unwrap().len(), 1);
    assert_eq!(c.score_history(Some(&exito), None, 1).unwrap()[0].as_of, 2 * 86_400);
    let jumbo = StoreId::parse("jumbo").unwrap();
    let volumes = c.prior_volumes(&[exito.clone(), jumbo.clone()], 2 * 86_400 + 1).unwrap();
    assert_eq!(volumes, vec![(exito.clone(), vec![130, 120]), (jumbo, vec![80])]);
    assert_eq!(
        c.prior_volumes(std::slice::from_ref(&exito), 2 * 86_400).unwrap(),
        vec![(exito, vec![120])]
    );
    assert_eq!(c.running_analyses().unwrap().len(), 0);
}

/// A run that changed no offer keeps the category price analyses (nothing they read moved),
/// while the rest of the market summary is rebuilt; a run that found the summary already
/// marked (as a run that died before its end leaves it), one marked by another writer between
/// its batches, and one that changed a price rebuild them. Not among `contract_tests!`: the
/// backend's test gives what only it can do — `plant` writes a maximum (777) no analysis
/// computes into every stored analysis row, `mark` marks the summary stale as another writer's
/// transaction does.
pub fn unchanged_runs_keep_the_price_analyses(c: &dyn Catalog, plant: &dyn Fn(), mark: &dyn Fn()) {
    let cop = Currency::parse("COP").unwrap();
    let day = |at: i64, olla: i64| -> Vec<Offer> {
        [("A", olla), ("B", 4_000)]
            .iter()
            .map(|&(sku, price)| Fixture { sku, price, at, ..Default::default() }.offer())
            .collect()
    };
    let analysis = || c.price_analysis("hogar", cop).unwrap().expect("hogar in COP");
    let kept = || analysis().stats.max == 777;
    let summary_seen = || c.store_market(cop, 0).unwrap()[0].last_seen;
    apply(c, "day1", &day(1_000, 5_000));
    plant();
    assert_eq!(apply(c, "day2", &day(2_000, 5_000)).unchanged, 2);
    assert!(kept(), "an unchanged run keeps them");
    assert_eq!(summary_seen(), 2_000, "and rebuilds the rest of the summary");

    mark();
    assert_eq!(apply(c, "day3", &day(3_000, 5_000)).unchanged, 2);
    assert!(!kept(), "marked before the run began: rebuilt");

    plant();
    let mut run = c.begin_ingest(&new_file("day4"), false).unwrap();
    let reader = IngestCounts { read: 2, ..Default::default() };
    assert_eq!(run.apply_batch(&day(4_000, 5_000), &reader).unwrap().unchanged, 2);
    mark();
    run.finish(IngestStatus::Done, None).unwrap();
    assert!(!kept(), "marked by another writer during the run: rebuilt");

    plant();
    assert_eq!(apply(c, "day5", &day(5_000, 4_500)).updated, 1);
    assert!(!kept(), "a price changed: rebuilt");
    assert_eq!(analysis().stats.min, 4_000, "from the offers as they are now");
}

/// A category path's price span (`price_span`): the lowest and highest price of every offer
/// below it in a currency, out of stock too; none while a run that changed offers has not
/// ended (the market summary is marked), so it never lifts a bound with stale prices; and a
/// listing whose bounds the span meets lists the same without them (`without_met_bounds`).
pub fn price_spans_hold_while_the_market_summary_is_current(c: &dyn Catalog) {
    use crate::query::Decimal;
    let lift_met_bounds = |f: OfferFilter| {
        let (category, currency) = f.bounded_in_category().expect("bounded");
        let (lowest, highest) = c.price_span(category, currency).unwrap().expect("a span");
        f.without_met_bounds(lowest, highest)
    };
    let cop = Currency::parse("COP").unwrap();
    let offer = |sku, category, price, availability| {
        // Each its own product.
        Fixture { sku, title: sku, category, price, availability, ..Default::default() }.offer()
    };
    let day1 = [
        offer("A", "Hogar > Cocina", 5_000, Availability::InStock),
        offer("B", "Hogar > Cocina", 4_000, Availability::OutOfStock),
        offer("C", "Hogar > Baño", 9_000, Availability::InStock),
    ];
    apply(c, "day1", &day1);
    assert_eq!(c.price_span("hogar", cop).unwrap(), Some((4_000, 9_000)));
    assert_eq!(c.price_span("hogar/cocina", cop).unwrap(), Some((4_000, 5_000)));
    assert_eq!(c.price_span("hogar", Currency::parse("EUR").unwrap()).unwrap(), None);
    assert_eq!(c.price_span("jardin", cop).unwrap(), None);

    let mut run = c.begin_ingest(&new_file("day2"), false).unwrap();
    let cheaper = [offer("A", "Hogar > Cocina", 3_000, Availability::InStock)];
    run.apply_batch(&cheaper, &IngestCounts { read: 1, ..Default::default() }).unwrap();
    assert_eq!(c.price_span("hogar", cop).unwrap(), None, "a run has changed a price");
    run.finish(IngestStatus::Done, None).unwrap();
    assert_eq!(c.price_span("hogar", cop).unwrap(), Some((3_000, 9_000)));

    let exp = cop.exponent() as u32;
    let bound = |minor: i64| Some(Decimal { mantissa: minor, scale: exp });
    let filter = |min, max| OfferFilter {
        category: Some("hogar".into()),
        currency: Some(cop),
        min_price: bound(min),
        max_price: bound(max),
        ..Default::default()
    };
    let lifted = lift_met_bounds(filter(3_000, 9_000));
    assert_eq!((lifted.min_price, lifted.max_price), (None, None), "the span's own ends");
    let kept = lift_met_bounds(filter(3_001, 10_000));
    assert_eq!((kept.min_price, kept.max_price), (bound(3_001), None), "a bound inside stays");
    let page = PageRequest { page: 1, limit: 10 };
    let list = |f: &OfferFilter| {
        let p = c.best_prices(f, page, Personalization::default()).unwrap();
        (p.items.iter().map(|b| b.offer.id).collect::<Vec<_>>(), p.total, p.total_exact)
    };
    assert_eq!(list(&lifted), list(&filter(3_000, 9_000)));
    assert_eq!(list(&lifted).0.len(), 2, "A and C: B is out of stock");
    assert_eq!(list(&filter(3_001, 9_000)).0.len(), 1, "a bound inside narrows: C");
}

/// M.reject_rate's input: each run's records per store, summed over a window of runs, and
/// moved with a store merge (added to the target's own counts of the same run).
pub fn store_records_are_summed_over_a_window_and_follow_a_merge(c: &dyn Catalog) {
    use crate::ports::StoreRecords;
    let rec = |store: &str, accepted, rejected| StoreRecords {
        store: StoreId::parse(store).unwrap(),
        accepted,
        rejected,
    };
    let offers = [
        Fixture { store: "exito", ..Default::default() }.offer(),
        Fixture { store: "exito-co", sku: "B", ..Default::default() }.offer(),
        Fixture { store: "jumbo", sku: "C", ..Default::default() }.offer(),
    ];
    let file = |name: &str| {
        let mut s = c.begin_ingest(&new_file(name), false).unwrap();
        let id = s.file_id();
        s.apply_batch(&offers, &IngestCounts::default()).unwrap();
        s.finish(IngestStatus::Done, None).unwrap();
        id
    };
    let (old, new) = (file("old"), file("new"));
    c.record_store_counts(old, 100, &[rec("exito", 10, 10)]).unwrap();
    c.record_store_counts(new, 1_000, &[rec("exito", 90, 1), rec("jumbo", 5, 0)]).unwrap();
    c.record_store_counts(new, 1_000, &[rec("exito-co", 9, 9)]).unwrap();
    // A second report of the same run adds to it.
    c.record_store_counts(new, 1_000, &[rec("jumbo", 5, 2)]).unwrap();
    assert_eq!(
        c.store_records(500, 2_000).unwrap(),
        vec![rec("exito", 90, 1), rec("exito-co", 9, 9), rec("jumbo", 10, 2)]
    );
    assert_eq!(c.store_records(0, 2_000).unwrap()[0], rec("exito", 100, 11));
    assert!(c.store_records(2_001, 3_000).unwrap().is_empty());
    c.merge_stores(&StoreId::parse("exito-co").unwrap(), &StoreId::parse("exito").unwrap())
        .unwrap();
    assert_eq!(
        c.store_records(500, 2_000).unwrap(),
        vec![rec("exito", 99, 10), rec("jumbo", 10, 2)]
    );
}

/// One `#[test]` per contract function, each on a fresh catalog from `$make`.
#[macro_export]
macro_rules! contract_tests {
    ($make:expr) => {
        $crate::contract_tests!(@each $make,
            classifies_and_appends_history_only_on_change,
            repeats_count_alike_within_a_batch_and_across_batches,
            unchanged_offers_are_remembered_one_by_one_across_batches,
            reapplying_changes_nothing_and_ledger_counts,
            a_running_or_failed_run_is_not_ingested,
            an_interrupted_run_resumes_at_its_first_ingest_time,
            merging_a_split_store_moves_offers_histories_and_the_ledger,
            dry_run_writes_nothing,
            groups_products_by_gtin_else_brand_and_title,
            best_prices_respect_stock_filters_and_preferences,
            best_prices_reach_past_many_offers_of_one_product,
            counted_totals_stop_past_the_count_limit,
            best_price_summary_follows_every_change,
            an_initial_load_that_dies_reaches_the_summary_at_the_next_run,
            store_freshness_is_the_newest_observation,
            archived_files_keep_their_key_in_the_ledger,
            listings_filter_sort_and_page,
            value_ranking_equals_scoring_every_offer,
            date_listing_equals_sorting_every_offer,
            price_sorted_category_pages_equal_sorting,
            rating_sorted_category_pages_equal_sorting,
            category_best_price_totals_by_store_and_brand_match_counting,
            brand_totals_match_counting,
            price_bounded_totals_equal_counting,
            category_best_prices_equal_the_cheapest_offer_per_product,
            best_prices_of_many_offers_per_product_equal_the_cheapest,
            a_rating_walk_that_runs_out_sorts_instead,
            reports_brands_categories_and_drops,
            trending_pages_equal_the_filtered_list_of_every_drop,
            trending_totals_equal_the_listed_drops_across_days,
            trending_pages_of_dense_drops_equal_the_filtered_list,
            products_are_found_by_words_of_their_brand_and_title,
            search_ranks_by_offers_that_follow_every_run,
            a_merge_that_moves_the_kept_offer_updates_the_product_it_leaves,
            market_summary_follows_ingest_and_merge,
            users_and_keys,
            stores_are_registered_and_updated,
            runs_have_one_identity_one_active_run_and_attempts,
            overlap_policies_allow_and_replace,
            concurrent_claims_of_one_slot_start_one_run,
            stale_runs_are_abandoned_and_old_runs_deleted,
            leadership_is_exclusive_and_released_on_drop,
            quality_rows_stream_each_offer_with_its_history,
            analysis_runs_queue_claim_finish_and_keep_history,
            store_records_are_summed_over_a_window_and_follow_a_merge,
            price_spans_hold_while_the_market_summary_is_current
        );
    };
    (@each $make:expr, $($name:ident),*) => {
        $(
            #[test]
            fn $name() {
                let Some((_guard, catalog)) = $make else { return };
                $crate::testing::$name(catalog.as_ref());
            }
        )*
    };
}

/// A catalog whose value scores take every branch of the price term: one category's offers
/// priced from a tenth to three times their median (some dropped from a dearer price in a
/// second run, some rated and reviewed, some out of stock), and an offer without a category
/// (no median).
pub fn value_score_catalog(c: &dyn Catalog) {
    let skus: Vec<String> = (0..40).map(|i| format!("V{i}")).collect();
    let titles: Vec<String> = (0..40).map(|i| format!("Valor {i}")).collect();
    let offer = |i: usize, price: i64, at: i64| {
        let availability =
            if i % 5 == 4 { Availability::OutOfStock } else { Availability::InStock };
        let mut o = Fixture {
            sku: &skus[i],
            title: &titles[i],
            price,
            availability,
            at,
            ..Default::default()
        }
        .offer();
        o.rating = (!i.is_multiple_of(3))
            .then(|| Rating::from_hundredths(100 + 37 * i as i64 % 400).unwrap());
        o.review_count = (!i.is_multiple_of(4)).then_some(7u32.pow((i % 4) as u32));
        if i == 39 {
            o.category = None;
        }
        o
    };
    let first: Vec<Offer> =
        (0..40).map(|i| offer(i, 1_000 + 777 * i as i64 + 13 * (i as i64 % 7), 1)).collect();
    apply(c, "value-1", &first);
    let second: Vec<Offer> =
        (0..40).step_by(3).map(|i| offer(i, first[i].price.minor * 2 / 3 + 1, 2)).collect();
    apply(c, "value-2", &second);
}

/// Checks rows of (`VALUE_SCORE`, own part, price, category median) read from a store over
/// `value_score_catalog`: each score is the own part plus `ranking::price_points`, bit for bit
/// (what lets a value scan score offers without the median's join), and the rows reach every
/// branch of the price term.
pub fn assert_value_scores(rows: &[(f64, f64, i64, Option<i64>)]) {
    assert_eq!(rows.len(), 40, "every offer");
    for &(score, own, price, median) in rows {
        let points = crate::ranking::price_points(price, median);
        assert_eq!(score.to_bits(), (own + points).to_bits(), "{score} = {own} + {points}");
    }
    let branch =
        |f: &dyn Fn(i64, i64) -> bool| rows.iter().any(|&(_, _, p, m)| m.is_some_and(|m| f(p, m)));
    assert!(rows.iter().any(|r| r.3.is_none()), "an offer without a median");
    assert!(branch(&|p, m| 2 * p <= m), "a price at half the median or below");
    assert!(branch(&|p, m| 2 * p >= 3 * m), "a price at 1.5 × the median or above");
    assert!(branch(&|p, m| 2 * p > m && 2 * p < 3 * m), "a price between");
}
