//! The ingest writer: one connection per run, one transaction per batch (or one transaction
//! rolled back at the end for a dry run). For each offer it reads the stored state, asks
//! `preciso_core::reconcile::decide`, and performs only the writes the decision needs.

use crate::bulk::{self, BulkLoad};
use crate::checkpoint::Checkpoints;
use crate::{SqliteCatalog, backend};
use preciso_core::best::EVERY_PRODUCT;
use preciso_core::domain::{
    Availability, IngestCounts, IngestFile, IngestStatus, Offer, category_key, fold_for_matching,
};
use preciso_core::ports::{IngestSession, NewIngestFile, StoreError};
use preciso_core::reconcile::{Decision, StoredOffer, UnwrittenThisRun};
use preciso_sql::best;
use preciso_sql::market::RunMarks;
use rusqlite::{Connection, OptionalExtension, Statement, params};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::HashMap;

/// Ledger id used by dry runs, which write no ledger row.
const DRY_RUN_FILE_ID: i64 = -1;

pub(crate) struct SqliteSession<'a> {
    catalog: &'a SqliteCatalog,
    /// Copies an initial load's commits into the database beside its batches; stopped when
    /// they end (`finish`). Not measured for other runs, which rewrite the same hot pages
    /// batch after batch (the reason for their 128 MB `wal_autocheckpoint`), so they have none.
    checkpoints: Option<Checkpoints>,
    conn: Connection,
    file_id: i64,
    dry_run: bool,
    /// Whether any batch inserted or updated offers (derived tables need a refresh).
    changed: bool,
    /// How its batches marked the market summary (whether its price analyses still hold).
    marks: RunMarks,
    /// An initial load into a catalog without offers (`crate::bulk`).
    bulk: Option<BulkLoad>,
    /// Products this run wrote or found stored (forgotten when a batch rolls back).
    products: FxHashSet<i64>,
    /// Offers this run found unchanged without writing (forgotten when a batch rolls back).
    unwritten: UnwrittenThisRun,
    /// A deliberate backfill (`NewIngestFile::backfill`).
    backfill: bool,
}

/// The offers table's secondary indexes. An initial load drops them (and the unique ones,
/// `crate::bulk`) and builds each once from sorted data at the end (far cheaper than
/// maintaining them row by row); `open` recreates any that a crashed load left missing.
/// `offers_price_change`, the last of them, is `crate::bulk::LAST_INDEX`.
pub(crate) const OFFER_INDEXES: [&str; 6] = [
    "CREATE INDEX IF NOT EXISTS offers_product
        ON offers(product_id, availability, category_key, currency, price_minor, id, store_id,
            brand_key)",
    "CREATE INDEX IF NOT EXISTS offers_store
        ON offers(store_id, currency, price_minor, product_id, availability, id, category_key)",
    "CREATE INDEX IF NOT EXISTS offers_category
        ON offers(category_key, currency, price_minor, product_id, store_id, availability,
            brand, brand_key, list_price_minor, prev_price_minor, rating_centi, review_count, id)",
    "CREATE INDEX IF NOT EXISTS offers_brand
        ON offers(brand_key, currency, price_minor, category_key, availability, product_id,
                store_id, prev_price_minor, rating_centi, review_count, id)",
    "CREATE INDEX IF NOT EXISTS offers_price
        ON offers(currency, price_minor, id, category_key, availability)",
    "CREATE INDEX IF NOT EXISTS offers_rating
        ON offers(currency, rating_centi DESC, review_count DESC, id, brand_key, store_id,
            price_minor, category_key)",
];

/// Product ids a run remembers having written or found, so a product's later offers need no
/// statement for it. Past this many it starts over: a forgotten product costs one `INSERT OR
/// IGNORE` (a duplicate row in an initial load, dropped at its end). 7/8 of 2^20 is as many as
/// a table of 2^20 slots holds (9.4 MB) before it doubles: at 2^20 ids the set took 18.9 MB.
const PRODUCTS_KEPT: usize = (1 << 20) / 8 * 7;

