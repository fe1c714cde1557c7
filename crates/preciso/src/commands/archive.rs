//! `preciso archive verify [--deep]` and `preciso archive sync [--dry-run] [--delete-orphans]`
//! (docs/OPERATIONS.md O30–O32) over the configured archive (`preciso_ops::archive`).

use crate::settings::Settings;
use anyhow::{Result, bail};
use preciso_ops::archive::{self, Archive};
use std::process::ExitCode;

fn open(settings: &Settings) -> Result<Archive> {
    if !settings.archive.enabled {
        bail!("archiving is off (archive.enabled = false)");
    }
    Ok(Archive::open(&settings.archive_url())?)
}

fn print_set(name: &str, keys: &[String]) {
    println!("{name}: {}", keys.len());
    for k in keys {
        println!("  {k}");
    }
}

/// `sample_percent`: 0 for a listing-only pass, 100 for a full deep pass.
pub fn verify(settings: &Settings, sample_percent: u8, json: bool) -> Result<ExitCode> {
    let archive = open(settings)?;
    let catalog = crate::backend::open(&settings.database_url())?;
    let r = archive::verify_sampled(&archive, catalog.as_ref(), sample_percent)?;
    let deep = r.deep;
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        println!(
            "archive {}: {} ledger files checked{}",
            archive.location,
            r.checked,
            if deep { " (deep)" } else { "" }
        );
        print_set("missing_in_archive", &r.missing_in_archive);
        print_set("orphan_in_archive", &r.orphan_in_archive);
        print_set("size_mismatch", &r.size_mismatch);
        if deep {
            print_set("hash_mismatch", &r.hash_mismatch);
        }
    }
    Ok(if r.is_clean() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

pub fn sync(
    settings: &Settings,
    dry_run: bool,
    delete_orphans: bool,
    json: bool,
) -> Result<ExitCode> {
    let archive = open(settings)?;
    let catalog = crate::backend::open(&settings.database_url())?;
    let sources = vec![settings.drop_dir().join("processed"), settings.drop_dir()];
    let r = archive::sync(&archive, catalog.as_ref(), &sources, dry_run, delete_orphans)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        let verb = if dry_run { "would upload" } else { "uploaded" };
        println!("{verb} {} file(s) to {}", r.uploaded.len(), archive.location);
        for k in &r.uploaded {
            println!("  {k}");
        }
        print_set("not found locally", &r.not_found_locally);
        for (k, e) in &r.failed {
            println!("failed {k}: {e}");
        }
        if delete_orphans {
            let verb = if dry_run { "would delete" } else { "deleted" };
            println!("{verb} {} orphan(s)", r.orphans_deleted.len());
        }
    }
    Ok(if r.failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
