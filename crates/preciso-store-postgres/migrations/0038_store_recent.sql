-- Each store's newest offers per currency, part of the market summary (issue #20, point 6):
-- the first rows of the store's date sort (last_seen descending, then id). A store's scrape
-- moves all its offers at once, so a currency's newest offers (market_recent) are mostly one
-- or two stores', and a store's date listing sorted all its offers (a store's 49k at 1M:
-- 137 ms). Rebuilt with the rest of the summary; the mark makes the first open after this
-- migration build it.
CREATE TABLE store_recent (
    currency   TEXT COLLATE "C" NOT NULL,
    store_id   TEXT COLLATE "C" NOT NULL,
    rank       BIGINT NOT NULL,
    offer_id   BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    PRIMARY KEY (currency, store_id, rank)
);
INSERT INTO market_dirty (id, generation) VALUES (1, 1)
    ON CONFLICT (id) DO UPDATE SET generation = market_dirty.generation + 1;
