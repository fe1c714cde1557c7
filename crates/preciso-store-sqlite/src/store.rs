//! The storage port's write-side upkeep on SQLite (`CatalogStore`): stores, the ledger,
//! counts and freshness; rows are mapped by `preciso_sql`'s shared mappers.

use crate::{SqliteCatalog, SqliteRow};
use preciso_core::domain::{IngestFile, Store, StoreId};
use preciso_core::ports::{
    CatalogCounts, CatalogStore, IngestSession, MergeReport, NewIngestFile, SeenName, StoreError,
    StoreSummary,
};
use preciso_sql::{LEDGER_COLUMNS, STORE_COLUMNS, ledger_from_row, store_from_row};
use rusqlite::{OptionalExtension, Row, params};

fn ledger_row(r: &Row<'_>) -> rusqlite::Result<IngestFile> {
    ledger_from_row(&SqliteRow(r))
}

fn store_row(r: &Row<'_>) -> rusqlite::Result<Store> {
    store_from_row(&SqliteRow(r))
}

impl SqliteCatalog {
    pub(crate) fn ingest_file(&self, id: i64) -> Result<IngestFile, StoreError> {
        self.with_reader(|c| {
            c.query_row(
                &format!("SELECT {LEDGER_COLUMNS} FROM ingest_files WHERE id = ?1"),
                [id],
                ledger_row,
            )
        })
    }
}

impl CatalogStore for SqliteCatalog {
    fn migrate(&self) -> Result<(), StoreError> {
        self.with_conn_err(crate::migrate::apply)
    }

    fn upsert_store(&self, store: &Store) -> Result<(), StoreError> {
        self.with_reader(|c| {
            c.execute(
                "INSERT INTO stores (id, name, country, currency, base_url, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, strftime('%s','now'))
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name,
                     country = coalesce(excluded.country, stores.country),
                     currency = coalesce(excluded.currency, stores.currency),
                     base_url = coalesce(excluded.base_url, stores.base_url)",
                params![
                    store.id.as_str(),
                    store.name,
                    store.country,
                    store.currency.map(|c| c.code()),
                    store.base_url
                ],
            )
            .map(drop)
        })
    }

    fn stores(&self) -> Result<Vec<Store>, StoreError> {
        self.with_reader(|c| {
            let mut stmt = c.prepare(&format!("SELECT {STORE_COLUMNS} FROM stores ORDER BY id"))?;
            stmt.query_map([], store_row)?.collect()
        })
    }

    fn store_names(&self) -> Result<Vec<SeenName>, StoreError> {
        self.names()
    }

    fn record_store_names(&self, names: &[SeenName]) -> Result<(), StoreError> {
        self.add_names(names)
    }

    fn store_aliases(&self) -> Result<Vec<(String, StoreId)>, StoreError> {
        self.aliases()
    }

    fn record_store_counts(
        &self,
        file_id: i64,
        at: i64,
        counts: &[preciso_core::ports::StoreRecords],
    ) -> Result<(), StoreError> {
        self.add_store_counts(file_id, at, counts)
    }

    fn merge_stores(&self, from: &StoreId, into: &StoreId) -> Result<MergeReport, StoreError> {
        self.merge(from, into)
    }

    fn find_ingested(&self, sha256: &str) -> Result<Option<IngestFile>, StoreError> {
        self.with_reader(|c| {
            c.query_row(
                &format!(
                    "SELECT {LEDGER_COLUMNS} FROM ingest_files WHERE sha256 = ?1 AND status = 'done'
                     ORDER BY id DESC LIMIT 1"
                ),
                [sha256],
                ledger_row,
            )
            .optional()
        })
    }

    fn interrupted_since(&self, sha256: &str) -> Result<Option<i64>, StoreError> {
        self.with_reader(|c| {
            c.query_row(preciso_sql::reads::INTERRUPTED_SINCE, [sha256, sha256], |r| r.get(0))
        })
    }

    fn begin_ingest(
        &self,
        file: &NewIngestFile,
        dry_run: bool,
    ) -> Result<Box<dyn IngestSession + '_>, StoreError> {
        Ok(Box::new(self.start_session(file, dry_run)?))
    }

    fn ingest_files(&self, limit: u32, offset: u64) -> Result<Vec<IngestFile>, StoreError> {
        self.with_reader(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {LEDGER_COLUMNS} FROM ingest_files ORDER BY id DESC LIMIT ?1 OFFSET ?2"
            ))?;
            stmt.query_map(params![limit, offset as i64], ledger_row)?.collect()
        })
    }

    fn counts(&self) -> Result<CatalogCounts, StoreError> {
        self.with_reader(|c| {
            let n = |table: &str| -> rusqlite::Result<u64> {
                c.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get::<_, i64>(0))
                    .map(|v| v as u64)
            };
            Ok(CatalogCounts {
                stores: n("stores")?,
                offers: n("offers")?,
                products: n("products")?,
                price_observations: n("price_history")?,
                ingest_files: n("ingest_files")?,
            })
        })
    }

    fn ingest_marker(&self) -> Result<(i64, i64), StoreError> {
        self.with_reader(|c| {
            c.query_row(
                "SELECT coalesce(max(id), 0), coalesce(max(finished_at), 0) FROM ingest_files
                 WHERE status <> 'running'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })
    }

    fn store_freshness(&self) -> Result<Vec<(StoreId, Option<i64>)>, StoreError> {
        self.with_reader(|c| {
            let mut stmt = c.prepare_cached(preciso_sql::reads::STORE_FRESHNESS)?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))?;
            let mut out = Vec::new();
            for row in rows {
                let (id, seen) = row?;
                // Store ids were validated on the way in; a row that is not one is skipped.
                if let Ok(id) = StoreId::parse(&id) {
                    out.push((id, seen));
                }
            }
            Ok(out)
        })
    }

    fn mark_archived(&self, file_id: i64, key: &str) -> Result<(), StoreError> {
        self.with_reader(|c| {
            c.execute(preciso_sql::reads::MARK_ARCHIVED, rusqlite::params![key, file_id]).map(drop)
        })
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.with_reader(|c| c.query_row("SELECT count(*) FROM stores", [], |_| Ok(())))
    }

    fn pool_stats(&self) -> preciso_core::ports::PoolStats {
        SqliteCatalog::pool_stats(self)
    }

    fn store_summaries(&self) -> Result<Vec<StoreSummary>, StoreError> {
        self.with_reader(|c| {
            let mut stmt = c.prepare(preciso_sql::market::STORE_SUMMARIES)?;
            stmt.query_map([], |r| {
                let id: String = r.get(0)?;
                Ok(StoreSummary {
                    store: StoreId::parse(&id)
                        .unwrap_or_else(|_| StoreId::parse("invalid").expect("valid slug")),
                    offers: r.get::<_, i64>(1)? as u64,
                    categories: r.get::<_, i64>(2)? as u64,
                    in_stock: r.get::<_, i64>(3)? as u64,
                    last_seen: r.get(4)?,
                })
            })?
            .collect()
        })
    }
}
