//! The `analyze` job: the forensic data-quality analysis of the whole catalog
//! (docs/QUALITY.md), daily. Each run is also an analysis run (`GET /api/forensic/list`,
//! trigger `schedule`): its report is kept and its store scores enter the history. Each
//! store's score goes to `preciso_quality_score{store}` (and the offers-weighted overall to
//! `preciso_quality_overall_score`); the run's step counts the checks by outcome.

use crate::forensic::{self, AnalyzeError};
use crate::job::{Job, JobContext, JobFailure, single_step, timed_step};
use preciso_core::ports::Catalog;
use preciso_core::quality::Outcome;
use preciso_core::quality::config::CheckConfig;
use preciso_core::quality::engine::Report;
use preciso_core::quality::runs::AnalysisRequest;
use preciso_core::runs::StepReport;
use std::sync::Arc;

pub struct AnalyzeJob {
    pub catalog: Arc<dyn Catalog>,
    /// Every check with its settings.
    pub checks: Vec<CheckConfig>,
}

impl AnalyzeJob {
    /// A dry run analyses and records nothing; a real one is stored like an API run.
    fn analyze(&self, ctx: &JobContext) -> Result<Report, AnalyzeError> {
        let whole = AnalysisRequest::default();
        let now_ms = || ctx.now().timestamp_millis();
        if ctx.dry_run {
            return forensic::analyze(
                self.catalog.as_ref(),
                &self.checks,
                &whole,
                ctx.now().timestamp(),
                &mut |_, _| true,
            );
        }
        let owner = crate::service::owner_id();
        let id = self.catalog.begin_analysis(&whole, "schedule", &owner, now_ms())?;
        forensic::run_recorded(self.catalog.as_ref(), &self.checks, id, &whole, &now_ms)
    }
}

impl Job for AnalyzeJob {
    fn run(&self, ctx: &JobContext) -> Result<Vec<StepReport>, JobFailure> {
        let (step, result) = timed_step("analyze", |report| {
            let r = self.analyze(ctx).map_err(|e| e.to_string())?;
            report.counts.insert("offers".into(), r.stores.iter().map(|s| s.offers).sum());
            for (name, outcome) in [
                ("checks_passed", Outcome::Pass),
                ("checks_warned", Outcome::Warn),
                ("checks_failed", Outcome::Fail),
                ("checks_not_evaluated", Outcome::NotEvaluated),
            ] {
                let n = r.checks.iter().filter(|c| c.outcome == outcome).count() as u64;
                report.counts.insert(name.into(), n);
            }
            // A dry run reports what it found and changes nothing, metrics included.
            if let (false, Some(telemetry)) = (ctx.dry_run, ctx.telemetry()) {
                telemetry.quality_scores(&r);
            }
            Ok(())
        });
        single_step(step, result, false)
    }
}
