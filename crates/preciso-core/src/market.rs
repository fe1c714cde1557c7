//! The market summary behind the catalog listings and the store comparison: each category's
//! name and offers; each brand's name, offers and products; each store's offers, categories,
//! stock and newest observation; and per (currency, store) its offers, categories, price index,
//! how often it is the cheapest, and its offers by the hour they were last seen and by category
//! key; per currency, category path and store or brand the products with a buyable offer
//! (`category_products`; a brand's across every category too, path `""`); per currency and
//! brand its offers (`brand_offers`); per currency its newest offers (`recent`: the date-sorted listing's
//! first `RECENT_KEPT` rows at least, up to `RECENT_MAX`), and per currency and store its
//! newest (`store_recent`, up to `STORE_RECENT_KEPT`), each list within a shared budget of
//! rows (the stores write the columns the filters read beside each). Stores rebuild it at the end of every ingest run that changed offers
//! (and after store merges and loads), the way the best-offer summary is kept, so
//! `/api/categories`, `/api/stores`, the store comparison and the web UI read a few rows
//! instead of every offer. This module folds two scans — the offers in any order (`push`), and
//! their prices in product order (`push_price`) — in memory bounded by the number of stores,
//! currencies, categories and hours (and the newest offers kept per currency and store), not
//! by the catalog; it knows no SQL.

use crate::analysis::stats::quantile;
use crate::query::{CategoryCount, MatchCount, PageRequest};
use rustc_hash::FxHashMap;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Newest offers each currency's list keeps at least (`market_recent`): every page a
/// whole-currency listing may ask for (`ranking::MAX_DEPTH`), read there by rank.
pub const RECENT_KEPT: usize = crate::ranking::MAX_DEPTH as usize;

/// Newest offers each currency's list keeps at most. The lists carry the columns the filters
/// read, so a filtered date page walks the list alone (about 0.2 µs a row) and reads its own
/// offers only: a filter covering 1 in 50 of the currency's offers finds page 50 within it,
/// where sorting its matches read each match's row (a brand's 16k at 1M: 80 ms on PostgreSQL).
pub const RECENT_MAX: usize = 50_000;

/// Rows the currencies' lists keep together: each keeps this shared by the currencies,
/// within `RECENT_KEPT..=RECENT_MAX` (eight currencies: 30,000 each). Each rebuild writes them:
/// 600,000 list rows in all took a 1M catalog's summary write from 1.0–1.5 to 3.1–3.2 s.
pub const RECENT_ROWS: usize = 240_000;

/// Newest offers kept per currency and store (`store_recent`), at most: a store's first 400
/// pages of 20; deeper pages sort the store's offers.
pub const STORE_RECENT_KEPT: usize = 8_000;

/// Offers the stores' lists keep together, at most: past 15 (currency, store) pairs each list
/// keeps `STORE_RECENT_ROWS / pairs` (still its newest, so still a prefix of its date order),
/// so the fold's memory (40 bytes an offer, up to twice this between trims: 9.6 MB) and the
/// rows each rebuild writes do not grow with the number of stores.
pub const STORE_RECENT_ROWS: usize = 120_000;

/// Rows of a list of newest offers a walk reads for the cost of one match a sort reads: the
/// list carries the filters' columns (a row of its key, about 0.2 µs), a sorted match is its
/// offer's row read from the table (1–5 µs, more on PostgreSQL).
pub const LIST_ROWS_PER_MATCH: u64 = 8;

/// Whether a filtered date-sorted page should walk a list of newest offers (the first `kept`
/// of `drawn_from` offers in date order: a currency's or a store's) rather than sort its
/// matches: sorting reads every match (`matching`, unbounded when the count stopped); the
/// walk, with the matches spread over the date order as over the offers it is drawn from,
/// reads about `wanted` × `drawn_from` / `matching` of the list (at most all of it: `wanted`
/// counts no more than the matches), and runs out past `kept`. A list row costs
/// `1 / LIST_ROWS_PER_MATCH` of a match.
pub fn recent_walk_suits(wanted: u64, matching: u64, drawn_from: u64, kept: u64) -> bool {
    let walk = wanted.min(matching).saturating_mul(drawn_from);
    walk <= matching.saturating_mul(kept)
        && walk <= matching.saturating_mul(matching).saturating_mul(LIST_ROWS_PER_MATCH)
}

/// Whether a walk of the kept newest offers that found `found` rows gave the whole page: it
/// filled the page, or the matches ended there (`total`, when exact). Otherwise the matches
/// run on past the kept offers, or the summary was stale (no rows: a page past the last match
/// is not read at all), and the listing sorts.
pub fn recent_walk_complete(found: usize, page: PageRequest, total: MatchCount) -> bool {
    found > 0
        && (found == page.limit as usize
            || (total.exact && page.offset() + found as u64 == total.total))
}

/// One offer as the first scan reads it.
#[derive(Debug, Clone, Copy)]
pub struct MarketRow<'a> {
    pub offer: i64,
    pub store: &'a str,
    pub brand: Option<&'a str>,
    pub brand_key: Option<&'a str>,
    pub category: Option<&'a str>,
    pub category_key: Option<&'a str>,
    pub currency: &'a str,
    pub last_seen: i64,
    pub in_stock: bool,
    pub price_minor: i64,
}

/// One offer's price as the second scan reads it, in product order.
#[derive(Debug, Clone, Copy)]
pub struct PriceRow<'a> {
    pub product_id: i64,
    pub brand_key: Option<&'a str>,
    pub category_key: Option<&'a str>,
    pub currency: &'a str,
    pub store: &'a str,
    pub price_minor: i64,
    /// Not out of stock (in stock or unknown): what best prices list.
    pub buyable: bool,
}

/// A store's totals over every currency.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreTotals {
    pub store: String,
    pub offers: u64,
    pub categories: u64,
    pub in_stock: u64,
    pub last_seen: i64,
}

