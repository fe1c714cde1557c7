-- Each store's newest offers per currency, part of the market summary (issue #20, point 6):
-- the first rows of the store's date sort (last_seen descending, then id). A store's scrape
-- moves all its offers at once, so a currency's newest offers (market_recent) are mostly one
-- or two stores', and a store's date listing sorted all its offers (a store's 49k at 1M: 53 ms).
-- Rebuilt with the rest of the summary; the mark makes the first open after this migration
-- build it.
CREATE TABLE store_recent (
    currency   TEXT NOT NULL,
    store_id   TEXT NOT NULL,
    rank       INTEGER NOT NULL,
    offer_id   INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (currency, store_id, rank)
) WITHOUT ROWID;
INSERT INTO market_dirty (id, generation) VALUES (1, 1)
    ON CONFLICT (id) DO UPDATE SET generation = market_dirty.generation + 1;
