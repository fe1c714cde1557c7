//! The forensic analysis's answers (issue #18): a run's state with its phase and percent, the
//! ids a request queued, pages of runs and the per-store score history. The report itself is
//! the core's `Report`, served as stored.

use chrono::{DateTime, Utc};
use preciso_core::quality::runs::{
    AnalysisRecord, AnalysisRequest, AnalysisStatus, PHASES, ScorePoint,
};
use preciso_ops::clock::from_millis;
use serde::Serialize;
use utoipa::ToSchema;

/// Where a run's answers are.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AnalysisLinks {
    pub status: String,
    /// The report (once succeeded).
    pub result: String,
    /// The report as JSON, CSV or HTML (`?format=`).
    pub export: String,
}

impl AnalysisLinks {
    pub fn of(id: i64) -> Self {
        AnalysisLinks {
            status: format!("/api/forensic/status/{id}"),
            result: format!("/api/forensic/analysis/{id}"),
            export: format!("/api/forensic/export/{id}"),
        }
    }
}

/// One analysis run.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AnalysisRun {
    pub job_id: i64,
    pub status: AnalysisStatus,
    /// 0 while queued, then 1–5: validation, consistency, patterns, metrics, report.
    pub phase: u8,
    /// The phase's name; absent while queued.
    pub phase_name: Option<String>,
    /// Of the whole run, 0–100.
    pub percent: u8,
    /// What was asked.
    pub request: AnalysisRequest,
    /// `api`, `schedule`.
    pub trigger: String,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// The analysis time it used.
    pub as_of: Option<DateTime<Utc>>,
    /// `pass`, `warn` or `fail` (the worst check), once succeeded.
    pub outcome: Option<String>,
    pub overall_score: Option<f64>,
    /// Why it failed or was abandoned (admin keys only).
    pub error: Option<String>,
    pub links: AnalysisLinks,
}

impl AnalysisRun {
    /// `admin`: whether the error text (which may name internals) is shown.
    pub fn new(r: AnalysisRecord, admin: bool) -> Self {
        AnalysisRun {
            job_id: r.id,
            status: r.status,
            phase: r.phase,
            phase_name: (r.phase >= 1).then(|| PHASES[usize::from(r.phase.min(5)) - 1].to_string()),
            percent: r.percent,
            request: r.request,
            trigger: r.trigger,
            created_at: from_millis(r.created_at),
            started_at: r.started_at.map(from_millis),
            finished_at: r.finished_at.map(from_millis),
            as_of: r.as_of.and_then(|s| DateTime::from_timestamp(s, 0)),
            outcome: r.outcome,
            overall_score: r.overall_score,
            error: if admin { r.error } else { None },
            links: AnalysisLinks::of(r.id),
        }
    }
}

/// A page of runs, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AnalysisPage {
    pub items: Vec<AnalysisRun>,
    pub page: u32,
    pub limit: u32,
}

/// A queued run.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AnalysisAccepted {
    pub job_id: i64,
    pub status: AnalysisStatus,
    /// Its status document (also the `Location` header).
    pub location: String,
}

impl AnalysisAccepted {
    pub fn queued(id: i64) -> Self {
        AnalysisAccepted {
            job_id: id,
            status: AnalysisStatus::Queued,
            location: format!("/api/forensic/status/{id}"),
        }
    }
}

/// The runs a batch queued, in the order of its scopes.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BatchAccepted {
    pub jobs: Vec<AnalysisAccepted>,
}

/// Several scopes to analyse, one run each.
#[derive(Debug, Clone, ToSchema)]
pub struct BatchRequest {
    /// 1 to 20 scopes.
    #[schema(min_items = 1, max_items = 20)]
    pub scopes: Vec<AnalysisRequest>,
}

/// Store scores over time, oldest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScoreHistory {
    pub items: Vec<ScorePoint>,
}
