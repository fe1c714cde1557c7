//! Analysis runs and the score history (`analyses`, `analysis_scores`), written once for both
//! adapters like the run history: each adapter gives a transaction as a [`SqlExec`]. A claim
//! is a conditional update (`… WHERE id = ? AND status = 'queued'`): of two processes racing
//! for one run, exactly one changes a row. Scores are stored in tenths (integers round-trip
//! exactly on both backends and through backups).

use crate::runs::{
    SqlExec, cell_int, cell_opt_int, cell_opt_text, cell_text, first_int, int, opt_int,
};
use crate::{Param, text};
use preciso_core::domain::StoreId;
use preciso_core::ports::{Cell, StoreError};
use preciso_core::quality::runs::{
    AnalysisEnd, AnalysisRecord, AnalysisRequest, AnalysisStatus, ScorePoint, VOLUME_HISTORY,
};

const COLUMNS: &str = "id, status, request, trigger_kind, phase, percent, owner, created_at,
    started_at, finished_at, heartbeat_at, as_of, error, outcome, overall_tenths";

/// Claims tried before giving up on a contended queue (another process took each candidate).
const CLAIM_TRIES: usize = 8;

fn request_json(r: &AnalysisRequest) -> Result<String, StoreError> {
    serde_json::to_string(r).map_err(|e| StoreError::Backend(format!("analysis request: {e}")))
}

fn tenths(score: f64) -> i64 {
    (score * 10.0).round() as i64
}

fn from_tenths(v: i64) -> f64 {
    v as f64 / 10.0
}

pub fn queue(
    db: &mut dyn SqlExec,
    requests: &[AnalysisRequest],
    trigger: &str,
    now: i64,
) -> Result<Vec<i64>, StoreError> {
    let mut ids = Vec::with_capacity(requests.len());
    for r in requests {
        let rows = db.rows(
            "INSERT INTO analyses (status, request, trigger_kind, created_at)
             VALUES ('queued', ?, ?, ?) RETURNING id",
            &[Param::Text(request_json(r)?), text(trigger), int(now)],
        )?;
        ids.push(first_int(&rows).ok_or_else(|| StoreError::Backend("no analysis id".into()))?);
    }
    Ok(ids)
}

pub fn begin(
    db: &mut dyn SqlExec,
    request: &AnalysisRequest,
    trigger: &str,
    owner: &str,
    now: i64,
) -> Result<i64, StoreError> {
    let rows = db.rows(
        "INSERT INTO analyses (status, request, trigger_kind, phase, owner, created_at,
             started_at, heartbeat_at)
         VALUES ('running', ?, ?, 1, ?, ?, ?, ?) RETURNING id",
        &[
            Param::Text(request_json(request)?),
            text(trigger),
            text(owner),
            int(now),
            int(now),
            int(now),
        ],
    )?;
    first_int(&rows).ok_or_else(|| StoreError::Backend("no analysis id".into()))
}

pub fn claim(
    db: &mut dyn SqlExec,
    owner: &str,
    now: i64,
) -> Result<Option<AnalysisRecord>, StoreError> {
    for _ in 0..CLAIM_TRIES {
        let Some(id) = first_int(
            &db.rows("SELECT id FROM analyses WHERE status = 'queued' ORDER BY id LIMIT 1", &[])?,
        ) else {
            return Ok(None);
        };
        let took = db.execute(
            "UPDATE analyses SET status = 'running', owner = ?, phase = 1, percent = 0,
                 started_at = ?, heartbeat_at = ?
             WHERE id = ? AND status = 'queued'",
            &[text(owner), int(now), int(now), int(id)],
        )?;
        if took == 1 {
            return get(db, id);
        }
    }
    Ok(None)
}

pub fn progress(
    db: &mut dyn SqlExec,
    id: i64,
    phase: u8,
    percent: u8,
    now: i64,
) -> Result<bool, StoreError> {
    let n = db.execute(
        "UPDATE analyses SET phase = ?, percent = ?, heartbeat_at = ?
         WHERE id = ? AND status = 'running'",
        &[int(i64::from(phase)), int(i64::from(percent)), int(now), int(id)],
    )?;
    Ok(n == 1)
}

