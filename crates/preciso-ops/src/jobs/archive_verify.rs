//! The `archive-verify` job: reconciles the raw-file archive with the ledger every hour (its
//! sets feed the archive gauges).

use crate::archive::Archive;
use crate::job::{Job, JobContext, JobFailure, single_step, timed_step};
use preciso_core::ports::Catalog;
use preciso_core::runs::{StepReport, StepStatus};
use std::sync::Arc;

pub struct ArchiveVerifyJob {
    /// `None` when archiving is off: the step is then skipped.
    pub archive: Option<Arc<Archive>>,
    pub catalog: Arc<dyn Catalog>,
}

impl Job for ArchiveVerifyJob {
    fn run(&self, ctx: &JobContext) -> Result<Vec<StepReport>, JobFailure> {
        let (step, result) = timed_step("verify", |report| {
            let Some(archive) = &self.archive else {
                report.status = StepStatus::Skipped;
                return Ok(());
            };
            let r = crate::archive::verify(archive, self.catalog.as_ref(), false)
                .map_err(|e| e.to_string())?;
            report.counts.insert("checked".into(), r.checked);
            report.counts.insert("missing_in_archive".into(), r.missing_in_archive.len() as u64);
            report.counts.insert("orphan_in_archive".into(), r.orphan_in_archive.len() as u64);
            report.counts.insert("size_mismatch".into(), r.size_mismatch.len() as u64);
            if let Some(scheduler) = ctx.scheduler() {
                scheduler.set_reconciliation(r);
            }
            Ok(())
        });
        single_step(step, result, true)
    }
}