/// Page cache of the ingest connection (KiB). With rows appended in arrival order the hot
/// pages are the id indexes' (tens of MB at a million offers); a larger cache bought no speed
/// on the 1M benchmark and cost its size in resident memory (docs/BENCHMARKS.md).
const INGEST_CACHE_KIB: i64 = 32_768;

impl SqliteCatalog {
    pub(crate) fn start_session(
        &self,
        file: &NewIngestFile,
        dry_run: bool,
    ) -> Result<SqliteSession<'_>, StoreError> {
        let conn = Self::connect(&self.path)?;
        conn.pragma_update(None, "cache_size", -INGEST_CACHE_KIB).map_err(backend)?;
        // The file stays mapped (`configure`), as for every connection: mapped pages are page
        // cache, not this process's anonymous memory, and reads through the map copy nothing
        // (docs/DECISIONS.md, "Initial loads append").
        // Sorts of this connection (building indexes after an initial load) spill to temporary
        // files in runs of at most the cache size; in memory they held a whole index at once.
        conn.pragma_update(None, "temp_store", "FILE").map_err(backend)?;
        // Checkpoint every ~128 MB of WAL instead of 4 MB: pages a load rewrites many times are
        // copied into the database once per checkpoint, not once per batch. SQLite's 4 MB made
        // a 10M unchanged re-ingest faster (97.7 -> 71.5 s: every page fetched is looked up in
        // the WAL's index) but a 3M daily run that moves every offer slower (128-133 -> 143-149
        // s), and daily runs are the common case (docs/BENCHMARKS.md).
        conn.pragma_update(None, "wal_autocheckpoint", 32_768).map_err(backend)?;
        let bulk = if !dry_run && offers_empty(&conn).map_err(backend)? {
            Some(bulk::begin(&conn).map_err(backend)?)
        } else {
            // An initial load that died (or is still going, beside this run) left tables
            // without the unique indexes this run's writes and checks need.
            bulk::restore_indexes(&conn).map_err(backend)?;
            None
        };
        let clean_at_start = crate::stats::marked(&conn)?.is_none();
        let file_id = if dry_run {
            conn.execute_batch("BEGIN IMMEDIATE").map_err(backend)?;
            DRY_RUN_FILE_ID
        } else {
            insert_ledger_row(&conn, file).map_err(backend)?
        };
        Ok(SqliteSession {
            catalog: self,
            checkpoints: bulk.as_ref().and_then(|_| Checkpoints::beside(&conn)),
            conn,
            file_id,
            dry_run,
            changed: false,
            marks: RunMarks::new(clean_at_start),
            bulk,
            products: FxHashSet::default(),
            unwritten: UnwrittenThisRun::default(),
            backfill: file.backfill,
        })
    }
}

fn offers_empty(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row("SELECT NOT EXISTS (SELECT 1 FROM offers)", [], |r| r.get(0))
}

