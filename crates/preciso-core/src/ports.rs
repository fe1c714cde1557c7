//! The storage port: what the ingest pipeline, the CLI and the API need from a catalog
//! store. Each backend (SQLite, PostgreSQL) implements it; the contract tests (`testing`) run
//! against every implementation. Calls are blocking: async callers run them on a blocking thread pool.

use crate::domain::{IngestCounts, IngestFile, IngestStatus, Offer, Store, StoreId};
use crate::runs::{AttemptEnd, NewRun, RunClaim, RunFilter, RunRecord, RunStatus};

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
    /// The database cannot be reached or is too busy right now; the same call may succeed
    /// later (an API answers 503 with `Retry-After`).
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was violated (e.g. a user's e-mail already exists).
    #[error("conflict: {0}")]
    Conflict(String),
}

/// A ledger row about to be created for one ingest run of one file.
#[derive(Debug, Clone)]
pub struct NewIngestFile {
    pub name: String,
    pub sha256: String,
    pub size: u64,
    pub store: Option<StoreId>,
    pub received_at: i64,
    /// A deliberate backfill of old scrapes: its late observations are not out-of-order
    /// defects (`C.history_order` reports them as info).
    pub backfill: bool,
}

/// Totals of the whole catalog, for summaries and status.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

/// A name a store was written as in records (`preciso stores`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SeenName {
    pub store: StoreId,
    /// As the records wrote it (trimmed).
    pub name: String,
    /// Records that used it.
    pub records: u64,
    /// When a run last saw it (Unix seconds).
    pub last_seen: i64,
}

/// One store's records in one ingest run: those that became offers and those rejected
/// (counted for the store the record itself names; `M.reject_rate`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreRecords {
    pub store: StoreId,
    pub accepted: u64,
    pub rejected: u64,
}

/// What `merge_stores` moved.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct MergeReport {
    /// Offers re-keyed under the target store.
    pub moved: u64,
    /// Offers the target already held (same SKU): histories merged, the latest row kept.
    pub merged: u64,
    /// Ledger rows that named the merged store.
    pub ledger_rows: u64,
}

/// Use of a store's connection pool (the DB-pool metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PoolStats {
    /// Connections handed out right now.
    pub in_use: u64,
    /// Connections open, idle or in use.
    pub open: u64,
    /// The most connections the pool opens.
    pub max: u64,
    /// Callers that had to wait for a connection, since start.
    pub waits: u64,
    /// Total time callers waited, since start.
    pub wait_seconds: f64,
}

pub trait CatalogStore: Send + Sync {
    /// Applies pending migrations; idempotent.
    fn migrate(&self) -> Result<(), StoreError>;

    /// Creates or updates a store's descriptive fields (from configuration).
    fn upsert_store(&self, store: &Store) -> Result<(), StoreError>;

    fn stores(&self) -> Result<Vec<Store>, StoreError>;

    /// Names stores were written as, per store, most used first.
    fn store_names(&self) -> Result<Vec<SeenName>, StoreError>;

    /// Adds a run's names to `store_names` (counts add up, `last_seen` moves forward).
    fn record_store_names(&self, names: &[SeenName]) -> Result<(), StoreError>;

    /// Names that mean another store, written by `merge_stores`: (name as a slug, store).
    fn store_aliases(&self) -> Result<Vec<(String, StoreId)>, StoreError>;
    /// Records each store's accepted and rejected records of ingest run `file_id` (at `at`,
    /// Unix seconds), added to what the run recorded before.
    fn record_store_counts(
        &self,
        file_id: i64,
        at: i64,
        counts: &[StoreRecords],
    ) -> Result<(), StoreError>;

    /// Moves store `from` into `into` in one transaction: its offers are re-keyed under
    /// `into` (ids and content hashes derive from the store); where `into` holds the same
    /// offer, the histories merge in time order and the most recently seen row stays
    /// current; ledger rows, names and aliases follow; `from`'s name becomes an alias of
    /// `into`. Archived raw files keep their keys.
    fn merge_stores(&self, from: &StoreId, into: &StoreId) -> Result<MergeReport, StoreError>;

