//! Forensic analysis runs (issue #18, docs/QUALITY.md): one function that runs an analysis
//! over the store — `preciso analyze`, the scheduled `analyze` job and the API's queue all
//! call it — and the queue behind `POST /api/forensic/analyze`: runs are rows of the
//! database (any replica may take one), each process runs at most `slots` at once on its own
//! threads, and a run whose process went away is marked `abandoned`, never left `running`.

use crate::live::{LiveIds, SAME_HOST_PATIENCE, other_process_here};
use crate::telemetry::Telemetry;
use chrono::{DateTime, NaiveDate};
use preciso_core::analysis::omnibus::Observation;
use preciso_core::domain::{StoreId, category_key};
use preciso_core::ports::{Catalog, QualityOffer, QualityScope, StoreError};
use preciso_core::quality::config::CheckConfig;
use preciso_core::quality::engine::{Analysis, REJECT_WINDOW_SECS, Report};
use preciso_core::quality::runs::{
    AnalysisEnd, AnalysisRecord, AnalysisRequest, PHASES, ScorePoint, owner_host_pid,
};
use preciso_core::quality::{Outcome, Phase};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, LazyLock, Mutex};
use std::time::{Duration, Instant};

/// Runs waiting at most, over every process: a burst beyond it is refused (429), not stored.
pub const MAX_QUEUED: u64 = 100;
/// Scopes one `batch-analyze` request may ask for.
pub const MAX_BATCH: usize = 20;
/// A running run whose heartbeat is older than this belongs to a process that went away.
pub const STALE_AFTER: Duration = Duration::from_secs(300);
/// How often an idle worker looks for runs queued by other processes (or before a restart).
const POLL: Duration = Duration::from_secs(5);
/// Progress is written at most this often while offers stream (it is also the heartbeat).
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// A request that cannot be analysed as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RequestError {
    pub field: &'static str,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The run was marked abandoned (or otherwise ended) while it ran.
    #[error("the run is no longer running")]
    Cancelled,
}

/// RFC 3339, or a date (midnight UTC), as Unix seconds.
pub fn parse_time(field: &'static str, raw: &str) -> Result<i64, RequestError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw.trim()) {
        return Ok(t.timestamp());
    }
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc().timestamp())
        .ok_or_else(|| RequestError {
            field,
            message: format!("expected RFC 3339 or YYYY-MM-DD, got {raw:?}"),
        })
}

/// What `request` reads and its analysis time (`now`, Unix seconds, unless it names one).
pub fn resolve(request: &AnalysisRequest, now: i64) -> Result<(QualityScope, i64), RequestError> {
    let store = match request.store.as_deref() {
        Some(s) => Some(StoreId::parse(s).map_err(|_| RequestError {
            field: "store",
            message: format!("not a store name: {s:?}"),
        })?),
        None => None,
    };
    let category = match request.category.as_deref() {
        Some(c) => {
            let key = category_key(c);
            if key.is_empty() {
                return Err(RequestError {
                    field: "category",
                    message: format!("not a category: {c:?}"),
                });
            }
            Some(key)
        }
        None => None,
    };
    let since = request.since.as_deref().map(|s| parse_time("since", s)).transpose()?;
    let as_of = request.as_of.as_deref().map(|s| parse_time("as_of", s)).transpose()?;
    Ok((QualityScope { store, category, since }, as_of.unwrap_or(now)))
}

/// The worst outcome among the checks: `fail`, `warn` or `pass` (what `preciso analyze`
/// turns into exit status 4, 3 or 0).
pub fn overall_outcome(report: &Report) -> Outcome {
    let any = |o: Outcome| report.checks.iter().any(|c| c.outcome == o);
    if any(Outcome::Fail) {
        Outcome::Fail
    } else if any(Outcome::Warn) {
        Outcome::Warn
    } else {
        Outcome::Pass
    }
}

/// The canonical JSON form: keys sorted (through a `Value`, whose maps sort), pretty, with
/// a final newline; the same catalog gives the same bytes on every backend.
pub fn canonical_json(report: &Report) -> String {
    let value = serde_json::to_value(report).unwrap_or(serde_json::Value::Null);
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}

/// Progress as the run goes: phase 1–5 and percent of the whole run. Returning `false`
/// stops the run (`AnalyzeError::Cancelled`).
pub type ProgressFn<'a> = dyn FnMut(u8, u8) -> bool + 'a;

fn phase_number(p: Phase) -> u8 {
    match p {
        Phase::Validation => 1,
        Phase::Consistency => 2,
        Phase::Patterns => 3,
        Phase::Metrics => 4,
    }
}

