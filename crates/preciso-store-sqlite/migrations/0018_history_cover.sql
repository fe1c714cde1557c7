-- The forensic analysis reads every history row in (offer, time) order with its currency,
-- prices and arrival (issue #18). Through the unique (offer_id, observed_at) index each row
-- was a table lookup in an append-ordered table, 4.3 s for 2.4M rows; this covering index
-- is one sequential scan, 0.5 s (docs/BENCHMARKS.md). Ingest appends a history row only
-- when a price changes (about 5% of offers a day): the index gains that many entries a run.
CREATE INDEX price_history_cover
    ON price_history (offer_id, observed_at, currency, price_minor, list_price_minor, arrival);
