-- Two- and three-character prefixes from an index of their own (issue #20, point 6): without
-- it FTS5 answers a prefix by merging the whole list of every word it starts before the
-- search's `ORDER BY rowid LIMIT` applies, so `la*` grew with the catalog (the candidates'
-- step 1.41 → 2.80 ms from 1M to 3M offers, `lav*` 0.94 → 3.91 ms; docs/BENCHMARKS.md). A
-- prefix index holds one list per prefix, read from its start like a word's. Longer prefixes
-- start few words each. FTS5 takes its options at creation only: the index is created again
-- and filled the way `search::index_missing` fills (in id order, with a larger term buffer
-- and merge width, then FTS5's defaults back), much faster than FTS5's own `rebuild`.
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
INSERT INTO product_search (product_search, rank) VALUES ('hashsize', 8388608);
INSERT INTO product_search (product_search, rank) VALUES ('automerge', 16);
INSERT INTO product_search (rowid, brand, title)
    SELECT id, brand, title FROM products NOT INDEXED ORDER BY id;
INSERT INTO product_search (product_search, rank) VALUES ('hashsize', 1048576);
INSERT INTO product_search (product_search, rank) VALUES ('automerge', 4);