/// Runs one analysis of `request` over `catalog`. Offers stream in phase 1 (0–85 %); the
/// phases judged at the end follow. A whole-store request compares volumes with the score
/// history; a narrowed one does not (`M.volume_anomaly` says why).
pub fn analyze(
    catalog: &dyn Catalog,
    checks: &[CheckConfig],
    request: &AnalysisRequest,
    now: i64,
    progress: &mut ProgressFn<'_>,
) -> Result<Report, AnalyzeError> {
    let (scope, as_of) = resolve(request, now)?;
    let total = catalog.quality_size(&scope)?.max(1);
    let mut analysis = Analysis::new(checks, as_of);
    if let Some(key) = &scope.category {
        analysis.scope_category(key);
    }
    if !progress(1, 0) {
        return Err(AnalyzeError::Cancelled);
    }
    stream(catalog, &scope, &mut analysis, total, progress)?;
    if request.whole_stores() {
        let stores: Vec<StoreId> = match &scope.store {
            Some(s) => vec![s.clone()],
            None => {
                let mut all: Vec<StoreId> = catalog.stores()?.into_iter().map(|s| s.id).collect();
                all.extend(analysis.stores().iter().cloned());
                all.sort();
                all.dedup();
                all
            }
        };
        analysis.volume_history(catalog.prior_volumes(&stores, as_of)?);
        let since = as_of.saturating_sub(REJECT_WINDOW_SECS);
        let mut records = catalog.store_records(since, as_of)?;
        if let Some(store) = &scope.store {
            records.retain(|r| &r.store == store);
        }
        analysis.store_records(records);
    } else {
        analysis.not_comparable("narrowed_scope");
    }
    let mut going = true;
    let report = analysis.finish_phases(&mut |p| {
        let n = phase_number(p);
        going = going && progress(n, 85 + (n - 1) * 3);
    });
    if !going || !progress(PHASES.len() as u8, 97) {
        return Err(AnalyzeError::Cancelled);
    }
    Ok(report)
}

/// Offers handed from the reading thread to the analysing one at a time.
const BATCH: usize = 1024;
/// Batches in flight between the two: bounds the memory the pipeline holds.
const IN_FLIGHT: usize = 8;

/// One batch of offers with their histories (`ends[i]` closes offer i's observations).
#[derive(Default)]
struct Batch {
    offers: Vec<QualityOffer>,
    observations: Vec<Observation>,
    ends: Vec<usize>,
}

/// Phase 1: the scope's offers and histories, read on one thread (the store's cursor) and
/// analysed on this one, so reading rows and judging them overlap on two cores (1M offers with
/// 30 days of history: 7.8 s one after the other, docs/BENCHMARKS.md). A bounded channel
/// keeps at most `IN_FLIGHT` batches between them; when the analysis stops (cancelled), the
/// reader's next send fails and it stops too.
fn stream(
    catalog: &dyn Catalog,
    scope: &QualityScope,
    analysis: &mut Analysis,
    total: u64,
    progress: &mut ProgressFn<'_>,
) -> Result<(), AnalyzeError> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(IN_FLIGHT);
    std::thread::scope(|s| {
        let reader = s.spawn(move || {
            let mut batch = Batch::default();
            let gone = || StoreError::Conflict("the analysis stopped".into());
            catalog.quality_rows(scope, &mut |offer, history| {
                batch.offers.push(offer);
                batch.observations.extend_from_slice(history);
                batch.ends.push(batch.observations.len());
                if batch.offers.len() == BATCH {
                    tx.send(std::mem::take(&mut batch)).map_err(|_| gone())?;
                }
                Ok(())
            })?;
            if !batch.offers.is_empty() {
                tx.send(batch).map_err(|_| gone())?;
            }
            Ok::<(), StoreError>(())
        });
        let mut read = 0u64;
        let mut last = Instant::now();
        let mut cancelled = false;
        for batch in rx.iter() {
            let mut start = 0;
            for (offer, end) in batch.offers.iter().zip(&batch.ends) {
                let facts = offer.facts();
                analysis.offer(&facts);
                analysis.history(&facts, &batch.observations[start..*end]);
                start = *end;
            }
            read += batch.offers.len() as u64;
            if last.elapsed() >= PROGRESS_EVERY {
                last = Instant::now();
                if !progress(1, (read.min(total) * 85 / total) as u8) {
                    cancelled = true;
                    break;
                }
            }
        }
        // Dropping the receiver ends a reader still sending.
        drop(rx);
        let read = reader.join().map_err(|_| StoreError::Backend("the reader panicked".into()))?;
        if cancelled {
            return Err(AnalyzeError::Cancelled);
        }
        read.map_err(AnalyzeError::from)
    })
}

