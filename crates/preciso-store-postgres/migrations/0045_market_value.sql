-- Each currency's best offers by value score, part of the market summary (issue #20, point
-- 6): a whole-currency value-sorted listing reads its page by rank here instead of walking the
-- value index down to the page (page 100 at 1M offers: 32,512 index entries read through 11
-- portal fetches, ~21 ms under load). Ranked at each rebuild by the listing's own walk; up to
-- 10,000 rows per currency. The mark makes the first open after this migration rebuild the
-- summary.
CREATE TABLE market_value (
    currency  TEXT COLLATE "C" NOT NULL,
    rank      BIGINT NOT NULL,
    offer_id  BIGINT NOT NULL,
    PRIMARY KEY (currency, rank)
);
INSERT INTO market_dirty (id, generation) VALUES (1, 1)
    ON CONFLICT (id) DO UPDATE SET generation = market_dirty.generation + 1;
