//! The forensic analysis's reads on PostgreSQL (`QualityRead`): the scope's offers and their
//! histories as two portals of one read-only REPEATABLE READ transaction (both streams see the
//! same catalog), fetched in chunks and merged by offer id, so each offer reaches the engine
//! with its history and nothing else is held.

use crate::{PgCatalog, PgRow, backend, bind, refs};
use postgres::{IsolationLevel, Portal, Row, Transaction};
use preciso_core::analysis::omnibus::Observation;
use preciso_core::domain::Currency;
use preciso_core::ports::{QualityOffer, QualityRead, QualityScope, QualitySink, StoreError};
use preciso_sql::numbered;
use preciso_sql::quality::{
    QualityStreams, count, histories, merge, observation_from_row, offer_from_row, offers,
};
use std::collections::VecDeque;

/// Rows fetched per round trip.
const CHUNK: i32 = 5_000;

/// A portal read a chunk at a time.
struct Stream {
    portal: Portal,
    rows: VecDeque<Row>,
    done: bool,
}

impl Stream {
    fn next(&mut self, tx: &mut Transaction<'_>) -> Result<Option<Row>, StoreError> {
        if self.rows.is_empty() && !self.done {
            let rows = tx.query_portal(&self.portal, CHUNK).map_err(backend)?;
            self.done = rows.len() < CHUNK as usize;
            self.rows = rows.into();
        }
        Ok(self.rows.pop_front())
    }
}

/// The two portals of one transaction.
struct Streams<'t, 'c> {
    tx: &'t mut Transaction<'c>,
    offers: Stream,
    histories: Stream,
}

impl QualityStreams for Streams<'_, '_> {
    fn next_offer(&mut self) -> Result<Option<QualityOffer>, StoreError> {
        match self.offers.next(self.tx)? {
            Some(row) => Ok(Some(offer_from_row(&PgRow(&row))?)),
            None => Ok(None),
        }
    }

    fn next_observation(&mut self) -> Result<Option<(i64, Observation, Currency)>, StoreError> {
        match self.histories.next(self.tx)? {
            Some(row) => Ok(Some(observation_from_row(&PgRow(&row))?)),
            None => Ok(None),
        }
    }
}

impl QualityRead for PgCatalog {
    fn quality_rows(
        &self,
        scope: &QualityScope,
        sink: &mut QualitySink<'_>,
    ) -> Result<(), StoreError> {
        self.with_unbounded_client(|c| {
            let mut tx = c
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .map_err(backend)?;
            let (offers_sql, offer_params) = offers(scope);
            let (history_sql, history_params) = histories(scope);
            let (op, hp) = (bind(&offer_params), bind(&history_params));
            let portal = tx.bind(&numbered(&offers_sql), &refs(&op)).map_err(backend)?;
            let offers = Stream { portal, rows: VecDeque::new(), done: false };
            let portal = tx.bind(&numbered(&history_sql), &refs(&hp)).map_err(backend)?;
            let histories = Stream { portal, rows: VecDeque::new(), done: false };
            merge(&mut Streams { tx: &mut tx, offers, histories }, sink)?;
            tx.commit().map_err(backend)
        })
    }

    fn quality_size(&self, scope: &QualityScope) -> Result<u64, StoreError> {
        let (sql, params) = count(scope);
        let bound = bind(&params);
        self.with_client(|c| {
            let row = c.query_one(numbered(&sql).as_str(), &refs(&bound)).map_err(backend)?;
            let n: i64 = row.try_get(0).map_err(backend)?;
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
