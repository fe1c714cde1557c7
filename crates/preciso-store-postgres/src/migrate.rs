//! Migrations for PostgreSQL, under a transaction-scoped advisory lock so several replicas
//! starting together apply each migration once.

use crate::backend;
use postgres::Client;
use postgres::error::SqlState;
use preciso_core::ports::StoreError;
use std::time::Duration;

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
    ("0040_offer_statistics", include_str!("../migrations/0040_offer_statistics.sql")),
    ("0041_brand_index_store", include_str!("../migrations/0041_brand_index_store.sql")),
    (
        "0042_discount_index_category",
        include_str!("../migrations/0042_discount_index_category.sql"),
    ),
    ("0044_brand_offers", include_str!("../migrations/0044_brand_offers.sql")),
    ("0045_market_value", include_str!("../migrations/0045_market_value.sql")),
    ("0046_product_offers", include_str!("../migrations/0046_product_offers.sql")),
    ("0048_drop_days", include_str!("../migrations/0048_drop_days.sql")),
];

/// Advisory lock key for migrations ("preciso" in ASCII, as an integer).
const MIGRATION_LOCK: i64 = 0x0070_7265_6369_736f;

/// Fails unless every migration is applied (a read-only open cannot apply them).
pub(crate) fn check_current(client: &mut Client) -> Result<(), StoreError> {
    let rows = client
        .query("SELECT name FROM schema_migrations", &[])
        .map_err(|e| StoreError::Open(format!("not a Preciso catalog, or not readable: {e}")))?;
    let applied: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    match MIGRATIONS.iter().find(|(name, _)| !applied.iter().any(|a| a == name)) {
        Some((name, _)) => Err(StoreError::Open(format!(
            "the catalog lacks migration {name}; run `preciso migrate` (it needs to write)"
        ))),
        None => Ok(()),
    }
}

/// How long a migration waits for another process's migrations to finish (they may rebuild
/// indexes of a large catalog).
const TURN_WAIT: Duration = Duration::from_secs(600);

/// How long a migration's statement waits for a table lock another session holds (a replica
/// of the previous version reading `offers`, a long report): past it the migration fails
/// clearly instead of queueing every later reader of that table behind its own lock.
const LOCK_WAIT: Duration = Duration::from_secs(30);

pub(crate) fn apply(client: &mut Client) -> Result<(), StoreError> {
    apply_waiting(client, LOCK_WAIT)
}

pub(crate) fn apply_waiting(client: &mut Client, lock_wait: Duration) -> Result<(), StoreError> {
    let mut tx = client.transaction().map_err(backend)?;
    let timeout = |d: Duration| format!("SET LOCAL lock_timeout = {}", d.as_millis());
    tx.batch_execute(&timeout(TURN_WAIT)).map_err(backend)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).map_err(|e| {
        StoreError::Open(format!(
            "another process has been migrating this catalog for {} s: {e}",
            TURN_WAIT.as_secs()
        ))
    })?;
    tx.batch_execute(&timeout(lock_wait)).map_err(backend)?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)")
        .map_err(backend)?;
    for (name, sql) in MIGRATIONS {
        let done: bool = tx
            .query_one("SELECT count(*) > 0 FROM schema_migrations WHERE name = $1", &[name])
            .map_err(backend)?
            .get(0);
        if !done {
            tx.batch_execute(sql).map_err(|e| StoreError::Migration {
                name: name.to_string(),
                reason: if e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) {
                    format!(
                        "waited {} s for a table another session is using (a running server of \
                         the previous version, a long query); stop it, or run `preciso migrate` \
                         when it is idle",
                        lock_wait.as_secs_f64()
                    )
                } else {
                    e.to_string()
                },
            })?;
            tx.execute(
                "INSERT INTO schema_migrations (name, applied_at) VALUES ($1, $2)",
                &[name, &crate::now()],
            )
            .map_err(backend)?;
        }
    }
    tx.commit().map_err(backend)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PgCatalog;

    /// A migration that needs a table another session is reading fails after its lock wait,
    /// naming the migration and why, instead of waiting for ever (and queueing every later
    /// reader of the table behind its own lock); once the table is free it applies.
    #[test]
    fn a_migration_behind_a_busy_table_fails_clearly_after_its_lock_wait() {
        let Some(db) = crate::testing::TempDb::create("migrate") else { return };
        drop(PgCatalog::open(&db.url).unwrap());
        let mut client = crate::connect(&db.url).unwrap();
        // The catalog as it was before 0032, which drops the products' key.
        client
            .batch_execute(
                "ALTER TABLE products ADD COLUMN key TEXT;
                 DELETE FROM schema_migrations WHERE name = '0032_products_no_key'",
            )
            .unwrap();
        let mut reader = crate::connect(&db.url).unwrap();
        let mut reading = reader.transaction().unwrap();
        reading.batch_execute("SELECT count(*) FROM products").unwrap();

        let started = std::time::Instant::now();
        let err = apply_waiting(&mut client, Duration::from_millis(300)).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(30), "it did not wait for ever");
        let text = err.to_string();
        assert!(
            text.contains("0032_products_no_key") && text.contains("another session"),
            "{text}"
        );

        reading.commit().unwrap();
        apply_waiting(&mut client, Duration::from_millis(300)).unwrap();
        assert!(!crate::testing::has_column(&mut client, "products", "key"));
    }

    /// The planner knows how categories, stores and brands fall over the currencies: ANALYZE
    /// builds the statistics of each pair (migration 0040), whose most common combinations
    /// name the currency each store sells in.
    #[test]
    fn analyze_keeps_statistics_of_the_offers_columns_taken_together() {
        let Some(db) = crate::testing::TempDb::create("offer_statistics") else { return };
        let cat = PgCatalog::open(&db.url).unwrap();
        let offers: Vec<_> = ["S1", "S2"]
            .into_iter()
            .map(|sku| preciso_core::testing::Fixture { sku, ..Default::default() }.offer())
            .collect();
        preciso_core::testing::apply(&cat, "load", &offers);
        let mut client = crate::connect(&db.url).unwrap();
        client.batch_execute("ANALYZE offers").unwrap();
        let built: Vec<String> = client
            .query(
                "SELECT statistics_name FROM pg_stats_ext WHERE tablename = 'offers'
                 ORDER BY statistics_name",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(
            built,
            ["offers_brand_currency", "offers_category_currency", "offers_store_currency"]
        );
        let pairs: String = client
            .query_one(
                "SELECT most_common_vals::text FROM pg_stats_ext
                 WHERE statistics_name = 'offers_store_currency'",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(pairs, "{{exito,COP}}");
    }
}
