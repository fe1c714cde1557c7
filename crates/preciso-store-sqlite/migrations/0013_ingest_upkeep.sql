-- What the read-side tables cost ingest (docs/BENCHMARKS.md, "Catalog shapes"):
--
-- The search index is keyed by product id instead of the rowid (which VACUUM may renumber in
-- a table without an INTEGER PRIMARY KEY) and filled by ingest a batch at a time instead of
-- by a trigger per inserted product: every statement that writes an FTS5 table flushes its
-- pending terms into a new segment, ~17 µs per product (src/search.rs). Deleted products
-- still leave by trigger.
DROP TRIGGER products_search_insert;
DROP TRIGGER products_search_delete;
DROP TABLE product_search;
CREATE VIRTUAL TABLE product_search USING fts5(
    brand, title, content = 'products', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER products_search_delete AFTER DELETE ON products BEGIN
    INSERT INTO product_search (product_search, rowid, brand, title)
        VALUES ('delete', old.id, old.brand, old.title);
END;
INSERT INTO product_search (product_search) VALUES ('rebuild');

-- The best-offer summary keyed by product first: a rebuild streams products in id order, so
-- its rows are appended instead of inserted at a dozen places, and a partial refresh finds a
-- product's rows by the key (the separate product_id index is gone). Rebuilt on the next
-- refresh.
DROP TABLE product_best;
CREATE TABLE product_best (
    scope        TEXT NOT NULL,
    product_id   INTEGER NOT NULL,
    currency     TEXT NOT NULL,
    price_minor  INTEGER NOT NULL,
    offer_id     INTEGER NOT NULL,
    offers       INTEGER NOT NULL,
    PRIMARY KEY (product_id, scope, currency)
) WITHOUT ROWID;
CREATE INDEX product_best_order ON product_best(scope, currency, price_minor, offer_id);
DELETE FROM product_best_scopes;
INSERT OR IGNORE INTO product_best_dirty (product_id) VALUES (-9223372036854775807 - 1);

-- Trending drops: the window's bound (drop_at) in the page index too, so a page filters the
-- window from the index instead of reading every dropped offer's row, and an index by time,
-- so a count of the window (and an empty window's answer) reads the window only.
DROP INDEX IF EXISTS offers_drops;
CREATE INDEX offers_drops ON offers(drop_bp, id, drop_at) WHERE drop_bp IS NOT NULL;
CREATE INDEX offers_drop_time ON offers(drop_at) WHERE drop_bp IS NOT NULL;
