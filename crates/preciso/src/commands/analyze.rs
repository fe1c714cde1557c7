//! `preciso analyze`: the forensic data-quality analysis of the catalog (docs/QUALITY.md) — the
//! same run as the scheduled job and the API's (`preciso_ops::forensic::analyze`), the report
//! on standard output or `--output` as JSON (canonical), CSV (one row per example) or one
//! self-contained HTML page, and an exit status cron and CI can gate on: 0 pass, 3 warn,
//! 4 fail. It reads the catalog only: the run is not added to the history.

use crate::cli::{AnalyzeArgs, ReportFormat};
use crate::settings::Settings;
use anyhow::{Context, Result};
use chrono::Utc;
use indicatif::{ProgressBar, ProgressStyle};
use preciso_core::quality::Outcome;
use preciso_core::quality::runs::{AnalysisRequest, PHASES};
use preciso_ops::forensic::{self, AnalyzeError};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

fn progress_bar() -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(100);
    bar.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos:>3}% {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

pub fn run(settings: &Settings, args: &AnalyzeArgs) -> Result<ExitCode> {
    let checks = settings.quality_checks()?;
    let request = AnalysisRequest {
        store: args.store.clone(),
        category: args.category.clone(),
        since: args.since.clone(),
        as_of: args.as_of.clone(),
    };
    // Bad arguments are usage errors before the database is opened.
    forensic::resolve(&request, 0)
        .map_err(|e| anyhow::anyhow!("--{}: {}", e.field.replace('_', "-"), e.message))?;
    let catalog = crate::backend::open_read_only(&settings.database_url())?;
    let bar = progress_bar();
    let report = forensic::analyze(
        catalog.as_ref(),
        &checks,
        &request,
        Utc::now().timestamp(),
        &mut |phase, percent| {
            bar.set_message(PHASES[usize::from(phase.clamp(1, 5)) - 1]);
            bar.set_position(u64::from(percent));
            true
        },
    )
    .map_err(|e| match e {
        AnalyzeError::Store(e) => anyhow::Error::new(e),
        other => anyhow::anyhow!("{other}"),
    })?;
    bar.finish_and_clear();
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    match args.format {
        ReportFormat::Json => out.write_all(forensic::canonical_json(&report).as_bytes())?,
        ReportFormat::Csv => preciso_http::views::quality::report_csv(&report, &mut out)?,
        ReportFormat::Html => {
            out.write_all(preciso_http::views::quality::report_html(&report).as_bytes())?
        }
    }
    out.flush()?;
    Ok(ExitCode::from(match forensic::overall_outcome(&report) {
        Outcome::Fail => 4,
        Outcome::Warn => 3,
        _ => 0,
    }))
}
