//! Job runs: the history the scheduler keeps (docs/OPERATIONS.md O7, O10). A run is identified by
//! `(job, scheduled_for)`; each attempt of a run is its own row with its own error and steps.
//! Times are milliseconds since the Unix epoch, UTC.

use serde::{Deserialize, Serialize};

/// Why a run started.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// Its fire time came while the scheduler was running.
    Schedule,
    /// A fire time missed during downtime, run once on start (misfire policy `coalesce`).
    CatchUp,
    /// `preciso jobs run`.
    Manual,
    /// `POST /api/jobs/{name}/run`.
    Api,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::CatchUp => "catch_up",
            Trigger::Manual => "manual",
            Trigger::Api => "api",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Trigger::Schedule, Trigger::CatchUp, Trigger::Manual, Trigger::Api]
            .into_iter()
            .find(|t| t.as_str() == s)
    }
}

/// What a fire does when the job's previous run is still active (docs/OPERATIONS.md O4; Kubernetes'
/// `concurrencyPolicy`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Overlap {
    /// The new fire is recorded as `skipped_overlap` (the default).
    #[default]
    Forbid,
    /// The active run is marked `replaced` (its process sees that at its next heartbeat and
    /// stops its work cooperatively) and the new run starts.
    Replace,
    /// Runs of the job may run side by side.
    Allow,
}

impl Overlap {
    pub fn as_str(self) -> &'static str {
        match self {
            Overlap::Forbid => "forbid",
            Overlap::Replace => "replace",
            Overlap::Allow => "allow",
        }
    }
}

/// Where a run (or one attempt of it) stands.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    /// Failed an attempt; the next one starts after the backoff.
    RetryWait,
    Succeeded,
    Failed,
    TimedOut,
    /// Its fire time found the previous run still active (overlap policy `forbid`).
    SkippedOverlap,
    /// Found `running` after the process that ran it went away (docs/OPERATIONS.md O14).
    Abandoned,
    /// Stopped by a graceful shutdown before it finished.
    Cancelled,
    /// Superseded by a newer run of the job (overlap policy `replace`).
    Replaced,
}

impl RunStatus {
    pub const ALL: [RunStatus; 9] = [
        RunStatus::Running,
        RunStatus::RetryWait,
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::TimedOut,
        RunStatus::SkippedOverlap,
        RunStatus::Abandoned,
        RunStatus::Cancelled,
        RunStatus::Replaced,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::RetryWait => "retry_wait",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::TimedOut => "timed_out",
            RunStatus::SkippedOverlap => "skipped_overlap",
            RunStatus::Abandoned => "abandoned",
            RunStatus::Cancelled => "cancelled",
            RunStatus::Replaced => "replaced",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Still holding the job's single active slot (no-overlap policy).
    pub fn is_active(self) -> bool {
        matches!(self, RunStatus::Running | RunStatus::RetryWait)
    }
}

/// How one step of a run ended.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// What a step that returned without saying otherwise did.
    #[default]
    Succeeded,
    Failed,
    Skipped,
    /// Undone after a failure or a cancellation (e.g. a file put back in the inbox).
    Compensated,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Succeeded => "succeeded",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
            StepStatus::Compensated => "compensated",
        }
    }
}

impl std::fmt::Display for StepStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// The outcome of one step of a run: what it did, how long it took, what went wrong.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    pub name: String,
    pub status: StepStatus,
    /// Named counters (files picked, offers inserted, bytes freed…).
    #[serde(default)]
    pub counts: std::collections::BTreeMap<String, u64>,
    pub duration_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What a dry run would have written, moved or uploaded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub planned: Vec<String>,
}

/// A run about to be recorded.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub job: String,
    pub scheduled_for: i64,
    pub trigger: Trigger,
    pub dry_run: bool,
    /// The process that runs it (`host:pid:nonce`), for telling live runs from abandoned ones.
    pub owner: String,
    pub now: i64,
    /// What to do when the job already has an active run.
    pub overlap: Overlap,
}

/// What recording a new run led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunClaim {
    /// The slot was free and the job idle: the run is `running`, attempt 1.
    Started(i64),
    /// The job already had an active run: the slot is recorded as `skipped_overlap`.
    SkippedOverlap(i64),
    /// `(job, scheduled_for)` was already recorded (another replica, or an earlier life).
    AlreadyRecorded,
}

/// One attempt of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunAttempt {
    pub attempt: u32,
    pub status: RunStatus,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub error: Option<String>,
    pub steps: Vec<StepReport>,
}

/// A recorded run with its latest state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub id: i64,
    pub job: String,
    pub trigger: Trigger,
    pub scheduled_for: i64,
    pub status: RunStatus,
    /// The current (or last) attempt number, from 1.
    pub attempt: u32,
    pub dry_run: bool,
    pub owner: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub heartbeat_at: i64,
    pub error: Option<String>,
    /// Steps of the current (or last) attempt.
    pub steps: Vec<StepReport>,
    /// Every attempt, oldest first (filled by `run`, empty in listings).
    #[serde(default)]
    pub attempts: Vec<RunAttempt>,
}

impl RunRecord {
    pub fn duration_ms(&self) -> Option<i64> {
        self.finished_at.map(|f| f - self.started_at)
    }
}

/// Which runs to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub job: Option<String>,
    pub status: Option<RunStatus>,
    pub limit: u32,
    pub offset: u64,
}

/// How an attempt ended, as the runner records it.
#[derive(Debug, Clone)]
pub struct AttemptEnd {
    pub status: RunStatus,
    pub error: Option<String>,
    pub steps: Vec<StepReport>,
    pub now: i64,
}