/// How a succeeded run is stored: its canonical report, outcome and (for a whole-store
/// request) each store's score for the history.
pub fn succeeded(id: i64, request: &AnalysisRequest, report: &Report) -> AnalysisEnd {
    let scores = if request.whole_stores() {
        report
            .stores
            .iter()
            .map(|s| ScorePoint {
                analysis_id: id,
                store: s.store.clone(),
                as_of: report.as_of,
                offers: s.offers,
                live_offers: s.live_offers,
                score: s.score,
            })
            .collect()
    } else {
        Vec::new()
    };
    let outcome = match overall_outcome(report) {
        Outcome::Fail => "fail",
        Outcome::Warn => "warn",
        _ => "pass",
    };
    AnalysisEnd::Succeeded {
        report: canonical_json(report),
        outcome: outcome.into(),
        overall_score: report.overall_score,
        as_of: report.as_of,
        scores,
    }
}

/// The analysis runs this process is executing (the queue's workers and the `analyze` job):
/// `AnalysisQueue::sweep` leaves them to end themselves.
pub static LIVE: LazyLock<Arc<LiveIds>> = LazyLock::new(Arc::default);

/// Runs recorded analysis `id` of `request` to its end, storing progress, result or error.
/// `now_ms` reads the clock (milliseconds). The run is live (`LIVE`) meanwhile.
pub fn run_recorded(
    catalog: &dyn Catalog,
    checks: &[CheckConfig],
    id: i64,
    request: &AnalysisRequest,
    now_ms: &dyn Fn() -> i64,
) -> Result<Report, AnalyzeError> {
    let _live = LIVE.enter(id);
    let mut progress = |phase: u8, percent: u8| {
        catalog.analysis_progress(id, phase, percent, now_ms()).unwrap_or(true)
    };
    let outcome = analyze(catalog, checks, request, now_ms() / 1000, &mut progress);
    let end = match &outcome {
        Ok(report) => succeeded(id, request, report),
        Err(AnalyzeError::Cancelled) => return outcome,
        Err(e) => AnalysisEnd::Failed { error: e.to_string() },
    };
    catalog.finish_analysis(id, &end, now_ms())?;
    outcome
}

/// The queue's workers: `slots` threads, each running one claimed run at a time.
pub struct AnalysisQueue {
    catalog: Arc<dyn Catalog>,
    checks: Vec<CheckConfig>,
    owner: String,
    slots: usize,
    telemetry: Option<Arc<Telemetry>>,
    /// Bumped to wake the workers (a run was queued) — or, with `stop`, to end them; a
    /// worker that saw no run waits while it is unchanged.
    wake: (Mutex<u64>, Condvar),
    stop: AtomicBool,
}

impl AnalysisQueue {
    pub fn new(
        catalog: Arc<dyn Catalog>,
        checks: Vec<CheckConfig>,
        slots: usize,
        telemetry: Option<Arc<Telemetry>>,
    ) -> Arc<Self> {
        Arc::new(AnalysisQueue {
            catalog,
            checks,
            owner: crate::service::owner_id(),
            slots: slots.max(1),
            telemetry,
            wake: (Mutex::new(0), Condvar::new()),
            stop: AtomicBool::new(false),
        })
    }

    /// Marks abandoned the runs left `running` by a process that went away, then starts the
    /// workers (which take what is queued, including runs queued before a restart).
    pub fn start(self: &Arc<Self>) -> Result<(), StoreError> {
        self.sweep()?;
        // Detached: a worker ends at `shutdown`, or with the process (its run is then
        // abandoned and swept by the next start).
        for i in 0..self.slots {
            let queue = self.clone();
            std::thread::Builder::new()
                .name(format!("analysis-{i}"))
                .spawn(move || queue.work())
                .map_err(|e| StoreError::Backend(format!("starting an analysis worker: {e}")))?;
        }
        Ok(())
    }

    /// Queues one run per request (all or none) and wakes the workers.
    pub fn submit(
        &self,
        requests: &[AnalysisRequest],
        trigger: &str,
    ) -> Result<Vec<i64>, SubmitError> {
        let now = chrono::Utc::now().timestamp();
        for r in requests {
            resolve(r, now)?;
        }
        let queued = self.catalog.queued_analyses()?;
        if queued + requests.len() as u64 > MAX_QUEUED {
            return Err(SubmitError::Full { queued });
        }
        let ids = self.catalog.queue_analyses(requests, trigger, now_ms())?;
        self.wake_all();
        Ok(ids)
    }

