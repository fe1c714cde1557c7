//! The forensic analysis's reads on SQLite (`QualityRead`): the scope's offers and their
//! histories as two ordered statements on one connection, merged by offer id, so each offer
//! reaches the engine with its history and nothing else is held.

use crate::read::values;
use crate::{SqliteCatalog, SqliteRow, backend};
use preciso_core::analysis::omnibus::Observation;
use preciso_core::domain::Currency;
use preciso_core::ports::{QualityOffer, QualityRead, QualityScope, QualitySink, StoreError};
use preciso_sql::quality::{
    QualityStreams, count, histories, merge, observation_from_row, offer_from_row, offers,
};
use rusqlite::{Rows, params_from_iter};

/// The two statements' rows.
struct Streams<'a> {
    offers: Rows<'a>,
    histories: Rows<'a>,
}

impl QualityStreams for Streams<'_> {
    fn next_offer(&mut self) -> Result<Option<QualityOffer>, StoreError> {
        match self.offers.next().map_err(backend)? {
            Some(row) => Ok(Some(offer_from_row(&SqliteRow(row)).map_err(backend)?)),
            None => Ok(None),
        }
    }

    fn next_observation(&mut self) -> Result<Option<(i64, Observation, Currency)>, StoreError> {
        match self.histories.next().map_err(backend)? {
            Some(row) => Ok(Some(observation_from_row(&SqliteRow(row)).map_err(backend)?)),
            None => Ok(None),
        }
    }
}

impl QualityRead for SqliteCatalog {
    fn quality_rows(
        &self,
        scope: &QualityScope,
        sink: &mut QualitySink<'_>,
    ) -> Result<(), StoreError> {
        self.with_conn_err(|c| {
            let (offers_sql, offer_params) = offers(scope);
            let (history_sql, history_params) = histories(scope);
            let mut offers_stmt = c.prepare(&offers_sql).map_err(backend)?;
            let mut history_stmt = c.prepare(&history_sql).map_err(backend)?;
            let mut streams = Streams {
                offers: offers_stmt
                    .query(params_from_iter(values(&offer_params)))
                    .map_err(backend)?,
                histories: history_stmt
                    .query(params_from_iter(values(&history_params)))
                    .map_err(backend)?,
            };
            merge(&mut streams, sink)
        })
    }

    fn quality_size(&self, scope: &QualityScope) -> Result<u64, StoreError> {
        let (sql, params) = count(scope);
        self.with_conn_err(|c| {
            let n: i64 = c
                .prepare_cached(&sql)
                .and_then(|mut s| s.query_row(params_from_iter(values(&params)), |r| r.get(0)))
                .map_err(backend)?;
            Ok(n.max(0) as u64)
        })
    }

    fn store_records(
        &self,
        since: i64,
        until: i64,
    ) -> Result<Vec<preciso_core::ports::StoreRecords>, StoreError> {
        self.store_counts(since, until)
    }
}
