-- The lists of newest offers carry the columns the listing filters read (issue #20, point 6):
-- a filtered date page walks the list alone and reads only its own offers, where each listed
-- offer was probed in `offers` (a brand's page 50 read 15k offers, or sorted its 16k matches:
-- 80 ms on PostgreSQL). Copied from the offers when the summary is rebuilt, like the rest of
-- it; the lists are rebuilt, so they are recreated, and the mark makes the first open after
-- this migration build them.
DROP TABLE market_recent;
DROP TABLE store_recent;
CREATE TABLE market_recent (
    currency      TEXT NOT NULL,
    rank          INTEGER NOT NULL,
    offer_id      INTEGER NOT NULL,
    last_seen     INTEGER NOT NULL,
    store_id      TEXT NOT NULL,
    brand_key     TEXT,
    category_key  TEXT,
    price_minor   INTEGER NOT NULL,
    PRIMARY KEY (currency, rank)
) WITHOUT ROWID;
CREATE TABLE store_recent (
    currency      TEXT NOT NULL,
    store_id      TEXT NOT NULL,
    rank          INTEGER NOT NULL,
    offer_id      INTEGER NOT NULL,
    last_seen     INTEGER NOT NULL,
    brand_key     TEXT,
    category_key  TEXT,
    price_minor   INTEGER NOT NULL,
    PRIMARY KEY (currency, store_id, rank)
) WITHOUT ROWID;
INSERT INTO market_dirty (id, generation) VALUES (1, 1)
    ON CONFLICT (id) DO UPDATE SET generation = market_dirty.generation + 1;