/// A store against the market in one currency.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreMarket {
    pub currency: String,
    pub store: String,
    pub offers: u64,
    /// Distinct products it has a buyable offer of: the total of its best-prices listing.
    pub products: u64,
    /// Distinct categories of those offers.
    pub categories: u64,
    /// Median over its products sold by 2+ stores of (its price / the median across stores),
    /// × 100, rounded to 2 decimals; `None` when it has no such product.
    pub price_index: Option<f64>,
    /// Its products sold by 2+ stores.
    pub compared: u64,
    /// Of those, where it is (one of) the cheapest.
    pub cheapest: u64,
    pub last_seen: i64,
}

/// How many of a store's offers in a currency were last seen in one hour (Unix hours).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenHour {
    pub currency: String,
    pub store: String,
    pub hour: i64,
    pub offers: u64,
}

/// A store against the market in one currency, as the store comparison reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreStanding {
    pub store: crate::domain::StoreId,
    pub offers: u64,
    pub categories: u64,
    pub price_index: Option<f64>,
    pub compared: u64,
    pub cheapest: u64,
    pub last_seen: i64,
    /// Its offers last seen in or after the hour asked for.
    pub fresh: u64,
}

/// A brand's offers and the products they belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrandTotals {
    pub key: String,
    /// The smallest of the names its offers write.
    pub brand: String,
    pub offers: u64,
    pub products: u64,
}

/// A brand's offers in one currency, whatever their stock: a listing filtered by the brand
/// alone totals these instead of counting its offers (a brand's 16k at 1M, past the count's
/// limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrandOffers {
    pub currency: String,
    pub brand_key: String,
    pub offers: u64,
}

/// The path of a `CategoryProducts` row counting a brand's products in every category (and
/// none): the total of the brand's best prices without a category.
pub const EVERY_CATEGORY: &str = "";

/// The summary's rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Market {
    /// By key; the name is the smallest of the names the key's offers write.
    pub categories: Vec<CategoryCount>,
    /// By key.
    pub brands: Vec<BrandTotals>,
    /// By store.
    pub stores: Vec<StoreTotals>,
    /// By currency, then store.
    pub markets: Vec<StoreMarket>,
    pub seen_hours: Vec<SeenHour>,
    /// By currency, each newest first: the date sort's order (`last_seen` descending, then
    /// id); each list the currencies' share of `RECENT_ROWS` (within `RECENT_KEPT..=RECENT_MAX`).
    pub recent: Vec<CurrencyRecent>,
    /// By currency and store: each list the same length at most (`STORE_RECENT_KEPT`, or the
    /// stores' share of `STORE_RECENT_ROWS`).
    pub store_recent: Vec<StoreRecent>,
    /// What the lists' rows name by position.
    pub listed_names: ListedNames,
    /// By currency, category key, store.
    pub category_offers: Vec<CategoryOffers>,
    /// By currency, category path, scope, name.
    pub category_products: Vec<CategoryProducts>,
    /// By currency, brand key.
    pub brand_offers: Vec<BrandOffers>,
}

/// What a `CategoryProducts` row counts a category's products by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProductScope {
    /// `name` is a store id.
    Store,
    /// `name` is a brand key.
    Brand,
}

impl ProductScope {
    pub fn as_str(self) -> &'static str {
        match self {
            ProductScope::Store => "store",
            ProductScope::Brand => "brand",
        }
    }
}

/// The products with a buyable offer in a category path (the key and everything below it) and
/// one currency from one store, or of one brand: the total of a category's best prices
/// filtered by that store or brand, which would otherwise count every matching offer. A
/// brand's products in every category (and none) have the path `EVERY_CATEGORY`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryProducts {
    pub currency: String,
    pub path: String,
    pub scope: ProductScope,
    pub name: String,
    pub products: u64,
}

/// A store's offers in one category key and currency: a listing filtered by category (and
/// store) totals these instead of counting its offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryOffers {
    pub currency: String,
    pub category_key: String,
    pub store: String,
    pub offers: u64,
}

/// One of a list's newest offers with what the listing filters read of it: its price, and
/// its store, brand key and category key by position in `Market::listed_names` (`NO_NAME`
/// where the offer has none). Names by position: half a million rows would otherwise carry
/// three strings each through the rebuild.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listed {
    pub offer: i64,
    pub last_seen: i64,
    pub price_minor: i64,
    pub store: u32,
    pub brand: u32,
    pub category: u32,
}

/// A `Listed` position naming nothing (no brand, no category).
pub const NO_NAME: u32 = u32::MAX;

/// The names `Listed` rows point to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListedNames {
    pub stores: Vec<String>,
    pub brand_keys: Vec<String>,
    pub category_keys: Vec<String>,
}

impl ListedNames {
    /// The name at `at` in `names`, `None` for `NO_NAME`.
    pub fn get(names: &[String], at: u32) -> Option<&str> {
        names.get(at as usize).map(String::as_str)
    }
}

/// A currency's newest offers, newest first (its rank is the position), the currency once per
/// list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrencyRecent {
    pub currency: String,
    pub offers: Vec<Listed>,
}

/// A store's newest offers in a currency, newest first (its rank is the position), the names
/// once per list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreRecent {
    pub currency: String,
    pub store: String,
    pub offers: Vec<Listed>,
}

/// An offer's place in the date sort: larger is newer (`last_seen`, then the smaller id).
type Newness = (i64, Reverse<i64>);

/// A kept offer: its place in the date sort, then what `Listed` carries beside it (price,
/// store, brand, category), which never decides the order (each offer's newness is its own).
type Entry = (Newness, (i64, u32, u32, u32));

/// The newest offers kept so far, the oldest of them on top (40 bytes each).
type Newest = BinaryHeap<Reverse<Entry>>;