    /// The completed ledger row for a file's SHA-256, if that content was already ingested.
    fn find_ingested(&self, sha256: &str) -> Result<Option<IngestFile>, StoreError>;

    /// The ingest time of the earliest run of this content that did not finish (running,
    /// failed or superseded) since the newest one that did. A re-run stamps undated records
    /// with it, so a file whose run was interrupted converges on exactly what one clean run
    /// gives, price history included.
    fn interrupted_since(&self, sha256: &str) -> Result<Option<i64>, StoreError>;

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

    /// Records that a completed run's raw file is in the archive under `key` (its size and
    /// hash checked).
    fn mark_archived(&self, file_id: i64, key: &str) -> Result<(), StoreError>;

    /// Per store, the newest observation among its offers (kept on the store row by ingest,
    /// so cheap enough for every metrics scrape); `None` before its first offer.
    fn store_freshness(&self) -> Result<Vec<(StoreId, Option<i64>)>, StoreError>;

    /// The connection pool's use.
    fn pool_stats(&self) -> PoolStats;

    /// One trivial round trip through the pool (readiness).
    fn ping(&self) -> Result<(), StoreError>;

    /// Changes whenever an ingest run finishes (any process): lets servers drop cached
    /// answers after a CLI ingest they did not see.
    fn ingest_marker(&self) -> Result<(i64, i64), StoreError>;
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

    /// Closes the run with its final status. A dry run rolls everything back here. The ledger
    /// row returned holds the run's final counts: a store may write some records only here
    /// (an initial load replays the records it set aside, `preciso-store-sqlite`'s `bulk`).
    fn finish(
        self: Box<Self>,
        status: IngestStatus,
        error: Option<String>,
    ) -> Result<Option<IngestFile>, StoreError>;
}

use crate::domain::{Currency, Gtin, OfferId, ProductId};
use crate::query::{
    BrandCount, CategoryCount, CurrencyCount, HistoryPoint, NewUser, OfferFilter, OfferView, Page,
    PageRequest, Preferences, Sort, User,
};

/// How personalization shapes a listing: preferred stores and brands first, budget as a cap.
#[derive(Debug, Clone, Copy, Default)]
pub struct Personalization<'a> {
    pub preferences: Option<&'a Preferences>,
}

/// An offer with the value score of the ranking (0–100).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ScoredOffer {
    #[serde(flatten)]
    pub offer: OfferView,
    pub value_score: f64,
    /// Median current price of the offer's category in its currency.
    pub category_median: Option<i64>,
}

/// The cheapest offer of one product, for best prices.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BestOffer {
    #[serde(flatten)]
    pub offer: OfferView,
    /// Offers of this product that matched the filters.
    pub offers_for_product: u64,
    /// Whether the offer is from a preferred store or brand of the user.
    pub preferred: bool,
}

/// An offer whose current price is a real drop (`analysis::trend::current_drop`).
#[derive(Debug, Clone, PartialEq)]
pub struct TrendingOffer {
    pub offer: OfferView,
    /// The usual price before the drop.
    pub reference_minor: i64,
    /// The drop in basis points (2000 = 20%).
    pub drop_bp: i64,
    pub dropped_at: i64,
}

/// An API key's stored form: the secret itself is never stored, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiKeyRecord {
    pub id: i64,
    pub name: String,
    /// The first characters of the key, to recognise it in listings.
    pub prefix: String,
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// The read side used by the API.
pub trait CatalogRead: Send + Sync {
    fn list_offers(
        &self,
        filter: &OfferFilter,
        sort: Sort,
        page: PageRequest,
        who: Personalization<'_>,
    ) -> Result<Page<ScoredOffer>, StoreError>;

