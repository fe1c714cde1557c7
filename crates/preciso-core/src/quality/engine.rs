//! The analysis itself: current offers and their price histories stream in (each once, in any
//! order), every enabled check accumulates what it needs in bounded form (counts, hashed keys,
//! per-category price vectors, at most `MAX_EXAMPLES` examples), and `finish` turns that into
//! one `CheckResult` per check. Nothing here reads a database: the store adapters feed it.

use super::config::CheckConfig;
use super::{CheckId, CheckResult, Example, Outcome, Phase, Samples, Severity, Value};
use crate::analysis::jump::jump;
use crate::analysis::omnibus::{self, Observation, Verdict};
use crate::analysis::robust;
use crate::domain::{Currency, Gtin, OfferId, ProductId, StoreId, fold_for_matching};
use crate::hash::canonical_url;
use rustc_hash::{FxHashMap, FxHasher};
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

/// One current offer as the checks see it.
#[derive(Debug, Clone)]
pub struct OfferFacts<'a> {
    pub id: OfferId,
    pub store: &'a StoreId,
    pub sku: Option<&'a str>,
    pub product: ProductId,
    pub title: &'a str,
    pub brand: Option<&'a str>,
    pub category_key: Option<&'a str>,
    pub gtin: Option<&'a str>,
    pub url: Option<&'a str>,
    pub image_url: Option<&'a str>,
    pub currency: Currency,
    pub price: i64,
    pub list: Option<i64>,
    /// Hundredths of a star.
    pub rating_centi: Option<i64>,
    pub review_count: Option<i64>,
    /// Unix seconds of the latest observation.
    pub last_seen: i64,
}

fn key(parts: impl Hash) -> u64 {
    let mut h = FxHasher::default();
    parts.hash(&mut h);
    h.finish()
}

/// What one check has seen so far.
#[derive(Debug, Default)]
struct Tally {
    elements: u64,
    unexpected: u64,
    samples: Samples,
    observed: Option<f64>,
    reason: Option<String>,
}

impl Tally {
    fn see(&mut self, bad: bool) {
        self.elements += 1;
        self.unexpected += u64::from(bad);
    }

    fn observe_max(&mut self, v: f64) {
        self.observed = Some(self.observed.map_or(v, |o| o.max(v)));
    }
}

/// An offer's identity for examples, kept compactly for the checks that find their
/// offenders only at the end.
#[derive(Debug, Clone)]
struct Who {
    id: OfferId,
    store: u32,
    /// Its current price (examples show it exactly, not rebuilt from a logarithm).
    price: i64,
    /// Its SKU in `Analysis::skus` (start, length; `NO_SKU` length without one): one arena
    /// instead of an allocation per offer.
    sku_at: u32,
    sku_len: u32,
    /// Its currency (an index into `currencies`): fits in the struct's padding.
    currency: u8,
}

const NO_SKU: u32 = u32::MAX;

/// The offer a finding is about.
#[derive(Debug, Clone, Copy)]
struct Target<'a> {
    id: OfferId,
    store: u32,
    sku: Option<&'a str>,
}

fn count_store(
    per_store: &mut FxHashMap<(CheckId, u32), [u64; 2]>,
    id: CheckId,
    store: u32,
    bad: bool,
) {
    let c = per_store.entry((id, store)).or_default();
    c[0] += 1;
    c[1] += u64::from(bad);
}

fn remembered<'a>(who: &[Who], skus: &'a str, i: u32) -> Target<'a> {
    let w = &who[i as usize];
    let sku = (w.sku_len != NO_SKU)
        .then(|| skus.get(w.sku_at as usize..(w.sku_at + w.sku_len) as usize))
        .flatten();
    Target { id: w.id, store: w.store, sku }
}

