//! The run history (`job_runs`, `job_run_attempts`) written once for both adapters: each
//! adapter gives a transaction as a [`SqlExec`], the logic and SQL here are shared. Atomicity
//! of a claim rests on two unique indexes both dialects have: `(job, scheduled_for)` and a
//! partial one allowing a single active run per job.

use crate::{Param, text};
use preciso_core::ports::{Cell, StoreError};
use preciso_core::runs::{
    AttemptEnd, NewRun, Overlap, RunAttempt, RunClaim, RunFilter, RunRecord, RunStatus, StepReport,
    Trigger,
};

/// One transaction of an adapter, as the shared logic needs it.
pub trait SqlExec {
    fn execute(&mut self, sql: &str, params: &[Param]) -> Result<u64, StoreError>;
    fn rows(&mut self, sql: &str, params: &[Param]) -> Result<Vec<Vec<Cell>>, StoreError>;
}

const RUN_COLUMNS: &str = "id, job, trigger_kind, scheduled_for, status, attempt, dry_run, owner,
    started_at, finished_at, heartbeat_at, error, steps";

const INSERT_RUN: &str = "INSERT INTO job_runs (job, scheduled_for, trigger_kind, status, attempt,
    dry_run, owner, started_at, finished_at, heartbeat_at, error, steps, lane)
    VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, '[]', ?) ON CONFLICT DO NOTHING RETURNING id";

const ACTIVE: &str = "status IN ('running', 'retry_wait')";

const INSERT_ATTEMPT: &str = "INSERT INTO job_run_attempts (run_id, attempt, status, started_at,
    finished_at, error, steps) VALUES (?, ?, ?, ?, ?, ?, '[]')";

pub(crate) fn int(v: i64) -> Param {
    Param::Int(v)
}

pub(crate) fn opt_text(v: Option<&str>) -> Param {
    v.map_or(Param::NullText, text)
}

pub(crate) fn opt_int(v: Option<i64>) -> Param {
    v.map_or(Param::NullInt, Param::Int)
}

pub(crate) fn first_int(rows: &[Vec<Cell>]) -> Option<i64> {
    match rows.first().and_then(|r| r.first()) {
        Some(Cell::Int(i)) => Some(*i),
        _ => None,
    }
}

/// Records a run: started when the slot is free and the job idle, `skipped_overlap` when the
/// job is busy, nothing when the slot exists.
pub fn claim_run(db: &mut dyn SqlExec, run: &NewRun) -> Result<RunClaim, StoreError> {
    // Runs of one lane exclude each other (a partial unique index): every run of a job shares
    // lane 0 unless the job allows overlap, in which case each run has its own.
    let lane = match run.overlap {
        Overlap::Allow => run.scheduled_for,
        Overlap::Forbid | Overlap::Replace => 0,
    };
    if run.overlap == Overlap::Replace && !slot_taken(db, run)? {
        replace_active(db, &run.job, run.now)?;
    }
    let insert = |db: &mut dyn SqlExec, status: RunStatus, finished: Option<i64>, error| {
        let rows = db.rows(
            INSERT_RUN,
            &[
                text(&run.job),
                int(run.scheduled_for),
                text(run.trigger.as_str()),
                text(status.as_str()),
                int(i64::from(run.dry_run)),
                text(&run.owner),
                int(run.now),
                opt_int(finished),
                int(run.now),
                opt_text(error),
                int(lane),
            ],
        )?;
        Ok::<_, StoreError>(first_int(&rows))
    };
    if let Some(id) = insert(db, RunStatus::Running, None, None)? {
        add_attempt(db, id, 1, RunStatus::Running, run.now, None, None)?;
        return Ok(RunClaim::Started(id));
    }
    if slot_taken(db, run)? {
        return Ok(RunClaim::AlreadyRecorded);
    }
    let reason = "the previous run of this job was still active";
    match insert(db, RunStatus::SkippedOverlap, Some(run.now), Some(reason))? {
        Some(id) => {
            add_attempt(
                db,
                id,
                1,
                RunStatus::SkippedOverlap,
                run.now,
                Some(run.now),
                Some(reason),
            )?;
            Ok(RunClaim::SkippedOverlap(id))
        }
        None => Ok(RunClaim::AlreadyRecorded),
    }
}

