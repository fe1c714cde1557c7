//! SQLite adapter of the storage port: the embedded default. One database file under the data
//! directory in WAL mode; readers share a small set of connections, each ingest run writes
//! through its own connection in per-batch transactions.

mod dump;
mod migrate;
mod offers;
mod queries;
mod runs;
mod session;
mod stats;
mod users;

use preciso_core::ports::StoreError;
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

pub use migrate::MIGRATIONS;

/// The SQLite catalog. Cheap to share behind an `Arc`.
pub struct SqliteCatalog {
    path: PathBuf,
    /// Idle connections for reads and small writes; each ingest run opens its own.
    pool: Mutex<Vec<Connection>>,
}

/// Idle connections kept open; more are opened under load and closed when returned.
const MAX_IDLE: usize = 8;

pub(crate) fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Pragmas every connection gets. WAL lets readers run during an ingest; `synchronous =
/// NORMAL` is durable against process crashes (a power loss may drop the last commits, never
/// corrupt); the busy timeout makes a second writer wait instead of failing at once.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(30))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -32000;",
    )
}

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
        conn.execute_batch(session::OFFER_INDEXES).map_err(backend)?;
        Ok(SqliteCatalog { path: path.to_path_buf(), pool: Mutex::new(vec![conn]) })
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
        let idle = self.pool.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match idle {
            Some(c) => c,
            None => Self::connect(&self.path)?,
        };
        let result = f(&conn);
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < MAX_IDLE {
            pool.push(conn);
        }
        result
    }

    pub(crate) fn with_reader<T>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        self.with_conn_err(|c| f(c).map_err(backend))
    }
}
