-- Each category path's price analysis per currency, part of the market summary (issue #20,
-- point 6): `kind` 0 is the whole path (with its histograms in 1 to 100 bins, varint counts),
-- 1 a brand, 2 a store. A request reads one path's rows instead of every offer below it.
-- Rebuilt with the rest of the summary at the end of every run; the mark makes the first open
-- after this migration build it.
CREATE TABLE price_analysis (
    category_key   TEXT COLLATE "C" NOT NULL,
    currency       TEXT COLLATE "C" NOT NULL,
    kind           BIGINT NOT NULL,
    name           TEXT COLLATE "C" NOT NULL,
    offers         BIGINT NOT NULL,
    min_minor      BIGINT NOT NULL,
    max_minor      BIGINT NOT NULL,
    mean_minor     BIGINT NOT NULL,
    median_minor   BIGINT NOT NULL,
    p10_minor      BIGINT NOT NULL,
    p25_minor      BIGINT NOT NULL,
    p75_minor      BIGINT NOT NULL,
    p90_minor      BIGINT NOT NULL,
    std_dev_minor  BIGINT NOT NULL,
    histograms     BYTEA,
    PRIMARY KEY (category_key, currency, kind, name)
);
INSERT INTO market_dirty (id, generation) VALUES (1, 1)
    ON CONFLICT (id) DO UPDATE SET generation = market_dirty.generation + 1;
