//! The value ranking's top offers without scoring every offer (issue #20, point 6).
//!
//! An offer's value score (README "Value score") is its price against the category median,
//! worth at most `PRICE_WEIGHT` points, plus what the offer alone decides: the drop from its
//! previous price, rating, review volume and availability (its *own* part, at most 60). The
//! stores index the own part, so offers can be read in descending own order; each read offer
//! is scored in full. Once the k-th best score so far beats every later offer's ceiling (its own
//! part plus the whole price weight), no later offer can enter the page: the scan stops
//! (Fagin's threshold rule with sorted access on one list). How many offers that reads depends
//! on the data, so the scan is capped (`scan_cap`); past it the adapter ranks by sorting, as it
//! did before.

use crate::query::Rank;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// The most the price term adds to an offer's own part (0.40 × 100).
pub const PRICE_WEIGHT: f64 = 40.0;

/// The price term of the value score in points, 0–`PRICE_WEIGHT`: the whole weight at half
/// the category's median or below, none at 1.5 × the median or above, linear between; half
/// without a median. The SQL `VALUE_SCORE` adds the same term to the own part with the same
/// double-precision operations in the same order, so own part + these points here is the
/// score a sort computes there, bit for bit.
pub fn price_points(price_minor: i64, median: Option<i64>) -> f64 {
    let term = match median {
        Some(m) if m > 0 => {
            let (price, m) = (price_minor as f64, m as f64);
            if price >= 1.5 * m {
                0.0
            } else if price <= 0.5 * m {
                1.0
            } else {
                1.5 - price / m
            }
        }
        _ => 0.5,
    };
    PRICE_WEIGHT * term
}

/// One currency's category medians (`category_stats`), by category key: what a value scan
/// needs to score the offers it reads. As many entries as the currency has categories.
#[derive(Debug, Default)]
pub struct Medians(std::collections::HashMap<String, i64>);

impl FromIterator<(String, i64)> for Medians {
    fn from_iter<I: IntoIterator<Item = (String, i64)>>(rows: I) -> Self {
        Medians(rows.into_iter().collect())
    }
}

impl Medians {
    /// An offer's score from its own part, price and category, and its category's median.
    pub fn score(&self, own: f64, price_minor: i64, category: Option<&str>) -> (f64, Option<i64>) {
        let median = category.and_then(|c| self.0.get(c)).copied();
        (own + price_points(price_minor, median), median)
    }
}

/// Slack for floating rounding between the two SQL expressions (scores have two decimals).
const EPSILON: f64 = 1e-6;

/// Pages deeper than this many offers are ranked by sorting: the heap and the scan would grow
/// with the depth.
pub const MAX_DEPTH: u64 = 10_000;

/// Whether a ranking should scan the value index rather than sort its matches: when they are
/// at least 1/64 of the currency's offers. Sparse matches lie far apart along the index (a scan
/// would walk most of the currency to fill a page), and so few are cheap to sort.
pub fn scan_suits(matching: u64, currency_offers: u64) -> bool {
    matching.saturating_mul(64) >= currency_offers
}

/// How far down the drops' rank (largest drop first) a trending page of `depth` walks to find
/// its `matching` drops among `all` (every drop, whatever its day): four times as far as their
/// density says, for unevenness; `None` when that, with `DROP_WALK_EXTRA`, is not fewer than
/// the matches a sort reads. The caller keeps the walk only if it found the page's rows, and
/// sorts otherwise.
pub fn drop_walk(depth: u64, matching: u64, all: u64) -> Option<u64> {
    if matching == 0 {
        return None;
    }
    let walk = depth.saturating_mul(all).div_ceil(matching).saturating_mul(4);
    (walk.saturating_add(DROP_WALK_EXTRA) < matching).then_some(walk)
}

/// What a drop walk costs beyond its rows, in drops a sort reads for as long: a statement more
/// (every drop's count) and the walk's own (PostgreSQL, 1M offers: a store's 1.5k drops sorted
/// in 1.5 ms, walked in 1.8).
pub const DROP_WALK_EXTRA: u64 = 2_048;

/// How many offers of the index a value walk passes for each it takes, at most, beyond the
/// density of its matches: the threshold rule stops only once the page's worst score beats
/// every later offer's ceiling, and a deep page's matches run far down the own order (a brand
/// in a category with a price range, page 50 at 3M offers: the currency's whole index, 735k).
pub const WALK_OVERRUN: u64 = 10;