/// Lists of newest offers sharing a budget of `BUDGET` rows: each keeps `BUDGET / lists`
/// within `FLOOR..=CEILING` (still its newest, so still a prefix of its date order). A new
/// list lowers every list's share; the lists are trimmed to it whenever it has halved since
/// the last trim, so together they hold at most twice the budget (or `FLOOR` each).
struct NewestLists<K, const BUDGET: usize, const FLOOR: usize, const CEILING: usize> {
    lists: FxHashMap<K, Newest>,
    /// How many each list keeps now, and what it was when every list was last trimmed to it.
    cap: usize,
    trimmed: usize,
}

impl<K, const B: usize, const F: usize, const C: usize> Default for NewestLists<K, B, F, C> {
    fn default() -> Self {
        NewestLists { lists: FxHashMap::default(), cap: C, trimmed: 0 }
    }
}

impl<K: std::hash::Hash + Eq + Copy, const BUDGET: usize, const FLOOR: usize, const CEILING: usize>
    NewestLists<K, BUDGET, FLOOR, CEILING>
{
    /// Keeps `entry` in `key`'s list if it is among its newest.
    fn keep(&mut self, key: K, entry: Entry) {
        if let std::collections::hash_map::Entry::Vacant(e) = self.lists.entry(key) {
            e.insert(Newest::new());
            self.cap = (BUDGET / self.lists.len()).clamp(FLOOR, CEILING);
            if self.trimmed == 0 {
                self.trimmed = self.cap;
            } else if self.cap * 2 <= self.trimmed {
                let cap = self.cap;
                self.lists.values_mut().for_each(|heap| trim(heap, cap));
                self.trimmed = cap;
            }
        }
        let cap = self.cap;
        let heap = self.lists.get_mut(&key).expect("inserted above");
        trim(heap, cap);
        keep_newest(heap, cap, entry);
    }

    /// Every list trimmed to the final share, newest first.
    fn into_lists(self) -> impl Iterator<Item = (K, Vec<Listed>)> {
        let cap = self.cap;
        self.lists.into_iter().map(move |(key, mut heap)| {
            trim(&mut heap, cap);
            (key, newest_first(heap).collect())
        })
    }

    /// Rows held now, for the tests of the memory bound.
    #[cfg(test)]
    fn held(&self) -> usize {
        self.lists.values().map(BinaryHeap::len).sum()
    }
}

#[derive(Default)]
struct Totals {
    offers: u64,
    in_stock: u64,
    last_seen: i64,
    categories: Vec<u32>,
}

/// Price-to-median ratios of one store in one currency, counted in bins of 1/10,000: the
/// price index is the median ratio × 100 to two decimals, which is the median bin / 100
/// exactly, in 256 KiB whatever the number of comparisons (ratios of 6.5535 and above share
/// the last bin).
struct Ratios(Box<[u32]>);

impl Ratios {
    const BINS: usize = 1 << 16;

    fn new() -> Self {
        Ratios(vec![0; Self::BINS].into_boxed_slice())
    }

    fn add(&mut self, ratio: f64) {
        let bin = (ratio * 10_000.0).round().clamp(0.0, (Self::BINS - 1) as f64) as usize;
        self.0[bin] += 1;
    }

    /// The `n`-th smallest (0-based) ratio's bin / 100: the index to two decimals.
    fn index_at(&self, n: u64) -> Option<f64> {
        let mut seen = 0u64;
        for (bin, &count) in self.0.iter().enumerate() {
            seen += u64::from(count);
            if seen > n {
                return Some(bin as f64 / 100.0);
            }
        }
        None
    }
}

#[derive(Default)]
struct Acc {
    offers: u64,
    last_seen: i64,
    categories: Vec<u32>,
    ratios: Option<Ratios>,
    compared: u64,
    cheapest: u64,
    products: u64,
}

/// A store's lowest price of the current product in one currency, and whether it has a
/// buyable offer of it.
#[derive(Clone, Copy)]
struct Seller {
    currency: u16,
    store: u32,
    price: i64,
    buyable: bool,
}

/// Folds the two scans into a `Market`.
#[derive(Default)]
pub struct MarketFold {
    stores: FxHashMap<String, u32>,
    store_names: Vec<String>,
    currencies: Vec<String>,
    keys: FxHashMap<String, u32>,
    key_names: Vec<(String, String, u64)>,
    /// Brand key -> (name, offers, products).
    brands: FxHashMap<String, (String, u64, u64)>,
    /// The current product's brand keys (the price scan).
    product_brands: Vec<String>,
    totals: Vec<Totals>,
    accs: FxHashMap<(u16, u32), Acc>,
    hours: FxHashMap<(u16, u32, i64), u64>,
    /// The product the price scan is on, and its sellers so far.
    product: Option<i64>,
    sellers: Vec<Seller>,
    /// Per currency (index), its newest offers so far.
    recent: NewestLists<u16, RECENT_ROWS, RECENT_KEPT, RECENT_MAX>,
    /// Per (currency, store), its newest offers so far.
    store_recent: NewestLists<(u16, u32), STORE_RECENT_ROWS, 1, STORE_RECENT_KEPT>,
    /// (currency, store, category key) -> offers.
    category_offers: FxHashMap<(u16, u32, u32), u64>,
    /// Category paths (each key and its ancestors) by name, and each key's paths.
    path_ids: FxHashMap<String, u32>,
    path_names: Vec<String>,
    key_paths: FxHashMap<String, Vec<u32>>,
    /// Brand keys of the price scan by position.
    brand_ids: FxHashMap<String, u32>,
    brand_keys: Vec<String>,
    /// The current product's buyable (currency, scope, store or brand, path), repeats and all.
    product_scopes: Vec<(u16, u8, u32, u32)>,
    /// (currency, scope, store or brand, path) -> products with a buyable offer there.
    scope_products: FxHashMap<(u16, u8, u32, u32), u64>,
    /// (currency, brand) -> offers.
    brand_offers: FxHashMap<(u16, u32), u64>,
}

