//! The built-in jobs, one `JobKind` each: its name (the `[jobs.NAME]` settings key and the
//! `job` of its runs), its defaults (schedule, description, timeout, attempts) and the job it
//! builds (`jobs/`), in one place that settings validation, the scheduler and the CLI all read.

use crate::Job;
use crate::jobs::JobDeps;
use crate::jobs::analyze::AnalyzeJob;
use crate::jobs::archive_verify::ArchiveVerifyJob;
use crate::jobs::backup::BackupJob;
use crate::jobs::backup_verify::BackupVerifyJob;
use crate::jobs::cleanup::CleanupJob;
use crate::jobs::ingest::DropDirJob;
use crate::jobs::status::StatusJob;
use std::sync::Arc;
use std::time::Duration;

/// A built-in job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    Ingest,
    IngestFull,
    Status,
    Backup,
    BackupVerify,
    ArchiveVerify,
    Cleanup,
    Analyze,
}

/// What a job does when its `[jobs.NAME]` section says nothing.
#[derive(Debug, Clone, Copy)]
pub struct JobDefaults {
    /// Standard 5-field cron in `scheduler.timezone`.
    pub cron: &'static str,
    pub description: &'static str,
    pub timeout: Duration,
    /// Attempts in all (1 = no retries).
    pub attempts: u32,
}

impl JobKind {
    /// Every built-in job, in the order `preciso jobs list` shows them.
    pub const ALL: [JobKind; 8] = [
        JobKind::Ingest,
        JobKind::IngestFull,
        JobKind::Status,
        JobKind::Backup,
        JobKind::BackupVerify,
        JobKind::ArchiveVerify,
        JobKind::Cleanup,
        JobKind::Analyze,
    ];

    pub fn name(self) -> &'static str {
        match self {
            JobKind::Ingest => "ingest",
            JobKind::IngestFull => "ingest-full",
            JobKind::Status => "status",
            JobKind::Backup => "backup",
            JobKind::BackupVerify => "backup-verify",
            JobKind::ArchiveVerify => "archive-verify",
            JobKind::Cleanup => "cleanup",
            JobKind::Analyze => "analyze",
        }
    }

    /// The job of this name, if it is a built-in one.
    pub fn parse(name: &str) -> Option<JobKind> {
        JobKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The job this kind runs.
    pub fn build(self, deps: &JobDeps) -> Arc<dyn Job> {
        let ingest = |full| -> Arc<dyn Job> {
            Arc::new(DropDirJob {
                catalog: deps.catalog.clone(),
                inbox: deps.inbox.clone(),
                stable_for: deps.stable_for,
                options: deps.ingest.clone(),
                full,
                archive: deps.archive.clone(),
            })
        };
        match self {
            JobKind::Ingest => ingest(false),
            JobKind::IngestFull => ingest(true),
            JobKind::Status => {
                Arc::new(StatusJob { path: deps.status_path.clone(), inputs: deps.status.clone() })
            }
            JobKind::Backup => {
                Arc::new(BackupJob { catalog: deps.catalog.clone(), place: deps.backups.clone() })
            }
            JobKind::BackupVerify => Arc::new(BackupVerifyJob {
                dir: deps.backups.dir.clone(),
                drill: deps.drill.clone(),
            }),
            JobKind::ArchiveVerify => Arc::new(ArchiveVerifyJob {
                archive: deps.archive.clone(),
                catalog: deps.catalog.clone(),
            }),
            JobKind::Cleanup => Arc::new(CleanupJob {
                policy: deps.retention.clone(),
                catalog: deps.catalog.clone(),
                archive: deps.archive.clone(),
            }),
            JobKind::Analyze => {
                Arc::new(AnalyzeJob { catalog: deps.catalog.clone(), checks: deps.quality.clone() })
            }
        }
    }

    pub fn defaults(self) -> JobDefaults {
        let hours = |h: u64| Duration::from_secs(h * 3600);
        let (cron, description, timeout, attempts) = match self {
            JobKind::Ingest => (
                "0 4-22/2 * * 1-6",
                "Ingest the files that stopped changing in the drop directory; move each to processed/ or failed/",
                hours(1),
                3,
            ),
            JobKind::IngestFull => (
                "0 4 * * *",
                "Daily full run: the drop directory and failed/, re-applying content already ingested",
                hours(4),
                3,
            ),
            JobKind::Status => (
                "*/5 * * * *",
                "Write the status document to <data_dir>/status.json",
                Duration::from_secs(60),
                1,
            ),
            JobKind::Backup => (
                "0 3 * * *",
                "Back up the database to the backup directory, then apply the keep policy",
                hours(2),
                2,
            ),
            JobKind::BackupVerify => (
                "0 5 * * 0",
                "Restore drill: verify the newest backup in a scratch database",
                hours(2),
                1,
            ),
            JobKind::ArchiveVerify => (
                "0 * * * *",
                "Reconcile the ledger with the raw-file archive (missing, orphan, size mismatch)",
                hours(1),
                2,
            ),
            JobKind::Cleanup => (
                "0 2 * * 0",
                "Retention: old logs, archived raw files, backups beyond the keep policy, old run records",
                hours(1),
                1,
            ),
            JobKind::Analyze => (
                "30 5 * * *",
                "Data-quality analysis of the catalog (docs/QUALITY.md); each store's score as preciso_quality_score",
                hours(1),
                1,
            ),
        };
        JobDefaults { cron, description, timeout, attempts }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_parse_back() {
        for kind in JobKind::ALL {
            assert_eq!(JobKind::parse(kind.name()), Some(kind));
            assert!(kind.defaults().attempts >= 1);
            assert!(crate::Schedule::parse(kind.defaults().cron, "UTC", false).is_ok());
        }
        assert_eq!(JobKind::parse("nope"), None);
    }
}
