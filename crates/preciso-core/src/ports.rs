//! The storage port: what the ingest pipeline, the CLI and the API need from a catalog
//! store. Each backend (SQLite today) implements it; the contract tests run against every
//! implementation. Calls are blocking: async callers run them on a blocking thread pool.

use crate::domain::{IngestCounts, IngestFile, IngestStatus, Offer, Store, StoreId};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database URL {0:?} has an unsupported scheme (use sqlite://PATH or postgres://…)")]
    UnsupportedUrl(String),
    #[error("cannot open the database: {0}")]
    Open(String),
    #[error("migration {name} failed: {reason}")]
    Migration { name: String, reason: String },
    #[error("database error: {0}")]
    Backend(String),
    #[error("not found")]
    NotFound,
}

/// A ledger row about to be created for one ingest run of one file.
#[derive(Debug, Clone)]
pub struct NewIngestFile {
    pub name: String,
    pub sha256: String,
    pub size: u64,
    pub store: Option<StoreId>,
    pub received_at: i64,
}

/// Totals of the whole catalog, for summaries and status.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CatalogCounts {
    pub stores: u64,
    pub offers: u64,
    pub products: u64,
    pub price_observations: u64,
    pub ingest_files: u64,
}

/// Per-store totals, for summaries.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoreSummary {
    pub store: StoreId,
    pub offers: u64,
    pub categories: u64,
    pub in_stock: u64,
    pub last_seen: Option<i64>,
}

pub trait CatalogStore: Send + Sync {
    /// Applies pending migrations; idempotent.
    fn migrate(&self) -> Result<(), StoreError>;

    /// Creates or updates a store's descriptive fields (from configuration).
    fn upsert_store(&self, store: &Store) -> Result<(), StoreError>;

    fn stores(&self) -> Result<Vec<Store>, StoreError>;

    /// The completed ledger row for a file's SHA-256, if that content was already ingested.
    fn find_ingested(&self, sha256: &str) -> Result<Option<IngestFile>, StoreError>;

    /// Starts an ingest run: a ledger row (unless `dry_run`) and a writer session.
    fn begin_ingest(
        &self,
        file: &NewIngestFile,
        dry_run: bool,
    ) -> Result<Box<dyn IngestSession + '_>, StoreError>;

    /// Ledger rows, newest first.
    fn ingest_files(&self, limit: u32, offset: u64) -> Result<Vec<IngestFile>, StoreError>;

    fn counts(&self) -> Result<CatalogCounts, StoreError>;

    fn store_summaries(&self) -> Result<Vec<StoreSummary>, StoreError>;
}

/// One ingest run's writer. Every `apply_batch` is one transaction: it either lands whole,
/// together with the ledger's counts, or not at all.
pub trait IngestSession {
    fn file_id(&self) -> i64;

    /// Applies valid offers (in file order) and records `reader_counts` (records read and
    /// rejected by the reader for this batch) in the ledger. Returns the batch's full counts.
    fn apply_batch(
        &mut self,
        offers: &[Offer],
        reader_counts: &IngestCounts,
    ) -> Result<IngestCounts, StoreError>;

    /// Closes the run with its final status. A dry run rolls everything back here.
    fn finish(
        self: Box<Self>,
        status: IngestStatus,
        error: Option<String>,
    ) -> Result<Option<IngestFile>, StoreError>;
}
