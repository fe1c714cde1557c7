//! Initial loads into an empty catalog. Keeping the offers table's secondary indexes,
//! the products' text-search index and the three foreign keys of the catalog up to date row
//! by row costs more than writing the rows (each foreign-key check is a locking lookup per
//! row): a load that starts on an empty catalog drops them, and its end builds each index
//! once from sorted data and validates each key with one join (docs/BENCHMARKS.md has the
//! figures).
//!
//! Two advisory locks keep this safe beside other writers:
//! - `DDL`: every ingest batch holds it shared for its transaction (`batch_turn`), and
//!   dropping or building takes it exclusively *before* touching any table. A batch never
//!   holds a table lock while the DDL waits for it, nor the other way round, so they cannot
//!   deadlock; the DDL simply runs between batches.
//! - `LOADING`: a load that deferred holds it shared on its own connection until its end
//!   (a crash releases it with the connection). `restore` builds only when it can take it
//!   exclusively: never under a load that is still running, and the last of several loads
//!   running together is the one that builds.
//!
//! `restore` runs at the end of every run and when a process opens the catalog, so what a
//! crashed load deferred is built by whatever comes next, which is also how a catalog gets the
//! two indexes on expressions (`offers_value`, `offers_discount`: each expression defined once
//! in `preciso_sql::filter`). The other definitions below are those of the migrations (0001,
//! 0008, 0012, 0025, 0035); a migration that changes one must change it here too, and must not
//! assume the object exists (`DROP INDEX IF EXISTS`): migrations run before `restore`.

use crate::backend;
use crate::tls::Connector;
use postgres::{Client, GenericClient};
use preciso_core::ports::StoreError;

/// The secondary indexes a load defers: (name, definition).
const DEFERRED_INDEXES: &[(&str, &str)] = &[
    // As SQLite's: a search ranks its candidates' offers, and the market summary walks every
    // offer's price in product order, from the index alone.
    (
        "offers_product",
        "CREATE INDEX IF NOT EXISTS offers_product
            ON offers(product_id, availability, category_key, currency, price_minor, id, store_id)",
    ),
    (
        "offers_store",
        "CREATE INDEX IF NOT EXISTS offers_store
            ON offers(store_id, currency, price_minor, product_id, availability, id, category_key)",
    ),
    (
        "offers_category",
        "CREATE INDEX IF NOT EXISTS offers_category ON offers(category_key, currency, price_minor,
             product_id, store_id, availability, brand, brand_key, list_price_minor,
             prev_price_minor, rating_centi, review_count, id)",
    ),
    (
        "offers_brand",
        "CREATE INDEX IF NOT EXISTS offers_brand
            ON offers(brand_key, currency, price_minor, category_key, availability, product_id)",
    ),
    ("offers_value", preciso_sql::VALUE_INDEX),
    ("offers_discount", preciso_sql::DISCOUNT_INDEX),
    (
        "offers_rating",
        "CREATE INDEX IF NOT EXISTS offers_rating ON offers(currency,
             rating_centi DESC NULLS LAST, review_count DESC NULLS LAST, id, brand_key, store_id,
             price_minor, category_key)",
    ),
    (
        "offers_price",
        "CREATE INDEX IF NOT EXISTS offers_price
            ON offers(currency, price_minor, id, category_key, availability)",
    ),
    (
        "offers_price_change",
        "CREATE INDEX IF NOT EXISTS offers_price_change ON offers(price_changed_at)",
    ),
    (
        "products_search",
        "CREATE INDEX IF NOT EXISTS products_search ON products USING gin (to_tsvector('simple',
             translate(lower(coalesce(brand, '') || ' ' || title),
                 'áàâãäåéèêëíìîïóòôõöúùûüñçý', 'aaaaaaeeeeiiiiooooouuuuncy')))",
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

/// Advisory lock keys ("pcsoddl" and "pcsoload" in ASCII).
const DDL: i64 = 0x0070_6373_6f64_646c;
const LOADING: i64 = 0x7063_736f_6c6f_6164;

/// Run first in every ingest batch's transaction: batches run side by side, and wait while
/// indexes or keys are being dropped or built.
pub(crate) fn batch_turn(client: &mut impl GenericClient) -> Result<(), StoreError> {
    client.execute("SELECT pg_advisory_xact_lock_shared($1)", &[&DDL]).map(drop).map_err(backend)
}

/// Drops the deferred indexes and keys when the catalog has no offers; returns whether it did
/// (whether the session is an initial load, which must call `end_load` at its end).
///
/// The drops take each table's exclusive lock in turn, so a reader holding some of them (a
/// backup's snapshot reads table after table) can meet them in a deadlock; PostgreSQL then
/// rolls one side back. When that is this side, it tries again (the reader finishes first).
pub(crate) fn begin(client: &mut Client) -> Result<bool, StoreError> {
    // The common case, a catalog with offers, takes no lock at all.
    if !offers_empty(client)? {
        return Ok(false);
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        match drop_deferred(client) {
            Err(e) if attempt < 5 && is_deadlock(&e) => {
                std::thread::sleep(std::time::Duration::from_millis(50 * attempt));
            }
            other => return other.map_err(backend),
        }
    }
}

