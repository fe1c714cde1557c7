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
use preciso_core::domain::Offer;
use preciso_seen::{OFFER_FILTER, PRODUCT_FILTER, SeenIds};
use rusqlite::{Connection, params};

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
    // This connection sorts in memory (`temp_store = MEMORY`), where a whole index's sort would
    // be held at once: the builds spill to temporary files, as a load's session does. (A fresh
    // connection: changing the setting drops temporary tables, and it has none.)
    let temp_store: i64 = conn.query_row("PRAGMA temp_store", [], |r| r.get(0))?;
    conn.pragma_update(None, "temp_store", "FILE")?;
    let built = build_indexes(conn, || {
        dedupe_products(conn, Dedupe::All)?;
        order_history(conn)?;
        build_table_indexes(conn)?;
        build_search(conn)
    });
    conn.pragma_update(None, "temp_store", temp_store)?;
    built
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
    let mut stmt = conn.prepare_cached(preciso_sql::repeats::AFTER)?;
    let mut last = after;
    let offers = stmt
        .query_map(params![after, REPLAY_BATCH as i64], |r| {
            last = r.get(0)?;
            preciso_sql::repeats::offer_from_row(&crate::SqliteRow(r))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok((offers, last))
}
