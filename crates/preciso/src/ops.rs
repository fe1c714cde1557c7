//! The jobs of docs/OPERATIONS.md ("Scheduler") built from settings: defaults, per-job overrides
//! from `[jobs.NAME]`, and the `Ops` service that schedules them.

use crate::settings::{JobSettings, Settings};
use anyhow::{Context, Result, bail};
use preciso_core::ports::Catalog;
use preciso_core::runs::StepReport;
use preciso_ingest::IngestOptions;
use preciso_ops::archive::Archive;
use preciso_ops::dropdir::DropDirJob;
use preciso_ops::job::timed_step;
use preciso_ops::status::StatusJob;
use preciso_ops::{
    Clock, Job, JobContext, JobFailure, JobKind, JobSpec, Misfire, Ops, OpsConfig, RetryPolicy,
    Schedule, SystemClock,
};
use std::sync::Arc;
use std::time::Duration;

/// The weekly retention cleanup (`preciso clean`).
struct CleanupJob {
    settings: Settings,
    catalog: Arc<dyn Catalog>,
    archive: Option<Arc<Archive>>,
}

impl Job for CleanupJob {
    fn run(&self, ctx: &JobContext) -> Result<Vec<StepReport>, JobFailure> {
        let (step, result) = timed_step("clean", |report| {
            let r = crate::commands::clean::clean(
                &self.settings,
                self.catalog.as_ref(),
                self.archive.as_deref(),
                ctx.dry_run,
            )
            .map_err(|e| format!("{e:#}"))?;
            report.counts.insert("log_files".into(), r.logs.files.len() as u64);
            report.counts.insert("raw_files".into(), r.raw_files.files.len() as u64);
            report.counts.insert("raw_kept_unarchived".into(), r.raw_kept_unarchived.len() as u64);
            report.counts.insert("rejects_files".into(), r.rejects.files.len() as u64);
            report.counts.insert("spool_files".into(), r.spool.files.len() as u64);
            report.counts.insert("backups".into(), r.backups.files.len() as u64);
            report.counts.insert("runs".into(), r.runs_deleted);
            report.counts.insert("bytes_freed".into(), r.bytes_freed());
            if ctx.dry_run {
                let all = r.logs.files.iter().chain(&r.raw_files.files).chain(&r.rejects.files);
                let all = all.chain(&r.spool.files).chain(&r.backups.files);
                report.planned = all.map(|f| format!("delete {}", f.display())).collect();
            }
            Ok(())
        });
        single_step(step, result, false)
    }
}

/// The hourly reconciliation of the archive with the ledger; its sets feed the gauges.
struct ArchiveVerifyJob {
    archive: Option<Arc<Archive>>,
    catalog: Arc<dyn Catalog>,
}

impl Job for ArchiveVerifyJob {
    fn run(&self, _ctx: &JobContext) -> Result<Vec<StepReport>, JobFailure> {
        let (step, result) = timed_step("verify", |report| {
            let Some(archive) = &self.archive else {
                report.status = preciso_core::runs::StepStatus::Skipped;
                return Ok(());
            };
            let r = preciso_ops::archive::verify(archive, self.catalog.as_ref(), false)
                .map_err(|e| e.to_string())?;
            report.counts.insert("checked".into(), r.checked);
            report.counts.insert("missing_in_archive".into(), r.missing_in_archive.len() as u64);
            report.counts.insert("orphan_in_archive".into(), r.orphan_in_archive.len() as u64);
            report.counts.insert("size_mismatch".into(), r.size_mismatch.len() as u64);
            Ok(())
        });
        single_step(step, result, true)
    }
}

/// The configured archive, or `None` when archiving is off.
pub fn open_archive(settings: &Settings) -> Result<Option<Arc<Archive>>> {
    if !settings.archive.enabled {
        return Ok(None);
    }
    let archive = Archive::open(&settings.archive_url()).context("opening the archive")?;
    Ok(Some(Arc::new(archive)))
}

