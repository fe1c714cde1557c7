//! The storage port's catalog side for PostgreSQL: stores, ledger, counts.

use crate::{PgCatalog, PgRow, backend, now};
use preciso_core::domain::{IngestFile, Store, StoreId};
use preciso_core::ports::{
    CatalogCounts, CatalogStore, IngestSession, MergeReport, NewIngestFile, SeenName, StoreError,
    StoreSummary,
};
use preciso_sql::{LEDGER_COLUMNS, STORE_COLUMNS, ledger_from_row, store_from_row};

impl PgCatalog {
    pub(crate) fn ingest_file(&self, id: i64) -> Result<IngestFile, StoreError> {
        self.with_client(|c| {
            let row = c
                .query_one(
                    &format!("SELECT {LEDGER_COLUMNS} FROM ingest_files WHERE id = $1"),
                    &[&id],
                )
                .map_err(backend)?;
            ledger_from_row(&PgRow(&row))
        })
    }
}

impl CatalogStore for PgCatalog {
    fn migrate(&self) -> Result<(), StoreError> {
        self.with_client(|c| crate::migrate::apply(c))
    }

    fn upsert_store(&self, s: &Store) -> Result<(), StoreError> {
        self.with_client(|c| {
            c.execute(
                "INSERT INTO stores (id, name, country, currency, base_url, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name,
                     country = coalesce(EXCLUDED.country, stores.country),
                     currency = coalesce(EXCLUDED.currency, stores.currency),
                     base_url = coalesce(EXCLUDED.base_url, stores.base_url)",
                &[
                    &s.id.as_str(),
                    &s.name,
                    &s.country,
                    &s.currency.map(|c| c.code()),
                    &s.base_url,
                    &now(),
                ],
            )
            .map(drop)
            .map_err(backend)
        })
    }

    fn stores(&self) -> Result<Vec<Store>, StoreError> {
        self.with_client(|c| {
            let rows = c
                .query(&format!("SELECT {STORE_COLUMNS} FROM stores ORDER BY id"), &[])
                .map_err(backend)?;
            rows.iter().map(|r| store_from_row(&PgRow(r))).collect()
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
        self.with_client(|c| {
            let rows = c
                .query(
                    &format!("SELECT {LEDGER_COLUMNS} FROM ingest_files WHERE sha256 = $1 AND status = 'done' ORDER BY id DESC LIMIT 1"),
                    &[&sha256],
                )
                .map_err(backend)?;
            rows.first().map(|r| ledger_from_row(&PgRow(r))).transpose()
        })
    }

    fn interrupted_since(&self, sha256: &str) -> Result<Option<i64>, StoreError> {
        self.with_client(|c| {
            let sql = preciso_sql::numbered(preciso_sql::reads::INTERRUPTED_SINCE);
            let row = c.query_one(&sql, &[&sha256, &sha256]).map_err(backend)?;
            Ok(row.get(0))
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
        self.with_client(|c| {
            let rows = c
                .query(
                    &format!("SELECT {LEDGER_COLUMNS} FROM ingest_files ORDER BY id DESC LIMIT $1 OFFSET $2"),
                    &[&i64::from(limit), &(offset as i64)],
                )
                .map_err(backend)?;
            rows.iter().map(|r| ledger_from_row(&PgRow(r))).collect()
        })
    }

    fn counts(&self) -> Result<CatalogCounts, StoreError> {
        self.with_client(|c| {
            let r = c
                .query_one(
                    "SELECT (SELECT count(*) FROM stores), (SELECT count(*) FROM offers),
                            (SELECT count(*) FROM products), (SELECT count(*) FROM price_history),
                            (SELECT count(*) FROM ingest_files)",
                    &[],
                )
                .map_err(backend)?;
            let n = |i: usize| r.get::<_, i64>(i) as u64;
            Ok(CatalogCounts {
                stores: n(0),
                offers: n(1),
                products: n(2),
                price_observations: n(3),
                ingest_files: n(4),
            })
        })
    }

    fn store_freshness(&self) -> Result<Vec<(StoreId, Option<i64>)>, StoreError> {
        self.with_client(|c| {
            let rows = c.query(preciso_sql::reads::STORE_FRESHNESS, &[]).map_err(backend)?;
            Ok(rows
                .iter()
                .filter_map(|r| Some((StoreId::parse(r.get::<_, &str>(0)).ok()?, r.get(1))))
                .collect())
        })
    }

    fn mark_archived(&self, file_id: i64, key: &str) -> Result<(), StoreError> {
        let sql = preciso_sql::numbered(preciso_sql::reads::MARK_ARCHIVED);
        self.with_client(|c| c.execute(&sql, &[&key, &file_id]).map(drop).map_err(backend))
    }

    fn ping(&self) -> Result<(), StoreError> {
        self.with_client(|c| c.simple_query("SELECT 1").map(drop).map_err(backend))
    }

    fn pool_stats(&self) -> preciso_core::ports::PoolStats {
        PgCatalog::pool_stats(self)
    }

    fn store_summaries(&self) -> Result<Vec<StoreSummary>, StoreError> {
        self.with_client(|c| {
            let rows = c.query(preciso_sql::market::STORE_SUMMARIES, &[]).map_err(backend)?;
            rows.iter()
                .map(|r| {
                    let id: String = r.get(0);
                    Ok(StoreSummary {
                        store: preciso_core::domain::StoreId::parse(&id)
                            .map_err(|e| StoreError::Backend(e.to_string()))?,
                        offers: r.get::<_, i64>(1) as u64,
                        categories: r.get::<_, i64>(2) as u64,
                        in_stock: r.get::<_, i64>(3) as u64,
                        last_seen: r.get(4),
                    })
                })
                .collect()
        })
    }

    fn ingest_marker(&self) -> Result<(i64, i64), StoreError> {
        self.with_client(|c| {
            let r = c
                .query_one(
                    "SELECT coalesce(max(id), 0), coalesce(max(finished_at), 0) FROM ingest_files WHERE status <> 'running'",
                    &[],
                )
                .map_err(backend)?;
            Ok((r.get(0), r.get(1)))
        })
    }
}
