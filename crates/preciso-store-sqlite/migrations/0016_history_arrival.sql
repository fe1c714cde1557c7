-- How each history row arrived (C.history_order, issue #18): 0 in order, 1 after a later
-- observation of the offer was stored (an out-of-order scrape), 2 the same within a deliberate
-- backfill (`ingest --backfill`). Existing rows count as in order. Adding a column with a
-- constant default rewrites no row on either backend.
ALTER TABLE price_history ADD COLUMN arrival INTEGER NOT NULL DEFAULT 0;
