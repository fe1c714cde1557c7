-- Rows in arrival order (docs/DECISIONS.md, "Append-ordered tables"). Offer and product ids
-- are 64-bit content hashes; as the rowid they put every new row on a random page of a table
-- far larger than the page cache, so each batch rewrote thousands of pages. Here the tables
-- keep an implicit, increasing rowid (new rows append to the last page, and a re-scraped
-- batch touches the few pages its offers arrived on) and the hash id becomes a unique index
-- (16 bytes an entry: small enough to stay cached). Every query still finds rows by `id`.
--
-- The old tables are renamed first (SQLite re-points the foreign keys of the renamed tables'
-- children at the old names), copied in arrival order, then dropped children-first.
ALTER TABLE price_history RENAME TO price_history_old;
ALTER TABLE offers RENAME TO offers_old;
ALTER TABLE products RENAME TO products_old;

CREATE TABLE products (
    id          INTEGER NOT NULL,
    key         TEXT NOT NULL UNIQUE,
    gtin        TEXT,
    brand       TEXT,
    title       TEXT NOT NULL,
    category    TEXT,
    created_at  INTEGER NOT NULL
);

CREATE TABLE offers (
    id                INTEGER NOT NULL,
    store_id          TEXT NOT NULL REFERENCES stores(id),
    sku               TEXT,
    url               TEXT,
    product_id        INTEGER NOT NULL REFERENCES products(id),
    title             TEXT NOT NULL,
    brand             TEXT,
    brand_key         TEXT,
    category          TEXT,
    category_key      TEXT,
    gtin              TEXT,
    image_url         TEXT,
    price_minor       INTEGER NOT NULL,
    list_price_minor  INTEGER,
    currency          TEXT NOT NULL,
    prev_price_minor  INTEGER,
    price_changed_at  INTEGER NOT NULL,
    availability      TEXT NOT NULL,
    rating_centi      INTEGER,
    review_count      INTEGER,
    first_seen        INTEGER NOT NULL,
    last_seen         INTEGER NOT NULL,
    content_hash      BLOB NOT NULL,
    last_file_id      INTEGER NOT NULL
);

-- Appended only when price, list price or availability change (docs/DATA-MODEL.md).
CREATE TABLE price_history (
    offer_id          INTEGER NOT NULL REFERENCES offers(id),
    observed_at       INTEGER NOT NULL,
    price_minor       INTEGER NOT NULL,
    list_price_minor  INTEGER,
    currency          TEXT NOT NULL,
    availability      TEXT NOT NULL
);

-- The id indexes are named (not column constraints) so that no automatic index name of the
-- old tables can collide with them. They must exist before any row is copied: the foreign
-- keys resolve through them.
CREATE UNIQUE INDEX products_id ON products(id);
CREATE UNIQUE INDEX offers_id ON offers(id);
CREATE UNIQUE INDEX price_history_offer ON price_history(offer_id, observed_at);

INSERT INTO products (id, key, gtin, brand, title, category, created_at)
    SELECT id, key, gtin, brand, title, category, created_at FROM products_old
    ORDER BY created_at, id;
INSERT INTO offers (id, store_id, sku, url, product_id, title, brand, brand_key, category,
        category_key, gtin, image_url, price_minor, list_price_minor, currency,
        prev_price_minor, price_changed_at, availability, rating_centi, review_count,
        first_seen, last_seen, content_hash, last_file_id)
    SELECT id, store_id, sku, url, product_id, title, brand, brand_key, category,
        category_key, gtin, image_url, price_minor, list_price_minor, currency,
        prev_price_minor, price_changed_at, availability, rating_centi, review_count,
        first_seen, last_seen, content_hash, last_file_id FROM offers_old
    ORDER BY first_seen, id;
INSERT INTO price_history (offer_id, observed_at, price_minor, list_price_minor, currency,
        availability)
    SELECT offer_id, observed_at, price_minor, list_price_minor, currency, availability
    FROM price_history_old ORDER BY observed_at, offer_id;

DROP TABLE price_history_old;
DROP TABLE offers_old;
DROP TABLE products_old;

-- Secondary indexes, named as before (their old namesakes went with the old tables).
CREATE INDEX offers_product
    ON offers(product_id, availability, category_key, currency, price_minor, id);
CREATE INDEX offers_store ON offers(store_id);
CREATE INDEX offers_category
    ON offers(category_key, currency, price_minor, product_id, store_id, availability,
        brand, brand_key, list_price_minor, prev_price_minor, rating_centi, review_count, id);
CREATE INDEX offers_brand ON offers(brand_key);
CREATE INDEX offers_price_change ON offers(price_changed_at);
