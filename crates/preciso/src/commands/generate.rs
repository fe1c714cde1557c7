//! `preciso gen`: deterministic messy sample data on stdout or into a file.

use crate::cli::{FormatArg, GenArgs};
use anyhow::{Context, Result};
use preciso_ingest::{GenFormat, GenOptions, generate};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::ExitCode;

pub fn options(args: &GenArgs) -> GenOptions {
    GenOptions {
        offers: args.offers,
        stores: args.stores.max(1),
        seed: args.seed,
        format: match args.format {
            FormatArg::Json => GenFormat::Json,
            FormatArg::Jsonl => GenFormat::Jsonl,
            FormatArg::Csv => GenFormat::Csv,
        },
        run: args.run,
        invalid_ratio_permille: args.invalid_permille,
        duplicate_ratio_permille: args.duplicate_permille,
        unique_products: args.unique_products,
    }
}

pub fn run(args: &GenArgs) -> Result<ExitCode> {
    let opts = options(args);
    let stats = match &args.out {
        Some(path) => {
            let file =
                File::create(path).with_context(|| format!("creating {}", path.display()))?;
            let mut w = BufWriter::with_capacity(1 << 20, file);
            let stats = generate(&opts, &mut w)?;
            w.flush()?;
            stats
        }
        None => {
            let mut w = BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
            let stats = generate(&opts, &mut w)?;
            w.flush()?;
            stats
        }
    };
    eprintln!(
        "generated {} records ({} invalid, {} duplicates)",
        stats.records, stats.invalid, stats.duplicates
    );
    Ok(ExitCode::SUCCESS)
}
