//! The scheduler's answers: jobs with their next fire times, runs with attempts and steps.

use chrono::{DateTime, Utc};
use preciso_core::runs::{Overlap, RunRecord, RunStatus, StepReport, Trigger};
use preciso_ops::Misfire;
use preciso_ops::clock::from_millis;
use serde::Serialize;
use utoipa::ToSchema;

/// A scheduled fire time, in UTC and in the job's time zone.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NextRun {
    pub utc: DateTime<Utc>,
    /// RFC 3339 in the job's time zone.
    pub local: String,
}

/// A job and its policies.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobInfo {
    pub name: String,
    /// What it does, in one line.
    pub description: String,
    /// Whether it has a schedule (an unscheduled job runs only when triggered).
    pub enabled: bool,
    pub cron: Option<String>,
    /// IANA time zone of the schedule.
    pub timezone: Option<String>,
    pub misfire: Misfire,
    pub overlap: Overlap,
    pub grace_secs: u64,
    pub timeout_secs: u64,
    /// Attempts in all, including the first.
    pub retry_attempts: u32,
    /// The next three fire times.
    pub next_runs: Vec<NextRun>,
}

/// The scheduled jobs.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JobList {
    pub items: Vec<JobInfo>,
    /// Whether this process holds the scheduler's leadership.
    pub leader: bool,
}

/// One attempt of a run.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Attempt {
    pub attempt: u32,
    pub status: RunStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Admin keys only.
    pub error: Option<String>,
    pub steps: Vec<StepReport>,
}

/// A job run with its latest state.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Run {
    pub id: i64,
    pub job: String,
    pub trigger: Trigger,
    pub scheduled_for: DateTime<Utc>,
    pub status: RunStatus,
    /// The current (or last) attempt, from 1.
    pub attempt: u32,
    pub dry_run: bool,
    /// The process that ran it (`host:pid:nonce`); empty without an admin key.
    pub owner: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub duration_ms: Option<i64>,
    /// Admin keys only.
    pub error: Option<String>,
    /// Steps of the current (or last) attempt.
    pub steps: Vec<StepReport>,
    /// Every attempt, oldest first (in `GET /api/runs/{id}`; empty in listings).
    pub attempts: Vec<Attempt>,
}

/// A page of runs, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunPage {
    pub items: Vec<Run>,
    pub page: u32,
    pub limit: u32,
}

impl JobInfo {
    /// A job's policies and its next three fire times after `now`.
    pub fn new(spec: &preciso_ops::JobSpec, now: DateTime<Utc>) -> Self {
        let next_runs = spec
            .schedule
            .as_ref()
            .map(|s| {
                s.upcoming(now, 3)
                    .into_iter()
                    .map(|t| NextRun { utc: t, local: t.with_timezone(&s.tz()).to_rfc3339() })
                    .collect()
            })
            .unwrap_or_default();
        JobInfo {
            name: spec.name.to_string(),
            description: spec.description.to_string(),
            enabled: spec.schedule.is_some(),
            cron: spec.schedule.as_ref().map(|s| s.expr().to_string()),
            timezone: spec.schedule.as_ref().map(|s| s.tz().name().to_string()),
            misfire: spec.misfire,
            overlap: spec.overlap,
            grace_secs: spec.grace.as_secs(),
            timeout_secs: spec.timeout.as_secs(),
            retry_attempts: spec.retry.attempts,
            next_runs,
        }
    }
}

impl From<&RunRecord> for Run {
    fn from(r: &RunRecord) -> Self {
        Run {
            id: r.id,
            job: r.job.clone(),
            trigger: r.trigger,
            scheduled_for: from_millis(r.scheduled_for),
            status: r.status,
            attempt: r.attempt,
            dry_run: r.dry_run,
            owner: r.owner.clone(),
            started_at: from_millis(r.started_at),
            finished_at: r.finished_at.map(from_millis),
            duration_ms: r.duration_ms(),
            error: r.error.clone(),
            steps: r.steps.clone(),
            attempts: r
                .attempts
                .iter()
                .map(|a| Attempt {
                    attempt: a.attempt,
                    status: a.status,
                    started_at: from_millis(a.started_at),
                    finished_at: a.finished_at.map(from_millis),
                    error: a.error.clone(),
                    steps: a.steps.clone(),
                })
                .collect(),
        }
    }
}
