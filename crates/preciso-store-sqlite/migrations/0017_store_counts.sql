-- Each ingest run's records per store (M.reject_rate, issue #18): those that became offers and
-- those rejected, each counted for the store the record itself names (one file may carry
-- many stores). A record whose store cannot be read is counted for none.
CREATE TABLE ingest_store_counts (
    file_id   INTEGER NOT NULL REFERENCES ingest_files (id),
    store_id  TEXT NOT NULL,
    at        INTEGER NOT NULL,
    accepted  INTEGER NOT NULL,
    rejected  INTEGER NOT NULL,
    PRIMARY KEY (file_id, store_id)
);
CREATE INDEX ingest_store_counts_at ON ingest_store_counts (at);
