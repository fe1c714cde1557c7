-- Each currency's newest offers, part of the market summary (issue #20, point 6): the first
-- rows of the date sort (last_seen descending, then id), rebuilt with the rest of the summary
-- at the end of every run that moved offers. A whole-currency date listing reads its page by
-- rank instead of sorting every offer (305 ms at 1M, 1.2 s at 3M). No index on last_seen:
-- every run moves every offer's, and maintaining one took a daily 1M run from 24 to 41 s.
-- The mark makes the first open after this migration rebuild the summary.
CREATE TABLE market_recent (
    currency   TEXT NOT NULL,
    rank       INTEGER NOT NULL,
    offer_id   INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (currency, rank)
) WITHOUT ROWID;
INSERT INTO market_dirty (id, generation) VALUES (1, 1)
    ON CONFLICT (id) DO UPDATE SET generation = market_dirty.generation + 1;
