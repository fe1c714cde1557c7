//! The best-offer summary behind best prices: for every product and every category scope it
//! appears in, its cheapest buyable offer and how many buyable offers it has there.
//!
//! A scope is a category key or any whole-segment prefix of one, plus the empty scope (the
//! whole catalog): `tecnologia/celulares` is listed under `""`, `tecnologia` and
//! `tecnologia/celulares`. That is exactly what the category filter of the API matches, so a
//! best-prices page of a category is one ordered range of the summary instead of a sort of the
//! category's offers. Prices of different currencies are never compared: a product sold in
//! two currencies has a row per currency in each scope, and a page reads one currency's.
//! Stores keep the summary as a table refreshed for the products an ingest touched; this
//! module decides what the rows are.

use crate::domain::Currency;
use crate::ports::BestOffer;
use crate::query::{OfferFilter, OfferView, Page, PageRequest, Preferences};
use std::collections::BTreeMap;

/// The mark that stands for every product: an initial load, which writes too many products to
/// mark each, marks this instead, and a refresh that takes it rebuilds the whole summary.
/// Product ids are 64-bit hashes; one that happened to equal this would only cost full
/// rebuilds, never a wrong row.
pub const EVERY_PRODUCT: i64 = i64::MIN;

/// One offer as the summary sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferPrice {
    pub offer_id: i64,
    pub category_key: Option<String>,
    pub currency: String,
    pub price_minor: i64,
}

/// One row of the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BestRow {
    pub scope: String,
    pub product_id: i64,
    pub currency: String,
    pub price_minor: i64,
    pub offer_id: i64,
    /// Buyable offers of the product within the scope.
    pub offers: i64,
}

/// The scopes a category key is listed under: `""`, then each whole-segment prefix.
pub fn scopes(category_key: Option<&str>) -> impl Iterator<Item = &str> {
    let key = category_key.unwrap_or("");
    let prefixes = key.char_indices().filter(|&(_, c)| c == '/').map(move |(i, _)| &key[..i]);
    std::iter::once("").chain(prefixes).chain((!key.is_empty()).then_some(key))
}

/// The summary rows of one product from its buyable offers: per scope and currency, the first
/// offer in (price, offer id) order, the order of best-prices pages.
pub fn best_rows(product_id: i64, offers: &[OfferPrice]) -> Vec<BestRow> {
    let mut by_scope: BTreeMap<(&str, &str), BestRow> = BTreeMap::new();
    for offer in offers {
        for scope in scopes(offer.category_key.as_deref()) {
            let candidate = || BestRow {
                scope: scope.to_string(),
                product_id,
                currency: offer.currency.clone(),
                price_minor: offer.price_minor,
                offer_id: offer.offer_id,
                offers: 0,
            };
            let row = by_scope.entry((scope, &offer.currency)).or_insert_with(candidate);
            row.offers += 1;
            let better = (offer.price_minor, offer.offer_id) < (row.price_minor, row.offer_id);
            if better {
                let offers = row.offers;
                *row = BestRow { offers, ..candidate() };
            }
        }
    }
    by_scope.into_values().collect()
}

/// Turns offers streamed in product order into summary rows, one product at a time, so a
/// rebuild holds one product's offers in memory, never the catalog.
#[derive(Debug, Default)]
pub struct ProductStream {
    current: Option<i64>,
    offers: Vec<OfferPrice>,
}

impl ProductStream {
    /// Adds an offer; returns the rows of the previous product when this one starts another.
    pub fn push(&mut self, product_id: i64, offer: OfferPrice) -> Vec<BestRow> {
        let done = match self.current {
            Some(previous) if previous != product_id => {
                let rows = best_rows(previous, &self.offers);
                self.offers.clear();
                rows
            }
            _ => Vec::new(),
        };
        self.current = Some(product_id);
        self.offers.push(offer);
        done
    }

    /// The rows of the last product.
    pub fn finish(self) -> Vec<BestRow> {
        self.current.map(|p| best_rows(p, &self.offers)).unwrap_or_default()
    }
}

/// What a refresh writes for one product: rows to insert or replace, and the (scope,
/// currency) keys of rows to delete. Rows that come out as they were are not written.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RowChanges {
    pub upserts: Vec<BestRow>,
    pub deletes: Vec<(String, String)>,
}

