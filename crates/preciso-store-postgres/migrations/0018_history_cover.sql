-- The forensic analysis reads every history row in (offer, time) order with its currency,
-- prices and arrival (issue #18): an index-only scan of this index instead of the primary
-- key's index and a heap fetch per row (SQLite has the same index without INCLUDE).
CREATE INDEX price_history_cover
    ON price_history (offer_id, observed_at) INCLUDE (currency, price_minor, list_price_minor, arrival);
