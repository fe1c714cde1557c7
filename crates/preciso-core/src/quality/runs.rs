//! Analysis runs (issue #18): what was asked (a scope and an optional analysis time), where a
//! run stands (queued → running → succeeded | failed | abandoned, with its phase and percent),
//! its immutable result, and the per-store scores each whole-catalog run leaves behind — the
//! history trends and `M.volume_anomaly` read. Times are milliseconds since the Unix epoch,
//! except `as_of` (Unix seconds, the report's own unit).

use serde::{Deserialize, Serialize};

/// What one analysis covers. Every field narrows it; none is the whole catalog.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalysisRequest {
    /// A store slug or name: only its offers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    /// A category (any level of the path): it and everything below it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Only offers seen at or after this time (RFC 3339 or YYYY-MM-DD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// The analysis time (RFC 3339 or YYYY-MM-DD); when it starts if absent. Given, the
    /// result is reproducible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
}

impl AnalysisRequest {
    /// Whether the run's scores describe whole stores (no category, no time window): only
    /// those enter the score history, where runs must be comparable.
    pub fn whole_stores(&self) -> bool {
        self.category.is_none() && self.since.is_none()
    }
}

/// Where an analysis stands.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnalysisStatus {
    /// Waiting for one of the process's analysis slots.
    Queued,
    Running,
    /// Its report is stored and never changes.
    Succeeded,
    Failed,
    /// Found `running` after the process that ran it went away.
    Abandoned,
}

impl AnalysisStatus {
    pub const ALL: [AnalysisStatus; 5] = [
        AnalysisStatus::Queued,
        AnalysisStatus::Running,
        AnalysisStatus::Succeeded,
        AnalysisStatus::Failed,
        AnalysisStatus::Abandoned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AnalysisStatus::Queued => "queued",
            AnalysisStatus::Running => "running",
            AnalysisStatus::Succeeded => "succeeded",
            AnalysisStatus::Failed => "failed",
            AnalysisStatus::Abandoned => "abandoned",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Whether it will change no more.
    pub fn is_final(self) -> bool {
        !matches!(self, AnalysisStatus::Queued | AnalysisStatus::Running)
    }
}

/// The five phases a run reports (SPEC §6), numbered 1–5.
pub const PHASES: [&str; 5] = ["validation", "consistency", "patterns", "metrics", "report"];

/// One analysis run as stored (its report apart: `AnalysisLog::analysis_report`).
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisRecord {
    pub id: i64,
    pub status: AnalysisStatus,
    pub request: AnalysisRequest,
    /// `api`, `schedule` or `cli`.
    pub trigger: String,
    /// 0 before it starts, then 1–5 (`PHASES`).
    pub phase: u8,
    /// Of the whole run, 0–100.
    pub percent: u8,
    /// The process running (or that ran) it.
    pub owner: Option<String>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub heartbeat_at: Option<i64>,
    /// The analysis time it used (Unix seconds), once started.
    pub as_of: Option<i64>,
    pub error: Option<String>,
    /// `pass`, `warn` or `fail`, once succeeded.
    pub outcome: Option<String>,
    pub overall_score: Option<f64>,
}

/// One store's score in one whole-store analysis.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScorePoint {
    pub analysis_id: i64,
    /// Store slug.
    pub store: String,
    /// The analysis time (Unix seconds).
    pub as_of: i64,
    /// Its current offers analysed.
    pub offers: u64,
    /// Of those, seen within the freshness window before `as_of`.
    pub live_offers: u64,
    pub score: f64,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum AnalysisEnd {
    Succeeded {
        /// The canonical JSON report, stored as is.
        report: String,
        outcome: String,
        overall_score: Option<f64>,
        as_of: i64,
        /// Recorded in the score history (empty for a narrowed scope).
        scores: Vec<ScorePoint>,
    },
    Failed {
        error: String,
    },
}

/// Prior live-offer counts of one store a volume check reads, newest first, at most.
pub const VOLUME_HISTORY: usize = 8;

/// The owner string of a process: `host:pid:nonce`. `(host, pid)` when it has that shape.
pub fn owner_host_pid(owner: &str) -> Option<(&str, u32)> {
    let mut parts = owner.rsplitn(3, ':');
    let _nonce = parts.next()?;
    let pid = parts.next()?.parse().ok()?;
    Some((parts.next()?, pid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_parse_back_and_only_queued_and_running_move() {
        for s in AnalysisStatus::ALL {
            assert_eq!(AnalysisStatus::parse(s.as_str()), Some(s));
        }
        assert!(!AnalysisStatus::Queued.is_final());
        assert!(!AnalysisStatus::Running.is_final());
        assert!(AnalysisStatus::Abandoned.is_final());
    }

    #[test]
    fn owners_split_into_host_and_pid() {
        assert_eq!(owner_host_pid("web-1:4242:00ab12cd"), Some(("web-1", 4242)));
        assert_eq!(owner_host_pid("a:b:c:17:ff"), Some(("a:b:c", 17)));
        assert_eq!(owner_host_pid("cli"), None);
    }

    #[test]
    fn only_unnarrowed_requests_enter_the_history() {
        assert!(AnalysisRequest::default().whole_stores());
        assert!(
            AnalysisRequest { store: Some("exito".into()), ..Default::default() }.whole_stores()
        );
        assert!(
            !AnalysisRequest { category: Some("tv".into()), ..Default::default() }.whole_stores()
        );
        assert!(
            !AnalysisRequest { since: Some("2026-01-01".into()), ..Default::default() }
                .whole_stores()
        );
    }
}