/// Creates the run's ledger row; earlier interrupted runs of the same content are superseded.
fn insert_ledger_row(conn: &Connection, file: &NewIngestFile) -> rusqlite::Result<i64> {
    conn.execute(
        "UPDATE ingest_files SET status = 'superseded' WHERE sha256 = ?1 AND status = 'running'",
        [&file.sha256],
    )?;
    conn.execute(
        "INSERT INTO ingest_files (name, sha256, size, store_id, received_at, status)
         VALUES (?1, ?2, ?3, ?4, ?5, 'running')",
        params![
            file.name,
            file.sha256,
            file.size as i64,
            file.store.as_ref().map(|s| s.as_str()),
            file.received_at
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

impl IngestSession for SqliteSession<'_> {
    fn file_id(&self) -> i64 {
        self.file_id
    }

    fn apply_batch(
        &mut self,
        offers: &[Offer],
        reader_counts: &IngestCounts,
    ) -> Result<IngestCounts, StoreError> {
        if self.dry_run {
            // One long transaction, rolled back in `finish`, so later batches see earlier ones.
            let run = RunState {
                products: &mut self.products,
                unwritten: &mut self.unwritten,
                backfill: self.backfill,
            };
            return write_batch(&self.conn, offers, self.file_id, reader_counts, run)
                .map_err(backend);
        }
        self.commit_batch(offers, reader_counts)
    }

    fn finish(
        mut self: Box<Self>,
        status: IngestStatus,
        error: Option<String>,
    ) -> Result<Option<IngestFile>, StoreError> {
        if self.dry_run {
            self.conn.execute_batch("ROLLBACK").map_err(backend)?;
            return Ok(None);
        }
        // The end's steps are few large transactions, each checkpointed by the writer as it
        // commits; checkpoints beside them only competed with the sorts and the search fill
        // for the second core (a 10M load's index builds 115 → 123 s).
        drop(self.checkpoints.take());
        // An initial load builds its indexes after its last batch (a killed one's are built
        // by the next open or run) while the search index fills beside, writes the repeats it
        // set aside, then puts the search index in place. The replay indexes the products it
        // writes as any run does, into an index still (nearly) empty: replayed into the filled
        // one, a 10M load's ~100k repeats took 26.8 s instead of 12.8, each commit running
        // part of the merges FTS5 owed the fill's segments (docs/BENCHMARKS.md).
        if self.bulk.take().is_some() {
            let search = bulk::complete(&self.conn).map_err(backend)?;
            crate::timed("repeats replayed", || self.replay_deferred())?;
            bulk::complete_search(&self.conn, search).map_err(backend)?;
        }
        let conn = &self.conn;
        if self.changed {
            crate::timed("category stats", || crate::stats::refresh_category_stats(conn))
                .map_err(backend)?;
            crate::timed("statistics", || crate::stats::analyze(conn)).map_err(backend)?;
        }
        // The market summary is computed on a second thread while best prices are refreshed.
        let prices_as_of = self.marks.prices_as_of(self.changed);
        crate::stats::refresh_market_beside(conn, prices_as_of, || {
            crate::timed("best prices", || crate::stats::refresh_product_best(conn))
                .map_err(backend)
        })?;
        crate::timed("trending", || crate::stats::refresh_trends(conn))?;
        // The run ends last: replicas drop their cached answers when they see it end
        // (`ingest_marker`), so every summary it refreshed is written by then.
        self.conn
            .execute(
                "UPDATE ingest_files SET status = ?1, error = ?2, finished_at = strftime('%s','now')
                 WHERE id = ?3",
                params![status.as_str(), error, self.file_id],
            )
            .map_err(backend)?;
        self.catalog.ingest_file(self.file_id).map(Some)
    }
}

impl SqliteSession<'_> {
    /// Writes one batch in its own transaction (an initial load's way while it lasts).
    fn commit_batch(
        &mut self,
        offers: &[Offer],
        reader_counts: &IngestCounts,
    ) -> Result<IngestCounts, StoreError> {
        let _turn = self.catalog.writes.enter();
        let (conn, file_id) = (&self.conn, self.file_id);
        let load = self.bulk.as_mut();
        let run = RunState {
            products: &mut self.products,
            unwritten: &mut self.unwritten,
            backfill: self.backfill,
        };
        let result = crate::transaction(
            conn,
            || {
                let counts = match load {
                    Some(load) => {
                        write_bulk_batch(conn, offers, file_id, reader_counts, run, load)?
                    }
                    None => write_batch(conn, offers, file_id, reader_counts, run)?,
                };
                add_ledger_counts(conn, file_id, &counts)?;
                if RunMarks::batch_marks(&counts) {
                    conn.execute(preciso_sql::market::MARK, [])?;
                }
                Ok(counts)
            },
            |e| e,
        );
        match result {
            Ok(counts) => {
                self.changed |= counts.inserted + counts.updated > 0;
                if RunMarks::batch_marks(&counts) {
                    self.marks.marked();
                }
                if self.bulk.is_some() {
                    // An appending load's committed pages are never read again (no index to
                    // keep): kept, they filled the cache and stayed resident to the run's end.
                    self.conn.execute_batch("PRAGMA shrink_memory").map_err(backend)?;
                }
                Ok(counts)
            }
            Err(e) => {
                // Products the batch wrote are gone with it.
                self.products.clear();
                self.unwritten.clear();
                Err(backend(e))
            }
        }
    }

    /// Writes the records an initial load set aside, in file order, now that the indexes
    /// exist; their counts go to the ledger like any batch's.
    fn replay_deferred(&mut self) -> Result<(), StoreError> {
        let mut after = 0;
        loop {
            let (offers, last) = bulk::deferred(&self.conn, after).map_err(backend)?;
            if offers.is_empty() {
                return Ok(());
            }
            self.commit_batch(&offers, &IngestCounts::default())?;
            after = last;
        }
    }
}

fn add_ledger_counts(conn: &Connection, file_id: i64, c: &IngestCounts) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "UPDATE ingest_files SET read = read + ?1, inserted = inserted + ?2, updated = updated + ?3,
             unchanged = unchanged + ?4, duplicate = duplicate + ?5, rejected = rejected + ?6
         WHERE id = ?7",
    )?;
    stmt.execute(params![
        c.read as i64,
        c.inserted as i64,
        c.updated as i64,
        c.unchanged as i64,
        c.duplicate as i64,
        c.rejected as i64,
        file_id
    ])?;
    Ok(())
}