/// The changes from a product's stored rows to its recomputed ones, counted into `tally`.
pub fn changes(old: &[BestRow], new: Vec<BestRow>, tally: &mut ScopeTally) -> RowChanges {
    let same_key = |a: &BestRow, b: &BestRow| a.scope == b.scope && a.currency == b.currency;
    let mut out = RowChanges::default();
    for gone in old.iter().filter(|o| !new.iter().any(|n| same_key(n, o))) {
        tally.count(gone, -1);
        out.deletes.push((gone.scope.clone(), gone.currency.clone()));
    }
    for row in new {
        match old.iter().find(|o| same_key(o, &row)) {
            Some(o) if *o == row => continue,
            Some(o) => tally.count(o, -1),
            None => {}
        }
        tally.count(&row, 1);
        out.upserts.push(row);
    }
    out
}

/// Products and buyable offers per (scope, currency), the counts a listing's `currencies`
/// reports; built from the rows of a full rebuild, or the deltas of a partial one.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ScopeTally(pub BTreeMap<(String, String), (i64, i64)>);

impl ScopeTally {
    /// Counts a row in (`sign` 1) or out (-1).
    pub fn count(&mut self, row: &BestRow, sign: i64) {
        let entry = self.0.entry((row.scope.clone(), row.currency.clone())).or_default();
        entry.0 += sign;
        entry.1 += sign * row.offers;
    }
}

/// Whether the filter or the preferences narrow a listing beyond its category and store:
/// brand, price bounds, one product, a filter that names nothing, or preferences that narrow
/// (budget) or reorder (preferred stores or brands).
fn narrowed_beyond_scope(filter: &OfferFilter, prefs: Option<&Preferences>) -> bool {
    let OfferFilter { brand, min_price, max_price, product, unmatched, .. } = filter;
    *unmatched
        || brand.is_some()
        || min_price.is_some()
        || max_price.is_some()
        || product.is_some()
        || prefs.is_some_and(|p| !p.stores.is_empty() || !p.brands.is_empty() || p.budget.is_some())
}

/// A page of best offers from the offers chosen for it and each one's product's matching
/// offers (`counts`: product id → offers; the stores count them in one statement).
pub fn with_counts(
    chosen: Vec<(OfferView, bool)>,
    counts: &rustc_hash::FxHashMap<i64, i64>,
) -> Vec<BestOffer> {
    chosen
        .into_iter()
        .map(|(offer, preferred)| BestOffer {
            offers_for_product: counts
                .get(&offer.product_id.as_i64())
                .map_or(0, |n| (*n).max(0) as u64),
            offer,
            preferred,
        })
        .collect()
}

/// The store and currency of a best-prices request whose total the market summary knows
/// (`market::StoreMarket::products`): one currency and nothing but a store filtering — the
/// listing a store's link opens. Its page is still read from the offers (in the store's price
/// order, `offers_store`).
pub fn store_scope<'f>(
    filter: &'f OfferFilter,
    prefs: Option<&Preferences>,
) -> Option<(&'f crate::domain::StoreId, Currency)> {
    match (&filter.store, filter.currency) {
        (Some(s), Some(c))
            if filter.category.is_none() && !narrowed_beyond_scope(filter, prefs) =>
        {
            Some((s, c))
        }
        _ => None,
    }
}

/// The category, currency and store or brand of a best-prices request whose total the market
/// summary knows (`market::CategoryProducts`): one currency, a category, and exactly one of a
/// store or a brand filtering — a category page's store or brand facet. The name is the store
/// id or the brand's key. Its page is still read from the offers.
pub fn category_scope<'f>(
    filter: &'f OfferFilter,
    prefs: Option<&Preferences>,
) -> Option<(&'f str, Currency, crate::market::ProductScope, String)> {
    use crate::market::ProductScope;
    let category = filter.category.as_deref()?;
    let currency = filter.currency?;
    let rest = OfferFilter { brand: None, ..filter.clone() };
    if narrowed_beyond_scope(&rest, prefs) {
        return None;
    }
    match (&filter.store, &filter.brand) {
        (Some(s), None) => Some((category, currency, ProductScope::Store, s.as_str().to_string())),
        (None, Some(b)) => Some((
            category,
            currency,
            ProductScope::Brand,
            crate::domain::fold_for_matching(b.trim()),
        )),
        _ => None,
    }
}

/// The currency and brand key of a listing filtered by one brand alone, whose totals the
/// market summary knows (its products across every category, `market::EVERY_CATEGORY`; its
/// offers): one currency, the brand, no category (that is `category_scope`'s), store or other
/// narrowing, nor preferences that narrow or reorder a best-prices list.
pub fn brand_scope(
    filter: &OfferFilter,
    prefs: Option<&Preferences>,
) -> Option<(Currency, String)> {
    let brand = filter.brand.as_deref()?;
    let currency = filter.currency?;
    let rest = OfferFilter { brand: None, ..filter.clone() };
    if filter.category.is_some() || filter.store.is_some() || narrowed_beyond_scope(&rest, prefs) {
        return None;
    }
    Some((currency, crate::domain::fold_for_matching(brand.trim())))
}