    /// Cheapest in-stock (or unknown-stock) offer per product matching `filter`.
    fn best_prices(
        &self,
        filter: &OfferFilter,
        page: PageRequest,
        who: Personalization<'_>,
    ) -> Result<Page<BestOffer>, StoreError>;

    fn offer(&self, id: OfferId) -> Result<Option<OfferView>, StoreError>;
    fn offer_history(&self, id: OfferId) -> Result<Vec<HistoryPoint>, StoreError>;
    fn product_offers(&self, product: ProductId) -> Result<Vec<OfferView>, StoreError>;
    fn product_by_gtin(&self, gtin: &Gtin) -> Result<Option<ProductId>, StoreError>;
    /// Products whose title or brand contains every word of `q`, most offers (of every
    /// availability) first, among the first `query::SEARCH_CANDIDATES` matches by product id.
    fn search_products(
        &self,
        q: &str,
        limit: u32,
    ) -> Result<Vec<(ProductId, String, u64)>, StoreError>;

    /// A page of the products whose brand or title hold every word of `q` as a word prefix
    /// (folded; a one-character word as a whole word), among the first
    /// `query::SEARCH_CANDIDATES` matches by product id, that have a buyable offer passing
    /// `filter`: each with its cheapest such offer and how many it has, cheapest first
    /// (`descending`: dearest first), ranked over at most `SEARCH_ROWS` offers
    /// (`best::cheapest_per_product`); only the page's offers are read whole. The total counts
    /// among the candidates: a lower bound when more products match.
    fn search_offers(
        &self,
        q: &str,
        filter: &OfferFilter,
        descending: bool,
        page: PageRequest,
    ) -> Result<Page<BestOffer>, StoreError>;
    /// Offers whose current price is a real drop that began at or after `since`, largest drop
    /// first (a page of a maintained column: no history is read).
    fn trending(
        &self,
        since: i64,
        filter: &OfferFilter,
        page: PageRequest,
    ) -> Result<Page<TrendingOffer>, StoreError>;

    /// The currencies of a category scope (`""`: the whole catalog) with their buyable offers
    /// and products, most offers first (kept by the best-offer summary: no scan).
    fn currencies(&self, scope: &str) -> Result<Vec<CurrencyCount>, StoreError>;

    /// The price analysis of a category path (its keys and everything below) in `currency`, as
    /// the market summary's last rebuild stored it; `None` when the path has no offer in that
    /// currency.
    fn price_analysis(
        &self,
        path: &str,
        currency: crate::domain::Currency,
    ) -> Result<Option<crate::analysis::category::CategoryAnalysis>, StoreError>;
    /// Whether a read by key (`product_offers`, `product_by_gtin`, `offer`) answers in
    /// microseconds right now, without waiting: an in-process catalog with its key indexes in
    /// place (an initial load drops them until its end) and a pooled connection free. Such a
    /// read may then run on an async worker (the HTTP layer's `db_point`). Off by default.
    fn reads_by_key_quick(&self) -> bool {
        false
    }

    /// The lowest and highest price of a category path's offers (its keys and everything
    /// below, every availability) in `currency`, from the stored price analysis; `None` when
    /// the path has no offer in that currency, or while the market summary is marked (a run
    /// has changed offers since its last rebuild): a span that no longer holds every price
    /// must not lift a bound (`query::read_with_met_bounds_lifted`).
    fn price_span(
        &self,
        path: &str,
        currency: crate::domain::Currency,
    ) -> Result<Option<(i64, i64)>, StoreError>;
    /// Each store against the market in `currency` (the market summary), with its offers
    /// last seen in or after the Unix hour `seen_since_hour`.
    fn store_market(
        &self,
        currency: crate::domain::Currency,
        seen_since_hour: i64,
    ) -> Result<Vec<crate::market::StoreStanding>, StoreError>;
    fn brands(&self, limit: u32) -> Result<Vec<BrandCount>, StoreError>;
    fn categories(&self) -> Result<Vec<CategoryCount>, StoreError>;
}