/// What a run carries from batch to batch.
struct RunState<'a> {
    products: &'a mut FxHashSet<i64>,
    unwritten: &'a mut UnwrittenThisRun,
    backfill: bool,
}

fn write_batch(
    conn: &Connection,
    offers: &[Offer],
    file_id: i64,
    reader_counts: &IngestCounts,
    run: RunState<'_>,
) -> rusqlite::Result<IngestCounts> {
    let mut counts = reader_only(reader_counts);
    ensure_stores(conn, offers)?;
    // State written earlier in this batch, including "unchanged" offers that wrote nothing,
    // so an exact repeat inside the batch counts as a duplicate.
    let mut in_batch: FxHashMap<i64, (Option<i64>, StoredOffer)> =
        FxHashMap::with_capacity_and_hasher(offers.len(), Default::default());
    // Marks are written by every batch that touches a product, not once per run: another
    // run's refresh may take them between this run's batches.
    let mut marks = Marks { bulk: false, written: FxHashSet::default(), new_products: Vec::new() };
    // In id order, every B-tree keyed by offer id is walked forward once per batch instead of
    // at random; the sort is stable, so repeats of one offer keep their file order.
    let mut ordered: Vec<&Offer> = offers.iter().collect();
    ordered.sort_by_key(|o| o.id.as_i64());
    let mut lookup = conn.prepare_cached(LOAD_STORED)?;
    for offer in ordered {
        let id = offer.id.as_i64();
        let (row, stored) = match in_batch.get(&id) {
            Some((row, s)) => (*row, Some(s.clone())),
            None => load_stored(&mut lookup, id)?.unzip(),
        };
        let decision = run.unwritten.decide_row(row, stored.as_ref(), offer, file_id);
        decision.count(&mut counts);
        let arrival = decision.arrival(run.backfill);
        apply(conn, offer, decision, file_id, arrival, run.products, &mut marks)?;
        let after = state_after(stored, offer, decision, file_id);
        in_batch.insert(id, (row, after));
    }
    crate::search::index_products(conn, &marks.new_products)?;
    Ok(counts)
}

/// A batch's counts before its offers are written: what the reader read and rejected.
fn reader_only(reader_counts: &IngestCounts) -> IngestCounts {
    IngestCounts {
        read: reader_counts.read,
        rejected: reader_counts.rejected,
        ..Default::default()
    }
}

