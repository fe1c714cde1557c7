//! `preciso clean [--dry-run]`: what the weekly `cleanup` job does
//! (`preciso_ops::jobs::cleanup`, docs/OPERATIONS.md "Retention"), run now and printed: log
//! files past `retention.log_days`, archived raw files past `retention.raw_days`, rejects files
//! past `retention.rejects_days`, stale upload spool files, backups the keep policy drops, run
//! records past `scheduler.run_retention_days`.

use crate::settings::Settings;
use anyhow::Result;
use chrono::Utc;
use preciso_ops::jobs::cleanup::clean;
use std::process::ExitCode;

pub fn run(settings: &Settings, dry_run: bool, json: bool) -> Result<ExitCode> {
    let catalog = crate::backend::open(&settings.database_url())?;
    let archive = crate::ops::open_archive(settings)?;
    let policy = crate::ops::retention(settings);
    let report = clean(&policy, catalog.as_ref(), archive.as_deref(), Utc::now(), dry_run)?;
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
