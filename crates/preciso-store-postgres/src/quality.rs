//! The forensic analysis's reads on PostgreSQL (`QualityRead`): the scope's offers and their
//! histories as two portals of one read-only REPEATABLE READ transaction (both streams see the
//! same catalog), fetched in chunks and merged by offer id, so each offer reaches the engine
//! with its history and nothing else is held.

use crate::{PgCatalog, PgRow, backend, bind, refs};
use postgres::{IsolationLevel, Portal, Row, Transaction};
use preciso_core::analysis::omnibus::Observation;
use preciso_core::ports::{QualityRead, QualityScope, QualitySink, StoreError};
use preciso_sql::numbered;
use preciso_sql::quality::{histories, offer_from_row, offers};
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
            let mut offer_rows = Stream { portal, rows: VecDeque::new(), done: false };
            let portal = tx.bind(&numbered(&history_sql), &refs(&hp)).map_err(backend)?;
            let mut history_rows = Stream { portal, rows: VecDeque::new(), done: false };
            let mut pending: Option<(i64, Observation)> = None;
            let mut history = Vec::new();
            while let Some(row) = offer_rows.next(&mut tx)? {
                let offer = offer_from_row(&PgRow(&row))?;
                let id = offer.id.as_i64();
                history.clear();
                loop {
                    if pending.is_none() {
                        pending = match history_rows.next(&mut tx)? {
                            Some(h) => Some((
                                h.try_get(0).map_err(backend)?,
                                Observation {
                                    at: h.try_get(1).map_err(backend)?,
                                    price: h.try_get(2).map_err(backend)?,
                                    list: h.try_get(3).map_err(backend)?,
                                },
                            )),
                            None => None,
                        };
                    }
                    match pending {
                        Some((of, obs)) if of == id => {
                            history.push(obs);
                            pending = None;
                        }
                        Some((of, _)) if of < id => pending = None,
                        _ => break,
                    }
                }
                sink(&offer, &history)?;
            }
            tx.commit().map_err(backend)
        })
    }
}
