//! An initial load: the first run into a catalog without offers appends its rows to tables
//! without indexes and builds every index once, by sorting, at its end (docs/DECISIONS.md,
//! "Initial loads append"). Offer and product ids are 64-bit hashes: maintained row by row,
//! each unique index took every insert to a random page, and once those indexes outgrew the
//! page cache a batch rewrote thousands of pages (issue #20: 3M offers took 4.9× the time of
//! 1M).
//!
//! Without the offer id index the load cannot read back an offer it stored earlier, so a
//! record whose id it may have seen (a Bloom filter of the run's ids says so for every repeat
//! and ~0.01% of others) is set aside in a temporary table, in file order, and replayed through
//! the ordinary writer once the indexes exist. Every offer's first record is written here and
//! all its later records after, so each offer sees its records in file order, as a run that
//! wrote them one by one would. Products may be appended twice (a product's offers arrive in
//! many batches); the first row of each id is kept when its index is built. The search index
//! of every product the load appended is filled on a second thread while the other indexes
//! are built (`search::SideFill`) and put in place once the replay is done (`complete_search`;
//! the replay indexes the few products it writes itself, into a still empty index, and they
//! are indexed again with the fill's: replayed into the filled one, each replayed batch's
//! commit ran the merges FTS5 owed the fill's segments). The price
//! history, kept in (offer, time) order, is a plain table while the load appends and is ordered
//! once at its end (`rebuild_history`). A load killed
//! midway leaves tables without indexes: `restore_indexes` builds them when the catalog is next
//! opened, and the run, still `running` in the ledger, converges when its file is ingested
//! again (the records it set aside are read again then).

use crate::search;
use crate::session::OFFER_INDEXES;
use preciso_core::domain::{
    Availability, Currency, Gtin, Money, Offer, OfferId, ProductId, Rating, StoreId,
};
use rusqlite::{Connection, Row, params};

/// The unique indexes an initial load drops besides `OFFER_INDEXES`.
const UNIQUE_INDEXES: [&str; 2] = [
    "CREATE UNIQUE INDEX IF NOT EXISTS offers_id ON offers(id)",
    "CREATE UNIQUE INDEX IF NOT EXISTS products_id ON products(id)",
];

/// The price history's columns (migration 0033). Kept in (offer, time) order without a rowid;
/// an initial load appends to a plain table of these columns instead (each of its first
/// observations would land at a random place of the ordered one) and orders it at its end.
const HISTORY_COLUMNS: &str = "offer_id INTEGER NOT NULL REFERENCES offers(id),
    observed_at INTEGER NOT NULL, price_minor INTEGER NOT NULL, list_price_minor INTEGER,
    currency TEXT NOT NULL, availability TEXT NOT NULL, arrival INTEGER NOT NULL DEFAULT 0";

/// The index the end of a load builds last, in the transaction that adds its last products to
/// the search index: while it is missing, `restore_indexes` knows that end did not finish.
pub(crate) const LAST_INDEX: &str =
    "CREATE INDEX IF NOT EXISTS offers_price_change ON offers(price_changed_at)";

/// Products added to the search index per transaction when the end of a load fills it in place
/// (the next open or run after a killed load, a catalog in memory, or whenever the side fill
/// stepped aside).
const SEARCH_PART: i64 = 2_000_000;

/// Every index an initial load drops: those of `UNIQUE_INDEXES`, `OFFER_INDEXES` and the two on
/// expressions (`preciso_sql::VALUE_INDEX`, `DISCOUNT_INDEX`; no migration creates them: the
/// check at open does).
const DEFERRED_INDEXES: [&str; 11] = [
    "offers_product",
    "offers_value",
    "offers_discount",
    "offers_price",
    "offers_rating",
    "offers_store",
    "offers_category",
    "offers_brand",
    "offers_price_change",
    "offers_id",
    "products_id",
];

/// Records set aside per replayed transaction.
const REPLAY_BATCH: usize = 5000;

/// An initial load's state.
pub(crate) struct BulkLoad {
    /// Offer ids written or set aside.
    pub offers: SeenIds,
    /// Product ids appended.
    pub products: SeenIds,
    /// Whether the load began with products stored (after every offer was purged): then any
    /// product it appends may be one of them.
    pub products_before: bool,
}

