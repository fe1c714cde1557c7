//! SQL of the best-offer summary (`preciso_core::best`): marking products dirty during an
//! ingest batch, rebuilding their summary rows, and reading a best-prices page from it.

use crate::filter::OFFER_COLUMNS;
use crate::reads::Query;
use crate::{Param, text};
use preciso_core::domain::Currency;
use preciso_core::query::PageRequest;

/// Products waiting for a refresh.
pub const DIRTY_COUNT: &str = "SELECT count(*) FROM product_best_dirty";
pub const PRODUCT_COUNT: &str = "SELECT count(*) FROM products";
/// Whether the marks include the one bound (`preciso_core::best::EVERY_PRODUCT`).
pub const IS_MARKED: &str = "SELECT EXISTS (SELECT 1 FROM product_best_dirty WHERE product_id = ?)";

/// Marks the product an offer belonged to before an update moved it to `?2` (first `?`: the
/// offer id). Run before the update.
pub const MARK_PREVIOUS_PRODUCT: &str = "INSERT INTO product_best_dirty (product_id)
    SELECT product_id FROM offers WHERE id = ? AND product_id <> ?
    ON CONFLICT (product_id) DO NOTHING";

pub const MARK_PRODUCT: &str =
    "INSERT INTO product_best_dirty (product_id) VALUES (?) ON CONFLICT (product_id) DO NOTHING";

pub const DELETE_ALL_ROWS: &str = "DELETE FROM product_best";
pub const CLEAR_DIRTY: &str = "DELETE FROM product_best_dirty";

/// `currency, offers, products` of a scope (`?`), most offers first.
pub const SCOPE_CURRENCIES: &str = "SELECT currency, offers, products FROM product_best_scopes
    WHERE scope = ? ORDER BY offers DESC, currency";

const BUYABLE_OFFERS: &str = "SELECT product_id, id, category_key, currency, price_minor
    FROM offers WHERE availability <> 'out_of_stock'";

/// `product_id, id, category_key, currency, price_minor` of the dirty products' buyable
/// offers, grouped by product.
pub fn dirty_offers() -> String {
    format!(
        "{BUYABLE_OFFERS} AND product_id IN (SELECT product_id FROM product_best_dirty)
         ORDER BY product_id"
    )
}

/// The same for every product (a rebuild when most products are dirty).
pub fn all_offers() -> String {
    format!("{BUYABLE_OFFERS} ORDER BY product_id")
}

pub const INSERT_ROW: &str = "INSERT INTO product_best
    (scope, product_id, currency, price_minor, offer_id, offers) VALUES (?, ?, ?, ?, ?, ?)";

/// `INSERT_ROW`, replacing the row of the same (scope, product, currency).
pub const UPSERT_ROW: &str = "INSERT INTO product_best
    (scope, product_id, currency, price_minor, offer_id, offers) VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (product_id, scope, currency) DO UPDATE SET price_minor = excluded.price_minor,
        offer_id = excluded.offer_id, offers = excluded.offers";

/// The marked products (a partial refresh: `EVERY_PRODUCT` is not among them).
pub const DIRTY_PRODUCTS: &str = "SELECT product_id FROM product_best_dirty";

pub const DELETE_ALL_SCOPES: &str = "DELETE FROM product_best_scopes";

/// Adds (scope, currency, products, offers) deltas to the scope counts (`ScopeTally`).
pub const ADD_TO_SCOPE: &str = "INSERT INTO product_best_scopes (scope, currency, products, offers)
    VALUES (?, ?, ?, ?) ON CONFLICT (scope, currency) DO UPDATE
    SET products = product_best_scopes.products + excluded.products,
        offers = product_best_scopes.offers + excluded.offers";

pub const DROP_EMPTY_SCOPES: &str = "DELETE FROM product_best_scopes WHERE products <= 0";

/// `scope, currency, price_minor, offer_id, offers` of one product's rows.
pub const PRODUCT_ROWS: &str = "SELECT scope, currency, price_minor, offer_id, offers
    FROM product_best WHERE product_id = ?";

pub const DELETE_ROW: &str =
    "DELETE FROM product_best WHERE scope = ? AND product_id = ? AND currency = ?";

/// A best-prices page of a scope in one currency: `OFFER_COLUMNS` then the product's buyable
/// offer count (`offers_for_product`); and the count of products in the scope sold in that
/// currency. The page is cut from the summary's index alone and only its own offers are
/// read: joined before the OFFSET, page 50 read the 1,000 offers it skips (at 1M, PostgreSQL
/// 21.2 → 3.7 ms a request, SQLite 7 → 3 ms in `sqlite3`; docs/BENCHMARKS.md).
pub fn page(scope: &str, currency: Currency, page: PageRequest) -> (Query, Query) {
    let rows = Query {
        sql: format!(
            "SELECT {OFFER_COLUMNS}, b.offers AS offers_for_product
             FROM (SELECT offer_id, price_minor, offers FROM product_best
                   WHERE scope = ? AND currency = ? ORDER BY price_minor, offer_id LIMIT ? OFFSET ?) b
             JOIN offers o ON o.id = b.offer_id ORDER BY b.price_minor, b.offer_id"
        ),
        params: vec![
            text(scope),
            text(currency.code()),
            Param::Int(i64::from(page.limit)),
            Param::Int(page.offset() as i64),
        ],
    };
    (rows, scope_products(scope, currency))
}

/// The products of a scope sold in a currency (the summary's count): a best-prices page's
/// total.
pub fn scope_products(scope: &str, currency: Currency) -> Query {
    Query {
        sql: "SELECT coalesce(max(products), 0) FROM product_best_scopes
              WHERE scope = ? AND currency = ?"
            .into(),
        params: vec![text(scope), text(currency.code())],
    }
}
