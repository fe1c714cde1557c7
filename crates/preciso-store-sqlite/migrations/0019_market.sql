-- The market summary (preciso_core::market, issue #19): rebuilt from one scan of the offers at
-- the end of every ingest run that changed offers, after store merges and loads, and on the
-- first open after this migration (its tables are empty while offers exist). The catalog
-- listings and the store comparison read these rows instead of scanning every offer.
CREATE TABLE category_counts (
    category_key  TEXT NOT NULL PRIMARY KEY,
    category      TEXT NOT NULL,
    offers        INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE store_stats (
    store_id    TEXT NOT NULL PRIMARY KEY,
    offers      INTEGER NOT NULL,
    categories  INTEGER NOT NULL,
    in_stock    INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE store_market (
    currency     TEXT NOT NULL,
    store_id     TEXT NOT NULL,
    offers       INTEGER NOT NULL,
    categories   INTEGER NOT NULL,
    price_index_centi  INTEGER,
    compared     INTEGER NOT NULL,
    cheapest     INTEGER NOT NULL,
    last_seen    INTEGER NOT NULL,
    PRIMARY KEY (currency, store_id)
) WITHOUT ROWID;
-- Offers by the hour they were last seen: the share seen in the last 24 hours, to the hour.
CREATE TABLE store_seen_hours (
    currency  TEXT NOT NULL,
    store_id  TEXT NOT NULL,
    hour      INTEGER NOT NULL,
    offers    INTEGER NOT NULL,
    PRIMARY KEY (currency, store_id, hour)
) WITHOUT ROWID;