/// Whether a brand's value-sorted listing should sort the brand's offers (`brand_offers`,
/// every currency's: at least as many as the brand's index holds for the listing) rather than
/// walk the value index: when they are fewer than the walk may pass, `WALK_OVERRUN` times the
/// entries between `wanted` matches spread over the currency's offers at the density of
/// `matching` (the listing's count, its lower bound when it stopped). A brand in a category
/// with a price range at 3M offers, page 50: 59 ms walked, 10–20 ms sorted along the brand's
/// index (which holds the score's columns); page 1: 6.7 ms walked.
pub fn brand_sort_suits(
    brand_offers: u64,
    wanted: u64,
    matching: u64,
    currency_offers: u64,
) -> bool {
    let passed = wanted.saturating_mul(currency_offers) / matching.max(1);
    brand_offers <= WALK_OVERRUN.saturating_mul(passed)
}

/// Offers one scan reads at most before giving up for the sort: a few hundred per wanted
/// offer on top of a fixed allowance.
pub fn scan_cap(wanted: u64) -> u64 {
    20_000 + 50 * wanted
}

/// One scored offer: ordered best first (higher score, then lower id, as `ORDER BY
/// value_score DESC, o.id`).
#[derive(Debug, Clone, Copy)]
struct Entry {
    score: f64,
    id: i64,
    median: Option<i64>,
}

impl Entry {
    fn better(&self, other: &Entry) -> Ordering {
        other.score.total_cmp(&self.score).then(self.id.cmp(&other.id))
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.better(other) == Ordering::Equal
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    /// The worst entry is the greatest, so the max-heap's top is the one to evict.
    fn cmp(&self, other: &Self) -> Ordering {
        self.better(other)
    }
}

/// The best `k` offers of a stream read in descending own-part order.
#[derive(Debug)]
pub struct ValueTop {
    k: usize,
    heap: BinaryHeap<Entry>,
    read: u64,
}

impl ValueTop {
    pub fn new(k: usize) -> Self {
        ValueTop { k, heap: BinaryHeap::with_capacity(k + 1), read: 0 }
    }

    /// Takes the next offer of the scan (`own` never greater than the previous one's).
    /// Returns false when neither it nor any later offer can enter the top `k`: stop reading.
    pub fn push(&mut self, id: i64, score: f64, median: Option<i64>, own: f64) -> bool {
        if self.k == 0 {
            return false;
        }
        if self.heap.len() == self.k
            && self.heap.peek().is_some_and(|worst| worst.score > own + PRICE_WEIGHT + EPSILON)
        {
            return false;
        }
        self.read += 1;
        let entry = Entry { score, id, median };
        if self.heap.len() < self.k {
            self.heap.push(entry);
        } else if self.heap.peek().is_some_and(|worst| entry < *worst) {
            self.heap.pop();
            self.heap.push(entry);
        }
        true
    }

    /// Offers taken so far (the scan's cost).
    pub fn read(&self) -> u64 {
        self.read
    }

    /// The top, best first, as ranks (scores rounded like every listing's).
    pub fn into_ranks(self) -> Vec<Rank> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|e| Rank::new(e.id, e.score, e.median))
            .collect()
    }
}

