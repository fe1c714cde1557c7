//! Initial loads into an empty catalog. Offer and product ids are 64-bit hashes, so each
//! primary key took every insert to a random page: once the keys of offers, products and the
//! price history outgrew shared buffers, a batch rewrote and logged thousands of pages, and a
//! 10M load slowed from 24k to 14k offers/s as it went (issue #20). Keeping the offers' secondary
//! indexes, the products' text-search index and the three foreign keys up to date row by row
//! cost more than writing the rows besides. A load that starts on an empty catalog therefore
//! drops all of them, appends its rows by `COPY`, and its end builds each index once from
//! sorted data, adds the keys and validates each foreign key with one join
//! (docs/DECISIONS.md, "Initial loads on PostgreSQL append without keys").
//!
//! Without the offers' key the load cannot read back an offer it wrote, so it asks a Bloom
//! filter of its ids (`preciso_seen`): a record whose id it may have seen (every repeat, and
//! ~0.005% of others) is set aside in the temporary table `bulk_repeats`, in file order, and
//! replayed through the ordinary writer once the keys exist. Products the filter of product ids
//! may have seen go to the table `bulk_products` (an ordinary table: the offers written
//! reference them, so a crash must not lose them), merged into `products` at the end, the
//! first row of each id kept, before its key is added.
//!
//! One advisory lock, `LOADING`, keeps this safe beside other writers: a load holds it
//! exclusively on its connection from its drops to the end of its replay (a crash releases
//! it with the connection, once the server notices), and so does `restore` while it builds;
//! every ingest batch, backup restore, copy and store merge takes it shared for its
//! transaction (`batch_turn`), so they wait while the keys are missing and a load never starts
//! while one of them writes. A second run that finds the catalog empty while a load holds it
//! runs as an ordinary one, after that load. Every wait for it is bounded (`LOAD_WAIT`, as
//! `lock_timeout`).
//!
//! `restore` runs at the start and end of every run and when a process opens the catalog, so
//! what a crashed load deferred is built by whatever comes next (the run, still `running` in
//! the ledger, converges when its file is ingested again: the records it set aside are read
//! again then), which is also how a catalog gets the two indexes on expressions
//! (`offers_value`, `offers_discount`: each expression defined once in `preciso_sql::filter`).
//! The other definitions below are those of the migrations (0001, 0008, 0012, 0025, 0033,
//! 0035); a migration that changes one must change it here too, and must not assume the
//! object exists (`DROP INDEX IF EXISTS`, `DROP CONSTRAINT IF EXISTS` for the primary keys):
//! migrations run before `restore`. A new foreign key that references `offers(id)` or
//! `products(id)` must be listed in `FOREIGN_KEYS`, or dropping those keys fails.

use crate::backend;
use crate::tls::Connector;
use postgres::{Client, GenericClient};
use preciso_core::domain::Offer;
use preciso_core::ports::StoreError;
use preciso_seen::{OFFER_FILTER, PRODUCT_FILTER, SeenIds};
use std::collections::HashSet;
use std::time::Duration;

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
            ON offers(brand_key, currency, price_minor, category_key, availability, product_id,
                store_id)",
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

