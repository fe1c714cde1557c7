-- Catalog schema. Times are Unix seconds (INTEGER); money is integer minor units with an
-- ISO 4217 code beside it; ids of offers and products are 64-bit content-derived values.
CREATE TABLE stores (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    country     TEXT,
    currency    TEXT,
    base_url    TEXT,
    created_at  INTEGER NOT NULL
);

CREATE TABLE products (
    id          INTEGER PRIMARY KEY,
    key         TEXT NOT NULL UNIQUE,
    gtin        TEXT,
    brand       TEXT,
    title       TEXT NOT NULL,
    category    TEXT,
    created_at  INTEGER NOT NULL
);

CREATE TABLE offers (
    id                INTEGER PRIMARY KEY,
    store_id          TEXT NOT NULL REFERENCES stores(id),
    sku               TEXT,
    url               TEXT,
    product_id        INTEGER NOT NULL REFERENCES products(id),
    title             TEXT NOT NULL,
    brand             TEXT,
    -- fold_for_matching(brand): filters and groupings are case- and accent-insensitive.
    brand_key         TEXT,
    category          TEXT,
    -- category_key() of the path: what API filters match, by prefix of whole segments.
    category_key      TEXT,
    gtin              TEXT,
    image_url         TEXT,
    price_minor       INTEGER NOT NULL,
    list_price_minor  INTEGER,
    currency          TEXT NOT NULL,
    -- The price before the latest price change, and when that change was observed.
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
CREATE INDEX offers_product ON offers(product_id);
CREATE INDEX offers_store ON offers(store_id);
CREATE INDEX offers_category_price ON offers(category_key, currency, price_minor);
CREATE INDEX offers_brand ON offers(brand_key);
CREATE INDEX offers_price_change ON offers(price_changed_at);

-- Appended only when price, list price or availability change (docs/DATA-MODEL.md).
CREATE TABLE price_history (
    offer_id          INTEGER NOT NULL REFERENCES offers(id),
    observed_at       INTEGER NOT NULL,
    price_minor       INTEGER NOT NULL,
    list_price_minor  INTEGER,
    currency          TEXT NOT NULL,
    availability      TEXT NOT NULL,
    PRIMARY KEY (offer_id, observed_at)
) WITHOUT ROWID;

-- The ledger of ingest runs ("archivos"). A run that crashed stays 'running' until a later
-- run of the same content marks it 'superseded'.
CREATE TABLE ingest_files (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    size         INTEGER NOT NULL,
    store_id     TEXT,
    received_at  INTEGER NOT NULL,
    finished_at  INTEGER,
    status       TEXT NOT NULL,
    read         INTEGER NOT NULL DEFAULT 0,
    inserted     INTEGER NOT NULL DEFAULT 0,
    updated      INTEGER NOT NULL DEFAULT 0,
    unchanged    INTEGER NOT NULL DEFAULT 0,
    duplicate    INTEGER NOT NULL DEFAULT 0,
    rejected     INTEGER NOT NULL DEFAULT 0,
    archive_key  TEXT,
    error        TEXT
);
CREATE INDEX ingest_files_sha ON ingest_files(sha256, status);

-- Median current price per category and currency, refreshed after every ingest that changed
-- offers; the value score compares an offer's price with it.
CREATE TABLE category_stats (
    category_key  TEXT NOT NULL,
    currency      TEXT NOT NULL,
    offers        INTEGER NOT NULL,
    median_minor  INTEGER NOT NULL,
    PRIMARY KEY (category_key, currency)
) WITHOUT ROWID;