/// Keeps a finding of `id` as an example if it is among the smallest offer ids so far; the
/// example (and its `values`) is built only then.
fn keep(
    tallies: &mut BTreeMap<CheckId, Tally>,
    stores: &[StoreId],
    id: CheckId,
    target: Target<'_>,
    values: impl FnOnce() -> Vec<(&'static str, Value)>,
) {
    let Some(t) = tallies.get_mut(&id) else { return };
    let offer_id = target.id.to_string();
    t.samples.offer(&offer_id, || Example {
        store: stores[target.store as usize].to_string(),
        sku: target.sku.map(String::from),
        offer_id: offer_id.clone(),
        values: values().into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
    });
}

/// The accumulated state of an analysis.
pub struct Analysis {
    configs: BTreeMap<CheckId, CheckConfig>,
    as_of: i64,
    tallies: BTreeMap<CheckId, Tally>,
    stores: Vec<StoreId>,
    store_index: FxHashMap<StoreId, u32>,
    /// (kind, store, GTIN or canonical URL), hashed to 64 bits → the SKUs listed under it:
    /// 12-byte entries for the catalog's ~1.5 keys per offer (a collision of two keys is
    /// vanishingly rare at catalog sizes).
    shared_keys: FxHashMap<u64, Shared>,
    /// GTIN → the normalized brands listed under it.
    gtin_brands: FxHashMap<u64, Shared>,
    /// (product, currency), hashed → lowest and highest current price, with their offers,
    /// and whether a second store lists it.
    spread: FxHashMap<u64, Spread>,
    /// The products of `spread` with one offer so far: that offer and its category (16 bytes
    /// instead of a 48-byte `Spread`); a second offer promotes it. With one product per offer
    /// this holds every product, and `spread` almost none.
    spread_singles: FxHashMap<u64, (u32, u32)>,
    /// (category, currency) → ln(price) of each offer, with the offer's index in `who`.
    /// Keyed by the category at each level of the offer's path (an index into
    /// `category_keys`) and currency: an offer is scored within each.
    by_category: FxHashMap<(u32, Currency), Vec<(f64, u32)>>,
    /// P.repeating, per (store, currency, price) hashed: most prices are one offer's, so a
    /// group starts as 12 bytes (`Single`) and is promoted to a `Repeat` only when a second
    /// category appears or it reaches `min_offers`: only promoted groups can be flagged.
    singles: FxHashMap<u64, Single>,
    repeating: FxHashMap<u64, Repeat>,
    /// Currencies seen, by a small index (in P.repeating's keys and M.coverage).
    currencies: Vec<Currency>,
    /// Category keys seen, by index (M.coverage), and the stores listing each in each
    /// currency.
    category_keys: Vec<String>,
    category_index: FxHashMap<String, u32>,
    category_stores: FxHashMap<(u32, u8), Vec<u32>>,
    /// Levels of a category path above an analysis scoped to a category (`tecnologia` when
    /// the scope is `tecnologia/celulares`) hold only the scope's offers: they are skipped.
    category_floor: usize,
    who: Vec<Who>,
    /// The SKUs of `who`, end to end.
    skus: String,
    /// Per store: its newest observation.
    newest: FxHashMap<u32, i64>,
    /// (check, store) → elements and unexpected elements of that store, for its score.
    per_store: FxHashMap<(CheckId, u32), [u64; 2]>,
    /// Per store: its current offers.
    store_offers: FxHashMap<u32, u64>,
    /// Per store: its offers seen within the `M.freshness` window before the analysis time
    /// (what its scraper delivers now; stored offers are never deleted, so their count
    /// alone cannot fall when a scraper breaks).
    live_offers: FxHashMap<u32, u64>,
    /// Per store: its live offers in earlier whole-store analyses, newest first
    /// (`volume_history`); `None` when the caller has none to give.
    volumes: Option<FxHashMap<u32, Vec<u64>>>,
    /// The `M.freshness` window in seconds (48 h unless set): an offer seen within it is
    /// live. Resolved once: `offer` reads it for every offer.
    live_window: i64,
    /// Why M.volume_anomaly and M.reject_rate cannot judge this analysis at all (a
    /// narrowed scope).
    volume_reason: Option<&'static str>,
    /// Per store: records accepted and rejected by the ingest runs of the window before the
    /// analysis time (`store_records`); `None` when the caller has none to give.
    records: Option<FxHashMap<u32, [u64; 2]>>,
    /// Per store: its reject rate (M.reject_rate).
    reject_rate: FxHashMap<u32, f64>,
    /// Per store: its live offers' change from the median of its history (M.volume_anomaly).
    volume_change: FxHashMap<u32, f64>,
    /// Offers with observations from a deliberate backfill (C.history_order's info).
    backfilled: u64,
    /// Optional fields present, of `offers`.
    present: BTreeMap<&'static str, u64>,
    offers: u64,
}

/// Who is listed under one key: a value (SKU or brand, hashed), whether another value was
/// seen, what the key is (0 GTIN, 1 URL), and the key's offer with the smallest id (its
/// example, whatever the row order).
#[derive(Debug, Clone, Copy)]
struct Shared {
    value: u32,
    several: bool,
    kind: u8,
    who: u32,
}

/// Adds offer `who` with `value` under `k` of `map`.
fn share<K: Hash + Eq>(
    map: &mut FxHashMap<K, Shared>,
    k: K,
    kind: u8,
    value: u64,
    who: u32,
    ids: &[Who],
) {
    let value = value as u32;
    match map.get_mut(&k) {
        None => {
            map.insert(k, Shared { value, several: false, kind, who });
        }
        Some(s) => {
            s.several |= s.value != value;
            if ids[who as usize].id < ids[s.who as usize].id {
                s.who = who;
            }
        }
    }
}

#[derive(Debug, Clone)]
struct Spread {
    min: (i64, u32),
    max: (i64, u32),
    first_store: u32,
    stores: bool,
    /// The product's category (an index into `category_keys`; `NO_CATEGORY` without one) and
    /// currency (an index into `currencies`), for M.coverage.
    category: u32,
    /// The offer whose category it is.
    category_who: u32,
    currency: u8,
}

const NO_CATEGORY: u32 = u32::MAX;

/// A P.repeating group with one category so far (hashed to 32 bits, as in `Repeat`).
#[derive(Debug, Clone, Copy)]
struct Single {
    offers: u32,
    category: Option<u32>,
    first: u32,
}

/// A promoted P.repeating group: its store and price, offers, smallest-id offer and its first
/// `MAX_CATEGORIES` distinct categories (hashed to 32 bits: a rare collision only
/// undercounts), inline.
#[derive(Debug, Clone)]
struct Repeat {
    store: u32,
    price: i64,
    offers: u32,
    first: u32,
    seen: u8,
    categories: [u32; MAX_CATEGORIES],
}

impl Repeat {
    fn add_category(&mut self, c: u32, limit: usize) {
        let seen = usize::from(self.seen);
        if seen < limit && !self.categories[..seen].contains(&c) {
            self.categories[seen] = c;
            self.seen += 1;
        }
    }
}

/// The most categories P.repeating needs to tell apart (`min_categories` is at most this).
pub const MAX_CATEGORIES: usize = crate::quality::config::MAX_MIN_CATEGORIES as usize;

const OPTIONAL_FIELDS: [&str; 8] =
    ["brand", "category", "gtin", "url", "image_url", "list_price", "rating", "review_count"];

impl Analysis {
    /// An analysis at `as_of` (Unix seconds) with these checks (those disabled are skipped).
    pub fn new(configs: &[CheckConfig], as_of: i64) -> Self {
        let configs: BTreeMap<CheckId, CheckConfig> =
            configs.iter().filter(|c| c.enabled).map(|c| (c.id, c.clone())).collect();
        let tallies = configs.keys().map(|id| (*id, Tally::default())).collect();
        let live_hours = configs
            .get(&CheckId::MFreshness)
            .and_then(|c| c.threshold)
            .or(CheckId::MFreshness.default_threshold())
            .unwrap_or(48.0);
        Analysis {
            configs,
            as_of,
            tallies,
            stores: Vec::new(),
            store_index: FxHashMap::default(),
            shared_keys: FxHashMap::default(),
            gtin_brands: FxHashMap::default(),
            spread: FxHashMap::default(),
            spread_singles: FxHashMap::default(),
            by_category: FxHashMap::default(),
            singles: FxHashMap::default(),
            repeating: FxHashMap::default(),
            currencies: Vec::new(),
            category_keys: Vec::new(),
            category_index: FxHashMap::default(),
            category_stores: FxHashMap::default(),
            category_floor: 1,
            who: Vec::new(),
            skus: String::new(),
            newest: FxHashMap::default(),
            per_store: FxHashMap::default(),
            store_offers: FxHashMap::default(),
            live_offers: FxHashMap::default(),
            volumes: None,
            live_window: (live_hours * 3600.0) as i64,
            volume_reason: None,
            records: None,
            reject_rate: FxHashMap::default(),
            volume_change: FxHashMap::default(),
            backfilled: 0,
            present: OPTIONAL_FIELDS.iter().map(|f| (*f, 0)).collect(),
            offers: 0,
        }
    }

    /// Scores and reports categories only at and below `key`'s level (an analysis scoped to
    /// that category).
    pub fn scope_category(&mut self, key: &str) {
        self.category_floor = key.split('/').count().max(1);
    }

    fn on(&self, id: CheckId) -> bool {
        self.configs.contains_key(&id)
    }

    fn threshold(&self, id: CheckId) -> f64 {
        self.configs.get(&id).and_then(|c| c.threshold).unwrap_or(0.0)
    }

    fn currency_index(&mut self, currency: Currency) -> u8 {
        match self.currencies.iter().position(|c| *c == currency) {
            Some(i) => i as u8,
            None => {
                self.currencies.push(currency);
                (self.currencies.len() - 1) as u8
            }
        }
    }

    fn category_index(&mut self, key: &str) -> u32 {
        if let Some(i) = self.category_index.get(key) {
            return *i;
        }
        let i = self.category_keys.len() as u32;
        self.category_keys.push(key.to_string());
        self.category_index.insert(key.to_string(), i);
        i
    }

    fn store_of(&mut self, store: &StoreId) -> u32 {
        if let Some(i) = self.store_index.get(store) {
            return *i;
        }
        let i = self.stores.len() as u32;
        self.stores.push(store.clone());
        self.store_index.insert(store.clone(), i);
        i
    }

    /// Keeps an offer's identity for the checks that find offenders only at the end.
    fn remember(&mut self, o: &OfferFacts<'_>, store: u32) -> u32 {
        let (sku_at, sku_len) = match o.sku {
            Some(sku) if self.skus.len() + sku.len() < NO_SKU as usize => {
                self.skus.push_str(sku);
                ((self.skus.len() - sku.len()) as u32, sku.len() as u32)
            }
            _ => (0, NO_SKU),
        };
        let currency = self.currency_index(o.currency);
        self.who.push(Who { id: o.id, store, price: o.price, sku_at, sku_len, currency });
        (self.who.len() - 1) as u32
    }

    /// The stores this analysis has seen, by slug.
    pub fn stores(&self) -> &[StoreId] {
        &self.stores
    }

    /// Each store's live offers in earlier whole-store analyses, newest first: what
    /// M.volume_anomaly compares with. A store listed here with no offer in this analysis
    /// counts as 0 live offers (a scraper that stopped altogether).
    pub fn volume_history(&mut self, history: Vec<(StoreId, Vec<u64>)>) {
        let mut map = FxHashMap::default();
        for (store, counts) in history {
            let i = self.store_of(&store);
            map.insert(i, counts);
        }
        self.volumes = Some(map);
    }

    /// This analysis is narrowed (a category, a time window): its volumes compare with no
    /// history and ingest rejects cannot be told apart by category, so M.volume_anomaly and
    /// M.reject_rate are `not_evaluated` with `reason`.
    pub fn not_comparable(&mut self, reason: &'static str) {
        self.volume_reason = Some(reason);
    }

    /// Each store's records accepted and rejected at ingest over the window before the
    /// analysis time (`REJECT_WINDOW_SECS`): what M.reject_rate judges.
    pub fn store_records(&mut self, records: Vec<crate::ports::StoreRecords>) {
        let mut map = FxHashMap::default();
        for r in records {
            let i = self.store_of(&r.store);
            let e: &mut [u64; 2] = map.entry(i).or_default();
            e[0] += r.accepted;
            e[1] += r.rejected;
        }
        self.records = Some(map);
    }

    /// One current offer.
    pub fn offer(&mut self, o: &OfferFacts<'_>) {
        let store = self.store_of(o.store);
        let who = self.remember(o, store);
        let target = Target { id: o.id, store, sku: o.sku };
        self.offers += 1;
        *self.store_offers.entry(store).or_default() += 1;
        if self.as_of.saturating_sub(o.last_seen) <= self.live_window {
            *self.live_offers.entry(store).or_default() += 1;
        }
        let newest = self.newest.entry(store).or_insert(o.last_seen);
        *newest = (*newest).max(o.last_seen);
        for (field, present) in [
            ("brand", o.brand.is_some()),
            ("category", o.category_key.is_some()),
            ("gtin", o.gtin.is_some()),
            ("url", o.url.is_some()),
            ("image_url", o.image_url.is_some()),
            ("list_price", o.list.is_some()),
            ("rating", o.rating_centi.is_some()),
            ("review_count", o.review_count.is_some()),
        ] {
            *self.present.entry(field).or_default() += u64::from(present);
        }
        self.validation(o, target);
        self.consistency(o, store, who);
        self.patterns(o, store, who, target);
    }

    /// One element of check `id`; a finding when `bad`.
    fn check(
        &mut self,
        id: CheckId,
        bad: bool,
        target: Target<'_>,
        values: impl FnOnce() -> Vec<(&'static str, Value)>,
    ) {
        let Some(t) = self.tallies.get_mut(&id) else { return };
        t.see(bad);
        count_store(&mut self.per_store, id, target.store, bad);
        if bad {
            keep(&mut self.tallies, &self.stores, id, target, values);
        }
    }

    /// An element of an end-of-run check, for offer `who`.
    fn check_at_end(
        &mut self,
        id: CheckId,
        bad: bool,
        who: u32,
        values: impl FnOnce() -> Vec<(&'static str, Value)>,
    ) {
        let Some(t) = self.tallies.get_mut(&id) else { return };
        t.see(bad);
        let target = remembered(&self.who, &self.skus, who);
        count_store(&mut self.per_store, id, target.store, bad);
        if bad {
            keep(&mut self.tallies, &self.stores, id, target, values);
        }
    }

    fn validation(&mut self, o: &OfferFacts<'_>, who: Target<'_>) {
        let missing = o.title.trim().is_empty() || o.price <= 0 || o.store.as_str().is_empty();
        self.check(CheckId::VRequired, missing, who, || {
            vec![("title", Value::Text(o.title.to_string())), ("price", Value::Int(o.price))]
        });
        if let Some(gtin) = o.gtin {
            let bad = Gtin::parse(gtin).is_err();
            self.check(CheckId::VGtinChecksum, bad, who, || {
                vec![("gtin", Value::Text(gtin.into()))]
            });
        }
        if let Some(r) = o.rating_centi {
            let bad = !(0..=500).contains(&r);
            self.check(CheckId::VRatingRange, bad, who, || {
                vec![("rating", Value::Num(r as f64 / 100.0))]
            });
        }
        if let Some(url) = o.url {
            self.check(CheckId::VUrl, !plausible_url(url), who, || {
                vec![("url", Value::Text(url.into()))]
            });
        }
        if let Some(list) = o.list {
            self.check(CheckId::VListBelowPrice, list < o.price, who, || {
                vec![("price", Value::Int(o.price)), ("list_price", Value::Int(list))]
            });
        }
    }

    fn consistency(&mut self, o: &OfferFacts<'_>, store: u32, who: u32) {
        if self.on(CheckId::CDuplicate) {
            let sku = key(o.sku.unwrap_or(""));
            for (kind, value) in [(0u8, o.gtin.map(key)), (1, o.url.map(|u| key(canonical_url(u))))]
            {
                let Some(v) = value else { continue };
                share(&mut self.shared_keys, key((kind, store, v)), kind, sku, who, &self.who);
            }
        }
        // An offer without a brand says nothing about the GTIN's brand; case, accents and
        // spaces do not make two brands.
        let brand = o.brand.map(|b| {
            fold_for_matching(b).chars().filter(|c| !c.is_whitespace()).collect::<String>()
        });
        if let (Some(gtin), Some(brand), true) =
            (o.gtin, brand.filter(|b| !b.is_empty()), self.on(CheckId::CGtinConflict))
        {
            share(&mut self.gtin_brands, key(gtin), 0, key(brand), who, &self.who);
        }
        // A price of 0 or less is V.required's finding, not a spread.
        if (self.on(CheckId::CPriceSpread) || self.on(CheckId::MCoverage)) && o.price > 0 {
            // Indexed once, by `remember`.
            let currency = self.who[who as usize].currency;
            let category = match o.category_key {
                Some(k) if self.on(CheckId::MCoverage) => {
                    let c = self.category_index(k);
                    let stores = self.category_stores.entry((c, currency)).or_default();
                    if !stores.contains(&store) {
                        stores.push(store);
                    }
                    c
                }
                _ => NO_CATEGORY,
            };
            // Keyed by a hash of (product, currency): 8 bytes instead of 24 per product.
            let k = key((o.product, o.currency.code()));
            if !self.spread.contains_key(&k) {
                let Some((first, first_category)) = self.spread_singles.remove(&k) else {
                    self.spread_singles.insert(k, (who, category));
                    return;
                };
                // What the first offer alone made of the product; this one is added below.
                let w = &self.who[first as usize];
                self.spread.insert(
                    k,
                    Spread {
                        min: (w.price, first),
                        max: (w.price, first),
                        first_store: w.store,
                        stores: false,
                        category: first_category,
                        category_who: first,
                        currency,
                    },
                );
            }
            let Some(s) = self.spread.get_mut(&k) else { return };
            s.stores |= s.first_store != store;
            // Ties go to the smaller offer id: the same example whatever the row order.
            let id = |w: u32, who: &[Who]| who[w as usize].id;
            // The product's category is that of its smallest-id offer that has one.
            if category != NO_CATEGORY
                && (s.category == NO_CATEGORY || o.id < id(s.category_who, &self.who))
            {
                (s.category, s.category_who) = (category, who);
            }
            if (o.price, o.id) < (s.min.0, id(s.min.1, &self.who)) {
                s.min = (o.price, who);
            }
            if (o.price, std::cmp::Reverse(o.id))
                > (s.max.0, std::cmp::Reverse(id(s.max.1, &self.who)))
            {
                s.max = (o.price, who);
            }
        }
    }

    fn patterns(&mut self, o: &OfferFacts<'_>, store: u32, who: u32, target: Target<'_>) {
        if let (Some(cat), true, true) = (o.category_key, self.on(CheckId::POutlier), o.price > 0) {
            let ln = (o.price as f64).ln();
            // Every level of the path: `tecnologia`, then `tecnologia/celulares`.
            let ends = cat.match_indices('/').map(|(i, _)| i).chain([cat.len()]);
            for end in ends.skip(self.category_floor - 1) {
                let level = self.category_index(&cat[..end]);
                self.by_category.entry((level, o.currency)).or_default().push((ln, who));
            }
        }
        let stale_days = self.threshold(CheckId::PStale);
        if self.on(CheckId::PStale) {
            let age_days = self.as_of.saturating_sub(o.last_seen) as f64 / 86_400.0;
            let (as_of, seen) = (self.as_of, o.last_seen);
            self.check(CheckId::PStale, age_days > stale_days, target, || {
                vec![
                    ("last_seen", Value::Int(seen)),
                    (
                        "days_unseen",
                        Value::Num(
                            (as_of.saturating_sub(seen) as f64 / 86_400.0 * 10.0).round() / 10.0,
                        ),
                    ),
                ]
            });
            if let Some(t) = self.tallies.get_mut(&CheckId::PStale) {
                t.observe_max(age_days.max(0.0));
            }
        }
        if self.on(CheckId::PRepeating) {
            let min_categories = self.configs[&CheckId::PRepeating].min_categories as usize;
            let currency = self.who[who as usize].currency;
            if let Some(t) = self.tallies.get_mut(&CheckId::PRepeating) {
                t.elements += 1;
            }
            self.per_store.entry((CheckId::PRepeating, store)).or_default()[0] += 1;
            let k = key((store, currency, o.price));
            let category = o.category_key.map(|c| key(c) as u32);
            let min_offers = self.configs[&CheckId::PRepeating].min_offers;
            let smaller = |who_id: u32, ids: &[Who]| o.id < ids[who_id as usize].id;
            if let Some(r) = self.repeating.get_mut(&k) {
                r.offers = r.offers.saturating_add(1);
                if smaller(r.first, &self.who) {
                    r.first = who;
                }
                if let Some(c) = category {
                    r.add_category(c, min_categories);
                }
                return;
            }
            let Some(single) = self.singles.get_mut(&k) else {
                self.singles.insert(k, Single { offers: 1, category, first: who });
                return;
            };
            single.offers = single.offers.saturating_add(1);
            if smaller(single.first, &self.who) {
                single.first = who;
            }
            single.category = single.category.or(category);
            let new_category = category.is_some_and(|c| Some(c) != single.category);
            if new_category || u64::from(single.offers) >= min_offers {
                let single = *single;
                self.singles.remove(&k);
                let mut r = Repeat {
                    store,
                    price: o.price,
                    offers: single.offers,
                    first: single.first,
                    seen: 0,
                    categories: [0; MAX_CATEGORIES],
                };
                for c in single.category.into_iter().chain(category) {
                    r.add_category(c, min_categories);
                }
                self.repeating.insert(k, r);
            }
        }
    }

    /// The price history of one offer, oldest first (`offer` need not have been seen).
    pub fn history(&mut self, o: &OfferFacts<'_>, history: &[Observation]) {
        let store = self.store_of(o.store);
        let who = Target { id: o.id, store, sku: o.sku };
        if !history.is_empty() && self.on(CheckId::CHistoryOrder) {
            // One element per offer with history: did any of its observations arrive after a
            // later one had been stored? A deliberate backfill's are counted apart (info).
            let late = history.iter().filter(|h| h.arrival == 1).count() as i64;
            self.backfilled += u64::from(history.iter().any(|h| h.arrival == 2));
            self.check(CheckId::CHistoryOrder, late > 0, who, || {
                let first = history.iter().find(|h| h.arrival == 1).map_or(0, |h| h.at);
                let newest = history.last().map_or(0, |h| h.at);
                vec![
                    ("late_observations", Value::Int(late)),
                    ("first_late_observed_at", Value::Int(first)),
                    ("newest_observed_at", Value::Int(newest)),
                ]
            });
        }
        if let Some(min_ratio) = self.configs.get(&CheckId::PJump).and_then(|c| c.threshold) {
            for pair in history.windows(2) {
                let found = jump(pair[0].price, pair[1].price, min_ratio);
                self.check(CheckId::PJump, found.is_some(), who, || {
                    let (ratio, cause) =
                        found.unwrap_or((0.0, crate::analysis::jump::JumpCause::Unknown));
                    vec![
                        ("from", Value::Int(pair[0].price)),
                        ("to", Value::Int(pair[1].price)),
                        ("observed_at", Value::Int(pair[1].at)),
                        ("ratio", Value::Num((ratio * 100.0).round() / 100.0)),
                        ("cause", Value::Text(format!("{cause:?}").to_lowercase())),
                    ]
                });
            }
        }
        if self.on(CheckId::PFakeDiscount) {
            match omnibus::judge(history, omnibus::WINDOW_SECS) {
                Verdict::NoClaim => {}
                Verdict::NotEvaluated => {
                    if let Some(t) = self.tallies.get_mut(&CheckId::PFakeDiscount) {
                        t.reason.get_or_insert_with(|| "short_history".into());
                    }
                }
                Verdict::Honest { .. } => self.check(CheckId::PFakeDiscount, false, who, Vec::new),
                Verdict::Fake { claimed, lowest, since } => {
                    let price = history.last().map_or(0, |h| h.price);
                    self.check(CheckId::PFakeDiscount, true, who, || {
                        vec![
                            ("price", Value::Int(price)),
                            ("claimed_list_price", Value::Int(claimed)),
                            ("lowest_30_days", Value::Int(lowest)),
                            ("price_since", Value::Int(since)),
                        ]
                    })
                }
            }
        }
    }

    /// The report: one result per enabled check, in `CheckId::ALL` order, and the scores.
    pub fn finish(self) -> Report {
        self.finish_phases(&mut |_| {})
    }

    /// `finish`, calling `phase` as each of the phases judged at the end begins
    /// (consistency, patterns, metrics), for progress reports.
    pub fn finish_phases(mut self, phase: &mut dyn FnMut(Phase)) -> Report {
        phase(Phase::Consistency);
        self.finish_shared();
        // Coverage reads the per-product state C.price_spread consumes: first.
        let coverage = self.finish_coverage();
        self.finish_spread();
        phase(Phase::Patterns);
        self.finish_outliers();
        self.finish_repeating();
        phase(Phase::Metrics);
        self.finish_metrics();
        let stores = self.scores();
        let offers: u64 = stores.iter().map(|s| s.offers).sum();
        let overall = if offers == 0 {
            None
        } else {
            let weighted: f64 = stores.iter().map(|s| s.score * s.offers as f64).sum();
            Some(round1(weighted / offers as f64))
        };
        let mut checks = Vec::new();
        for (id, config) in std::mem::take(&mut self.configs) {
            let t = self.tallies.remove(&id).unwrap_or_default();
            checks.push(result(&config, t));
        }
        Report { as_of: self.as_of, overall_score: overall, stores, coverage, checks }
    }

    /// Each store's score (docs/QUALITY.md): 100 minus, for every check with elements of the
    /// store, 40 × its failing share for a critical check and 10 × for a warning one, minus
    /// 20 × its reject rate at ingest, minus up to 20 for freshness past the `M.freshness`
    /// threshold; clamped to 0–100.
    fn scores(&self) -> Vec<StoreScore> {
        let mut out: Vec<StoreScore> = self
            .store_offers
            .iter()
            .map(|(&store, &offers)| {
                let mut penalty = 0.0;
                // Summed in check order: the same float whatever the map's order.
                for (id, config) in &self.configs {
                    let Some([elements, bad]) = self.per_store.get(&(*id, store)) else { continue };
                    if *elements == 0 {
                        continue;
                    }
                    let weight = match config.severity {
                        Severity::Critical => 40.0,
                        Severity::Warning => 10.0,
                        Severity::Info => 0.0,
                    };
                    penalty += weight * *bad as f64 / *elements as f64;
                }
                // Records rejected at ingest: up to 20 points, in proportion (5 % costs 1).
                if let Some(rate) = self.reject_rate.get(&store) {
                    penalty += 20.0 * rate.min(1.0);
                }
                if let (Some(hours), Some(newest)) = (
                    self.configs.get(&CheckId::MFreshness).and_then(|c| c.threshold),
                    self.newest.get(&store),
                ) {
                    let age = self.as_of.saturating_sub(*newest) as f64 / 3600.0;
                    if age > hours {
                        penalty += 20.0 * ((age - hours) / hours).min(1.0);
                    }
                }
                let newest = self.newest.get(&store).copied().unwrap_or(self.as_of);
                StoreScore {
                    store: self.stores[store as usize].to_string(),
                    offers,
                    live_offers: self.live_offers.get(&store).copied().unwrap_or(0),
                    freshness_hours: round1(self.as_of.saturating_sub(newest) as f64 / 3600.0),
                    volume_change: self.volume_change.get(&store).copied(),
                    reject_rate: self.reject_rate.get(&store).copied(),
                    score: round1((100.0 - penalty).clamp(0.0, 100.0)),
                }
            })
            .collect();
        out.sort_by(|a, b| a.store.cmp(&b.store));
        out
    }

    /// C.duplicate over (store, GTIN or URL) keys, C.gtin_conflict over GTINs: a key listed
    /// under two SKUs (brands) is one finding, shown by its smallest-id offer.
    fn finish_shared(&mut self) {
        for s in std::mem::take(&mut self.shared_keys).into_values() {
            let what = if s.kind == 0 { "gtin" } else { "url" };
            self.check_at_end(CheckId::CDuplicate, s.several, s.who, || {
                vec![("shared", Value::Text(what.into()))]
            });
        }
        for s in std::mem::take(&mut self.gtin_brands).into_values() {
            self.check_at_end(CheckId::CGtinConflict, s.several, s.who, || {
                vec![("brands", Value::Text("several".into()))]
            });
        }
    }

    /// M.coverage per category (at every level of its path) and currency: the stores that
    /// list it, its products and the share of them offered by 2+ stores. A category only one
    /// store lists is the check's finding (info).
    fn finish_coverage(&mut self) -> Vec<Coverage> {
        if !self.on(CheckId::MCoverage) {
            return Vec::new();
        }
        // (level, currency) → products, products in 2+ stores, stores.
        // Keyed by the currency's code, not its arrival index: the order is the data's.
        let mut levels: BTreeMap<(String, &'static str), (u64, u64, Vec<u32>)> = BTreeMap::new();
        let floor = self.category_floor;
        let ancestors = |key: &str| -> Vec<String> {
            let parts: Vec<&str> = key.split('/').collect();
            (floor..=parts.len()).map(|n| parts[..n].join("/")).collect()
        };
        let leaf_levels: Vec<Vec<String>> =
            self.category_keys.iter().map(|k| ancestors(k)).collect();
        let promoted = self.spread.values().map(|s| (s.category, s.currency, s.stores));
        let singles = self
            .spread_singles
            .values()
            .map(|(w, category)| (*category, self.who[*w as usize].currency, false));
        for (category, currency, stores) in promoted.chain(singles) {
            if category == NO_CATEGORY {
                continue;
            }
            for level in &leaf_levels[category as usize] {
                let code = self.currencies[currency as usize].code();
                let e = levels.entry((level.clone(), code)).or_default();
                e.0 += 1;
                e.1 += u64::from(stores);
            }
        }
        for ((category, currency), stores) in &self.category_stores {
            for level in &leaf_levels[*category as usize] {
                let code = self.currencies[*currency as usize].code();
                let e = levels.entry((level.clone(), code)).or_default();
                for st in stores {
                    if !e.2.contains(st) {
                        e.2.push(*st);
                    }
                }
            }
        }
        let (mut products, mut multi) = (0, 0);
        let out: Vec<Coverage> = levels
            .into_iter()
            .map(|((category, currency), (p, m, stores))| {
                if !category.contains('/') {
                    // Top levels partition the products: the overall share counts each once.
                    products += p;
                    multi += m;
                }
                Coverage {
                    category,
                    currency: Currency::parse(currency).unwrap_or_else(|_| self.currencies[0]),
                    stores: stores.len() as u64,
                    products: p,
                    multi_store_share: if p == 0 { 0.0 } else { round3(m as f64 / p as f64) },
                }
            })
            .collect();
        if let Some(t) = self.tallies.get_mut(&CheckId::MCoverage) {
            t.elements = out.len() as u64;
            t.unexpected = out.iter().filter(|c| c.stores < 2).count() as u64;
            t.observed = (products > 0).then(|| round3(multi as f64 / products as f64));
        }
        out
    }

    fn finish_spread(&mut self) {
        let Some(factor) = self.configs.get(&CheckId::CPriceSpread).and_then(|c| c.threshold)
        else {
            return;
        };
        // A product with one offer has no spread.
        drop(std::mem::take(&mut self.spread_singles));
        for s in std::mem::take(&mut self.spread).into_values().filter(|s| s.stores) {
            let bad = s.max.0 as f64 >= factor * s.min.0 as f64;
            let ratio = s.max.0 as f64 / s.min.0.max(1) as f64;
            if let (true, Some(t)) = (bad, self.tallies.get_mut(&CheckId::CPriceSpread)) {
                t.observe_max(ratio);
            }
            // The spread counts against the dearest store.
            self.check_at_end(CheckId::CPriceSpread, bad, s.max.1, || {
                vec![
                    ("price", Value::Int(s.max.0)),
                    ("lowest_elsewhere", Value::Int(s.min.0)),
                    ("ratio", Value::Num((ratio * 100.0).round() / 100.0)),
                ]
            });
        }
    }

    fn finish_outliers(&mut self) {
        let Some(limit) = self.configs.get(&CheckId::POutlier).and_then(|c| c.threshold) else {
            return;
        };
        let groups = std::mem::take(&mut self.by_category);
        let mut skipped = 0;
        for ((level, _), mut group) in groups {
            let mut logs: Vec<f64> = group.iter().map(|(l, _)| *l).collect();
            let Some(center) = robust::center(&mut logs) else {
                skipped += 1;
                continue;
            };
            group.sort_by_key(|(_, who)| *who);
            for (ln, who) in group {
                let z = center.z(ln);
                let bad = z.abs() > limit;
                if let Some(t) = self.tallies.get_mut(&CheckId::POutlier) {
                    t.observe_max((z.abs() * 100.0).round() / 100.0);
                }
                let category = &self.category_keys[level as usize];
                let category = if bad { category.clone() } else { String::new() };
                let price = self.who[who as usize].price;
                self.check_at_end(CheckId::POutlier, bad, who, || {
                    vec![
                        ("category", Value::Text(category)),
                        ("price", Value::Int(price)),
                        ("z", Value::Num((z * 100.0).round() / 100.0)),
                        ("category_median", Value::Int(center.median.exp().round() as i64)),
                    ]
                });
            }
        }
        if let Some(t) = self.tallies.get_mut(&CheckId::POutlier)
            && skipped > 0
        {
            // Categories under `MIN_GROUP` offers are not scored; the reason says how many.
            t.reason = Some(format!("insufficient_data: {skipped} categories under 10 offers"));
        }
    }

    fn finish_repeating(&mut self) {
        let Some(c) = self.configs.get(&CheckId::PRepeating).cloned() else { return };
        // Elements were counted as offers came; a group that stayed single cannot be flagged.
        self.singles = FxHashMap::default();
        for r in std::mem::take(&mut self.repeating).into_values() {
            let offers = u64::from(r.offers);
            let bad = offers >= c.min_offers && u64::from(r.seen) >= c.min_categories;
            if !bad {
                continue;
            }
            if let Some(t) = self.tallies.get_mut(&CheckId::PRepeating) {
                t.unexpected += offers;
            }
            self.per_store.entry((CheckId::PRepeating, r.store)).or_default()[1] += offers;
            let price = r.price;
            {
                let target = remembered(&self.who, &self.skus, r.first);
                keep(&mut self.tallies, &self.stores, CheckId::PRepeating, target, || {
                    vec![("price", Value::Int(price)), ("offers", Value::Int(r.offers as i64))]
                });
            }
        }
    }

    /// M.volume_anomaly: each store's live offers against the median of its last analyses
    /// (at least `MIN_VOLUME_HISTORY`); off by more than `threshold` (a share) is a finding.
    fn finish_volume(&mut self) {
        let Some(share) = self.configs.get(&CheckId::MVolumeAnomaly).map(|c| c.threshold) else {
            return;
        };
        let share = share.or(CheckId::MVolumeAnomaly.default_threshold()).unwrap_or(0.5);
        let reason = match (self.volume_reason, &self.volumes) {
            (Some(r), _) => Some(r),
            (None, None) => Some("no_history"),
            (None, Some(_)) => None,
        };
        let mut judged = Vec::new();
        if let (None, Some(volumes)) = (reason, &self.volumes) {
            let mut stores: Vec<u32> =
                volumes.keys().chain(self.store_offers.keys()).copied().collect();
            stores.sort_by(|a, b| self.stores[*a as usize].cmp(&self.stores[*b as usize]));
            stores.dedup();
            for store in stores {
                let history = volumes.get(&store).map_or(&[][..], Vec::as_slice);
                if history.len() < MIN_VOLUME_HISTORY {
                    continue;
                }
                let mut sorted = history.to_vec();
                sorted.sort_unstable();
                let mid = sorted.len() / 2;
                let median = if sorted.len() % 2 == 0 {
                    (sorted[mid - 1] + sorted[mid]) as f64 / 2.0
                } else {
                    sorted[mid] as f64
                };
                let live = self.live_offers.get(&store).copied().unwrap_or(0) as f64;
                let change = if median > 0.0 {
                    (live - median) / median
                } else {
                    f64::from(u8::from(live > 0.0))
                };
                judged.push((store, round3(change), change.abs() > share));
            }
        }
        let Some(t) = self.tallies.get_mut(&CheckId::MVolumeAnomaly) else { return };
        for (store, change, bad) in judged {
            t.see(bad);
            t.observe_max(change.abs());
            count_store(&mut self.per_store, CheckId::MVolumeAnomaly, store, bad);
            self.volume_change.insert(store, change);
        }
        if t.elements == 0 {
            t.reason = Some(reason.unwrap_or("insufficient_history").to_string());
        }
    }

    /// M.reject_rate: each store's rejected share of its records at ingest over the window;
    /// above `threshold` is a finding.
    fn finish_rejects(&mut self) {
        let Some(config) = self.configs.get(&CheckId::MRejectRate) else { return };
        let share = config.threshold.or(CheckId::MRejectRate.default_threshold()).unwrap_or(0.05);
        let reason = match (self.volume_reason, &self.records) {
            (Some(r), _) => Some(r),
            (None, None) => Some("no_ingest_counts"),
            (None, Some(_)) => None,
        };
        let mut judged = Vec::new();
        if let (None, Some(records)) = (reason, &self.records) {
            let mut stores: Vec<(&u32, &[u64; 2])> = records.iter().collect();
            stores.sort_by(|a, b| self.stores[*a.0 as usize].cmp(&self.stores[*b.0 as usize]));
            for (store, [accepted, rejected]) in stores {
                let total = accepted + rejected;
                if total > 0 {
                    let rate = *rejected as f64 / total as f64;
                    judged.push((*store, round3(rate), rate > share));
                }
            }
        }
        let Some(t) = self.tallies.get_mut(&CheckId::MRejectRate) else { return };
        for (store, rate, bad) in judged {
            t.see(bad);
            t.observe_max(rate);
            self.reject_rate.insert(store, rate);
        }
        if t.elements == 0 {
            t.reason = Some(reason.unwrap_or("no_data").to_string());
        }
    }

    fn finish_metrics(&mut self) {
        self.finish_volume();
        self.finish_rejects();
        if let (n @ 1.., Some(t)) = (self.backfilled, self.tallies.get_mut(&CheckId::CHistoryOrder))
        {
            t.reason = Some(format!(
                "backfill: {n} offers have observations from a deliberate backfill (info, not defects)"
            ));
        }
        if let Some(hours) = self.configs.get(&CheckId::MFreshness).and_then(|c| c.threshold) {
            let as_of = self.as_of;
            let mut stale = 0;
            let mut worst: f64 = 0.0;
            for newest in self.newest.values() {
                let age = as_of.saturating_sub(*newest) as f64 / 3600.0;
                worst = worst.max(age);
                stale += u64::from(age > hours);
            }
            if let Some(t) = self.tallies.get_mut(&CheckId::MFreshness) {
                t.elements = self.newest.len() as u64;
                t.unexpected = stale;
                t.observed = (!self.newest.is_empty()).then_some((worst * 10.0).round() / 10.0);
            }
        }
        if let Some(t) = self.tallies.get_mut(&CheckId::MCompleteness) {
            t.elements = self.offers;
            let least = self.present.values().copied().min().unwrap_or(0);
            t.observed = (self.offers > 0).then(|| least as f64 / self.offers as f64);
        }
    }
}

/// The ingest runs M.reject_rate reads: those of the 7 days before the analysis time.
pub const REJECT_WINDOW_SECS: i64 = 7 * 86_400;

/// Earlier analyses M.volume_anomaly needs before it judges a store.
pub const MIN_VOLUME_HISTORY: usize = 4;

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// One category (at one level of its path) in one currency, as M.coverage sees it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Coverage {
    /// The category key (`tecnologia`, `tecnologia/celulares`…).
    pub category: String,
    pub currency: Currency,
    /// Stores with an offer in it.
    pub stores: u64,
    pub products: u64,
    /// Share of its products offered by 2 or more stores.
    pub multi_store_share: f64,
}

/// A store's score, 0–100.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StoreScore {
    pub store: String,
    /// Its current offers analysed.
    pub offers: u64,
    /// Of those, seen within the `M.freshness` window before the analysis time.
    pub live_offers: u64,
    /// Hours from its newest observation to the analysis time (M.freshness).
    pub freshness_hours: f64,
    /// Its live offers' change from the median of its earlier analyses (M.volume_anomaly),
    /// e.g. -0.8 for a fifth of the usual; absent until judged.
    pub volume_change: Option<f64>,
    /// Its rejected share of the records ingest read for it over the window before the
    /// analysis time (M.reject_rate); absent without records.
    pub reject_rate: Option<f64>,
    pub score: f64,
}

/// What an analysis found.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Report {
    /// The analysis time (Unix seconds).
    pub as_of: i64,
    /// The stores' scores weighted by their offers; `None` with no offers.
    pub overall_score: Option<f64>,
    /// By store slug.
    pub stores: Vec<StoreScore>,
    /// M.coverage, by category key then currency.
    pub coverage: Vec<Coverage>,
    pub checks: Vec<CheckResult>,
}

fn plausible_url(url: &str) -> bool {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or("");
        !host.is_empty() && host.contains('.') && !r.chars().any(char::is_whitespace)
    })
}

