-- Overlap policies (docs/OPERATIONS.md O4). Runs in one lane exclude each other: with the default
-- policy (forbid) and with replace every run of a job is in lane 0, so at most one is active;
-- a job that allows overlap gives each run its own lane.
ALTER TABLE job_runs ADD COLUMN lane INTEGER NOT NULL DEFAULT 0;
DROP INDEX job_runs_one_active;
CREATE UNIQUE INDEX job_runs_one_active ON job_runs (job, lane) WHERE status IN ('running', 'retry_wait');
