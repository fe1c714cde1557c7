//! The weekly `cleanup` job and `preciso clean` (docs/OPERATIONS.md, "Retention"): log files
//! past their retention, processed raw files past theirs **only when archived and verified**
//! (the ledger holds their key and the archive an object of the right size), rejects files (raw
//! records) past theirs, upload spool files a crashed server left (older than a day), backups the
//! keep policy drops, and run records past the run retention.

use crate::archive::Archive;
use crate::backup::BackupError;
use crate::job::{Job, JobContext, JobFailure, single_step, timed_step};
use crate::jobs::backup::BackupPlace;
use chrono::{DateTime, Utc};
use preciso_core::ports::{Catalog, StoreError};
use preciso_core::runs::{RunFilter, StepReport};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// What is kept how long.
#[derive(Debug, Clone)]
pub struct Retention {
    /// The log directory and its files' name prefix, when logs go to files.
    pub logs: Option<(PathBuf, String)>,
    pub log_days: u32,
    /// `processed/` of the drop directory.
    pub processed_dir: PathBuf,
    pub raw_days: u32,
    pub rejects_dir: PathBuf,
    pub rejects_days: u32,
    /// The upload spool (`<data_dir>/incoming`).
    pub spool_dir: PathBuf,
    pub backups: BackupPlace,
    pub run_days: u32,
}

#[derive(Debug, Default, Serialize)]
pub struct Removed {
    pub files: Vec<PathBuf>,
    pub bytes: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct CleanReport {
    pub dry_run: bool,
    pub logs: Removed,
    pub raw_files: Removed,
    /// Old raw files kept because the archive does not (verifiably) hold them.
    pub raw_kept_unarchived: Vec<PathBuf>,
    /// Rejects files: the raw records a run refused.
    pub rejects: Removed,
    /// Upload spool files no request owns any more.
    pub spool: Removed,
    pub backups: Removed,
    pub runs_deleted: u64,
}

impl CleanReport {
    pub fn bytes_freed(&self) -> u64 {
        self.logs.bytes
            + self.raw_files.bytes
            + self.rejects.bytes
            + self.spool.bytes
            + self.backups.bytes
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CleanError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Backup(#[from] BackupError),
}

fn older_than(path: &Path, days: u32) -> Option<u64> {
    let meta = std::fs::metadata(path).ok()?;
    let age = SystemTime::now().duration_since(meta.modified().ok()?).unwrap_or_default();
    (age > Duration::from_secs(u64::from(days) * 86_400)).then_some(meta.len())
}

/// The files under `dir`, sorted; symlinked directories are not followed (no loops).
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let Ok(kind) = e.file_type() else { continue };
            if kind.is_dir() {
                stack.push(e.path());
            } else if kind.is_file() {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

/// The log files of `dir` (those named `prefix…`), oldest first.
pub fn log_files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(prefix)))
        .collect();
    out.sort();
    out
}

fn remove(path: &Path, size: u64, dry_run: bool, into: &mut Removed) -> Result<(), CleanError> {
    if !dry_run {
        std::fs::remove_file(path)
            .map_err(|source| CleanError::Io { path: path.to_path_buf(), source })?;
    }
    into.files.push(path.to_path_buf());
    into.bytes += size;
    Ok(())
}

/// Whether the archive verifiably holds this raw file: a completed ledger row of its content
/// with an archive key, and an object of the same size under that key.
fn archived(path: &Path, catalog: &dyn Catalog, archive: Option<&Archive>) -> Result<bool, String> {
    let Some(archive) = archive else { return Ok(false) };
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let sha = crate::archive::sha256_hex(&bytes);
    let Some(file) = catalog.find_ingested(&sha).map_err(|e| e.to_string())? else {
        return Ok(false);
    };
    let Some(key) = &file.archive_key else { return Ok(false) };
    Ok(archive.size(key).map_err(|e| e.to_string())? == Some(bytes.len() as u64))
}

/// Removes (or with `dry_run` lists) what retention lets go.
pub fn clean(
    policy: &Retention,
    catalog: &dyn Catalog,
    archive: Option<&Archive>,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<CleanReport, CleanError> {
    let mut report = CleanReport { dry_run, ..Default::default() };
    if let Some((dir, prefix)) = &policy.logs {
        // The newest file is today's, being written: never removed.
        let mut files = log_files(dir, prefix);
        files.pop();
        for f in files {
            if let Some(size) = older_than(&f, policy.log_days) {
                remove(&f, size, dry_run, &mut report.logs)?;
            }
        }
    }
    for f in walk(&policy.processed_dir) {
        let Some(size) = older_than(&f, policy.raw_days) else { continue };
        if f.to_string_lossy().ends_with(".error.txt") {
            continue;
        }
        // An archive outage or an unreadable file keeps that file; the rest of the cleanup
        // (logs, backups, runs) still happens.
        match archived(&f, catalog, archive) {
            Ok(true) => remove(&f, size, dry_run, &mut report.raw_files)?,
            Ok(false) => report.raw_kept_unarchived.push(f),
            Err(e) => {
                tracing::warn!(file = %f.display(), error = %e, "kept: cannot check the archive");
                report.raw_kept_unarchived.push(f);
            }
        }
    }
    for (dir, days, into) in [
        (&policy.rejects_dir, policy.rejects_days, &mut report.rejects),
        // A live upload's spool file is minutes old; one a day old lost its request.
        (&policy.spool_dir, 1, &mut report.spool),
    ] {
        for f in walk(dir) {
            if let Some(size) = older_than(&f, days) {
                remove(&f, size, dry_run, into)?;
            }
        }
    }
    for b in policy.backups.prune(dry_run)? {
        report.backups.bytes += b.size;
        report.backups.files.push(b.path);
    }
    let before = (now - chrono::Duration::days(i64::from(policy.run_days))).timestamp_millis();
    report.runs_deleted = if dry_run {
        let filter = RunFilter { limit: 1_000_000, ..Default::default() };
        let runs = catalog.runs(&filter)?;
        runs.iter().filter(|r| !r.status.is_active() && r.started_at < before).count() as u64
    } else {
        catalog.delete_runs_before(before)?
    };
    Ok(report)
}

pub struct CleanupJob {
    pub policy: Retention,
    pub catalog: Arc<dyn Catalog>,
    pub archive: Option<Arc<Archive>>,
}

impl Job for CleanupJob {
    fn run(&self, ctx: &JobContext) -> Result<Vec<StepReport>, JobFailure> {
        let (step, result) = timed_step("clean", |report| {
            let r = clean(
                &self.policy,
                self.catalog.as_ref(),
                self.archive.as_deref(),
                ctx.now(),
                ctx.dry_run,
            )
            .map_err(|e| e.to_string())?;
            let counts = [
                ("log_files", r.logs.files.len() as u64),
                ("raw_files", r.raw_files.files.len() as u64),
                ("raw_kept_unarchived", r.raw_kept_unarchived.len() as u64),
                ("rejects_files", r.rejects.files.len() as u64),
                ("spool_files", r.spool.files.len() as u64),
                ("backups", r.backups.files.len() as u64),
                ("runs", r.runs_deleted),
                ("bytes_freed", r.bytes_freed()),
            ];
            report.counts.extend(counts.map(|(k, v)| (k.to_string(), v)));
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