/// The ranks of a value-ranked page read by `passes` scans (preferred offers, then the rest;
/// or one), each fed by `scan(pass, top)` until `top.push` refuses or its rows end. `None`
/// when a scan read its `scan_cap` of rows without stopping: the caller ranks by sorting.
pub fn page_by_passes<E>(
    passes: usize,
    offset: u64,
    limit: u32,
    mut scan: impl FnMut(usize, &mut ValueTop) -> Result<(), E>,
) -> Result<Option<Vec<Rank>>, E> {
    let wanted = offset + u64::from(limit);
    let cap = scan_cap(wanted);
    let mut ranks = Vec::new();
    for pass in 0..passes {
        let need = wanted.saturating_sub(ranks.len() as u64);
        if need == 0 {
            break;
        }
        let mut top = ValueTop::new(need as usize);
        scan(pass, &mut top)?;
        if top.read() >= cap {
            return Ok(None);
        }
        ranks.extend(top.into_ranks());
    }
    Ok(Some(ranks.into_iter().skip(offset as usize).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dense filter walks four times its density's share of the rank; a sparse or small one,
    /// or a page so deep the walk would pass more drops than the filter has, sorts.
    #[test]
    fn a_drop_walk_goes_four_times_as_far_as_the_density_says() {
        // A leaf's 10,993 of 87,698 drops, first page: 160 by density.
        assert_eq!(drop_walk(20, 10_993, 87_698), Some(640));
        // A store's 1.5k of 29k at 1M offers: cheaper to sort than a statement more.
        assert_eq!(drop_walk(20, 1_468, 29_290), None);
        assert_eq!(drop_walk(20, 100, 87_698), None);
        assert_eq!(drop_walk(2_000, 10_993, 87_698), None);
        assert_eq!(drop_walk(20, 0, 87_698), None);
    }

    /// The 3M catalog's brand in a top-level category with a price range (12.4k matches,
    /// counted to 10,000, of 735k offers in the currency; the brand's 48.7k offers there,
    /// ~150k in every currency): page 50 sorts the brand's offers, page 1 walks.
    #[test]
    fn a_brands_deep_page_sorts_its_offers_and_a_shallow_one_walks() {
        let (brand, matching, currency) = (150_000, 10_000, 735_000);
        assert!(brand_sort_suits(brand, 1_000, matching, currency));
        assert!(!brand_sort_suits(brand, 20, matching, currency));
        // A brand as large as its currency's offers is walked for page 50 as well.
        assert!(!brand_sort_suits(800_000, 1_000, matching, currency));
        assert!(!brand_sort_suits(brand, 1_000, 0, 0), "an empty currency never divides by 0");
    }

    /// Offers as (id, price part, own part), fed in the store's order (own descending, id).
    fn scan(offers: &[(i64, f64, f64)], k: usize) -> (Vec<i64>, u64) {
        let mut sorted = offers.to_vec();
        sorted.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)));
        let mut top = ValueTop::new(k);
        for &(id, price, own) in &sorted {
            if !top.push(id, price + own, None, own) {
                break;
            }
        }
        let read = top.read();
        (top.into_ranks().into_iter().map(|r| r.id).collect(), read)
    }

    fn by_sorting(offers: &[(i64, f64, f64)], k: usize) -> Vec<i64> {
        let mut all = offers.to_vec();
        all.sort_by(|a, b| (b.1 + b.2).total_cmp(&(a.1 + a.2)).then(a.0.cmp(&b.0)));
        all.into_iter().take(k).map(|o| o.0).collect()
    }

    #[test]
    fn price_points_span_the_weight_around_the_median() {
        assert_eq!(price_points(500, Some(1_000)), PRICE_WEIGHT);
        assert_eq!(price_points(100, Some(1_000)), PRICE_WEIGHT);
        assert_eq!(price_points(1_500, Some(1_000)), 0.0);
        assert_eq!(price_points(1_000, Some(1_000)), 20.0);
        assert_eq!(price_points(750, Some(1_000)), 30.0);
        assert_eq!(price_points(750, None), 20.0);
        assert_eq!(price_points(750, Some(0)), 20.0);
        let medians: Medians = [("hogar".to_string(), 1_000)].into_iter().collect();
        assert_eq!(medians.score(10.0, 750, Some("hogar")), (40.0, Some(1_000)));
        assert_eq!(medians.score(10.0, 750, Some("otra")), (30.0, None));
        assert_eq!(medians.score(10.0, 750, None), (30.0, None));
    }

    #[test]
    fn equals_a_full_sort_and_stops_early() {
        // A deterministic spread of price and own parts, with ties.
        let offers: Vec<(i64, f64, f64)> =
            (0..5_000i64).map(|i| (i, ((i * 37) % 41) as f64, ((i * 53) % 61) as f64)).collect();
        for k in [1, 10, 100, 1_000] {
            let (ids, read) = scan(&offers, k);
            assert_eq!(ids, by_sorting(&offers, k), "k = {k}");
            assert!(read < offers.len() as u64, "k = {k} read every offer");
        }
    }

    #[test]
    fn passes_fill_the_page_in_order_and_a_capped_scan_gives_up() {
        let feed = |rows: &[(i64, f64)], top: &mut ValueTop| {
            for &(id, own) in rows {
                if !top.push(id, own + 40.0, None, own) {
                    break;
                }
            }
            Ok::<_, ()>(())
        };
        let preferred = [(7, 10.0), (8, 5.0)];
        let rest = [(1, 60.0), (2, 50.0), (3, 0.0)];
        let page = |offset, limit| {
            page_by_passes(2, offset, limit, |pass, top| {
                feed(if pass == 0 { &preferred } else { &rest }, top)
            })
            .unwrap()
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect::<Vec<_>>()
        };
        assert_eq!(page(0, 3), vec![7, 8, 1]);
        assert_eq!(page(2, 2), vec![1, 2]);
        let endless = page_by_passes(1, 0, 10, |_, top| {
            for id in 0..scan_cap(10) as i64 {
                top.push(id, 50.0, None, 50.0);
            }
            Ok::<_, ()>(())
        });
        assert_eq!(endless, Ok(None));
    }

    #[test]
    fn ties_rank_by_id_and_a_short_stream_returns_all() {
        let offers = [(5, 10.0, 50.0), (3, 20.0, 40.0), (9, 0.0, 60.0), (1, 40.0, 0.0)];
        assert_eq!(scan(&offers, 3).0, vec![3, 5, 9]);
        assert_eq!(scan(&offers, 10).0, vec![3, 5, 9, 1]);
        assert!(scan(&offers, 0).0.is_empty());
    }
}
