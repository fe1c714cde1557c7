-- Text search of products through an index (docs/API.md, "Price comparison"): a GIN index of
-- each product's brand and title as words, lowercased and with the accents of Spanish and
-- Portuguese removed (the same folding the query's words get), built-in full-text search
-- only (no extension). `price-comparison?q=` matches every word as a word prefix instead of
-- scanning every product with a leading-wildcard LIKE.
CREATE INDEX products_search ON products USING gin (to_tsvector('simple',
    translate(lower(coalesce(brand, '') || ' ' || title),
        'áàâãäåéèêëíìîïóòôõöúùûüñçý', 'aaaaaaeeeeiiiiooooouuuuncy')));
