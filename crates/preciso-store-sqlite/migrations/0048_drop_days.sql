-- How many drops began on each day, per store, category key and brand key and over all drops
-- (issue #20, point 6): a trending listing's total for a window (`days`) and at most one of
-- those filters sums whole days here and counts only the window's first, partial day along
-- its index — its count walked every match of the window up to 10,000 (a leaf's drops over 90
-- days: 3.7k at 1M offers, past the cap at 3M). Kept by the trend refresh and a store merge in
-- the same transaction as the drops they change (`preciso_sql::trend`). A day is
-- `drop_at / 86400`.
CREATE TABLE drop_days (
    dimension TEXT NOT NULL,
    value     TEXT NOT NULL,
    day       INTEGER NOT NULL,
    drops     INTEGER NOT NULL,
    PRIMARY KEY (dimension, value, day)
) WITHOUT ROWID;
INSERT INTO drop_days (dimension, value, day, drops)
    SELECT 'all', '', drop_at / 86400, count(*) FROM offer_drops GROUP BY drop_at / 86400;
INSERT INTO drop_days (dimension, value, day, drops)
    SELECT 'store', store_id, drop_at / 86400, count(*) FROM offer_drops
    WHERE store_id IS NOT NULL GROUP BY store_id, drop_at / 86400;
INSERT INTO drop_days (dimension, value, day, drops)
    SELECT 'category', category_key, drop_at / 86400, count(*) FROM offer_drops
    WHERE category_key IS NOT NULL GROUP BY category_key, drop_at / 86400;
INSERT INTO drop_days (dimension, value, day, drops)
    SELECT 'brand', brand_key, drop_at / 86400, count(*) FROM offer_drops
    WHERE brand_key IS NOT NULL GROUP BY brand_key, drop_at / 86400;
