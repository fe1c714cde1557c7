//! Backend choice: the database URL's scheme decides the store adapter, once, with an
//! explicit error for anything unsupported.

use anyhow::{Context, Result, bail};
use preciso_core::ports::Catalog;
use preciso_store_sqlite::SqliteCatalog;
use std::sync::Arc;

/// Opens the catalog without writing anything (no migrations, no repairs): for commands that
/// only read, so they answer when the disk is full or the database is a read replica. A
/// catalog that does not exist yet, or lacks migrations, is opened as usual (created and
/// migrated) when that works; otherwise the read-only error stands.
pub fn open_read_only(database_url: &str) -> Result<Arc<dyn Catalog>> {
    read_only(database_url).or_else(|e| open(database_url).map_err(|_| e))
}

fn read_only(database_url: &str) -> Result<Arc<dyn Catalog>> {
    match scheme(database_url) {
        "sqlite" => {
            let path = SqliteCatalog::path_from_url(database_url)?;
            let catalog = SqliteCatalog::open_read_only(&path)
                .with_context(|| format!("opening SQLite database {} read-only", path.display()))?;
            Ok(Arc::new(catalog))
        }
        "postgres" | "postgresql" => {
            let catalog = preciso_store_postgres::PgCatalog::open_read_only(database_url)
                .context("opening the PostgreSQL database read-only")?;
            Ok(Arc::new(catalog))
        }
        _ => open(database_url),
    }
}

/// Whether the catalog runs inside this process (SQLite): its reads then take this machine's
/// cores, not a server's.
pub fn in_process(database_url: &str) -> bool {
    scheme(database_url) == "sqlite"
}

fn scheme(database_url: &str) -> &str {
    database_url.split_once("://").map(|(s, _)| s).unwrap_or("sqlite")
}

pub fn open(database_url: &str) -> Result<Arc<dyn Catalog>> {
    let scheme = scheme(database_url);
    match scheme {
        "sqlite" => {
            let path = SqliteCatalog::path_from_url(database_url)?;
            let catalog = SqliteCatalog::open(&path)
                .with_context(|| format!("opening SQLite database {}", path.display()))?;
            Ok(Arc::new(catalog))
        }
        "postgres" | "postgresql" => {
            let catalog = preciso_store_postgres::PgCatalog::open(database_url)
                .context("opening the PostgreSQL database")?;
            Ok(Arc::new(catalog))
        }
        other => bail!(
            "unsupported database URL scheme {other:?}; use sqlite://PATH or postgres://USER@HOST/DB"
        ),
    }
}
