-- Scheduler run history (docs/OPERATIONS.md O7, O10). Times are milliseconds since the epoch.
CREATE TABLE job_runs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    job           TEXT NOT NULL,
    scheduled_for INTEGER NOT NULL,
    trigger_kind  TEXT NOT NULL,
    status        TEXT NOT NULL,
    attempt       INTEGER NOT NULL,
    dry_run       INTEGER NOT NULL,
    owner         TEXT NOT NULL,
    started_at    INTEGER NOT NULL,
    finished_at   INTEGER,
    heartbeat_at  INTEGER NOT NULL,
    error         TEXT,
    steps         TEXT NOT NULL,
    -- Run identity: a slot fires once, whatever the number of replicas or restarts.
    UNIQUE (job, scheduled_for)
);
-- No overlap: at most one active run per job, enforced by the database for every replica.
CREATE UNIQUE INDEX job_runs_one_active ON job_runs (job) WHERE status IN ('running', 'retry_wait');
CREATE INDEX job_runs_started ON job_runs (started_at);

CREATE TABLE job_run_attempts (
    run_id      INTEGER NOT NULL REFERENCES job_runs (id),
    attempt     INTEGER NOT NULL,
    status      TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    error       TEXT,
    steps       TEXT NOT NULL,
    PRIMARY KEY (run_id, attempt)
);
