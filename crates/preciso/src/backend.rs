//! Backend choice: the database URL's scheme decides the store adapter, once, with an
//! explicit error for anything unsupported.

use anyhow::{Context, Result, bail};
use preciso_core::ports::Catalog;
use preciso_store_sqlite::SqliteCatalog;
use std::sync::Arc;

pub fn open(database_url: &str) -> Result<Arc<dyn Catalog>> {
    let scheme = database_url.split_once("://").map(|(s, _)| s).unwrap_or("sqlite");
    match scheme {
        "sqlite" => {
            let path = SqliteCatalog::path_from_url(database_url)?;
            let catalog = SqliteCatalog::open(&path)
                .with_context(|| format!("opening SQLite database {}", path.display()))?;
            Ok(Arc::new(catalog))
        }
        "postgres" | "postgresql" => bail!(
            "database URL scheme {scheme:?} is recognised but the PostgreSQL backend is not \
             built yet; use sqlite://PATH"
        ),
        other => bail!("unsupported database URL scheme {other:?}; use sqlite://PATH"),
    }
}
