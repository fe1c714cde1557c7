//! `preciso ingest`: builds the pipeline's options from settings and flags, expands paths,
//! runs each file and prints one summary (human or `--json`).

use crate::cli::IngestArgs;
use crate::settings::Settings;
use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use preciso_core::domain::{Currency, IngestCounts, StoreId};
use preciso_core::ports::CatalogStore;
use preciso_ingest::{
    FieldMap, IngestOptions, IngestReport, IngestSource, RecordContext, ReportStatus, ingest,
};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

pub fn run(settings: &Settings, args: &IngestArgs) -> Result<ExitCode> {
    let store = crate::backend::open(&settings.database_url())?;
    let opts = options(settings, store.as_ref(), args)?;
    let sources = expand(settings, &args.paths)?;
    let reports = ingest_all(store.as_ref(), &sources, &opts, !args.json)?;
    let failed = reports.iter().any(|r| r.status == ReportStatus::Failed);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json_summary(&reports))?);
    } else {
        for r in &reports {
            print_report(r);
        }
        if reports.len() > 1 {
            print_total(&reports);
        }
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// Runs every source; a failing file is reported and the others still run.
pub fn ingest_all(
    store: &dyn CatalogStore,
    sources: &[IngestSource],
    opts: &IngestOptions,
    show_progress: bool,
) -> Result<Vec<IngestReport>> {
    let mut reports = Vec::new();
    for source in sources {
        let bar = progress_bar(source, show_progress);
        let result = ingest(store, source, opts, &|bytes| bar.set_position(bytes));
        bar.finish_and_clear();
        reports.push(match result {
            Ok(r) => r,
            Err(e) => failed_report(source, &e.to_string()),
        });
    }
    Ok(reports)
}

/// The pipeline settings from configuration alone (no command-line overrides): what the
/// server's uploads, the scheduled ingest jobs and the demo use.
pub fn configured_options(settings: &Settings, store: &dyn CatalogStore) -> Result<IngestOptions> {
    configured_options_with(settings, store, true)
}

fn configured_options_with(
    settings: &Settings,
    store: &dyn CatalogStore,
    register: bool,
) -> Result<IngestOptions> {
    let args = IngestArgs {
        paths: vec![],
        store: None,
        format: None,
        currency: None,
        dry_run: false,
        force: false,
        json: false,
        batch_size: None,
        backfill: false,
    };
    options_with(settings, store, &args, register)
}

/// `configured_options` without registering the configured stores (which writes): for
/// commands that only read.
pub fn read_only_options(settings: &Settings, store: &dyn CatalogStore) -> Result<IngestOptions> {
    let mut opts = configured_options_with(settings, store, false)?;
    opts.dry_run = true;
    Ok(opts)
}

pub fn options(
    settings: &Settings,
    store: &dyn CatalogStore,
    args: &IngestArgs,
) -> Result<IngestOptions> {
    options_with(settings, store, args, true)
}

fn options_with(
    settings: &Settings,
    store: &dyn CatalogStore,
    args: &IngestArgs,
    register: bool,
) -> Result<IngestOptions> {
    let default_store = args.store.as_deref().map(StoreId::parse).transpose().context("--store")?;
    let default_currency = match &args.currency {
        Some(c) => Some(Currency::parse(c).context("--currency")?),
        None => settings.default_currency()?,
    };
    let mut context = base_context(settings, store, register)?;
    context.default_store = default_store.clone();
    context.default_currency = default_currency;
    let fields = match default_store.as_ref().and_then(|s| settings.stores.get(s.as_str())) {
        Some(cfg) => {
            FieldMap::with_overrides(cfg.mapping.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .map_err(anyhow::Error::msg)?
        }
        None => FieldMap::default(),
    };
    let batch_size = args.batch_size.unwrap_or(settings.ingest.batch_size);
    if !(1..=100_000).contains(&batch_size) {
        bail!("--batch-size must be between 1 and 100000");
    }
    Ok(IngestOptions {
        format: args.format.map(Into::into),
        dry_run: args.dry_run,
        force: args.force,
        batch_size,
        rejects_dir: settings.rejects_dir(),
        fields,
        context,
        cancel: None,
        backfill: args.backfill || settings.ingest.backfill,
    })
}

/// Store currencies and time zones from the catalog and the config (config wins), after
/// registering the configured stores (when `register`).
pub fn base_context(
    settings: &Settings,
    store: &dyn CatalogStore,
    register: bool,
) -> Result<RecordContext> {
    let mut store_currency = HashMap::new();
    let mut store_timezone = HashMap::new();
    for s in store.stores()? {
        if let Some(c) = s.currency {
            store_currency.insert(s.id, c);
        }
    }
    for (s, tz, _) in settings.configured_stores() {
        if register {
            store.upsert_store(&s)?;
        }
        if let Some(c) = s.currency {
            store_currency.insert(s.id.clone(), c);
        }
        if let Some(tz) = tz {
            store_timezone.insert(s.id, tz);
        }
    }
    Ok(RecordContext {
        default_store: None,
        default_currency: settings.default_currency()?,
        store_currency,
        store_aliases: settings.store_aliases()?,
        store_timezone,
        default_timezone: settings.default_timezone()?,
        ingest_time: chrono::Utc::now().timestamp(),
    })
}

/// Files as given, directories walked (sorted, data extensions only), `-` spooled to disk so
/// it can be hashed before it is read.
fn expand(settings: &Settings, paths: &[PathBuf]) -> Result<Vec<IngestSource>> {
    let mut out = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            out.push(spool_stdin(settings)?);
        } else if p.is_dir() {
            let mut files = Vec::new();
            walk(p, &mut files).with_context(|| format!("reading directory {}", p.display()))?;
            files.sort();
            out.extend(
                files.into_iter().map(|f| IngestSource { name: f.display().to_string(), path: f }),
            );
        } else if p.is_file() {
            out.push(IngestSource { name: p.display().to_string(), path: p.clone() });
        } else {
            bail!("{}: no such file or directory", p.display());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if preciso_ingest::Format::from_path(&path).is_some() {
            out.push(path);
        }
    }
    Ok(())
}

fn spool_stdin(settings: &Settings) -> Result<IngestSource> {
    let dir = settings.data_dir.join("incoming");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(format!("stdin-{}.spool", chrono::Utc::now().format("%Y%m%dT%H%M%S%.f")));
    let mut file =
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    std::io::copy(&mut std::io::stdin().lock(), &mut file).context("reading stdin")?;
    Ok(IngestSource { path, name: "stdin".into() })
}

fn progress_bar(source: &IngestSource, show: bool) -> ProgressBar {
    if !show || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let size = std::fs::metadata(&source.path).map(|m| m.len()).unwrap_or(0);
    let bar = ProgressBar::new(size);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(source.name.clone());
    bar
}

fn failed_report(source: &IngestSource, error: &str) -> IngestReport {
    IngestReport {
        file: source.name.clone(),
        sha256: String::new(),
        size: 0,
        format: None,
        status: ReportStatus::Failed,
        ledger_id: None,
        counts: IngestCounts::default(),
        unknown_fields: 0,
        warnings: Default::default(),
        rejects_file: None,
        reject_samples: Vec::new(),
        duration_secs: 0.0,
        records_per_sec: 0.0,
        error: Some(error.to_string()),
    }
}

fn total(reports: &[IngestReport]) -> (IngestCounts, f64) {
    let mut counts = IngestCounts::default();
    let mut secs = 0.0;
    for r in reports {
        counts.add(&r.counts);
        secs += r.duration_secs;
    }
    (counts, secs)
}

fn json_summary(reports: &[IngestReport]) -> serde_json::Value {
    let (counts, secs) = total(reports);
    serde_json::json!({
        "files": reports,
        "total": {
            "counts": counts,
            "duration_secs": secs,
            "records_per_sec": if secs > 0.0 { counts.read as f64 / secs } else { 0.0 },
            "failed_files": reports.iter().filter(|r| r.status == ReportStatus::Failed).count(),
        }
    })
}

fn counts_line(c: &IngestCounts) -> String {
    format!(
        "read {} · inserted {} · updated {} · unchanged {} · duplicate {} · rejected {}",
        c.read, c.inserted, c.updated, c.unchanged, c.duplicate, c.rejected
    )
}

fn print_report(r: &IngestReport) {
    let ledger = r.ledger_id.map(|id| format!(" (ledger #{id})")).unwrap_or_default();
    println!("{}: {}{ledger}", r.file, r.status);
    if let Some(e) = &r.error {
        println!("  {e}");
    }
    if r.status == ReportStatus::Skipped || r.status == ReportStatus::Failed && r.counts.read == 0 {
        return;
    }
    println!("  {}", counts_line(&r.counts));
    if r.unknown_fields > 0 {
        println!("  unknown fields ignored: {}", r.unknown_fields);
    }
    for (what, n) in &r.warnings {
        println!("  dropped optional field {what}: {n}");
    }
    if let Some(p) = &r.rejects_file {
        println!("  rejects: {}", p.display());
    }
    for s in &r.reject_samples {
        println!("    line {}: {} — {}", s.line, s.field.unwrap_or("record"), s.reason);
    }
    println!("  {:.2} s · {:.0} records/s", r.duration_secs, r.records_per_sec);
}

fn print_total(reports: &[IngestReport]) {
    let (counts, secs) = total(reports);
    println!("total: {} files", reports.len());
    println!("  {}", counts_line(&counts));
    println!("  {secs:.2} s");
}
