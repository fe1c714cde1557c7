//! The run history on PostgreSQL (shared logic in `preciso_sql::runs`) and the scheduler's
//! leader lock: `pg_try_advisory_lock` on a dedicated connection outside the pool, held while
//! leading; the lock dies with that connection, so a crashed leader frees it
//! (docs/OPERATIONS.md O8).

use crate::dump::read_cell;
use crate::{PgCatalog, backend, bind, refs};
use postgres::{Client, Transaction};
use preciso_core::ports::{Cell, Leadership, RunLog, StoreError};
use preciso_core::runs::{AttemptEnd, NewRun, RunClaim, RunFilter, RunRecord, RunStatus};
use preciso_sql::runs::{self as shared, SqlExec};
use preciso_sql::{Param, numbered};

/// The advisory lock key of the scheduler ("preciso" in ASCII).
const SCHEDULER_LOCK_KEY: i64 = 0x0070_7265_6369_736f;

pub(crate) struct Exec<'a, 'b>(&'a mut Transaction<'b>);

impl SqlExec for Exec<'_, '_> {
    fn execute(&mut self, sql: &str, params: &[Param]) -> Result<u64, StoreError> {
        let boxed = bind(params);
        self.0.execute(numbered(sql).as_str(), &refs(&boxed)).map_err(backend)
    }

    fn rows(&mut self, sql: &str, params: &[Param]) -> Result<Vec<Vec<Cell>>, StoreError> {
        let boxed = bind(params);
        let rows = self.0.query(numbered(sql).as_str(), &refs(&boxed)).map_err(backend)?;
        rows.iter()
            .map(|r| (0..r.len()).map(|i| read_cell(r, i)).collect::<Result<Vec<_>, _>>())
            .collect()
    }
}

impl PgCatalog {
    /// Runs `f` in one transaction.
    pub(crate) fn in_txn<T>(
        &self,
        f: impl FnOnce(&mut dyn SqlExec) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.with_client(|c| {
            let mut tx = c.transaction().map_err(backend)?;
            let value = f(&mut Exec(&mut tx))?;
            tx.commit().map_err(backend)?;
            Ok(value)
        })
    }
}

impl RunLog for PgCatalog {
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
        self.in_txn(|db| shared::run(db, id))
    }
    fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>, StoreError> {
        self.in_txn(|db| shared::runs(db, filter))
    }
    fn last_scheduled(&self, job: &str) -> Result<Option<i64>, StoreError> {
        self.in_txn(|db| shared::last_scheduled(db, job))
    }
    fn last_finished(&self, job: &str, status: RunStatus) -> Result<Option<i64>, StoreError> {
        self.in_txn(|db| shared::last_finished(db, job, status))
    }
    fn delete_runs_before(&self, before: i64) -> Result<u64, StoreError> {
        self.in_txn(|db| shared::delete_runs_before(db, before))
    }
    fn try_lead(&self) -> Result<Option<Box<dyn Leadership>>, StoreError> {
        let mut client = self.new_client()?;
        let got: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&SCHEDULER_LOCK_KEY])
            .map_err(backend)?
            .get(0);
        if got {
            Ok(Some(Box::new(PgLeadership { client: Some(client) })))
        } else {
            close_off_runtime(client);
            Ok(None)
        }
    }
}

struct PgLeadership {
    client: Option<Client>,
}

impl Leadership for PgLeadership {
    fn still_held(&mut self) -> bool {
        self.client.as_mut().is_some_and(|c| !c.is_closed() && c.simple_query("SELECT 1").is_ok())
    }
}

impl Drop for PgLeadership {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            close_off_runtime(client);
        }
    }
}

/// Closing a client blocks on its own runtime, which panics inside an async runtime.
fn close_off_runtime(client: Client) {
    let _ = std::thread::Builder::new().name("pg-close".into()).spawn(move || drop(client));
}
