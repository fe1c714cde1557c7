-- A store's offers carry their category key in the store index (issue #20, point 6): a listing
-- of one category in one store counts its products from the index alone instead of reading
-- each of the store's offers from the table (57 ms at 1M offers).
DROP INDEX IF EXISTS offers_store;
CREATE INDEX IF NOT EXISTS offers_store
    ON offers(store_id, currency, price_minor, product_id, availability, id, category_key);
