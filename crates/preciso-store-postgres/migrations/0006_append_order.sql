-- SQLite's 0006 moves offers, products and price history to arrival-ordered rows with the
-- content-hash id as a unique index. PostgreSQL heaps are already in arrival order and its
-- primary keys are separate B-trees, so there is nothing to change here; the migration
-- exists so both backends report the same schema version.
SELECT 1;
