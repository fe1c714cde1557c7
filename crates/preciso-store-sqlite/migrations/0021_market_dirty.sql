-- The market summary's mark (issue #19): set (its generation moved on) in the transaction of
-- every ingest batch that read offers (inserted, updated or seen again: last_seen moves the
-- freshness share) and of store merges; the rebuild clears it only if no batch moved it on
-- meanwhile. A run that dies between its batches and its refresh leaves it, and the next run
-- or open rebuilds.
CREATE TABLE market_dirty (
    id          INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    generation  INTEGER NOT NULL
);
INSERT INTO market_dirty (id, generation) VALUES (1, 1);
-- The summary's price scan walks offers in product order: with the store in the product
-- index, the walk reads the index alone.
DROP INDEX IF EXISTS offers_product;
CREATE INDEX IF NOT EXISTS offers_product
    ON offers(product_id, availability, category_key, currency, price_minor, id, store_id);
