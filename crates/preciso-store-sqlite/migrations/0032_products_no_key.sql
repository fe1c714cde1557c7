-- Products keep no grouping key (issue #20, point 4): the key (`gtin:…` or `bt:brand|title`)
-- follows from the product's own GTIN, brand and title, and only its hash, the id, is ever
-- looked up (a GTIN lookup confirms the row by its `gtin`). It was a third of a product's
-- row: 46 bytes a product, 46 MB at a million one-product-per-offer offers. SQLite rewrites
-- the table without it.
ALTER TABLE products DROP COLUMN key;
