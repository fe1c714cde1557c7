-- The price history's key and its covering index held the same (offer, time) entries twice
-- (issue #20, point 4): the primary key now carries the columns the forensic scan reads
-- (SQLite's 0033 keys its table the same way), and the separate covering index goes.
DROP INDEX IF EXISTS price_history_cover;
ALTER TABLE price_history DROP CONSTRAINT price_history_pkey;
ALTER TABLE price_history ADD PRIMARY KEY (offer_id, observed_at)
    INCLUDE (currency, price_minor, list_price_minor, arrival);
