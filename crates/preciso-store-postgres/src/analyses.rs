//! Analysis runs and the score history on PostgreSQL (the logic and SQL are shared:
//! `preciso_sql::analyses`): each call one transaction on a pooled connection.

use crate::PgCatalog;
use preciso_core::domain::StoreId;
use preciso_core::ports::{AnalysisLog, StoreError};
use preciso_core::quality::runs::{
    AnalysisEnd, AnalysisRecord, AnalysisRequest, AnalysisStatus, ScorePoint,
};
use preciso_sql::analyses as shared;
use preciso_sql::runs::SqlExec;

impl PgCatalog {
    fn reading<T>(
        &self,
        f: impl FnOnce(&mut dyn SqlExec) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.in_txn(f)
    }
}

impl AnalysisLog for PgCatalog {
    fn queue_analyses(
        &self,
        requests: &[AnalysisRequest],
        trigger: &str,
        now: i64,
    ) -> Result<Vec<i64>, StoreError> {
        self.in_txn(|db| shared::queue(db, requests, trigger, now))
    }
    fn begin_analysis(
        &self,
        request: &AnalysisRequest,
        trigger: &str,
        owner: &str,
        now: i64,
    ) -> Result<i64, StoreError> {
        self.in_txn(|db| shared::begin(db, request, trigger, owner, now))
    }
    fn claim_analysis(&self, owner: &str, now: i64) -> Result<Option<AnalysisRecord>, StoreError> {
        self.in_txn(|db| shared::claim(db, owner, now))
    }
    fn analysis_progress(
        &self,
        id: i64,
        phase: u8,
        percent: u8,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.in_txn(|db| shared::progress(db, id, phase, percent, now))
    }
    fn finish_analysis(&self, id: i64, end: &AnalysisEnd, now: i64) -> Result<(), StoreError> {
        self.in_txn(|db| shared::finish(db, id, end, now))
    }
    fn running_analyses(&self) -> Result<Vec<AnalysisRecord>, StoreError> {
        self.reading(shared::running)
    }
    fn abandon_analyses(&self, ids: &[i64], now: i64) -> Result<u64, StoreError> {
        self.in_txn(|db| shared::abandon(db, ids, now))
    }
    fn analysis(&self, id: i64) -> Result<Option<AnalysisRecord>, StoreError> {
        self.reading(|db| shared::get(db, id))
    }
    fn analysis_report(&self, id: i64) -> Result<Option<String>, StoreError> {
        self.reading(|db| shared::report(db, id))
    }
    fn analyses(
        &self,
        status: Option<AnalysisStatus>,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<AnalysisRecord>, StoreError> {
        self.reading(|db| shared::list(db, status, limit, offset))
    }
    fn queued_analyses(&self) -> Result<u64, StoreError> {
        self.reading(shared::queued)
    }
    fn score_history(
        &self,
        store: Option<&StoreId>,
        since: Option<i64>,
        limit: u32,
    ) -> Result<Vec<ScorePoint>, StoreError> {
        self.reading(|db| shared::score_history(db, store, since, limit))
    }
    fn prior_volumes(
        &self,
        stores: &[StoreId],
        as_of: i64,
    ) -> Result<Vec<(StoreId, Vec<u64>)>, StoreError> {
        self.reading(|db| shared::prior_volumes(db, stores, as_of))
    }
}
