//! The process's one metrics registry: every metric (HTTP, jobs, ingest, stores, backups,
//! archive, disk and the standard `process_*` set) is recorded through the `metrics` crate
//! into one Prometheus recorder and rendered by `/metrics` in the classic text format.
//!
//! The recorder is this value's, used through `metrics::with_local_recorder`, not installed
//! globally: tests run several servers in one process, each with its own numbers. `Ops` owns
//! one (its jobs record into it) and the HTTP state adopts it.

use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use preciso_core::domain::IngestCounts;
use preciso_ingest::IngestReport;
use std::sync::Arc;

/// Request latency buckets, seconds.
const HTTP_BUCKETS: [f64; 12] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// Job run duration buckets, seconds.
const JOB_BUCKETS: [f64; 10] = [0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0];

enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Every Preciso metric with its help text (labels are bounded where each is recorded).
const METRICS: &[(&str, Kind, &str)] = &[
    ("preciso_build_info", Kind::Gauge, "Build information."),
    ("preciso_uptime_seconds", Kind::Gauge, "Seconds since the server started."),
    (
        "preciso_http_requests_total",
        Kind::Counter,
        "HTTP requests by method, route template and status.",
    ),
    ("preciso_http_request_duration_seconds", Kind::Histogram, "HTTP request latency."),
    ("preciso_cache_hits_total", Kind::Counter, "Response cache hits."),
    ("preciso_cache_misses_total", Kind::Counter, "Response cache misses."),
    ("preciso_ingest_offers_total", Kind::Counter, "Ingested records by result."),
    ("preciso_ingest_files_total", Kind::Counter, "Ingest runs (API uploads, jobs) by outcome."),
    ("preciso_redis_errors_total", Kind::Counter, "Failed or timed-out Redis calls."),
    (
        "preciso_redis_degraded",
        Kind::Gauge,
        "1 while Redis is skipped after a failure (limits and cache per process).",
    ),
    ("preciso_db_pool_connections_in_use", Kind::Gauge, "Database connections handed out."),
    (
        "preciso_db_permits_in_use",
        Kind::Gauge,
        "Catalog calls running under http.db_concurrency's permits.",
    ),
    ("preciso_db_permits_max", Kind::Gauge, "The permits of http.db_concurrency."),
    (
        "preciso_db_permit_waits_total",
        Kind::Counter,
        "Catalog calls that waited for a permit of http.db_concurrency.",
    ),
    ("preciso_db_pool_connections_open", Kind::Gauge, "Database connections open, idle or in use."),
    ("preciso_db_pool_connections_max", Kind::Gauge, "Most database connections the pool opens."),
    (
        "preciso_db_pool_waits_total",
        Kind::Counter,
        "Requests that waited for a database connection.",
    ),
    (
        "preciso_db_pool_wait_seconds",
        Kind::Gauge,
        "Time spent waiting for a database connection since start (only grows).",
    ),
    (
        "preciso_store_last_scraped_timestamp_seconds",
        Kind::Gauge,
        "Newest observation among a store's offers (Unix seconds).",
    ),
    (
        "preciso_quality_score",
        Kind::Gauge,
        "A store's data-quality score (0-100) in the latest analysis (docs/QUALITY.md).",
    ),
    (
        "preciso_quality_overall_score",
        Kind::Gauge,
        "The catalog's data-quality score (0-100, stores weighted by offers) in the latest analysis.",
    ),
    ("preciso_job_runs_total", Kind::Counter, "Finished job runs by job and status."),
    ("preciso_job_duration_seconds", Kind::Histogram, "Job run duration, all attempts included."),
    (
        "preciso_job_last_success_timestamp_seconds",
        Kind::Gauge,
        "When the job last succeeded; 0: never.",
    ),
    (
        "preciso_job_next_fire_timestamp_seconds",
        Kind::Gauge,
        "The job's next fire time (leader only).",
    ),
    (
        "preciso_backup_last_success_timestamp_seconds",
        Kind::Gauge,
        "Creation time of the newest backup; 0: never.",
    ),
    (
        "preciso_backup_last_verified_timestamp_seconds",
        Kind::Gauge,
        "Time of the newest successful restore drill; 0: never.",
    ),
    ("preciso_archive_missing_objects", Kind::Gauge, "Ledger files missing from the archive."),
    ("preciso_archive_orphan_objects", Kind::Gauge, "Archive objects the ledger does not know."),
    (
        "preciso_archive_size_mismatch_objects",
        Kind::Gauge,
        "Archive objects whose size differs from the ledger.",
    ),
    ("preciso_data_dir_free_bytes", Kind::Gauge, "Free bytes on the data directory's file system."),
    (
        "preciso_data_dir_filesystem_size_bytes",
        Kind::Gauge,
        "Size of the data directory's file system.",
    ),
];

