//! Listing filters, personalization, sorts and the value score as portable SQL fragments.

use crate::{Param, text};
use preciso_core::domain::{Currency, fold_for_matching};
use preciso_core::query::{Decimal, OfferFilter, Preferences, Sort};

/// The columns `offer_from_row` maps, in order, from `offers o`.
pub const OFFER_COLUMNS: &str = "o.id, o.store_id, o.product_id, o.sku, o.title, o.brand,
    o.category, o.gtin, o.url, o.image_url, o.price_minor, o.list_price_minor, o.prev_price_minor,
    o.currency, o.availability, o.rating_centi, o.review_count, o.first_seen, o.last_seen,
    o.price_changed_at";

/// A WHERE clause (joined by AND) and its parameters.
#[derive(Debug, Default, Clone)]
pub struct Where {
    clauses: Vec<String>,
    pub params: Vec<Param>,
}

impl Where {
    pub fn push(&mut self, clause: impl Into<String>, params: impl IntoIterator<Item = Param>) {
        self.clauses.push(clause.into());
        self.params.extend(params);
    }

    /// Whether nothing is filtered.
    pub fn is_empty(&self) -> bool {
        self.clauses.is_empty()
    }

    pub fn sql(&self) -> String {
        if self.clauses.is_empty() { "1 = 1".into() } else { self.clauses.join(" AND ") }
    }
}

/// `o.category_key` equal to the key or below it (whole segments), as one index range.
pub fn category_clause(w: &mut Where, key: &str) {
    // '/' is followed by '0' in byte order, so [key, key0) holds the key, everything below it,
    // and siblings like "key-x" (whose next byte sorts before '/'), which the second part drops.
    w.push(
        "o.category_key >= ? AND o.category_key < ? AND (o.category_key = ? OR o.category_key >= ?)",
        [text(key), text(&format!("{key}0")), text(key), text(&format!("{key}/"))],
    );
    // The same keys as a list from the market summary: an index seek per key (and currency,
    // the category index's next column) instead of one range over every currency. A category
    // new to the catalog is listed once the run that brings it ends, like best prices.
    w.push(
        "o.category_key IN (SELECT c.category_key FROM category_counts c
            WHERE c.category_key = ? OR (c.category_key >= ? AND c.category_key < ?))",
        [text(key), text(&format!("{key}/")), text(&format!("{key}0"))],
    );
}

/// A price bound in major units: of `currency` when the listing has one, else of each
/// offer's own currency.
fn price_clause(w: &mut Where, bound: Decimal, op: &str, currency: Option<Currency>) {
    if let Some(c) = currency {
        w.push(format!("o.price_minor {op} ?"), [Param::Int(bound.bound_minor(c))]);
        return;
    }
    // The bound in minor units depends only on the currency's exponent: one branch per
    // exponent, a single comparison per row (a term per currency made each row test ~150 of
    // them, and an OR of terms had SQLite seek an index once per term: a price-bounded
    // trending page without a currency took 24 ms at 1M offers). A bound no price of an
    // exponent can reach leaves its currencies out (NULL: no match).
    let mut by_exponent: std::collections::BTreeMap<u8, Vec<Currency>> = Default::default();
    for c in Currency::all() {
        by_exponent.entry(c.exponent()).or_default().push(c);
    }
    let mut branches = Vec::new();
    let mut params = Vec::new();
    for currencies in by_exponent.values() {
        if let Some(minor) = bound.to_minor(currencies[0]) {
            let marks = placeholders(currencies.len());
            branches.push(format!("WHEN o.currency IN ({marks}) THEN CAST(? AS BIGINT)"));
            params.extend(currencies.iter().map(|c| text(c.code())));
            params.push(Param::Int(minor));
        }
    }
    if branches.is_empty() {
        w.push("1 = 0", []);
        return;
    }
    w.push(format!("o.price_minor {op} CASE {} END", branches.join(" ")), params);
}

