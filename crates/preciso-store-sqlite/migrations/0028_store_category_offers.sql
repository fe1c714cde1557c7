-- Each store's offers per category key and currency, part of the market summary (issue #20,
-- point 6): a listing filtered by a category (and a store) takes its total from these rows
-- instead of counting every matching offer (a top-level category's 92k at 1M, 280k at 3M).
-- Rebuilt with the rest of the summary at the end of every run; the mark makes the first open
-- after this migration rebuild it.
CREATE TABLE store_category_offers (
    currency      TEXT NOT NULL,
    category_key  TEXT NOT NULL,
    store_id      TEXT NOT NULL,
    offers        INTEGER NOT NULL,
    PRIMARY KEY (currency, category_key, store_id)
) WITHOUT ROWID;
INSERT INTO market_dirty (id, generation) VALUES (1, 1)
    ON CONFLICT (id) DO UPDATE SET generation = market_dirty.generation + 1;
