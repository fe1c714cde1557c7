//! Job metrics (docs/OPERATIONS.md O24): runs by job and status, duration histogram, time of
//! the last success (0: never) and of the next fire per job, recorded into the process's
//! registry (`telemetry`). Labels are bounded by the configured jobs.

use crate::telemetry::Telemetry;
use metrics::{counter, gauge, histogram};
use preciso_core::runs::RunStatus;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub struct JobMetrics {
    telemetry: Arc<Telemetry>,
    /// Newest success per job: a seed from the history never moves it back.
    last_success: Mutex<BTreeMap<String, f64>>,
    /// Runs observed since start: changes whenever a run ends (what a cached status misses).
    ended: AtomicU64,
}

impl JobMetrics {
    pub fn new(telemetry: Arc<Telemetry>) -> Self {
        JobMetrics { telemetry, last_success: Mutex::default(), ended: AtomicU64::new(0) }
    }

    /// Starts a job's failure series at 0, so the first failure after a start is an increase,
    /// and its last success at 0 (never) until the history or a run says otherwise, so the
    /// staleness alert sees a job that never succeeded.
    pub fn register(&self, job: &str) {
        self.telemetry.record(|| {
            for status in [RunStatus::Succeeded, RunStatus::Failed, RunStatus::TimedOut] {
                let labels = [("job_name", job.to_string()), ("status", status.as_str().into())];
                counter!("preciso_job_runs_total", &labels).increment(0);
            }
        });
        self.set_last_success(job, 0.0);
    }

    /// How many runs ended in this process so far.
    pub fn runs_ended(&self) -> u64 {
        self.ended.load(Ordering::Acquire)
    }

    pub fn observe_run(&self, job: &str, status: RunStatus, seconds: f64, finished_at: f64) {
        self.ended.fetch_add(1, Ordering::AcqRel);
        self.telemetry.record(|| {
            let labels = [("job_name", job.to_string()), ("status", status.as_str().into())];
            counter!("preciso_job_runs_total", &labels).increment(1);
            if status != RunStatus::SkippedOverlap {
                histogram!("preciso_job_duration_seconds", "job_name" => job.to_string())
                    .record(seconds);
            }
        });
        if status == RunStatus::Succeeded {
            self.set_last_success(job, finished_at);
        }
    }

    /// Moves the job's last success forward (runs, and the run history after a restart).
    pub fn set_last_success(&self, job: &str, at: f64) {
        let newest = {
            let mut seen = self.last_success.lock().unwrap_or_else(|p| p.into_inner());
            let slot = seen.entry(job.to_string()).or_insert(at);
            *slot = slot.max(at);
            *slot
        };
        self.telemetry.record(|| {
            gauge!("preciso_job_last_success_timestamp_seconds", "job_name" => job.to_string())
                .set(newest);
        });
    }

    pub fn set_next_fire(&self, job: &str, at: f64) {
        self.telemetry.record(|| {
            gauge!("preciso_job_next_fire_timestamp_seconds", "job_name" => job.to_string())
                .set(at);
        });
    }
}
