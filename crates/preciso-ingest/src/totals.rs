//! Process-wide ingest totals for `/metrics`: every run in this process adds its counts when it
//! ends, whichever path started it (an API upload, a scheduled drop-directory job, a CLI run),
//! so `preciso_ingest_offers_total` and the reject-rate alert see all of them.

use preciso_core::domain::IngestCounts;
use std::sync::atomic::{AtomicU64, Ordering};

/// Record results, in exposition order.
pub const RESULTS: [&str; 5] = ["inserted", "updated", "unchanged", "duplicate", "rejected"];
/// Run outcomes (`IngestReport::status`, plus `failed` for runs that returned an error).
pub const STATUSES: [&str; 4] = ["done", "skipped", "dry_run", "failed"];

static OFFERS: [AtomicU64; 5] = [const { AtomicU64::new(0) }; 5];
static FILES: [AtomicU64; 4] = [const { AtomicU64::new(0) }; 4];

/// Adds one finished run.
pub fn record(status: &str, counts: &IngestCounts) {
    let per_result =
        [counts.inserted, counts.updated, counts.unchanged, counts.duplicate, counts.rejected];
    for (total, n) in OFFERS.iter().zip(per_result) {
        total.fetch_add(n, Ordering::Relaxed);
    }
    let i = STATUSES.iter().position(|s| *s == status).unwrap_or(STATUSES.len() - 1);
    FILES[i].fetch_add(1, Ordering::Relaxed);
}

/// Records per result since the process started.
pub fn offers() -> [(&'static str, u64); 5] {
    std::array::from_fn(|i| (RESULTS[i], OFFERS[i].load(Ordering::Relaxed)))
}

/// Runs per outcome since the process started.
pub fn files() -> [(&'static str, u64); 4] {
    std::array::from_fn(|i| (STATUSES[i], FILES[i].load(Ordering::Relaxed)))
}