/// Starts an initial load on the session's connection (outside any transaction): foreign keys
/// off (their parents' unique indexes are gone until the end) and the indexes dropped.
pub(crate) fn begin(conn: &Connection) -> rusqlite::Result<BulkLoad> {
    let no_products: bool =
        conn.query_row("SELECT NOT EXISTS (SELECT 1 FROM products)", [], |r| r.get(0))?;
    conn.execute_batch("PRAGMA foreign_keys = OFF")?;
    for name in DEFERRED_INDEXES {
        conn.execute_batch(&format!("DROP INDEX IF EXISTS {name}"))?;
    }
    crate::transaction(conn, || rebuild_history(conn, HistoryForm::Appended), |e| e)?;
    conn.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS bulk_repeats (
             seq INTEGER PRIMARY KEY, id INTEGER NOT NULL, store TEXT NOT NULL, sku TEXT,
             url TEXT, product_id INTEGER NOT NULL,
             title TEXT NOT NULL, brand TEXT, category TEXT, gtin TEXT, image_url TEXT,
             price_minor INTEGER NOT NULL, currency TEXT NOT NULL, list_price_minor INTEGER,
             availability TEXT NOT NULL, rating_centi INTEGER, review_count INTEGER,
             observed_at INTEGER NOT NULL, content_hash BLOB NOT NULL);
         DELETE FROM bulk_repeats;
         CREATE TEMP TABLE IF NOT EXISTS bulk_suspects (id INTEGER NOT NULL);
         DELETE FROM bulk_suspects;",
    )?;
    Ok(BulkLoad {
        offers: SeenIds::new(OFFER_FILTER),
        products: SeenIds::new(PRODUCT_FILTER),
        products_before: !no_products,
    })
}

/// Notes a product appended without certainty that it was new (in the batch's transaction).
pub(crate) fn suspect(conn: &Connection, product: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT INTO bulk_suspects (id) VALUES (?1)")?.execute([product])?;
    Ok(())
}

/// Ends the load's appending: products appended twice deduplicated, the search index's fill
/// started beside (`search::SideFill`), every index but `LAST_INDEX` built, foreign keys back
/// on. The caller then replays the records set aside and calls `complete_search` with the
/// fill.
pub(crate) fn complete(conn: &Connection) -> rusqlite::Result<Option<search::SideFill>> {
    build_indexes(conn, || {
        dedupe_products(conn, Dedupe::Suspects)?;
        order_history(conn)?;
        // Started after the history's sort, the longest and largest of the end's sorts: beside
        // it, a 10M load's peak anonymous memory came within 3 MB of the 150 MB bound.
        let fill = search::SideFill::start(conn)?;
        build_table_indexes(conn)?;
        Ok(fill)
    })
}

/// Puts the side fill's search index in place, with every product written since it began, or
/// (without one, or when it failed) adds every product the search index lacks; then
/// `LAST_INDEX`: the load's end is complete.
pub(crate) fn complete_search(
    conn: &Connection,
    fill: Option<search::SideFill>,
) -> rusqlite::Result<()> {
    build_indexes(conn, || {
        if let Some(fill) = fill
            && fill.finish(conn, LAST_INDEX)?
        {
            return Ok(());
        }
        build_search(conn)
    })
}

/// Builds whatever indexes a killed initial load left missing, and orders its history (at
/// open; a no-op otherwise).
pub(crate) fn restore_indexes(conn: &Connection) -> rusqlite::Result<()> {
    if let Some(catalog) = crate::catalog_file(conn) {
        search::remove_side_file(catalog);
    }
    if end_complete(conn)? {
        return Ok(());
    }
    build_indexes(conn, || {
        dedupe_products(conn, Dedupe::All)?;
        order_history(conn)?;
        build_table_indexes(conn)?;
        build_search(conn)
    })
}

/// Whether every deferred index exists and the history is ordered (the first missing index
/// answers).
fn end_complete(conn: &Connection) -> rusqlite::Result<bool> {
    for name in DEFERRED_INDEXES {
        if !index_exists(conn, name)? {
            return Ok(false);
        }
    }
    history_ordered(conn)
}

/// The two forms of the price history's table.
#[derive(Clone, Copy, PartialEq)]
enum HistoryForm {
    /// Keyed by (offer, time), without a rowid: what every read and later run uses.
    Ordered,
    /// A plain table an initial load appends to.
    Appended,
}

