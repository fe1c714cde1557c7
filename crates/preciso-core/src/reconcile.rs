//! What one incoming offer does to the catalog, decided without IO: the store adapter reads
//! the stored state, asks `decide`, and performs the writes. Keeping the rule here means
//! every backend classifies records identically.

use crate::domain::{Availability, IngestCounts, Offer};

/// The stored state of an offer that the decision needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredOffer {
    pub content_hash: [u8; 32],
    pub price_minor: i64,
    pub list_price_minor: Option<i64>,
    pub availability: Availability,
    pub last_seen: i64,
    /// Ledger id of the ingest run that last wrote this offer.
    pub last_file_id: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// New offer: insert it and its first history row.
    Insert,
    /// Content changed: update the offer; append history when price, list price or
    /// availability changed.
    Update { history: bool },
    /// Same content as stored: move `last_seen` forward if this observation is newer.
    Unchanged { touch_last_seen: bool },
    /// Same content and no newer observation than what this very ingest run already wrote.
    Duplicate,
    /// An observation older than the stored one with different prices: it belongs in the
    /// history only; the current state stays the newer one.
    Backfill,
}

impl Decision {
    pub fn count(self, counts: &mut IngestCounts) {
        match self {
            Decision::Insert => counts.inserted += 1,
            Decision::Update { .. } | Decision::Backfill => counts.updated += 1,
            Decision::Unchanged { .. } => counts.unchanged += 1,
            Decision::Duplicate => counts.duplicate += 1,
        }
    }

    /// The `arrival` of the history row this decision appends: 0 in order, 1 after a later
    /// observation of the offer was stored (an out-of-order scrape), 2 the same within a
    /// deliberate backfill (`ingest --backfill`). `C.history_order` reads it.
    pub fn arrival(self, backfill: bool) -> i64 {
        match (self, backfill) {
            (Decision::Backfill, true) => 2,
            (Decision::Backfill, false) => 1,
            _ => 0,
        }
    }

    /// Whether the offer's trending drop row may change: its price history grew, or what
    /// trending listings filter by (category, brand, price) may have (any update).
    pub fn moves_drop(self) -> bool {
        matches!(self, Decision::Update { .. } | Decision::Backfill)
    }

    /// Whether a history row is appended for this decision.
    pub fn appends_history(self) -> bool {
        matches!(self, Decision::Insert | Decision::Update { history: true } | Decision::Backfill)
    }
}

fn price_fields_differ(stored: &StoredOffer, offer: &Offer) -> bool {
    stored.price_minor != offer.price.minor
        || stored.list_price_minor != offer.list_price.map(|m| m.minor)
        || stored.availability != offer.availability
}

pub fn decide(stored: Option<&StoredOffer>, offer: &Offer, file_id: i64) -> Decision {
    let Some(stored) = stored else {
        return Decision::Insert;
    };
    if stored.content_hash == offer.content_hash {
        let newer = offer.observed_at > stored.last_seen;
        // A repeat this run already wrote is a duplicate, unless it was seen later: that
        // sighting still moves `last_seen`.
        if stored.last_file_id == file_id && !newer {
            return Decision::Duplicate;
        }
        return Decision::Unchanged { touch_last_seen: newer };
    }
    if offer.observed_at < stored.last_seen {
        return if price_fields_differ(stored, offer) {
            Decision::Backfill
        } else {
            Decision::Unchanged { touch_last_seen: false }
        };
    }
    Decision::Update { history: price_fields_differ(stored, offer) }
}

