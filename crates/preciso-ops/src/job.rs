//! What a job is to the scheduler: a name, an optional schedule, its policies (misfire,
//! timeout, retries) and the work itself behind the `Job` trait.

use crate::clock::{Clock, SystemClock};
use crate::cron::Schedule;
pub use preciso_core::runs::Overlap;
use preciso_core::runs::{StepReport, StepStatus};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What a job sees while it runs.
pub struct JobContext {
    pub run_id: i64,
    pub attempt: u32,
    pub dry_run: bool,
    pub(crate) cancel: Arc<AtomicBool>,
    /// The scheduler's clock: what a job calls "now" (a fake one in tests).
    clock: Arc<dyn Clock>,
    /// The scheduler the run belongs to (its jobs, catalog, leadership), for jobs that report
    /// on it (`status`); `None` for a job run on its own.
    scheduler: Option<Arc<crate::service::SchedulerView>>,
}

impl JobContext {
    /// A context on the machine's clock.
    pub fn new(run_id: i64, attempt: u32, dry_run: bool) -> Self {
        Self::with_clock(run_id, attempt, dry_run, Arc::new(SystemClock))
    }

    pub fn with_clock(run_id: i64, attempt: u32, dry_run: bool, clock: Arc<dyn Clock>) -> Self {
        let cancel = Arc::new(AtomicBool::new(false));
        JobContext { run_id, attempt, dry_run, cancel, clock, scheduler: None }
    }

    /// The metrics registry of the scheduler the run belongs to (none for a job run alone).
    pub fn telemetry(&self) -> Option<&Arc<crate::telemetry::Telemetry>> {
        self.scheduler.as_ref().map(|s| s.telemetry())
    }

    /// The same context, within `scheduler`.
    pub fn in_scheduler(mut self, scheduler: Arc<crate::service::SchedulerView>) -> Self {
        self.scheduler = Some(scheduler);
        self
    }

    pub fn scheduler(&self) -> Option<&crate::service::SchedulerView> {
        self.scheduler.as_deref()
    }

    /// Now, by the scheduler's clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }
    /// Set on timeout or shutdown: a step checks it between units of work, stops, and runs
    /// its compensation.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// A failed attempt: the error, the steps up to it (with compensations), and whether trying
/// again could help.
#[derive(Debug, Clone)]
pub struct JobFailure {
    pub error: String,
    pub steps: Vec<StepReport>,
    pub retryable: bool,
}

pub trait Job: Send + Sync {
    fn run(&self, ctx: &JobContext) -> Result<Vec<StepReport>, JobFailure>;
}

/// What to do with fire times missed while no scheduler ran (docs/OPERATIONS.md O3).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Misfire {
    /// Run once for all the missed slots, if the latest is within the grace window.
    Coalesce,
    /// Run nothing for missed slots.
    Skip,
}

/// Exponential backoff with jitter and a cap (docs/OPERATIONS.md O6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, including the first.
    pub attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { attempts: 3, base: Duration::from_secs(30), cap: Duration::from_secs(600) }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt `attempt` (1-based): `min(cap, base · 2^(attempt-1))`,
    /// of which the upper half is jittered by `jitter` in [0, 1) ("equal jitter").
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let exp = self.base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let full = exp.min(self.cap);
        full / 2 + full.mul_f64(jitter.clamp(0.0, 1.0) / 2.0)
    }
}

/// A job with its schedule and policies.
pub struct JobSpec {
    pub name: String,
    /// `None`: runs only when triggered (an empty cron string disables the schedule).
    pub schedule: Option<Schedule>,
    pub misfire: Misfire,
    /// What a fire does while the previous run is still active (docs/OPERATIONS.md O4).
    pub overlap: Overlap,
    pub grace: Duration,
    pub timeout: Duration,
    pub retry: RetryPolicy,
    pub description: String,
    pub job: Arc<dyn Job>,
}

impl JobSpec {
    /// The default grace window for a schedule: 1 h for daily or rarer jobs, otherwise half
    /// the interval, never under a minute.
    pub fn default_grace(schedule: Option<&Schedule>) -> Duration {
        let Some(s) = schedule else { return Duration::from_secs(3600) };
        let fires = s.upcoming(chrono::Utc::now(), 2);
        let interval = match fires.as_slice() {
            [a, b] => (*b - *a).to_std().unwrap_or(Duration::from_secs(86_400)),
            _ => Duration::from_secs(86_400),
        };
        if interval >= Duration::from_secs(86_400) {
            Duration::from_secs(3600)
        } else {
            (interval / 2).max(Duration::from_secs(60))
        }
    }
}

/// Times a step and turns its result into a `StepReport`.
pub fn timed_step<T>(
    name: &str,
    f: impl FnOnce(&mut StepReport) -> Result<T, String>,
) -> (StepReport, Result<T, String>) {
    let started = Instant::now();
    let mut report = StepReport { name: name.into(), ..Default::default() };
    let result = f(&mut report);
    report.duration_ms = started.elapsed().as_millis() as u64;
    match &result {
        Ok(_) => {}
        Err(e) => {
            report.status = StepStatus::Failed;
            report.error = Some(e.clone());
        }
    }
    (report, result)
}

/// The outcome of a job made of one step: the step, and on failure its error.
pub fn single_step(
    step: StepReport,
    result: Result<(), String>,
    retryable: bool,
) -> Result<Vec<StepReport>, JobFailure> {
    match result {
        Ok(()) => Ok(vec![step]),
        Err(error) => Err(JobFailure { error, steps: vec![step], retryable }),
    }
}