/// The primary keys a load drops: (table, constraint, the unique index it is added with).
/// Built as indexes first (a `SHARE` lock, beside the search index's build on the second
/// connection), made keys at the end (`ADD PRIMARY KEY USING INDEX`).
const PRIMARY_KEYS: &[(&str, &str, &str)] = &[
    (
        "products",
        "products_pkey",
        "CREATE UNIQUE INDEX IF NOT EXISTS products_pkey ON products(id)",
    ),
    ("offers", "offers_pkey", "CREATE UNIQUE INDEX IF NOT EXISTS offers_pkey ON offers(id)"),
    (
        "price_history",
        "price_history_pkey",
        "CREATE UNIQUE INDEX IF NOT EXISTS price_history_pkey ON price_history(offer_id,
             observed_at) INCLUDE (currency, price_minor, list_price_minor, arrival)",
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

/// Advisory lock key ("pcsoload" in ASCII).
const LOADING: i64 = 0x7063_736f_6c6f_6164;

/// How long a run waits for a load running elsewhere to end before it gives up.
const LOAD_WAIT: Duration = Duration::from_secs(6 * 3600);

/// Product ids a load remembers having appended, so a product's later offers need no row for
/// it. Past this many it starts over (a forgotten product's next offer sends it to
/// `bulk_products`): 7/8 of 2^20, what a table of 2^20 slots holds before it doubles.
const PRODUCTS_KEPT: usize = (1 << 20) / 8 * 7;

/// The temporary table of records set aside (`preciso_sql::repeats::COLUMNS` after `seq`).
const REPEATS_TABLE: &str = "CREATE TEMP TABLE IF NOT EXISTS bulk_repeats (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id BIGINT NOT NULL,
    store TEXT NOT NULL, sku TEXT, url TEXT, product_id BIGINT NOT NULL, title TEXT NOT NULL,
    brand TEXT, category TEXT, gtin TEXT, image_url TEXT, price_minor BIGINT NOT NULL,
    currency TEXT NOT NULL, list_price_minor BIGINT, availability TEXT NOT NULL,
    rating_centi BIGINT, review_count BIGINT, observed_at BIGINT NOT NULL,
    content_hash BYTEA NOT NULL)";

/// Products that may already be stored, in the order the load met them.
const PRODUCTS_TABLE: &str = "CREATE TABLE IF NOT EXISTS bulk_products (
    seq BIGINT GENERATED ALWAYS AS IDENTITY, id BIGINT NOT NULL, gtin TEXT, brand TEXT,
    title TEXT NOT NULL, category TEXT, created_at BIGINT NOT NULL)";

/// An initial load's state.
pub(crate) struct BulkLoad {
    /// Offer ids written or set aside.
    offers: SeenIds,
    /// Product ids appended to `products` or `bulk_products`.
    products: SeenIds,
    /// Product ids appended lately (`PRODUCTS_KEPT`).
    recent: HashSet<i64>,
    /// Whether the load began with products stored (after every offer was purged): then any
    /// product it appends may be one of them.
    products_before: bool,
}

/// Where an initial load writes a record's product.
#[derive(Debug, PartialEq)]
pub(crate) enum ProductRow {
    /// The load appended it already.
    Written,
    /// Certainly new: to `products`.
    New,
    /// Perhaps stored: to `bulk_products`.
    Maybe,
}

impl BulkLoad {
    /// Whether the record's offer may have been seen (then it is set aside); if not, it is
    /// from now on.
    pub(crate) fn seen_offer(&mut self, id: i64) -> bool {
        self.offers.check_and_insert(id)
    }

    /// Where the product of a record the load writes goes.
    pub(crate) fn product(&mut self, id: i64) -> ProductRow {
        if self.recent.len() >= PRODUCTS_KEPT {
            self.recent.clear();
        }
        if !self.recent.insert(id) {
            ProductRow::Written
        } else if self.products.check_and_insert(id) || self.products_before {
            ProductRow::Maybe
        } else {
            ProductRow::New
        }
    }

    /// A batch rolled back: the products it appended are gone with it. (Its offers stay in the
    /// filter: their later records are set aside and replayed, which stores them all the same.)
    pub(crate) fn rolled_back(&mut self) {
        self.recent.clear();
    }
}

/// Run first in every ingest batch's transaction (and every other writer's that moves offers
/// or products): they run side by side, and wait while a load has the keys dropped, at most
/// `LOAD_WAIT`.
pub(crate) fn batch_turn(client: &mut impl GenericClient) -> Result<(), StoreError> {
    client
        .batch_execute(&format!(
            "SET LOCAL lock_timeout = '{}s'; SELECT pg_advisory_xact_lock_shared({LOADING});
             SET LOCAL lock_timeout = DEFAULT",
            LOAD_WAIT.as_secs()
        ))
        .map_err(waited)
}