/// Whether the history is in its ordered form (its key shows as the table's `pk` index).
fn history_ordered(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM pragma_index_list('price_history') WHERE origin = 'pk')",
        [],
        |r| r.get(0),
    )
}

/// Moves the history into `form` unless it is there: a new table of that form filled from the
/// old one (ordered by its key when it has one: one sort, then appends) takes its name. Run
/// in a transaction with foreign keys off, as SQLite documents for rebuilding a table.
fn rebuild_history(conn: &Connection, form: HistoryForm) -> rusqlite::Result<()> {
    if history_ordered(conn)? == (form == HistoryForm::Ordered) {
        return Ok(());
    }
    let (table, order) = match form {
        HistoryForm::Ordered => (
            format!("({HISTORY_COLUMNS}, PRIMARY KEY (offer_id, observed_at)) WITHOUT ROWID"),
            " ORDER BY offer_id, observed_at",
        ),
        HistoryForm::Appended => (format!("({HISTORY_COLUMNS})"), ""),
    };
    conn.execute_batch(&format!(
        "CREATE TABLE price_history_next {table};
         INSERT INTO price_history_next (offer_id, observed_at, price_minor, list_price_minor,
             currency, availability, arrival)
             SELECT offer_id, observed_at, price_minor, list_price_minor, currency, availability,
                 arrival FROM price_history{order};
         DROP TABLE price_history;
         ALTER TABLE price_history_next RENAME TO price_history;"
    ))
}

fn index_exists(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?1)",
        [name],
        |r| r.get(0),
    )
}

/// Which products may have more than one row.
enum Dedupe {
    /// Those the load noted (`suspect`): ~0.1% of new ones, and those seen before.
    Suspects,
    /// Any: the load that would have noted them was killed.
    All,
}

/// Runs `build` with foreign keys off (a parent without its unique index cannot be written
/// under them) and turns them on again.
fn build_indexes<T>(
    conn: &Connection,
    build: impl FnOnce() -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    sorting(conn, || {
        conn.execute_batch("PRAGMA foreign_keys = OFF")?;
        let built = build();
        conn.execute_batch("PRAGMA foreign_keys = ON")?;
        built
    })
}

/// Helper threads of SQLite's sorter while whole indexes are built.
const SORT_THREADS: i64 = 1;

/// Runs `f`, which builds indexes by sorting, with a quarter of the page cache and a helper
/// thread for the sorter, then restores both. Each sorting thread may hold as much as the page
/// cache beside it, so the smaller cache keeps the builds within the ingest's memory bound,
/// while the helper sorts and merges runs in parallel. The 1M-offer category index (`sqlite3`,
/// docs/BENCHMARKS.md "Scale"): half the cache, no helper 2.26 s / 37 MB peak; half, two
/// helpers 1.70 s / 69 MB; a quarter, one helper 1.66 s / 28 MB.
pub(crate) fn sorting<T>(
    conn: &Connection,
    f: impl FnOnce() -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    let cache: i64 = conn.query_row("PRAGMA cache_size", [], |r| r.get(0))?;
    conn.pragma_update(None, "cache_size", cache / 4)?;
    conn.pragma_update(None, "threads", SORT_THREADS)?;
    let done = f();
    conn.pragma_update(None, "threads", 0)?;
    conn.pragma_update(None, "cache_size", cache)?;
    done
}

/// One step of the end of a load, in a transaction of its own, logged with its duration.
/// Each step commits apart: in one transaction, the WAL held every page the end of a load
/// wrote (gigabytes at 10M offers) and each page read back searched it (`walFindFrame`, perf of
/// a 10M load); committed, the next checkpoint (`wal_autocheckpoint`) empties it. A load killed
/// between steps leaves `LAST_INDEX` missing, so the next open runs them again (each is
/// idempotent: `IF NOT EXISTS`, products the search index lacks).
fn step(
    conn: &Connection,
    name: &str,
    f: &dyn Fn() -> rusqlite::Result<()>,
) -> rusqlite::Result<()> {
    crate::timed(name, || crate::transaction(conn, f, |e| e))
}

