-- Store identity (docs/DATA-MODEL.md, "Stores"). The names each store was written as in
-- records, counted, so `preciso stores` shows where a scraper splits one store in two; and
-- names that mean another store, written by `preciso stores merge` so that records still
-- carrying a merged store's name land in the store it was merged into.
CREATE TABLE store_names (
    store_id      TEXT NOT NULL,
    name          TEXT NOT NULL,
    records       INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    PRIMARY KEY (store_id, name)
) WITHOUT ROWID;

CREATE TABLE store_aliases (
    alias     TEXT PRIMARY KEY,
    store_id  TEXT NOT NULL
) WITHOUT ROWID;
