-- preciso: foreign_keys off
-- The price history stored once (issue #20, point 4): a table in arrival order, a unique
-- (offer, time) index and a covering (offer, time, currency, prices, arrival) index held
-- each row three times — 90 MB at a million offers, for 39 MB of rows. Keyed by (offer,
-- time) without a rowid, the table is itself the order the covering index gave the forensic
-- scan and the key the unique index gave upserts. An initial load appends to a plain table
-- and orders it once at its end (src/bulk.rs), as it builds indexes.
CREATE TABLE price_history_new (
    offer_id          INTEGER NOT NULL REFERENCES offers(id),
    observed_at       INTEGER NOT NULL,
    price_minor       INTEGER NOT NULL,
    list_price_minor  INTEGER,
    currency          TEXT NOT NULL,
    availability      TEXT NOT NULL,
    arrival           INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (offer_id, observed_at)
) WITHOUT ROWID;
INSERT INTO price_history_new
    SELECT offer_id, observed_at, price_minor, list_price_minor, currency, availability, arrival
    FROM price_history ORDER BY offer_id, observed_at;
DROP TABLE price_history;
ALTER TABLE price_history_new RENAME TO price_history;