/// Keeps the first row of each product (in a step of its own) unless `products_id` exists.
fn dedupe_products(conn: &Connection, dedupe: Dedupe) -> rusqlite::Result<()> {
    if index_exists(conn, "products_id")? {
        return Ok(());
    }
    // Products never change once stored: the first row of an id is the product, and the only
    // one the search index may hold.
    step(conn, "products deduplicated", &|| {
        conn.execute_batch("DROP TRIGGER IF EXISTS products_search_delete")?;
        conn.execute_batch(match dedupe {
            Dedupe::Suspects => {
                "DELETE FROM products WHERE id IN (SELECT id FROM temp.bulk_suspects)
                     AND rowid NOT IN (SELECT min(rowid) FROM products
                         WHERE id IN (SELECT id FROM temp.bulk_suspects) GROUP BY id)"
            }
            Dedupe::All => {
                "DELETE FROM products WHERE rowid NOT IN
                     (SELECT min(rowid) FROM products GROUP BY id)"
            }
        })?;
        conn.execute_batch(search::DELETE_TRIGGER)
    })
}

/// Moves the history into its ordered form (in a step of its own).
fn order_history(conn: &Connection) -> rusqlite::Result<()> {
    step(conn, "history ordered", &|| rebuild_history(conn, HistoryForm::Ordered))
}

/// Builds every deferred index but `LAST_INDEX`.
fn build_table_indexes(conn: &Connection) -> rusqlite::Result<()> {
    let step = |name: &str, f: &dyn Fn() -> rusqlite::Result<()>| step(conn, name, f);
    let expressions = [preciso_sql::VALUE_INDEX, preciso_sql::DISCOUNT_INDEX];
    for sql in UNIQUE_INDEXES.iter().chain(&OFFER_INDEXES).chain(&expressions) {
        step(index_name(sql), &|| conn.execute_batch(sql))?;
    }
    Ok(())
}

/// Fills the search index in parts, the last with `LAST_INDEX`.
fn build_search(conn: &Connection) -> rusqlite::Result<()> {
    let step = |name: &str, f: &dyn Fn() -> rusqlite::Result<()>| step(conn, name, f);
    // Every product the load appended (also when another run built the indexes while it went
    // on: those it appended since are not indexed either).
    let rows: i64 =
        conn.query_row("SELECT coalesce(max(rowid), 0) FROM products", [], |r| r.get(0))?;
    let parts = search::id_ranges(rows, SEARCH_PART);
    let last = parts.len() - 1;
    for (i, &(low, high)) in parts.iter().enumerate() {
        step("search index part", &|| {
            search::index_missing_between(conn, low, high)?;
            if i == last { conn.execute_batch(LAST_INDEX) } else { Ok(()) }
        })?;
    }
    Ok(())
}

/// The name `CREATE [UNIQUE] INDEX IF NOT EXISTS name ON …` creates (for the log).
fn index_name(sql: &str) -> &str {
    sql.split_whitespace().skip_while(|w| *w != "EXISTS").nth(1).unwrap_or(sql)
}

/// Which ids this load has written or set aside: a Bloom filter over the ids themselves
/// (already uniform 64-bit hashes, so no hashing), grown by adding a filter half again the
/// size of the last whenever that one is full. A set of 10M ids took ~150 MB. Growing by half,
/// not by doubling into power-of-two tables, keeps less unused room, each filter sized exactly
/// (an id maps onto the filter's blocks by multiplication rather than by a mask).
///
/// Each filter is blocked: an id's bits all lie in one 64-byte block, one cache line, so a
/// check costs one cache miss per filter and the insert none more. Probes spread over the
/// whole filter cost a miss each once the filters outgrow the CPU's caches: 10M offer and
/// product ids checked and inserted took 3.3 s against 57 ms for 1M (`seen_ids_cost`, 14 + 10
/// probes), and `check_and_insert` rose from 6% to 8% of a 10M load's CPU as it went on
/// (docs/BENCHMARKS.md). A block holds the bits of ~21 ids at 24 bits an id, unevenly, so at
/// equal bits a blocked filter takes more ids for seen; the bits an id are raised to match.
///
/// An id is checked against every filter, so false positives add up as filters are added:
/// with 15 bits an id (~0.07% per full filter) a 10M load took 0.18% of its new offers for
/// seen (about 15,000, where a 1M load took ~50), and each was replayed through the ordinary
/// writer at the load's end, a dozen random index pages apiece: the replay took 12.8 s at 10M
/// against 0.05 s at 1M (docs/BENCHMARKS.md). Offers therefore get `OFFER_FILTER` (~0.005% per
/// full filter, ~40 MB at 10M ids); a product taken for seen only costs a row in
/// `bulk_suspects`, so products get fewer, `PRODUCT_FILTER` (~0.08% per full filter).
pub(crate) struct SeenIds {
    filters: Vec<Bloom>,
    size: FilterSize,
}

