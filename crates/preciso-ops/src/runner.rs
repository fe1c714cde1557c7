//! Executes one run: attempts on their own thread with a deadline (docs/OPERATIONS.md O5),
//! heartbeats while they work, retries with backoff and jitter (docs/OPERATIONS.md O6), every
//! attempt recorded (docs/OPERATIONS.md O10).

use crate::clock::{Clock, StopSignal, millis};
use crate::job::{JobContext, JobFailure, JobSpec};
use crate::live::LiveIds;
use crate::metrics::JobMetrics;
use preciso_core::ports::Catalog;
use preciso_core::runs::{AttemptEnd, RunStatus, StepReport};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::time::{Duration, Instant};

pub struct Runner {
    catalog: Arc<dyn Catalog>,
    clock: Arc<dyn Clock>,
    stop: Arc<StopSignal>,
    metrics: Arc<JobMetrics>,
    /// How often a live run proves it is alive; runs silent for 3× this are abandoned.
    pub heartbeat: Duration,
    /// How long a timed-out attempt gets to run its compensations.
    pub compensation_grace: Duration,
    /// The scheduler its runs belong to, handed to each through `JobContext`.
    pub scheduler: Option<Arc<crate::service::SchedulerView>>,
    /// The runs it is executing, which the sweep of silent runs leaves alone.
    pub live: Arc<LiveIds>,
    jitter_state: AtomicU64,
}

enum Outcome {
    Succeeded(Vec<StepReport>),
    Failed(JobFailure),
    TimedOut(Vec<StepReport>),
    /// The run stopped being active while it ran (overlap policy `replace`, or abandoned).
    Superseded(Vec<StepReport>),
}

