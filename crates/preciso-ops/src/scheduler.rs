//! The scheduler loop's single step, `tick`: lead or stand by (docs/OPERATIONS.md O8, O9), sweep
//! abandoned runs (docs/OPERATIONS.md O14), and claim the slots that are due under each job's
//! misfire policy (docs/OPERATIONS.md O3) — the database decides identity and overlap
//! (docs/OPERATIONS.md O4, O7). Executing the claimed runs is the caller's (`Ops`) business, so
//! tests can drive ticks with a fake clock and run jobs inline.

use crate::clock::{Clock, millis};
use crate::job::{JobSpec, Misfire};
use crate::live::{LiveIds, SAME_HOST_PATIENCE, other_process_here};
use crate::metrics::JobMetrics;
use chrono::{DateTime, Utc};
use preciso_core::ports::{Catalog, Leadership, StoreError};
use preciso_core::quality::runs::owner_host_pid;
use preciso_core::runs::{NewRun, RunClaim, RunFilter, RunStatus, Trigger};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// A run the tick claimed; the caller executes it.
pub struct Fire {
    pub job: Arc<JobSpec>,
    pub run_id: i64,
    pub scheduled_for: DateTime<Utc>,
    pub trigger: Trigger,
}

pub struct Scheduler {
    jobs: Vec<Arc<JobSpec>>,
    catalog: Arc<dyn Catalog>,
    clock: Arc<dyn Clock>,
    metrics: Arc<JobMetrics>,
    owner: String,
    /// Runs whose heartbeat is older than this are abandoned, unless live.
    stale_after: Duration,
    /// The runs this process is executing (`Runner::live`).
    live: Arc<LiveIds>,
    leadership: Option<Box<dyn Leadership>>,
    next_due: HashMap<String, DateTime<Utc>>,
    said_standby: bool,
    retention: Option<Duration>,
    last_prune: Option<DateTime<Utc>>,
}

impl Scheduler {
    pub fn new(
        jobs: Vec<Arc<JobSpec>>,
        catalog: Arc<dyn Catalog>,
        clock: Arc<dyn Clock>,
        metrics: Arc<JobMetrics>,
        owner: String,
        stale_after: Duration,
        live: Arc<LiveIds>,
    ) -> Self {
        Scheduler {
            jobs,
            catalog,
            clock,
            metrics,
            owner,
            stale_after,
            live,
            leadership: None,
            next_due: HashMap::new(),
            said_standby: false,
            retention: None,
            last_prune: None,
        }
    }

    /// Deletes closed runs older than `keep`, hourly while leading.
    pub fn with_retention(mut self, keep: Duration) -> Self {
        self.retention = Some(keep);
        self
    }

    fn prune(&mut self, now: DateTime<Utc>) -> Result<(), StoreError> {
        let Some(keep) = self.retention else { return Ok(()) };
        if self.last_prune.is_some_and(|t| now - t < chrono::Duration::hours(1)) {
            return Ok(());
        }
        self.last_prune = Some(now);
        let before = now - chrono::Duration::from_std(keep).unwrap_or(chrono::Duration::days(90));
        let deleted = self.catalog.delete_runs_before(millis(before))?;
        if deleted > 0 {
            tracing::info!(deleted, "run history older than the retention deleted");
        }
        Ok(())
    }

    pub fn is_leader(&self) -> bool {
        self.leadership.is_some()
    }

    /// Gives up leadership (shutdown); another replica takes over.
    pub fn resign(&mut self) {
        self.leadership = None;
    }

    /// The active runs a silent heartbeat does not condemn: those this process is executing
    /// (its runner ends them; a heartbeat can wait behind the process's own long SQLite write,
    /// minutes at 10M offers), and for `SAME_HOST_PATIENCE` those of another process of this
    /// host that still exists (a CLI run waiting behind its own write to the same file).
    fn spared(&self, now: DateTime<Utc>) -> Result<Vec<i64>, StoreError> {
        let mut spared = self.live.ids();
        let Some((host, _)) = owner_host_pid(&self.owner) else { return Ok(spared) };
        let patience = millis(now) - SAME_HOST_PATIENCE.as_millis() as i64;
        for status in [RunStatus::Running, RunStatus::RetryWait] {
            let filter = RunFilter { status: Some(status), limit: 1_000, ..Default::default() };
            for run in self.catalog.runs(&filter)? {
                if run.heartbeat_at >= patience
                    && other_process_here(&run.owner, host) == Some(true)
                {
                    spared.push(run.id);
                }
            }
        }
        Ok(spared)
    }

