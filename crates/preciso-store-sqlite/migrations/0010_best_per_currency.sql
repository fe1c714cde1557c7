-- Best prices in one currency (docs/API.md, "One currency"): the summary keeps, per scope,
-- product and currency, the cheapest buyable offer, so a page of one currency lists every
-- product sold in it (before, a product sold in two currencies kept only the row of the
-- currency whose code sorts first). The summary is rebuilt on the next open.
DROP TABLE product_best;
DROP TABLE product_best_scopes;

CREATE TABLE product_best (
    scope        TEXT NOT NULL,
    product_id   INTEGER NOT NULL,
    currency     TEXT NOT NULL,
    price_minor  INTEGER NOT NULL,
    offer_id     INTEGER NOT NULL,
    offers       INTEGER NOT NULL,
    PRIMARY KEY (scope, product_id, currency)
) WITHOUT ROWID;
CREATE INDEX product_best_order ON product_best(scope, currency, price_minor, offer_id);
CREATE INDEX product_best_product ON product_best(product_id);

-- Products (the `total` of a best-prices page) and their buyable offers per scope and
-- currency: the currencies a listing can switch to, with their counts.
CREATE TABLE product_best_scopes (
    scope     TEXT NOT NULL,
    currency  TEXT NOT NULL,
    products  INTEGER NOT NULL,
    offers    INTEGER NOT NULL,
    PRIMARY KEY (scope, currency)
) WITHOUT ROWID;

-- preciso_core::best::EVERY_PRODUCT (i64::MIN): the next refresh rebuilds the whole summary.
INSERT OR IGNORE INTO product_best_dirty (product_id) VALUES (-9223372036854775807 - 1);
