//! `preciso backup create|list|verify|restore|prune` (docs/OPERATIONS.md O15–O21), and the two
//! steps the `backup` and `backup-verify` jobs run. The format and the keep policy are in
//! `preciso_ops::backup`; this module adds the database, the scratch restore of a drill and
//! the command-line surface.

use crate::ops::backend_name;
use crate::settings::Settings;
use anyhow::{Context, Result, bail};
use chrono::Utc;
use preciso_core::ports::Catalog;
use preciso_ops::backup::{self, BackupFile, Manifest, Source};
use preciso_store_sqlite::SqliteCatalog;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The schema of this build: its last migration (both backends name them alike).
pub fn schema_version() -> &'static str {
    preciso_store_sqlite::MIGRATIONS.last().map_or("none", |m| m.0)
}

fn source(database_url: &str) -> Source<'static> {
    Source {
        app_version: env!("CARGO_PKG_VERSION"),
        schema_version: schema_version(),
        backend: backend_name(database_url),
    }
}

/// Backs up `catalog` into the backup directory, then applies the keep policy (never to the
/// backup just written). Returns the new backup, its manifest and what was pruned.
pub fn create(
    settings: &Settings,
    catalog: &dyn Catalog,
) -> Result<(BackupFile, Manifest, Vec<BackupFile>)> {
    let dir = settings.backup_dir();
    let (file, manifest) =
        backup::create(catalog, &dir, &source(&settings.database_url()), Utc::now())?;
    let pruned = backup::prune(&dir, &settings.backup.keep, Some(&file.path))?;
    Ok((file, manifest, pruned))
}

/// The restore drill: hashes, then (unless `quick`) a restore into a scratch SQLite database
/// with integrity and foreign-key checks and per-table counts compared with the manifest. A
/// full pass is recorded beside the backup.
pub fn verify(settings: &Settings, path: &Path, quick: bool) -> Result<Manifest> {
    let _in_use = backup::InUse::mark(path);
    let manifest = backup::check_hashes(path)?;
    if quick {
        return Ok(manifest);
    }
    let scratch_dir = tempfile::Builder::new()
        .prefix(".verify-")
        .tempdir_in(&settings.data_dir)
        .or_else(|_| tempfile::tempdir())
        .context("creating a scratch directory")?;
    let scratch = SqliteCatalog::open(&scratch_dir.path().join("scratch.sqlite"))?;
    backup::restore(path, &scratch, schema_version())?;
    let problems = scratch.integrity_problems()?;
    if !problems.is_empty() {
        bail!("{}: the restored database is not sound: {}", path.display(), problems.join("; "));
    }
    let mut counts = std::collections::BTreeMap::<String, u64>::new();
    preciso_core::ports::CatalogDump::snapshot(&scratch, &mut |t, _| {
        *counts.entry(t.to_string()).or_default() += 1;
        Ok(())
    })?;
    for part in &manifest.tables {
        let restored = counts.get(&part.name).copied().unwrap_or(0);
        if restored != part.rows {
            bail!(
                "{}: table {} restored {restored} rows, the manifest says {}",
                path.display(),
                part.name,
                part.rows
            );
        }
    }
    backup::mark_verified(path, Utc::now())?;
    Ok(manifest)
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

fn rows_total(m: &Manifest) -> u64 {
    m.tables.iter().map(|t| t.rows).sum()
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
            rows_total(&manifest),
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
        println!("{}: ok ({what}; {} rows)", path.display(), rows_total(&manifest));
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
    let manifest = backup::restore(file, target.as_ref(), schema_version())?;
    println!(
        "restored {} ({} rows, {} backup of {}) into {}",
        file.display(),
        rows_total(&manifest),
        manifest.backend,
        manifest.created_at.to_rfc3339(),
        backend_name(&url)
    );
    Ok(ExitCode::SUCCESS)
}

/// The backups the keep policy drops: deleted, or with `dry_run` only listed.
pub fn prune(settings: &Settings, dry_run: bool) -> Result<Vec<BackupFile>> {
    let dir = settings.backup_dir();
    Ok(if dry_run {
        backup::to_prune(&backup::list(&dir)?, &settings.backup.keep, None)
    } else {
        backup::prune(&dir, &settings.backup.keep, None)?
    })
}

pub fn prune_cmd(settings: &Settings, dry_run: bool) -> Result<ExitCode> {
    let doomed = prune(settings, dry_run)?;
    let verb = if dry_run { "would delete" } else { "deleted" };
    for b in &doomed {
        println!("{verb} {}", b.path.display());
    }
    println!("{verb} {} backup(s); kept the rest", doomed.len());
    Ok(ExitCode::SUCCESS)
}
