//! The products' text-search index (FTS5, `product_search`, migrations 0012, 0013 and 0047):
//! brand and title of each product under its id, folded by the tokenizer, with lists of two-
//! and three-character prefixes (0047). Ingest adds a batch's new products with one statement
//! at the batch's end: a trigger per inserted row cost ~17 µs each, because every statement
//! that writes an FTS5 table flushes its pending terms into a new segment (docs/BENCHMARKS.md,
//! "Catalog shapes"). Deleted products leave through a trigger; restores and copies rebuild
//! the whole index. An initial load fills it on a thread of its own, in a scratch database
//! beside the catalog, while it builds its other indexes (`SideFill`).

use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

/// Adds `products` (ids of rows the current transaction inserted) to the index.
pub(crate) fn index_products(conn: &Connection, products: &[i64]) -> rusqlite::Result<()> {
    if products.is_empty() {
        return Ok(());
    }
    let ids = serde_json::to_string(products).expect("integers serialize");
    conn.prepare_cached(
        "INSERT INTO product_search (rowid, brand, title)
         SELECT id, brand, title FROM products WHERE id IN (SELECT value FROM json_each(?1))",
    )?
    .execute([ids])?;
    Ok(())
}

/// Adds every product the index lacks, in one statement (restores and copies).
pub(crate) fn index_missing(conn: &Connection) -> rusqlite::Result<()> {
    index_missing_between(conn, i64::MIN, i64::MAX)
}

/// FTS5's in-memory term buffer while filling (1 MB by default): each time it is full it
/// becomes a new segment, and every 16 segments of a level are merged into one of the next.
/// With 4 MB, the five parts of a 10M load took 11, 18, 25, 43 and 43 s, merging again what
/// earlier parts wrote; with 16 MB, 10 to 24 s (76 s in all), but the load's peak anonymous
/// memory rose from 133 to 151 MB, past the 150 MB bound (docs/BENCHMARKS.md). 8 MB halves
/// the segments of 4 MB within that bound.
const FILL_HASH_BYTES: i64 = 8 << 20;

/// Adds every product the index lacks whose id lies in `low..=high` (the end of an initial
/// load, which indexes none while it appends, calls it once per part of `id_ranges`). The
/// products are read in table order and sorted by id (FTS5 starts a new segment whenever an id
/// is lower than the last; read through `products_id` instead, each row was a random read: 41 s
/// at 3M offers against 23 s), and FTS5 gets `FILL_HASH_BYTES` of term buffer and merges 16
/// segments at a time (4): with the defaults it wrote many small segments and merged them over
/// and over (82 s at 3M). Both settings are FTS5's persistent configuration and go back to
/// their defaults after, in the same transaction.
pub(crate) fn index_missing_between(
    conn: &Connection,
    low: i64,
    high: i64,
) -> rusqlite::Result<()> {
    conn.execute_batch(&fill_settings(FILL_HASH_BYTES, 16))?;
    conn.execute(
        "INSERT INTO product_search (rowid, brand, title)
         SELECT p.id, p.brand, p.title FROM products p NOT INDEXED
         WHERE p.id BETWEEN ?1 AND ?2
           AND NOT EXISTS (SELECT 1 FROM product_search_docsize d WHERE d.id = p.id)
         ORDER BY p.id",
        [low, high],
    )?;
    conn.execute_batch(&fill_settings(1_048_576, 4))
}

/// FTS5's term buffer (bytes) and merge width for the statements that follow: stored in the
/// index's configuration, so a fill sets its own and puts FTS5's defaults (1 MB, 4) back.
fn fill_settings(hash_bytes: i64, automerge: i64) -> String {
    format!(
        "INSERT INTO product_search (product_search, rank) VALUES ('hashsize', {hash_bytes});
         INSERT INTO product_search (product_search, rank) VALUES ('automerge', {automerge});"
    )
}

