//! `Ops`: the scheduler as a service inside `preciso serve` (and the CLI): the job registry, the
//! scheduler thread, manual triggers through the same claim as scheduled fires
//! (docs/OPERATIONS.md O11), dry runs that record nothing (docs/OPERATIONS.md O12), and graceful
//! shutdown (docs/OPERATIONS.md O14).

use crate::clock::{Clock, StopSignal, millis};
use crate::job::{JobContext, JobSpec};
use crate::metrics::JobMetrics;
use crate::runner::Runner;
use crate::scheduler::Scheduler;
use crate::telemetry::Telemetry;
use chrono::{DateTime, Utc};
use preciso_core::ports::{Catalog, StoreError};
use preciso_core::runs::{AttemptEnd, NewRun, RunClaim, RunStatus, StepReport, Trigger};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error("no job named {0:?}")]
    UnknownJob(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a manual trigger led to.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Triggered {
    /// A run was recorded and started.
    Started { run_id: i64 },
    /// The job was busy: the trigger is recorded as `skipped_overlap`.
    SkippedOverlap { run_id: i64 },
    /// A dry run: nothing recorded; what it would have done.
    DryRun { status: RunStatus, error: Option<String>, steps: Vec<StepReport> },
}

#[derive(Debug, Clone, Copy)]
pub struct OpsConfig {
    /// How often the scheduler wakes.
    pub poll: Duration,
    /// How often a running job proves it is alive.
    pub heartbeat: Duration,
    /// Closed runs older than this are deleted (docs/OPERATIONS.md O10: default 90 days).
    pub run_retention: Duration,
}

impl Default for OpsConfig {
    fn default() -> Self {
        OpsConfig {
            poll: Duration::from_secs(1),
            heartbeat: Duration::from_secs(10),
            run_retention: Duration::from_secs(90 * 86_400),
        }
    }
}

/// What a job sees of the scheduler it runs in: the jobs, the catalog, the clock and whether
/// this process leads. Owned by the runner and handed to each run through `JobContext`, so no
/// job holds the service that holds it.
pub struct SchedulerView {
    jobs: Vec<Arc<JobSpec>>,
    catalog: Arc<dyn Catalog>,
    clock: Arc<dyn Clock>,
    leader: Arc<AtomicBool>,
    /// The process's metrics registry, which jobs record into.
    telemetry: Arc<Telemetry>,
    /// The latest archive reconciliation of this scheduler (`archive-verify`), for the status
    /// document and the archive gauges.
    reconciliation: Mutex<Option<crate::archive::Reconciliation>>,
}

impl SchedulerView {
    pub fn telemetry(&self) -> &Arc<Telemetry> {
        &self.telemetry
    }

    pub fn last_reconciliation(&self) -> Option<crate::archive::Reconciliation> {
        self.reconciliation.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn set_reconciliation(&self, r: crate::archive::Reconciliation) {
        *self.reconciliation.lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
    }

    pub fn jobs(&self) -> &[Arc<JobSpec>] {
        &self.jobs
    }

    pub fn catalog(&self) -> &Arc<dyn Catalog> {
        &self.catalog
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::Relaxed)
    }
}

pub struct Ops {
    /// The jobs, catalog, clock and leadership flag, shared with every run.
    view: Arc<SchedulerView>,
    runner: Arc<Runner>,
    stop: Arc<StopSignal>,
    metrics: Arc<JobMetrics>,
    telemetry: Arc<Telemetry>,
    owner: String,
    config: OpsConfig,
    active: Mutex<Vec<JoinHandle<()>>>,
}

impl Ops {
    pub fn new(
        jobs: Vec<JobSpec>,
        catalog: Arc<dyn Catalog>,
        clock: Arc<dyn Clock>,
        config: OpsConfig,
    ) -> Arc<Self> {
        let stop = Arc::new(StopSignal::new());
        let telemetry = Telemetry::new();
        let metrics = Arc::new(JobMetrics::new(telemetry.clone()));
        for job in &jobs {
            metrics.register(&job.name);
        }
        let mut runner = Runner::new(catalog.clone(), clock.clone(), stop.clone(), metrics.clone());
        let view = Arc::new(SchedulerView {
            jobs: jobs.into_iter().map(Arc::new).collect(),
            catalog,
            clock,
            leader: Arc::new(AtomicBool::new(false)),
            telemetry: telemetry.clone(),
            reconciliation: Mutex::new(None),
        });
        runner.heartbeat = config.heartbeat;
        runner.scheduler = Some(view.clone());
        Arc::new(Ops {
            view,
            runner: Arc::new(runner),
            stop,
            metrics,
            telemetry,
            owner: owner_id(),
            config,
            active: Mutex::new(Vec::new()),
        })
    }

    pub fn jobs(&self) -> &[Arc<JobSpec>] {
        self.view.jobs()
    }

    /// What jobs see of this scheduler (`status::build` reads it).
    pub fn view(&self) -> &SchedulerView {
        &self.view
    }

    pub fn job(&self, name: &str) -> Option<&Arc<JobSpec>> {
        self.view.jobs.iter().find(|j| j.name == name)
    }

    pub fn catalog(&self) -> &Arc<dyn Catalog> {
        &self.view.catalog
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.view.clock.now()
    }

    pub fn metrics(&self) -> &Arc<JobMetrics> {
        &self.metrics
    }

    /// The process's metrics registry (its jobs record into it; `/metrics` renders it).
    pub fn telemetry(&self) -> &Arc<Telemetry> {
        &self.telemetry
    }

    pub fn runner(&self) -> &Arc<Runner> {
        &self.runner
    }

    pub fn is_leader(&self) -> bool {
        self.view.leader.load(Ordering::Relaxed)
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// A scheduler over these jobs (the thread of `spawn_scheduler` owns one; tests drive
    /// their own).
    pub fn scheduler(&self) -> Scheduler {
        Scheduler::new(
            self.view.jobs.clone(),
            self.view.catalog.clone(),
            self.view.clock.clone(),
            self.metrics.clone(),
            self.owner.clone(),
            self.config.heartbeat * 3,
            self.runner.live.clone(),
        )
        .with_retention(self.config.run_retention)
    }

    /// Claims a manual run; starts it on its own thread unless the job is busy. Dry runs
    /// execute here and record nothing.
    pub fn trigger(
        self: &Arc<Self>,
        name: &str,
        trigger: Trigger,
        dry_run: bool,
    ) -> Result<Triggered, OpsError> {
        self.claim_and(name, trigger, dry_run, |spec, run_id| self.spawn_run(spec, run_id))
    }

    /// Like `trigger`, but waits for the run to end (the CLI).
    pub fn run_blocking(
        &self,
        name: &str,
        trigger: Trigger,
        dry_run: bool,
    ) -> Result<Triggered, OpsError> {
        self.claim_and(name, trigger, dry_run, |spec, run_id| {
            self.runner.execute(&spec, run_id, false);
        })
    }

    /// The shared path of manual triggers: dry runs execute here and record nothing; real ones
    /// are claimed (overlap rule included) and, when started, handed to `start`.
    fn claim_and(
        &self,
        name: &str,
        trigger: Trigger,
        dry_run: bool,
        start: impl FnOnce(Arc<JobSpec>, i64),
    ) -> Result<Triggered, OpsError> {
        let spec = self.job(name).cloned().ok_or_else(|| OpsError::UnknownJob(name.into()))?;
        if dry_run {
            return Ok(self.dry_run(&spec));
        }
        match self.claim_manual(&spec, trigger)? {
            RunClaim::Started(run_id) => {
                start(spec, run_id);
                Ok(Triggered::Started { run_id })
            }
            RunClaim::SkippedOverlap(run_id) => Ok(Triggered::SkippedOverlap { run_id }),
            RunClaim::AlreadyRecorded => unreachable_claim(),
        }
    }

    fn dry_run(&self, spec: &JobSpec) -> Triggered {
        let ctx = JobContext::with_clock(0, 1, true, self.view.clock.clone())
            .in_scheduler(self.view.clone());
        match spec.job.run(&ctx) {
            Ok(steps) => Triggered::DryRun { status: RunStatus::Succeeded, error: None, steps },
            Err(f) => Triggered::DryRun {
                status: RunStatus::Failed,
                error: Some(f.error),
                steps: f.steps,
            },
        }
    }

    /// Manual runs take "now" as their slot; two triggers in one millisecond get the next one.
    fn claim_manual(&self, spec: &JobSpec, trigger: Trigger) -> Result<RunClaim, StoreError> {
        let now = millis(self.view.clock.now());
        for offset in 0..1000 {
            let run = NewRun {
                job: spec.name.clone(),
                scheduled_for: now + offset,
                trigger,
                dry_run: false,
                owner: self.owner.clone(),
                now,
                overlap: spec.overlap,
            };
            match self.view.catalog.claim_run(&run)? {
                RunClaim::AlreadyRecorded => continue,
                claim => return Ok(claim),
            }
        }
        Err(StoreError::Conflict(format!("no free slot for a manual run of {}", spec.name)))
    }

    fn spawn_run(self: &Arc<Self>, spec: Arc<JobSpec>, run_id: i64) {
        let runner = self.runner.clone();
        // Live from here, not only once the thread runs: a sweep between the two would find
        // the run neither live nor (on a stalled host, or a test's clock) beating.
        let live = runner.live.enter(run_id);
        let handle =
            std::thread::Builder::new().name(format!("run-{}", spec.name)).spawn(move || {
                let _live = live;
                runner.execute(&spec, run_id, false);
            });
        match handle {
            Ok(h) => {
                let mut active = self.active.lock().unwrap_or_else(|p| p.into_inner());
                active.retain(|h| !h.is_finished());
                active.push(h);
            }
            Err(e) => {
                // Closed here rather than left to age out.
                tracing::error!(run_id, error = %e, "cannot start a job thread");
                let now = millis(self.view.clock.now());
                let error = Some(format!("cannot start a thread: {e}"));
                let end = AttemptEnd { status: RunStatus::Failed, error, steps: Vec::new(), now };
                if let Err(e) = self.view.catalog.end_attempt(run_id, &end) {
                    tracing::error!(run_id, error = %e, "cannot record the end of a job attempt");
                }
            }
        }
    }

    /// Starts the scheduler thread: ticks every `poll` until `shutdown`.
    pub fn spawn_scheduler(self: &Arc<Self>) -> std::io::Result<JoinHandle<()>> {
        let ops = self.clone();
        std::thread::Builder::new().name("scheduler".into()).spawn(move || {
            let mut scheduler = ops.scheduler();
            while !ops.stop.is_stopped() {
                match scheduler.tick() {
                    Ok(fires) => {
                        for fire in fires {
                            tracing::info!(job = %fire.job.name, run_id = fire.run_id,
                                trigger = fire.trigger.as_str(), scheduled_for = %fire.scheduled_for, "job fired");
                            ops.spawn_run(fire.job, fire.run_id);
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "scheduler tick failed"),
                }
                ops.view.leader.store(scheduler.is_leader(), Ordering::Relaxed);
                ops.view.clock.sleep(ops.config.poll, &ops.stop);
            }
            scheduler.resign();
            ops.view.leader.store(false, Ordering::Relaxed);
        })
    }

    /// Stops new fires and waits up to `grace` for running jobs; returns how many were still
    /// running (they are marked `abandoned` by the next scheduler once their heartbeat ages).
    pub fn shutdown(&self, grace: Duration) -> usize {
        self.stop.stop();
        let deadline = Instant::now() + grace;
        loop {
            let mut active = self.active.lock().unwrap_or_else(|p| p.into_inner());
            active.retain(|h| !h.is_finished());
            if active.is_empty() || Instant::now() >= deadline {
                return active.len();
            }
            drop(active);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn unreachable_claim() -> Result<Triggered, OpsError> {
    Err(OpsError::Store(StoreError::Conflict("the run slot was taken".into())))
}

/// `host:pid:nonce`, naming the process that runs a job.
pub fn owner_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "host".into());
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{host}:{}:{nonce:08x}", std::process::id())
}
