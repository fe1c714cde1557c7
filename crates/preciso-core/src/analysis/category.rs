//! A category's price analysis (`/api/reports/price-analysis/{category}`): the statistics of
//! its offers' prices in one currency, its histogram in any number of bins up to `MAX_BINS`,
//! and the same statistics per brand and per store. Computed for every category path when the
//! market summary is rebuilt (the end of every ingest run) and stored, so that a request reads
//! one path's rows instead of every offer below it — a top-level category held 280k offers at
//! 3M and its analysis took 90 ms to read and sort (issue #20, point 6).
//!
//! The stores read each path in each currency key by key (`plan`) into a `PathPrices`, which
//! folds it. One path's offers are held at a time, in 16 bytes each plus 8 for the sort by
//! group: the largest top-level category of a 10M catalog (3.7M offers) takes ~90 MB.

use super::stats::{Bin, Bins, PriceStats, summarize_sorted};
use crate::domain::{Currency, CurrencyError};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;

/// The name the breakdown by brand gives offers without a brand.
pub const NO_BRAND: &str = "(none)";

/// The most histogram bins a request may ask for; every count from 1 to this is kept.
pub const MAX_BINS: usize = 100;

/// Statistics of one brand's or one store's offers.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedStats {
    pub name: String,
    pub stats: PriceStats,
}

/// The analysis of one category path in one currency (only where it has offers).
#[derive(Debug, Clone, PartialEq)]
pub struct CategoryAnalysis {
    pub path: String,
    pub currency: Currency,
    pub stats: PriceStats,
    /// By brand name (`NO_BRAND` for offers without one), sorted by name.
    pub by_brand: Vec<NamedStats>,
    /// By store id, sorted.
    pub by_store: Vec<NamedStats>,
    /// `histograms[b - 1]`: the counts of the histogram in `b` bins, for `b` in 1..=`MAX_BINS`.
    pub histograms: Vec<Vec<u64>>,
}

impl CategoryAnalysis {
    /// `bins` (1..=`MAX_BINS`) equal-width bins from the lowest price to the highest.
    pub fn histogram(&self, bins: usize) -> Vec<Bin> {
        let bins = bins.clamp(1, MAX_BINS);
        let counts = self.histograms.get(bins - 1).map_or(&[][..], Vec::as_slice);
        Bins::new(self.stats.min, self.stats.max, bins).with_counts(counts).finish()
    }
}

/// One path in one currency to analyse: the keys whose offers it holds (itself and those
/// below it) and how many offers the market summary counted there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPlan {
    pub path: String,
    pub currency: Currency,
    pub keys: Vec<String>,
    pub offers: u64,
}

/// Every path that holds offers, in each of its currencies, from the market summary's offers
/// per (currency, key, store): each key and each of its ancestors (`a/b/c`: `a`, `a/b`,
/// `a/b/c`). Empty keys (offers without a category) are left out.
pub fn plan<'k>(
    counts: impl IntoIterator<Item = (&'k str, &'k str, u64)>,
) -> Result<Vec<PathPlan>, CurrencyError> {
    let mut per_key: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for (currency, key, offers) in counts {
        if !key.is_empty() {
            *per_key.entry((key, currency)).or_default() += offers;
        }
    }
    let mut paths: BTreeMap<(&str, &str), (Vec<String>, u64)> = BTreeMap::new();
    for (&(key, currency), &offers) in &per_key {
        let ancestors = key.match_indices('/').map(|(at, _)| &key[..at]);
        for path in ancestors.chain([key]) {
            let (keys, total) = paths.entry((path, currency)).or_default();
            keys.push(key.to_string());
            *total += offers;
        }
    }
    paths
        .into_iter()
        .map(|((path, currency), (keys, offers))| {
            Ok(PathPlan {
                path: path.to_string(),
                currency: Currency::parse(currency)?,
                keys,
                offers,
            })
        })
        .collect()
}

/// Store ids and brand names seen by a rebuild, each stored once.
#[derive(Default)]
pub struct Names {
    positions: FxHashMap<String, u32>,
    names: Vec<String>,
}