/// The people and keys around the catalog: users with their preferences (personal data,
/// behind the `users` scope) and API keys (stored hashed).
pub trait Accounts: Send + Sync {
    fn create_user(&self, user: &NewUser, prefs: &Preferences) -> Result<User, StoreError>;
    fn user(&self, id: i64) -> Result<Option<User>, StoreError>;
    fn users(&self, page: PageRequest) -> Result<Page<User>, StoreError>;
    /// Replaces name, email and preferences; `None` if there is no such user.
    fn update_user(
        &self,
        id: i64,
        user: &NewUser,
        prefs: &Preferences,
    ) -> Result<Option<User>, StoreError>;
    fn delete_user(&self, id: i64) -> Result<bool, StoreError>;

    fn create_api_key(
        &self,
        name: &str,
        prefix: &str,
        key_hash: &str,
        scopes: &[String],
    ) -> Result<ApiKeyRecord, StoreError>;
    fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError>;
    fn revoke_api_key(&self, id: i64) -> Result<bool, StoreError>;
    /// The active key with this hash.
    fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>, StoreError>;
}

/// Everything a running Preciso needs from its database.
pub trait Catalog:
    CatalogStore + CatalogRead + Accounts + CatalogDump + RunLog + QualityRead + AnalysisLog
{
}
impl<T: CatalogStore + CatalogRead + Accounts + CatalogDump + RunLog + QualityRead + AnalysisLog>
    Catalog for T
{
}

/// The scheduler's run history and its leader lock (docs/OPERATIONS.md O7–O14).
pub trait RunLog: Send + Sync {
    /// Records a new run in one atomic step: `(job, scheduled_for)` is unique and a job has at
    /// most one active run, so two replicas can never both start the same slot.
    fn claim_run(&self, run: &NewRun) -> Result<RunClaim, StoreError>;
    /// Ends the current attempt. `RetryWait` keeps the run active for its next attempt; any
    /// other status closes the run.
    fn end_attempt(&self, run_id: i64, end: &AttemptEnd) -> Result<(), StoreError>;
    /// Starts the next attempt of a run waiting for its retry; returns the attempt number.
    fn start_attempt(&self, run_id: i64, now: i64) -> Result<u32, StoreError>;
    /// Proves the run's process is alive; `false` when the run is no longer active (replaced
    /// by a newer run, or abandoned), so the process stops its work.
    fn heartbeat(&self, run_id: i64, now: i64) -> Result<bool, StoreError>;
    /// Marks active runs whose last heartbeat is before `stale_before` as `abandoned`, except
    /// the `live` ones: runs the caller's process is executing, which its runner ends itself
    /// and whose heartbeats may wait behind that process's own long writes (a SQLite load).
    fn abandon_stale_runs(
        &self,
        stale_before: i64,
        now: i64,
        live: &[i64],
    ) -> Result<u64, StoreError>;
    /// A run with all its attempts.
    fn run(&self, id: i64) -> Result<Option<RunRecord>, StoreError>;
    /// Runs, newest first.
    fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>, StoreError>;
    /// The latest slot the schedule recorded for a job (trigger `schedule` or `catch_up`).
    fn last_scheduled(&self, job: &str) -> Result<Option<i64>, StoreError>;
    /// When the job last finished with this status.
    fn last_finished(&self, job: &str, status: RunStatus) -> Result<Option<i64>, StoreError>;
    /// Deletes closed runs that started before `before`; returns how many.
    fn delete_runs_before(&self, before: i64) -> Result<u64, StoreError>;
    /// Tries to become the one replica that schedules. `Ok(None)` when another holds it.
    fn try_lead(&self) -> Result<Option<Box<dyn Leadership>>, StoreError>;
}

