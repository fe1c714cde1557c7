//! Derived tables refreshed after ingest: `category_stats` (median price per category and
//! currency) and `product_best` (the best-offer summary of `preciso_core::best`). Medians are
//! read by offset along the (category_key, currency, price) index, so a refresh touches each
//! group's index entries once and sorts nothing.

use preciso_core::best::{BestRow, EVERY_PRODUCT, OfferPrice, ProductStream};
use preciso_sql::best;
use rusqlite::{Connection, params};

pub(crate) fn refresh_category_stats(conn: &Connection) -> rusqlite::Result<()> {
    crate::transaction(conn, || rebuild(conn), |e| e)
}

/// Rebuilds the summary rows of the products marked dirty, in one transaction with clearing
/// the marks. When most products are dirty (an initial load) every row is rebuilt in one pass.
pub(crate) fn refresh_product_best(conn: &Connection) -> rusqlite::Result<()> {
    crate::transaction(conn, || rebuild_best(conn), |e| e)
}

/// Recomputes the trending drops of the offers ingest marked (`preciso_sql::trend`).
pub(crate) fn refresh_trends(conn: &Connection) -> Result<u64, preciso_core::ports::StoreError> {
    crate::transaction(
        conn,
        || preciso_sql::trend::refresh(&mut crate::identity::SqliteTx(conn)),
        crate::backend,
    )
}

fn rebuild_best(conn: &Connection) -> rusqlite::Result<()> {
    let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0));
    let dirty = count(best::DIRTY_COUNT)?;
    if dirty == 0 {
        return Ok(());
    }
    let every_product: bool = conn.query_row(best::IS_MARKED, [EVERY_PRODUCT], |r| r.get(0))?;
    let everything = every_product || dirty * 2 > count(best::PRODUCT_COUNT)?;
    let source = if everything {
        conn.execute(best::DELETE_ALL_ROWS, [])?;
        best::all_offers()
    } else {
        conn.execute(best::DELETE_DIRTY_ROWS, [])?;
        best::dirty_offers()
    };
    let mut insert = conn.prepare(best::INSERT_ROW)?;
    let mut write = |rows: Vec<BestRow>| -> rusqlite::Result<()> {
        for BestRow { scope, product_id, currency, price_minor, offer_id, offers } in rows {
            insert.execute(params![scope, product_id, currency, price_minor, offer_id, offers])?;
        }
        Ok(())
    };
    let mut stmt = conn.prepare(&source)?;
    let mut rows = stmt.query([])?;
    let mut stream = ProductStream::default();
    while let Some(r) = rows.next()? {
        let offer = OfferPrice {
            offer_id: r.get(1)?,
            category_key: r.get(2)?,
            currency: r.get(3)?,
            price_minor: r.get(4)?,
        };
        write(stream.push(r.get(0)?, offer))?;
    }
    write(stream.finish())?;
    conn.execute(best::CLEAR_DIRTY, [])?;
    conn.execute_batch(best::RECOUNT_SCOPES)?;
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
