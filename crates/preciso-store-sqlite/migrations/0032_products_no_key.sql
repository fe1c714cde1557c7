-- preciso: foreign_keys off
-- Products keep no grouping key (issue #20, point 4): the key (`gtin:…` or `bt:brand|title`)
-- follows from the product's own GTIN, brand and title, and only its hash, the id, is ever
-- looked up (a GTIN lookup confirms the row by its `gtin`). It was a third of a product's
-- row: 46 bytes a product, 46 MB at a million one-product-per-offer offers. The table is
-- rebuilt the documented way, as 0024 did (`DROP COLUMN` rewrites each row in place and
-- leaves the freed bytes inside its pages), rows in their arrival order; a product's first
-- row is the product (more than one is left only by an initial load that was killed).
CREATE TABLE products_new (
    id          INTEGER NOT NULL,
    gtin        TEXT,
    brand       TEXT,
    title       TEXT NOT NULL,
    category    TEXT,
    created_at  INTEGER NOT NULL
);
INSERT INTO products_new (rowid, id, gtin, brand, title, category, created_at)
    SELECT rowid, id, gtin, brand, title, category, created_at FROM products
    WHERE rowid IN (SELECT min(rowid) FROM products GROUP BY id) ORDER BY rowid;
DROP TABLE products;
ALTER TABLE products_new RENAME TO products;
CREATE UNIQUE INDEX products_id ON products(id);
CREATE TRIGGER products_search_delete AFTER DELETE ON products BEGIN
    INSERT INTO product_search (product_search, rowid, brand, title)
        VALUES ('delete', old.id, old.brand, old.title);
END;
