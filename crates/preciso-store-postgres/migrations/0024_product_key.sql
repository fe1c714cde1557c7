-- One unique structure per product instead of two (issue #20, point 4): the product id is a
-- 64-bit hash of its key (`preciso_core::hash::product_id`), so the primary key already makes
-- keys unique; a lookup by key computes the id and checks the key on that row.
ALTER TABLE products DROP CONSTRAINT IF EXISTS products_key_key;
