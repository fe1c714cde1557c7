//! The forensic analysis's reads on SQLite (`QualityRead`): the scope's offers and their
//! histories as two ordered statements on one connection, merged by offer id, so each offer
//! reaches the engine with its history and nothing else is held.

use crate::read::values;
use crate::{SqliteCatalog, SqliteRow, backend};
use preciso_core::analysis::omnibus::Observation;
use preciso_core::ports::{QualityRead, QualityScope, QualitySink, StoreError};
use preciso_sql::quality::{histories, offer_from_row, offers};
use rusqlite::params_from_iter;

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
            let mut offer_rows =
                offers_stmt.query(params_from_iter(values(&offer_params))).map_err(backend)?;
            let mut history_rows =
                history_stmt.query(params_from_iter(values(&history_params))).map_err(backend)?;
            // The next history row not yet handed out: (offer id, observation).
            let mut pending: Option<(i64, Observation)> = None;
            let mut history = Vec::new();
            while let Some(row) = offer_rows.next().map_err(backend)? {
                let offer = offer_from_row(&SqliteRow(row)).map_err(backend)?;
                let id = offer.id.as_i64();
                history.clear();
                loop {
                    if pending.is_none() {
                        pending = match history_rows.next().map_err(backend)? {
                            Some(h) => Some((
                                h.get(0).map_err(backend)?,
                                Observation {
                                    at: h.get(1).map_err(backend)?,
                                    price: h.get(2).map_err(backend)?,
                                    list: h.get(3).map_err(backend)?,
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
                        // A history row of an offer the scope's offers did not list (it
                        // changed in between): skipped.
                        Some((of, _)) if of < id => pending = None,
                        _ => break,
                    }
                }
                sink(&offer, &history)?;
            }
            Ok(())
        })
    }
}
