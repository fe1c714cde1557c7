//! Derived tables refreshed after ingest: `category_stats` (median price per category and
//! currency) and `product_best` (the best-offer summary of `preciso_core::best`). Medians are
//! read by offset along the (category_key, currency, price) index, so a refresh touches each
//! group's index entries once and sorts nothing.

use preciso_core::best::{BestRow, EVERY_PRODUCT, OfferPrice, ProductStream, ScopeTally};
use preciso_core::ports::StoreError;
use preciso_sql::best;
use rusqlite::{Connection, params};
use rustc_hash::FxHashSet;

/// Recomputes each category's median price per currency (`category_stats`), and marks the
/// market summary in the same transaction: its value lists were ranked with the medians
/// replaced here, and another rebuild may have cleared the run's own marks meanwhile.
pub(crate) fn refresh_category_stats(conn: &Connection) -> rusqlite::Result<()> {
    let marked = || conn.execute(preciso_sql::market::MARK, []).map(drop);
    crate::transaction(conn, || rebuild(conn).and_then(|()| marked()), |e| e)
}

/// Rebuilds the summary rows of the products marked dirty, in one transaction with clearing
/// the marks. When most products are dirty (an initial load) every row is rebuilt in one pass.
pub(crate) fn refresh_product_best(conn: &Connection) -> rusqlite::Result<()> {
    crate::transaction(conn, || rebuild_best(conn), |e| e)
}

/// Recomputes the trending drops of the offers ingest marked (`preciso_sql::trend`).
pub(crate) fn refresh_trends(conn: &Connection) -> Result<u64, StoreError> {
    crate::transaction(
        conn,
        || preciso_sql::trend::refresh(&mut crate::identity::SqliteTx(conn)),
        crate::backend,
    )
}

/// The summary's page index (migration 0013), dropped while a full rebuild refills the table
/// and built once after: one sort instead of a random B-tree insert per row.
const ORDER_INDEX: &str = "CREATE INDEX IF NOT EXISTS product_best_order
    ON product_best(scope, currency, price_minor, offer_id)";

fn rebuild_best(conn: &Connection) -> rusqlite::Result<()> {
    let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0));
    let dirty = count(best::DIRTY_COUNT)?;
    if dirty == 0 {
        return Ok(());
    }
    let every_product: bool = conn.query_row(best::IS_MARKED, [EVERY_PRODUCT], |r| r.get(0))?;
    let mut tally = ScopeTally::default();
    if every_product || dirty * 2 > count(best::PRODUCT_COUNT)? {
        conn.execute_batch("DROP INDEX IF EXISTS product_best_order")?;
        conn.execute(best::DELETE_ALL_ROWS, [])?;
        conn.execute(best::DELETE_ALL_SCOPES, [])?;
        let mut insert = conn.prepare(best::INSERT_ROW)?;
        // Products stream in id order, the table's key order: every row is an append.
        match reader_beside(conn) {
            Some(reader) => {
                tally = stream_beside(reader, &best::all_offers(), |rows| {
                    write_rows(&mut insert, rows)
                })?;
            }
            None => stream_rows(conn, &best::all_offers(), |_, rows| {
                rows.iter().for_each(|r| tally.count(r, 1));
                write_rows(&mut insert, &rows)
            })?,
        }
        // One sort of every row, as a load builds its indexes.
        crate::bulk::sorting(conn, || conn.execute_batch(ORDER_INDEX))?;
    } else {
        let mut refresh = Refresh::new(conn)?;
        let mut seen = FxHashSet::default();
        stream_rows(conn, &best::dirty_offers(), |product, rows| {
            seen.insert(product);
            refresh.product(product, rows, &mut tally)
        })?;
        // Dirty products with no buyable offer left produced no rows: theirs go.
        let dirty: Vec<i64> = conn
            .prepare(best::DIRTY_PRODUCTS)?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for product in dirty.into_iter().filter(|p| !seen.contains(p)) {
            refresh.product(product, Vec::new(), &mut tally)?;
        }
    }
    let mut add = conn.prepare(best::ADD_TO_SCOPE)?;
    for ((scope, currency), (products, offers)) in &tally.0 {
        add.execute(params![scope, currency, products, offers])?;
    }
    conn.execute(best::DROP_EMPTY_SCOPES, [])?;
    conn.execute(best::CLEAR_DIRTY, [])?;
    Ok(())
}

