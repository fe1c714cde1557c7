-- A brand's index carries every column of the value score (issue #20, point 6): a brand's
-- value-sorted listing whose matches are too sparse to walk the value index (a store and a
-- brand, or a brand in a category with a price range) scores them from this index alone. It
-- read the currency's whole value index to find them instead (63-68 ms at 3M offers on SQLite,
-- growing with the currency), or each match's row from the table.
DROP INDEX IF EXISTS offers_brand;
CREATE INDEX IF NOT EXISTS offers_brand
    ON offers(brand_key, currency, price_minor, category_key, availability, product_id, store_id,
        prev_price_minor, rating_centi, review_count, id);
