-- Listings of a whole currency or a brand without reading every offer (issue #20, point 6):
-- a brand's offers by currency and price, with category, stock and product riding along, so
-- a listing filtered by brand (and a category) counts its offers or products in the chosen
-- currency from the index alone instead of reading each offer of the brand from the table
-- (~70 ms for a large brand at 1M offers); and every offer of a currency in price
-- order, so a price-sorted listing without a store reads its page (0.4 s at 1M offers
-- before), checking a category and stock on the index before reading an offer's row (a
-- top-level category with a price bound: 185 -> 8 ms); and by rating, for the rating sort
-- (brand, store and price checked on the index).
-- The indexes on expressions (`offers_value` for the value ranking, `offers_discount`) are
-- not made here: the check for deferred indexes at open builds them (each expression is
-- defined once, in preciso_sql::filter, where the queries take it from).
DROP INDEX IF EXISTS offers_brand;
CREATE INDEX IF NOT EXISTS offers_brand
    ON offers(brand_key, currency, price_minor, category_key, availability, product_id);
CREATE INDEX IF NOT EXISTS offers_price
    ON offers(currency, price_minor, id, category_key, availability);
CREATE INDEX IF NOT EXISTS offers_rating
    ON offers(currency, rating_centi DESC NULLS LAST, review_count DESC NULLS LAST, id,
        brand_key, store_id, price_minor);
