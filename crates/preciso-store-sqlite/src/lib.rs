//! SQLite adapter of the storage port: the embedded default. One database file under the data
//! directory in WAL mode; readers share a small set of connections, each ingest run writes
//! through its own connection in per-batch transactions.

mod accounts;
mod analyses;
mod bulk;
mod checkpoint;
mod dump;
mod gate;
mod identity;
mod migrate;
mod quality;
mod read;
mod runs;
mod search;
mod session;
mod stats;
mod store;

use preciso_core::ports::StoreError;
use preciso_pool::Pool;
use preciso_sql::SqlRow;
use rusqlite::{Connection, Row};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use migrate::MIGRATIONS;

/// The SQLite catalog. Cheap to share behind an `Arc`.
pub struct SqliteCatalog {
    path: PathBuf,
    /// Opened read-only (`open_read_only`): its connections cannot write.
    read_only: bool,
    /// Connections for reads and small writes; each ingest run opens its own.
    pool: Pool<Connection>,
    /// Write transactions of this process take turns (see `gate`).
    writes: gate::WriteGate,
    /// Whether the key indexes were there when last looked (`reads_by_key_quick`).
    key_indexes: read::KeyIndexes,
}

/// At most this many pooled connections exist; further callers wait for one. Each holds at
/// most `READ_CACHE_KIB` of cache.
pub const MAX_CONNECTIONS: usize = 8;

/// Page cache per pooled connection (KiB). Reads go through the memory map below, which the
/// OS page cache backs and every connection shares, so a small private cache is enough.
const READ_CACHE_KIB: i64 = 8_192;

/// Bytes of the database file memory-mapped per connection (address space, not memory; SQLite
/// maps no more than the file's size). The bundled SQLite caps it at its build's
/// `SQLITE_MAX_MMAP_SIZE`, raised from 2 GB to this 64 GiB by `.cargo/config.toml`.
const MMAP_BYTES: i64 = 1 << 36;

/// Prepared statements each connection keeps (rusqlite's default: 16). The API's reads are a
/// few hundred distinct statements (each listing's filters and sorts make their own text);
/// with 16 kept, a mixed load over every GET endpoint compiled statements again and again:
/// 6.9% of the server's CPU in `sqlite3Prepare` (docs/BENCHMARKS.md). PostgreSQL's
/// connections keep as many (`CACHED_STATEMENTS` there).
const CACHED_STATEMENTS: usize = 256;

/// A driver error as the port's: a database busy past the busy timeout, or a full disk, is
/// `Unavailable` (a retry may succeed once the writer or the space is gone).
pub(crate) fn backend(e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode::{DatabaseBusy, DatabaseLocked, DiskFull};
    match e.sqlite_error_code() {
        Some(DatabaseBusy | DatabaseLocked | DiskFull) => StoreError::Unavailable(e.to_string()),
        _ => StoreError::Backend(e.to_string()),
    }
}

/// Pragmas every connection gets. WAL lets readers run during an ingest; `synchronous =
/// NORMAL` is durable against process crashes (a power loss may drop the last commits, never
/// corrupt); the busy timeout makes a second writer wait instead of failing at once.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;",
    )?;
    conn.pragma_update(None, "cache_size", -READ_CACHE_KIB)?;
    conn.set_prepared_statement_cache_capacity(CACHED_STATEMENTS);
    // Plans never depend on bound values (the query planner stability guarantee): with STAT4
    // built in, SQLite otherwise compiled a statement again whenever a value it had let steer
    // the plan changed, which was a third of the comparison endpoint's CPU (docs/DECISIONS.md).
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    conn.pragma_update(None, "mmap_size", MMAP_BYTES)
}

/// The database file `conn` opened, if it has one (not in memory): where connections of their
/// own (the work an ingest runs beside its writer) and scratch files beside it are opened.
pub(crate) fn catalog_file(conn: &Connection) -> Option<&Path> {
    conn.path().filter(|p| !p.is_empty()).map(Path::new)
}

