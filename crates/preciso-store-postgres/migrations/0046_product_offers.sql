-- Each product's offer count (every availability) on its own row, for the text search's
-- ranking (`price-comparison?q=`, most offers first): the search index's matches are read
-- from `products`, so the ranking reads the count with them instead of probing `offers` once
-- per candidate (2,000 a search: 9 of a request's ~10 ms at 1M offers). PostgreSQL only:
-- SQLite's probes cost a tenth as much. Kept by the best-offer summary's refresh for the
-- products a run marked (`crate::best::recount`); a new product starts at 1 (the offer that
-- brought it), which the refresh corrects. Readers count instead while a mark is pending.
ALTER TABLE products ADD COLUMN offers BIGINT NOT NULL DEFAULT 1;
UPDATE products p SET offers = c.n
FROM (SELECT q.id, count(o.product_id) AS n
      FROM products q LEFT JOIN offers o ON o.product_id = q.id GROUP BY q.id) c
WHERE p.id = c.id AND p.offers <> c.n;
