//! The storage port's read side and store/ledger upkeep for SQLite.

use crate::SqliteCatalog;
use preciso_core::domain::{Currency, IngestCounts, IngestFile, IngestStatus, Store, StoreId};
use preciso_core::ports::{
    CatalogCounts, CatalogStore, IngestSession, MergeReport, NewIngestFile, SeenName, StoreError,
    StoreSummary,
};
use rusqlite::{OptionalExtension, Row, params};

const LEDGER_COLUMNS: &str = "id, name, sha256, size, store_id, received_at, finished_at, status,
    read, inserted, updated, unchanged, duplicate, rejected, archive_key, error";

fn ledger_row(r: &Row<'_>) -> rusqlite::Result<IngestFile> {
    let store: Option<String> = r.get(4)?;
    let status: String = r.get(7)?;
    let count = |i: usize| -> rusqlite::Result<u64> { Ok(r.get::<_, i64>(i)? as u64) };
    Ok(IngestFile {
        id: r.get(0)?,
        name: r.get(1)?,
        sha256: r.get(2)?,
        size: r.get::<_, i64>(3)? as u64,
        store: store.and_then(|s| StoreId::parse(&s).ok()),
        received_at: r.get(5)?,
        finished_at: r.get(6)?,
        status: IngestStatus::from_db(&status),
        counts: IngestCounts {
            read: count(8)?,
            inserted: count(9)?,
            updated: count(10)?,
            unchanged: count(11)?,
            duplicate: count(12)?,
            rejected: count(13)?,
        },
        archive_key: r.get(14)?,
        error: r.get(15)?,
    })
}

fn store_row(r: &Row<'_>) -> rusqlite::Result<Store> {
    let id: String = r.get(0)?;
    let currency: Option<String> = r.get(3)?;
    Ok(Store {
        id: StoreId::parse(&id).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        })?,
        name: r.get(1)?,
        country: r.get(2)?,
        currency: currency.and_then(|c| Currency::parse(&c).ok()),
        base_url: r.get(4)?,
    })
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
            let mut stmt =
                c.prepare("SELECT id, name, country, currency, base_url FROM stores ORDER BY id")?;
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
            let mut stmt = c.prepare(preciso_sql::reads::STORE_SUMMARIES)?;
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