    /// One pass: returns the runs it started.
    pub fn tick(&mut self) -> Result<Vec<Fire>, StoreError> {
        let now = self.clock.now();
        let mut fires = Vec::new();
        if !self.lead(now, &mut fires)? {
            return Ok(fires);
        }
        let stale_before = now - chrono::Duration::from_std(self.stale_after).unwrap_or_default();
        let spared = self.spared(now)?;
        let abandoned =
            self.catalog.abandon_stale_runs(millis(stale_before), millis(now), &spared)?;
        if abandoned > 0 {
            tracing::warn!(abandoned, "runs left running by a stopped process are now abandoned");
        }
        self.prune(now)?;
        for job in self.jobs.clone() {
            let Some(schedule) = &job.schedule else { continue };
            let Some(due) = self.next_due.get(&job.name).copied() else { continue };
            if now < due {
                continue;
            }
            let before_due = due - chrono::Duration::milliseconds(1);
            let (latest, missed) = schedule.latest_between(before_due, now, 100_000);
            if let Some(slot) = latest {
                let trigger = if missed > 1 { Trigger::CatchUp } else { Trigger::Schedule };
                if missed > 1 && job.misfire == Misfire::Skip {
                    tracing::warn!(job = %job.name, missed, "fire times missed; misfire policy skip");
                } else if within_grace(now, slot, job.grace) {
                    self.claim(&job, slot, trigger, now, &mut fires)?;
                } else {
                    tracing::warn!(job = %job.name, slot = %slot, "fire time missed beyond its grace window");
                }
            }
            self.set_next(&job, now);
        }
        Ok(fires)
    }

    /// Keeps or acquires leadership; on acquiring, plans each job and catches up
    /// (docs/OPERATIONS.md O3).
    fn lead(&mut self, now: DateTime<Utc>, fires: &mut Vec<Fire>) -> Result<bool, StoreError> {
        if let Some(l) = self.leadership.as_mut() {
            if l.still_held() {
                return Ok(true);
            }
            tracing::warn!("scheduler leadership lost");
            self.leadership = None;
        }
        match self.catalog.try_lead()? {
            Some(l) => {
                tracing::info!(owner = %self.owner, "scheduler: leader");
                self.leadership = Some(l);
                self.said_standby = false;
                self.plan(now, fires)?;
                Ok(true)
            }
            None => {
                if !self.said_standby {
                    tracing::info!(owner = %self.owner, "scheduler: standby (another process schedules)");
                    self.said_standby = true;
                }
                Ok(false)
            }
        }
    }

    fn plan(&mut self, now: DateTime<Utc>, fires: &mut Vec<Fire>) -> Result<(), StoreError> {
        for job in self.jobs.clone() {
            let Some(schedule) = &job.schedule else { continue };
            if let Ok(Some(t)) = self.catalog.last_finished(&job.name, RunStatus::Succeeded) {
                self.metrics.set_last_success(&job.name, t as f64 / 1000.0);
            }
            if let Some(last) = self.catalog.last_scheduled(&job.name)? {
                let last = crate::clock::from_millis(last);
                let (latest, _) = schedule.latest_between(last, now, 100_000);
                match latest {
                    Some(slot)
                        if job.misfire == Misfire::Coalesce
                            && within_grace(now, slot, job.grace) =>
                    {
                        self.claim(&job, slot, Trigger::CatchUp, now, fires)?;
                    }
                    Some(slot) => {
                        tracing::warn!(job = %job.name, slot = %slot, "missed fire time not caught up (policy or grace)");
                    }
                    None => {}
                }
            }
            self.set_next(&job, now);
        }
        Ok(())
    }

    fn set_next(&mut self, job: &JobSpec, now: DateTime<Utc>) {
        if let Some(next) = job.schedule.as_ref().and_then(|s| s.next_after(now)) {
            self.metrics.set_next_fire(&job.name, next.timestamp_millis() as f64 / 1000.0);
            self.next_due.insert(job.name.clone(), next);
        }
    }

    fn claim(
        &self,
        job: &Arc<JobSpec>,
        slot: DateTime<Utc>,
        trigger: Trigger,
        now: DateTime<Utc>,
        fires: &mut Vec<Fire>,
    ) -> Result<(), StoreError> {
        let run = NewRun {
            job: job.name.clone(),
            scheduled_for: millis(slot),
            trigger,
            dry_run: false,
            owner: self.owner.clone(),
            now: millis(now),
            overlap: job.overlap,
        };
        match self.catalog.claim_run(&run)? {
            RunClaim::Started(run_id) => {
                fires.push(Fire { job: job.clone(), run_id, scheduled_for: slot, trigger });
            }
            RunClaim::SkippedOverlap(run_id) => {
                self.metrics.observe_run(&job.name, RunStatus::SkippedOverlap, 0.0, 0.0);
                tracing::warn!(job = %job.name, run_id, slot = %slot, "skipped: the previous run is still active");
            }
            RunClaim::AlreadyRecorded => {}
        }
        Ok(())
    }
}

fn within_grace(now: DateTime<Utc>, slot: DateTime<Utc>, grace: Duration) -> bool {
    (now - slot).to_std().unwrap_or_default() <= grace
}