struct Bloom {
    /// The blocks: an anonymous map where the system gives one, so that a dropped filter
    /// leaves the process at once (mimalloc kept the freed filters of a 10M load, 69 MB,
    /// resident through the index builds that followed: peak RssAnon 156 MB) and the map is
    /// page-aligned, each block one cache line; huge pages asked for, so that probes across
    /// tens of MB do not each miss the TLB as well.
    bytes: Bytes,
    len: usize,
    capacity: usize,
}

/// One cache line of a filter (a block of a map starts on one).
type Block = [u8; 64];

enum Bytes {
    Mapped(memmap2::MmapMut),
    /// Where mapping failed (its blocks may straddle two cache lines).
    Heap(Vec<u8>),
}

impl Bytes {
    fn zeroed(len: usize) -> Self {
        match memmap2::MmapMut::map_anon(len) {
            Ok(map) => {
                // Only advice: without huge pages the filter works the same.
                #[cfg(target_os = "linux")]
                let _ = map.advise(memmap2::Advice::HugePage);
                Bytes::Mapped(map)
            }
            Err(e) => {
                tracing::debug!(error = %e, "Bloom filter not mapped; allocated");
                Bytes::Heap(vec![0; len])
            }
        }
    }

    fn blocks(&self) -> &[Block] {
        match self {
            Bytes::Mapped(map) => map.as_chunks().0,
            Bytes::Heap(v) => v.as_chunks().0,
        }
    }

    fn blocks_mut(&mut self) -> &mut [Block] {
        match self {
            Bytes::Mapped(map) => map.as_chunks_mut().0,
            Bytes::Heap(v) => v.as_chunks_mut().0,
        }
    }
}

/// Bits an id and bits set an id, of the offers' filters and of the products'. The probes are
/// the count that gives a 512-bit block the fewest false positives at those bits an id (~512/bits
/// ids a block, Poisson distributed).
#[derive(Clone, Copy)]
pub(crate) struct FilterSize {
    bits_per_id: usize,
    probes: u32,
}

pub(crate) const OFFER_FILTER: FilterSize = FilterSize { bits_per_id: 24, probes: 13 };
pub(crate) const PRODUCT_FILTER: FilterSize = FilterSize { bits_per_id: 16, probes: 10 };
// `mask` draws at most 14 positions from its two mixes.
const _: () = assert!(OFFER_FILTER.probes <= 14 && PRODUCT_FILTER.probes <= 14);
const FIRST_CAPACITY: usize = 1 << 20;

impl Bloom {
    fn with_capacity(capacity: usize, size: FilterSize) -> Self {
        let blocks = (capacity * size.bits_per_id).div_ceil(512).max(1);
        Bloom { bytes: Bytes::zeroed(blocks * size_of::<Block>()), len: 0, capacity }
    }

    /// The id's block: Lemire's multiply-shift of the id onto the blocks.
    fn block(id: u64, blocks: &[Block]) -> usize {
        ((u128::from(id) * blocks.len() as u128) >> 64) as usize
    }

    /// Whether every bit of `mask` is set in the id's block: without a branch, so that the
    /// loads of several filters are in flight at once.
    fn matches(&self, id: u64, mask: &Block) -> bool {
        let blocks = self.bytes.blocks();
        let block = &blocks[Self::block(id, blocks)];
        block.iter().zip(mask).fold(0, |missing, (b, m)| missing | (m & !b)) == 0
    }

    fn insert(&mut self, id: u64, mask: &Block) {
        let blocks = self.bytes.blocks_mut();
        let block = Self::block(id, blocks);
        for (b, m) in blocks[block].iter_mut().zip(mask) {
            *b |= m;
        }
        self.len += 1;
    }

