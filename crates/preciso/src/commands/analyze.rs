//! `preciso analyze`: the forensic data-quality analysis of the catalog (docs/QUALITY.md) — the
//! scope's offers and histories streamed from the store into the engine, the report on
//! standard output or `--output` as JSON (canonical), CSV (one row per example) or one
//! self-contained HTML page, and an exit
//! status cron and CI can gate on: 0 pass, 3 warn, 4 fail.

use crate::cli::{AnalyzeArgs, ReportFormat};
use crate::settings::Settings;
use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use preciso_core::domain::{StoreId, category_key};
use preciso_core::ports::QualityScope;
use preciso_core::quality::Outcome;
use preciso_core::quality::engine::{Analysis, Report};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

/// RFC 3339, or a date (midnight UTC).
fn parse_time(what: &str, raw: &str) -> Result<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw.trim()) {
        return Ok(t.timestamp());
    }
    let date = NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .with_context(|| format!("--{what}: expected RFC 3339 or YYYY-MM-DD, got {raw:?}"))?;
    Ok(date.and_hms_opt(0, 0, 0).map_or(0, |t| t.and_utc().timestamp()))
}

fn scope(args: &AnalyzeArgs) -> Result<QualityScope> {
    Ok(QualityScope {
        store: args
            .store
            .as_deref()
            .map(StoreId::parse)
            .transpose()
            .context("--store: not a store name")?,
        category: args.category.as_deref().map(category_key).filter(|k| !k.is_empty()),
        since: args.since.as_deref().map(|s| parse_time("since", s)).transpose()?,
    })
}

/// The worst outcome's exit status: 4 for a failure, 3 for a warning, else 0.
fn exit_status(report: &Report) -> u8 {
    let any = |o: Outcome| report.checks.iter().any(|c| c.outcome == o);
    if any(Outcome::Fail) {
        4
    } else if any(Outcome::Warn) {
        3
    } else {
        0
    }
}

fn spinner() -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} analyzing: {pos} offers ({per_sec})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar
}

pub fn run(settings: &Settings, args: &AnalyzeArgs) -> Result<ExitCode> {
    let checks = settings.quality_checks()?;
    let scope = scope(args)?;
    let as_of = match &args.as_of {
        Some(t) => parse_time("as-of", t)?,
        None => Utc::now().timestamp(),
    };
    let catalog = crate::backend::open_read_only(&settings.database_url())?;
    let mut analysis = Analysis::new(&checks, as_of);
    if let Some(key) = &scope.category {
        analysis.scope_category(key);
    }
    let bar = spinner();
    catalog.quality_rows(&scope, &mut |offer, history| {
        let facts = offer.facts();
        analysis.offer(&facts);
        analysis.history(&facts, history);
        bar.inc(1);
        Ok(())
    })?;
    bar.finish_and_clear();
    let report = analysis.finish();
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    match args.format {
        ReportFormat::Json => {
            // Through a `Value`, whose maps sort their keys: the canonical form.
            serde_json::to_writer_pretty(&mut out, &serde_json::to_value(&report)?)?;
            writeln!(out)?;
        }
        ReportFormat::Csv => preciso_http::views::quality::report_csv(&report, &mut out)?,
        ReportFormat::Html => {
            out.write_all(preciso_http::views::quality::report_html(&report).as_bytes())?
        }
    }
    out.flush()?;
    Ok(ExitCode::from(exit_status(&report)))
}