/// Held while this process is the scheduling leader; dropping it lets another take over.
pub trait Leadership: Send {
    /// Whether the lock is still held (a PostgreSQL session lock dies with its connection).
    fn still_held(&mut self) -> bool;
}

/// One value of a dumped row: the portable cell types of both schemas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Null,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

/// Whole-table export and import, for moving a catalog between backends (`preciso copy`)
/// and for portable backups. Tables and columns are `preciso_sql::TABLES`.
pub trait CatalogDump: Send + Sync {
    /// Streams every row of `table` in primary-key order.
    fn dump(
        &self,
        table: &str,
        sink: &mut dyn FnMut(Vec<Cell>) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError>;
    /// Inserts rows (columns in `TABLES` order) in one transaction.
    fn load(&self, table: &str, rows: &[Vec<Cell>]) -> Result<(), StoreError>;
    /// Deletes every catalog row (for `--force` onto a non-empty target).
    fn clear(&self) -> Result<(), StoreError>;
    /// Brings id sequences past the loaded ids (PostgreSQL identities); no-op elsewhere.
    fn after_load(&self) -> Result<(), StoreError>;
    /// Streams every dumped table, in load order, from one consistent snapshot of the
    /// catalog (writers go on meanwhile); returns each table's row count.
    fn snapshot(&self, sink: &mut RowSink<'_>) -> Result<Vec<(String, u64)>, StoreError>;
    /// Replaces every catalog row with what `fill` loads, in one transaction: readers see the
    /// old catalog until it commits, and any error (from `fill` too) leaves it untouched.
    fn replace_all(
        &self,
        fill: &mut dyn FnMut(&mut dyn TableLoader) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
}

/// Receives a snapshot's rows: table name and the row's cells in dump order.
pub type RowSink<'a> = dyn FnMut(&str, Vec<Cell>) -> Result<(), StoreError> + 'a;

/// Loads rows into the catalog being replaced (`CatalogDump::replace_all`).
pub trait TableLoader {
    /// Inserts rows of `table`, columns in dump order; tables come in dump (load) order.
    fn load(&mut self, table: &str, rows: &[Vec<Cell>]) -> Result<(), StoreError>;
}

/// Which offers a forensic analysis reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QualityScope {
    pub store: Option<StoreId>,
    /// A category key: the category and everything below it.
    pub category: Option<String>,
    /// Only offers seen at or after this time (Unix seconds).
    pub since: Option<i64>,
}

/// A current offer as the forensic analysis reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QualityOffer {
    pub id: OfferId,
    pub store: StoreId,
    pub sku: Option<String>,
    pub product: ProductId,
    pub title: String,
    pub brand: Option<String>,
    pub category_key: Option<String>,
    pub gtin: Option<String>,
    pub url: Option<String>,
    pub image_url: Option<String>,
    pub currency: Currency,
    pub price: i64,
    pub list: Option<i64>,
    pub rating_centi: Option<i64>,
    pub review_count: Option<i64>,
    pub last_seen: i64,
}

impl QualityOffer {
    /// The engine's view of it.
    pub fn facts(&self) -> crate::quality::engine::OfferFacts<'_> {
        crate::quality::engine::OfferFacts {
            id: self.id,
            store: &self.store,
            sku: self.sku.as_deref(),
            product: self.product,
            title: &self.title,
            brand: self.brand.as_deref(),
            category_key: self.category_key.as_deref(),
            gtin: self.gtin.as_deref(),
            url: self.url.as_deref(),
            image_url: self.image_url.as_deref(),
            currency: self.currency,
            price: self.price,
            list: self.list,
            rating_centi: self.rating_centi,
            review_count: self.review_count,
            last_seen: self.last_seen,
        }
    }
}

/// Receives each offer of an analysis with its history.
/// The offer is handed over (a sink may keep it, e.g. to pass it to another thread).
pub type QualitySink<'a> = dyn FnMut(QualityOffer, &[crate::analysis::omnibus::Observation]) -> Result<(), StoreError>
    + 'a;

