-- The market summary (preciso_core::market, issue #19): rebuilt from one scan of the offers at
-- the end of every ingest run that changed offers, after store merges and loads, and on the
-- first open after this migration (its tables are empty while offers exist). The catalog
-- listings and the store comparison read these rows instead of scanning every offer.
CREATE TABLE category_counts (
    category_key  TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    category      TEXT NOT NULL,
    offers        BIGINT NOT NULL
);
CREATE TABLE store_stats (
    store_id    TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    offers      BIGINT NOT NULL,
    categories  BIGINT NOT NULL,
    in_stock    BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL
);
CREATE TABLE store_market (
    currency     TEXT COLLATE "C" NOT NULL,
    store_id     TEXT COLLATE "C" NOT NULL,
    offers       BIGINT NOT NULL,
    categories   BIGINT NOT NULL,
    price_index_centi  BIGINT,
    compared     BIGINT NOT NULL,
    cheapest     BIGINT NOT NULL,
    last_seen    BIGINT NOT NULL,
    PRIMARY KEY (currency, store_id)
);
-- Offers by the hour they were last seen: the share seen in the last 24 hours, to the hour.
CREATE TABLE store_seen_hours (
    currency  TEXT COLLATE "C" NOT NULL,
    store_id  TEXT COLLATE "C" NOT NULL,
    hour      BIGINT NOT NULL,
    offers    BIGINT NOT NULL,
    PRIMARY KEY (currency, store_id, hour)
);
