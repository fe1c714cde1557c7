-- Products keep no grouping key (issue #20, point 4): the key (`gtin:…` or `bt:brand|title`)
-- follows from the product's own GTIN, brand and title, and only its hash, the id, is ever
-- looked up (a GTIN lookup confirms the row by its `gtin`). PostgreSQL drops the column from
-- the catalog at once; rows written before keep its bytes until they are rewritten (a
-- `VACUUM FULL products`, or a restore), new rows are written without it.
ALTER TABLE products DROP COLUMN key;
