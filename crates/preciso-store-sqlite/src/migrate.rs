//! Schema migrations, applied in name order inside one transaction each and recorded in
//! `schema_migrations`. Names match the PostgreSQL adapter's so both report one version.

use crate::backend;
use preciso_core::ports::StoreError;
use rusqlite::Connection;

pub const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_catalog", include_str!("../migrations/0001_catalog.sql")),
    ("0002_users_keys", include_str!("../migrations/0002_users_keys.sql")),
    ("0003_job_runs", include_str!("../migrations/0003_job_runs.sql")),
    ("0004_product_best", include_str!("../migrations/0004_product_best.sql")),
    ("0005_run_lanes", include_str!("../migrations/0005_run_lanes.sql")),
    ("0006_append_order", include_str!("../migrations/0006_append_order.sql")),
    ("0007_offer_fillfactor", include_str!("../migrations/0007_offer_fillfactor.sql")),
    ("0008_category_index_id", include_str!("../migrations/0008_category_index_id.sql")),
    ("0009_store_identity", include_str!("../migrations/0009_store_identity.sql")),
    ("0010_best_per_currency", include_str!("../migrations/0010_best_per_currency.sql")),
    ("0011_trending", include_str!("../migrations/0011_trending.sql")),
    ("0012_product_search", include_str!("../migrations/0012_product_search.sql")),
    ("0013_ingest_upkeep", include_str!("../migrations/0013_ingest_upkeep.sql")),
    ("0014_offer_drops", include_str!("../migrations/0014_offer_drops.sql")),
    ("0015_analyses", include_str!("../migrations/0015_analyses.sql")),
    ("0016_history_arrival", include_str!("../migrations/0016_history_arrival.sql")),
    ("0017_store_counts", include_str!("../migrations/0017_store_counts.sql")),
    ("0018_history_cover", include_str!("../migrations/0018_history_cover.sql")),
    ("0019_market", include_str!("../migrations/0019_market.sql")),
    ("0020_store_order", include_str!("../migrations/0020_store_order.sql")),
    ("0021_market_dirty", include_str!("../migrations/0021_market_dirty.sql")),
    ("0022_brand_counts", include_str!("../migrations/0022_brand_counts.sql")),
    ("0023_store_category", include_str!("../migrations/0023_store_category.sql")),
    ("0024_product_key", include_str!("../migrations/0024_product_key.sql")),
    ("0025_listing_indexes", include_str!("../migrations/0025_listing_indexes.sql")),
    ("0026_drop_filters", include_str!("../migrations/0026_drop_filters.sql")),
    ("0027_market_recent", include_str!("../migrations/0027_market_recent.sql")),
    ("0028_store_category_offers", include_str!("../migrations/0028_store_category_offers.sql")),
    ("0029_drop_window_index", include_str!("../migrations/0029_drop_window_index.sql")),
    ("0030_value_index_covers", include_str!("../migrations/0030_value_index_covers.sql")),
    ("0031_product_index_covers", include_str!("../migrations/0031_product_index_covers.sql")),
    ("0032_products_no_key", include_str!("../migrations/0032_products_no_key.sql")),
    ("0033_history_clustered", include_str!("../migrations/0033_history_clustered.sql")),
    ("0034_price_analysis", include_str!("../migrations/0034_price_analysis.sql")),
    ("0035_rating_index_category", include_str!("../migrations/0035_rating_index_category.sql")),
    ("0036_category_products", include_str!("../migrations/0036_category_products.sql")),
    ("0037_drop_filter_indexes", include_str!("../migrations/0037_drop_filter_indexes.sql")),
    ("0038_store_recent", include_str!("../migrations/0038_store_recent.sql")),
    ("0039_recent_filter_columns", include_str!("../migrations/0039_recent_filter_columns.sql")),
    ("0041_brand_index_store", include_str!("../migrations/0041_brand_index_store.sql")),
    (
        "0042_discount_index_category",
        include_str!("../migrations/0042_discount_index_category.sql"),
    ),
    ("0043_brand_index_scores", include_str!("../migrations/0043_brand_index_scores.sql")),
    ("0044_brand_offers", include_str!("../migrations/0044_brand_offers.sql")),
    ("0045_market_value", include_str!("../migrations/0045_market_value.sql")),
    ("0047_search_prefixes", include_str!("../migrations/0047_search_prefixes.sql")),
    ("0048_drop_days", include_str!("../migrations/0048_drop_days.sql")),
];

/// Fails unless every migration is applied (a read-only open cannot apply them).
pub(crate) fn check_current(conn: &Connection) -> Result<(), StoreError> {
    let applied: Vec<String> = conn
        .prepare("SELECT name FROM schema_migrations")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(|e| StoreError::Open(format!("not a Preciso catalog, or not readable: {e}")))?;
    match MIGRATIONS.iter().find(|(name, _)| !applied.iter().any(|a| a == name)) {
        Some((name, _)) => Err(StoreError::Open(format!(
            "the catalog lacks migration {name}; run `preciso migrate` (it needs to write)"
        ))),
        None => Ok(()),
    }
}

pub(crate) fn apply(conn: &Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )
    .map_err(backend)?;
    for (name, sql) in MIGRATIONS {
        let done: bool = conn
            .query_row("SELECT count(*) > 0 FROM schema_migrations WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .map_err(backend)?;
        if !done {
            run_one(conn, name, sql).map_err(|e| StoreError::Migration {
                name: name.to_string(),
                reason: e.to_string(),
            })?;
        }
    }
    Ok(())
}

/// A migration that rebuilds a table other tables reference starts with this line: it runs
/// with foreign keys off (SQLite's documented way to rebuild a table; the pragma is a no-op
/// inside a transaction) and checks every reference before it commits.
const FOREIGN_KEYS_OFF: &str = "-- preciso: foreign_keys off";

fn run_one(conn: &Connection, name: &str, sql: &str) -> rusqlite::Result<()> {
    let keys_off = sql.starts_with(FOREIGN_KEYS_OFF);
    if keys_off {
        conn.execute_batch("PRAGMA foreign_keys = OFF")?;
    }
    let result = run_in_transaction(conn, name, sql, keys_off);
    if keys_off {
        conn.execute_batch("PRAGMA foreign_keys = ON")?;
    }
    result
}

fn run_in_transaction(
    conn: &Connection,
    name: &str,
    sql: &str,
    check_keys: bool,
) -> rusqlite::Result<()> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let result = conn.execute_batch(sql).and_then(|_| {
        if check_keys {
            foreign_key_check(conn)?;
        }
        conn.execute(
            "INSERT INTO schema_migrations (name, applied_at) VALUES (?1, strftime('%s','now'))",
            [name],
        )
        .map(drop)
    });
    match result {
        Ok(()) => conn.execute_batch("COMMIT"),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// Fails on the first row whose reference points nowhere.
fn foreign_key_check(conn: &Connection) -> rusqlite::Result<()> {
    let broken: Option<(String, i64)> = conn
        .prepare("PRAGMA foreign_key_check")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .next()
        .transpose()?;
    match broken {
        None => Ok(()),
        Some((table, rowid)) => Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY),
            Some(format!("row {rowid} of {table} references a missing row")),
        )),
    }
}