/// The outcome of a job made of one step: the step, and on failure its error.
fn single_step(
    step: StepReport,
    result: Result<(), String>,
    retryable: bool,
) -> Result<Vec<StepReport>, JobFailure> {
    match result {
        Ok(()) => Ok(vec![step]),
        Err(error) => Err(JobFailure { error, steps: vec![step], retryable }),
    }
}

/// The `backup` job: a snapshot into the backup directory, then the keep policy.
struct BackupJob {
    settings: Settings,
    catalog: Arc<dyn Catalog>,
}

impl Job for BackupJob {
    fn run(&self, ctx: &JobContext) -> Result<Vec<StepReport>, JobFailure> {
        let dir = self.settings.backup_dir();
        if ctx.dry_run {
            let mut step = StepReport {
                name: "backup".into(),
                status: preciso_core::runs::StepStatus::Succeeded,
                ..Default::default()
            };
            step.planned.push(format!("write a backup into {}", dir.display()));
            let doomed = crate::commands::backup::prune(&self.settings, true).unwrap_or_default();
            for b in doomed {
                step.planned.push(format!("delete {} (keep policy)", b.path.display()));
            }
            return Ok(vec![step]);
        }
        let (step, result) = timed_step("backup", |report| {
            let (file, manifest, pruned) =
                crate::commands::backup::create(&self.settings, self.catalog.as_ref())
                    .map_err(|e| format!("{e:#}"))?;
            report.counts.insert("bytes".into(), file.size);
            report.counts.insert("rows".into(), manifest.tables.iter().map(|t| t.rows).sum());
            report.counts.insert("pruned".into(), pruned.len() as u64);
            Ok(())
        });
        single_step(step, result, true)
    }
}

/// The weekly restore drill of the newest backup (docs/OPERATIONS.md O18).
struct BackupVerifyJob {
    settings: Settings,
}

impl Job for BackupVerifyJob {
    fn run(&self, ctx: &JobContext) -> Result<Vec<StepReport>, JobFailure> {
        let (step, result) = timed_step("verify", |report| {
            let newest = preciso_ops::backup::list(&self.settings.backup_dir())
                .map_err(|e| e.to_string())?
                .into_iter()
                .next()
                .ok_or_else(|| "no backup to verify".to_string())?;
            if ctx.dry_run {
                report.planned.push(format!("verify {}", newest.path.display()));
                return Ok(());
            }
            let manifest = crate::commands::backup::verify(&self.settings, &newest.path, false)
                .map_err(|e| format!("{e:#}"))?;
            report.counts.insert("rows".into(), manifest.tables.iter().map(|t| t.rows).sum());
            Ok(())
        });
        single_step(step, result, false)
    }
}

/// Validates `[jobs.*]` (unknown names, cron, time zones) at settings load.
pub fn job_specs_check(settings: &Settings) -> Result<()> {
    for (name, job) in &settings.jobs {
        let Some(kind) = JobKind::parse(name) else {
            let known: Vec<&str> = JobKind::ALL.iter().map(|k| k.name()).collect();
            bail!("jobs.{name}: no such job (known: {})", known.join(", "));
        };
        schedule(settings, kind, job).with_context(|| format!("jobs.{name}"))?;
    }
    Ok(())
}

fn schedule(settings: &Settings, kind: JobKind, job: &JobSettings) -> Result<Option<Schedule>> {
    let cron = job.cron.as_deref().unwrap_or(kind.defaults().cron).trim();
    if cron.is_empty() {
        return Ok(None);
    }
    let tz = job.timezone.as_deref().unwrap_or(&settings.scheduler.timezone);
    Ok(Some(Schedule::parse(cron, tz, job.seconds)?))
}

