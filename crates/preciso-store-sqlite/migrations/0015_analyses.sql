-- Forensic analysis runs (issue #18, docs/QUALITY.md "Runs over the API"). Times are
-- milliseconds since the epoch, `as_of` Unix seconds; scores in tenths of a point (integers
-- compare and copy exactly on both backends). A succeeded run's report is never rewritten.
CREATE TABLE analyses (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    status        TEXT NOT NULL,
    request       TEXT NOT NULL,
    trigger_kind  TEXT NOT NULL,
    phase         INTEGER NOT NULL DEFAULT 0,
    percent       INTEGER NOT NULL DEFAULT 0,
    owner         TEXT,
    created_at    INTEGER NOT NULL,
    started_at    INTEGER,
    finished_at   INTEGER,
    heartbeat_at  INTEGER,
    as_of         INTEGER,
    error         TEXT,
    outcome       TEXT,
    overall_tenths INTEGER,
    report        TEXT
);
-- The queue (oldest queued first) and the running runs the sweep judges.
CREATE INDEX analyses_status ON analyses (status, id);

-- Each whole-store analysis's score per store: the trend, and the offer counts
-- M.volume_anomaly compares (live offers) with (the newest few before an analysis time, by index).
CREATE TABLE analysis_scores (
    store_id     TEXT NOT NULL,
    as_of        INTEGER NOT NULL,
    analysis_id  INTEGER NOT NULL REFERENCES analyses (id),
    offers       INTEGER NOT NULL,
    live_offers  INTEGER NOT NULL,
    score_tenths INTEGER NOT NULL,
    PRIMARY KEY (store_id, as_of, analysis_id)
);
CREATE INDEX analysis_scores_time ON analysis_scores (as_of);
