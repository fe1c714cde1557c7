//! Derived tables refreshed after ingest: `category_stats` (median price per category and
//! currency). Medians are read by offset along the (category_key, currency, price) index, so a
//! refresh touches each group's index entries once and sorts nothing.

use rusqlite::{Connection, params};

pub(crate) fn refresh_category_stats(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let result = rebuild(conn);
    match result {
        Ok(()) => conn.execute_batch("COMMIT"),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
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
        let median = (lower + upper + 1).div_euclid(2);
        insert.execute(params![key, currency, n, median])?;
    }
    Ok(())
}
