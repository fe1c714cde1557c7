//! The `analyze` job: the forensic data-quality analysis of the whole catalog
//! (docs/QUALITY.md), daily; each store's score goes to `preciso_quality_score{store}` (and the
//! offers-weighted overall to `preciso_quality_overall_score`), and the run's step counts the
//! checks by outcome.

use crate::job::{Job, JobContext, JobFailure, single_step, timed_step};
use preciso_core::ports::{Catalog, QualityScope};
use preciso_core::quality::Outcome;
use preciso_core::quality::config::CheckConfig;
use preciso_core::quality::engine::Analysis;
use preciso_core::runs::StepReport;
use std::sync::Arc;

pub struct AnalyzeJob {
    pub catalog: Arc<dyn Catalog>,
    /// Every check with its settings.
    pub checks: Vec<CheckConfig>,
}

impl Job for AnalyzeJob {
    fn run(&self, ctx: &JobContext) -> Result<Vec<StepReport>, JobFailure> {
        let (step, result) = timed_step("analyze", |report| {
            let mut analysis = Analysis::new(&self.checks, ctx.now().timestamp());
            self.catalog
                .quality_rows(&QualityScope::default(), &mut |offer, history| {
                    let facts = offer.facts();
                    analysis.offer(&facts);
                    analysis.history(&facts, history);
                    Ok(())
                })
                .map_err(|e| e.to_string())?;
            let r = analysis.finish();
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
                let scores: Vec<(String, f64)> =
                    r.stores.iter().map(|s| (s.store.clone(), s.score)).collect();
                telemetry.quality_scores(&scores, r.overall_score);
            }
            Ok(())
        });
        single_step(step, result, false)
    }
}
