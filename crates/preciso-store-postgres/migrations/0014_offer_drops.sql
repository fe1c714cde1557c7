-- Trending drops in a table of their own (docs/BENCHMARKS.md, "Catalog shapes"): kept on the
-- offer row, every refreshed drop rewrote a wide row and, its columns being indexed, every
-- index of the offer (on PostgreSQL a non-HOT update: 62 µs per drop, 1.8 s for a day's 29k
-- drops at a million offers). Only offers with a real drop have a row here; a trending page
-- walks offer_drops_rank and reads the page's offers by id.
CREATE TABLE offer_drops (
    offer_id         BIGINT PRIMARY KEY,
    reference_minor  BIGINT NOT NULL,
    drop_bp          BIGINT NOT NULL,
    drop_at          BIGINT NOT NULL
);
INSERT INTO offer_drops (offer_id, reference_minor, drop_bp, drop_at)
    SELECT id, drop_ref_minor, drop_bp, drop_at FROM offers WHERE drop_bp IS NOT NULL;
CREATE INDEX offer_drops_rank ON offer_drops(drop_bp, offer_id, drop_at);
CREATE INDEX offer_drops_time ON offer_drops(drop_at);
DROP INDEX IF EXISTS offers_drops;
DROP INDEX IF EXISTS offers_drop_time;
ALTER TABLE offers DROP COLUMN drop_ref_minor;
ALTER TABLE offers DROP COLUMN drop_bp;
ALTER TABLE offers DROP COLUMN drop_at;
