//! The `status` job: writes the status document (`crate::status`) to `status.json` every few
//! minutes.

use crate::job::{Job, JobContext, JobFailure, timed_step};
use crate::status::{StatusInputs, build, write_atomically};
use preciso_core::runs::StepReport;
use std::path::PathBuf;

/// The `status` job: writes the status document to `status.json` every few minutes.
pub struct StatusJob {
    pub path: PathBuf,
    pub inputs: StatusInputs,
}

impl Job for StatusJob {
    fn run(&self, ctx: &JobContext) -> Result<Vec<StepReport>, JobFailure> {
        let (mut step, written) = timed_step("write status.json", |_| {
            let ops = ctx.scheduler().ok_or("the status job runs within a scheduler")?;
            let doc = build(ops, &self.inputs).map_err(|e| e.to_string())?;
            let bytes = serde_json::to_vec_pretty(&doc).map_err(|e| e.to_string())?;
            if !ctx.dry_run {
                write_atomically(&self.path, &bytes)
                    .map_err(|e| format!("{}: {e}", self.path.display()))?;
            }
            Ok(bytes.len())
        });
        match written {
            Ok(n) => {
                step.counts.insert("bytes".into(), n as u64);
                if ctx.dry_run {
                    step.planned.push(format!("write {}", self.path.display()));
                }
                Ok(vec![step])
            }
            Err(error) => Err(JobFailure { error, steps: vec![step], retryable: true }),
        }
    }
}
