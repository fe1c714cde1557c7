-- What the read-side tables cost ingest (docs/BENCHMARKS.md, "Catalog shapes"): the
-- best-offer summary keyed by product first, so a partial refresh reads and writes a
-- product's rows by the key (the separate product_id index is gone) and a rebuild appends in
-- product order. The SQLite migration of the same name also re-keys its search table; the
-- GIN index of 0012 needs nothing. The summary is rebuilt on the next refresh.
DROP TABLE product_best;
CREATE TABLE product_best (
    scope        TEXT COLLATE "C" NOT NULL,
    product_id   BIGINT NOT NULL,
    currency     TEXT COLLATE "C" NOT NULL,
    price_minor  BIGINT NOT NULL,
    offer_id     BIGINT NOT NULL,
    offers       BIGINT NOT NULL,
    PRIMARY KEY (product_id, scope, currency)
);
CREATE INDEX product_best_order ON product_best(scope, currency, price_minor, offer_id);
DELETE FROM product_best_scopes;
INSERT INTO product_best_dirty (product_id) VALUES (-9223372036854775807 - 1)
    ON CONFLICT (product_id) DO NOTHING;

-- Trending drops: the window's bound (drop_at) in the page index too, so a page filters the
-- window from the index instead of reading every dropped offer's row, and an index by time,
-- so a count of the window (and an empty window's answer) reads the window only.
DROP INDEX IF EXISTS offers_drops;
CREATE INDEX offers_drops ON offers(drop_bp, id, drop_at) WHERE drop_bp IS NOT NULL;
CREATE INDEX offers_drop_time ON offers(drop_at) WHERE drop_bp IS NOT NULL;