/// Splits the id space into ranges of about `per` of `rows` products each, in ascending
/// order (ids are uniform 64-bit hashes); one range for up to `per` rows.
pub(crate) fn id_ranges(rows: i64, per: i64) -> Vec<(i64, i64)> {
    let parts = (rows.max(1) + per - 1) / per.max(1);
    let width = (1i128 << 64) / i128::from(parts);
    (0..i128::from(parts))
        .map(|k| {
            let low = i128::from(i64::MIN) + k * width;
            let high =
                if k + 1 == i128::from(parts) { i128::from(i64::MAX) } else { low + width - 1 };
            (low as i64, high as i64)
        })
        .collect()
}

/// Deleted products leave the index through this trigger (it must see the values that were
/// indexed; a duplicate row an initial load removes was never indexed, so the load drops the
/// trigger around that delete).
pub(crate) const DELETE_TRIGGER: &str = "
    CREATE TRIGGER IF NOT EXISTS products_search_delete AFTER DELETE ON products BEGIN
        INSERT INTO product_search (product_search, rowid, brand, title)
            VALUES ('delete', old.id, old.brand, old.title);
    END;";

/// Rebuilds the index from the products table (after rows were loaded in bulk): emptied, then
/// filled the way `index_missing` does (12.8 s for 3M products, where FTS5's own `rebuild`
/// took 45 s).
pub(crate) fn rebuild(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch("INSERT INTO product_search (product_search) VALUES ('delete-all')")?;
    index_missing(conn)
}

/// The search index of an initial load's products, filled on a second core while the load
/// builds its other indexes on the first. SQLite lets one connection write a database at a
/// time, and the end of a load ran on one core (a 1M load: 26 s at 90–100% of one core, 7.6 s
/// of it the search index); FTS5's index is nothing but rows of its shadow tables, so a
/// scratch database (`{catalog}.search-fill`, journal off) holding a table of the same
/// definition is filled from a snapshot of the products, and its rows replace those of the
/// catalog's shadow tables at the end (which hold the replay's products, if any), in key
/// order (docs/DECISIONS.md, "The search index is filled beside the load").
pub(crate) struct SideFill {
    path: PathBuf,
    /// An exclusive lock on the scratch file while the load uses it: an open of the catalog
    /// meanwhile (which removes what a killed load left) sees it taken and leaves the file.
    _claim: std::fs::File,
    thread: Option<JoinHandle<rusqlite::Result<Snapshot>>>,
    /// The index's definition the fill created its table from.
    create: String,
}

/// The products the side fill read: the highest rowid and how many rows up to it.
struct Snapshot {
    last_row: i64,
    rows: i64,
}

/// Page cache of the side fill's connection (KiB), which also bounds the sort's runs in
/// memory, and FTS5's term buffer there. Small: the fill runs beside the index builds, whose
/// sorts hold memory of their own (with 8 MB each, a 10M load's peak anonymous memory rose
/// from 129 to 166 MB, past the 150 MB bound), and it has time to spare (49.5 s at 10M against
/// 170 s of index builds); a smaller buffer only means more, smaller segments to merge.
const SIDE_CACHE_KIB: i64 = 2_048;
const SIDE_HASH_BYTES: i64 = 2 << 20;

impl SideFill {
    /// Starts filling from the products committed now; `None` when the catalog has no file of
    /// its own (in memory), another load fills beside it, or no thread could be started: the
    /// load then fills in place.
    pub(crate) fn start(conn: &Connection) -> rusqlite::Result<Option<SideFill>> {
        let Some(catalog) = crate::catalog_file(conn).map(Path::to_path_buf) else {
            return Ok(None);
        };
        let create = definition(conn)?;
        remove_side_file(&catalog);
        let path = side_path(&catalog);
        let Some(claim) = claim(&path) else {
            return Ok(None);
        };
        let (target, definition) = (path.clone(), create.clone());
        let spawned = std::thread::Builder::new().name("search-fill".into()).spawn(move || {
            crate::timed("search index filled beside", || fill(&catalog, &target, &definition))
        });
        match spawned {
            Ok(thread) => Ok(Some(SideFill { path, _claim: claim, thread: Some(thread), create })),
            Err(e) => {
                tracing::warn!(error = %e, "no thread for the search index: filled in place");
                let _ = std::fs::remove_file(&path);
                Ok(None)
            }
        }
    }

