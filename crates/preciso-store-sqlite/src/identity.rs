//! Store identity on SQLite: the names stores were written as, the aliases merges leave, and
//! merges themselves — the portable SQL of `preciso_sql::stores` over a SQLite transaction.

use crate::dump::{cell, value};
use crate::{SqliteCatalog, backend};
use preciso_core::domain::StoreId;
use preciso_core::ports::{Cell, MergeReport, SeenName, StoreError};
use preciso_sql::stores::{self, Tx};
use rusqlite::Connection;

/// A connection inside a transaction the caller opened.
pub(crate) struct SqliteTx<'c>(pub &'c Connection);

impl Tx for SqliteTx<'_> {
    fn query(&mut self, sql: &str, params: &[Cell]) -> Result<Vec<Vec<Cell>>, StoreError> {
        let mut stmt = self.0.prepare_cached(sql).map_err(backend)?;
        let width = stmt.column_count();
        let mut rows =
            stmt.query(rusqlite::params_from_iter(params.iter().map(value))).map_err(backend)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(backend)? {
            out.push(
                (0..width)
                    .map(|i| r.get_ref(i).map(cell))
                    .collect::<Result<_, _>>()
                    .map_err(backend)?,
            );
        }
        Ok(out)
    }

    fn execute(&mut self, sql: &str, params: &[Cell]) -> Result<u64, StoreError> {
        let mut stmt = self.0.prepare_cached(sql).map_err(backend)?;
        let n =
            stmt.execute(rusqlite::params_from_iter(params.iter().map(value))).map_err(backend)?;
        Ok(n as u64)
    }
}

impl SqliteCatalog {
    pub(crate) fn names(&self) -> Result<Vec<SeenName>, StoreError> {
        self.with_conn_err(|c| {
            let rows = SqliteTx(c).query(stores::SELECT_NAMES, &[])?;
            rows.iter().map(|r| stores::name_from_row(r)).collect()
        })
    }

    pub(crate) fn add_names(&self, names: &[SeenName]) -> Result<(), StoreError> {
        self.write_txn(|c| {
            let mut tx = SqliteTx(c);
            for n in names {
                tx.execute(stores::ADD_NAME, &stores::add_name_params(n))?;
            }
            Ok(())
        })
    }

    pub(crate) fn add_store_counts(
        &self,
        file_id: i64,
        at: i64,
        counts: &[preciso_core::ports::StoreRecords],
    ) -> Result<(), StoreError> {
        self.write_txn(|c| {
            let mut tx = SqliteTx(c);
            for n in counts {
                tx.execute(stores::ADD_STORE_COUNT, &stores::store_count_params(file_id, at, n))?;
            }
            Ok(())
        })
    }

    pub(crate) fn store_counts(
        &self,
        since: i64,
        until: i64,
    ) -> Result<Vec<preciso_core::ports::StoreRecords>, StoreError> {
        self.with_conn_err(|c| {
            let rows = SqliteTx(c)
                .query(stores::SELECT_STORE_COUNTS, &[Cell::Int(since), Cell::Int(until)])?;
            rows.iter().map(|r| stores::store_count_from_row(r)).collect()
        })
    }

    pub(crate) fn aliases(&self) -> Result<Vec<(String, StoreId)>, StoreError> {
        self.with_conn_err(|c| {
            let rows = SqliteTx(c).query(stores::SELECT_ALIASES, &[])?;
            rows.iter().map(|r| stores::alias_from_row(r)).collect()
        })
    }

    /// The merge in one write transaction, then the derived tables it left stale.
    pub(crate) fn merge(&self, from: &StoreId, into: &StoreId) -> Result<MergeReport, StoreError> {
        let report = self.write_txn(|c| {
            let report = stores::merge(&mut SqliteTx(c), from, into)?;
            c.execute(preciso_sql::market::MARK, []).map_err(backend)?;
            Ok(report)
        })?;
        self.with_conn_err(|c| {
            crate::stats::refresh_category_stats(c).map_err(backend)?;
            crate::stats::refresh_market(c)?;
            crate::stats::analyze(c).map_err(backend)?;
            crate::stats::refresh_product_best(c).map_err(backend)?;
            crate::stats::refresh_trends(c).map(drop)
        })?;
        Ok(report)
    }
}