/// The scope and currency whose summary answers a best-prices request exactly: one currency,
/// nothing but the category filtering, and preferences that neither narrow (budget) nor
/// reorder (preferred stores or brands) the list. `None` means the store must read the
/// offers themselves.
pub fn summary_scope<'f>(
    filter: &'f OfferFilter,
    prefs: Option<&Preferences>,
) -> Option<(&'f str, Currency)> {
    let currency = filter.currency?;
    (filter.store.is_none() && !narrowed_beyond_scope(filter, prefs))
        .then(|| (filter.category.as_deref().unwrap_or(""), currency))
}

/// One buyable offer of a search's candidate products, as the stores read it for ranking:
/// `(product, price_minor, offer id)`, grouped by product, cheapest first, in one currency.
pub type SearchRow = (i64, i64, i64);

/// A search's page before its offers are read: the cheapest offer of each product in `rows`
/// with how many offers the product has, cheapest products first (`descending`: dearest
/// first), one page of them; and how many products there are.
pub fn cheapest_per_product(
    rows: &[SearchRow],
    descending: bool,
    page: PageRequest,
) -> (Vec<(i64, u64)>, u64) {
    // (price, offer id, offers of its product), one per product.
    let mut best: Vec<(i64, i64, u64)> = Vec::new();
    let mut product = None;
    for &(p, price, id) in rows {
        match best.last_mut() {
            Some(b) if product == Some(p) => b.2 += 1,
            _ => {
                product = Some(p);
                best.push((price, id, 1));
            }
        }
    }
    products_page(best, descending, page)
}

/// A search's page from each product's cheapest offer, `(price, offer id, offers of its
/// product)` in any order (read from the offers by `cheapest_per_product`, or from the
/// summary's rows): the page's `(offer id, offers)`, cheapest first (`descending`: dearest
/// first), and how many products there are.
pub fn products_page(
    best: Vec<(i64, i64, u64)>,
    descending: bool,
    page: PageRequest,
) -> (Vec<(i64, u64)>, u64) {
    let total = best.len() as u64;
    let picked = crate::query::price_page(best, |&(price, id, _)| (price, id), descending, page)
        .map(|(_, id, n)| (id, n))
        .collect();
    (picked, total)
}

