-- A store's offers in price order (issue #19): the web UI links every store to its listing
-- (`/search?store=…`), whose page streamed and sorted all of the store's offers (0.1 s at 1M
-- offers) and counted its products through the table. With currency and price after the
-- store, the page reads in index order and stops; the count reads the index alone.
DROP INDEX IF EXISTS offers_store;
CREATE INDEX IF NOT EXISTS offers_store
    ON offers(store_id, currency, price_minor, product_id, availability, id);
-- The total of a store's listing: its products with a buyable offer, per currency. The
-- summary is rebuilt on the next open (build_market_if_missing finds it empty).
ALTER TABLE store_market ADD COLUMN products INTEGER NOT NULL DEFAULT 0;
DELETE FROM store_stats;
