-- preciso: foreign_keys off
-- One unique structure per product instead of two (issue #20, point 4): the product id is a
-- 64-bit hash of its key (`preciso_core::hash::product_id`), so `products_id` already makes
-- keys unique; the key's own unique index repeated every key (tens of bytes each, at a random
-- place per insert). A lookup by key now computes the id and checks the key on that row
-- (`reads::product_by_key`). SQLite cannot drop a column's UNIQUE, so the table is rebuilt
-- the documented way (foreign keys off for this migration, checked before it commits), rows
-- kept in their arrival order.
CREATE TABLE products_new (
    id          INTEGER NOT NULL,
    key         TEXT NOT NULL,
    gtin        TEXT,
    brand       TEXT,
    title       TEXT NOT NULL,
    category    TEXT,
    created_at  INTEGER NOT NULL
);
INSERT INTO products_new (rowid, id, key, gtin, brand, title, category, created_at)
    SELECT rowid, id, key, gtin, brand, title, category, created_at FROM products ORDER BY rowid;
DROP TABLE products;
ALTER TABLE products_new RENAME TO products;
CREATE UNIQUE INDEX products_id ON products(id);
CREATE TRIGGER products_search_delete AFTER DELETE ON products BEGIN
    INSERT INTO product_search (product_search, rowid, brand, title)
        VALUES ('delete', old.id, old.brand, old.title);
END;