impl Names {
    fn id(&mut self, name: &str) -> u32 {
        crate::market::index_of(&mut self.positions, &mut self.names, name)
    }
}

/// The offers of one path in one currency, pushed in any order.
pub struct PathPrices<'n> {
    names: &'n mut Names,
    /// (price, store, brand).
    rows: Vec<(i64, u32, u32)>,
}

impl<'n> PathPrices<'n> {
    /// Room for `expected` offers (the plan's count: a hint).
    pub fn new(names: &'n mut Names, expected: u64) -> Self {
        let rows = Vec::with_capacity(usize::try_from(expected).unwrap_or(0).min(1 << 26));
        PathPrices { names, rows }
    }

    pub fn push(&mut self, store: &str, brand: Option<&str>, price_minor: i64) {
        let store = self.names.id(store);
        let brand = self.names.id(brand.unwrap_or(NO_BRAND));
        self.rows.push((price_minor, store, brand));
    }

    /// The analysis; `None` without offers.
    pub fn finish(mut self, path: &str, currency: Currency) -> Option<CategoryAnalysis> {
        self.rows.sort_unstable_by_key(|r| r.0);
        let mut prices: Vec<i64> = self.rows.iter().map(|r| r.0).collect();
        let stats = summarize_sorted(&prices)?;
        let runs: Vec<(i64, u64)> =
            prices.chunk_by(|a, b| a == b).map(|r| (r[0], r.len() as u64)).collect();
        let histograms = (1..=MAX_BINS)
            .map(|b| {
                let mut bins = Bins::new(stats.min, stats.max, b);
                runs.iter().for_each(|&(p, n)| bins.add(p, n));
                bins.counts().collect()
            })
            .collect();
        drop(runs);
        let by_brand = breakdown(&self.rows, |r| r.2, self.names, &mut prices);
        let by_store = breakdown(&self.rows, |r| r.1, self.names, &mut prices);
        Some(CategoryAnalysis {
            path: path.to_string(),
            currency,
            stats,
            by_brand,
            by_store,
            histograms,
        })
    }
}

