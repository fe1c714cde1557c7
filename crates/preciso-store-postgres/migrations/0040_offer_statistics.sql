-- Statistics of the offers' columns taken together (issue #20, point 6): a category, a store
-- or a brand is not spread evenly over the currencies (a store sells in one), and the planner,
-- multiplying each column's share, took a top-level category's offers in one currency for 17.7k
-- where there were 92k: it sorted all of them by discount for page 50 (72–93 ms) instead of
-- walking the discount index until the page (9–15 ms). ANALYZE builds them with the rest.
CREATE STATISTICS offers_category_currency (mcv, dependencies) ON category_key, currency
    FROM offers;
CREATE STATISTICS offers_store_currency (mcv, dependencies) ON store_id, currency FROM offers;
CREATE STATISTICS offers_brand_currency (mcv) ON brand_key, currency FROM offers;
ANALYZE offers;