const BY_STORE: u8 = 0;
const BY_BRAND: u8 = 1;

/// Keeps `entry` in `heap` if it is among the newest `kept` so far (the oldest on top).
fn keep_newest(heap: &mut Newest, kept: usize, entry: Entry) {
    if heap.len() < kept {
        heap.push(Reverse(entry));
    } else if heap.peek().is_some_and(|oldest| entry.0 > (oldest.0).0) {
        heap.pop();
        heap.push(Reverse(entry));
    }
}

/// The offers of `heap`, newest first (ascending `Reverse` order).
fn newest_first(heap: Newest) -> impl Iterator<Item = Listed> {
    heap.into_sorted_vec().into_iter().map(
        |Reverse(((last_seen, Reverse(offer)), (price_minor, store, brand, category)))| Listed {
            offer,
            last_seen,
            price_minor,
            store,
            brand,
            category,
        },
    )
}

/// Drops the oldest of `heap` until it holds at most `cap`.
fn trim(heap: &mut Newest, cap: usize) {
    while heap.len() > cap {
        heap.pop();
    }
}

/// The position of `name` in `names`, appending it the first time it is seen.
pub(crate) fn index_of(
    map: &mut FxHashMap<String, u32>,
    names: &mut Vec<String>,
    name: &str,
) -> u32 {
    if let Some(i) = map.get(name) {
        return *i;
    }
    let i = names.len() as u32;
    map.insert(name.to_string(), i);
    names.push(name.to_string());
    i
}

fn add_category(list: &mut Vec<u32>, key: u32) {
    if let Err(at) = list.binary_search(&key) {
        list.insert(at, key);
    }
}

impl MarketFold {
    fn currency(&mut self, code: &str) -> u16 {
        match self.currencies.iter().position(|c| c == code) {
            Some(i) => i as u16,
            None => {
                self.currencies.push(code.to_string());
                (self.currencies.len() - 1) as u16
            }
        }
    }

    /// One offer of the first scan (any order).
    pub fn push(&mut self, r: MarketRow<'_>) {
        let store = index_of(&mut self.stores, &mut self.store_names, r.store);
        let currency = self.currency(r.currency);
        if let Some(k) = r.brand_key {
            let name = r.brand.unwrap_or(k);
            match self.brands.get_mut(k) {
                Some(b) => {
                    b.1 += 1;
                    if name < b.0.as_str() {
                        b.0 = name.to_string();
                    }
                }
                None => {
                    self.brands.insert(k.to_string(), (name.to_string(), 1, 0));
                }
            }
        }
        let key = r.category_key.map(|k| {
            let i = match self.keys.get(k) {
                Some(i) => *i,
                None => {
                    let i = self.key_names.len() as u32;
                    self.keys.insert(k.to_string(), i);
                    self.key_names.push((k.to_string(), String::new(), 0));
                    i
                }
            };
            let entry = &mut self.key_names[i as usize];
            entry.2 += 1;
            let name = r.category.unwrap_or(k);
            if entry.1.is_empty() || name < entry.1.as_str() {
                entry.1 = name.to_string();
            }
            i
        });
        if self.totals.len() <= store as usize {
            self.totals.resize_with(store as usize + 1, Totals::default);
        }
        let t = &mut self.totals[store as usize];
        t.offers += 1;
        t.in_stock += u64::from(r.in_stock);
        t.last_seen = t.last_seen.max(r.last_seen);
        let a = self.accs.entry((currency, store)).or_default();
        a.offers += 1;
        a.last_seen = a.last_seen.max(r.last_seen);
        if let Some(k) = key {
            add_category(&mut t.categories, k);
            add_category(&mut a.categories, k);
            *self.category_offers.entry((currency, store, k)).or_default() += 1;
        }
        *self.hours.entry((currency, store, r.last_seen.div_euclid(3600))).or_default() += 1;
        let brand =
            r.brand_key.map_or(NO_NAME, |k| index_of(&mut self.brand_ids, &mut self.brand_keys, k));
        if brand != NO_NAME {
            *self.brand_offers.entry((currency, brand)).or_default() += 1;
        }
        let entry = (
            (r.last_seen, Reverse(r.offer)),
            (r.price_minor, store, brand, key.unwrap_or(NO_NAME)),
        );
        self.recent.keep(currency, entry);
        self.store_recent.keep((currency, store), entry);
    }

    /// One offer's price of the second scan, which comes in product order: each product's
    /// sellers are judged when the next product begins.
    pub fn push_price(&mut self, r: PriceRow<'_>) {
        if self.product != Some(r.product_id) {
            self.judge_product();
            self.product = Some(r.product_id);
        }
        if let Some(k) = r.brand_key
            && !self.product_brands.iter().any(|b| b == k)
        {
            self.product_brands.push(k.to_string());
        }
        let store = index_of(&mut self.stores, &mut self.store_names, r.store);
        let currency = self.currency(r.currency);
        if let Some(key) = r.category_key.filter(|k| r.buyable && !k.is_empty()) {
            self.add_scopes(currency, store, r.brand_key, key);
        }
        if let Some(b) = r.brand_key.filter(|_| r.buyable) {
            let brand = index_of(&mut self.brand_ids, &mut self.brand_keys, b);
            let every = index_of(&mut self.path_ids, &mut self.path_names, EVERY_CATEGORY);
            self.product_scopes.push((currency, BY_BRAND, brand, every));
        }
        match self.sellers.iter_mut().find(|s| s.store == store && s.currency == currency) {
            Some(s) => {
                s.price = s.price.min(r.price_minor);
                s.buyable |= r.buyable;
            }
            None => self.sellers.push(Seller {
                currency,
                store,
                price: r.price_minor,
                buyable: r.buyable,
            }),
        }
    }