fn is_deadlock(e: &postgres::Error) -> bool {
    e.code() == Some(&postgres::error::SqlState::T_R_DEADLOCK_DETECTED)
}

fn drop_deferred(client: &mut Client) -> Result<bool, postgres::Error> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&DDL])?;
    let empty: bool = tx.query_one("SELECT NOT EXISTS (SELECT 1 FROM offers)", &[])?.get(0);
    if !empty {
        return Ok(false);
    }
    for (table, name, _) in FOREIGN_KEYS {
        tx.batch_execute(&format!("ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}"))?;
    }
    for (name, _) in DEFERRED_INDEXES {
        tx.batch_execute(&format!("DROP INDEX IF EXISTS {name}"))?;
    }
    // Session-level: held past this commit, until `end_load` or the connection closes.
    tx.execute("SELECT pg_advisory_lock_shared($1)", &[&LOADING])?;
    tx.commit()?;
    Ok(true)
}

/// The end of a load that deferred: it stops counting as running, then builds what is missing
/// unless another load is still running (that one builds at its end).
pub(crate) fn end_load(client: &mut Client, connector: &Connector) -> Result<(), StoreError> {
    client.execute("SELECT pg_advisory_unlock_shared($1)", &[&LOADING]).map_err(backend)?;
    restore(client, connector)
}

/// The index a second connection builds while the first builds the others. PostgreSQL builds
/// a B-tree with parallel workers but a GIN index on one core alone: at the end of a load of
/// a million products it was 9.6 s of a single core while the other stood idle.
const BESIDE: &str = "products_search";

/// Sorting a million rows' wide category key in memory instead of in runs on disk.
const BUILD_MEMORY: &str = "maintenance_work_mem = '256MB'";

/// Builds whichever deferred index or key is missing, unless a load is running: the indexes
/// in one transaction, which also holds the `DDL` lock, and `BESIDE` at the same time on a
/// second connection (its own transaction, under the first's lock: no batch writes
/// meanwhile); then, once both are done, the keys. Does nothing (one catalog query) when none
/// is missing.
pub(crate) fn restore(client: &mut Client, connector: &Connector) -> Result<(), StoreError> {
    if missing(client)?.is_empty() {
        return Ok(());
    }
    let mut tx = client.transaction().map_err(backend)?;
    let idle: bool =
        tx.query_one("SELECT pg_try_advisory_xact_lock($1)", &[&LOADING]).map_err(backend)?.get(0);
    if !idle {
        return Ok(());
    }
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&DDL]).map_err(backend)?;
    tx.batch_execute(&format!("SET LOCAL {BUILD_MEMORY}")).map_err(backend)?;
    let missing = missing(&mut tx)?;
    let index = |name: &str| DEFERRED_INDEXES.iter().find(|(n, _)| *n == name).map(|(_, sql)| *sql);
    let beside = missing.iter().any(|n| n == BESIDE).then(|| index(BESIDE)).flatten();
    std::thread::scope(|scope| {
        let built_beside = beside.map(|sql| scope.spawn(|| build_beside(connector, sql)));
        for sql in missing.iter().filter(|n| *n != BESIDE).filter_map(|n| index(n)) {
            tx.batch_execute(sql).map_err(backend)?;
        }
        // A second connection the server refused: the index is built here instead.
        let refused = match built_beside.map(|h| h.join()) {
            Some(Ok(result)) => !result?,
            Some(Err(panic)) => std::panic::resume_unwind(panic),
            None => false,
        };
        if let (true, Some(sql)) = (refused, beside) {
            tx.batch_execute(sql).map_err(backend)?;
        }
        for (table, name, def) in
            FOREIGN_KEYS.iter().filter(|(_, n, _)| missing.iter().any(|m| m == n))
        {
            tx.batch_execute(&format!("ALTER TABLE {table} ADD CONSTRAINT {name} {def}"))
                .map_err(backend)?;
        }
        Ok::<(), StoreError>(())
    })?;
    tx.commit().map_err(backend)
}

/// Builds an index (`sql`) on a connection of its own; false when the server refused the
/// connection.
fn build_beside(connector: &Connector, sql: &str) -> Result<bool, StoreError> {
    let Ok(mut client) = crate::connect_with(connector) else {
        return Ok(false);
    };
    client.batch_execute(&format!("SET {BUILD_MEMORY}; {sql}")).map_err(backend)?;
    Ok(true)
}

fn offers_empty(client: &mut impl GenericClient) -> Result<bool, StoreError> {
    Ok(client.query_one("SELECT NOT EXISTS (SELECT 1 FROM offers)", &[]).map_err(backend)?.get(0))
}

/// Names of the deferred indexes and keys the catalog does not have.
fn missing(tx: &mut impl GenericClient) -> Result<Vec<String>, StoreError> {
    let index_names: Vec<&str> = DEFERRED_INDEXES.iter().map(|(n, _)| *n).collect();
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
