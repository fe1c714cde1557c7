//! Job metrics in Prometheus text (docs/OPERATIONS.md O24): runs by job and status, duration
//! histogram, time of the last success and of the next fire per job. Labels are bounded by the
//! configured jobs.

use preciso_core::runs::RunStatus;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

const BUCKETS: [f64; 10] = [0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
struct Data {
    runs: BTreeMap<(String, &'static str), u64>,
    duration: BTreeMap<String, Histogram>,
    last_success: BTreeMap<String, f64>,
    next_fire: BTreeMap<String, f64>,
}

#[derive(Default)]
pub struct JobMetrics {
    data: Mutex<Data>,
    /// Runs observed since start: changes whenever a run ends (what a cached status misses).
    ended: std::sync::atomic::AtomicU64,
}

impl JobMetrics {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a job's failure series at 0, so the first failure after a start is an increase,
    /// and its last success at 0 (never) until the history or a run says otherwise, so the
    /// staleness alert sees a job that never succeeded.
    pub fn register(&self, job: &str) {
        let mut d = self.data.lock().unwrap_or_else(|p| p.into_inner());
        for status in [RunStatus::Succeeded, RunStatus::Failed, RunStatus::TimedOut] {
            d.runs.entry((job.to_string(), status.as_str())).or_default();
        }
        d.last_success.entry(job.to_string()).or_insert(0.0);
    }

    /// How many runs ended in this process so far.
    pub fn runs_ended(&self) -> u64 {
        self.ended.load(std::sync::atomic::Ordering::Acquire)
    }

    pub fn observe_run(&self, job: &str, status: RunStatus, seconds: f64, finished_at: f64) {
        self.ended.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        let mut d = self.data.lock().unwrap_or_else(|p| p.into_inner());
        *d.runs.entry((job.to_string(), status.as_str())).or_default() += 1;
        if status == RunStatus::SkippedOverlap {
            return;
        }
        let h = d.duration.entry(job.to_string()).or_default();
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                h.counts[i] += 1;
            }
        }
        h.sum += seconds;
        h.count += 1;
        if status == RunStatus::Succeeded {
            d.last_success.insert(job.to_string(), finished_at);
        }
    }

    /// Seeds the last success from the run history (after a restart).
    pub fn set_last_success(&self, job: &str, at: f64) {
        let mut d = self.data.lock().unwrap_or_else(|p| p.into_inner());
        let slot = d.last_success.entry(job.to_string()).or_insert(at);
        *slot = slot.max(at);
    }

    pub fn set_next_fire(&self, job: &str, at: f64) {
        self.data.lock().unwrap_or_else(|p| p.into_inner()).next_fire.insert(job.to_string(), at);
    }

    pub fn render(&self, out: &mut String) {
        let d = self.data.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(
            out,
            "# HELP preciso_job_runs_total Finished job runs by job and status.\n# TYPE preciso_job_runs_total counter"
        );
        for ((job, status), n) in &d.runs {
            let _ = writeln!(
                out,
                "preciso_job_runs_total{{job_name=\"{job}\",status=\"{status}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP preciso_job_duration_seconds Job run duration, all attempts included.\n# TYPE preciso_job_duration_seconds histogram"
        );
        for (job, h) in &d.duration {
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "preciso_job_duration_seconds_bucket{{job_name=\"{job}\",le=\"{b}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "preciso_job_duration_seconds_bucket{{job_name=\"{job}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ =
                writeln!(out, "preciso_job_duration_seconds_sum{{job_name=\"{job}\"}} {}", h.sum);
            let _ = writeln!(
                out,
                "preciso_job_duration_seconds_count{{job_name=\"{job}\"}} {}",
                h.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP preciso_job_last_success_timestamp_seconds When the job last succeeded; 0: never.\n# TYPE preciso_job_last_success_timestamp_seconds gauge"
        );
        for (job, t) in &d.last_success {
            let _ = writeln!(
                out,
                "preciso_job_last_success_timestamp_seconds{{job_name=\"{job}\"}} {t}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP preciso_job_next_fire_timestamp_seconds The job's next fire time (leader only).\n# TYPE preciso_job_next_fire_timestamp_seconds gauge"
        );
        for (job, t) in &d.next_fire {
            let _ =
                writeln!(out, "preciso_job_next_fire_timestamp_seconds{{job_name=\"{job}\"}} {t}");
        }
    }
}
