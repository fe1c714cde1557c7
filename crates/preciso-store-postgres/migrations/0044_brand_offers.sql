-- Each brand's offers per currency, part of the market summary (issue #20, point 6): a listing
-- filtered by a brand alone takes its total from these rows instead of counting the brand's
-- offers (16k for one brand at 1M offers: a count stopped at its limit, 4.5 ms a request under
-- load). The same rebuild adds each brand's products across every category to
-- `category_products` (category key ''). The mark makes the first open after this migration
-- rebuild the summary.
CREATE TABLE brand_offers (
    currency   TEXT COLLATE "C" NOT NULL,
    brand_key  TEXT COLLATE "C" NOT NULL,
    offers     BIGINT NOT NULL,
    PRIMARY KEY (currency, brand_key)
);
INSERT INTO market_dirty (id, generation) VALUES (1, 1)
    ON CONFLICT (id) DO UPDATE SET generation = market_dirty.generation + 1;
