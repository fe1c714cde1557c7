//! `preciso clean [--dry-run]` and the weekly `cleanup` job (docs/OPERATIONS.md, "Retention";
//! issue #6): log files past `retention.log_days`, processed raw files past `retention.raw_days`
//! **only when archived and verified** (the ledger holds their key and the archive an object of the
//! right size), rejects files (raw records) past `retention.rejects_days`, upload spool files a
//! crashed server left (older than a day), backups the keep policy drops, and run records past
//! `scheduler.run_retention_days`.

use crate::settings::Settings;
use anyhow::Result;
use chrono::Utc;
use preciso_core::ports::Catalog;
use preciso_ops::archive::Archive;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

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

fn older_than(path: &Path, days: u32) -> Option<u64> {
    let meta = std::fs::metadata(path).ok()?;
    let age = SystemTime::now().duration_since(meta.modified().ok()?).unwrap_or_default();
    (age > Duration::from_secs(u64::from(days) * 86_400)).then_some(meta.len())
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            // The entry's own type: a symlinked directory is not followed (no loops).
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

fn remove(path: &Path, size: u64, dry_run: bool, into: &mut Removed) -> Result<()> {
    if !dry_run {
        std::fs::remove_file(path)?;
    }
    into.files.push(path.to_path_buf());
    into.bytes += size;
    Ok(())
}

/// Whether the archive verifiably holds this raw file: a completed ledger row of its content
/// with an archive key, and an object of the same size under that key.
fn archived(path: &Path, catalog: &dyn Catalog, archive: Option<&Archive>) -> Result<bool> {
    let Some(archive) = archive else { return Ok(false) };
    let bytes = std::fs::read(path)?;
    let sha = preciso_ops::archive::sha256_hex(&bytes);
    let Some(file) = catalog.find_ingested(&sha)? else { return Ok(false) };
    let Some(key) = &file.archive_key else { return Ok(false) };
    Ok(archive.size(key)? == Some(bytes.len() as u64))
}

pub fn clean(
    settings: &Settings,
    catalog: &dyn Catalog,
    archive: Option<&Archive>,
    dry_run: bool,
) -> Result<CleanReport> {
    let mut report = CleanReport { dry_run, ..Default::default() };
    if let Some(dir) = &settings.log.dir {
        // The newest file is today's, being written: never removed.
        let mut files = crate::commands::logs::files(dir);
        files.pop();
        for f in files {
            if let Some(size) = older_than(&f, settings.retention.log_days) {
                remove(&f, size, dry_run, &mut report.logs)?;
            }
        }
    }
    for f in walk(&settings.drop_dir().join("processed")) {
        let Some(size) = older_than(&f, settings.retention.raw_days) else { continue };
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
        (settings.rejects_dir(), settings.retention.rejects_days, &mut report.rejects),
        // A live upload's spool file is minutes old; one a day old lost its request.
        (settings.data_dir.join("incoming"), 1, &mut report.spool),
    ] {
        for f in walk(&dir) {
            if let Some(size) = older_than(&f, days) {
                remove(&f, size, dry_run, into)?;
            }
        }
    }
    for b in crate::commands::backup::prune(settings, dry_run)? {
        report.backups.bytes += b.size;
        report.backups.files.push(b.path);
    }
    let keep_runs = chrono::Duration::days(i64::from(settings.scheduler.run_retention_days));
    let before = (Utc::now() - keep_runs).timestamp_millis();
    if dry_run {
        let filter = preciso_core::runs::RunFilter { limit: 1_000_000, ..Default::default() };
        report.runs_deleted = catalog
            .runs(&filter)?
            .iter()
            .filter(|r| !r.status.is_active() && r.started_at < before)
            .count() as u64;
    } else {
        report.runs_deleted = catalog.delete_runs_before(before)?;
    }
    Ok(report)
}

pub fn run(settings: &Settings, dry_run: bool, json: bool) -> Result<ExitCode> {
    let catalog = crate::backend::open(&settings.database_url())?;
    let archive = crate::ops::open_archive(settings)?;
    let report = clean(settings, catalog.as_ref(), archive.as_deref(), dry_run)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    let verb = if dry_run { "would remove" } else { "removed" };
    for (what, r) in [
        ("log file", &report.logs),
        ("raw file", &report.raw_files),
        ("rejects file", &report.rejects),
        ("stale upload spool file", &report.spool),
        ("backup", &report.backups),
    ] {
        println!("{verb} {} {what}(s), {} bytes", r.files.len(), r.bytes);
        for f in &r.files {
            println!("  {}", f.display());
        }
    }
    if !report.raw_kept_unarchived.is_empty() {
        println!(
            "kept {} old raw file(s) the archive does not verifiably hold (run `preciso archive sync`)",
            report.raw_kept_unarchived.len()
        );
    }
    println!(
        "{verb} {} run record(s); {} bytes freed in all",
        report.runs_deleted,
        report.bytes_freed()
    );
    Ok(ExitCode::SUCCESS)
}
