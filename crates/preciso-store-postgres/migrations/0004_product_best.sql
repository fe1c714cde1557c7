-- Best-offer summary (preciso_core::best): per category scope and product, the cheapest
-- buyable offer and the count of buyable offers. Best-prices pages read one ordered range of
-- it. Ingest batches record the products they touched in product_best_dirty in the same
-- transaction; the refresh at the end of a run (or on the next open after a crash) rebuilds
-- their rows and empties the set.
CREATE TABLE product_best (
    scope        TEXT COLLATE "C" NOT NULL,
    product_id   BIGINT NOT NULL,
    currency     TEXT COLLATE "C" NOT NULL,
    price_minor  BIGINT NOT NULL,
    offer_id     BIGINT NOT NULL,
    offers       BIGINT NOT NULL,
    PRIMARY KEY (scope, product_id)
);
CREATE INDEX product_best_order ON product_best(scope, currency, price_minor, offer_id);
CREATE INDEX product_best_product ON product_best(product_id);

-- Products per scope (the `total` of a best-prices page), recounted by each refresh.
CREATE TABLE product_best_scopes (
    scope     TEXT COLLATE "C" PRIMARY KEY,
    products  BIGINT NOT NULL
);

CREATE TABLE product_best_dirty (
    product_id  BIGINT PRIMARY KEY
);
-- A catalog that existed before this migration is summarized on its next open.
INSERT INTO product_best_dirty (product_id) SELECT id FROM products;

-- Category-wide reads (price analysis, medians, the ranking of listings)
-- need only these columns: carrying them in the category index lets those reads skip the
-- table, which is several times larger and read at random. `last_seen` is left out on
-- purpose: every re-seen offer updates it, and that must not rewrite index entries.
DROP INDEX offers_category_price;
CREATE INDEX offers_category ON offers(category_key, currency, price_minor, product_id, store_id, availability,
    brand, brand_key, list_price_minor, prev_price_minor, rating_centi, review_count);

-- The newest observation per store (data freshness, read by every metrics scrape), kept by
-- each ingest batch instead of computed from the offers.
ALTER TABLE stores ADD COLUMN last_seen_at BIGINT;
UPDATE stores SET last_seen_at = (SELECT max(o.last_seen) FROM offers o WHERE o.store_id = stores.id);
