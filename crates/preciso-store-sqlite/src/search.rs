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

/// Rebuilds the index from the products table (after rows were loaded in bulk).
pub(crate) fn rebuild(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch("INSERT INTO product_search (product_search) VALUES ('rebuild')")
}