/// A partial refresh: each dirty product's stored rows against its recomputed ones, writing
/// only the differences (a price that changed but was not the product's best changes none).
struct Refresh<'c> {
    current: rusqlite::Statement<'c>,
    upsert: rusqlite::Statement<'c>,
    delete: rusqlite::Statement<'c>,
}

impl<'c> Refresh<'c> {
    fn new(conn: &'c Connection) -> rusqlite::Result<Self> {
        Ok(Refresh {
            current: conn.prepare(best::PRODUCT_ROWS)?,
            upsert: conn.prepare(best::UPSERT_ROW)?,
            delete: conn.prepare(best::DELETE_ROW)?,
        })
    }

    fn product(
        &mut self,
        product: i64,
        rows: Vec<BestRow>,
        tally: &mut ScopeTally,
    ) -> rusqlite::Result<()> {
        let old: Vec<BestRow> = self
            .current
            .query_map([product], |r| {
                Ok(BestRow {
                    scope: r.get(0)?,
                    product_id: product,
                    currency: r.get(1)?,
                    price_minor: r.get(2)?,
                    offer_id: r.get(3)?,
                    offers: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        let changes = preciso_core::best::changes(&old, rows, tally);
        for (scope, currency) in &changes.deletes {
            self.delete.execute(params![scope, product, currency])?;
        }
        write_rows(&mut self.upsert, &changes.upserts)
    }
}

/// Streams `source`'s offers (in product order) into summary rows, one product at a time.
fn stream_rows(
    conn: &Connection,
    source: &str,
    mut write: impl FnMut(i64, Vec<BestRow>) -> rusqlite::Result<()>,
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare(source)?;
    let mut rows = stmt.query([])?;
    let mut stream = ProductStream::default();
    let mut emit = |rows: Vec<BestRow>| match rows.first().map(|r| r.product_id) {
        Some(product) => write(product, rows),
        None => Ok(()),
    };
    while let Some(r) = rows.next()? {
        let offer = OfferPrice {
            offer_id: r.get(1)?,
            category_key: r.get(2)?,
            currency: r.get(3)?,
            price_minor: r.get(4)?,
        };
        emit(stream.push(r.get(0)?, offer))?;
    }
    emit(stream.finish())
}

/// A read connection of its own to the catalog `conn` writes (none in memory). Opened inside
/// `conn`'s write transaction before that wrote any offer, it reads what `conn` sees: no other
/// connection can commit until `conn` does.
fn reader_beside(conn: &Connection) -> Option<Connection> {
    crate::SqliteCatalog::connect_read_only(crate::catalog_file(conn)?).ok()
}

/// Summary rows handed to the writer at a time.
const ROWS_PER_HANDOFF: usize = 4096;

/// `stream_rows` on a second thread reading through `reader`, its rows handed in order to
/// `write` on this one (and counted there, on the reading thread): a full rebuild's reads and
/// its rows' computation (a fifth of its time by `perf` at 1M offers) overlap its writes.
fn stream_beside(
    reader: Connection,
    source: &str,
    mut write: impl FnMut(&[BestRow]) -> rusqlite::Result<()>,
) -> rusqlite::Result<ScopeTally> {
    let (handoff, rows) = std::sync::mpsc::sync_channel::<Vec<BestRow>>(8);
    std::thread::scope(|threads| {
        let reading = threads.spawn(move || {
            let mut tally = ScopeTally::default();
            let mut batch = Vec::with_capacity(ROWS_PER_HANDOFF);
            stream_rows(&reader, source, |_, product_rows| {
                product_rows.iter().for_each(|r| tally.count(r, 1));
                batch.extend(product_rows);
                if batch.len() >= ROWS_PER_HANDOFF {
                    handoff.send(std::mem::take(&mut batch)).map_err(|_| writer_gone())?;
                }
                Ok(())
            })?;
            handoff.send(batch).map_err(|_| writer_gone())?;
            Ok(tally)
        });
        let written = rows.iter().try_for_each(|batch| write(&batch));
        // A failed write drops the receiver, which stops the reader at its next hand-off.
        drop(rows);
        let read = reading.join().unwrap_or_else(|_| Err(writer_gone()));
        written.and(read)
    })
}

/// What the reading thread of `stream_beside` returns when the writer stopped taking rows.
fn writer_gone() -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT),
        Some("the summary's writer stopped".into()),
    )
}

fn write_rows(stmt: &mut rusqlite::Statement<'_>, rows: &[BestRow]) -> rusqlite::Result<()> {
    for r in rows {
        stmt.execute(params![
            r.scope,
            r.product_id,
            r.currency,
            r.price_minor,
            r.offer_id,
            r.offers
        ])?;
    }
    Ok(())
}

fn rebuild(conn: &Connection) -> rusqlite::Result<()> {
    let groups: Vec<(String, String, i64)> = {
        let mut stmt = conn.prepare(
            "SELECT category_key, currency, count(*) FROM offers
             WHERE category_key IS NOT NULL GROUP BY category_key, currency",
        )?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<Result<_, _>>()?
    };
    conn.execute("DELETE FROM category_stats", [])?;
    let mut nth = conn.prepare(
        "SELECT price_minor FROM offers WHERE category_key = ?1 AND currency = ?2
         ORDER BY price_minor LIMIT 1 OFFSET ?3",
    )?;
    let mut insert = conn.prepare(
        "INSERT INTO category_stats (category_key, currency, offers, median_minor) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (key, currency, n) in groups {
        let lower: i64 = nth.query_row(params![key, currency, (n - 1) / 2], |r| r.get(0))?;
        let upper: i64 = nth.query_row(params![key, currency, n / 2], |r| r.get(0))?;
        // Mean of the two middle values, rounded half up, like the API's statistics.
        let median = preciso_core::domain::Money::midpoint(lower, upper);
        insert.execute(params![key, currency, n, median])?;
    }
    Ok(())
}

/// Rebuilds the market summary (`preciso_core::market`) from one scan of the offers, in one
/// write transaction with the scan.
pub(crate) fn refresh_market(conn: &Connection) -> Result<(), StoreError> {
    crate::transaction(conn, || rebuild_market(conn), crate::backend)
}

/// The same inside the caller's write transaction.
pub(crate) fn rebuild_market(conn: &Connection) -> Result<(), StoreError> {
    let build = compute_market(conn)?;
    write_market(conn, &build, false)
}

/// The market summary as folded from the offers, not yet written.
struct MarketBuild {
    /// The stale mark's generation when the offers were read: the write clears the mark only
    /// at it.
    generation: Option<i64>,
    market: preciso_core::market::Market,
    /// Each currency's value list, ranked from the same offers.
    value_lists: Vec<(String, Vec<i64>)>,
}

/// Reads the offers and folds the summary, writing nothing: the offers in table order, then
/// their prices along the `offers_product` index (product order, no sort, no table lookups).
/// Run in one read transaction (or the caller's write transaction), so both scans see the
/// same offers.
fn compute_market(conn: &Connection) -> Result<MarketBuild, StoreError> {
    use preciso_core::market::{MarketFold, MarketRow, PriceRow};
    let generation = marked(conn)?;
    let mut fold = MarketFold::default();
    scan(conn, preciso_sql::market::SCAN, [], &mut |r| {
        let t = |i: usize| r.get_ref(i).and_then(|v| Ok(v.as_str_or_null()?));
        fold.push(MarketRow {
            offer: r.get(8)?,
            store: t(0)?.unwrap_or(""),
            brand: t(6)?,
            brand_key: t(7)?,
            category: t(1)?,
            category_key: t(2)?,
            currency: t(3)?.unwrap_or(""),
            last_seen: r.get(4)?,
            in_stock: t(5)? == Some("in_stock"),
            price_minor: r.get(9)?,
        });
        Ok(())
    })
    .map_err(crate::backend)?;
    scan(conn, preciso_sql::market::PRICE_SCAN, [], &mut |r| {
        let t = |i: usize| r.get_ref(i).and_then(|v| Ok(v.as_str_or_null()?));
        fold.push_price(PriceRow {
            product_id: r.get(0)?,
            brand_key: t(5)?,
            category_key: t(6)?,
            currency: t(1)?.unwrap_or(""),
            store: t(2)?.unwrap_or(""),
            price_minor: r.get(3)?,
            buyable: t(4)? != Some("out_of_stock"),
        });
        Ok(())
    })
    .map_err(crate::backend)?;
    let market = fold.finish();
    let value_lists = value_lists(conn, &market).map_err(crate::backend)?;
    Ok(MarketBuild { generation, market, value_lists })
}

/// Each currency's value list (`preciso_sql::market::VALUE_KEPT` best offers by value score),
/// ranked by the listing's own walk of the value index (`read::value_ranks`) over the offers
/// `market` was folded from; a currency whose walk gives up for a sort gets no list (its
/// listing then walks or sorts, as before), and so does every currency while the value index
/// is missing (an initial load that died before building it: each walk would sort).
fn value_lists(
    conn: &Connection,
    market: &preciso_core::market::Market,
) -> rusqlite::Result<Vec<(String, Vec<i64>)>> {
    use preciso_core::query::{OfferFilter, Sort};
    use preciso_sql::market::{VALUE_LIST_PAGE, value_list_currencies};
    if !crate::read::index_exists(conn, "offers_value")? {
        return Ok(Vec::new());
    }
    let mut lists = Vec::new();
    for (currency, total) in value_list_currencies(market) {
        let filter = OfferFilter { currency: Some(currency), ..Default::default() };
        let who = preciso_core::ports::Personalization::default();
        let ranks =
            crate::read::value_ranks(conn, &filter, Sort::Value, VALUE_LIST_PAGE, who, total)?;
        if let Some(ranks) = ranks {
            lists.push((currency.code().to_string(), ranks.iter().map(|r| r.id).collect()));
        }
    }
    Ok(lists)
}

/// Writes a folded summary, then each category's price analysis, computed and written a path
/// at a time (an analysis holds its histograms: tens of KB each), in the caller's write
/// transaction. `prices_kept`: the stored analyses are still those of the offers' prices, and
/// stay.
fn write_market(
    conn: &Connection,
    build: &MarketBuild,
    prices_kept: bool,
) -> Result<(), StoreError> {
    let tx = &mut crate::identity::SqliteTx(conn);
    preciso_sql::market::write(tx, &build.market, build.generation)?;
    preciso_sql::market::write_value_lists(tx, &build.value_lists)?;
    if prices_kept {
        return Ok(());
    }
    crate::timed("price analysis", || rebuild_price_analysis(conn, &build.market))
}

/// Runs `beside` on `conn` (the best prices' refresh, at the end of a run) while a connection
/// of its own folds the market summary, if it is marked stale, on a second thread; then writes
/// it on `conn`. Both only read the offers, and the fold sees them in one read transaction;
/// the end of a run was one core's work, and at 10M offers the summary took 14–18 s of it.
/// The fold is written only if no other connection committed since before it began (`PRAGMA
/// data_version` of `conn`, which its own commits leave alone): else the summary is rebuilt in
/// the write transaction, as before, so an older fold never replaces a newer summary. Without
/// a file (in memory), a reader or a thread, one after the other.
///
/// `prices_as_of`: the summary's mark at which the stored price analyses still hold — the
/// run's own batches' marks when it changed no offer's price, store, brand or category and
/// found the summary clean (`RunMarks`). If the mark is exactly that when the fold is written,
/// no other writer marked it meanwhile and the analyses stay (re-reading every category's
/// prices was 0.62 s of a 1M unchanged re-ingest's 6.6 s).
pub(crate) fn refresh_market_beside<T>(
    conn: &Connection,
    prices_as_of: Option<i64>,
    beside: impl FnOnce() -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    if marked(conn)?.is_none() {
        return beside();
    }
    let Some(reader) = reader_beside(conn) else {
        return one_after_other(conn, beside);
    };
    let before = data_version(conn)?;
    std::thread::scope(|threads| {
        let computed = std::thread::Builder::new()
            .name("market-summary".into())
            .spawn_scoped(threads, move || {
                crate::timed("market summary computed beside", || in_one_read(&reader))
            });
        let Ok(computed) = computed else {
            return one_after_other(conn, beside);
        };
        let done = beside();
        let build = computed.join().unwrap_or_else(|_| {
            Err(StoreError::Backend("the market summary's thread panicked".into()))
        });
        let done = done?;
        let build = build?;
        crate::timed("market summary written", || {
            crate::transaction(
                conn,
                || {
                    if data_version(conn)? == before {
                        let kept = prices_as_of.is_some() && marked(conn)? == prices_as_of;
                        write_market(conn, &build, kept)
                    } else {
                        rebuild_market(conn)
                    }
                },
                crate::backend,
            )
        })?;
        Ok(done)
    })
}

/// The market summary refreshed on `conn`, then `beside` run there.
fn one_after_other<T>(
    conn: &Connection,
    beside: impl FnOnce() -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    crate::timed("market summary", || refresh_market(conn))?;
    beside()
}

/// `PRAGMA data_version`: changes when another connection commits to the database.
fn data_version(conn: &Connection) -> Result<i64, StoreError> {
    conn.query_row("PRAGMA data_version", [], |r| r.get(0)).map_err(crate::backend)
}

/// `compute_market` in one read transaction of `reader`.
fn in_one_read(reader: &Connection) -> Result<MarketBuild, StoreError> {
    reader.execute_batch("BEGIN").map_err(crate::backend)?;
    let build = compute_market(reader);
    reader.execute_batch("COMMIT").map_err(crate::backend)?;
    build
}

/// Steps through `sql`'s rows (the statement cached: the rebuild runs once per key).
fn scan(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    each: &mut dyn FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<()>,
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    while let Some(r) = rows.next()? {
        each(r)?;
    }
    Ok(())
}

/// Every category path's price analysis in each currency (`preciso_core::analysis::category`),
/// a path at a time: each of its keys' offers a seek into the covering category index.
fn rebuild_price_analysis(
    conn: &Connection,
    market: &preciso_core::market::Market,
) -> Result<(), StoreError> {
    use preciso_core::analysis::category::{Names, PathPrices, plan};
    use preciso_sql::price_analysis::{CLEAR, KEY_PRICES, write};
    let counts = market.category_offers.iter();
    let plan = plan(counts.map(|c| (c.currency.as_str(), c.category_key.as_str(), c.offers)))
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    conn.execute(CLEAR, []).map_err(crate::backend)?;
    let mut names = Names::default();
    for path in plan {
        let mut prices = PathPrices::new(&mut names, path.offers);
        for key in &path.keys {
            scan(conn, KEY_PRICES, [key.as_str(), path.currency.code()], &mut |r| {
                let text = |i| r.get_ref(i).and_then(|v| Ok(v.as_str_or_null()?));
                prices.push(text(0)?.unwrap_or(""), text(1)?, r.get(2)?);
                Ok(())
            })
            .map_err(crate::backend)?;
        }
        if let Some(a) = prices.finish(&path.path, path.currency) {
            write(&mut crate::identity::SqliteTx(conn), &[a])?;
        }
    }
    Ok(())
}

/// The mark's generation, if the summary is marked stale.
pub(crate) fn marked(conn: &Connection) -> Result<Option<i64>, StoreError> {
    use rusqlite::OptionalExtension;
    conn.query_row(preciso_sql::market::GENERATION, [], |r| r.get(0))
        .optional()
        .map_err(crate::backend)
}

/// Rebuilds the market summary when it is marked stale (`market_dirty`): at the end of a run
/// whose batches read offers, and when a catalog opens after a run that died before that.
pub(crate) fn refresh_market_if_marked(conn: &Connection) -> Result<(), StoreError> {
    if marked(conn)?.is_some() { refresh_market(conn) } else { Ok(()) }
}

/// Samples the tables' indexes into `sqlite_stat1` (at most 1,000 rows per index: milliseconds
/// at any size), so the planner knows a store holds tens of thousands of offers and a product a
/// few: without statistics it read a store's whole index once per product of a store-filtered
/// best-prices page (0.6 s at 1M offers; 0.07–0.1 s with them, docs/BENCHMARKS.md).
pub(crate) fn analyze(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch("PRAGMA analysis_limit = 1000; ANALYZE;")
}

/// `analyze` when an index has no statistics: a catalog that predates them, or an index a
/// migration (re)created since the last analysis.
pub(crate) fn analyze_if_missing(conn: &Connection) -> rusqlite::Result<()> {
    let has_stats: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1')",
        [],
        |r| r.get(0),
    )?;
    let unanalysed = || -> rusqlite::Result<i64> {
        conn.query_row(
            "SELECT count(*) FROM sqlite_master m
             WHERE m.type = 'index' AND m.tbl_name = 'offers' AND m.sql IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM sqlite_stat1 s WHERE s.idx = m.name)",
            [],
            |r| r.get(0),
        )
    };
    if !has_stats || unanalysed()? > 0 { analyze(conn) } else { Ok(()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader of a file holding `products` offers in the shape `stream_rows` reads, one
    /// offer a product, each in category `a/b` (three scopes: three rows a product).
    fn reader(dir: &std::path::Path, products: i64) -> (Connection, String) {
        let path = dir.join("offers.sqlite");
        let c = Connection::open(&path).unwrap();
        c.execute_batch(
            "CREATE TABLE t (product_id INTEGER, id INTEGER, category_key TEXT, currency TEXT,
                 price_minor INTEGER);",
        )
        .unwrap();
        c.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
             INSERT INTO t SELECT i, i * 10, 'a/b', 'COP', i * 100 FROM n",
            [products],
        )
        .unwrap();
        let source = "SELECT product_id, id, category_key, currency, price_minor FROM t
                      ORDER BY product_id";
        (Connection::open(&path).unwrap(), source.to_string())
    }

    /// The rows reach the writer in product order, every one, across many hand-offs (more
    /// than the channel holds), and the tally counts them.
    #[test]
    fn rows_streamed_beside_arrive_in_order_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let products = 20_000;
        let (reader, source) = reader(dir.path(), products);
        let mut seen = Vec::new();
        let tally = stream_beside(reader, &source, |rows| {
            seen.extend(rows.iter().map(|r| (r.product_id, r.scope.clone())));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen.len() as i64, products * 3);
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "product order, then scope");
        assert_eq!(tally.0.len(), 3);
        assert!(tally.0.values().all(|&(p, o)| p == products && o == products));
    }

    /// New medians mark the market summary: its value lists rank by them, and a summary
    /// cleared since the run's batches marked it would otherwise keep lists ranked with the
    /// old ones.
    #[test]
    fn new_category_medians_mark_the_market_summary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.sqlite");
        drop(crate::SqliteCatalog::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        refresh_market(&conn).unwrap();
        assert_eq!(marked(&conn).unwrap(), None, "rebuilt: clean");
        refresh_category_stats(&conn).unwrap();
        assert!(marked(&conn).unwrap().is_some(), "marked with the medians");
    }

    /// A write that fails stops the reading thread (it was blocked on a full hand-off) and
    /// its error is the one returned.
    #[test]
    fn a_failed_write_stops_the_reader() {
        let dir = tempfile::tempdir().unwrap();
        let (reader, source) = reader(dir.path(), 100_000);
        let mut calls = 0;
        let result = stream_beside(reader, &source, |_| {
            calls += 1;
            Err(rusqlite::Error::InvalidQuery)
        });
        assert!(matches!(result, Err(rusqlite::Error::InvalidQuery)), "{result:?}");
        assert_eq!(calls, 1);
    }
}