/// A batch of an initial load: each offer's first record appended (nothing stored can match
/// it), a record whose id the load may have seen set aside for `replay_deferred`.
fn write_bulk_batch(
    conn: &Connection,
    offers: &[Offer],
    file_id: i64,
    reader_counts: &IngestCounts,
    run: RunState<'_>,
    load: &mut BulkLoad,
) -> rusqlite::Result<IngestCounts> {
    let mut counts = reader_only(reader_counts);
    ensure_stores(conn, offers)?;
    let mut marks = Marks { bulk: true, written: FxHashSet::default(), new_products: Vec::new() };
    for offer in offers {
        if load.offers.check_and_insert(offer.id.as_i64()) {
            bulk::defer(conn, offer)?;
            continue;
        }
        let decision = run.unwritten.decide(None, offer, file_id);
        debug_assert!(matches!(decision, Decision::Insert));
        decision.count(&mut counts);
        let product = offer.product_id.as_i64();
        if remember_product(run.products, product) {
            upsert_product(conn, offer)?;
            // The search index gets every product at the load's end.
            if load.products.check_and_insert(product) || load.products_before {
                bulk::suspect(conn, product)?;
            }
        }
        insert_offer(conn, offer, file_id)?;
        marks.product(conn, product)?;
        if decision.appends_history() {
            append_history(conn, offer, decision.arrival(run.backfill))?;
        }
    }
    Ok(counts)
}

fn state_after(
    stored: Option<StoredOffer>,
    offer: &Offer,
    decision: Decision,
    file_id: i64,
) -> StoredOffer {
    match (decision, stored) {
        (Decision::Backfill | Decision::Unchanged { .. } | Decision::Duplicate, Some(mut s)) => {
            s.last_seen = s.last_seen.max(offer.observed_at);
            s.last_file_id = file_id;
            s
        }
        (_, stored) => StoredOffer {
            content_hash: offer.content_hash,
            price_minor: offer.price.minor,
            list_price_minor: offer.list_price.map(|m| m.minor),
            availability: offer.availability,
            last_seen: stored.map_or(offer.observed_at, |s| s.last_seen.max(offer.observed_at)),
            last_file_id: file_id,
        },
    }
}

/// Registers the batch's stores and moves each one's freshness (newest observation) forward.
fn ensure_stores(conn: &Connection, offers: &[Offer]) -> rusqlite::Result<()> {
    let mut newest: HashMap<&str, (&Offer, i64)> = HashMap::new();
    for offer in offers {
        let entry = newest.entry(offer.store.as_str()).or_insert((offer, offer.observed_at));
        entry.1 = entry.1.max(offer.observed_at);
    }
    let mut insert = conn.prepare_cached(
        "INSERT OR IGNORE INTO stores (id, name, currency, created_at)
         VALUES (?1, ?1, ?2, strftime('%s','now'))",
    )?;
    let mut fresher = conn.prepare_cached(preciso_sql::reads::STORE_SEEN)?;
    for (store, (offer, seen)) in newest {
        insert.execute(params![store, offer.price.currency.code()])?;
        fresher.execute(params![seen, store, seen])?;
    }
    Ok(())
}

const LOAD_STORED: &str = "SELECT content_hash, price_minor, list_price_minor, availability,
         last_seen, last_file_id, rowid
     FROM offers WHERE id = ?1";

/// The stored offer and its rowid (offers are never moved to another rowid: no VACUUM runs on
/// a catalog, only `VACUUM INTO` a copy), by which the run remembers it unchanged.
fn load_stored(stmt: &mut Statement<'_>, id: i64) -> rusqlite::Result<Option<(i64, StoredOffer)>> {
    // Read in place: this runs once per incoming offer, and owned copies of the hash and
    // the availability text were two allocations each time.
    stmt.query_row([id], |r| {
        let hash = r.get_ref(0)?.as_blob().ok().and_then(|h| h.try_into().ok());
        let stored = StoredOffer {
            content_hash: hash.unwrap_or([0; 32]),
            price_minor: r.get(1)?,
            list_price_minor: r.get(2)?,
            availability: Availability::from_db(r.get_ref(3)?.as_str().unwrap_or_default()),
            last_seen: r.get(4)?,
            last_file_id: r.get(5)?,
        };
        Ok((r.get(6)?, stored))
    })
    .optional()
}

