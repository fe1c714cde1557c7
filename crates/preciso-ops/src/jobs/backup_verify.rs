//! The `backup-verify` job and `preciso backup verify`: the restore drill of a backup
//! (docs/OPERATIONS.md O18) — its hashes, then a restore into a scratch database with integrity
//! checks and per-table counts compared with the manifest; a full pass is recorded beside the
//! backup.

use crate::backup::{self, BackupError, Manifest};
use crate::job::{Job, JobContext, JobFailure, single_step, timed_step};
use preciso_core::ports::{Catalog, StoreError};
use preciso_core::runs::StepReport;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A scratch database a drill restores into.
pub trait Scratch {
    fn catalog(&self) -> &dyn Catalog;
    /// What the database's own checks find wrong (integrity, foreign keys); empty when sound.
    fn integrity_problems(&self) -> Result<Vec<String>, StoreError>;
}

/// Opens an empty scratch database at a path (the binary's choice of backend).
pub type ScratchOpener = Arc<dyn Fn(&Path) -> Result<Box<dyn Scratch>, StoreError> + Send + Sync>;

/// How drills run: where scratch databases go, how they are opened, which schema this build has.
#[derive(Clone)]
pub struct Drill {
    /// Parent of the scratch directories (the data directory: same disk as the catalog).
    pub scratch_in: PathBuf,
    pub open: ScratchOpener,
    pub schema_version: &'static str,
}

#[derive(Debug, thiserror::Error)]
pub enum DrillError {
    #[error(transparent)]
    Backup(#[from] BackupError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("creating a scratch directory: {0}")]
    Scratch(std::io::Error),
    #[error("{path}: the restored database is not sound: {problems}")]
    Unsound { path: String, problems: String },
    #[error("{path}: table {table} restored {restored} rows, the manifest says {expected}")]
    Count { path: String, table: String, restored: u64, expected: u64 },
}

impl Drill {
    /// Checks the backup at `path`: hashes only with `quick`, else the whole drill.
    pub fn verify(
        &self,
        path: &Path,
        quick: bool,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Manifest, DrillError> {
        let _in_use = backup::InUse::mark(path);
        let manifest = backup::check_hashes(path)?;
        if quick {
            return Ok(manifest);
        }
        // Removed when the drill ends, whichever way.
        let dir = tempfile::Builder::new()
            .prefix(".verify-")
            .tempdir_in(&self.scratch_in)
            .or_else(|_| tempfile::tempdir())
            .map_err(DrillError::Scratch)?;
        let scratch = (self.open)(&dir.path().join("scratch.sqlite"))?;
        backup::restore(path, scratch.catalog(), self.schema_version)?;
        let problems = scratch.integrity_problems()?;
        let shown = path.display().to_string();
        if !problems.is_empty() {
            return Err(DrillError::Unsound { path: shown, problems: problems.join("; ") });
        }
        let mut counts = BTreeMap::<String, u64>::new();
        scratch.catalog().snapshot(&mut |t, _| {
            *counts.entry(t.to_string()).or_default() += 1;
            Ok(())
        })?;
        for part in &manifest.tables {
            let restored = counts.get(&part.name).copied().unwrap_or(0);
            if restored != part.rows {
                return Err(DrillError::Count {
                    path: shown,
                    table: part.name.clone(),
                    restored,
                    expected: part.rows,
                });
            }
        }
        backup::mark_verified(path, now)?;
        Ok(manifest)
    }
}

pub struct BackupVerifyJob {
    /// The backup directory; the job drills its newest backup.
    pub dir: PathBuf,
    pub drill: Drill,
}

impl Job for BackupVerifyJob {
    fn run(&self, ctx: &JobContext) -> Result<Vec<StepReport>, JobFailure> {
        let (step, result) = timed_step("verify", |report| {
            let newest = backup::list(&self.dir)
                .map_err(|e| e.to_string())?
                .into_iter()
                .next()
                .ok_or_else(|| "no backup to verify".to_string())?;
            if ctx.dry_run {
                report.planned.push(format!("verify {}", newest.path.display()));
                return Ok(());
            }
            let manifest =
                self.drill.verify(&newest.path, false, ctx.now()).map_err(|e| e.to_string())?;
            report.counts.insert("rows".into(), manifest.rows());
            Ok(())
        });
        single_step(step, result, false)
    }
}