/// The page of `picked` (offer id, offers of its product) with the offers read for it, of
/// `total` products; a lower bound when `more` products matched than the search considered.
pub fn search_page(
    picked: Vec<(i64, u64)>,
    offers: Vec<OfferView>,
    total: u64,
    more: bool,
    page: PageRequest,
) -> Page<BestOffer> {
    let items = crate::query::in_id_order(picked, offers)
        .into_iter()
        .map(|(offer, n)| BestOffer { offer, offers_for_product: n, preferred: false })
        .collect();
    Page::counted(items, page, crate::query::MatchCount { total, exact: !more })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_keeps_each_products_cheapest_offer_and_counts_its_offers() {
        // Products 1 (two offers), 2 and 3, grouped, cheapest first within each.
        let rows = [(1, 500, 11), (1, 900, 12), (2, 300, 21), (3, 700, 31)];
        let page = |p| PageRequest { page: p, limit: 2 };
        assert_eq!(cheapest_per_product(&rows, false, page(1)), (vec![(21, 1), (11, 2)], 3));
        assert_eq!(cheapest_per_product(&rows, false, page(2)), (vec![(31, 1)], 3));
        assert_eq!(cheapest_per_product(&rows, true, page(1)), (vec![(31, 1), (11, 2)], 3));
        assert_eq!(cheapest_per_product(&[], false, page(1)), (vec![], 0));
    }

    fn offer(id: i64, key: Option<&str>, currency: &str, price: i64) -> OfferPrice {
        OfferPrice {
            offer_id: id,
            category_key: key.map(str::to_string),
            currency: currency.into(),
            price_minor: price,
        }
    }

    #[test]
    fn only_category_only_requests_in_one_currency_use_the_summary() {
        let cop = Some(Currency::COP);
        let cat = OfferFilter { category: Some("tec".into()), currency: cop, ..Default::default() };
        assert_eq!(summary_scope(&cat, None), Some(("tec", Currency::COP)));
        let root = OfferFilter { currency: cop, ..Default::default() };
        assert_eq!(summary_scope(&root, None), Some(("", Currency::COP)));
        assert_eq!(summary_scope(&OfferFilter::default(), None), None, "no currency");
        let categories_only = Preferences { categories: vec!["tec".into()], ..Default::default() };
        assert_eq!(summary_scope(&cat, Some(&categories_only)), Some(("tec", Currency::COP)));
        let budget = Preferences { budget: Some(10), ..Default::default() };
        assert_eq!(summary_scope(&cat, Some(&budget)), None);
        let stores = Preferences { stores: vec!["exito".into()], ..Default::default() };
        assert_eq!(summary_scope(&cat, Some(&stores)), None);
        let brand = OfferFilter { brand: Some("Apple".into()), ..cat.clone() };
        assert_eq!(summary_scope(&brand, None), None);
    }

    fn row(scope: &str, currency: &str, price: i64, offers: i64) -> BestRow {
        BestRow {
            scope: scope.into(),
            product_id: 7,
            currency: currency.into(),
            price_minor: price,
            offer_id: price,
            offers,
        }
    }

    #[test]
    fn a_refresh_writes_only_what_changed_and_tallies_it() {
        let old = [row("", "COP", 5, 2), row("a", "COP", 5, 2), row("", "MXN", 9, 1)];
        let new = vec![row("", "COP", 5, 2), row("a", "COP", 4, 3), row("b", "COP", 4, 1)];
        let mut tally = ScopeTally::default();
        let c = changes(&old, new, &mut tally);
        assert_eq!(c.upserts, [row("a", "COP", 4, 3), row("b", "COP", 4, 1)]);
        assert_eq!(c.deletes, [("".to_string(), "MXN".to_string())]);
        let t = |s: &str, c: &str| tally.0.get(&(s.to_string(), c.to_string())).copied();
        assert_eq!(t("", "COP"), None, "an unchanged row is not counted");
        assert_eq!(t("a", "COP"), Some((0, 1)), "same product, one more offer");
        assert_eq!(t("b", "COP"), Some((1, 1)));
        assert_eq!(t("", "MXN"), Some((-1, -1)));
    }

    #[test]
    fn a_stream_yields_each_product_once_it_ends() {
        let mut stream = ProductStream::default();
        assert!(stream.push(1, offer(10, Some("a"), "COP", 5)).is_empty());
        assert!(stream.push(1, offer(11, Some("a"), "COP", 4)).is_empty());
        let first = stream.push(2, offer(12, None, "COP", 9));
        assert_eq!(
            first.iter().map(|r| (r.product_id, r.offer_id)).collect::<Vec<_>>(),
            [(1, 11), (1, 11)]
        );
        let last = stream.finish();
        assert_eq!(last.iter().map(|r| (r.product_id, r.offer_id)).collect::<Vec<_>>(), [(2, 12)]);
        assert!(ProductStream::default().finish().is_empty());
    }

    #[test]
    fn scopes_are_whole_segment_prefixes_and_the_root() {
        assert_eq!(scopes(Some("a/b/c")).collect::<Vec<_>>(), ["", "a", "a/b", "a/b/c"]);
        assert_eq!(scopes(Some("hogar")).collect::<Vec<_>>(), ["", "hogar"]);
        assert_eq!(scopes(None).collect::<Vec<_>>(), [""]);
    }

    #[test]
    fn best_offer_per_scope_in_page_order() {
        let offers = [
            offer(5, Some("tec/cel"), "COP", 900),
            offer(3, Some("tec/cel"), "COP", 900),
            offer(9, Some("tec/tv"), "COP", 500),
            offer(1, Some("tec/cel"), "USD", 1),
            offer(2, None, "COP", 2000),
        ];
        let rows = best_rows(7, &offers);
        let get =
            |s: &str, c: &str| rows.iter().find(|r| r.scope == s && r.currency == c).expect(s);
        // Ties on price go to the lower offer id; each currency has its own row.
        assert_eq!((get("tec/cel", "COP").offer_id, get("tec/cel", "COP").offers), (3, 2));
        assert_eq!((get("tec/cel", "USD").offer_id, get("tec/cel", "USD").offers), (1, 1));
        assert_eq!((get("tec/tv", "COP").offer_id, get("tec/tv", "COP").offers), (9, 1));
        assert_eq!((get("tec", "COP").offer_id, get("tec", "COP").offers), (9, 3));
        assert_eq!((get("", "COP").offer_id, get("", "COP").offers), (9, 4));
        assert_eq!((get("", "USD").offer_id, get("", "USD").offers), (1, 1));
        assert_eq!(rows.len(), 7);
        assert!(rows.iter().all(|r| r.product_id == 7));
    }
}
