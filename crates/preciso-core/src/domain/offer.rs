//! The catalog's records: stores, normalized offers, price observations and the ingest ledger.

use super::{Availability, Currency, Gtin, Money, OfferId, ProductId, Rating, StoreId};

/// A retailer or data source.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Store {
    pub id: StoreId,
    pub name: String,
    pub country: Option<String>,
    pub currency: Option<Currency>,
    pub base_url: Option<String>,
}

/// One normalized, validated scraped record: the unit the ingest pipeline hands to the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub id: OfferId,
    pub store: StoreId,
    pub sku: Option<String>,
    pub url: Option<String>,
    /// The hash of the product's grouping key (`gtin:…` or `bt:brand|title`): the key itself
    /// follows from the GTIN, brand and title, so it is not kept.
    pub product_id: ProductId,
    pub title: String,
    pub brand: Option<String>,
    /// Category path, segments joined by " > ".
    pub category: Option<String>,
    pub gtin: Option<Gtin>,
    pub image_url: Option<String>,
    pub price: Money,
    pub list_price: Option<Money>,
    pub availability: Availability,
    pub rating: Option<Rating>,
    pub review_count: Option<u32>,
    /// Unix seconds: `scraped_at` of the record, else the ingest time.
    pub observed_at: i64,
    /// SHA-256 of the canonical record (everything above except `observed_at`).
    pub content_hash: [u8; 32],
}

/// One row of price history: appended only when price, list price or availability change.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PriceObservation {
    pub offer_id: OfferId,
    pub observed_at: i64,
    pub price: Money,
    pub list_price: Option<Money>,
    pub availability: Availability,
}

/// Counts of what an ingest did, record by record.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct IngestCounts {
    pub read: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub duplicate: u64,
    pub rejected: u64,
}

impl IngestCounts {
    pub fn add(&mut self, other: &IngestCounts) {
        self.read += other.read;
        self.inserted += other.inserted;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.duplicate += other.duplicate;
        self.rejected += other.rejected;
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IngestStatus {
    /// Batches are being applied; a crash leaves this, and the next run supersedes it.
    Running,
    Done,
    Failed,
    /// A later run of the same content replaced an interrupted one.
    Superseded,
}

impl IngestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            IngestStatus::Running => "running",
            IngestStatus::Done => "done",
            IngestStatus::Failed => "failed",
            IngestStatus::Superseded => "superseded",
        }
    }

    pub fn from_db(s: &str) -> Self {
        match s {
            "done" => IngestStatus::Done,
            "failed" => IngestStatus::Failed,
            "superseded" => IngestStatus::Superseded,
            _ => IngestStatus::Running,
        }
    }
}

/// A row of the ingest ledger ("archivos" in the systems Preciso replaces).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IngestFile {
    pub id: i64,
    pub name: String,
    pub sha256: String,
    pub size: u64,
    pub store: Option<StoreId>,
    /// Unix seconds.
    pub received_at: i64,
    pub finished_at: Option<i64>,
    pub status: IngestStatus,
    pub counts: IngestCounts,
    pub archive_key: Option<String>,
    pub error: Option<String>,
}