/// A wait for `LOADING` that ran out (`lock_timeout`), said as such.
fn waited(e: postgres::Error) -> StoreError {
    if e.code() == Some(&postgres::error::SqlState::LOCK_NOT_AVAILABLE) {
        return StoreError::Unavailable(format!(
            "another run has held this catalog's load lock for over {} h (an initial load, or \
             the build of what one deferred); gave up waiting",
            LOAD_WAIT.as_secs() / 3600
        ));
    }
    backend(e)
}

/// Drops the deferred indexes and keys when the catalog has no offers and no other load or
/// batch runs; returns the load's state when it did (the session is then an initial load,
/// which must call `end_load`, replay `bulk_repeats` and call `release`).
///
/// The drops take each table's exclusive lock in turn, so a reader holding some of them (a
/// backup's snapshot reads table after table) can meet them in a deadlock; PostgreSQL then
/// rolls one side back. When that is this side, it tries again (the reader finishes first).
pub(crate) fn begin(client: &mut Client) -> Result<Option<BulkLoad>, StoreError> {
    // The common case, a catalog with offers, takes no lock at all.
    if !offers_empty(client)? {
        return Ok(None);
    }
    // Session-level: held past the drops' commit, until `release` or the connection closes.
    let mine: bool =
        client.query_one("SELECT pg_try_advisory_lock($1)", &[&LOADING]).map_err(backend)?.get(0);
    if !mine {
        return Ok(None);
    }
    let mut attempt = 0;
    let dropped = loop {
        attempt += 1;
        match drop_deferred(client) {
            Err(e) if attempt < 5 && is_deadlock(&e) => {
                std::thread::sleep(Duration::from_millis(50 * attempt));
            }
            other => break other.map_err(backend),
        }
    };
    match dropped {
        Ok(Some(products_before)) => Ok(Some(BulkLoad {
            offers: SeenIds::new(OFFER_FILTER),
            products: SeenIds::new(PRODUCT_FILTER),
            recent: HashSet::new(),
            products_before,
        })),
        other => {
            let released = release(client);
            other.and(released).map(|()| None)
        }
    }
}

fn is_deadlock(e: &postgres::Error) -> bool {
    e.code() == Some(&postgres::error::SqlState::T_R_DEADLOCK_DETECTED)
}

/// The drops, when the catalog is still empty; returns whether it holds products.
fn drop_deferred(client: &mut Client) -> Result<Option<bool>, postgres::Error> {
    let mut tx = client.transaction()?;
    let empty: bool = tx.query_one("SELECT NOT EXISTS (SELECT 1 FROM offers)", &[])?.get(0);
    if !empty {
        return Ok(None);
    }
    let products: bool = tx.query_one("SELECT EXISTS (SELECT 1 FROM products)", &[])?.get(0);
    for (table, name, _) in FOREIGN_KEYS.iter().chain(PRIMARY_KEYS) {
        tx.batch_execute(&format!("ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}"))?;
    }
    for (name, _) in DEFERRED_INDEXES {
        tx.batch_execute(&format!("DROP INDEX IF EXISTS {name}"))?;
    }
    // Rows a killed load left in `bulk_products` belong to no offer now (there are none).
    tx.batch_execute(&format!(
        "{REPEATS_TABLE}; DELETE FROM bulk_repeats; {PRODUCTS_TABLE}; DELETE FROM bulk_products"
    ))?;
    tx.commit()?;
    Ok(Some(products))
}

/// The end of a load's appending: its products merged, every index and key built (the load
/// still holds `LOADING`: its replay of `bulk_repeats` follows, then `release`).
pub(crate) fn end_load(client: &mut Client, connector: &Connector) -> Result<(), StoreError> {
    build(client, connector)
}

/// Ends a load: other runs may write again.
pub(crate) fn release(client: &mut Client) -> Result<(), StoreError> {
    client.execute("SELECT pg_advisory_unlock($1)", &[&LOADING]).map(drop).map_err(backend)
}

/// Records set aside per replayed transaction.
const REPLAY_BATCH: i64 = 5000;

