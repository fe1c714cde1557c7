-- A trending listing with a currency reads the window's drops of that currency from one index
-- that carries what its filters, its order and its page read (issue #20, point 6): its count
-- and its page no longer look up every drop of the window in the table (a store's drops over
-- 90 days at 1M offers: 29k rows read for 1.5k matches, ~10 ms each).
CREATE INDEX IF NOT EXISTS offer_drops_window ON offer_drops(currency, drop_at, drop_bp,
    offer_id, reference_minor, store_id, category_key, brand_key, price_minor);
-- Without a currency (drops rank by percentage across currencies), the window is read in time
-- order from an index that carries the same columns.
DROP INDEX IF EXISTS offer_drops_time;
CREATE INDEX offer_drops_time ON offer_drops(drop_at, drop_bp, offer_id, reference_minor,
    currency, store_id, category_key, brand_key, price_minor);