    #[cfg(test)]
    fn size_in_bytes(&self) -> usize {
        size_of_val(self.bytes.blocks())
    }
}

/// An id's bits within a block (the same in every filter): `probes` (at most 14) 9-bit
/// positions taken from two mixes of the id (splitmix64's finalizer), which the block's choice
/// (the id's top bits) does not determine.
fn mask(id: u64, probes: u32) -> Block {
    let mix = |mut x: u64| {
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^ (x >> 31)
    };
    let halves = [mix(id), mix(id ^ 0x9E37_79B9_7F4A_7C15)];
    let mut mask = [0; 64];
    for i in 0..probes as usize {
        let p = (halves[i / 7] >> (9 * (i % 7))) as usize & 511;
        mask[p / 8] |= 1 << (p % 8);
    }
    mask
}

impl SeenIds {
    pub(crate) fn new(size: FilterSize) -> Self {
        SeenIds { filters: vec![Bloom::with_capacity(FIRST_CAPACITY, size)], size }
    }

    /// Whether `id` may have been seen; if not, it is from now on.
    pub(crate) fn check_and_insert(&mut self, id: i64) -> bool {
        let (id, mask) = (id as u64, mask(id as u64, self.size.probes));
        if self.filters.iter().fold(false, |seen, f| seen | f.matches(id, &mask)) {
            return true;
        }
        let last = self.filters.last().expect("at least one filter");
        if last.len >= last.capacity {
            let next = Bloom::with_capacity(last.capacity * 3 / 2, self.size);
            self.filters.push(next);
        }
        self.filters.last_mut().expect("at least one filter").insert(id, &mask);
        false
    }
}

/// Sets a record aside (in the batch's transaction: a rolled-back batch takes it back).
pub(crate) fn defer(conn: &Connection, o: &Offer) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO bulk_repeats (id, store, sku, url, product_id, title, brand, category, gtin,
             image_url, price_minor, currency, list_price_minor, availability, rating_centi,
             review_count, observed_at, content_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
             ?18)",
    )?
    .execute(params![
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
        o.price.currency.code(),
        o.list_price.map(|m| m.minor),
        o.availability.as_str(),
        o.rating.map(|r| r.hundredths()),
        o.review_count,
        o.observed_at,
        &o.content_hash[..],
    ])?;
    Ok(())
}

