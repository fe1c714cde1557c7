//! The market summary behind the catalog listings and the store comparison: each category's
//! name and offers; each store's offers, categories, stock and newest observation; and per
//! (currency, store) its offers, categories, price index, how often it is the cheapest, and its
//! offers by the hour they were last seen. Stores rebuild it from one scan of the offers at the
//! end of every ingest run that changed offers (and after store merges and loads), the way the
//! best-offer summary is kept, so `/api/categories`, `/api/stores`, the store comparison and
//! the web UI read a few rows instead of every offer. This module folds the scan; it knows no
//! SQL.

use crate::analysis::stats::quantile;
use crate::query::CategoryCount;
use rustc_hash::FxHashMap;

/// One offer as the scan reads it.
#[derive(Debug, Clone, Copy)]
pub struct MarketRow<'a> {
    pub store: &'a str,
    pub product_id: i64,
    pub category: Option<&'a str>,
    pub category_key: Option<&'a str>,
    pub currency: &'a str,
    pub price_minor: i64,
    pub last_seen: i64,
    pub in_stock: bool,
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

/// The summary's rows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Market {
    /// By key; the name is the smallest of the names the key's offers write.
    pub categories: Vec<CategoryCount>,
    /// By store.
    pub stores: Vec<StoreTotals>,
    /// By currency, then store.
    pub markets: Vec<StoreMarket>,
    pub seen_hours: Vec<SeenHour>,
}

#[derive(Default)]
struct Totals {
    offers: u64,
    in_stock: u64,
    last_seen: i64,
    categories: Vec<u32>,
}

#[derive(Default)]
struct Acc {
    offers: u64,
    last_seen: i64,
    categories: Vec<u32>,
    ratios: Vec<f64>,
    compared: u64,
    cheapest: u64,
    products: u64,
}

/// Each store's lowest price of one product in one currency and whether it has a buyable
/// offer of it: the first inline, since most products are sold by one store.
struct Prices {
    first: Seller,
    more: Vec<Seller>,
}

#[derive(Clone, Copy)]
struct Seller {
    store: u32,
    price: i64,
    buyable: bool,
}

impl Seller {
    fn add(&mut self, price: i64, buyable: bool) {
        self.price = self.price.min(price);
        self.buyable |= buyable;
    }
}

/// Folds the scan (any order) into a `Market`. Memory: the distinct names, plus one small
/// entry per (product, currency).
#[derive(Default)]
pub struct MarketFold {
    stores: FxHashMap<String, u32>,
    store_names: Vec<String>,
    currencies: Vec<String>,
    keys: FxHashMap<String, u32>,
    key_names: Vec<(String, String, u64)>,
    totals: Vec<Totals>,
    accs: FxHashMap<(u16, u32), Acc>,
    hours: FxHashMap<(u16, u32, i64), u64>,
    prices: FxHashMap<(i64, u16), Prices>,
}

fn index_of(map: &mut FxHashMap<String, u32>, names: &mut Vec<String>, name: &str) -> u32 {
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
    pub fn push(&mut self, r: MarketRow<'_>) {
        let store = index_of(&mut self.stores, &mut self.store_names, r.store);
        let currency = match self.currencies.iter().position(|c| c == r.currency) {
            Some(i) => i as u16,
            None => {
                self.currencies.push(r.currency.to_string());
                (self.currencies.len() - 1) as u16
            }
        };
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
        }
        *self.hours.entry((currency, store, r.last_seen.div_euclid(3600))).or_default() += 1;
        let seller = Seller { store, price: r.price_minor, buyable: r.buyable };
        match self.prices.get_mut(&(r.product_id, currency)) {
            None => {
                self.prices
                    .insert((r.product_id, currency), Prices { first: seller, more: Vec::new() });
            }
            Some(p) if p.first.store == store => p.first.add(r.price_minor, r.buyable),
            Some(p) => match p.more.iter_mut().find(|s| s.store == store) {
                Some(m) => m.add(r.price_minor, r.buyable),
                None => p.more.push(seller),
            },
        }
    }

    pub fn finish(mut self) -> Market {
        // Each product sold by 2+ stores in a currency is one comparison for each of them.
        for ((_, currency), p) in self.prices.drain() {
            if p.more.is_empty() {
                let a = self.accs.entry((currency, p.first.store)).or_default();
                a.products += u64::from(p.first.buyable);
                continue;
            }
            let mut all = p.more;
            all.push(p.first);
            let mut sorted: Vec<i64> = all.iter().map(|s| s.price).collect();
            sorted.sort_unstable();
            let median = quantile(&sorted, 0.5).unwrap_or(1).max(1) as f64;
            for s in all {
                let a = self.accs.entry((currency, s.store)).or_default();
                a.ratios.push(s.price as f64 / median);
                a.compared += 1;
                a.cheapest += u64::from(s.price == sorted[0]);
                a.products += u64::from(s.buyable);
            }
        }
        let round2 = |x: f64| (x * 100.0).round() / 100.0;
        let mut markets: Vec<StoreMarket> = self
            .accs
            .into_iter()
            .map(|((c, s), mut a)| {
                a.ratios.sort_by(f64::total_cmp);
                StoreMarket {
                    currency: self.currencies[c as usize].clone(),
                    store: self.store_names[s as usize].clone(),
                    offers: a.offers,
                    products: a.products,
                    categories: a.categories.len() as u64,
                    price_index: (!a.ratios.is_empty())
                        .then(|| round2(a.ratios[a.ratios.len() / 2] * 100.0)),
                    compared: a.compared,
                    cheapest: a.cheapest,
                    last_seen: a.last_seen,
                }
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
        Market { categories, stores, markets, seen_hours }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row<'a>(store: &'a str, product: i64, key: &'a str, price: i64, seen: i64) -> MarketRow<'a> {
        MarketRow {
            store,
            product_id: product,
            category: Some(if key == "a" { "A" } else { "B" }),
            category_key: Some(key),
            currency: "COP",
            price_minor: price,
            last_seen: seen,
            in_stock: price != 300,
            buyable: price != 300,
        }
    }

    #[test]
    fn the_fold_counts_compares_and_buckets_by_hour() {
        let mut f = MarketFold::default();
        // Product 1 in x (twice: its lowest counts), y and z; product 2 only in x.
        for r in [
            row("x", 1, "a", 100, 3_600),
            row("x", 1, "a", 90, 3_700),
            row("y", 1, "a", 120, 7_200),
            row("z", 1, "b", 300, 7_300),
            row("x", 2, "b", 50, 10),
        ] {
            f.push(r);
        }
        let m = f.finish();
        let cats: Vec<(&str, &str, u64)> =
            m.categories.iter().map(|c| (c.key.as_str(), c.category.as_str(), c.offers)).collect();
        assert_eq!(cats, vec![("a", "A", 3), ("b", "B", 2)]);
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
    }
}