fn slot_taken(db: &mut dyn SqlExec, run: &NewRun) -> Result<bool, StoreError> {
    let existing = db.rows(
        "SELECT id FROM job_runs WHERE job = ? AND scheduled_for = ?",
        &[text(&run.job), int(run.scheduled_for)],
    )?;
    Ok(!existing.is_empty())
}

/// Closes the job's active run (and its open attempt) as `replaced`. Its process learns it at
/// the next heartbeat and cancels the work; what it records afterwards is ignored.
fn replace_active(db: &mut dyn SqlExec, job: &str, now: i64) -> Result<(), StoreError> {
    let reason = "replaced by a newer run of the job (overlap policy replace)";
    db.execute(
        &format!(
            "UPDATE job_run_attempts SET status = 'replaced', finished_at = ?, error = ?
             WHERE finished_at IS NULL AND run_id IN
               (SELECT id FROM job_runs WHERE job = ? AND lane = 0 AND {ACTIVE})"
        ),
        &[int(now), text(reason), text(job)],
    )?;
    db.execute(
        &format!(
            "UPDATE job_runs SET status = 'replaced', finished_at = ?, error = ?
             WHERE job = ? AND lane = 0 AND {ACTIVE}"
        ),
        &[int(now), text(reason), text(job)],
    )?;
    Ok(())
}

fn add_attempt(
    db: &mut dyn SqlExec,
    run_id: i64,
    attempt: u32,
    status: RunStatus,
    started: i64,
    finished: Option<i64>,
    error: Option<&str>,
) -> Result<(), StoreError> {
    db.execute(
        INSERT_ATTEMPT,
        &[
            int(run_id),
            int(i64::from(attempt)),
            text(status.as_str()),
            int(started),
            opt_int(finished),
            opt_text(error),
        ],
    )?;
    Ok(())
}

fn steps_json(steps: &[StepReport]) -> String {
    serde_json::to_string(steps).unwrap_or_else(|_| "[]".to_string())
}