#[allow(clippy::too_many_arguments)]
fn apply(
    conn: &Connection,
    offer: &Offer,
    decision: Decision,
    file_id: i64,
    arrival: i64,
    products: &mut FxHashSet<i64>,
    marks: &mut Marks,
) -> rusqlite::Result<()> {
    match decision {
        Decision::Insert => {
            ensure_product(conn, offer, products, marks)?;
            insert_offer(conn, offer, file_id)?;
            marks.product(conn, offer.product_id.as_i64())?;
        }
        Decision::Update { .. } => {
            ensure_product(conn, offer, products, marks)?;
            marks.previous_product(conn, offer)?;
            update_offer(conn, offer, file_id)?;
            marks.product(conn, offer.product_id.as_i64())?;
        }
        Decision::Unchanged { touch_last_seen } => {
            if touch_last_seen {
                touch(conn, offer, file_id)?;
            }
        }
        Decision::Duplicate | Decision::Backfill => {}
    }
    if decision.appends_history() {
        append_history(conn, offer, arrival)?;
    }
    // A changed price or a late observation may change the offer's drop; any change, what
    // its drop row is filtered by.
    if decision.moves_drop() {
        conn.prepare_cached(preciso_sql::reads::MARK_TREND)?.execute([offer.id.as_i64()])?;
    }
    Ok(())
}

/// Records in the batch's transaction which products' best-offer rows need a refresh. An
/// initial load marks `EVERY_PRODUCT` once per batch instead of each product: its refresh
/// rebuilds the whole summary anyway, and the mark survives a crash like any other.
struct Marks {
    bulk: bool,
    written: FxHashSet<i64>,
    /// Products the batch inserted, added to the search index at its end.
    new_products: Vec<i64>,
}

impl Marks {
    fn product(&mut self, conn: &Connection, product: i64) -> rusqlite::Result<()> {
        let mark = if self.bulk { EVERY_PRODUCT } else { product };
        if self.written.insert(mark) {
            conn.prepare_cached(best::MARK_PRODUCT)?.execute([mark])?;
        }
        Ok(())
    }

    /// The product an update moves the offer away from (run before the update; an initial
    /// load updates nothing until its replay, which runs as an ordinary batch).
    fn previous_product(&mut self, conn: &Connection, offer: &Offer) -> rusqlite::Result<()> {
        conn.prepare_cached(best::MARK_PREVIOUS_PRODUCT)?
            .execute(params![offer.id.as_i64(), offer.product_id.as_i64()])?;
        Ok(())
    }
}

/// Inserts the offer's product unless this run already wrote or found it (earlier in this
/// transaction or in a batch that committed; the set is emptied on a rollback). Products are
/// never changed once stored, so a known one needs no statement.
fn ensure_product(
    conn: &Connection,
    offer: &Offer,
    products: &mut FxHashSet<i64>,
    marks: &mut Marks,
) -> rusqlite::Result<()> {
    if remember_product(products, offer.product_id.as_i64()) && upsert_product(conn, offer)? {
        marks.new_products.push(offer.product_id.as_i64());
    }
    Ok(())
}

/// Whether the run did not know `product` yet (it does from now on).
fn remember_product(products: &mut FxHashSet<i64>, product: i64) -> bool {
    if products.len() >= PRODUCTS_KEPT {
        products.clear();
    }
    products.insert(product)
}