fn spec(settings: &Settings, kind: JobKind, work: Arc<dyn Job>) -> Result<JobSpec> {
    let d = kind.defaults();
    let job = settings.jobs.get(kind.name()).cloned().unwrap_or_default();
    let schedule = schedule(settings, kind, &job)?;
    let defaults = RetryPolicy::default();
    Ok(JobSpec {
        name: kind.name().into(),
        grace: job
            .grace_secs
            .map(Duration::from_secs)
            .unwrap_or_else(|| JobSpec::default_grace(schedule.as_ref())),
        schedule,
        misfire: job.misfire.unwrap_or(Misfire::Coalesce),
        overlap: job.overlap.unwrap_or_default(),
        timeout: job.timeout_secs.map(Duration::from_secs).unwrap_or(d.timeout),
        retry: RetryPolicy {
            attempts: job.attempts.unwrap_or(d.attempts).max(1),
            base: job.retry_base_secs.map(Duration::from_secs).unwrap_or(defaults.base),
            cap: job.retry_cap_secs.map(Duration::from_secs).unwrap_or(defaults.cap),
        },
        description: d.description.into(),
        job: work,
    })
}

/// The jobs and the service, on the system clock.
pub fn build(
    settings: &Settings,
    catalog: Arc<dyn Catalog>,
    options: IngestOptions,
) -> Result<Arc<Ops>> {
    build_with_clock(settings, catalog, options, Arc::new(SystemClock))
}

pub fn build_with_clock(
    settings: &Settings,
    catalog: Arc<dyn Catalog>,
    options: IngestOptions,
    clock: Arc<dyn Clock>,
) -> Result<Arc<Ops>> {
    let archive = open_archive(settings)?;
    let drop = |full| -> Arc<dyn Job> {
        Arc::new(DropDirJob {
            catalog: catalog.clone(),
            inbox: settings.drop_dir(),
            stable_for: Duration::from_secs(settings.scheduler.stable_secs),
            options: options.clone(),
            full,
            archive: archive.clone(),
        })
    };
    let status: Arc<dyn Job> = Arc::new(StatusJob {
        path: settings.data_dir.join("status.json"),
        inputs: status_inputs(settings, clock.now()),
    });
    let work = |kind: JobKind| -> Arc<dyn Job> {
        match kind {
            JobKind::Ingest => drop(false),
            JobKind::IngestFull => drop(true),
            JobKind::Status => status.clone(),
            JobKind::Backup => {
                Arc::new(BackupJob { settings: settings.clone(), catalog: catalog.clone() })
            }
            JobKind::BackupVerify => Arc::new(BackupVerifyJob { settings: settings.clone() }),
            JobKind::ArchiveVerify => {
                Arc::new(ArchiveVerifyJob { archive: archive.clone(), catalog: catalog.clone() })
            }
            JobKind::Cleanup => Arc::new(CleanupJob {
                settings: settings.clone(),
                catalog: catalog.clone(),
                archive: archive.clone(),
            }),
        }
    };
    let jobs =
        JobKind::ALL.into_iter().map(|k| spec(settings, k, work(k))).collect::<Result<Vec<_>>>()?;
    let config = OpsConfig {
        poll: Duration::from_secs(settings.scheduler.poll_secs.max(1)),
        heartbeat: Duration::from_secs(settings.scheduler.heartbeat_secs.max(1)),
        run_retention: Duration::from_secs(
            u64::from(settings.scheduler.run_retention_days) * 86_400,
        ),
    };
    Ok(Ops::new(jobs, catalog, clock, config))
}

/// What the status document reports besides the scheduler, from the settings: one home for
/// the status job, the server and `preciso status`.
pub fn status_inputs(
    settings: &Settings,
    started_at: chrono::DateTime<chrono::Utc>,
) -> preciso_ops::status::StatusInputs {
    preciso_ops::status::StatusInputs {
        version: env!("CARGO_PKG_VERSION").into(),
        backend: backend_name(&settings.database_url()).into(),
        started_at,
        data_dir: settings.data_dir.clone(),
        backup_dir: settings.backup_dir(),
        archive: settings
            .archive
            .enabled
            .then(|| preciso_ops::archive::location_of(&settings.archive_url())),
    }
}

pub fn backend_name(url: &str) -> &'static str {
    if url.starts_with("postgres") { "postgresql" } else { "sqlite" }
}
