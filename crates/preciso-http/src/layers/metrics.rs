//! Prometheus metrics, rendered in the text exposition format. Labels are bounded: `route` is
//! the matched route template (never the raw path), `status` the numeric code of a response.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Latency buckets in seconds.
const BUCKETS: [f64; 12] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
struct Data {
    requests: BTreeMap<(String, String, u16), u64>,
    latency: BTreeMap<(String, String), Histogram>,
}

#[derive(Default)]
pub struct Metrics {
    data: Mutex<Data>,
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn observe_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut d = self.data.lock().unwrap_or_else(|p| p.into_inner());
        *d.requests.entry((method.to_string(), route.to_string(), status)).or_default() += 1;
        let h = d.latency.entry((method.to_string(), route.to_string())).or_default();
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                h.counts[i] += 1;
            }
        }
        h.sum += seconds;
        h.count += 1;
    }

    /// The exposition text; `extra` gauges (cache counters, build info) are appended by the
    /// caller through `gauge`/`counter` lines.
    pub fn render(
        &self,
        cache_hits: u64,
        cache_misses: u64,
        version: &str,
        uptime_secs: f64,
    ) -> String {
        let d = self.data.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP preciso_build_info Build information.\n# TYPE preciso_build_info gauge"
        );
        let commit = escape(env!("PRECISO_COMMIT"));
        let _ = writeln!(out, "preciso_build_info{{version=\"{version}\",commit=\"{commit}\"}} 1");
        let _ = writeln!(
            out,
            "# HELP preciso_uptime_seconds Seconds since the server started.\n# TYPE preciso_uptime_seconds gauge"
        );
        let _ = writeln!(out, "preciso_uptime_seconds {uptime_secs:.3}");
        let _ = writeln!(
            out,
            "# HELP preciso_http_requests_total HTTP requests by method, route template and status.\n# TYPE preciso_http_requests_total counter"
        );
        for ((m, r, s), n) in &d.requests {
            let _ = writeln!(
                out,
                "preciso_http_requests_total{{method=\"{m}\",route=\"{}\",status=\"{s}\"}} {n}",
                escape(r)
            );
        }
        let _ = writeln!(
            out,
            "# HELP preciso_http_request_duration_seconds HTTP request latency.\n# TYPE preciso_http_request_duration_seconds histogram"
        );
        for ((m, r), h) in &d.latency {
            let labels = format!("method=\"{m}\",route=\"{}\"", escape(r));
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "preciso_http_request_duration_seconds_bucket{{{labels},le=\"{b}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "preciso_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ =
                writeln!(out, "preciso_http_request_duration_seconds_sum{{{labels}}} {}", h.sum);
            let _ = writeln!(
                out,
                "preciso_http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP preciso_cache_hits_total Response cache hits.\n# TYPE preciso_cache_hits_total counter\npreciso_cache_hits_total {cache_hits}"
        );
        let _ = writeln!(
            out,
            "# HELP preciso_cache_misses_total Response cache misses.\n# TYPE preciso_cache_misses_total counter\npreciso_cache_misses_total {cache_misses}"
        );
        // Every ingest run of this process counts, whichever path started it.
        let _ = writeln!(
            out,
            "# HELP preciso_ingest_offers_total Ingested records by result.\n# TYPE preciso_ingest_offers_total counter"
        );
        for (result, n) in preciso_ingest::totals::offers() {
            let _ = writeln!(out, "preciso_ingest_offers_total{{result=\"{result}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP preciso_ingest_files_total Ingest runs (API uploads, jobs) by outcome.\n# TYPE preciso_ingest_files_total counter"
        );
        for (status, n) in preciso_ingest::totals::files() {
            let _ = writeln!(out, "preciso_ingest_files_total{{status=\"{status}\"}} {n}");
        }
        out
    }
}

/// The store's gauges: connection pool use (USE) and the newest scrape per store (data
/// freshness; one series per store, a bounded set).
pub fn render_store(
    out: &mut String,
    pool: &preciso_core::ports::PoolStats,
    freshness: &[(preciso_core::domain::StoreId, Option<i64>)],
) {
    let gauge = |out: &mut String, name: &str, help: &str, kind: &str, value: String| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
    };
    gauge(
        out,
        "preciso_db_pool_connections_in_use",
        "Database connections handed out.",
        "gauge",
        pool.in_use.to_string(),
    );
    gauge(
        out,
        "preciso_db_pool_connections_open",
        "Database connections open, idle or in use.",
        "gauge",
        pool.open.to_string(),
    );
    gauge(
        out,
        "preciso_db_pool_connections_max",
        "Most database connections the pool opens.",
        "gauge",
        pool.max.to_string(),
    );
    gauge(
        out,
        "preciso_db_pool_waits_total",
        "Requests that waited for a database connection.",
        "counter",
        pool.waits.to_string(),
    );
    gauge(
        out,
        "preciso_db_pool_wait_seconds_total",
        "Time spent waiting for a database connection.",
        "counter",
        format!("{:.6}", pool.wait_seconds),
    );
    let name = "preciso_store_last_scraped_timestamp_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} Newest observation among a store's offers (Unix seconds).\n# TYPE {name} gauge"
    );
    for (store, seen) in freshness {
        if let Some(seen) = seen {
            let _ = writeln!(out, "{name}{{store=\"{}\"}} {seen}", escape(store.as_str()));
        }
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
