//! The status document (docs/OPERATIONS.md O28): version, uptime, backend, counts, last ingest,
//! last and next run per job, disk usage. Served by `GET /api/status`, printed by `preciso status`,
//! and written atomically to `status.json` (temp file, fsync, rename) by the `status` job
//! (`jobs::status`). Its
//! shape is `docs/status.schema.json`; bump `SCHEMA_VERSION` on any incompatible change.

use crate::clock::from_millis;
use crate::service::SchedulerView;
use chrono::{DateTime, Utc};
use preciso_core::ports::{CatalogCounts, StoreError};
use preciso_core::runs::{RunFilter, RunStatus};
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const SCHEMA_VERSION: u32 = 1;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct StatusDoc {
    pub schema_version: u32,
    pub generated_at: DateTime<Utc>,
    pub version: String,
    pub uptime_seconds: f64,
    pub backend: String,
    pub scheduler: &'static str,
    pub counts: CatalogCounts,
    pub last_ingest: Option<LastIngest>,
    pub jobs: Vec<JobStatus>,
    pub disk: DiskUsage,
    /// The backup directory's state (docs/OPERATIONS.md O18, O28).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backups: Option<BackupState>,
    /// The archive's latest reconciliation in this process (absent before the first one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive: Option<ArchiveState>,
}

impl StatusDoc {
    /// The document for a caller who may not see operational detail: the same fields, with
    /// paths and locations `null` and the last file by its name only.
    pub fn redacted(mut self) -> StatusDoc {
        self.disk.data_dir = None;
        if let Some(b) = &mut self.backups {
            b.dir = None;
        }
        if let Some(a) = &mut self.archive {
            a.location = None;
        }
        if let Some(last) = &mut self.last_ingest {
            last.file = base_name(&last.file);
        }
        self
    }
}

/// The last component of a path-like name (a ledger name may be the path given to `ingest`).
pub fn base_name(name: &str) -> String {
    name.rsplit(['/', '\\']).next().unwrap_or(name).to_string()
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct BackupState {
    /// `None` when redacted.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub dir: Option<PathBuf>,
    pub count: usize,
    pub newest_created_at: Option<DateTime<Utc>>,
    pub newest_verified_at: Option<DateTime<Utc>>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct ArchiveState {
    /// `None` when redacted.
    pub location: Option<String>,
    pub checked: u64,
    pub missing_in_archive: usize,
    pub orphan_in_archive: usize,
    pub size_mismatch: usize,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct LastIngest {
    pub ledger_id: i64,
    pub file: String,
    pub status: preciso_core::domain::IngestStatus,
    pub received_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct JobStatus {
    pub name: String,
    pub enabled: bool,
    pub next_run: Option<DateTime<Utc>>,
    pub last_run: Option<LastRun>,
    pub last_success: Option<DateTime<Utc>>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct LastRun {
    pub id: i64,
    pub status: RunStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct DiskUsage {
    /// `None` when redacted.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub data_dir: Option<PathBuf>,
    /// Bytes of the files under the data directory.
    pub used_bytes: u64,
    /// Free and total bytes of the file system holding it.
    pub free_bytes: u64,
    pub total_bytes: u64,
}

/// What the status needs besides the scheduler, assembled once from the settings (by the
/// binary) and shared by the status job, the server and `preciso status`.
#[derive(Debug, Clone)]
pub struct StatusInputs {
    pub version: String,
    pub backend: String,
    pub started_at: DateTime<Utc>,
    pub data_dir: PathBuf,
    pub backup_dir: PathBuf,
    /// The archive's location when archiving is on.
    pub archive: Option<String>,
}

/// The status document; `scheduler` says whether this process leads (`ops.is_leader()`).
pub fn build(ops: &SchedulerView, inputs: &StatusInputs) -> Result<StatusDoc, StoreError> {
    let catalog = ops.catalog();
    let now = ops.now();
    let last_ingest = catalog.ingest_files(1, 0)?.into_iter().next().map(|f| LastIngest {
        ledger_id: f.id,
        file: f.name,
        status: f.status,
        received_at: from_secs(f.received_at),
        finished_at: f.finished_at.map(from_secs),
    });
    let mut jobs = Vec::new();
    for spec in ops.jobs() {
        let filter = RunFilter { job: Some(spec.name.clone()), limit: 1, ..Default::default() };
        let last_run = catalog.runs(&filter)?.into_iter().next().map(|r| LastRun {
            id: r.id,
            status: r.status,
            started_at: from_millis(r.started_at),
            finished_at: r.finished_at.map(from_millis),
        });
        jobs.push(JobStatus {
            name: spec.name.clone(),
            enabled: spec.schedule.is_some(),
            next_run: spec.schedule.as_ref().and_then(|s| s.next_after(now)),
            last_run,
            last_success: catalog.last_finished(&spec.name, RunStatus::Succeeded)?.map(from_millis),
        });
    }
    Ok(StatusDoc {
        schema_version: SCHEMA_VERSION,
        generated_at: now,
        version: inputs.version.clone(),
        uptime_seconds: (Utc::now() - inputs.started_at).num_milliseconds() as f64 / 1000.0,
        backend: inputs.backend.clone(),
        scheduler: if ops.is_leader() { "leader" } else { "standby" },
        counts: catalog.counts()?,
        last_ingest,
        jobs,
        disk: disk_usage(&inputs.data_dir),
        backups: Some(backup_state(&inputs.backup_dir)),
        archive: inputs.archive.as_deref().and_then(|location| {
            let r = ops.last_reconciliation()?;
            Some(ArchiveState {
                location: Some(location.to_string()),
                checked: r.checked,
                missing_in_archive: r.missing_in_archive.len(),
                orphan_in_archive: r.orphan_in_archive.len(),
                size_mismatch: r.size_mismatch.len(),
            })
        }),
    })
}

/// How many backups `dir` holds, the newest and the newest verified.
pub fn backup_state(dir: &Path) -> BackupState {
    let backups = crate::backup::list(dir).unwrap_or_default();
    BackupState {
        dir: Some(dir.to_path_buf()),
        count: backups.len(),
        newest_created_at: backups.iter().map(|b| b.created_at).max(),
        newest_verified_at: backups.iter().filter_map(|b| b.verified_at).max(),
    }
}

fn from_secs(s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(s, 0).unwrap_or_default()
}

pub fn disk_usage(dir: &Path) -> DiskUsage {
    DiskUsage {
        data_dir: Some(dir.to_path_buf()),
        used_bytes: dir_size(dir),
        free_bytes: fs4::available_space(dir).unwrap_or(0),
        total_bytes: fs4::total_space(dir).unwrap_or(0),
    }
}

/// Free and total bytes of the file system holding `dir` (cheap: no directory walk).
pub fn disk_free(dir: &Path) -> (u64, u64) {
    (fs4::available_space(dir).unwrap_or(0), fs4::total_space(dir).unwrap_or(0))
}

fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Writes `path` so readers see the old or the new document, never a torn one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}