/// The records set aside after `after` (a sequence number), at most `REPLAY_BATCH`, in file
/// order, with the last one's sequence number.
pub(crate) fn deferred(client: &mut Client, after: i64) -> Result<(Vec<Offer>, i64), StoreError> {
    let sql = preciso_sql::numbered(preciso_sql::repeats::AFTER);
    let rows = client.query(&sql, &[&after, &REPLAY_BATCH]).map_err(backend)?;
    let last = rows.last().map_or(after, |r| r.get(0));
    let offers = rows
        .iter()
        .map(|r| preciso_sql::repeats::offer_from_row(&crate::PgRow(r)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((offers, last))
}

/// The index a second connection builds while the first builds the others. PostgreSQL builds
/// a B-tree with parallel workers but a GIN index on one core alone: at the end of a load of
/// a million products it was 9.6 s of a single core while the other stood idle.
const BESIDE: &str = "products_search";

/// Sorting a million rows' wide category key in memory instead of in runs on disk.
const BUILD_MEMORY: &str = "maintenance_work_mem = '256MB'";

/// Builds whichever deferred index or key is missing, unless a load is running (that one
/// builds at its end). `wait`: a run about to write, which needs the primary keys, waits for
/// that load instead when one of them is missing (at most `LOAD_WAIT`). Does nothing (one
/// catalog query) when nothing is missing.
pub(crate) fn restore(
    client: &mut Client,
    connector: &Connector,
    wait: bool,
) -> Result<(), StoreError> {
    let missing = missing(client)?;
    if missing.is_empty() {
        return Ok(());
    }
    let keys_missing = PRIMARY_KEYS.iter().any(|(_, key, _)| missing.iter().any(|m| m == key));
    if !lock(client, wait && keys_missing)? {
        return Ok(());
    }
    let built = build(client, connector);
    // The build's error first: a failed transaction may leave the unlock failing too (the
    // connection is dropped then, and the lock with it).
    let released = release(client);
    built.and(released)
}

/// Takes `LOADING` exclusively on the session; when `wait`, queues for it (shared requests
/// that come later queue behind, so batches cannot starve it) for at most `LOAD_WAIT`, with a
/// log line saying so.
fn lock(client: &mut Client, wait: bool) -> Result<bool, StoreError> {
    let mine: bool =
        client.query_one("SELECT pg_try_advisory_lock($1)", &[&LOADING]).map_err(backend)?.get(0);
    if mine || !wait {
        return Ok(mine);
    }
    tracing::info!("another run holds the catalog's load lock (an initial load): waiting for it");
    client
        .batch_execute(&format!(
            "SET lock_timeout = '{}s'; SELECT pg_advisory_lock({LOADING}); RESET lock_timeout",
            LOAD_WAIT.as_secs()
        ))
        .map_err(waited)?;
    Ok(true)
}

/// The builds, under `LOADING`: products set aside merged (a transaction of its own: its
/// writes would lock the search index's build out), then in one transaction the indexes,
/// `BESIDE` at the same time on a second connection (its own transaction), and once both are
/// done the products' key index (it locks `products` as `BESIDE` does: built before the join,
/// a third session queued on `products` between the two would leave each connection waiting
/// for the other, through the client's join, an edge PostgreSQL cannot see); then the keys
/// (`add_keys`).
fn build(client: &mut Client, connector: &Connector) -> Result<(), StoreError> {
    merge_products(client)?;
    let mut tx = client.transaction().map_err(backend)?;
    // The builds read whole tables (a writer's session plans with sequential scans off).
    tx.batch_execute(&format!("SET LOCAL {BUILD_MEMORY}; SET LOCAL enable_seqscan = on"))
        .map_err(backend)?;
    let missing = missing(&mut tx)?;
    let lacks = |name: &str| missing.iter().any(|m| m == name);
    let index = |name: &str| DEFERRED_INDEXES.iter().find(|(n, _)| *n == name).map(|(_, sql)| *sql);
    let beside = lacks(BESIDE).then(|| index(BESIDE)).flatten();
    let (products_key, other_keys): (Vec<_>, Vec<_>) = PRIMARY_KEYS
        .iter()
        .filter(|(_, name, _)| lacks(name))
        .partition(|(table, _, _)| *table == "products");
    std::thread::scope(|scope| {
        let built_beside = beside.map(|sql| scope.spawn(|| build_beside(connector, sql)));
        for (_, _, sql) in &other_keys {
            tx.batch_execute(sql).map_err(backend)?;
        }
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
        for (_, _, sql) in &products_key {
            tx.batch_execute(sql).map_err(backend)?;
        }
        Ok::<(), StoreError>(())
    })?;
    tx.commit().map_err(backend)?;
    add_keys(client, &missing)
}

/// Makes the key indexes primary keys (a moment's `ACCESS EXCLUSIVE` lock each, in the order a
/// backup reads the tables), then adds the foreign keys (each validated by one join under a
/// lock readers pass), each in a transaction of its own, so readers never wait for a
/// validation. These meet readers' locks, so a deadlock with a backup's snapshot is possible:
/// the step is then tried again, as `begin`'s drops are.
fn add_keys(client: &mut Client, missing: &[String]) -> Result<(), StoreError> {
    let lacks = |name: &str| missing.iter().any(|m| m == name);
    let primary = PRIMARY_KEYS.iter().filter(|(_, name, _)| lacks(name)).map(|(table, name, _)| {
        format!("ALTER TABLE {table} ADD CONSTRAINT {name} PRIMARY KEY USING INDEX {name}")
    });
    let foreign = FOREIGN_KEYS
        .iter()
        .filter(|(_, name, _)| lacks(name))
        .map(|(table, name, def)| format!("ALTER TABLE {table} ADD CONSTRAINT {name} {def}"));
    for step in primary.chain(foreign) {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let done = client.transaction().and_then(|mut tx| {
                tx.batch_execute(&format!("SET LOCAL enable_seqscan = on; {step}"))?;
                tx.commit()
            });
            match done {
                Err(e) if attempt < 5 && is_deadlock(&e) => {
                    std::thread::sleep(Duration::from_millis(50 * attempt));
                }
                other => break other.map_err(backend)?,
            }
        }
    }
    Ok(())
}

/// Adds the products of `bulk_products` that `products` lacks, the first row of each id, and
/// drops the table. Products never change once stored: the first row of an id is the product.
fn merge_products(client: &mut Client) -> Result<(), StoreError> {
    let exists: bool = client
        .query_one("SELECT to_regclass('bulk_products') IS NOT NULL", &[])
        .map_err(backend)?
        .get(0);
    if !exists {
        return Ok(());
    }
    let mut tx = client.transaction().map_err(backend)?;
    tx.batch_execute(
        "SET LOCAL enable_seqscan = on;
         INSERT INTO products (id, gtin, brand, title, category, created_at)
         SELECT DISTINCT ON (id) id, gtin, brand, title, category, created_at
         FROM bulk_products b WHERE NOT EXISTS (SELECT 1 FROM products p WHERE p.id = b.id)
         ORDER BY id, seq;
         DROP TABLE bulk_products;",
    )
    .map_err(backend)?;
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
    let key_names: Vec<&str> =
        FOREIGN_KEYS.iter().chain(PRIMARY_KEYS).map(|(_, n, _)| *n).collect();
    let rows = tx
        .query(
            "SELECT name FROM UNNEST($1::text[]) AS t(name)
             WHERE NOT EXISTS (SELECT 1 FROM pg_indexes
                               WHERE schemaname = current_schema() AND indexname = t.name)
             UNION ALL
             SELECT name FROM UNNEST($2::text[]) AS t(name)
             WHERE NOT EXISTS (SELECT 1 FROM information_schema.table_constraints
                               WHERE constraint_schema = current_schema()
                                 AND constraint_name = t.name
                                 AND constraint_type IN ('FOREIGN KEY', 'PRIMARY KEY'))",
            &[&index_names, &key_names],
        )
        .map_err(backend)?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}
