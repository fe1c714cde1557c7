-- Two- and three-character prefixes from lists of their own (issue #20, point 6): without
-- them FTS5 answers a prefix by merging the whole list of every word it starts before the
-- search's `ORDER BY rowid LIMIT` applies, so `la*` grew with the catalog (the candidates'
-- step 1.31 → 2.74 ms from 1M to 3M offers, `lav*` 1.32 → 2.56 ms; docs/BENCHMARKS.md). A
-- prefix list is read from its start like a word's. Longer prefixes start few words each.
-- FTS5 takes its options at creation only, so the index is created again, empty. It is filled
-- the way the end of an initial load fills it when a load was killed before its search index:
-- dropping the index that load builds last (`bulk::LAST_INDEX`) makes the open that applies
-- this migration run that end (`bulk::restore_indexes`: a killed load's duplicate products
-- removed first, then the index filled in parts, sorting on disk, and the index rebuilt).
DROP TRIGGER IF EXISTS products_search_delete;
DROP TABLE product_search;
CREATE VIRTUAL TABLE product_search USING fts5(
    brand, title, content = 'products', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3'
);
CREATE TRIGGER products_search_delete AFTER DELETE ON products BEGIN
    INSERT INTO product_search (product_search, rowid, brand, title)
        VALUES ('delete', old.id, old.brand, old.title);
END;
DROP INDEX IF EXISTS offers_price_change;
