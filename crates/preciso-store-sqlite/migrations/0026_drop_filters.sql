-- Trending drops carry what a trending listing filters by (issue #20, point 6): the offer's
-- currency, store, category key, brand key and price, kept current by the trend refresh
-- (ingest marks every updated offer). A filtered page walks the drops in rank order and its
-- count reads the window's drops alone, instead of reading each drop's offer from the table
-- (85-165 ms for a category or brand over 90 days at 1M offers).
ALTER TABLE offer_drops ADD COLUMN currency TEXT;
ALTER TABLE offer_drops ADD COLUMN store_id TEXT;
ALTER TABLE offer_drops ADD COLUMN category_key TEXT;
ALTER TABLE offer_drops ADD COLUMN brand_key TEXT;
ALTER TABLE offer_drops ADD COLUMN price_minor INTEGER;
UPDATE offer_drops SET (currency, store_id, category_key, brand_key, price_minor) =
    (SELECT o.currency, o.store_id, o.category_key, o.brand_key, o.price_minor
     FROM offers o WHERE o.id = offer_drops.offer_id);