pub fn end_attempt(db: &mut dyn SqlExec, run_id: i64, end: &AttemptEnd) -> Result<(), StoreError> {
    let finished = (end.status != RunStatus::RetryWait).then_some(end.now);
    // The attempt itself is over either way; waiting for a retry is the run's state.
    let attempt_status =
        if end.status == RunStatus::RetryWait { RunStatus::Failed } else { end.status };
    let steps = steps_json(&end.steps);
    if !is_active(db, run_id)? {
        // Replaced or abandoned meanwhile: that verdict stands.
        return Ok(());
    }
    db.execute(
        "UPDATE job_run_attempts SET status = ?, finished_at = ?, error = ?, steps = ?
         WHERE run_id = ? AND attempt = (SELECT attempt FROM job_runs WHERE id = ?)",
        &[
            text(attempt_status.as_str()),
            int(end.now),
            opt_text(end.error.as_deref()),
            text(&steps),
            int(run_id),
            int(run_id),
        ],
    )?;
    let n = db.execute(
        "UPDATE job_runs SET status = ?, finished_at = ?, error = ?, steps = ?, heartbeat_at = ?
         WHERE id = ?",
        &[
            text(end.status.as_str()),
            opt_int(finished),
            opt_text(end.error.as_deref()),
            text(&steps),
            int(end.now),
            int(run_id),
        ],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub fn start_attempt(db: &mut dyn SqlExec, run_id: i64, now: i64) -> Result<u32, StoreError> {
    let n = db.execute(
        "UPDATE job_runs SET attempt = attempt + 1, status = 'running', heartbeat_at = ?,
         error = NULL, steps = '[]' WHERE id = ? AND status = 'retry_wait'",
        &[int(now), int(run_id)],
    )?;
    if n == 0 {
        return Err(StoreError::Conflict(format!("run {run_id} is not waiting for a retry")));
    }
    let attempt = first_int(&db.rows("SELECT attempt FROM job_runs WHERE id = ?", &[int(run_id)])?)
        .ok_or(StoreError::NotFound)?;
    let attempt = u32::try_from(attempt).unwrap_or(u32::MAX);
    add_attempt(db, run_id, attempt, RunStatus::Running, now, None, None)?;
    Ok(attempt)
}

/// Whether the run exists and is still active; `NotFound` when it does not exist.
fn is_active(db: &mut dyn SqlExec, run_id: i64) -> Result<bool, StoreError> {
    let rows = db.rows("SELECT status FROM job_runs WHERE id = ?", &[int(run_id)])?;
    match rows.first().and_then(|r| r.first()) {
        Some(Cell::Text(s)) => Ok(RunStatus::parse(s).is_some_and(RunStatus::is_active)),
        _ => Err(StoreError::NotFound),
    }
}

/// Records that the run's process is alive; `false` when the run is no longer active
/// (replaced, or abandoned by another process), which tells the runner to stop.
pub fn heartbeat(db: &mut dyn SqlExec, run_id: i64, now: i64) -> Result<bool, StoreError> {
    let n = db.execute(
        &format!("UPDATE job_runs SET heartbeat_at = ? WHERE id = ? AND {ACTIVE}"),
        &[int(now), int(run_id)],
    )?;
    Ok(n > 0)
}

pub fn abandon_stale_runs(
    db: &mut dyn SqlExec,
    stale_before: i64,
    now: i64,
    live: &[i64],
) -> Result<u64, StoreError> {
    let reason = "the process running it stopped before it finished";
    let mut args = vec![int(now), text(reason), int(stale_before)];
    args.extend(live.iter().map(|&id| int(id)));
    // `0` never names a run (ids start at 1): the list is never empty.
    let marks = vec!["?"; live.len()].join(", ");
    let not_live = if live.is_empty() { "0".to_string() } else { marks };
    db.execute(
        &format!(
            "UPDATE job_run_attempts SET status = 'abandoned', finished_at = ?, error = ?
             WHERE finished_at IS NULL AND run_id IN (SELECT id FROM job_runs
               WHERE status IN ('running', 'retry_wait') AND heartbeat_at < ?
                 AND id NOT IN ({not_live}))"
        ),
        &args,
    )?;
    db.execute(
        &format!(
            "UPDATE job_runs SET status = 'abandoned', finished_at = ?, error = ?
             WHERE status IN ('running', 'retry_wait') AND heartbeat_at < ?
               AND id NOT IN ({not_live})"
        ),
        &args,
    )
}

pub fn run(db: &mut dyn SqlExec, id: i64) -> Result<Option<RunRecord>, StoreError> {
    let rows = db.rows(&format!("SELECT {RUN_COLUMNS} FROM job_runs WHERE id = ?"), &[int(id)])?;
    let Some(row) = rows.first() else { return Ok(None) };
    let mut record = run_from_cells(row)?;
    let attempts = db.rows(
        "SELECT attempt, status, started_at, finished_at, error, steps FROM job_run_attempts
         WHERE run_id = ? ORDER BY attempt",
        &[int(id)],
    )?;
    record.attempts = attempts.iter().map(|r| attempt_from_cells(r)).collect::<Result<_, _>>()?;
    Ok(Some(record))
}

pub fn runs(db: &mut dyn SqlExec, filter: &RunFilter) -> Result<Vec<RunRecord>, StoreError> {
    let mut sql = format!("SELECT {RUN_COLUMNS} FROM job_runs WHERE 1 = 1");
    let mut params = Vec::new();
    if let Some(job) = &filter.job {
        sql.push_str(" AND job = ?");
        params.push(text(job));
    }
    if let Some(status) = filter.status {
        sql.push_str(" AND status = ?");
        params.push(text(status.as_str()));
    }
    sql.push_str(" ORDER BY started_at DESC, id DESC LIMIT ? OFFSET ?");
    params.push(int(i64::from(filter.limit)));
    params.push(int(i64::try_from(filter.offset).unwrap_or(i64::MAX)));
    db.rows(&sql, &params)?.iter().map(|r| run_from_cells(r)).collect()
}

pub fn last_scheduled(db: &mut dyn SqlExec, job: &str) -> Result<Option<i64>, StoreError> {
    Ok(first_int(&db.rows(
        "SELECT max(scheduled_for) FROM job_runs
         WHERE job = ? AND trigger_kind IN ('schedule', 'catch_up')",
        &[text(job)],
    )?))
}

pub fn last_finished(
    db: &mut dyn SqlExec,
    job: &str,
    status: RunStatus,
) -> Result<Option<i64>, StoreError> {
    Ok(first_int(&db.rows(
        "SELECT max(finished_at) FROM job_runs WHERE job = ? AND status = ?",
        &[text(job), text(status.as_str())],
    )?))
}

pub fn delete_runs_before(db: &mut dyn SqlExec, before: i64) -> Result<u64, StoreError> {
    let closed = "SELECT id FROM job_runs WHERE started_at < ?
        AND status NOT IN ('running', 'retry_wait')";
    db.execute(
        &format!("DELETE FROM job_run_attempts WHERE run_id IN ({closed})"),
        &[int(before)],
    )?;
    db.execute(
        "DELETE FROM job_runs WHERE started_at < ? AND status NOT IN ('running', 'retry_wait')",
        &[int(before)],
    )
}

pub(crate) fn cell_int(row: &[Cell], i: usize) -> Result<i64, StoreError> {
    match row.get(i) {
        Some(Cell::Int(v)) => Ok(*v),
        other => {
            Err(StoreError::Backend(format!("column {i}: expected an integer, got {other:?}")))
        }
    }
}

pub(crate) fn cell_opt_int(row: &[Cell], i: usize) -> Result<Option<i64>, StoreError> {
    match row.get(i) {
        Some(Cell::Null) => Ok(None),
        _ => cell_int(row, i).map(Some),
    }
}

pub(crate) fn cell_text(row: &[Cell], i: usize) -> Result<String, StoreError> {
    match row.get(i) {
        Some(Cell::Text(v)) => Ok(v.clone()),
        other => Err(StoreError::Backend(format!("column {i}: expected text, got {other:?}"))),
    }
}

pub(crate) fn cell_opt_text(row: &[Cell], i: usize) -> Result<Option<String>, StoreError> {
    match row.get(i) {
        Some(Cell::Null) => Ok(None),
        _ => cell_text(row, i).map(Some),
    }
}

fn status_at(row: &[Cell], i: usize) -> Result<RunStatus, StoreError> {
    let s = cell_text(row, i)?;
    RunStatus::parse(&s).ok_or_else(|| StoreError::Backend(format!("unknown run status {s:?}")))
}

fn steps_at(row: &[Cell], i: usize) -> Result<Vec<StepReport>, StoreError> {
    serde_json::from_str(&cell_text(row, i)?)
        .map_err(|e| StoreError::Backend(format!("stored run steps are not valid JSON: {e}")))
}

fn run_from_cells(row: &[Cell]) -> Result<RunRecord, StoreError> {
    let trigger = cell_text(row, 2)?;
    Ok(RunRecord {
        id: cell_int(row, 0)?,
        job: cell_text(row, 1)?,
        trigger: Trigger::parse(&trigger)
            .ok_or_else(|| StoreError::Backend(format!("unknown trigger {trigger:?}")))?,
        scheduled_for: cell_int(row, 3)?,
        status: status_at(row, 4)?,
        attempt: u32::try_from(cell_int(row, 5)?).unwrap_or(u32::MAX),
        dry_run: cell_int(row, 6)? != 0,
        owner: cell_text(row, 7)?,
        started_at: cell_int(row, 8)?,
        finished_at: cell_opt_int(row, 9)?,
        heartbeat_at: cell_int(row, 10)?,
        error: cell_opt_text(row, 11)?,
        steps: steps_at(row, 12)?,
        attempts: Vec::new(),
    })
}

fn attempt_from_cells(row: &[Cell]) -> Result<RunAttempt, StoreError> {
    Ok(RunAttempt {
        attempt: u32::try_from(cell_int(row, 0)?).unwrap_or(u32::MAX),
        status: status_at(row, 1)?,
        started_at: cell_int(row, 2)?,
        finished_at: cell_opt_int(row, 3)?,
        error: cell_opt_text(row, 4)?,
        steps: steps_at(row, 5)?,
    })
}
