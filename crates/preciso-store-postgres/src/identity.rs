//! Store identity on PostgreSQL: the names stores were written as, the aliases merges leave,
//! and merges themselves — the portable SQL of `preciso_sql::stores` over a transaction.

use crate::dump::{bind_cell, read_cell};
use crate::{PgCatalog, backend};
use postgres::types::ToSql;
use preciso_core::domain::StoreId;
use preciso_core::ports::{Cell, MergeReport, SeenName, StoreError};
use preciso_sql::numbered;
use preciso_sql::stores::{self, Tx};

/// A transaction; values are bound with the types the prepared statement expects, and each
/// statement is prepared once per transaction (a refresh runs one per offer).
pub(crate) struct PgTx<'a, 'b> {
    tx: &'a mut postgres::Transaction<'b>,
    prepared: std::collections::HashMap<String, postgres::Statement>,
}

impl<'a, 'b> PgTx<'a, 'b> {
    pub(crate) fn new(tx: &'a mut postgres::Transaction<'b>) -> Self {
        PgTx { tx, prepared: Default::default() }
    }

    fn prepared(
        &mut self,
        sql: &str,
        params: &[Cell],
    ) -> Result<(postgres::Statement, Vec<Box<dyn ToSql + Sync>>), StoreError> {
        let stmt = match self.prepared.get(sql) {
            Some(s) => s.clone(),
            None => {
                let s = self.tx.prepare(&numbered(sql)).map_err(backend)?;
                self.prepared.insert(sql.to_string(), s.clone());
                s
            }
        };
        let bound = params.iter().zip(stmt.params()).map(|(c, ty)| bind_cell(c, ty)).collect();
        Ok((stmt, bound))
    }
}

impl Tx for PgTx<'_, '_> {
    fn query(&mut self, sql: &str, params: &[Cell]) -> Result<Vec<Vec<Cell>>, StoreError> {
        let (stmt, bound) = self.prepared(sql, params)?;
        let rows = self.tx.query(&stmt, &crate::refs(&bound)).map_err(backend)?;
        rows.iter()
            .map(|r| (0..r.len()).map(|i| read_cell(r, i)).collect::<Result<Vec<_>, _>>())
            .collect()
    }

    fn execute(&mut self, sql: &str, params: &[Cell]) -> Result<u64, StoreError> {
        let (stmt, bound) = self.prepared(sql, params)?;
        self.tx.execute(&stmt, &crate::refs(&bound)).map_err(backend)
    }
}

impl PgCatalog {
    /// Runs `f` in one transaction of a pooled connection.
    fn in_tx<T>(
        &self,
        f: impl FnOnce(&mut dyn Tx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.with_client(|c| {
            let mut tx = c.transaction().map_err(backend)?;
            let out = f(&mut PgTx::new(&mut tx))?;
            tx.commit().map_err(backend)?;
            Ok(out)
        })
    }

    pub(crate) fn names(&self) -> Result<Vec<SeenName>, StoreError> {
        let rows = self.in_tx(|tx| tx.query(stores::SELECT_NAMES, &[]))?;
        rows.iter().map(|r| stores::name_from_row(r)).collect()
    }

    pub(crate) fn add_names(&self, names: &[SeenName]) -> Result<(), StoreError> {
        self.in_tx(|tx| {
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
        self.in_tx(|tx| {
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
        let rows = self.in_tx(|tx| {
            tx.query(stores::SELECT_STORE_COUNTS, &[Cell::Int(since), Cell::Int(until)])
        })?;
        rows.iter().map(|r| stores::store_count_from_row(r)).collect()
    }

    pub(crate) fn aliases(&self) -> Result<Vec<(String, StoreId)>, StoreError> {
        let rows = self.in_tx(|tx| tx.query(stores::SELECT_ALIASES, &[]))?;
        rows.iter().map(|r| stores::alias_from_row(r)).collect()
    }

    /// The merge in one transaction (no statement timeout: a large store takes a while), then
    /// the derived tables it left stale.
    pub(crate) fn merge(&self, from: &StoreId, into: &StoreId) -> Result<MergeReport, StoreError> {
        let report = self.with_unbounded_client(|c| {
            let mut tx = c.transaction().map_err(backend)?;
            // Offers move between ids: not while an initial load has the keys dropped.
            crate::bulk::batch_turn(&mut tx)?;
            trends_turn(&mut tx)?;
            let report = stores::merge(&mut PgTx::new(&mut tx), from, into)?;
            tx.execute(preciso_sql::market::MARK, &[]).map_err(backend)?;
            tx.commit().map_err(backend)?;
            Ok(report)
        })?;
        self.with_unbounded_client(|c| {
            crate::session::refresh_category_stats(c)?;
            crate::session::refresh_market(c)?;
            crate::best::refresh(c)?;
            refresh_trends(c)
        })?;
        Ok(report)
    }
}

/// Recomputes the trending drops of the offers ingest marked (`preciso_sql::trend`), in one
/// transaction.
pub(crate) fn refresh_trends(client: &mut postgres::Client) -> Result<(), StoreError> {
    let mut tx = client.transaction().map_err(backend)?;
    trends_turn(&mut tx)?;
    preciso_sql::trend::refresh(&mut PgTx::new(&mut tx))?;
    tx.commit().map_err(backend)
}

/// Serializes the trend refreshes and the store merges (`pg_advisory_xact_lock` key): a merge
/// committing between a refresh's read of a drop and its write left the refresh writing a drop
/// for an offer the merge had removed, and a refresh committing inside a merge had its drop
/// counted and then the older one's taken away (`drop_days`).
pub const TRENDS_LOCK: i64 = 0x7072_6563_7472_6e64;

/// Waits for `TRENDS_LOCK` at most `TRENDS_WAIT` (a large store's merge takes minutes).
fn trends_turn(tx: &mut postgres::Transaction<'_>) -> Result<(), StoreError> {
    tx.batch_execute(&format!(
        "SET LOCAL lock_timeout = '{}s'; SELECT pg_advisory_xact_lock({TRENDS_LOCK});
         SET LOCAL lock_timeout = DEFAULT",
        TRENDS_WAIT.as_secs()
    ))
    .map_err(backend)
}

const TRENDS_WAIT: std::time::Duration = std::time::Duration::from_secs(600);