pub fn filter_where(filter: &OfferFilter, prefs: Option<&Preferences>) -> Where {
    let mut w = Where::default();
    if filter.unmatched {
        w.push("1 = 0", []);
    }
    if let Some(key) = &filter.category {
        category_clause(&mut w, key);
    }
    if let Some(c) = filter.currency {
        w.push("o.currency = ?", [text(c.code())]);
    }
    if let Some(brand) = &filter.brand {
        w.push("o.brand_key = ?", [Param::Text(fold_for_matching(brand.trim()))]);
    }
    if let Some(store) = &filter.store {
        w.push("o.store_id = ?", [text(store.as_str())]);
    }
    if let Some(p) = filter.product {
        w.push("o.product_id = ?", [Param::Int(p.as_i64())]);
    }
    if let Some(min) = filter.min_price {
        price_clause(&mut w, min, ">=", filter.currency);
    }
    if let Some(max) = filter.max_price {
        price_clause(&mut w, max, "<=", filter.currency);
    }
    if let Some(budget) = prefs.and_then(|p| p.budget) {
        let budget = Decimal { mantissa: i64::try_from(budget).unwrap_or(i64::MAX), scale: 0 };
        price_clause(&mut w, budget, "<=", filter.currency);
    }
    w
}

/// `1` when the offer matches the user's preferred stores or brands, else `0`; `None`
/// without such preferences.
pub fn preferred_expr(prefs: Option<&Preferences>) -> Option<(String, Vec<Param>)> {
    let p = prefs.filter(|p| !p.stores.is_empty() || !p.brands.is_empty())?;
    let mut parts = Vec::new();
    let mut params = Vec::new();
    if !p.stores.is_empty() {
        parts.push(format!("o.store_id IN ({})", placeholders(p.stores.len())));
        params.extend(p.stores.iter().map(|s| text(s)));
    }
    if !p.brands.is_empty() {
        parts.push(format!("o.brand_key IN ({})", placeholders(p.brands.len())));
        params.extend(p.brands.iter().map(|b| Param::Text(fold_for_matching(b.trim()))));
    }
    Some((format!("(CASE WHEN {} THEN 1 ELSE 0 END)", parts.join(" OR ")), params))
}

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// The value score's own part, 0–60, as a string literal with every column prefixed by `$o`:
/// what the offer alone decides (drop from its previous price, rating, review volume,
/// availability; 100 × the last four weights of `VALUE_SCORE`). A macro so that the query's
/// expression and the index's are one text (`VALUE_OWN`, `VALUE_INDEX`).
#[macro_export]
macro_rules! value_own {
    ($o:literal) => {
        concat!(
            "100.0 * (0.20 * (CASE WHEN ",
            $o,
            "prev_price_minor IS NULL OR ",
            $o,
            "prev_price_minor <= ",
            $o,
            "price_minor THEN 0.0 WHEN 2.0 * (",
            $o,
            "prev_price_minor - ",
            $o,
            "price_minor) >= ",
            $o,
            "prev_price_minor THEN 1.0 ELSE 2.0 * (",
            $o,
            "prev_price_minor - ",
            $o,
            "price_minor) / CAST(",
            $o,
            "prev_price_minor AS DOUBLE PRECISION) END) + 0.20 * (CASE WHEN ",
            $o,
            "rating_centi IS NULL THEN 0.5 ELSE ",
            $o,
            "rating_centi / 500.0 END) + 0.10 * (CASE WHEN ",
            $o,
            "review_count >= 1000 THEN 1.0 WHEN ",
            $o,
            "review_count >= 100 THEN 0.75 WHEN ",
            $o,
            "review_count >= 10 THEN 0.5 WHEN ",
            $o,
            "review_count >= 1 THEN 0.25 ELSE 0.0 END) + 0.10 * (CASE ",
            $o,
            "availability WHEN 'in_stock' THEN 1.0 WHEN 'unknown' THEN 0.5 ELSE 0.0 END))"
        )
    };
}

/// `value_own!` over `offers o`: the value ranking's sort key (`preciso_core::ranking`).
pub const VALUE_OWN: &str = value_own!("o.");

