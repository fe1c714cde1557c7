-- Text search of products through an index (docs/API.md, "Price comparison"): an FTS5 index
-- of each product's brand and title, folded (case and accents) by its tokenizer, kept by
-- triggers (products are only ever inserted or deleted). `price-comparison?q=` matches every
-- word as a word prefix instead of scanning every product with a leading-wildcard LIKE.
CREATE VIRTUAL TABLE product_search USING fts5(
    brand, title, content = 'products', content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER products_search_insert AFTER INSERT ON products BEGIN
    INSERT INTO product_search (rowid, brand, title) VALUES (new.rowid, new.brand, new.title);
END;
CREATE TRIGGER products_search_delete AFTER DELETE ON products BEGIN
    INSERT INTO product_search (product_search, rowid, brand, title)
        VALUES ('delete', old.rowid, old.brand, old.title);
END;
INSERT INTO product_search (product_search) VALUES ('rebuild');