    /// A buyable offer of the current product in `key`: its store and its brand sell the
    /// product in the key and in each of its ancestors.
    fn add_scopes(&mut self, currency: u16, store: u32, brand_key: Option<&str>, key: &str) {
        if !self.key_paths.contains_key(key) {
            let ancestors = key.match_indices('/').map(|(at, _)| &key[..at]);
            let paths = ancestors
                .chain([key])
                .map(|p| index_of(&mut self.path_ids, &mut self.path_names, p))
                .collect();
            self.key_paths.insert(key.to_string(), paths);
        }
        let brand = brand_key.map(|b| index_of(&mut self.brand_ids, &mut self.brand_keys, b));
        for &path in &self.key_paths[key] {
            self.product_scopes.push((currency, BY_STORE, store, path));
            if let Some(b) = brand {
                self.product_scopes.push((currency, BY_BRAND, b, path));
            }
        }
    }

    /// The current product: in each currency, every store with a buyable offer counts it, and
    /// when 2+ stores sell it each is compared with the median of their lowest prices.
    fn judge_product(&mut self) {
        self.product_scopes.sort_unstable();
        self.product_scopes.dedup();
        for scope in self.product_scopes.drain(..) {
            *self.scope_products.entry(scope).or_default() += 1;
        }
        for k in self.product_brands.drain(..) {
            if let Some(b) = self.brands.get_mut(&k) {
                b.2 += 1;
            }
        }
        let mut sellers = std::mem::take(&mut self.sellers);
        sellers.sort_unstable_by_key(|s| (s.currency, s.price));
        for group in sellers.chunk_by(|a, b| a.currency == b.currency) {
            let prices: Vec<i64> = group.iter().map(|s| s.price).collect();
            let compared = group.len() >= 2;
            let median = quantile(&prices, 0.5).unwrap_or(1).max(1) as f64;
            for s in group {
                let a = self.accs.entry((s.currency, s.store)).or_default();
                a.products += u64::from(s.buyable);
                if compared {
                    a.ratios.get_or_insert_with(Ratios::new).add(s.price as f64 / median);
                    a.compared += 1;
                    a.cheapest += u64::from(s.price == prices[0]);
                }
            }
        }
        sellers.clear();
        self.sellers = sellers;
    }