impl Runner {
    pub fn new(
        catalog: Arc<dyn Catalog>,
        clock: Arc<dyn Clock>,
        stop: Arc<StopSignal>,
        metrics: Arc<JobMetrics>,
    ) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id());
        Runner {
            catalog,
            clock,
            stop,
            metrics,
            heartbeat: Duration::from_secs(10),
            compensation_grace: Duration::from_secs(30),
            scheduler: None,
            live: Arc::default(),
            jitter_state: AtomicU64::new(seed | 1),
        }
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Runs `run_id` (already claimed, attempt 1 `running`) to its end; returns the final status.
    pub fn execute(&self, spec: &JobSpec, run_id: i64, dry_run: bool) -> RunStatus {
        let _live = self.live.enter(run_id);
        let started = Instant::now();
        let mut attempt = 1;
        let status = loop {
            let (status, error, steps) = match self.attempt(spec, run_id, attempt, dry_run) {
                Outcome::Succeeded(steps) => (RunStatus::Succeeded, None, steps),
                Outcome::TimedOut(steps) => {
                    let error = format!("timed out after {} s", spec.timeout.as_secs_f64());
                    (RunStatus::TimedOut, Some(error), steps)
                }
                Outcome::Superseded(steps) => {
                    let error = "no longer active (replaced by a newer run, or abandoned)";
                    (RunStatus::Replaced, Some(error.to_string()), steps)
                }
                Outcome::Failed(f) => {
                    let again = f.retryable && attempt < spec.retry.attempts;
                    let status = if again { RunStatus::RetryWait } else { RunStatus::Failed };
                    (status, Some(f.error), f.steps)
                }
            };
            self.end(run_id, status, error.clone(), steps);
            if status != RunStatus::RetryWait {
                break status;
            }
            let delay = spec.retry.delay(attempt, self.jitter());
            tracing::warn!(job = %spec.name, run_id, attempt, error = error.as_deref().unwrap_or(""),
                retry_in_ms = delay.as_millis() as u64, "job attempt failed; retrying");
            if self.wait_with_heartbeat(run_id, delay) {
                let why = Some("shut down while waiting to retry".to_string());
                self.end(run_id, RunStatus::Cancelled, why, Vec::new());
                break RunStatus::Cancelled;
            }
            match self.catalog.start_attempt(run_id, millis(self.clock.now())) {
                Ok(n) => attempt = n,
                Err(e) => {
                    tracing::error!(job = %spec.name, run_id, error = %e, "cannot start the next attempt");
                    break RunStatus::Failed;
                }
            }
        };
        let now = self.clock.now();
        self.metrics.observe_run(
            &spec.name,
            status,
            started.elapsed().as_secs_f64(),
            now.timestamp_millis() as f64 / 1000.0,
        );
        tracing::info!(job = %spec.name, run_id, status = status.as_str(), attempts = attempt, dry_run, "job run finished");
        status
    }

    fn end(&self, run_id: i64, status: RunStatus, error: Option<String>, steps: Vec<StepReport>) {
        let end = AttemptEnd { status, error, steps, now: millis(self.clock.now()) };
        if let Err(e) = self.catalog.end_attempt(run_id, &end) {
            tracing::error!(run_id, error = %e, "cannot record the end of a job attempt");
        }
    }

    fn attempt(&self, spec: &JobSpec, run_id: i64, attempt: u32, dry_run: bool) -> Outcome {
        let mut ctx = JobContext::with_clock(run_id, attempt, dry_run, self.clock.clone());
        if let Some(view) = &self.scheduler {
            ctx = ctx.in_scheduler(view.clone());
        }
        let cancel = ctx.cancel.clone();
        let job = spec.job.clone();
        let (tx, rx) = channel();
        let spawned =
            std::thread::Builder::new().name(format!("job-{}", spec.name)).spawn(move || {
                let result = std::panic::catch_unwind(AssertUnwindSafe(|| job.run(&ctx)));
                let _ = tx.send(result.unwrap_or_else(|_| {
                    Err(JobFailure {
                        error: "the job panicked".into(),
                        steps: Vec::new(),
                        retryable: false,
                    })
                }));
            });
        if let Err(e) = spawned {
            let error = format!("cannot start a thread: {e}");
            return Outcome::Failed(JobFailure { error, steps: Vec::new(), retryable: true });
        }
        let deadline = Instant::now() + spec.timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(self.heartbeat.min(left)) {
                Ok(Ok(steps)) => return Outcome::Succeeded(steps),
                Ok(Err(failure)) => return Outcome::Failed(failure),
                Err(RecvTimeoutError::Timeout) if Instant::now() >= deadline => {
                    cancel.store(true, Ordering::Relaxed);
                    let steps = match rx.recv_timeout(self.compensation_grace) {
                        Ok(Ok(steps)) => steps,
                        Ok(Err(f)) => f.steps,
                        Err(_) => Vec::new(),
                    };
                    return Outcome::TimedOut(steps);
                }
                Err(RecvTimeoutError::Timeout) => {
                    if let Ok(false) = self.catalog.heartbeat(run_id, millis(self.clock.now())) {
                        // Replaced or abandoned elsewhere: stop the work, keep what it reports.
                        cancel.store(true, Ordering::Relaxed);
                        let steps = match rx.recv_timeout(self.compensation_grace) {
                            Ok(Ok(steps)) => steps,
                            Ok(Err(f)) => f.steps,
                            Err(_) => Vec::new(),
                        };
                        return Outcome::Superseded(steps);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let error = "the job thread ended without a result".to_string();
                    return Outcome::Failed(JobFailure {
                        error,
                        steps: Vec::new(),
                        retryable: false,
                    });
                }
            }
        }
    }

    /// Waits out a backoff, heartbeating; returns whether shutdown interrupted it.
    fn wait_with_heartbeat(&self, run_id: i64, delay: Duration) -> bool {
        let until = self.clock.now() + chrono::Duration::from_std(delay).unwrap_or_default();
        loop {
            let now = self.clock.now();
            if now >= until {
                return false;
            }
            let left = (until - now).to_std().unwrap_or_default();
            if self.clock.sleep(left.min(self.heartbeat), &self.stop) {
                return true;
            }
            if let Ok(false) = self.catalog.heartbeat(run_id, millis(self.clock.now())) {
                return true;
            }
        }
    }

    /// A number in [0, 1) from a xorshift generator: jitter needs spread, not cryptography.
    fn jitter(&self) -> f64 {
        let mut x = self.jitter_state.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.jitter_state.store(x, Ordering::Relaxed);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}
