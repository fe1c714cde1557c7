//! Initial loads into an empty catalog. Keeping the offers table's five secondary indexes and
//! the three foreign keys of the catalog up to date row by row costs more than writing the
//! rows (each foreign-key check is a locking lookup per row): a load that starts on an empty
//! catalog drops them, and its end builds each index once from sorted data and validates each
//! key with one join (docs/BENCHMARKS.md has the figures).
//!
//! Both steps run under a `SHARE ROW EXCLUSIVE` lock on `offers`, which readers pass and
//! which makes two loads starting together agree. `restore` is idempotent and
//! `PgCatalog::open` runs it, so a load that crashed leaves nothing missing once anything
//! opens the catalog again. The definitions below are those of the migrations (0001, 0008);
//! a migration that changes one of them must change it here too.

use crate::backend;
use postgres::{Client, GenericClient};
use preciso_core::ports::StoreError;

/// The offers table's secondary indexes: (name, definition).
const OFFER_INDEXES: &[(&str, &str)] = &[
    ("offers_product", "CREATE INDEX IF NOT EXISTS offers_product ON offers(product_id)"),
    ("offers_store", "CREATE INDEX IF NOT EXISTS offers_store ON offers(store_id)"),
    (
        "offers_category",
        "CREATE INDEX IF NOT EXISTS offers_category ON offers(category_key, currency, price_minor,
             product_id, store_id, availability, brand, brand_key, list_price_minor,
             prev_price_minor, rating_centi, review_count, id)",
    ),
    ("offers_brand", "CREATE INDEX IF NOT EXISTS offers_brand ON offers(brand_key)"),
    (
        "offers_price_change",
        "CREATE INDEX IF NOT EXISTS offers_price_change ON offers(price_changed_at)",
    ),
];

/// The foreign keys a load writes rows under: (table, constraint, definition).
const FOREIGN_KEYS: &[(&str, &str, &str)] = &[
    ("offers", "offers_store_id_fkey", "FOREIGN KEY (store_id) REFERENCES stores(id)"),
    ("offers", "offers_product_id_fkey", "FOREIGN KEY (product_id) REFERENCES products(id)"),
    (
        "price_history",
        "price_history_offer_id_fkey",
        "FOREIGN KEY (offer_id) REFERENCES offers(id)",
    ),
];

/// Readers go on; a second load's `begin` or `restore` waits for this one's transaction.
const LOCK: &str = "LOCK TABLE offers IN SHARE ROW EXCLUSIVE MODE";

/// Drops the deferred indexes and keys when the catalog has no offers; returns whether it did
/// (whether the session is an initial load that must call `restore` at its end).
pub(crate) fn begin(client: &mut Client) -> Result<bool, StoreError> {
    let mut tx = client.transaction().map_err(backend)?;
    tx.batch_execute(LOCK).map_err(backend)?;
    let empty: bool =
        tx.query_one("SELECT NOT EXISTS (SELECT 1 FROM offers)", &[]).map_err(backend)?.get(0);
    if !empty {
        return Ok(false);
    }
    for (table, name, _) in FOREIGN_KEYS {
        tx.batch_execute(&format!("ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}"))
            .map_err(backend)?;
    }
    for (name, _) in OFFER_INDEXES {
        tx.batch_execute(&format!("DROP INDEX IF EXISTS {name}")).map_err(backend)?;
    }
    tx.commit().map_err(backend)?;
    Ok(true)
}

/// Builds whichever deferred index or key is missing, in one transaction; does nothing (one
/// catalog query) when none is.
pub(crate) fn restore(client: &mut Client) -> Result<(), StoreError> {
    if missing(client)?.is_empty() {
        return Ok(());
    }
    let mut tx = client.transaction().map_err(backend)?;
    tx.batch_execute(LOCK).map_err(backend)?;
    // Sorting a million rows' wide category key in memory instead of in runs on disk.
    tx.batch_execute("SET LOCAL maintenance_work_mem = '256MB'").map_err(backend)?;
    for name in missing(&mut tx)? {
        if let Some((_, sql)) = OFFER_INDEXES.iter().find(|(n, _)| *n == name) {
            tx.batch_execute(sql).map_err(backend)?;
        }
        if let Some((table, _, def)) = FOREIGN_KEYS.iter().find(|(_, n, _)| *n == name) {
            tx.batch_execute(&format!("ALTER TABLE {table} ADD CONSTRAINT {name} {def}"))
                .map_err(backend)?;
        }
    }
    tx.commit().map_err(backend)
}

/// Names of the deferred indexes and keys the catalog does not have.
fn missing(tx: &mut impl GenericClient) -> Result<Vec<String>, StoreError> {
    let index_names: Vec<&str> = OFFER_INDEXES.iter().map(|(n, _)| *n).collect();
    let key_names: Vec<&str> = FOREIGN_KEYS.iter().map(|(_, n, _)| *n).collect();
    let rows = tx
        .query(
            "SELECT name FROM UNNEST($1::text[]) AS t(name)
             WHERE NOT EXISTS (SELECT 1 FROM pg_indexes
                               WHERE schemaname = current_schema() AND indexname = t.name)
             UNION ALL
             SELECT name FROM UNNEST($2::text[]) AS t(name)
             WHERE NOT EXISTS (SELECT 1 FROM information_schema.table_constraints
                               WHERE constraint_schema = current_schema()
                                 AND constraint_name = t.name AND constraint_type = 'FOREIGN KEY')",
            &[&index_names, &key_names],
        )
        .map_err(backend)?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}
