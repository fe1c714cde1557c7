//! The jobs of docs/OPERATIONS.md ("Scheduler") from settings: what they run against
//! (`JobDeps`, which `preciso_ops::JobKind::build` turns into jobs), per-job overrides from
//! `[jobs.NAME]` over the registry's defaults, and the `Ops` service that schedules them.

use crate::settings::{JobSettings, Settings};
use anyhow::{Context, Result, bail};
use preciso_core::ports::Catalog;
use preciso_ingest::IngestOptions;
use preciso_ops::archive::Archive;
use preciso_ops::jobs::JobDeps;
use preciso_ops::jobs::backup::BackupPlace;
use preciso_ops::jobs::backup_verify::{Drill, Scratch};
use preciso_ops::jobs::cleanup::Retention;
use preciso_ops::{
    Clock, Job, JobKind, JobSpec, Misfire, Ops, OpsConfig, RetryPolicy, Schedule, SystemClock,
};
use preciso_store_sqlite::SqliteCatalog;
use std::sync::Arc;
use std::time::Duration;

/// The configured archive, or `None` when archiving is off.
pub fn open_archive(settings: &Settings) -> Result<Option<Arc<Archive>>> {
    if !settings.archive.enabled {
        return Ok(None);
    }
    let archive = Archive::open(&settings.archive_url()).context("opening the archive")?;
    Ok(Some(Arc::new(archive)))
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

/// The jobs and the service, on the system clock; also what they run against, which the
/// server reuses (the status inputs, the archive) rather than assembling it again.
pub fn build(
    settings: &Settings,
    catalog: Arc<dyn Catalog>,
    options: IngestOptions,
) -> Result<(Arc<Ops>, JobDeps)> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let deps = job_deps(settings, catalog, options, clock.now())?;
    Ok((build_with_clock(settings, &deps, clock)?, deps))
}

pub fn build_with_clock(
    settings: &Settings,
    deps: &JobDeps,
    clock: Arc<dyn Clock>,
) -> Result<Arc<Ops>> {
    let catalog = deps.catalog.clone();
    let jobs = JobKind::ALL
        .into_iter()
        .map(|k| spec(settings, k, k.build(deps)))
        .collect::<Result<Vec<_>>>()?;
    let config = OpsConfig {
        poll: Duration::from_secs(settings.scheduler.poll_secs.max(1)),
        heartbeat: Duration::from_secs(settings.scheduler.heartbeat_secs.max(1)),
        run_retention: Duration::from_secs(
            u64::from(settings.scheduler.run_retention_days) * 86_400,
        ),
    };
    Ok(Ops::new(jobs, catalog, clock, config))
}

/// What the built-in jobs run against, from the settings.
pub fn job_deps(
    settings: &Settings,
    catalog: Arc<dyn Catalog>,
    ingest: IngestOptions,
    started_at: chrono::DateTime<chrono::Utc>,
) -> Result<JobDeps> {
    Ok(JobDeps {
        catalog,
        archive: open_archive(settings)?,
        inbox: settings.drop_dir(),
        stable_for: Duration::from_secs(settings.scheduler.stable_secs),
        ingest,
        status_path: settings.data_dir.join("status.json"),
        status: status_inputs(settings, started_at),
        backups: backup_place(settings),
        drill: drill(settings),
        retention: retention(settings),
        quality: settings.quality_checks()?,
    })
}

/// The backup directory, its keep policy and this build's identity for manifests.
pub fn backup_place(settings: &Settings) -> BackupPlace {
    BackupPlace {
        dir: settings.backup_dir(),
        keep: settings.backup.keep,
        source: preciso_ops::backup::Source {
            app_version: env!("CARGO_PKG_VERSION"),
            schema_version: schema_version(),
            backend: backend_name(&settings.database_url()),
        },
    }
}

/// The schema of this build: its last migration, by SQLite's list whichever the backend (the
/// backends name their migrations alike, but each skips the few only the other needs).
pub fn schema_version() -> &'static str {
    preciso_store_sqlite::MIGRATIONS.last().map_or("none", |m| m.0)
}

/// Restore drills run into a scratch SQLite database beside the catalog.
pub fn drill(settings: &Settings) -> Drill {
    Drill {
        scratch_in: settings.data_dir.clone(),
        open: Arc::new(|path| Ok(Box::new(SqliteScratch(SqliteCatalog::open(path)?)) as _)),
        schema_version: schema_version(),
    }
}

struct SqliteScratch(SqliteCatalog);

impl Scratch for SqliteScratch {
    fn catalog(&self) -> &dyn Catalog {
        &self.0
    }

    fn integrity_problems(&self) -> Result<Vec<String>, preciso_core::ports::StoreError> {
        self.0.integrity_problems()
    }
}

/// What `preciso clean` and the cleanup job keep, and for how long.
pub fn retention(settings: &Settings) -> Retention {
    Retention {
        logs: settings.log.dir.clone().map(|d| (d, crate::commands::logs::FILE_PREFIX.to_string())),
        log_days: settings.retention.log_days,
        processed_dir: settings.drop_dir().join("processed"),
        raw_days: settings.retention.raw_days,
        rejects_dir: settings.rejects_dir(),
        rejects_days: settings.retention.rejects_days,
        spool_dir: settings.data_dir.join("incoming"),
        backups: backup_place(settings),
        run_days: settings.scheduler.run_retention_days,
    }
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
