//! `preciso jobs list|run`, `preciso runs list|show` and `preciso status`: the scheduler and its
//! history from the command line, against the same database a server uses.

use crate::settings::Settings;
use anyhow::{Context, Result, bail};
use preciso_core::runs::{RunFilter, RunRecord, RunStatus, Trigger};
use preciso_http::model::jobs::Run;
use preciso_ops::clock::from_millis;
use preciso_ops::jobs::JobDeps;
use preciso_ops::{Ops, Triggered};
use std::process::ExitCode;
use std::sync::Arc;

fn open_ops(settings: &Settings) -> Result<Arc<Ops>> {
    let catalog = crate::backend::open(&settings.database_url())?;
    let options = super::ingest::configured_options(settings, catalog.as_ref())?;
    Ok(crate::ops::build(settings, catalog, options)?.0)
}

/// The scheduler's view for commands that only read (jobs list, status): the catalog opened
/// read-only and nothing registered, so they answer on a full disk.
fn open_ops_read_only(settings: &Settings) -> Result<(Arc<Ops>, JobDeps)> {
    let catalog = crate::backend::open_read_only(&settings.database_url())?;
    let options = super::ingest::read_only_options(settings, catalog.as_ref())?;
    crate::ops::build(settings, catalog, options)
}

pub fn list(settings: &Settings, json: bool) -> Result<ExitCode> {
    let (ops, _) = open_ops_read_only(settings)?;
    let now = ops.now();
    if json {
        let items: Vec<_> =
            ops.jobs().iter().map(|j| preciso_http::model::jobs::JobInfo::new(j, now)).collect();
        println!("{}", serde_json::to_string_pretty(&items)?);
        return Ok(ExitCode::SUCCESS);
    }
    for job in ops.jobs() {
        match &job.schedule {
            Some(s) => {
                println!(
                    "{:<12} {:<18} {}  {}",
                    job.name,
                    s.expr(),
                    s.tz().name(),
                    job.description
                );
                for t in s.upcoming(now, 3) {
                    println!(
                        "{:14}next: {}  ({} UTC)",
                        "",
                        t.with_timezone(&s.tz()).format("%Y-%m-%d %H:%M:%S %Z"),
                        t.format("%Y-%m-%d %H:%M:%S")
                    );
                }
            }
            None => println!("{:<12} {:<18} {}", job.name, "(disabled)", job.description),
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run(settings: &Settings, name: &str, dry_run: bool, json: bool) -> Result<ExitCode> {
    let ops = open_ops(settings)?;
    let outcome = ops.run_blocking(name, Trigger::Manual, dry_run)?;
    let (ok, record) = match &outcome {
        Triggered::Started { run_id } => {
            let r = ops.catalog().run(*run_id)?.context("the run just recorded is missing")?;
            (r.status == RunStatus::Succeeded, Some(r))
        }
        Triggered::SkippedOverlap { .. } => (false, None),
        Triggered::DryRun { status, .. } => (*status == RunStatus::Succeeded, None),
    };
    if json {
        let value = match &record {
            Some(r) => serde_json::to_value(Run::from(r))?,
            None => serde_json::to_value(&outcome)?,
        };
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        match (&outcome, &record) {
            (_, Some(r)) => print_run(r),
            (Triggered::SkippedOverlap { run_id }, _) => {
                println!("{name}: skipped (run #{run_id}): the job already has an active run")
            }
            (Triggered::DryRun { status, error, steps }, _) => {
                println!("{name}: dry run {} — nothing was changed", status.as_str());
                if let Some(e) = error {
                    println!("  error: {e}");
                }
                for step in steps {
                    println!("  {:<40} {}", step.name, step.status);
                    for p in &step.planned {
                        println!("    would {p}");
                    }
                }
            }
            _ => {}
        }
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

pub fn runs(
    settings: &Settings,
    job: Option<String>,
    status: Option<&str>,
    limit: u32,
    json: bool,
) -> Result<ExitCode> {
    let catalog = crate::backend::open_read_only(&settings.database_url())?;
    let status = match status {
        Some(s) => Some(RunStatus::parse(s).with_context(|| format!("unknown run status {s:?}"))?),
        None => None,
    };
    if !(1..=1000).contains(&limit) {
        bail!("--limit must be between 1 and 1000");
    }
    let runs = catalog.runs(&RunFilter { job, status, limit, offset: 0 })?;
    if json {
        let items: Vec<_> = runs.iter().map(Run::from).collect();
        println!("{}", serde_json::to_string_pretty(&items)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:>6}  {:<12} {:<9} {:<16} {:<20} {:>3}  {:>9}  error",
        "id", "job", "trigger", "status", "scheduled for (UTC)", "att", "ms"
    );
    for r in &runs {
        println!(
            "{:>6}  {:<12} {:<9} {:<16} {:<20} {:>3}  {:>9}  {}",
            r.id,
            r.job,
            r.trigger.as_str(),
            r.status.as_str(),
            from_millis(r.scheduled_for).format("%Y-%m-%d %H:%M:%S"),
            r.attempt,
            r.duration_ms().map(|d| d.to_string()).unwrap_or_else(|| "-".into()),
            r.error.as_deref().unwrap_or("")
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn show(settings: &Settings, id: i64, json: bool) -> Result<ExitCode> {
    let catalog = crate::backend::open_read_only(&settings.database_url())?;
    let Some(r) = catalog.run(id)? else { bail!("no run {id}") };
    if json {
        println!("{}", serde_json::to_string_pretty(&Run::from(&r))?);
    } else {
        print_run(&r);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_run(r: &RunRecord) {
    println!(
        "run #{} {} ({}), scheduled for {} UTC: {} after {} attempt(s){}",
        r.id,
        r.job,
        r.trigger.as_str(),
        from_millis(r.scheduled_for).format("%Y-%m-%d %H:%M:%S"),
        r.status.as_str(),
        r.attempt,
        r.duration_ms().map(|d| format!(", {d} ms")).unwrap_or_default()
    );
    for a in &r.attempts {
        println!(
            "  attempt {}: {}{}",
            a.attempt,
            a.status.as_str(),
            a.error.as_ref().map(|e| format!(" — {e}")).unwrap_or_default()
        );
        for s in &a.steps {
            let counts: Vec<String> = s.counts.iter().map(|(k, v)| format!("{k}={v}")).collect();
            println!(
                "    {:<40} {:<12} {:>7} ms  {}{}",
                s.name,
                s.status,
                s.duration_ms,
                counts.join(" "),
                s.error.as_ref().map(|e| format!("  {e}")).unwrap_or_default()
            );
        }
    }
}

pub fn status(settings: &Settings, json: bool) -> Result<ExitCode> {
    let (ops, deps) = open_ops_read_only(settings)?;
    let doc = preciso_ops::status::build(ops.view(), &deps.status)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("preciso {} on {}", doc.version, doc.backend);
    let c = &doc.counts;
    println!(
        "catalog: {} stores, {} offers, {} products, {} price observations, {} ingest runs",
        c.stores, c.offers, c.products, c.price_observations, c.ingest_files
    );
    match &doc.last_ingest {
        Some(l) => println!(
            "last ingest: #{} {} {} (received {})",
            l.ledger_id,
            l.file,
            l.status.as_str(),
            l.received_at.format("%Y-%m-%d %H:%M:%S UTC")
        ),
        None => println!("last ingest: none"),
    }
    for j in &doc.jobs {
        let last = j
            .last_run
            .as_ref()
            .map(|r| {
                format!(
                    "#{} {} at {}",
                    r.id,
                    r.status.as_str(),
                    r.started_at.format("%Y-%m-%d %H:%M")
                )
            })
            .unwrap_or_else(|| "never".into());
        let next = j
            .next_run
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .unwrap_or_else(|| "disabled".into());
        println!("job {:<12} last: {last}; next: {next}", j.name);
    }
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    if disk_full(doc.disk.free_bytes, doc.disk.total_bytes) {
        println!(
            "WARNING: the data directory's file system is full ({} bytes free): ingests fail \
             until space is freed; runs left `running` by a failed ingest converge when re-run",
            doc.disk.free_bytes
        );
    }
    println!(
        "disk: {} uses {:.2} GiB; {:.1} GiB free of {:.1} GiB",
        doc.disk
            .data_dir
            .as_deref()
            .unwrap_or(std::path::Path::new("the data directory"))
            .display(),
        gib(doc.disk.used_bytes),
        gib(doc.disk.free_bytes),
        gib(doc.disk.total_bytes)
    );
    Ok(ExitCode::SUCCESS)
}

/// Less than 1% or 16 MiB free: what a failing ingest on a full disk looks like.
fn disk_full(free: u64, total: u64) -> bool {
    total > 0 && (free < 16 << 20 || free.saturating_mul(100) < total)
}
