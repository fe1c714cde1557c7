-- The product index carries what a search ranks by and filters on, as SQLite's has since
-- 0021: (product_id, availability, category_key, currency, price_minor, id, store_id). A
-- search reads its candidate products' offers from the index alone, then only its page's
-- offers (issue #20, point 6). Dropped here, it is built again with the new columns by the
-- deferred-index check of the open that runs this.
DROP INDEX IF EXISTS offers_product;
