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

/// Adds every product the index lacks (at the end of an initial load, which indexes none
/// while it appends), in one statement. The products are read in table order and sorted by id
/// (FTS5 starts a new segment whenever an id is lower than the last; read through
/// `products_id` instead, each row was a random read: 41 s at 3M offers against 23 s), and
/// FTS5 gets a 4 MB term buffer (1 MB by default) and merges 16 segments at a time (4):
/// with the defaults it wrote many small segments and merged them over and over (82 s at 3M).
/// Both settings are FTS5's persistent configuration and go back to their defaults after.
pub(crate) fn index_missing(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "INSERT INTO product_search (product_search, rank) VALUES ('hashsize', 4194304);
         INSERT INTO product_search (product_search, rank) VALUES ('automerge', 16);
         INSERT INTO product_search (rowid, brand, title)
         SELECT p.id, p.brand, p.title FROM products p NOT INDEXED
         WHERE NOT EXISTS (SELECT 1 FROM product_search_docsize d WHERE d.id = p.id)
         ORDER BY p.id;
         INSERT INTO product_search (product_search, rank) VALUES ('hashsize', 1048576);
         INSERT INTO product_search (product_search, rank) VALUES ('automerge', 4);",
    )
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