/// Runs `f`, one step of the end of an ingest run (an index build, a summary's rebuild), and
/// logs how long it took at `info`: at ten million offers these steps take minutes, and the
/// log is how an operator (or a benchmark) sees which one.
pub(crate) fn timed<T, E>(step: &str, f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    let started = std::time::Instant::now();
    let done = f();
    tracing::info!(step, secs = started.elapsed().as_secs_f64(), ok = done.is_ok(), "ingest step");
    done
}

/// `BEGIN IMMEDIATE`, `f`, `COMMIT`: rolled back on any error, a failed COMMIT included.
/// `db` turns SQLite's own errors into the caller's error type.
pub(crate) fn transaction<T, E>(
    c: &Connection,
    f: impl FnOnce() -> Result<T, E>,
    db: impl Fn(rusqlite::Error) -> E,
) -> Result<T, E> {
    c.execute_batch("BEGIN IMMEDIATE").map_err(&db)?;
    let result = f().and_then(|v| c.execute_batch("COMMIT").map(|()| v).map_err(&db));
    if result.is_err() {
        let _ = c.execute_batch("ROLLBACK");
    }
    result
}

/// Refreshes derived rows (best offers, trending drops) left dirty by a run that crashed (or
/// by the migration that created them). Skipped while another connection writes, or when the
/// disk is full: that run, or the next open, refreshes.
fn finish_interrupted_refresh(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(Duration::ZERO).map_err(backend)?;
    let result = stats::refresh_product_best(conn)
        .map_err(backend)
        .and_then(|()| stats::refresh_trends(conn).map(drop))
        .and_then(|()| stats::refresh_market_if_marked(conn))
        .and_then(|()| stats::analyze_if_missing(conn).map_err(backend));
    conn.busy_timeout(BUSY_TIMEOUT).map_err(backend)?;
    match result {
        Err(StoreError::Unavailable(_)) => Ok(()),
        other => other,
    }
}

const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

impl SqliteCatalog {
    /// Opens (creating if needed) the database file and applies migrations.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Open(format!("{}: {e}", dir.display())))?;
        }
        let conn = Self::connect(path)?;
        migrate::apply(&conn)?;
        // An initial load that crashed leaves its deferred indexes missing; build them now.
        bulk::restore_indexes(&conn).map_err(backend)?;
        finish_interrupted_refresh(&conn)?;
        // A connection left inside a transaction (a failed COMMIT, a panic) is not reused.
        let pool = Pool::new(MAX_CONNECTIONS, vec![conn], Connection::is_autocommit);
        Ok(SqliteCatalog {
            path: path.to_path_buf(),
            read_only: false,
            pool,
            writes: gate::WriteGate::default(),
            key_indexes: Default::default(),
        })
    }

    /// Opens an existing catalog without writing anything: no migrations, no repair of a
    /// crashed run. Status and the other read-only commands use it, so they still answer when
    /// the disk is full (a write would fail with "database or disk is full").
    pub fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        let conn = Self::connect_read_only(path)?;
        migrate::check_current(&conn)?;
        let pool = Pool::new(MAX_CONNECTIONS, vec![conn], Connection::is_autocommit);
        Ok(SqliteCatalog {
            path: path.to_path_buf(),
            read_only: true,
            pool,
            writes: gate::WriteGate::default(),
            key_indexes: Default::default(),
        })
    }

    fn connect_read_only(path: &Path) -> Result<Connection, StoreError> {
        use rusqlite::OpenFlags;
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let open = |e: rusqlite::Error| StoreError::Open(format!("{}: {e}", path.display()));
        let conn = Connection::open_with_flags(path, flags).map_err(open)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open)?;
        conn.pragma_update(None, "cache_size", -READ_CACHE_KIB).map_err(open)?;
        conn.set_prepared_statement_cache_capacity(CACHED_STATEMENTS);
        conn.pragma_update(None, "mmap_size", MMAP_BYTES).map_err(open)?;
        Ok(conn)
    }

    /// Parses `sqlite://PATH`, `sqlite:PATH` or a bare path.
    pub fn path_from_url(url: &str) -> Result<PathBuf, StoreError> {
        let rest =
            url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
        if rest.is_empty() || rest.contains("://") {
            return Err(StoreError::UnsupportedUrl(url.to_string()));
        }
        Ok(PathBuf::from(rest))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn connect(path: &Path) -> Result<Connection, StoreError> {
        let conn = Connection::open(path)
            .map_err(|e| StoreError::Open(format!("{}: {e}", path.display())))?;
        configure(&conn).map_err(|e| StoreError::Open(format!("{}: {e}", path.display())))?;
        Ok(conn)
    }

    /// Runs `f` on a pooled connection.
    pub(crate) fn with_conn_err<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.pool.get(|| {
            if self.read_only {
                Self::connect_read_only(&self.path)
            } else {
                Self::connect(&self.path)
            }
        })?;
        f(&conn)
    }

    /// Runs `f` in one write transaction (`transaction`) on a pooled connection, after this
    /// process's earlier writers (see `gate`).
    pub(crate) fn write_txn<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.with_conn_err(|c| {
            let _turn = self.writes.enter();
            transaction(c, || f(c), backend)
        })
    }

    pub(crate) fn pool_stats(&self) -> preciso_core::ports::PoolStats {
        self.pool.stats()
    }

    pub(crate) fn with_reader<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        self.with_conn_err(|c| f(c).map_err(backend))
    }
}