/// What the forensic analysis reads (issue #18).
pub trait QualityRead: Send + Sync {
    /// Every offer of `scope` with its price history (oldest first), in offer-id order, each
    /// handed to `sink` once; memory does not grow with the catalog.
    fn quality_rows(
        &self,
        scope: &QualityScope,
        sink: &mut QualitySink<'_>,
    ) -> Result<(), StoreError>;
    /// How many offers `quality_rows` would hand over for `scope`.
    fn quality_size(&self, scope: &QualityScope) -> Result<u64, StoreError>;
    /// Each store's records over the ingest runs recorded in `since..=until` (Unix seconds),
    /// summed, by store slug.
    fn store_records(&self, since: i64, until: i64) -> Result<Vec<StoreRecords>, StoreError>;
}

/// Analysis runs and their results (issue #18): a queue any replica takes from, immutable
/// reports, and the score history. Times are milliseconds since the epoch.
pub trait AnalysisLog: Send + Sync {
    /// Queues one run per request, all or none; their ids in request order.
    fn queue_analyses(
        &self,
        requests: &[crate::quality::runs::AnalysisRequest],
        trigger: &str,
        now: i64,
    ) -> Result<Vec<i64>, StoreError>;
    /// Records a run that starts at once (the scheduled job), owned by `owner`.
    fn begin_analysis(
        &self,
        request: &crate::quality::runs::AnalysisRequest,
        trigger: &str,
        owner: &str,
        now: i64,
    ) -> Result<i64, StoreError>;
    /// Moves the oldest queued run to `running` under `owner`; `None` when none is queued.
    /// Two processes never claim the same run.
    fn claim_analysis(
        &self,
        owner: &str,
        now: i64,
    ) -> Result<Option<crate::quality::runs::AnalysisRecord>, StoreError>;
    /// Records progress (and a heartbeat); `false` when the run is no longer running (it was
    /// marked abandoned meanwhile).
    fn analysis_progress(
        &self,
        id: i64,
        phase: u8,
        percent: u8,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Ends a running run; its report and scores in the same transaction.
    fn finish_analysis(
        &self,
        id: i64,
        end: &crate::quality::runs::AnalysisEnd,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Every running run, to be judged by the caller (owner gone, heartbeat stale).
    fn running_analyses(&self) -> Result<Vec<crate::quality::runs::AnalysisRecord>, StoreError>;
    /// Marks these runs abandoned if they are still running; how many were.
    fn abandon_analyses(&self, ids: &[i64], now: i64) -> Result<u64, StoreError>;
    fn analysis(&self, id: i64)
    -> Result<Option<crate::quality::runs::AnalysisRecord>, StoreError>;
    /// A succeeded run's report, byte for byte as stored.
    fn analysis_report(&self, id: i64) -> Result<Option<String>, StoreError>;
    /// Runs, newest first, optionally of one status.
    fn analyses(
        &self,
        status: Option<crate::quality::runs::AnalysisStatus>,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<crate::quality::runs::AnalysisRecord>, StoreError>;
    /// Runs queued now.
    fn queued_analyses(&self) -> Result<u64, StoreError>;
    /// The score history, oldest first: one store's or every store's, with `as_of` at or
    /// after `since` (Unix seconds), at most `limit` points (the newest).
    fn score_history(
        &self,
        store: Option<&StoreId>,
        since: Option<i64>,
        limit: u32,
    ) -> Result<Vec<crate::quality::runs::ScorePoint>, StoreError>;
    /// Each store's live offers in the whole-store analyses before `as_of` (Unix seconds),
    /// newest first, at most `VOLUME_HISTORY` each: one indexed read per store.
    fn prior_volumes(
        &self,
        stores: &[StoreId],
        as_of: i64,
    ) -> Result<Vec<(StoreId, Vec<u64>)>, StoreError>;
}
