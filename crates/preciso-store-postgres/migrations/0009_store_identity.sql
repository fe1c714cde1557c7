-- Store identity (docs/DATA-MODEL.md, "Stores"). The names each store was written as in
-- records, counted, so `preciso stores` shows where a scraper splits one store in two; and
-- names that mean another store, written by `preciso stores merge` so that records still
-- carrying a merged store's name land in the store it was merged into.
CREATE TABLE store_names (
    store_id      TEXT COLLATE "C" NOT NULL,
    name          TEXT COLLATE "C" NOT NULL,
    records       BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    PRIMARY KEY (store_id, name)
);

CREATE TABLE store_aliases (
    alias     TEXT COLLATE "C" PRIMARY KEY,
    store_id  TEXT COLLATE "C" NOT NULL
);
