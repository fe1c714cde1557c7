-- Trending drops (docs/API.md, "Trending"): the real drop an offer's current price is
-- (`preciso_core::analysis::trend::current_drop`: below the time-weighted median of the 30 days
-- before it began) is kept on the offer, so a trending page reads one ordered range instead of
-- every candidate's history. Ingest batches mark the offers whose history they extended; the
-- refresh at the end of a run (or on the next open after a crash) recomputes them.
ALTER TABLE offers ADD COLUMN drop_ref_minor INTEGER;
ALTER TABLE offers ADD COLUMN drop_bp INTEGER;
ALTER TABLE offers ADD COLUMN drop_at INTEGER;
CREATE INDEX offers_drops ON offers(drop_bp, id) WHERE drop_bp IS NOT NULL;

CREATE TABLE trend_dirty (
    offer_id  INTEGER PRIMARY KEY
);
-- A catalog that existed before this migration: every offer whose price last fell.
INSERT INTO trend_dirty (offer_id) SELECT id FROM offers WHERE prev_price_minor > price_minor;