/// Offers an ingest run found unchanged and wrote nothing for: their stored `last_file_id`
/// still names an earlier run, so without this a repeat of one in a later batch of the same
/// run would count as unchanged again instead of as a duplicate. Batches see their own
/// earlier records through their in-batch state; this carries that knowledge across batches.
/// Writers call `decide` (by offer id) or `decide_row` (by the stored row's number) through it.
///
/// By id it is a set, bounded (`UNWRITTEN_KEPT`): past it, an unchanged offer is touched
/// instead (its row takes this run's id, which is how a later repeat is recognised), so the
/// answer stays exact and memory stays flat at any size. By row number — SQLite's rowids, which
/// count the offers table's rows from 1 — it is one bit a row (10M offers: 1.25 MB), so no
/// offer is ever touched for memory's sake: at 3M offers the set's bound had a third of an
/// unchanged re-ingest's offers rewritten, each on a random page (docs/BENCHMARKS.md).
#[derive(Debug)]
pub struct UnwrittenThisRun {
    ids: rustc_hash::FxHashSet<i64>,
    limit: usize,
    /// Bit `n` set: the row numbered `n` was found unchanged.
    rows: Vec<u64>,
}

/// Unchanged offers a run remembers by id without writing (~19 bytes each in the set, ~38 MB
/// at the limit): 10M unchanged offers held 297 MB of anonymous memory (docs/BENCHMARKS.md).
pub const UNWRITTEN_KEPT: usize = 1 << 21;

/// Row numbers `decide_row` remembers as bits (32 MB of them at most); a row numbered past
/// this goes by id.
pub const ROWS_KEPT: i64 = 1 << 28;

/// How the run remembers one offer.
#[derive(Clone, Copy)]
enum Key {
    Id(i64),
    Row(usize),
}

impl Default for UnwrittenThisRun {
    fn default() -> Self {
        Self::bounded(UNWRITTEN_KEPT)
    }
}

impl UnwrittenThisRun {
    /// A set that remembers at most `limit` offers by id.
    pub fn bounded(limit: usize) -> Self {
        UnwrittenThisRun { ids: Default::default(), limit, rows: Vec::new() }
    }

    /// `decide` against the stored state as this run has seen it (an offer it already found
    /// unchanged counts as last written by this run), remembering the offers it finds
    /// unchanged without a write.
    pub fn decide(
        &mut self,
        stored: Option<&StoredOffer>,
        offer: &Offer,
        file_id: i64,
    ) -> Decision {
        self.decide_as(Key::Id(offer.id.as_i64()), stored, offer, file_id)
    }

    /// `decide` for an offer stored in row `row` of a table whose rows are numbered densely
    /// from 1 and keep their number for the run (SQLite's rowid); `None` for an offer this run
    /// has not found stored.
    pub fn decide_row(
        &mut self,
        row: Option<i64>,
        stored: Option<&StoredOffer>,
        offer: &Offer,
        file_id: i64,
    ) -> Decision {
        let key = match row {
            Some(n) if (0..ROWS_KEPT).contains(&n) => Key::Row(n as usize),
            _ => Key::Id(offer.id.as_i64()),
        };
        self.decide_as(key, stored, offer, file_id)
    }

    fn decide_as(
        &mut self,
        key: Key,
        stored: Option<&StoredOffer>,
        offer: &Offer,
        file_id: i64,
    ) -> Decision {
        let seen;
        let stored = match stored {
            Some(s) if s.last_file_id != file_id && self.contains(key) => {
                seen = StoredOffer { last_file_id: file_id, ..s.clone() };
                Some(&seen)
            }
            other => other,
        };
        let decision = decide(stored, offer, file_id);
        if decision == (Decision::Unchanged { touch_last_seen: false }) && !self.remember(key) {
            // Full: the row remembers instead (`last_seen` only moves forward).
            return Decision::Unchanged { touch_last_seen: true };
        }
        decision
    }

    fn contains(&self, key: Key) -> bool {
        match key {
            Key::Id(id) => self.ids.contains(&id),
            Key::Row(n) => self.rows.get(n / 64).is_some_and(|w| w & (1 << (n % 64)) != 0),
        }
    }

    /// Remembers `key`; false when the id set is full.
    fn remember(&mut self, key: Key) -> bool {
        match key {
            Key::Id(_) if self.ids.len() >= self.limit => false,
            Key::Id(id) => {
                self.ids.insert(id);
                true
            }
            Key::Row(n) => {
                if self.rows.len() <= n / 64 {
                    self.rows.resize(n / 64 + 1, 0);
                }
                self.rows[n / 64] |= 1 << (n % 64);
                true
            }
        }
    }

