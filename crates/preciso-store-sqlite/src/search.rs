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

/// Adds products an initial load appended, from the batch's own values (`products_id` is
/// gone while it lasts): ids with their brand and title, none indexed before. In ascending id
/// order: FTS5 writes its pending terms out as a new segment whenever an id is lower than
/// the last (one segment per product, merged over and over, in file order).
pub(crate) fn index_new(
    conn: &Connection,
    products: &mut [(i64, Option<&str>, &str)],
) -> rusqlite::Result<()> {
    if products.is_empty() {
        return Ok(());
    }
    products.sort_unstable_by_key(|p| p.0);
    let rows = serde_json::to_string(products).expect("ids and text serialize");
    conn.prepare_cached(
        "INSERT INTO product_search (rowid, brand, title)
         SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?1)",
    )?
    .execute([rows])?;
    Ok(())
}

/// Adds every product the index lacks (after an initial load, which indexes a product only
/// when it is sure the product is new). Products and the index's sizes table are walked
/// together in id order; only a missing product's row is read.
pub(crate) fn index_missing(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "INSERT INTO product_search (rowid, brand, title)
         SELECT p.id, p.brand, p.title FROM products p INDEXED BY products_id
         WHERE NOT EXISTS (SELECT 1 FROM product_search_docsize d WHERE d.id = p.id)
         ORDER BY p.id",
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

/// Rebuilds the index from the products table (after rows were loaded in bulk).
pub(crate) fn rebuild(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch("INSERT INTO product_search (product_search) VALUES ('rebuild')")
}