/// The `result` label of `preciso_ingest_offers_total`.
const INGEST_RESULTS: [&str; 5] = ["inserted", "updated", "unchanged", "duplicate", "rejected"];
/// The `status` label of `preciso_ingest_files_total` (`ReportStatus`, plus `failed` for runs
/// that returned an error).
const INGEST_STATUSES: [&str; 4] = ["done", "skipped", "dry_run", "failed"];

/// One recorder, its renderer and the process collector.
pub struct Telemetry {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    process: metrics_process::Collector,
}

impl Telemetry {
    pub fn new() -> Arc<Self> {
        let buckets = |b: PrometheusBuilder, name: &str, values: &[f64]| {
            b.set_buckets_for_metric(Matcher::Full(name.to_string()), values)
                .expect("bucket lists are not empty")
        };
        let builder = buckets(
            PrometheusBuilder::new(),
            "preciso_http_request_duration_seconds",
            &HTTP_BUCKETS,
        );
        let recorder =
            buckets(builder, "preciso_job_duration_seconds", &JOB_BUCKETS).build_recorder();
        let handle = recorder.handle();
        let telemetry =
            Telemetry { recorder, handle, process: metrics_process::Collector::default() };
        telemetry.record(|| {
            telemetry.process.describe();
            for (name, kind, help) in METRICS {
                match kind {
                    Kind::Counter => metrics::describe_counter!(*name, *help),
                    Kind::Gauge => metrics::describe_gauge!(*name, *help),
                    Kind::Histogram => metrics::describe_histogram!(*name, *help),
                }
            }
            // Present from start-up, at 0 until something happens.
            for result in INGEST_RESULTS {
                metrics::counter!("preciso_ingest_offers_total", "result" => result).increment(0);
            }
            for status in INGEST_STATUSES {
                metrics::counter!("preciso_ingest_files_total", "status" => status).increment(0);
            }
        });
        Arc::new(telemetry)
    }

    /// Adds one finished ingest run (`None`: it returned an error) to the ingest counters.
    pub fn ingest_finished(&self, report: Option<&IngestReport>) {
        let (status, c) = match report {
            Some(r) => (r.status.as_str(), r.counts),
            None => ("failed", IngestCounts::default()),
        };
        let per_result = [c.inserted, c.updated, c.unchanged, c.duplicate, c.rejected];
        self.record(|| {
            for (result, n) in INGEST_RESULTS.into_iter().zip(per_result) {
                metrics::counter!("preciso_ingest_offers_total", "result" => result).increment(n);
            }
            metrics::counter!("preciso_ingest_files_total", "status" => status).increment(1);
        });
    }

    /// Each store's data-quality score of the latest analysis (a store no longer in the catalog
    /// keeps its last value until the process restarts; stores are a bounded set) and the
    /// overall score.
    pub fn quality_scores(&self, report: &preciso_core::quality::engine::Report) {
        self.record(|| {
            for s in &report.stores {
                metrics::gauge!("preciso_quality_score", "store" => s.store.clone()).set(s.score);
            }
            if let Some(o) = report.overall_score {
                metrics::gauge!("preciso_quality_overall_score").set(o);
            }
        });
    }

    /// Runs `f` with this registry as the `metrics` macros' recorder.
    pub fn record<T>(&self, f: impl FnOnce() -> T) -> T {
        metrics::with_local_recorder(&self.recorder, f)
    }

    /// The exposition text, with the process metrics read now.
    pub fn render(&self) -> String {
        self.record(|| self.process.collect());
        self.handle.render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str, series: &str) -> Option<f64> {
        text.lines().find(|l| l.starts_with(series))?.rsplit(' ').next()?.parse().ok()
    }

    #[test]
    fn ingest_counters_exist_from_start_and_count_each_registry_alone() {
        let (a, b) = (Telemetry::new(), Telemetry::new());
        let text = a.render();
        assert_eq!(value(&text, "preciso_ingest_files_total{status=\"failed\"}"), Some(0.0));
        assert_eq!(value(&text, "preciso_ingest_offers_total{result=\"inserted\"}"), Some(0.0));
        a.ingest_finished(None);
        let text = a.render();
        assert_eq!(value(&text, "preciso_ingest_files_total{status=\"failed\"}"), Some(1.0));
        // No global state: another registry (another server in the same process) saw nothing.
        let other = b.render();
        assert_eq!(value(&other, "preciso_ingest_files_total{status=\"failed\"}"), Some(0.0));
    }
}
