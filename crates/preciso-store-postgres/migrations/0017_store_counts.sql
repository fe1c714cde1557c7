-- Each ingest run's records per store (M.reject_rate, issue #18): those that became offers and
-- those rejected, each counted for the store the record itself names (one file may carry
-- many stores). A record whose store cannot be read is counted for none.
CREATE TABLE ingest_store_counts (
    file_id   BIGINT NOT NULL REFERENCES ingest_files (id),
    store_id  TEXT COLLATE "C" NOT NULL,
    at        BIGINT NOT NULL,
    accepted  BIGINT NOT NULL,
    rejected  BIGINT NOT NULL,
    PRIMARY KEY (file_id, store_id)
);
CREATE INDEX ingest_store_counts_at ON ingest_store_counts (at);