fn result(config: &CheckConfig, t: Tally) -> CheckResult {
    let ratio = if t.elements == 0 { 0.0 } else { t.unexpected as f64 / t.elements as f64 };
    // A reason also comes with a judged check when part of it could not be judged.
    let (outcome, reason) = match t.reason {
        r if t.elements == 0 => (Outcome::NotEvaluated, r.or_else(|| Some("no_data".into()))),
        r => (config.outcome(t.unexpected, t.elements), r),
    };
    CheckResult {
        id: config.id,
        phase: config.id.phase(),
        severity: config.severity,
        outcome,
        reason,
        element_count: t.elements,
        unexpected_count: t.unexpected,
        unexpected_ratio: (ratio * 1e6).round() / 1e6,
        observed_value: t.observed,
        threshold: config.threshold,
        examples: t.samples.into_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quality::config::resolve;

    const DAY: i64 = 86_400;
    const NOW: i64 = 1_780_000_000;

    struct Row {
        id: u64,
        store: StoreId,
        sku: String,
        product: u64,
        category: Option<String>,
        gtin: Option<String>,
        brand: Option<String>,
        url: Option<String>,
        price: i64,
        list: Option<i64>,
        rating: Option<i64>,
        last_seen: i64,
    }

    fn row(id: u64, store: &str, price: i64) -> Row {
        Row {
            id,
            store: StoreId::parse(store).unwrap(),
            sku: format!("sku-{id}"),
            product: id,
            category: Some("tecnologia/celulares".into()),
            gtin: None,
            brand: Some("Marca".into()),
            url: Some(format!("https://{store}.example.com/p/{id}")),
            price,
            list: None,
            rating: Some(450),
            last_seen: NOW - DAY,
        }
    }

    fn facts(r: &Row) -> OfferFacts<'_> {
        OfferFacts {
            id: OfferId(r.id),
            store: &r.store,
            sku: Some(&r.sku),
            product: ProductId(r.product),
            title: "Producto",
            brand: r.brand.as_deref(),
            category_key: r.category.as_deref(),
            gtin: r.gtin.as_deref(),
            url: r.url.as_deref(),
            image_url: None,
            currency: Currency::parse("COP").unwrap(),
            price: r.price,
            list: r.list,
            rating_centi: r.rating,
            review_count: None,
            last_seen: r.last_seen,
        }
    }

    fn run(rows: &[Row]) -> BTreeMap<CheckId, CheckResult> {
        let mut a = Analysis::new(&resolve(&BTreeMap::new()).unwrap(), NOW);
        for r in rows {
            a.offer(&facts(r));
        }
        a.finish().checks.into_iter().map(|r| (r.id, r)).collect()
    }

    fn report(rows: &[Row]) -> Report {
        let mut a = Analysis::new(&resolve(&BTreeMap::new()).unwrap(), NOW);
        for r in rows {
            a.offer(&facts(r));
        }
        a.finish()
    }

    fn unexpected(results: &BTreeMap<CheckId, CheckResult>, id: CheckId) -> u64 {
        results[&id].unexpected_count
    }

    /// Twelve ordinary offers of two stores, none tripping anything.
    fn clean() -> Vec<Row> {
        (1..=12)
            .map(|i| {
                row(i, if i % 2 == 0 { "exito" } else { "jumbo" }, 1_000_000 + 10_000 * i as i64)
            })
            .collect()
    }

    #[test]
    fn a_clean_catalog_passes_every_check_that_has_data() {
        let r = run(&clean());
        for (id, result) in &r {
            assert_eq!(result.unexpected_count, 0, "{}: {result:?}", id.as_str());
            assert!(
                matches!(result.outcome, Outcome::Pass | Outcome::NotEvaluated),
                "{}",
                id.as_str()
            );
        }
        // Each offer is scored in `tecnologia` and in `tecnologia/celulares`.
        assert_eq!(r[&CheckId::POutlier].element_count, 24);
    }

    #[test]
    fn validation_checks_fire_on_the_bad_field_only() {
        let mut rows = clean();
        rows[0].gtin = Some("7702004003508".into()); // right check digit
        rows[1].gtin = Some("7702004003509".into()); // wrong
        rows[2].rating = Some(600);
        rows[3].url = Some("not a url".into());
        rows[4].list = Some(rows[4].price - 1);
        rows[5].list = Some(rows[5].price + 1);
        let r = run(&rows);
        assert_eq!(unexpected(&r, CheckId::VGtinChecksum), 1);
        assert_eq!(r[&CheckId::VGtinChecksum].element_count, 2);
        assert_eq!(unexpected(&r, CheckId::VRatingRange), 1);
        assert_eq!(unexpected(&r, CheckId::VUrl), 1);
        assert_eq!(unexpected(&r, CheckId::VListBelowPrice), 1);
        assert_eq!(r[&CheckId::VListBelowPrice].element_count, 2);
        let ex = &r[&CheckId::VUrl].examples[0];
        assert_eq!((ex.offer_id.as_str(), ex.sku.as_deref()), ("0000000000000004", Some("sku-4")));
        assert_eq!(r[&CheckId::VUrl].outcome, Outcome::Warn);
    }

    #[test]
    fn duplicates_and_gtin_conflicts_within_and_across_stores() {
        let mut rows = clean();
        // Same store, same GTIN, two SKUs: a duplicate. Another store with it: not one.
        for i in [1, 3] {
            rows[i].gtin = Some("7702004003508".into());
        }
        rows[0].gtin = Some("7702004003508".into());
        // A GTIN whose brand is spelled two ways is fine; a different brand is a conflict.
        rows[5].gtin = Some("4006381333931".into());
        rows[5].brand = Some("Stabilo".into());
        rows[7].gtin = Some("4006381333931".into());
        rows[7].brand = Some(" STABILO".into());
        rows[9].gtin = Some("4006381333931".into());
        rows[9].brand = Some("Faber".into());
        // Three stores list 4006381333931 once each: no duplicate, but two brands.
        rows[7].store = StoreId::parse("jumbo").unwrap();
        rows[9].store = StoreId::parse("olimpica").unwrap();
        let r = run(&rows);
        // Ids 2 and 4 (exito) share a GTIN under two SKUs; id 1 (jumbo) has it alone.
        let dup = &r[&CheckId::CDuplicate];
        assert_eq!(dup.unexpected_count, 1, "{dup:?}");
        assert_eq!(dup.examples[0].offer_id, "0000000000000002");
        assert_eq!(dup.element_count, 5 + 12, "five (store, GTIN) keys and twelve URLs");
        assert_eq!(unexpected(&r, CheckId::CGtinConflict), 1);
        assert_eq!(r[&CheckId::CGtinConflict].element_count, 2, "two distinct GTINs");
        assert_eq!(r[&CheckId::CGtinConflict].examples[0].offer_id, "0000000000000006");
    }

    #[test]
    fn a_product_twice_as_dear_in_another_store_is_a_spread() {
        let mut rows = clean();
        rows[1].product = rows[0].product; // another store, same product
        rows[1].price = rows[0].price * 2;
        rows[3].product = rows[2].product;
        rows[3].price = rows[2].price * 3 / 2; // 1.5×: fine
        let r = run(&rows);
        assert_eq!(unexpected(&r, CheckId::CPriceSpread), 1);
        assert_eq!(r[&CheckId::CPriceSpread].element_count, 2);
        assert_eq!(r[&CheckId::CPriceSpread].observed_value, Some(2.0));
    }

    #[test]
    fn only_the_price_ten_times_its_category_is_an_outlier_and_small_categories_wait() {
        let mut rows: Vec<Row> = (1..=10).map(|i| row(i, "exito", 10)).collect();
        rows[9].price = 100;
        let r = run(&rows);
        // The same offer at both levels of its path.
        assert_eq!(unexpected(&r, CheckId::POutlier), 2);
        let examples = &r[&CheckId::POutlier].examples;
        assert!(examples.iter().all(|e| e.offer_id == "000000000000000a"));
        let mut levels: Vec<&Value> = examples.iter().map(|e| &e.values["category"]).collect();
        levels.sort_by_key(|v| format!("{v:?}"));
        assert_eq!(
            levels,
            vec![&Value::Text("tecnologia".into()), &Value::Text("tecnologia/celulares".into())]
        );
        let few: Vec<Row> = (1..=9).map(|i| row(i, "exito", 10 * i as i64)).collect();
        let r = run(&few);
        assert_eq!(r[&CheckId::POutlier].outcome, Outcome::NotEvaluated);
        let reason = r[&CheckId::POutlier].reason.as_deref().unwrap_or_default();
        assert_eq!(reason, "insufficient_data: 2 categories under 10 offers", "both levels");
    }

    #[test]
    fn stale_offers_and_stale_stores() {
        let mut rows = clean();
        rows[0].last_seen = NOW - 8 * DAY;
        rows[1].last_seen = NOW - 6 * DAY;
        let r = run(&rows);
        assert_eq!(unexpected(&r, CheckId::PStale), 1);
        // Every store has an offer seen a day ago: fresh.
        assert_eq!(unexpected(&r, CheckId::MFreshness), 0);
        let mut old = clean();
        for o in old.iter_mut().filter(|o| o.store.as_str() == "exito") {
            o.last_seen = NOW - 3 * DAY;
        }
        let r = run(&old);
        assert_eq!(unexpected(&r, CheckId::MFreshness), 1);
        assert_eq!(r[&CheckId::MFreshness].observed_value, Some(72.0));
    }

    #[test]
    fn a_store_delivering_far_fewer_live_offers_than_usual_is_a_volume_anomaly() {
        let analyse = |rows: &[Row], history: Option<Vec<(StoreId, Vec<u64>)>>| {
            let mut a = Analysis::new(&resolve(&BTreeMap::new()).unwrap(), NOW);
            for r in rows {
                a.offer(&facts(r));
            }
            if let Some(h) = history {
                a.volume_history(h);
            }
            a.finish()
        };
        let rows = clean();
        let live = |store: &str| rows.iter().filter(|r| r.store.as_str() == store).count() as u64;
        let (exito, jumbo) = (StoreId::parse("exito").unwrap(), StoreId::parse("jumbo").unwrap());
        let check =
            |r: &Report| r.checks.iter().find(|c| c.id == CheckId::MVolumeAnomaly).unwrap().clone();
        // No history given, or fewer than 4 earlier analyses: not judged.
        let c = check(&analyse(&rows, None));
        assert_eq!((c.outcome, c.reason.as_deref()), (Outcome::NotEvaluated, Some("no_history")));
        let three = vec![(exito.clone(), vec![live("exito"); 3])];
        let c = check(&analyse(&rows, Some(three)));
        assert_eq!(c.reason.as_deref(), Some("insufficient_history"));
        // Usual volumes: silent.
        let usual =
            vec![(exito.clone(), vec![live("exito"); 4]), (jumbo.clone(), vec![live("jumbo"); 5])];
        let r = analyse(&rows, Some(usual));
        assert_eq!((check(&r).outcome, check(&r).element_count), (Outcome::Pass, 2));
        assert_eq!(r.stores[0].volume_change, Some(0.0));
        // Exito used to deliver 10× what it does now: a finding, its score pays for it.
        let dropped = vec![
            (exito.clone(), vec![10 * live("exito"); 6]),
            (jumbo.clone(), vec![live("jumbo"); 5]),
        ];
        let r = analyse(&rows, Some(dropped));
        let c = check(&r);
        assert_eq!((c.outcome, c.unexpected_count), (Outcome::Warn, 1));
        assert_eq!(c.observed_value, Some(0.9));
        let e = r.stores.iter().find(|s| s.store == "exito").unwrap();
        assert_eq!(e.volume_change, Some(-0.9));
        assert!(e.score < 100.0);
        // Stale offers are not live: a store whose offers all went stale has volume 0.
        let mut stale = clean();
        for o in stale.iter_mut().filter(|o| o.store.as_str() == "jumbo") {
            o.last_seen = NOW - 3 * DAY;
        }
        let r = analyse(&stale, Some(vec![(jumbo, vec![live("jumbo"); 4])]));
        assert_eq!(check(&r).unexpected_count, 1);
        assert_eq!(r.stores.iter().find(|s| s.store == "jumbo").unwrap().live_offers, 0);
        let mut narrowed = Analysis::new(&resolve(&BTreeMap::new()).unwrap(), NOW);
        narrowed.not_comparable("narrowed_scope");
        narrowed.volume_history(vec![(exito, vec![1; 4])]);
        let c = check(&narrowed.finish());
        assert_eq!(c.reason.as_deref(), Some("narrowed_scope"));
    }

    #[test]
    fn observations_that_arrived_late_are_out_of_order_unless_backfilled() {
        let rows = clean();
        let obs = |day: i64, arrival: u8| Observation {
            at: NOW - day * DAY,
            price: 100,
            list: None,
            arrival,
        };
        let analyse = |histories: &[Vec<Observation>]| {
            let mut a = Analysis::new(&resolve(&BTreeMap::new()).unwrap(), NOW);
            for (r, h) in rows.iter().zip(histories) {
                let f = facts(r);
                a.offer(&f);
                a.history(&f, h);
            }
            a.finish().checks.into_iter().find(|c| c.id == CheckId::CHistoryOrder).unwrap()
        };
        let in_order = vec![vec![obs(3, 0), obs(2, 0), obs(1, 0)]; 3];
        let c = analyse(&in_order);
        assert_eq!((c.outcome, c.element_count, c.unexpected_count), (Outcome::Pass, 3, 0));
        assert_eq!(c.reason, None);
        // The second offer's day-2 observation was stored after its day-1 one.
        let mut late = in_order.clone();
        late[1][1].arrival = 1;
        let c = analyse(&late);
        assert_eq!((c.outcome, c.unexpected_count), (Outcome::Warn, 1));
        assert_eq!(c.examples[0].values["late_observations"], Value::Int(1));
        assert_eq!(c.examples[0].offer_id, OfferId(rows[1].id).to_string());
        // The same arrival within `ingest --backfill`: no defect, said in the reason.
        let mut backfilled = in_order;
        backfilled[1][1].arrival = 2;
        let c = analyse(&backfilled);
        assert_eq!((c.outcome, c.unexpected_count), (Outcome::Pass, 0));
        assert!(c.reason.unwrap().starts_with("backfill: 1 offers"));
    }

    #[test]
    fn a_store_whose_records_are_rejected_above_the_threshold_is_a_finding() {
        use crate::ports::StoreRecords;
        let rows = clean();
        let records = |store: &str, accepted, rejected| StoreRecords {
            store: StoreId::parse(store).unwrap(),
            accepted,
            rejected,
        };
        let analyse = |given: Option<Vec<StoreRecords>>| {
            let mut a = Analysis::new(&resolve(&BTreeMap::new()).unwrap(), NOW);
            for r in &rows {
                a.offer(&facts(r));
            }
            if let Some(g) = given {
                a.store_records(g);
            }
            a.finish()
        };
        let check =
            |r: &Report| r.checks.iter().find(|c| c.id == CheckId::MRejectRate).unwrap().clone();
        let c = check(&analyse(None));
        assert_eq!(
            (c.outcome, c.reason.as_deref()),
            (Outcome::NotEvaluated, Some("no_ingest_counts"))
        );
        // 5 of 100 is at the threshold: silent. 30 of 100: a finding, and 6 points off.
        let r = analyse(Some(vec![records("exito", 95, 5), records("jumbo", 100, 0)]));
        assert_eq!((check(&r).outcome, check(&r).element_count), (Outcome::Pass, 2));
        let clean_score = r.stores.iter().find(|s| s.store == "exito").unwrap().score;
        let r = analyse(Some(vec![records("exito", 70, 30), records("jumbo", 100, 0)]));
        let c = check(&r);
        assert_eq!(
            (c.outcome, c.unexpected_count, c.observed_value),
            (Outcome::Warn, 1, Some(0.3))
        );
        let exito = r.stores.iter().find(|s| s.store == "exito").unwrap();
        assert_eq!(exito.reject_rate, Some(0.3));
        assert!((clean_score - exito.score - 5.0).abs() < 0.11, "{clean_score} {}", exito.score);
        assert_eq!(r.stores.iter().find(|s| s.store == "jumbo").unwrap().reject_rate, Some(0.0));
    }

    #[test]
    fn a_report_reads_back_from_its_json() {
        let mut rows = clean();
        rows[0].price = 9;
        rows[1].gtin = Some("7702032101055".into());
        let r = report(&rows);
        let text = serde_json::to_string(&r).unwrap();
        let back: Report = serde_json::from_str(&text).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn a_placeholder_price_across_categories_is_repeating() {
        let spread = |categories: usize| -> Vec<Row> {
            (1..=25)
                .map(|i| {
                    let mut r = row(i, "exito", 999_999_900);
                    r.category = Some(format!("cat-{}", i as usize % categories));
                    r
                })
                .collect()
        };
        assert_eq!(unexpected(&run(&spread(5)), CheckId::PRepeating), 25);
        assert_eq!(unexpected(&run(&spread(4)), CheckId::PRepeating), 0);
    }

    #[test]
    fn histories_give_jumps_with_their_cause_and_fake_discounts() {
        let mut a = Analysis::new(&resolve(&BTreeMap::new()).unwrap(), NOW);
        let rows = clean();
        let obs = |day: i64, price: i64, list: Option<i64>| Observation {
            at: day * DAY,
            price,
            list,
            arrival: 0,
        };
        a.history(&facts(&rows[0]), &[obs(0, 129_900, None), obs(1, 1_299, None)]);
        a.history(&facts(&rows[1]), &[obs(0, 1_000, None), obs(1, 1_200, None)]);
        a.history(
            &facts(&rows[2]),
            &[obs(0, 100, None), obs(30, 130, None), obs(35, 110, Some(130))],
        );
        a.history(&facts(&rows[3]), &[obs(0, 100, None), obs(35, 80, Some(100))]);
        let r: BTreeMap<CheckId, CheckResult> =
            a.finish().checks.into_iter().map(|r| (r.id, r)).collect();
        let jump = &r[&CheckId::PJump];
        // Each consecutive pair of each history is an element: 1 + 1 + 2 + 1.
        assert_eq!((jump.element_count, jump.unexpected_count), (5, 1));
        assert_eq!(jump.examples[0].values["cause"], Value::Text("separator".into()));
        let fake = &r[&CheckId::PFakeDiscount];
        assert_eq!((fake.element_count, fake.unexpected_count), (2, 1));
        assert_eq!(fake.examples[0].values["lowest_30_days"], Value::Int(100));
        assert_eq!(fake.outcome, Outcome::Fail, "a fake discount is critical");
    }

    #[test]
    fn results_do_not_depend_on_the_order_rows_arrive_in_and_examples_are_capped() {
        let mut rows: Vec<Row> = (1..=60).map(|i| row(i, "exito", 1_000 + i as i64)).collect();
        for r in &mut rows {
            r.url = Some("bad".into());
            r.gtin = Some("7702004003508".into());
        }
        rows[7].brand = Some("Otra".into());
        let forward = run(&rows);
        rows.reverse();
        let backward = run(&rows);
        assert_eq!(forward, backward);
        assert_eq!(forward[&CheckId::VUrl].unexpected_count, 60);
        assert_eq!(forward[&CheckId::VUrl].examples.len(), crate::quality::MAX_EXAMPLES);
        assert_eq!(forward[&CheckId::CDuplicate].unexpected_count, 2, "the GTIN key, the URL key");
        assert_eq!(forward[&CheckId::CGtinConflict].unexpected_count, 1);
    }

    #[test]
    fn scores_fall_with_each_stores_own_defects_and_staleness() {
        let clean_report = report(&clean());
        assert_eq!(clean_report.overall_score, Some(100.0));
        assert!(clean_report.stores.iter().all(|s| s.score == 100.0));
        // Half of exito's URLs broken (a warning check): 10 × 0.5 = 5 points.
        let mut rows = clean();
        for r in rows.iter_mut().filter(|r| r.store.as_str() == "exito").take(3) {
            // Distinct: one broken URL shared by several SKUs would be a duplicate as well.
            r.url = Some(format!("bad-{}", r.id));
        }
        let r = report(&rows);
        let score = |name: &str| r.stores.iter().find(|s| s.store == name).unwrap().score;
        assert_eq!(score("exito"), 95.0);
        assert_eq!(score("jumbo"), 100.0);
        assert_eq!(r.overall_score, Some(97.5));
        // Jumbo's newest offer 72 h old: 24 h past the 48 h threshold is half of 20 points.
        let mut rows = clean();
        for r in rows.iter_mut().filter(|r| r.store.as_str() == "jumbo") {
            r.last_seen = NOW - 3 * DAY;
        }
        let r = report(&rows);
        assert_eq!(r.stores.iter().find(|s| s.store == "jumbo").unwrap().score, 90.0);
    }

    #[test]
    fn coverage_counts_stores_and_shared_products_at_every_level() {
        let mut rows = vec![row(1, "exito", 100), row(2, "jumbo", 120), row(3, "exito", 300)];
        rows[1].product = rows[0].product; // one product in both stores
        let mut home = row(4, "jumbo", 50);
        home.category = Some("hogar".into());
        rows.push(home);
        let r = report(&rows);
        let find = |c: &str| r.coverage.iter().find(|x| x.category == c).unwrap().clone();
        let phones = find("tecnologia/celulares");
        assert_eq!((phones.stores, phones.products, phones.multi_store_share), (2, 2, 0.5));
        let tech = find("tecnologia");
        assert_eq!((tech.stores, tech.products), (2, 2));
        assert_eq!(find("hogar").stores, 1);
        let check = r.checks.iter().find(|c| c.id == CheckId::MCoverage).unwrap();
        assert_eq!((check.element_count, check.unexpected_count), (3, 1));
        assert_eq!(check.observed_value, Some(0.333), "1 of 3 products in 2+ stores");
        assert_eq!(check.outcome, Outcome::Pass, "coverage is information");
    }

    #[test]
    fn a_missing_brand_or_its_spacing_is_no_gtin_conflict() {
        let mut rows = clean();
        for (i, brand) in [(0, Some("Faber Castell")), (1, Some("FABER  castell")), (2, None)] {
            rows[i].gtin = Some("4006381333931".into());
            rows[i].brand = brand.map(String::from);
        }
        assert_eq!(unexpected(&run(&rows), CheckId::CGtinConflict), 0);
        rows[3].gtin = Some("4006381333931".into());
        rows[3].brand = Some("Stabilo".into());
        assert_eq!(unexpected(&run(&rows), CheckId::CGtinConflict), 1);
    }

    #[test]
    fn a_category_scope_reports_no_level_above_it() {
        let mut a = Analysis::new(&resolve(&BTreeMap::new()).unwrap(), NOW);
        a.scope_category("tecnologia/celulares");
        for r in &clean() {
            a.offer(&facts(r));
        }
        let r = a.finish();
        let levels: Vec<&str> = r.coverage.iter().map(|c| c.category.as_str()).collect();
        assert_eq!(levels, vec!["tecnologia/celulares"]);
        let outlier = r.checks.iter().find(|c| c.id == CheckId::POutlier).unwrap();
        assert_eq!(outlier.element_count, 12, "scored in the scope's category only");
    }
}