    /// Waits for the fill and, in one transaction, puts its index in place of the catalog's,
    /// adds the products written since its snapshot (the load's replay) and runs `last`.
    /// `false`, having changed nothing, when the fill or its copy failed or a product it read
    /// was deleted since: the caller fills in place (where a full disk, say, fails again).
    pub(crate) fn finish(mut self, conn: &Connection, last: &str) -> rusqlite::Result<bool> {
        let snapshot = match self.thread.take().map(JoinHandle::join) {
            Some(Ok(Ok(snapshot))) => snapshot,
            Some(Ok(Err(e))) => return Ok(stepped_aside("fill", &e)),
            Some(Err(_)) => {
                tracing::warn!("the search index's side fill panicked: filled in place");
                return Ok(false);
            }
            None => return Ok(false),
        };
        let side = self.path.to_str().ok_or_else(|| not_utf8(&self.path))?;
        if let Err(e) = conn.execute("ATTACH DATABASE ?1 AS side_fill", [side]) {
            return Ok(stepped_aside("copy", &e));
        }
        let copied = crate::timed("search index copied", || {
            crate::transaction(conn, || copy(conn, &snapshot, &self.create, last), |e| e)
        });
        if let Err(e) = conn.execute_batch("DETACH DATABASE side_fill") {
            // The copy is committed (or rolled back) either way; the scratch file stays
            // attached to this connection until it closes.
            tracing::warn!(error = %e, "the search index's scratch file stayed attached");
        }
        Ok(copied.unwrap_or_else(|e| stepped_aside("copy", &e)))
    }
}

/// The catalog's `CREATE VIRTUAL TABLE` statement of the index (its options included).
fn definition(conn: &Connection) -> rusqlite::Result<String> {
    conn.query_row(
        "SELECT sql FROM main.sqlite_master WHERE type = 'table' AND name = 'product_search'",
        [],
        |r| r.get(0),
    )
}

/// Logs why the side fill was not used (the load fills in place instead).
fn stepped_aside(what: &str, e: &rusqlite::Error) -> bool {
    tracing::warn!(error = %e, "the search index's side {what} failed: filled in place");
    false
}

