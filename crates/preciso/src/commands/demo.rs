//! `preciso demo`: the main job on the embedded default, end to end. It generates two scrape
//! runs of sample data (a day apart, ~5% of prices changed), ingests both into the SQLite
//! catalog under the data directory, ingests the first again to show it is skipped, and
//! prints what the catalog holds.

use crate::cli::{DemoArgs, FormatArg, GenArgs};
use crate::settings::{Settings, StoreSettings};
use anyhow::{Context, Result};
use preciso_ingest::IngestSource;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::ExitCode;

pub fn run(settings: &Settings, args: &DemoArgs) -> Result<ExitCode> {
    let settings = &with_generated_stores(settings, args.stores);
    let dir = settings.data_dir.join("demo");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let store = crate::backend::open(&settings.database_url())?;
    let opts = super::ingest::configured_options(settings, store.as_ref())?;
    let mut sources = Vec::new();
    for run in 0..2 {
        let path = dir.join(format!("scrape-run{run}.jsonl"));
        let gen_args = GenArgs {
            offers: args.offers,
            stores: args.stores,
            seed: 7,
            format: FormatArg::Jsonl,
            run,
            invalid_permille: 10,
            duplicate_permille: 10,
            unique_products: false,
            out: None,
        };
        let mut w = BufWriter::new(
            File::create(&path).with_context(|| format!("creating {}", path.display()))?,
        );
        preciso_ingest::generate(&super::generate::options(&gen_args), &mut w)?;
        w.flush()?;
        sources.push(IngestSource { name: path.display().to_string(), path });
    }
    // The first file again: same content, so the ledger skips it.
    sources.push(sources[0].clone());
    println!("== ingest: {} generated records per run, {} stores ==", args.offers, args.stores);
    for (label, source) in
        ["run 0 (fresh)", "run 1 (a day later)", "run 0 again"].iter().zip(&sources)
    {
        let report =
            super::ingest::ingest_all(store.as_ref(), std::slice::from_ref(source), &opts, true)?
                .remove(0);
        println!(
            "{label:<20} {:<8} read {:>7}  inserted {:>7}  updated {:>6}  unchanged {:>7}  duplicate {:>5}  rejected {:>5}  {:>8.0} rec/s",
            report.status,
            report.counts.read,
            report.counts.inserted,
            report.counts.updated,
            report.counts.unchanged,
            report.counts.duplicate,
            report.counts.rejected,
            report.records_per_sec
        );
        if let Some(p) = &report.rejects_file {
            println!("{:<20} rejects kept in {}", "", p.display());
        }
    }
    let counts = store.counts()?;
    println!("\n== catalog ({}) ==", settings.database_url());
    println!(
        "stores {} · offers {} · products {} · price observations {} · ledger rows {}",
        counts.stores,
        counts.offers,
        counts.products,
        counts.price_observations,
        counts.ingest_files
    );
    println!("\n{:<22} {:>8} {:>11} {:>9}", "store", "offers", "categories", "in stock");
    for s in store.store_summaries()? {
        println!("{:<22} {:>8} {:>11} {:>9}", s.store.as_str(), s.offers, s.categories, s.in_stock);
    }
    if args.no_serve {
        println!(
            "\nNext: `preciso serve`, or `preciso ingest FILE...` with your own data (see README)."
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut settings = settings.clone();
    if let Some(l) = &args.listen {
        settings.http.listen = l.clone();
    }
    let example = store.categories()?.into_iter().max_by_key(|c| c.offers).map(|c| c.key);
    drop(store);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(super::serve::serve(&settings, |addr| {
        let base = format!("http://{addr}");
        println!("\n== serving on {base} (Ctrl-C to stop) ==");
        println!("  web UI: {base}/");
        println!("  {base}/api/categories");
        if let Some(k) = &example {
            println!("  {base}/api/best-prices/{k}");
            println!("  {base}/api/reports/price-analysis/{k}");
        }
        println!("  {base}/api/ranked-offers?limit=5");
        println!("  {base}/api/trending-offers?days=90");
        println!("  {base}/api/reports/store-comparison");
        println!("  {base}/api/openapi.json   {base}/metrics   {base}/health");
    }))?;
    Ok(ExitCode::SUCCESS)
}

/// The settings with the stores the generator writes configured (name and currency), as a
/// team configures the stores it scrapes: records that name a store by its name instead of
/// its slug (the generator does it in ~30% of records) land in that store.
fn with_generated_stores(settings: &Settings, stores: u32) -> Settings {
    let mut settings = settings.clone();
    for i in 0..stores {
        let (slug, name, currency) = preciso_ingest::r#gen::store_for(i);
        settings.stores.entry(slug).or_insert_with(|| StoreSettings {
            name: Some(name),
            currency: Some(currency.to_string()),
            ..StoreSettings::default()
        });
    }
    settings
}
