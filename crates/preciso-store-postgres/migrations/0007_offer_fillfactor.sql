-- Every run re-scrapes most offers unchanged, and each one's `last_seen` moves forward: an
-- UPDATE of nearly every row. PostgreSQL writes a new row version for each; when the page has
-- room for it and no indexed column changed, the update is "HOT" (heap-only): no index entry
-- is added and the old version is pruned in place. With full pages every touch instead adds a
-- version elsewhere plus an entry in each of the six offers indexes. Half-full pages leave room
-- for a second version of every row: on the 1M benchmark the next-day run went from 22.7k to
-- 58-62k offers/s for about twice the heap size (docs/BENCHMARKS.md). Pages written from now on
-- follow the setting; `VACUUM FULL offers` rewrites an existing catalog's.
ALTER TABLE offers SET (fillfactor = 50);
