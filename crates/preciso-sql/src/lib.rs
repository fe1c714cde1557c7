//! SQL that both store adapters (SQLite and PostgreSQL) run unchanged: the WHERE clauses of the
//! listing filters, sort orders, the value-score expression, the read queries' text and the
//! mapping of their rows to domain views. It is written in the common subset of the two
//! dialects (no `min`/`max` scalars, no `COLLATE NOCASE`, `CASE` for clamping, `?`
//! placeholders that PostgreSQL's adapter renumbers with `numbered`). Backend-specific SQL
//! stays in each adapter and is listed in docs/DECISIONS.md.

pub mod analyses;
pub mod best;
mod filter;
pub mod market;
pub mod price_analysis;
pub mod quality;
pub mod reads;
pub mod repeats;
mod row;
pub mod runs;
pub mod stores;
pub mod tables;
pub mod trend;

pub use filter::{
    DISCOUNT_INDEX, OFFER_COLUMNS, VALUE_INDEX, VALUE_OWN, VALUE_SCORE, Where, category_clause,
    filter_where, order_by, preferred_expr,
};
pub use row::{
    KEY_COLUMNS, LEDGER_COLUMNS, STORE_COLUMNS, SqlRow, USER_COLUMNS, currency_count_from_row,
    key_from_row, ledger_from_row, offer_from_row, store_from_row, user_from_row,
};

/// A bound parameter, converted by each adapter to its driver's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Int(i64),
    Text(String),
    /// SQL NULL where an integer goes (PostgreSQL binds NULLs with a type).
    NullInt,
    /// SQL NULL where text goes.
    NullText,
}

pub fn text(s: &str) -> Param {
    Param::Text(s.to_string())
}

/// Rewrites `?` placeholders as `$1, $2, …` for PostgreSQL. The shared SQL never has `?`
/// inside string literals, which this relies on.
pub fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for ch in sql.chars() {
        if ch == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(ch);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbers_placeholders_in_order() {
        assert_eq!(super::numbered("a = ? AND b IN (?, ?)"), "a = $1 AND b IN ($2, $3)");
    }
}
