//! The products' text-search index (FTS5, `product_search`, migrations 0012 and 0013): brand and
//! title of each product under its id, folded by the tokenizer. Ingest adds a batch's new
//! products with one statement at the batch's end: a trigger per inserted row cost ~17 µs
//! each, because every statement that writes an FTS5 table flushes its pending terms into a
//! new segment (docs/BENCHMARKS.md, "Catalog shapes"). Deleted products leave through a
//! trigger; restores and copies rebuild the whole index.

use rusqlite::Connection;

/// Adds `products` (ids of rows the current transaction inserted) to the index.
pub(crate) fn index_products(conn: &Connection, products: &[i64]) -> rusqlite::Result<()> {
    if products.is_empty() {
        return Ok(());
    }
    let ids = serde_json::to_string(products).expect("integers serialize");
    conn.prepare_cached(
        "INSERT INTO product_search (rowid, brand, title)
         SELECT id, brand, title FROM products WHERE id IN (SELECT value FROM json_each(?1))",
    )?
    .execute([ids])?;
    Ok(())
}

/// Adds every product the index lacks, in one statement (restores and copies).
pub(crate) fn index_missing(conn: &Connection) -> rusqlite::Result<()> {
    index_missing_between(conn, i64::MIN, i64::MAX)
}

/// FTS5's in-memory term buffer while filling (1 MB by default): each time it is full it
/// becomes a new segment, and every 16 segments of a level are merged into one of the next.
/// With 4 MB, the five parts of a 10M load took 11, 18, 25, 43 and 43 s, merging again what
/// earlier parts wrote; with 16 MB, 10 to 24 s (76 s in all), but the load's peak anonymous
/// memory rose from 133 to 151 MB, past the 150 MB bound (docs/BENCHMARKS.md). 8 MB halves
/// the segments of 4 MB within that bound.
const FILL_HASH_BYTES: i64 = 8 << 20;

/// Adds every product the index lacks whose id lies in `low..=high` (the end of an initial
/// load, which indexes none while it appends, calls it once per part of `id_ranges`). The
/// products are read in table order and sorted by id (FTS5 starts a new segment whenever an id
/// is lower than the last; read through `products_id` instead, each row was a random read: 41 s
/// at 3M offers against 23 s), and FTS5 gets `FILL_HASH_BYTES` of term buffer and merges 16
/// segments at a time (4): with the defaults it wrote many small segments and merged them over
/// and over (82 s at 3M). Both settings are FTS5's persistent configuration and go back to
/// their defaults after, in the same transaction.
pub(crate) fn index_missing_between(
    conn: &Connection,
    low: i64,
    high: i64,
) -> rusqlite::Result<()> {
    conn.execute_batch(&format!(
        "INSERT INTO product_search (product_search, rank) VALUES ('hashsize', {FILL_HASH_BYTES});
         INSERT INTO product_search (product_search, rank) VALUES ('automerge', 16);"
    ))?;
    conn.execute(
        "INSERT INTO product_search (rowid, brand, title)
         SELECT p.id, p.brand, p.title FROM products p NOT INDEXED
         WHERE p.id BETWEEN ?1 AND ?2
           AND NOT EXISTS (SELECT 1 FROM product_search_docsize d WHERE d.id = p.id)
         ORDER BY p.id",
        [low, high],
    )?;
    conn.execute_batch(
        "INSERT INTO product_search (product_search, rank) VALUES ('hashsize', 1048576);
         INSERT INTO product_search (product_search, rank) VALUES ('automerge', 4);",
    )
}

/// Splits the id space into ranges of about `per` of `rows` products each, in ascending
/// order (ids are uniform 64-bit hashes); one range for up to `per` rows.
pub(crate) fn id_ranges(rows: i64, per: i64) -> Vec<(i64, i64)> {
    let parts = (rows.max(1) + per - 1) / per.max(1);
    let width = (1i128 << 64) / i128::from(parts);
    (0..i128::from(parts))
        .map(|k| {
            let low = i128::from(i64::MIN) + k * width;
            let high =
                if k + 1 == i128::from(parts) { i128::from(i64::MAX) } else { low + width - 1 };
            (low as i64, high as i64)
        })
        .collect()
}

/// Deleted products leave the index through this trigger (it must see the values that were
/// indexed; a duplicate row an initial load removes was never indexed, so the load drops the
/// trigger around that delete).
pub(crate) const DELETE_TRIGGER: &str = "
    CREATE TRIGGER IF NOT EXISTS products_search_delete AFTER DELETE ON products BEGIN
        INSERT INTO product_search (product_search, rowid, brand, title)
            VALUES ('delete', old.id, old.brand, old.title);
    END;";

/// Rebuilds the index from the products table (after rows were loaded in bulk): emptied, then
/// filled the way `index_missing` does (12.8 s for 3M products, where FTS5's own `rebuild`
/// took 45 s).
pub(crate) fn rebuild(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch("INSERT INTO product_search (product_search) VALUES ('delete-all')")?;
    index_missing(conn)
}

#[cfg(test)]
mod tests {
    use super::id_ranges;

    #[test]
    fn id_ranges_cover_every_id_once_in_ascending_parts() {
        assert_eq!(id_ranges(0, 2_000_000), vec![(i64::MIN, i64::MAX)]);
        assert_eq!(id_ranges(2_000_000, 2_000_000), vec![(i64::MIN, i64::MAX)]);
        let parts = id_ranges(10_000_000, 2_000_000);
        assert_eq!(parts.len(), 5);
        assert_eq!(parts[0].0, i64::MIN);
        assert_eq!(parts[4].1, i64::MAX);
        for pair in parts.windows(2) {
            assert_eq!(pair[0].1.checked_add(1), Some(pair[1].0), "{pair:?}");
        }
    }
}