/// Ends a running run. A run no longer running (marked abandoned meanwhile) keeps that
/// status and gets no report: what a client saw as final stays final.
pub fn finish(
    db: &mut dyn SqlExec,
    id: i64,
    end: &AnalysisEnd,
    now: i64,
) -> Result<(), StoreError> {
    match end {
        AnalysisEnd::Succeeded { report, outcome, overall_score, as_of, scores } => {
            let took = db.execute(
                "UPDATE analyses SET status = 'succeeded', phase = 5, percent = 100,
                     finished_at = ?, heartbeat_at = ?, as_of = ?, outcome = ?,
                     overall_tenths = ?, report = ?
                 WHERE id = ? AND status = 'running'",
                &[
                    int(now),
                    int(now),
                    int(*as_of),
                    text(outcome),
                    opt_int(overall_score.map(tenths)),
                    Param::Text(report.clone()),
                    int(id),
                ],
            )?;
            if took == 1 {
                for s in scores {
                    db.execute(
                        "INSERT INTO analysis_scores
                             (store_id, as_of, analysis_id, offers, live_offers, score_tenths)
                         VALUES (?, ?, ?, ?, ?, ?)",
                        &[
                            text(&s.store),
                            int(*as_of),
                            int(id),
                            int(s.offers as i64),
                            int(s.live_offers as i64),
                            int(tenths(s.score)),
                        ],
                    )?;
                }
            }
        }
        AnalysisEnd::Failed { error } => {
            db.execute(
                "UPDATE analyses SET status = 'failed', finished_at = ?, heartbeat_at = ?,
                     error = ?
                 WHERE id = ? AND status = 'running'",
                &[int(now), int(now), text(error), int(id)],
            )?;
        }
    }
    Ok(())
}

pub fn running(db: &mut dyn SqlExec) -> Result<Vec<AnalysisRecord>, StoreError> {
    records(
        db,
        &format!("SELECT {COLUMNS} FROM analyses WHERE status = 'running' ORDER BY id"),
        &[],
    )
}

pub fn abandon(db: &mut dyn SqlExec, ids: &[i64], now: i64) -> Result<u64, StoreError> {
    let mut n = 0;
    for id in ids {
        n += db.execute(
            "UPDATE analyses SET status = 'abandoned', finished_at = ?,
                 error = 'the process running it went away before it finished'
             WHERE id = ? AND status = 'running'",
            &[int(now), int(*id)],
        )?;
    }
    Ok(n)
}

pub fn get(db: &mut dyn SqlExec, id: i64) -> Result<Option<AnalysisRecord>, StoreError> {
    Ok(records(db, &format!("SELECT {COLUMNS} FROM analyses WHERE id = ?"), &[int(id)])?
        .into_iter()
        .next())
}

pub fn report(db: &mut dyn SqlExec, id: i64) -> Result<Option<String>, StoreError> {
    let rows =
        db.rows("SELECT report FROM analyses WHERE id = ? AND status = 'succeeded'", &[int(id)])?;
    Ok(match rows.into_iter().next().and_then(|r| r.into_iter().next()) {
        Some(Cell::Text(t)) => Some(t),
        _ => None,
    })
}

pub fn list(
    db: &mut dyn SqlExec,
    status: Option<AnalysisStatus>,
    limit: u32,
    offset: u64,
) -> Result<Vec<AnalysisRecord>, StoreError> {
    let offset = int(i64::try_from(offset).unwrap_or(i64::MAX));
    match status {
        Some(s) => records(
            db,
            &format!(
                "SELECT {COLUMNS} FROM analyses WHERE status = ? ORDER BY id DESC LIMIT ? OFFSET ?"
            ),
            &[text(s.as_str()), int(i64::from(limit)), offset],
        ),
        None => records(
            db,
            &format!("SELECT {COLUMNS} FROM analyses ORDER BY id DESC LIMIT ? OFFSET ?"),
            &[int(i64::from(limit)), offset],
        ),
    }
}

