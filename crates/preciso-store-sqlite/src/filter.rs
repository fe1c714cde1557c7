//! Translates `OfferFilter`, sorts and personalization into SQLite SQL fragments with bound
//! parameters. The value score formula lives here in SQL because ranking must happen in the
//! database to page through large catalogs; README documents the same formula.

use preciso_core::domain::Currency;
use preciso_core::query::{Decimal, OfferFilter, Preferences, Sort};
use rusqlite::types::Value;

/// A WHERE clause (joined by AND) and its parameters.
#[derive(Default)]
pub(crate) struct Where {
    clauses: Vec<String>,
    pub params: Vec<Value>,
}

impl Where {
    pub fn push(&mut self, clause: impl Into<String>, params: impl IntoIterator<Item = Value>) {
        self.clauses.push(clause.into());
        self.params.extend(params);
    }

    pub fn sql(&self) -> String {
        if self.clauses.is_empty() {
            "1 = 1".into()
        } else {
            self.clauses.join(" AND ")
        }
    }
}

pub(crate) fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

/// `o.category_key` equal to the key or below it (whole segments), as an index range.
pub(crate) fn category_clause(w: &mut Where, key: &str) {
    // '/' is followed by '0' in byte order, so [key/, key0) is exactly "key/…".
    w.push(
        "(o.category_key = ? OR (o.category_key >= ? AND o.category_key < ?))",
        [text(key), text(&format!("{key}/")), text(&format!("{key}0"))],
    );
}

/// Price bounds in major units of each offer's own currency.
fn price_clause(w: &mut Where, bound: Decimal, op: &str) {
    let mut parts = Vec::new();
    let mut params = Vec::new();
    for c in Currency::all() {
        if let Some(minor) = bound.to_minor(c) {
            parts.push(format!("(o.currency = ? AND o.price_minor {op} ?)"));
            params.push(text(c.code()));
            params.push(Value::Integer(minor));
        }
    }
    w.push(format!("({})", parts.join(" OR ")), params);
}

pub(crate) fn filter_where(filter: &OfferFilter, prefs: Option<&Preferences>) -> Where {
    let mut w = Where::default();
    if let Some(key) = &filter.category {
        category_clause(&mut w, key);
    }
    if let Some(brand) = &filter.brand {
        w.push("o.brand = ? COLLATE NOCASE", [text(brand)]);
    }
    if let Some(store) = &filter.store {
        w.push("o.store_id = ?", [text(store.as_str())]);
    }
    if let Some(p) = filter.product {
        w.push("o.product_id = ?", [Value::Integer(p.as_i64())]);
    }
    if let Some(min) = filter.min_price {
        price_clause(&mut w, min, ">=");
    }
    if let Some(max) = filter.max_price {
        price_clause(&mut w, max, "<=");
    }
    if let Some(budget) = prefs.and_then(|p| p.budget) {
        let budget = Decimal { mantissa: i64::try_from(budget).unwrap_or(i64::MAX), scale: 0 };
        price_clause(&mut w, budget, "<=");
    }
    w
}

/// `1` when the offer matches the user's preferred stores or brands, else `0`.
pub(crate) fn preferred_expr(prefs: Option<&Preferences>) -> (String, Vec<Value>) {
    let Some(p) = prefs.filter(|p| !p.stores.is_empty() || !p.brands.is_empty()) else {
        return ("0".into(), vec![]);
    };
    let mut parts = Vec::new();
    let mut params = Vec::new();
    if !p.stores.is_empty() {
        parts.push(format!("o.store_id IN ({})", placeholders(p.stores.len())));
        params.extend(p.stores.iter().map(|s| text(s)));
    }
    if !p.brands.is_empty() {
        parts.push(format!("lower(o.brand) IN ({})", placeholders(p.brands.len())));
        params.extend(p.brands.iter().map(|b| text(&b.to_lowercase())));
    }
    (format!("(CASE WHEN {} THEN 1 ELSE 0 END)", parts.join(" OR ")), params)
}

pub(crate) fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// Value score 0–100 (README "Value score"):
/// 40 × price vs category median + 20 × drop vs previous price + 20 × rating
/// + 10 × review volume + 10 × availability.
pub(crate) const VALUE_SCORE: &str = "(100.0 * (
      0.40 * (CASE WHEN cs.median_minor > 0
                   THEN max(0.0, min(1.0, 1.5 - CAST(o.price_minor AS REAL) / cs.median_minor))
                   ELSE 0.5 END)
    + 0.20 * (CASE WHEN o.prev_price_minor > o.price_minor
                   THEN min(1.0, 2.0 * (o.prev_price_minor - o.price_minor) / o.prev_price_minor)
                   ELSE 0.0 END)
    + 0.20 * (CASE WHEN o.rating_centi IS NULL THEN 0.5 ELSE o.rating_centi / 500.0 END)
    + 0.10 * (CASE WHEN o.review_count >= 1000 THEN 1.0 WHEN o.review_count >= 100 THEN 0.75
                   WHEN o.review_count >= 10 THEN 0.5 WHEN o.review_count >= 1 THEN 0.25
                   ELSE 0.0 END)
    + 0.10 * (CASE o.availability WHEN 'in_stock' THEN 1.0 WHEN 'unknown' THEN 0.5 ELSE 0.0 END)
  ))";

/// ORDER BY for a sort (without the personalization prefix). Prices of different currencies
/// are not comparable, so price sorts group by currency first.
pub(crate) fn order_by(sort: Sort) -> &'static str {
    match sort {
        Sort::Price => "o.currency, o.price_minor, o.id",
        Sort::PriceDesc => "o.currency, o.price_minor DESC, o.id",
        Sort::Rating => "o.rating_centi DESC NULLS LAST, o.review_count DESC NULLS LAST, o.id",
        Sort::Date => "o.last_seen DESC, o.id",
        Sort::Discount => {
            "(CASE WHEN o.list_price_minor > o.price_minor
                   THEN CAST(o.list_price_minor - o.price_minor AS REAL) / o.list_price_minor
                   ELSE 0 END) DESC, o.id"
        }
        Sort::Value => "value_score DESC, o.id",
    }
}