impl Drop for SideFill {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Where the side fill of the catalog at `catalog` writes.
fn side_path(catalog: &Path) -> PathBuf {
    let mut name = catalog.as_os_str().to_owned();
    name.push(".search-fill");
    PathBuf::from(name)
}

/// Creates the scratch file and locks it; `None` when it exists (another load's) or the lock
/// is refused.
/// (Between the creation and the lock, an open elsewhere may remove the new file: the fill
/// then writes a file of its own that the copy may not find, and the load fills in place.)
fn claim(path: &Path) -> Option<std::fs::File> {
    let file = std::fs::OpenOptions::new().write(true).create_new(true).open(path).ok()?;
    if file.try_lock().is_err() {
        let _ = std::fs::remove_file(path);
        return None;
    }
    Some(file)
}

/// Removes what a killed load's side fill left beside the catalog at `catalog` (unless a load
/// holds it).
pub(crate) fn remove_side_file(catalog: &Path) {
    let path = side_path(catalog);
    if let Ok(file) = std::fs::File::open(&path)
        && file.try_lock().is_ok()
    {
        let _ = std::fs::remove_file(&path);
    }
}

fn not_utf8(path: &Path) -> rusqlite::Error {
    rusqlite::Error::InvalidPath(path.to_path_buf())
}

/// The side fill (on its own thread and connection): a copy of the products read in one
/// statement (so the catalog's WAL is held back for one table scan only), then the index
/// filled from it in id order, as `index_missing_between` fills.
fn fill(catalog: &Path, side: &Path, create: &str) -> rusqlite::Result<Snapshot> {
    let c = Connection::open(side)?;
    c.busy_timeout(crate::BUSY_TIMEOUT)?;
    c.execute_batch(
        "PRAGMA main.journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA temp_store = FILE;",
    )?;
    c.pragma_update(None, "cache_size", -SIDE_CACHE_KIB)?;
    let catalog = catalog.to_str().ok_or_else(|| not_utf8(catalog))?;
    c.execute("ATTACH DATABASE ?1 AS catalog", [catalog])?;
    c.execute_batch(
        "CREATE TABLE products AS
             SELECT rowid AS seq, id, brand, title FROM catalog.products NOT INDEXED;
         DETACH DATABASE catalog;",
    )?;
    let snapshot =
        c.query_row("SELECT coalesce(max(seq), 0), count(*) FROM products", [], |r| {
            Ok(Snapshot { last_row: r.get(0)?, rows: r.get(1)? })
        })?;
    c.execute_batch(create)?;
    c.execute_batch(&fill_settings(SIDE_HASH_BYTES, 16))?;
    c.execute_batch(
        "INSERT INTO product_search (rowid, brand, title)
             SELECT id, brand, title FROM products ORDER BY id",
    )?;
    Ok(snapshot)
}

/// Replaces the catalog's index by the side fill's (attached as `side_fill`), adds the products
/// appended after the snapshot, then runs `last`; `false`, changing nothing, when a product
/// of the snapshot is gone or the index is no longer of the definition the fill used (`create`:
/// a newer version's migration created it again meanwhile, with other options). The shadow
/// tables are copied whole (`INSERT … SELECT *` between tables of one definition copies
/// records without decoding them); the configuration stays the catalog's, at FTS5's defaults.
fn copy(
    conn: &Connection,
    snapshot: &Snapshot,
    create: &str,
    last: &str,
) -> rusqlite::Result<bool> {
    if definition(conn)? != create {
        return Ok(false);
    }
    let kept: i64 = conn.query_row(
        "SELECT count(*) FROM main.products WHERE rowid <= ?1",
        [snapshot.last_row],
        |r| r.get(0),
    )?;
    if kept != snapshot.rows {
        return Ok(false);
    }
    for table in ["product_search_data", "product_search_idx", "product_search_docsize"] {
        conn.execute_batch(&format!(
            "DELETE FROM main.{table}; INSERT INTO main.{table} SELECT * FROM side_fill.{table};"
        ))?;
    }
    conn.execute(
        "INSERT INTO main.product_search (rowid, brand, title)
         SELECT id, brand, title FROM main.products WHERE rowid > ?1 ORDER BY id",
        [snapshot.last_row],
    )?;
    conn.execute_batch(last)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A catalog's connection with `products` stored and not yet in the search index (as at
    /// the end of an initial load's appending).
    fn catalog(dir: &Path, products: &[(i64, &str)]) -> Connection {
        let path = dir.join("catalog.sqlite");
        drop(crate::SqliteCatalog::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        for (id, title) in products {
            conn.execute(
                "INSERT INTO products (id, title, brand, created_at) VALUES (?1, ?2, 'marca', 1)",
                rusqlite::params![id, title],
            )
            .unwrap();
        }
        conn
    }

    fn matches(conn: &Connection, word: &str) -> Vec<i64> {
        conn.prepare(
            "SELECT rowid FROM product_search WHERE product_search MATCH ?1 ORDER BY rowid",
        )
        .unwrap()
        .query_map([word], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
    }

    fn integrity(conn: &Connection) -> rusqlite::Result<()> {
        conn.execute_batch(
            "INSERT INTO product_search (product_search, rank) VALUES ('integrity-check', 1)",
        )
    }

    /// The side fill's index, put in place, holds the products of its snapshot and those
    /// written after it (one indexed in place meanwhile, as the load's replay does), agrees
    /// with the products table, runs the statement it was given in the same transaction and
    /// leaves no scratch file.
    #[test]
    fn the_side_fill_indexes_the_snapshot_and_what_was_written_after() {
        let dir = tempfile::tempdir().unwrap();
        let conn = catalog(dir.path(), &[(-5, "olla roja"), (7, "sarten roja"), (3, "taza")]);
        let fill = SideFill::start(&conn).unwrap().expect("a catalog on disk fills beside");
        let scratch = side_path(&dir.path().join("catalog.sqlite"));
        remove_side_file(&dir.path().join("catalog.sqlite"));
        assert!(scratch.exists(), "an open meanwhile leaves the file the load holds");
        assert!(SideFill::start(&conn).unwrap().is_none(), "a second load fills in place");
        // The fill's snapshot may be taken before or after this write: either way the product
        // ends up indexed once.
        conn.execute(
            "INSERT INTO products (id, title, created_at) VALUES (11, 'olla verde', 1)",
            [],
        )
        .unwrap();
        index_products(&conn, &[11]).unwrap();
        assert!(fill.finish(&conn, "CREATE TABLE last_ran (x)").unwrap());
        assert_eq!(matches(&conn, "olla"), vec![-5, 11]);
        assert_eq!(matches(&conn, "roja"), vec![-5, 7]);
        integrity(&conn).unwrap();
        conn.execute_batch("SELECT * FROM last_ran").unwrap();
        assert!(!scratch.exists());
    }

    /// A product of the fill's snapshot deleted before the fill is put in place (another run
    /// purged it): the fill is not used, nothing changes, and the caller fills in place.
    #[test]
    fn the_side_fill_steps_aside_when_a_product_it_read_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let conn = catalog(dir.path(), &[(1, "olla"), (2, "sarten")]);
        let fill = SideFill::start(&conn).unwrap().unwrap();
        // Wait for the snapshot (the fill creates its table after it), then delete one of
        // its products.
        let side = Connection::open(side_path(&dir.path().join("catalog.sqlite"))).unwrap();
        let created = |c: &Connection| {
            c.query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'product_search'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap_or(0)
                == 1
        };
        let waited = std::time::Instant::now();
        while !created(&side) {
            assert!(waited.elapsed().as_secs() < 30, "the fill took its snapshot");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        drop(side);
        // (Without the trigger: the product was never indexed in the catalog.)
        conn.execute_batch(
            "DROP TRIGGER products_search_delete; DELETE FROM products WHERE id = 2;",
        )
        .unwrap();
        conn.execute_batch(DELETE_TRIGGER).unwrap();
        assert!(!fill.finish(&conn, "CREATE TABLE last_ran (x)").unwrap());
        assert!(conn.execute_batch("SELECT * FROM last_ran").is_err(), "rolled back");
        assert_eq!(matches(&conn, "olla"), Vec::<i64>::new());
        index_missing(&conn).unwrap();
        assert_eq!(matches(&conn, "olla"), vec![1]);
        integrity(&conn).unwrap();
    }

    /// An index created again while the fill ran (a newer version's migration, with other
    /// options) is not given the fill's rows, built for the old definition: the fill steps
    /// aside and the caller fills in place.
    #[test]
    fn the_side_fill_steps_aside_when_the_index_was_created_again() {
        let dir = tempfile::tempdir().unwrap();
        let conn = catalog(dir.path(), &[(1, "olla"), (2, "sarten")]);
        let fill = SideFill::start(&conn).unwrap().unwrap();
        conn.execute_batch(
            "DROP TRIGGER products_search_delete; DROP TABLE product_search;
             CREATE VIRTUAL TABLE product_search USING fts5(brand, title, content = 'products',
                 content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2', prefix = '2');",
        )
        .unwrap();
        conn.execute_batch(DELETE_TRIGGER).unwrap();
        assert!(!fill.finish(&conn, "CREATE TABLE last_ran (x)").unwrap());
        assert!(conn.execute_batch("SELECT * FROM last_ran").is_err(), "rolled back");
        assert_eq!(matches(&conn, "\"ol\"*"), Vec::<i64>::new());
        index_missing(&conn).unwrap();
        assert_eq!(matches(&conn, "\"ol\"*"), vec![1]);
        integrity(&conn).unwrap();
    }

    #[test]
    fn id_ranges_cover_every_id_once_in_ascending_parts() {
        assert_eq!(id_ranges(0, 2_000_000), vec![(i64::MIN, i64::MAX)]);
        assert_eq!(id_ranges(2_000_000, 2_000_000), vec![(i64::MIN, i64::MAX)]);
        let parts = id_ranges(10_000_000, 2_000_000);
        assert_eq!(parts.len(), 5);
        assert_eq!(parts[0].0, i64::MIN);
        assert_eq!(parts[4].1, i64::MAX);
        for pair in parts.windows(2) {
            assert_eq!(pair[0].1.checked_add(1), Some(pair[1].0), "{pair:?}");
        }
    }
}