/// A row as the shared mappings of `preciso_sql` read it.
pub(crate) struct SqliteRow<'a, 'b>(pub &'a Row<'b>);

impl SqlRow for SqliteRow<'_, '_> {
    type Error = rusqlite::Error;
    fn int(&self, i: usize) -> rusqlite::Result<i64> {
        self.0.get(i)
    }
    fn opt_int(&self, i: usize) -> rusqlite::Result<Option<i64>> {
        self.0.get(i)
    }
    fn text(&self, i: usize) -> rusqlite::Result<String> {
        self.0.get(i)
    }
    fn opt_text(&self, i: usize) -> rusqlite::Result<Option<String>> {
        self.0.get(i)
    }
    fn opt_bytes(&self, i: usize) -> rusqlite::Result<Option<Vec<u8>>> {
        self.0.get(i)
    }
    fn invalid(&self, i: usize, what: String) -> rusqlite::Error {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            Box::new(std::io::Error::other(what)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::StatementStatus;

    /// Binding new values never makes SQLite compile a statement again: with STAT4 built in,
    /// the planner may let a bound value steer the plan, and then each new value re-parsed
    /// and re-planned the statement (a third of the comparison endpoint's CPU at 1M offers).
    #[test]
    fn cached_statements_are_not_prepared_again_for_new_values() {
        let dir = tempfile::tempdir().unwrap();
        let cat = SqliteCatalog::open(&dir.path().join("catalog.sqlite")).unwrap();
        cat.with_reader(|c| {
            c.execute_batch("ANALYZE")?;
            let q = preciso_sql::reads::product_offers(1);
            let mut stmt = c.prepare_cached(&q.sql)?;
            for product in [1_i64, 2, 3] {
                stmt.query_map([product], |_| Ok(()))?.for_each(drop);
            }
            assert_eq!(stmt.get_status(StatementStatus::RePrepare), 0);
            Ok(())
        })
        .unwrap();
    }

    /// Every connection maps the whole database file up to `MMAP_BYTES`: the bundled SQLite
    /// is built with a larger `SQLITE_MAX_MMAP_SIZE` (`.cargo/config.toml`), without which it
    /// maps 2 GB whatever the pragma asks and copies every page past them with `pread`.
    #[test]
    fn connections_map_the_database_past_two_gigabytes() {
        let dir = tempfile::tempdir().unwrap();
        let cat = SqliteCatalog::open(&dir.path().join("catalog.sqlite")).unwrap();
        let mapped: i64 =
            cat.with_reader(|c| c.query_row("PRAGMA mmap_size", [], |r| r.get(0))).unwrap();
        assert_eq!(mapped, MMAP_BYTES);
    }
}
