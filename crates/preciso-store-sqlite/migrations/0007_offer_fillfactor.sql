-- PostgreSQL's 0007 leaves free space in the offers pages so that the per-run `last_seen`
-- updates stay on their page. SQLite updates rows in place and has no such setting; the
-- migration exists so both backends report the same schema version.
SELECT 1;
