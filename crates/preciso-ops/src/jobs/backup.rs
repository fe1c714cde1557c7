//! The `backup` job and `preciso backup create`: a snapshot into the backup directory, then the
//! keep policy (never applied to the backup just written).

use crate::backup::{self, BackupError, BackupFile, KeepPolicy, Manifest, Source};
use crate::job::{Job, JobContext, JobFailure, single_step, timed_step};
use preciso_core::ports::Catalog;
use preciso_core::runs::{StepReport, StepStatus};
use std::path::PathBuf;
use std::sync::Arc;

/// Where backups go and how many stay.
#[derive(Debug, Clone)]
pub struct BackupPlace {
    pub dir: PathBuf,
    pub keep: KeepPolicy,
    /// This build and backend, written into each manifest.
    pub source: Source<'static>,
}

impl BackupPlace {
    /// Backs up `catalog`, then prunes by the keep policy. Returns the new backup, its
    /// manifest and what was pruned.
    pub fn create(
        &self,
        catalog: &dyn Catalog,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(BackupFile, Manifest, Vec<BackupFile>), BackupError> {
        let (file, manifest) = backup::create(catalog, &self.dir, &self.source, now)?;
        let pruned = backup::prune(&self.dir, &self.keep, Some(&file.path))?;
        Ok((file, manifest, pruned))
    }

    /// The backups the keep policy drops: deleted, or with `dry_run` only listed.
    pub fn prune(&self, dry_run: bool) -> Result<Vec<BackupFile>, BackupError> {
        if dry_run {
            Ok(backup::to_prune(&backup::list(&self.dir)?, &self.keep, None))
        } else {
            backup::prune(&self.dir, &self.keep, None)
        }
    }
}

pub struct BackupJob {
    pub catalog: Arc<dyn Catalog>,
    pub place: BackupPlace,
}

impl Job for BackupJob {
    fn run(&self, ctx: &JobContext) -> Result<Vec<StepReport>, JobFailure> {
        if ctx.dry_run {
            let mut step = StepReport {
                name: "backup".into(),
                status: StepStatus::Succeeded,
                ..Default::default()
            };
            step.planned.push(format!("write a backup into {}", self.place.dir.display()));
            for b in self.place.prune(true).unwrap_or_default() {
                step.planned.push(format!("delete {} (keep policy)", b.path.display()));
            }
            return Ok(vec![step]);
        }
        let (step, result) = timed_step("backup", |report| {
            let (file, manifest, pruned) =
                self.place.create(self.catalog.as_ref(), ctx.now()).map_err(|e| e.to_string())?;
            report.counts.insert("bytes".into(), file.size);
            report.counts.insert("rows".into(), manifest.rows());
            report.counts.insert("pruned".into(), pruned.len() as u64);
            Ok(())
        });
        single_step(step, result, true)
    }
}
