//! `preciso backup create|list|verify|restore|prune` (docs/OPERATIONS.md O15–O21): the
//! command-line surface over `preciso_ops::backup` (the format, the keep policy) and the
//! functions the `backup` and `backup-verify` jobs run (`preciso_ops::jobs`).

use crate::ops::backend_name;
use crate::settings::Settings;
use anyhow::{Context, Result, bail};
use chrono::Utc;
use preciso_core::ports::Catalog;
use preciso_ops::backup::{self, BackupFile, Manifest};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `preciso backup create`'s step, as the `backup` job runs it.
pub fn create(
    settings: &Settings,
    catalog: &dyn Catalog,
) -> Result<(BackupFile, Manifest, Vec<BackupFile>)> {
    Ok(crate::ops::backup_place(settings).create(catalog, Utc::now())?)
}

/// `preciso backup verify`'s drill, as the `backup-verify` job runs it.
pub fn verify(settings: &Settings, path: &Path, quick: bool) -> Result<Manifest> {
    Ok(crate::ops::drill(settings).verify(path, quick, Utc::now())?)
}

fn newest(settings: &Settings) -> Result<PathBuf> {
    let dir = settings.backup_dir();
    match backup::list(&dir)?.into_iter().next() {
        Some(b) => Ok(b.path),
        None => bail!("no backup in {}", dir.display()),
    }
}

fn describe(b: &BackupFile) -> serde_json::Value {
    json!({
        "path": b.path,
        "created_at": b.created_at,
        "size": b.size,
        "verified_at": b.verified_at,
    })
}

pub fn create_cmd(settings: &Settings, json_out: bool) -> Result<ExitCode> {
    let catalog = crate::backend::open(&settings.database_url())?;
    let (file, manifest, pruned) = create(settings, catalog.as_ref())?;
    if json_out {
        let out = json!({
            "backup": describe(&file),
            "manifest": manifest,
            "pruned": pruned.iter().map(describe).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "backup {} ({} bytes, {} rows in {} tables)",
            file.path.display(),
            file.size,
            manifest.rows(),
            manifest.tables.len()
        );
        for p in &pruned {
            println!("pruned {} (keep policy)", p.path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn list_cmd(settings: &Settings, json_out: bool) -> Result<ExitCode> {
    let backups = backup::list(&settings.backup_dir())?;
    if json_out {
        let items: Vec<_> = backups.iter().map(describe).collect();
        println!("{}", serde_json::to_string_pretty(&json!({ "items": items }))?);
        return Ok(ExitCode::SUCCESS);
    }
    if backups.is_empty() {
        println!("no backups in {}", settings.backup_dir().display());
    }
    for b in &backups {
        let verified = b.verified_at.map_or("never".to_string(), |t| t.to_rfc3339());
        println!(
            "{}  {:>12} bytes  created {}  verified {verified}",
            b.path.display(),
            b.size,
            b.created_at.to_rfc3339()
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn verify_cmd(
    settings: &Settings,
    file: Option<&Path>,
    quick: bool,
    json_out: bool,
) -> Result<ExitCode> {
    let path = match file {
        Some(p) => p.to_path_buf(),
        None => newest(settings)?,
    };
    let manifest = verify(settings, &path, quick)?;
    if json_out {
        let out = json!({ "path": path, "quick": quick, "ok": true, "manifest": manifest });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        let what = if quick { "hashes" } else { "hashes, restore, integrity and counts" };
        println!("{}: ok ({what}; {} rows)", path.display(), manifest.rows());
    }
    Ok(ExitCode::SUCCESS)
}

pub fn restore_cmd(
    settings: &Settings,
    file: &Path,
    to: Option<&str>,
    force: bool,
) -> Result<ExitCode> {
    let _in_use = backup::InUse::mark(file);
    // Read the whole file once before touching the target: a bad backup stops here.
    backup::check_hashes(file)?;
    let url = to.map_or_else(|| settings.database_url(), str::to_string);
    let target = crate::backend::open(&url)?;
    if !super::copy::is_empty(target.as_ref())? {
        if !force {
            bail!(
                "the target database is not empty; pass --force to replace it (a safety backup is taken first)"
            );
        }
        let mut safety = settings.clone();
        safety.database_url = Some(url.clone());
        let (file, _, _) = create(&safety, target.as_ref()).context("the safety backup")?;
        println!("safety backup of the target: {}", file.path.display());
    }
    let manifest = backup::restore(file, target.as_ref(), crate::ops::schema_version())?;
    println!(
        "restored {} ({} rows, {} backup of {}) into {}",
        file.display(),
        manifest.rows(),
        manifest.backend,
        manifest.created_at.to_rfc3339(),
        backend_name(&url)
    );
    Ok(ExitCode::SUCCESS)
}

pub fn prune_cmd(settings: &Settings, dry_run: bool) -> Result<ExitCode> {
    let doomed = crate::ops::backup_place(settings).prune(dry_run)?;
    let verb = if dry_run { "would delete" } else { "deleted" };
    for b in &doomed {
        println!("{verb} {}", b.path.display());
    }
    println!("{verb} {} backup(s); kept the rest", doomed.len());
    Ok(ExitCode::SUCCESS)
}