/// Value score 0–100 (README "Value score"): 40 × price vs category median + 20 × drop vs
/// previous price + 20 × rating + 10 × review volume + 10 × availability. Needs `offers o`
/// left-joined with `category_stats cs` on category key and currency.
///
/// Written as the own part (`VALUE_OWN`, which an index holds) plus the price term's points,
/// each in double precision, in the order `preciso_core::ranking::price_points` computes them:
/// a value scan reads the own part from the index and adds the price term in Rust (no join
/// per offer), and gets the very score a sort computes here. Walking 245k offers of the
/// value index in `sqlite3`: 97 ms with the score as one weighted sum, 69 ms in this form,
/// 28 ms reading the own part alone (docs/BENCHMARKS.md).
pub const VALUE_SCORE: &str = concat!(
    "(CAST(",
    value_own!("o."),
    " AS DOUBLE PRECISION) + 40.0 * (CASE
        WHEN cs.median_minor IS NULL OR cs.median_minor <= 0 THEN 0.5
        WHEN o.price_minor >= 1.5 * cs.median_minor THEN 0.0
        WHEN o.price_minor <= 0.5 * cs.median_minor THEN 1.0
        ELSE 1.5 - CAST(o.price_minor AS DOUBLE PRECISION) / cs.median_minor END))"
);

/// The index that reads offers of a currency in descending own part. The expression must be
/// the query's, column for column, for SQLite to use it; brand, store, price and category ride
/// along so those filters are checked on the index, and the score's other columns (previous
/// price, rating, reviews, stock) so the scan computes each score from the index alone: a
/// ranked page 100 read ~33k offers' rows at random (PostgreSQL 271 → 55 ms, SQLite 4× less
/// with them). Both adapters build it with the offers' other deferred indexes (so a catalog
/// gets it when it is next opened; migration 0030 dropped the narrower one).
pub const VALUE_INDEX: &str = concat!(
    "CREATE INDEX IF NOT EXISTS offers_value ON offers (currency, (",
    value_own!(""),
    ") DESC, id, brand_key, store_id, price_minor, category_key, prev_price_minor, rating_centi, \
     review_count, availability)"
);

/// The share an offer's price is below its list price (0 without a list price above it),
/// with every column prefixed by `$o`: the discount sort's key, indexed as written
/// (`DISCOUNT_INDEX`).
#[macro_export]
macro_rules! discount {
    ($o:literal) => {
        concat!(
            "(CASE WHEN ",
            $o,
            "list_price_minor > ",
            $o,
            "price_minor THEN CAST(",
            $o,
            "list_price_minor - ",
            $o,
            "price_minor AS DOUBLE PRECISION) / ",
            $o,
            "list_price_minor ELSE 0 END)"
        )
    };
}

/// Every offer of a currency by discount: the discount sort reads its page along it, checking
/// brand, store, price and category on the index (built with the other deferred indexes, like
/// `VALUE_INDEX`). Without the category (before migration 0042) PostgreSQL had to read each
/// walked offer's row to test it, so it sorted a top-level category's 92k offers for a deep
/// page whenever its sample put them at half that (44–66 ms at 1M); with it, the walk reads
/// only the rows it keeps (4–8 ms) and is the cheaper plan even at that estimate.
pub const DISCOUNT_INDEX: &str = concat!(
    "CREATE INDEX IF NOT EXISTS offers_discount ON offers (currency, ",
    discount!(""),
    " DESC, id, brand_key, store_id, price_minor, category_key)"
);

/// ORDER BY for a sort. Prices of different currencies are not comparable, so price sorts
/// group by currency first. `value_score` must be selected under that name for `Sort::Value`.
pub fn order_by(sort: Sort) -> &'static str {
    match sort {
        Sort::Price => "o.currency, o.price_minor, o.id",
        Sort::PriceDesc => "o.currency, o.price_minor DESC, o.id",
        Sort::Rating => "o.rating_centi DESC NULLS LAST, o.review_count DESC NULLS LAST, o.id",
        Sort::Date => "o.last_seen DESC, o.id",
        Sort::Discount => concat!(discount!("o."), " DESC, o.id"),
        Sort::Value => "value_score DESC, o.id",
    }
}