    pub fn finish(mut self) -> Market {
        self.judge_product();
        let mut category_offers: Vec<CategoryOffers> = self
            .category_offers
            .into_iter()
            .map(|((c, s, k), offers)| CategoryOffers {
                currency: self.currencies[c as usize].clone(),
                category_key: self.key_names[k as usize].0.clone(),
                store: self.store_names[s as usize].clone(),
                offers,
            })
            .collect();
        category_offers.sort_by(|a, b| {
            (&a.currency, &a.category_key, &a.store).cmp(&(&b.currency, &b.category_key, &b.store))
        });
        let mut markets: Vec<StoreMarket> = self
            .accs
            .into_iter()
            .map(|((c, s), a)| StoreMarket {
                currency: self.currencies[c as usize].clone(),
                store: self.store_names[s as usize].clone(),
                offers: a.offers,
                products: a.products,
                categories: a.categories.len() as u64,
                price_index: a.ratios.as_ref().and_then(|r| r.index_at(a.compared / 2)),
                compared: a.compared,
                cheapest: a.cheapest,
                last_seen: a.last_seen,
            })
            .collect();
        markets.sort_by(|a, b| (&a.currency, &a.store).cmp(&(&b.currency, &b.store)));
        let mut stores: Vec<StoreTotals> = self
            .totals
            .into_iter()
            .enumerate()
            .map(|(i, t)| StoreTotals {
                store: self.store_names[i].clone(),
                offers: t.offers,
                categories: t.categories.len() as u64,
                in_stock: t.in_stock,
                last_seen: t.last_seen,
            })
            .collect();
        stores.sort_by(|a, b| a.store.cmp(&b.store));
        let category_keys = self.key_names.iter().map(|(key, _, _)| key.clone()).collect();
        let mut categories: Vec<CategoryCount> = self
            .key_names
            .into_iter()
            .map(|(key, category, offers)| CategoryCount { category, key, offers })
            .collect();
        categories.sort_by(|a, b| a.key.cmp(&b.key));
        let mut seen_hours: Vec<SeenHour> = self
            .hours
            .into_iter()
            .map(|((c, s, hour), offers)| SeenHour {
                currency: self.currencies[c as usize].clone(),
                store: self.store_names[s as usize].clone(),
                hour,
                offers,
            })
            .collect();
        seen_hours
            .sort_by(|a, b| (&a.currency, &a.store, a.hour).cmp(&(&b.currency, &b.store, b.hour)));
        let mut brands: Vec<BrandTotals> = self
            .brands
            .into_iter()
            .map(|(key, (brand, offers, products))| BrandTotals { key, brand, offers, products })
            .collect();
        brands.sort_by(|a, b| a.key.cmp(&b.key));
        let mut recent: Vec<CurrencyRecent> = self
            .recent
            .into_lists()
            .map(|(c, offers)| CurrencyRecent {
                currency: self.currencies[c as usize].clone(),
                offers,
            })
            .collect();
        recent.sort_by(|a, b| a.currency.cmp(&b.currency));
        let mut store_recent: Vec<StoreRecent> = self
            .store_recent
            .into_lists()
            .map(|((c, s), offers)| StoreRecent {
                currency: self.currencies[c as usize].clone(),
                store: self.store_names[s as usize].clone(),
                offers,
            })
            .collect();
        store_recent.sort_by(|a, b| (&a.currency, &a.store).cmp(&(&b.currency, &b.store)));
        let mut category_products: Vec<CategoryProducts> = self
            .scope_products
            .into_iter()
            .map(|((c, scope, who, path), products)| {
                let (scope, names) = match scope {
                    BY_STORE => (ProductScope::Store, &self.store_names),
                    _ => (ProductScope::Brand, &self.brand_keys),
                };
                CategoryProducts {
                    currency: self.currencies[c as usize].clone(),
                    path: self.path_names[path as usize].clone(),
                    scope,
                    name: names[who as usize].clone(),
                    products,
                }
            })
            .collect();
        category_products.sort_by(|a, b| {
            (&a.currency, &a.path, a.scope, &a.name).cmp(&(&b.currency, &b.path, b.scope, &b.name))
        });
        let mut brand_offers: Vec<BrandOffers> = self
            .brand_offers
            .into_iter()
            .map(|((c, b), offers)| BrandOffers {
                currency: self.currencies[c as usize].clone(),
                brand_key: self.brand_keys[b as usize].clone(),
                offers,
            })
            .collect();
        brand_offers.sort_by(|a, b| (&a.currency, &a.brand_key).cmp(&(&b.currency, &b.brand_key)));
        let listed_names = ListedNames {
            stores: self.store_names.clone(),
            brand_keys: self.brand_keys.clone(),
            category_keys,
        };
        Market {
            listed_names,
            categories,
            brands,
            stores,
            markets,
            seen_hours,
            recent,
            store_recent,
            category_offers,
            category_products,
            brand_offers,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (store, product, category key, price, last seen); price 300 is out of stock.
    type Offer = (&'static str, i64, &'static str, i64, i64);

    /// An offer of `store` in `currency`, in stock, without brand or category.
    fn seen<'a>(offer: i64, store: &'a str, currency: &'a str, last_seen: i64) -> MarketRow<'a> {
        MarketRow {
            offer,
            store,
            brand: None,
            brand_key: None,
            category: None,
            category_key: None,
            currency,
            last_seen,
            in_stock: true,
            price_minor: 0,
        }
    }

    fn fold(offers: &[Offer]) -> Market {
        let mut f = MarketFold::default();
        for (i, &(store, product, key, price, seen)) in offers.iter().enumerate() {
            f.push(MarketRow {
                offer: i as i64 + 1,
                store,
                brand: Some(if product == 1 { "Mabe" } else { "mabe" }),
                brand_key: Some("mabe"),
                category: Some(if key == "a" { "A" } else { "B" }),
                category_key: Some(key),
                currency: "COP",
                last_seen: seen,
                in_stock: price != 300,
                price_minor: 0,
            });
        }
        let mut by_product = offers.to_vec();
        by_product.sort_by_key(|o| o.1);
        for &(store, product, key, price, _) in &by_product {
            f.push_price(PriceRow {
                product_id: product,
                brand_key: Some("mabe"),
                category_key: Some(key),
                currency: "COP",
                store,
                price_minor: price,
                buyable: price != 300,
            });
        }
        f.finish()
    }

    #[test]
    fn products_count_once_per_category_path_store_and_brand_where_buyable() {
        // Product 1: twice in x under a/b, once in y under a; out of stock in z (price 300).
        // Product 2: in x under a/b/c.
        let m = fold(&[
            ("x", 1, "a/b", 100, 1),
            ("x", 1, "a/b", 90, 1),
            ("y", 1, "a", 120, 1),
            ("z", 1, "a/b", 300, 1),
            ("x", 2, "a/b/c", 50, 1),
        ]);
        let got: Vec<(&str, &str, &str, u64)> = m
            .category_products
            .iter()
            .map(|c| (c.path.as_str(), c.scope.as_str(), c.name.as_str(), c.products))
            .collect();
        assert_eq!(
            got,
            vec![
                ("", "brand", "mabe", 2),
                ("a", "store", "x", 2),
                ("a", "store", "y", 1),
                ("a", "brand", "mabe", 2),
                ("a/b", "store", "x", 2),
                ("a/b", "brand", "mabe", 2),
                ("a/b/c", "store", "x", 1),
                ("a/b/c", "brand", "mabe", 1),
            ]
        );
    }

    #[test]
    fn the_fold_counts_compares_and_buckets_by_hour() {
        // Product 1 in x (twice: its lowest counts), y and z; product 2 only in x.
        let m = fold(&[
            ("x", 1, "a", 100, 3_600),
            ("x", 1, "a", 90, 3_700),
            ("y", 1, "a", 120, 7_200),
            ("z", 1, "b", 300, 7_300),
            ("x", 2, "b", 50, 10),
        ]);
        let cats: Vec<(&str, &str, u64)> =
            m.categories.iter().map(|c| (c.key.as_str(), c.category.as_str(), c.offers)).collect();
        assert_eq!(cats, vec![("a", "A", 3), ("b", "B", 2)]);
        let brands: Vec<(&str, &str, u64, u64)> = m
            .brands
            .iter()
            .map(|b| (b.key.as_str(), b.brand.as_str(), b.offers, b.products))
            .collect();
        assert_eq!(brands, vec![("mabe", "Mabe", 5, 2)], "smallest name, 5 offers of 2 products");
        let per_currency: Vec<(&str, &str, u64)> = m
            .brand_offers
            .iter()
            .map(|b| (b.currency.as_str(), b.brand_key.as_str(), b.offers))
            .collect();
        assert_eq!(per_currency, vec![("COP", "mabe", 5)], "out of stock too");
        let x = &m.stores[0];
        assert_eq!(
            (x.store.as_str(), x.offers, x.categories, x.in_stock, x.last_seen),
            ("x", 3, 2, 3, 3_700)
        );
        assert_eq!(m.stores[2].in_stock, 0);
        // Median of 90, 120, 300 is 120: x is 75, y 100, z 250; x is the cheapest.
        let idx: Vec<(&str, Option<f64>, u64, u64)> = m
            .markets
            .iter()
            .map(|s| (s.store.as_str(), s.price_index, s.compared, s.cheapest))
            .collect();
        assert_eq!(
            idx,
            vec![("x", Some(75.0), 1, 1), ("y", Some(100.0), 1, 0), ("z", Some(250.0), 1, 0)]
        );
        // Buyable products per store: x two, y one, z none (its only offer is out of stock).
        let products: Vec<u64> = m.markets.iter().map(|s| s.products).collect();
        assert_eq!(products, vec![2, 1, 0]);
        let hours: Vec<(&str, i64, u64)> =
            m.seen_hours.iter().map(|h| (h.store.as_str(), h.hour, h.offers)).collect();
        assert_eq!(hours, vec![("x", 0, 1), ("x", 1, 2), ("y", 2, 1), ("z", 2, 1)]);
        let by_category: Vec<(&str, &str, u64)> = m
            .category_offers
            .iter()
            .map(|c| (c.category_key.as_str(), c.store.as_str(), c.offers))
            .collect();
        assert_eq!(by_category, vec![("a", "x", 2), ("a", "y", 1), ("b", "x", 1), ("b", "z", 1)]);
    }

    /// `(offer, last_seen)` of each listed offer.
    fn pairs(list: &[Listed]) -> Vec<(i64, i64)> {
        list.iter().map(|l| (l.offer, l.last_seen)).collect()
    }

    #[test]
    fn listed_offers_carry_what_the_filters_read() {
        let mut f = MarketFold::default();
        let tv = MarketRow {
            brand: Some("Sony"),
            brand_key: Some("sony"),
            category: Some("TV"),
            category_key: Some("tv"),
            price_minor: 500,
            ..seen(7, "exito", "COP", 3)
        };
        f.push(tv);
        f.push(MarketRow { price_minor: 90, ..seen(8, "exito", "COP", 2) });
        let m = f.finish();
        let names = &m.listed_names;
        let named = |l: &Listed| {
            (
                l.offer,
                l.price_minor,
                ListedNames::get(&names.stores, l.store).map(str::to_string),
                ListedNames::get(&names.brand_keys, l.brand).map(str::to_string),
                ListedNames::get(&names.category_keys, l.category).map(str::to_string),
            )
        };
        let some = |s: &str| Some(s.to_string());
        let expected = vec![
            (7, 500, some("exito"), some("sony"), some("tv")),
            (8, 90, some("exito"), None, None),
        ];
        assert_eq!(m.recent[0].offers.iter().map(named).collect::<Vec<_>>(), expected);
        assert_eq!(m.store_recent[0].offers.iter().map(named).collect::<Vec<_>>(), expected);
    }

    #[test]
    fn recent_keeps_each_currencys_newest_offers_in_date_order() {
        let mut f = MarketFold::default();
        let row = |offer: i64, currency: &'static str, last_seen: i64| {
            seen(offer, "x", currency, last_seen)
        };
        // More COP offers than are kept (two currencies: each list `RECENT_MAX`), in scrambled
        // order: ids 1..=N+5 seen at id % 7, so the newest are the six-remainders, ties by the
        // smaller id.
        let n = RECENT_MAX as i64 + 5;
        for id in (1..=n).rev() {
            f.push(row(id, "COP", id % 7));
        }
        f.push(row(n + 1, "ARS", 5));
        f.push(row(n + 2, "ARS", 9));
        let m = f.finish();
        assert_eq!(m.recent[0].currency, "ARS", "by currency code");
        assert_eq!(pairs(&m.recent[0].offers), vec![(n + 2, 9), (n + 1, 5)]);
        let cop = &m.recent[1];
        assert_eq!(cop.offers.len(), RECENT_MAX);
        let mut every: Vec<(i64, i64)> = (1..=n).map(|id| (id, id % 7)).collect();
        every.sort_by_key(|&(id, seen)| (Reverse(seen), id));
        assert_eq!(pairs(&cop.offers), every[..RECENT_MAX]);
    }

    #[test]
    fn store_recent_keeps_each_stores_newest_offers_per_currency() {
        let mut f = MarketFold::default();
        // Store "a" has more COP offers than are kept per store, seen at id % 5 (ties by id);
        // store "b" three, newer than all of a's; and one ARS offer of "a".
        let n = STORE_RECENT_KEPT as i64 + 3;
        for id in (1..=n).rev() {
            f.push(seen(id, "a", "COP", id % 5));
        }
        for id in n + 1..=n + 3 {
            f.push(seen(id, "b", "COP", 100));
        }
        f.push(seen(n + 4, "a", "ARS", 1));
        let m = f.finish();
        let list = |currency: &str, store: &str| -> Vec<(u64, i64, i64)> {
            let l = m.store_recent.iter().find(|r| r.currency == currency && r.store == store);
            let offers = l.map_or(&[][..], |l| &l.offers[..]);
            offers.iter().enumerate().map(|(rank, l)| (rank as u64, l.last_seen, l.offer)).collect()
        };
        let mut every: Vec<(i64, i64)> = (1..=n).map(|id| (id % 5, id)).collect();
        every.sort_by_key(|&(seen, id)| (Reverse(seen), id));
        let expected: Vec<(u64, i64, i64)> = every[..STORE_RECENT_KEPT]
            .iter()
            .enumerate()
            .map(|(rank, &(seen, id))| (rank as u64, seen, id))
            .collect();
        assert_eq!(list("COP", "a"), expected, "a's newest, whatever b's");
        assert_eq!(list("COP", "b"), vec![(0, 100, n + 1), (1, 100, n + 2), (2, 100, n + 3)]);
        assert_eq!(list("ARS", "a"), vec![(0, 1, n + 4)]);
        assert_eq!(
            (m.store_recent[0].currency.as_str(), m.store_recent[0].store.as_str()),
            ("ARS", "a"),
            "by currency, then store"
        );
    }

    #[test]
    fn many_stores_share_the_lists_budget_and_keep_their_newest() {
        let names: Vec<String> = (0..400).map(|s| format!("s{s}")).collect();
        let mut f = MarketFold::default();
        // 400 stores × 600 offers, interleaved; each store's offer i seen at (i * 7) % 600.
        for i in 0..600_i64 {
            for (s, store) in names.iter().enumerate() {
                f.push(seen(s as i64 * 1_000 + i, store, "COP", (i * 7) % 600));
            }
            let held = f.store_recent.held();
            assert!(held <= 2 * STORE_RECENT_ROWS, "at most twice the budget in memory");
        }
        let m = f.finish();
        let cap = STORE_RECENT_ROWS / 400;
        assert_eq!(m.store_recent.len(), 400);
        for list in &m.store_recent {
            let s = &list.store;
            let base = s[1..].parse::<i64>().unwrap() * 1_000;
            let mut every: Vec<(i64, i64)> = (0..600).map(|i| (base + i, (i * 7) % 600)).collect();
            every.sort_by_key(|&(id, seen)| (Reverse(seen), id));
            assert_eq!(pairs(&list.offers), every[..cap], "{s}: its newest {cap}");
        }
    }

    #[test]
    fn many_currencies_share_the_recent_budget_and_keep_at_least_a_listings_depth() {
        // Ten currencies × 60,000 offers: the budget gives each 24,000; then 60 more
        // currencies lower the share below the floor, which every list still keeps.
        let codes: Vec<String> = (0..70).map(|c| format!("C{c:02}")).collect();
        let mut f = MarketFold::default();
        for i in 0..60_000_i64 {
            for (c, code) in codes[..10].iter().enumerate() {
                f.push(seen(c as i64 * 100_000 + i, "x", code, i));
            }
        }
        assert_eq!(f.recent.held(), 10 * (RECENT_ROWS / 10));
        for (c, code) in codes[10..].iter().enumerate() {
            f.push(seen(10_000_000 + c as i64, "x", code, 1));
        }
        let m = f.finish();
        assert_eq!(m.recent.len(), 70);
        let first = &m.recent[0];
        assert_eq!(first.currency, "C00");
        assert_eq!(first.offers.len(), RECENT_KEPT, "the floor, whatever the share");
        let newest: Vec<(i64, i64)> =
            (0..RECENT_KEPT as i64).map(|k| (59_999 - k, 59_999 - k)).collect();
        assert_eq!(pairs(&first.offers), newest);
    }

    #[test]
    fn a_date_page_walks_the_kept_offers_when_that_reads_fewer_and_completes() {
        let kept = RECENT_KEPT as u64;
        // A quarter of 1M matching: the 20th expected ~80 kept offers in.
        assert!(recent_walk_suits(20, 250_000, 1_000_000, kept));
        assert!(recent_walk_suits(20, u64::MAX, 1_000_000, kept), "a count that stopped");
        // 1 in 1,000: ~20,000 in, past the kept offers.
        assert!(!recent_walk_suits(20, 1_000, 1_000_000, kept));
        // A shorter list (2,000, say a store's): the same share runs out sooner.
        assert!(recent_walk_suits(20, 5_000, 50_000, 2_000));
        assert!(!recent_walk_suits(20, 400, 50_000, 2_000));
        // 100 of 1,000: the walk reads ~200 rows of the list, cheaper than sorting 100 matches;
        // 10 of 1,000: ~1,000 rows of the list cost more than sorting 10.
        assert!(recent_walk_suits(20, 100, 1_000, kept));
        assert!(!recent_walk_suits(20, 10, 1_000, kept));
        assert!(recent_walk_suits(20, kept, kept, kept));
        // Fewer matches than the page: the walk reads the list to its end at most.
        assert!(recent_walk_suits(20, 5, 5, 2_000));
        assert!(!recent_walk_suits(20, 5, 50_000, 2_000));
        let page = |page: u32| PageRequest { page, limit: 20 };
        let counted = |total: u64, exact: bool| MatchCount { total, exact };
        assert!(recent_walk_complete(20, page(3), counted(10_000, false)), "a full page");
        assert!(recent_walk_complete(5, page(3), counted(45, true)), "the matches' end");
        assert!(!recent_walk_complete(5, page(3), counted(46, true)), "more past the kept");
        assert!(!recent_walk_complete(5, page(3), counted(10_000, false)));
        assert!(!recent_walk_complete(0, page(1), counted(45, true)), "a stale summary");
    }

    #[test]
    fn the_price_index_is_the_median_ratio_to_two_decimals() {
        // x against y on three products: ratios to the two-store median 0.9, 0.8 and 1.25
        // (x at 90 of 100, 80 of 100, 125 of 100): x's median ratio 0.9 -> 90.00.
        let m = fold(&[
            ("x", 1, "a", 90, 0),
            ("y", 1, "a", 110, 0),
            ("x", 2, "a", 80, 0),
            ("y", 2, "a", 120, 0),
            ("x", 3, "a", 125, 0),
            ("y", 3, "a", 75, 0),
        ]);
        let x = &m.markets[0];
        assert_eq!(
            (x.store.as_str(), x.price_index, x.compared, x.cheapest),
            ("x", Some(90.0), 3, 2)
        );
        let y = &m.markets[1];
        assert_eq!((y.price_index, y.cheapest), (Some(110.0), 1));
        // Ratios round to 1/10,000 like the index to two decimals: 1/3 of the median -> 33.33.
        let third = fold(&[("x", 1, "a", 100, 0), ("y", 1, "a", 500, 0)]);
        assert_eq!(third.markets[0].price_index, Some(33.33));
    }
}