/// The records set aside after `after` (a sequence number), at most `REPLAY_BATCH`, in file
/// order, with the last one's sequence number.
pub(crate) fn deferred(conn: &Connection, after: i64) -> rusqlite::Result<(Vec<Offer>, i64)> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, id, store, sku, url, product_id, title, brand, category, gtin,
             image_url, price_minor, currency, list_price_minor, availability, rating_centi,
             review_count, observed_at, content_hash
         FROM bulk_repeats WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let mut last = after;
    let offers = stmt
        .query_map(params![after, REPLAY_BATCH as i64], |r| {
            last = r.get(0)?;
            offer_from_row(r)
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((offers, last))
}

fn offer_from_row(r: &Row<'_>) -> rusqlite::Result<Offer> {
    let invalid = |i: usize, e: String| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
    };
    let currency =
        Currency::parse(&r.get::<_, String>(12)?).map_err(|e| invalid(12, e.to_string()))?;
    let store = StoreId::parse(&r.get::<_, String>(2)?).map_err(|e| invalid(2, e.to_string()))?;
    let gtin = r
        .get::<_, Option<String>>(9)?
        .map(|g| Gtin::parse(&g))
        .transpose()
        .map_err(|e| invalid(9, e.to_string()))?;
    let rating = r
        .get::<_, Option<i64>>(15)?
        .map(Rating::from_hundredths)
        .transpose()
        .map_err(|e| invalid(15, e.to_string()))?;
    let hash: Vec<u8> = r.get(18)?;
    Ok(Offer {
        id: OfferId::from_i64(r.get(1)?),
        store,
        sku: r.get(3)?,
        url: r.get(4)?,
        product_id: ProductId::from_i64(r.get(5)?),
        title: r.get(6)?,
        brand: r.get(7)?,
        category: r.get(8)?,
        gtin,
        image_url: r.get(10)?,
        price: Money::new(r.get(11)?, currency),
        list_price: r.get::<_, Option<i64>>(13)?.map(|m| Money::new(m, currency)),
        availability: Availability::from_db(&r.get::<_, String>(14)?),
        rating,
        review_count: r.get(16)?,
        observed_at: r.get(17)?,
        content_hash: hash.try_into().map_err(|_| invalid(18, "not 32 bytes".into()))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids as the hashes they are (SHA-256 prefixes): random over the whole range. A
    /// multiplicative sequence (`i × φ`) spaces its top bits evenly, filling the blocks far more
    /// evenly than real ids and showing a third of their false positives.
    fn id(i: u64) -> i64 {
        // MurmurHash3's finalizer, a bijection: distinct ids.
        let mut x = i.wrapping_add(0x2545_F491_4F6C_DD1D);
        x = (x ^ (x >> 33)).wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        x = (x ^ (x >> 33)).wrapping_mul(0xC4CE_B9FE_1A85_EC53);
        (x ^ (x >> 33)) as i64
    }

    #[test]
    fn seen_ids_never_forget_and_rarely_invent() {
        let n = FIRST_CAPACITY as u64 * 4;
        // Per ten thousand new ids said seen, at most: the offers' filter keeps the replay of
        // a large load small (a 3M load: 154 of offers, 2,257 of products, by
        // `seen_ids_cost`).
        for (size, per_10k) in [(OFFER_FILTER, 2), (PRODUCT_FILTER, 30)] {
            let mut seen = SeenIds::new(size);
            let mut false_positives = 0;
            for i in 0..n {
                false_positives += seen.check_and_insert(id(i)) as u64;
            }
            assert!(seen.filters.len() >= 3, "grew past its first capacity");
            assert!(
                false_positives * 10_000 < n * per_10k,
                "{} bits: {false_positives} of {n} new ids said seen",
                size.bits_per_id
            );
            assert!((0..n).all(|i| seen.check_and_insert(id(i))), "every inserted id is seen");
        }
    }

    #[test]
    fn a_filter_on_the_heap_answers_as_a_mapped_one() {
        let size = OFFER_FILTER;
        let mapped = Bloom::with_capacity(10_000, size);
        let blocks = mapped.bytes.blocks().len();
        assert!(matches!(mapped.bytes, Bytes::Mapped(_)), "this system maps a filter");
        let heap = Bloom { bytes: Bytes::Heap(vec![0; blocks * 64]), len: 0, capacity: 10_000 };
        let mut answers = Vec::new();
        for mut filter in [mapped, heap] {
            let mut said = Vec::new();
            for i in 0..20_000 {
                let (h, m) = (id(i) as u64, mask(id(i) as u64, size.probes));
                said.push(filter.matches(h, &m));
                if i % 2 == 0 {
                    filter.insert(h, &m);
                }
            }
            assert!((0..20_000).step_by(2).all(|i| {
                let h = id(i) as u64;
                filter.matches(h, &mask(h, size.probes))
            }));
            answers.push(said);
        }
        assert_eq!(answers[0], answers[1]);
    }

    /// What a load's filters cost: `cargo test --release -p preciso-store-sqlite seen_ids_cost
    /// -- --ignored --nocapture` (docs/BENCHMARKS.md). Not a timed assertion: a measurement.
    #[test]
    #[ignore = "a measurement, run by hand in release"]
    fn seen_ids_cost() {
        for n in [1_000_000u64, 3_000_000, 10_000_000] {
            let started = std::time::Instant::now();
            let (mut offers, mut products) =
                (SeenIds::new(OFFER_FILTER), SeenIds::new(PRODUCT_FILTER));
            let mut said_seen = [0u64; 2];
            for i in 0..n {
                said_seen[0] += offers.check_and_insert(id(i)) as u64;
                said_seen[1] += products.check_and_insert(id(i + (1 << 40))) as u64;
            }
            let bytes: usize = [&offers, &products]
                .iter()
                .flat_map(|s| &s.filters)
                .map(Bloom::size_in_bytes)
                .sum();
            println!(
                "{n} ids: {:.3} s, {} + {} said seen, {:.1} MB",
                started.elapsed().as_secs_f64(),
                said_seen[0],
                said_seen[1],
                bytes as f64 / 1e6
            );
        }
    }
}
