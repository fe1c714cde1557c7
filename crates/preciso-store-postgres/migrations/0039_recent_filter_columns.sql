-- The lists of newest offers carry the columns the listing filters read (issue #20, point 6):
-- a filtered date page walks the list alone and reads only its own offers, where each listed
-- offer was probed in `offers` (a brand's page 50 read 15k offers, or sorted its 16k matches:
-- 80 ms on PostgreSQL). Copied from the offers when the summary is rebuilt, like the rest of
-- it; the lists are rebuilt, so they are recreated, and the mark makes the first open after
-- this migration build them.
DROP TABLE market_recent;
DROP TABLE store_recent;
CREATE TABLE market_recent (
    currency      TEXT COLLATE "C" NOT NULL,
    rank          BIGINT NOT NULL,
    offer_id      BIGINT NOT NULL,
    last_seen     BIGINT NOT NULL,
    store_id      TEXT COLLATE "C" NOT NULL,
    brand_key     TEXT COLLATE "C",
    category_key  TEXT COLLATE "C",
    price_minor   BIGINT NOT NULL,
    PRIMARY KEY (currency, rank)
);
CREATE TABLE store_recent (
    currency      TEXT COLLATE "C" NOT NULL,
    store_id      TEXT COLLATE "C" NOT NULL,
    rank          BIGINT NOT NULL,
    offer_id      BIGINT NOT NULL,
    last_seen     BIGINT NOT NULL,
    brand_key     TEXT COLLATE "C",
    category_key  TEXT COLLATE "C",
    price_minor   BIGINT NOT NULL,
    PRIMARY KEY (currency, store_id, rank)
);
INSERT INTO market_dirty (id, generation) VALUES (1, 1)
    ON CONFLICT (id) DO UPDATE SET generation = market_dirty.generation + 1;
