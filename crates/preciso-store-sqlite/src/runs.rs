//! The run history on SQLite (shared logic in `preciso_sql::runs`) and the scheduler's leader
//! lock: an exclusive lock on `<database>.scheduler.lock`, so a second `preciso serve` on the
//! same database file stays standby (docs/OPERATIONS.md O9).

use crate::dump::cell;
use crate::read::values;
use crate::{SqliteCatalog, backend};
use preciso_core::ports::{Cell, Leadership, RunLog, StoreError};
use preciso_core::runs::{AttemptEnd, NewRun, RunClaim, RunFilter, RunRecord, RunStatus};
use preciso_sql::Param;
use preciso_sql::runs::{self as shared, SqlExec};
use rusqlite::{Connection, params_from_iter};
use std::fs::{File, OpenOptions, TryLockError};
use std::path::PathBuf;

pub(crate) struct Exec<'a>(pub(crate) &'a Connection);

impl SqlExec for Exec<'_> {
    fn execute(&mut self, sql: &str, params: &[Param]) -> Result<u64, StoreError> {
        let mut stmt = self.0.prepare_cached(sql).map_err(backend)?;
        stmt.execute(params_from_iter(values(params))).map(|n| n as u64).map_err(backend)
    }

    fn rows(&mut self, sql: &str, params: &[Param]) -> Result<Vec<Vec<Cell>>, StoreError> {
        let mut stmt = self.0.prepare_cached(sql).map_err(backend)?;
        let width = stmt.column_count();
        let mut rows = stmt.query(params_from_iter(values(params))).map_err(backend)?;
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
}

impl SqliteCatalog {
    /// Runs `f` in one write transaction.
    pub(crate) fn in_txn<T>(
        &self,
        f: impl FnOnce(&mut dyn SqlExec) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.write_txn(|c| f(&mut Exec(c)))
    }

    fn lock_path(&self) -> PathBuf {
        let mut name = self.path().as_os_str().to_owned();
        name.push(".scheduler.lock");
        PathBuf::from(name)
    }
}

impl RunLog for SqliteCatalog {
    fn claim_run(&self, run: &NewRun) -> Result<RunClaim, StoreError> {
        self.in_txn(|db| shared::claim_run(db, run))
    }
    fn end_attempt(&self, run_id: i64, end: &AttemptEnd) -> Result<(), StoreError> {
        self.in_txn(|db| shared::end_attempt(db, run_id, end))
    }
    fn start_attempt(&self, run_id: i64, now: i64) -> Result<u32, StoreError> {
        self.in_txn(|db| shared::start_attempt(db, run_id, now))
    }
    fn heartbeat(&self, run_id: i64, now: i64) -> Result<bool, StoreError> {
        self.in_txn(|db| shared::heartbeat(db, run_id, now))
    }
    fn abandon_stale_runs(
        &self,
        stale_before: i64,
        now: i64,
        live: &[i64],
    ) -> Result<u64, StoreError> {
        self.in_txn(|db| shared::abandon_stale_runs(db, stale_before, now, live))
    }
    fn run(&self, id: i64) -> Result<Option<RunRecord>, StoreError> {
        self.with_conn_err(|c| shared::run(&mut Exec(c), id))
    }
    fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>, StoreError> {
        self.with_conn_err(|c| shared::runs(&mut Exec(c), filter))
    }
    fn last_scheduled(&self, job: &str) -> Result<Option<i64>, StoreError> {
        self.with_conn_err(|c| shared::last_scheduled(&mut Exec(c), job))
    }
    fn last_finished(&self, job: &str, status: RunStatus) -> Result<Option<i64>, StoreError> {
        self.with_conn_err(|c| shared::last_finished(&mut Exec(c), job, status))
    }
    fn delete_runs_before(&self, before: i64) -> Result<u64, StoreError> {
        self.in_txn(|db| shared::delete_runs_before(db, before))
    }
    fn try_lead(&self) -> Result<Option<Box<dyn Leadership>>, StoreError> {
        let path = self.lock_path();
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StoreError::Backend(format!("{}: {e}", path.display())))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(Box::new(FileLeadership { _file: file }))),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => {
                Err(StoreError::Backend(format!("locking {}: {e}", path.display())))
            }
        }
    }
}

/// The lock lives as long as the open file; the OS releases it if the process dies.
struct FileLeadership {
    _file: File,
}

impl Leadership for FileLeadership {
    fn still_held(&mut self) -> bool {
        true
    }
}
