//! The catalog's tables as a dump/load sees them: name, columns in a fixed order, and the
//! primary key to order by. Listed parents first so loading in this order satisfies foreign
//! keys. `schema_migrations` is not dumped: the target runs its own migrations.

use preciso_core::ports::{Cell, StoreError};

pub struct TableSpec {
    pub name: &'static str,
    pub columns: &'static [&'static str],
    pub order_by: &'static str,
}

pub const TABLES: &[TableSpec] = &[
    TableSpec {
        name: "stores",
        columns: &["id", "name", "country", "currency", "base_url", "created_at", "last_seen_at"],
        order_by: "id",
    },
    TableSpec {
        name: "products",
        columns: &["id", "gtin", "brand", "title", "category", "created_at"],
        order_by: "id",
    },
    TableSpec {
        name: "offers",
        columns: &[
            "id",
            "store_id",
            "sku",
            "url",
            "product_id",
            "title",
            "brand",
            "brand_key",
            "category",
            "category_key",
            "gtin",
            "image_url",
            "price_minor",
            "list_price_minor",
            "currency",
            "prev_price_minor",
            "price_changed_at",
            "availability",
            "rating_centi",
            "review_count",
            "first_seen",
            "last_seen",
            "content_hash",
            "last_file_id",
        ],
        order_by: "id",
    },
    TableSpec {
        name: "price_history",
        columns: &[
            "offer_id",
            "observed_at",
            "price_minor",
            "list_price_minor",
            "currency",
            "availability",
            "arrival",
        ],
        order_by: "offer_id, observed_at",
    },
    TableSpec {
        name: "ingest_files",
        columns: &[
            "id",
            "name",
            "sha256",
            "size",
            "store_id",
            "received_at",
            "finished_at",
            "status",
            "read",
            "inserted",
            "updated",
            "unchanged",
            "duplicate",
            "rejected",
            "archive_key",
            "error",
        ],
        order_by: "id",
    },
    TableSpec {
        name: "ingest_store_counts",
        columns: &["file_id", "store_id", "at", "accepted", "rejected"],
        order_by: "file_id, store_id",
    },
    TableSpec {
        name: "category_stats",
        columns: &["category_key", "currency", "offers", "median_minor"],
        order_by: "category_key, currency",
    },
    TableSpec {
        name: "product_best",
        columns: &["scope", "product_id", "currency", "price_minor", "offer_id", "offers"],
        order_by: "scope, product_id, currency",
    },
    TableSpec {
        name: "product_best_scopes",
        columns: &["scope", "currency", "products", "offers"],
        order_by: "scope, currency",
    },
    TableSpec { name: "product_best_dirty", columns: &["product_id"], order_by: "product_id" },
    TableSpec {
        name: "offer_drops",
        columns: &[
            "offer_id",
            "reference_minor",
            "drop_bp",
            "drop_at",
            "currency",
            "store_id",
            "category_key",
            "brand_key",
            "price_minor",
        ],
        order_by: "offer_id",
    },
    TableSpec { name: "trend_dirty", columns: &["offer_id"], order_by: "offer_id" },
    TableSpec {
        name: "users",
        columns: &["id", "name", "email", "preferences", "created_at", "updated_at"],
        order_by: "id",
    },
    TableSpec {
        name: "store_names",
        columns: &["store_id", "name", "records", "last_seen_at"],
        order_by: "store_id, name",
    },
    TableSpec { name: "store_aliases", columns: &["alias", "store_id"], order_by: "alias" },
    TableSpec {
        name: "api_keys",
        columns: &["id", "name", "prefix", "key_hash", "scopes", "created_at", "revoked_at"],
        order_by: "id",
    },
    TableSpec {
        name: "analyses",
        columns: &[
            "id",
            "status",
            "request",
            "trigger_kind",
            "phase",
            "percent",
            "owner",
            "created_at",
            "started_at",
            "finished_at",
            "heartbeat_at",
            "as_of",
            "error",
            "outcome",
            "overall_tenths",
            "report",
        ],
        order_by: "id",
    },
    TableSpec {
        name: "analysis_scores",
        columns: &["store_id", "as_of", "analysis_id", "offers", "live_offers", "score_tenths"],
        order_by: "store_id, as_of, analysis_id",
    },
];

pub fn table(name: &str) -> Option<&'static TableSpec> {
    TABLES.iter().find(|t| t.name == name)
}

/// Refuses rows that do not have exactly the table's columns: a short or long row would
/// shift values into the wrong columns.
pub fn check_widths(t: &TableSpec, rows: &[Vec<Cell>]) -> Result<(), StoreError> {
    match rows.iter().position(|r| r.len() != t.columns.len()) {
        Some(i) => Err(StoreError::Backend(format!(
            "{}: row {} has {} values, the table has {} columns",
            t.name,
            i + 1,
            rows[i].len(),
            t.columns.len()
        ))),
        None => Ok(()),
    }
}

/// `SELECT cols FROM t ORDER BY key`.
pub fn select_all(t: &TableSpec) -> String {
    format!("SELECT {} FROM {} ORDER BY {}", t.columns.join(", "), t.name, t.order_by)
}

/// `INSERT INTO t (cols) VALUES (?, …)`.
pub fn insert_one(t: &TableSpec) -> String {
    format!(
        "INSERT INTO {} ({}) VALUES ({})",
        t.name,
        t.columns.join(", "),
        vec!["?"; t.columns.len()].join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_of_the_wrong_width_are_refused() {
        let stores = table("stores").unwrap();
        let row = |n: usize| vec![Cell::Null; n];
        let width = stores.columns.len();
        assert!(check_widths(stores, &[row(width), row(width)]).is_ok());
        let err = check_widths(stores, &[row(width), row(width - 1)]).unwrap_err();
        assert!(err.to_string().contains("stores: row 2 has"), "{err}");
        assert!(check_widths(stores, &[row(width + 1)]).is_err());
    }
}