pub fn queued(db: &mut dyn SqlExec) -> Result<u64, StoreError> {
    let rows = db.rows("SELECT COUNT(*) FROM analyses WHERE status = 'queued'", &[])?;
    Ok(first_int(&rows).unwrap_or(0).max(0) as u64)
}

pub fn score_history(
    db: &mut dyn SqlExec,
    store: Option<&StoreId>,
    since: Option<i64>,
    limit: u32,
) -> Result<Vec<ScorePoint>, StoreError> {
    let since = int(since.unwrap_or(i64::MIN));
    let select = "SELECT analysis_id, store_id, as_of, offers, live_offers, score_tenths
        FROM analysis_scores";
    let rows = match store {
        Some(s) => db.rows(
            &format!(
                "{select} WHERE store_id = ? AND as_of >= ?
                 ORDER BY as_of DESC, analysis_id DESC LIMIT ?"
            ),
            &[text(s.as_str()), since, int(i64::from(limit))],
        )?,
        None => db.rows(
            &format!(
                "{select} WHERE as_of >= ?
                 ORDER BY as_of DESC, analysis_id DESC, store_id LIMIT ?"
            ),
            &[since, int(i64::from(limit))],
        )?,
    };
    let mut points = rows
        .iter()
        .map(|r| {
            Ok(ScorePoint {
                analysis_id: cell_int(r, 0)?,
                store: cell_text(r, 1)?,
                as_of: cell_int(r, 2)?,
                offers: cell_int(r, 3)?.max(0) as u64,
                live_offers: cell_int(r, 4)?.max(0) as u64,
                score: from_tenths(cell_int(r, 5)?),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    points.reverse();
    Ok(points)
}

pub fn prior_volumes(
    db: &mut dyn SqlExec,
    stores: &[StoreId],
    as_of: i64,
) -> Result<Vec<(StoreId, Vec<u64>)>, StoreError> {
    let mut out = Vec::with_capacity(stores.len());
    for store in stores {
        let rows = db.rows(
            "SELECT live_offers FROM analysis_scores WHERE store_id = ? AND as_of < ?
             ORDER BY as_of DESC, analysis_id DESC LIMIT ?",
            &[text(store.as_str()), int(as_of), int(VOLUME_HISTORY as i64)],
        )?;
        let counts = rows
            .iter()
            .map(|r| cell_int(r, 0).map(|v| v.max(0) as u64))
            .collect::<Result<_, _>>()?;
        out.push((store.clone(), counts));
    }
    Ok(out)
}

fn records(
    db: &mut dyn SqlExec,
    sql: &str,
    params: &[Param],
) -> Result<Vec<AnalysisRecord>, StoreError> {
    db.rows(sql, params)?.iter().map(|r| record(r)).collect()
}

fn record(row: &[Cell]) -> Result<AnalysisRecord, StoreError> {
    let status = cell_text(row, 1)?;
    let request = cell_text(row, 2)?;
    Ok(AnalysisRecord {
        id: cell_int(row, 0)?,
        status: AnalysisStatus::parse(&status)
            .ok_or_else(|| StoreError::Backend(format!("unknown analysis status {status:?}")))?,
        request: serde_json::from_str(&request)
            .map_err(|e| StoreError::Backend(format!("stored analysis request: {e}")))?,
        trigger: cell_text(row, 3)?,
        phase: cell_int(row, 4)?.clamp(0, 5) as u8,
        percent: cell_int(row, 5)?.clamp(0, 100) as u8,
        owner: cell_opt_text(row, 6)?,
        created_at: cell_int(row, 7)?,
        started_at: cell_opt_int(row, 8)?,
        finished_at: cell_opt_int(row, 9)?,
        heartbeat_at: cell_opt_int(row, 10)?,
        as_of: cell_opt_int(row, 11)?,
        error: cell_opt_text(row, 12)?,
        outcome: cell_opt_text(row, 13)?,
        overall_score: cell_opt_int(row, 14)?.map(from_tenths),
    })
}