    /// Abandons the running runs whose process is gone: on this host, its pid no longer
    /// exists; anywhere, its heartbeat is older than `STALE_AFTER` — never one this process
    /// is executing (`LIVE`: its heartbeat may wait behind the process's own long write), and
    /// one of a process of this host that still exists only after `SAME_HOST_PATIENCE`.
    pub fn sweep(&self) -> Result<u64, StoreError> {
        let now = now_ms();
        let host = owner_host_pid(&self.owner).map(|(h, _)| h.to_string());
        let gone: Vec<i64> = self
            .catalog
            .running_analyses()?
            .into_iter()
            .filter(|r| {
                let owner = r.owner.as_deref().unwrap_or("");
                let here = host.as_deref().and_then(|h| other_process_here(owner, h));
                let silent_for = |bound: Duration| {
                    r.heartbeat_at.is_none_or(|t| now.saturating_sub(t) > bound.as_millis() as i64)
                };
                let stale = !LIVE.contains(r.id)
                    && silent_for(STALE_AFTER)
                    && (here != Some(true) || silent_for(SAME_HOST_PATIENCE));
                here == Some(false) || stale
            })
            .map(|r| r.id)
            .collect();
        if gone.is_empty() {
            return Ok(0);
        }
        let n = self.catalog.abandon_analyses(&gone, now)?;
        tracing::warn!(abandoned = n, "analysis runs of a process that went away marked abandoned");
        Ok(n)
    }

    /// Stops the workers after their current run (a run cut short by the process ending is
    /// marked abandoned by the next start).
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.wake_all();
    }

    fn wake_all(&self) {
        let (generation, cv) = &self.wake;
        *generation.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        cv.notify_all();
    }

    fn work(&self) {
        while !self.stop.load(Ordering::SeqCst) {
            // Read before claiming: a run queued after the claim found none wakes the wait.
            let seen = *self.wake.0.lock().unwrap_or_else(|e| e.into_inner());
            match self.catalog.claim_analysis(&self.owner, now_ms()) {
                Ok(Some(record)) => self.run(&record),
                Ok(None) => self.idle(seen),
                Err(e) => {
                    tracing::warn!(error = %e, "claiming an analysis run failed");
                    self.idle(seen);
                }
            }
        }
    }

    fn idle(&self, seen: u64) {
        let (generation, cv) = &self.wake;
        let guard = generation.lock().unwrap_or_else(|e| e.into_inner());
        let waited = cv.wait_timeout_while(guard, POLL, |g| *g == seen);
        drop(waited);
        if self.stop.load(Ordering::SeqCst) {
            return;
        }
        if let Err(e) = self.sweep() {
            tracing::warn!(error = %e, "checking for abandoned analysis runs failed");
        }
    }

    fn run(&self, record: &AnalysisRecord) {
        let started = Instant::now();
        tracing::info!(analysis = record.id, "analysis run started");
        match run_recorded(self.catalog.as_ref(), &self.checks, record.id, &record.request, &now_ms)
        {
            Ok(report) => {
                tracing::info!(
                    analysis = record.id,
                    secs = started.elapsed().as_secs_f64(),
                    score = report.overall_score,
                    "analysis run succeeded"
                );
                if let (true, Some(t)) =
                    (record.request == AnalysisRequest::default(), &self.telemetry)
                {
                    t.quality_scores(&report);
                }
            }
            Err(e) => tracing::warn!(analysis = record.id, error = %e, "analysis run failed"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{queued} analysis runs are already queued (at most {MAX_QUEUED})")]
    Full { queued: u64 },
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_resolve_to_a_scope_and_time_or_name_the_bad_field() {
        let r = AnalysisRequest {
            store: Some("Éxito".into()),
            category: Some("Tecnología > Celulares".into()),
            since: Some("2026-11-01".into()),
            as_of: Some("2026-12-01T12:00:00Z".into()),
        };
        let (scope, as_of) = resolve(&r, 0).unwrap();
        assert_eq!(scope.store.unwrap().as_str(), "exito");
        assert_eq!(scope.category.as_deref(), Some("tecnologia/celulares"));
        assert_eq!(scope.since, Some(1_793_491_200));
        assert_eq!(as_of, 1_796_126_400);
        assert_eq!(resolve(&AnalysisRequest::default(), 42).unwrap().1, 42);
        let bad = AnalysisRequest { as_of: Some("yesterday".into()), ..Default::default() };
        assert_eq!(resolve(&bad, 0).unwrap_err().field, "as_of");
        let bad = AnalysisRequest { category: Some(" > ".into()), ..Default::default() };
        assert_eq!(resolve(&bad, 0).unwrap_err().field, "category");
        let bad = AnalysisRequest { store: Some("!!".into()), ..Default::default() };
        assert_eq!(resolve(&bad, 0).unwrap_err().field, "store");
    }
}