    /// Forgets what a rolled-back batch noted (all of it: the run fails with that batch).
    pub fn clear(&mut self) {
        self.ids.clear();
        self.rows.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Currency, Money, OfferId, ProductId, StoreId};

    fn offer(n: u8) -> Offer {
        Offer {
            id: OfferId::from_i64(i64::from(n)),
            store: StoreId::parse("exito").unwrap(),
            sku: None,
            url: None,
            product_id: ProductId::from_i64(i64::from(n)),
            title: "Olla".into(),
            brand: None,
            category: None,
            gtin: None,
            image_url: None,
            price: Money::new(1_000, Currency::parse("COP").unwrap()),
            list_price: None,
            availability: Availability::InStock,
            rating: None,
            review_count: None,
            observed_at: 1_000,
            content_hash: [n; 32],
        }
    }

    fn stored(o: &Offer, file_id: i64) -> StoredOffer {
        StoredOffer {
            content_hash: o.content_hash,
            price_minor: o.price.minor,
            list_price_minor: None,
            availability: o.availability,
            last_seen: o.observed_at,
            last_file_id: file_id,
        }
    }

    /// Past its bound the set touches unchanged offers instead, and a later repeat of either
    /// kind is a duplicate: the remembered one through the set, the touched one through the
    /// run id its row now holds.
    #[test]
    fn a_full_set_touches_and_repeats_stay_duplicates() {
        let (a, b) = (offer(1), offer(2));
        let mut run = UnwrittenThisRun::bounded(1);
        let unchanged = |touch_last_seen| Decision::Unchanged { touch_last_seen };
        assert_eq!(run.decide(Some(&stored(&a, 1)), &a, 2), unchanged(false));
        assert_eq!(run.decide(Some(&stored(&b, 1)), &b, 2), unchanged(true), "full: touched");
        assert_eq!(run.decide(Some(&stored(&a, 1)), &a, 2), Decision::Duplicate);
        assert_eq!(run.decide(Some(&stored(&b, 2)), &b, 2), Decision::Duplicate);
    }

    /// By row number nothing is ever touched, however many offers it remembers (the id set's
    /// bound is 1 here), and a later repeat is a duplicate; rows past `ROWS_KEPT` and offers
    /// without a row go by id; a cleared run remembers nothing.
    #[test]
    fn rows_are_remembered_as_bits_without_touching() {
        let (a, b, c) = (offer(1), offer(2), offer(3));
        let mut run = UnwrittenThisRun::bounded(1);
        let unchanged = |touch_last_seen| Decision::Unchanged { touch_last_seen };
        assert_eq!(run.decide_row(Some(7), Some(&stored(&a, 1)), &a, 2), unchanged(false));
        assert_eq!(run.decide_row(Some(200), Some(&stored(&b, 1)), &b, 2), unchanged(false));
        assert_eq!(run.decide_row(Some(7), Some(&stored(&a, 1)), &a, 2), Decision::Duplicate);
        assert_eq!(run.decide_row(Some(200), Some(&stored(&b, 1)), &b, 2), Decision::Duplicate);
        assert_eq!(run.decide_row(Some(8), Some(&stored(&c, 1)), &c, 2), unchanged(false));
        let far = Some(ROWS_KEPT);
        let mut by_id = UnwrittenThisRun::bounded(1);
        assert_eq!(by_id.decide_row(far, Some(&stored(&a, 1)), &a, 2), unchanged(false));
        assert_eq!(by_id.decide_row(far, Some(&stored(&b, 1)), &b, 2), unchanged(true));
        assert_eq!(by_id.decide_row(far, Some(&stored(&a, 1)), &a, 2), Decision::Duplicate);
        run.clear();
        assert_eq!(run.decide_row(Some(7), Some(&stored(&a, 1)), &a, 2), unchanged(false));
    }
}