/// Statistics per group of `rows` (sorted by price), sorted by the group's name: the prices
/// are laid out group after group in `buffer` (a counting sort that keeps their order), so
/// each group's are a sorted slice.
fn breakdown(
    rows: &[(i64, u32, u32)],
    group: impl Fn(&(i64, u32, u32)) -> u32,
    names: &Names,
    buffer: &mut [i64],
) -> Vec<NamedStats> {
    let mut starts: FxHashMap<u32, usize> = FxHashMap::default();
    for r in rows {
        *starts.entry(group(r)).or_default() += 1;
    }
    let mut groups: Vec<(u32, usize)> = starts.iter().map(|(&g, &n)| (g, n)).collect();
    groups.sort_unstable_by(|a, b| names.names[a.0 as usize].cmp(&names.names[b.0 as usize]));
    let mut at = 0;
    for &(g, n) in &groups {
        starts.insert(g, at);
        at += n;
    }
    for r in rows {
        let next = starts.get_mut(&group(r)).expect("counted above");
        buffer[*next] = r.0;
        *next += 1;
    }
    let mut at = 0;
    groups
        .into_iter()
        .map(|(g, n)| {
            let slice = &buffer[at..at + n];
            at += n;
            NamedStats {
                name: names.names[g as usize].clone(),
                stats: summarize_sorted(slice).expect("a group has rows"),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::stats::{histogram, summarize};

    /// Analyses every path of `rows` (key, currency, store, brand, price) as a store would.
    fn analyse(rows: &[(&str, &str, &str, Option<&str>, i64)]) -> Vec<CategoryAnalysis> {
        let counts = rows.iter().map(|r| (r.1, r.0, 1));
        let mut names = Names::default();
        let mut out = Vec::new();
        for p in plan(counts).unwrap() {
            let mut prices = PathPrices::new(&mut names, p.offers);
            for r in rows.iter().filter(|r| p.keys.iter().any(|k| k == r.0)) {
                if r.1 == p.currency.code() {
                    prices.push(r.2, r.3, r.4);
                }
            }
            out.extend(prices.finish(&p.path, p.currency));
        }
        out
    }

    #[test]
    fn every_path_and_currency_gets_the_statistics_of_the_offers_below_it() {
        let (cop, usd) = (Currency::COP, Currency::USD);
        let a = analyse(&[
            ("hogar", "COP", "tienda-a", Some("Oster"), 500),
            ("hogar/cocina", "COP", "tienda-a", Some("Oster"), 300),
            ("hogar/cocina", "COP", "tienda-b", None, 100),
            ("hogar/cocina", "USD", "tienda-b", None, 900),
            ("hogar/cocina/ollas", "COP", "tienda-b", Some("Imusa"), 300),
            ("hogar-y-jardin", "COP", "tienda-a", Some("Oster"), 7),
            ("", "COP", "tienda-a", Some("Oster"), 1),
        ]);
        let found: Vec<(&str, Currency, u64)> =
            a.iter().map(|x| (x.path.as_str(), x.currency, x.stats.count)).collect();
        // "hogar-y-jardin" is a category of its own, not below "hogar"; offers without a
        // category are in none.
        assert_eq!(
            found,
            [
                ("hogar", cop, 4),
                ("hogar", usd, 1),
                ("hogar-y-jardin", cop, 1),
                ("hogar/cocina", cop, 3),
                ("hogar/cocina", usd, 1),
                ("hogar/cocina/ollas", cop, 1),
            ]
        );
        let hogar = &a[0];
        assert_eq!(hogar.stats, summarize(&[500, 300, 100, 300]).unwrap());
        let brands: Vec<(&str, u64)> =
            hogar.by_brand.iter().map(|b| (b.name.as_str(), b.stats.count)).collect();
        assert_eq!(brands, [("(none)", 1), ("Imusa", 1), ("Oster", 2)]);
        assert_eq!(hogar.by_brand[2].stats, summarize(&[500, 300]).unwrap());
        let stores: Vec<(&str, u64)> =
            hogar.by_store.iter().map(|b| (b.name.as_str(), b.stats.count)).collect();
        assert_eq!(stores, [("tienda-a", 2), ("tienda-b", 2)]);
        assert_eq!(hogar.by_store[1].stats, summarize(&[100, 300]).unwrap());
    }

    #[test]
    fn every_kept_histogram_is_that_of_the_prices() {
        let prices = [5, 5, 9, 13, 13, 13, 40, 41, 97, 100, 100, 3, 2, 1];
        let rows: Vec<_> = prices.iter().map(|&p| ("k", "COP", "tienda-a", None, p)).collect();
        let a = &analyse(&rows)[0];
        let mut sorted = prices.to_vec();
        sorted.sort_unstable();
        for bins in 1..=MAX_BINS {
            assert_eq!(a.histogram(bins), histogram(&sorted, bins), "{bins} bins");
        }
        assert_eq!(a.histogram(0), histogram(&sorted, 1), "0 is read as 1");
    }

    #[test]
    fn a_plan_counts_each_path_once_per_currency() {
        let p = plan([("COP", "a/b", 2), ("COP", "a/b", 3), ("COP", "a", 1), ("USD", "a/c", 4)])
            .unwrap();
        let got: Vec<(&str, &str, Vec<&str>, u64)> = p
            .iter()
            .map(|p| {
                (
                    p.path.as_str(),
                    p.currency.code(),
                    p.keys.iter().map(String::as_str).collect(),
                    p.offers,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("a", "COP", vec!["a", "a/b"], 6),
                ("a", "USD", vec!["a/c"], 4),
                ("a/b", "COP", vec!["a/b"], 5),
                ("a/c", "USD", vec!["a/c"], 4),
            ]
        );
        assert!(plan([("XXX", "a", 1)]).is_err());
    }
}
