-- Products with a buyable offer per category path, currency and store or brand, part of the
-- market summary (issue #20, point 6): a category's best prices filtered by one store or one
-- brand read their total here instead of counting the distinct products among every matching
-- offer (a leaf category's store: 21 -> 42 ms from 1M to 3M offers). Rebuilt with the rest of
-- the summary at the end of every run; the mark makes the first open after this migration
-- build it.
CREATE TABLE category_products (
    currency      TEXT NOT NULL,
    category_key  TEXT NOT NULL,
    scope         TEXT NOT NULL,
    name          TEXT NOT NULL,
    products      INTEGER NOT NULL,
    PRIMARY KEY (currency, category_key, scope, name)
) WITHOUT ROWID;
INSERT INTO market_dirty (id, generation) VALUES (1, 1)
    ON CONFLICT (id) DO UPDATE SET generation = market_dirty.generation + 1;