/// Whether the product was new.
fn upsert_product(conn: &Connection, offer: &Offer) -> rusqlite::Result<bool> {
    let mut stmt = conn.prepare_cached(
        "INSERT OR IGNORE INTO products (id, gtin, brand, title, category, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    stmt.execute(params![
        offer.product_id.as_i64(),
        offer.gtin.as_ref().map(|g| g.as_str()),
        offer.brand,
        offer.title,
        offer.category,
        offer.observed_at
    ])
    .map(|n| n > 0)
}

fn insert_offer(conn: &Connection, o: &Offer, file_id: i64) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO offers (id, store_id, sku, url, product_id, title, brand, category, gtin,
             image_url, price_minor, list_price_minor, currency, availability, rating_centi,
             review_count, first_seen, last_seen, content_hash, last_file_id, category_key,
             price_changed_at, brand_key)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?17,
             ?18, ?19, ?20, ?17, ?21)",
    )?;
    stmt.execute(params![
        o.id.as_i64(),
        o.store.as_str(),
        o.sku,
        o.url,
        o.product_id.as_i64(),
        o.title,
        o.brand,
        o.category,
        o.gtin.as_ref().map(|g| g.as_str()),
        o.image_url,
        o.price.minor,
        o.list_price.map(|m| m.minor),
        o.price.currency.code(),
        o.availability.as_str(),
        o.rating.map(|r| r.hundredths()),
        o.review_count,
        o.observed_at,
        &o.content_hash[..],
        file_id,
        o.category.as_deref().map(category_key),
        o.brand.as_deref().map(fold_for_matching)
    ])?;
    Ok(())
}

fn update_offer(conn: &Connection, o: &Offer, file_id: i64) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "UPDATE offers SET sku = ?2, url = ?3, product_id = ?4, title = ?5, brand = ?6,
             category = ?7, category_key = ?19, brand_key = ?20, gtin = ?8, image_url = ?9,
             prev_price_minor = CASE WHEN price_minor <> ?10 THEN price_minor
                                     ELSE prev_price_minor END,
             price_changed_at = CASE WHEN price_minor <> ?10 THEN ?16
                                     ELSE price_changed_at END,
             price_minor = ?10, list_price_minor = ?11,
             currency = ?12, availability = ?13, rating_centi = ?14, review_count = ?15,
             last_seen = max(last_seen, ?16), content_hash = ?17, last_file_id = ?18
         WHERE id = ?1",
    )?;
    stmt.execute(params![
        o.id.as_i64(),
        o.sku,
        o.url,
        o.product_id.as_i64(),
        o.title,
        o.brand,
        o.category,
        o.gtin.as_ref().map(|g| g.as_str()),
        o.image_url,
        o.price.minor,
        o.list_price.map(|m| m.minor),
        o.price.currency.code(),
        o.availability.as_str(),
        o.rating.map(|r| r.hundredths()),
        o.review_count,
        o.observed_at,
        &o.content_hash[..],
        file_id,
        o.category.as_deref().map(category_key),
        o.brand.as_deref().map(fold_for_matching)
    ])?;
    Ok(())
}

fn touch(conn: &Connection, o: &Offer, file_id: i64) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "UPDATE offers SET last_seen = max(last_seen, ?2), last_file_id = ?3 WHERE id = ?1",
    )?;
    stmt.execute(params![o.id.as_i64(), o.observed_at, file_id])?;
    Ok(())
}

fn append_history(conn: &Connection, o: &Offer, arrival: i64) -> rusqlite::Result<()> {
    // Two observations of one offer in the same second: the later record wins.
    let mut stmt = conn.prepare_cached(
        "INSERT OR REPLACE INTO price_history
             (offer_id, observed_at, price_minor, list_price_minor, currency, availability,
              arrival)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    stmt.execute(params![
        o.id.as_i64(),
        o.observed_at,
        o.price.minor,
        o.list_price.map(|m| m.minor),
        o.price.currency.code(),
        o.availability.as_str(),
        arrival
    ])?;
    Ok(())
}
