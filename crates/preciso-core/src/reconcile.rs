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
/// Writers call `decide` through it.
#[derive(Debug, Default)]
pub struct UnwrittenThisRun(rustc_hash::FxHashSet<i64>);

impl UnwrittenThisRun {
    /// `decide` against the stored state as this run has seen it (an offer it already found
    /// unchanged counts as last written by this run), remembering the offers it finds
    /// unchanged without a write.
    pub fn decide(
        &mut self,
        stored: Option<&StoredOffer>,
        offer: &Offer,
        file_id: i64,
    ) -> Decision {
        let id = offer.id.as_i64();
        let seen;
        let stored = match stored {
            Some(s) if s.last_file_id != file_id && self.0.contains(&id) => {
                seen = StoredOffer { last_file_id: file_id, ..s.clone() };
                Some(&seen)
            }
            other => other,
        };
        let decision = decide(stored, offer, file_id);
        if decision == (Decision::Unchanged { touch_last_seen: false }) {
            self.0.insert(id);
        }
        decision
    }

    /// Forgets what a rolled-back batch noted (all of it: the run fails with that batch).
    pub fn clear(&mut self) {
        self.0.clear();
    }
}
