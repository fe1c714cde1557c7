//! `preciso copy --from URL --to URL`: moves the whole catalog (stores, products, offers,
//! history, ledger, users, keys) between backends, table by table in batches, refusing a
//! non-empty target unless `--force` (which empties it first).

use anyhow::{Context, Result, bail};
use preciso_core::ports::{Catalog, Cell};
use preciso_core::query::PageRequest;
use preciso_sql::tables::TABLES;
use std::process::ExitCode;

const BATCH: usize = 10_000;

/// Whether the catalog holds nothing a copy or restore would overwrite.
pub(crate) fn is_empty(c: &dyn Catalog) -> Result<bool> {
    let counts = c.counts()?;
    Ok(counts == Default::default()
        && c.users(PageRequest::default())?.total == 0
        && c.api_keys()?.is_empty())
}

/// Copies every table; returns (table, rows) in load order.
pub fn copy_catalog(
    from: &dyn Catalog,
    to: &dyn Catalog,
    force: bool,
) -> Result<Vec<(&'static str, u64)>> {
    if !is_empty(to)? {
        if !force {
            bail!("the target database is not empty; pass --force to replace its contents");
        }
        to.clear().context("emptying the target")?;
    }
    let mut report = Vec::new();
    for t in TABLES {
        let mut batch: Vec<Vec<Cell>> = Vec::with_capacity(BATCH);
        let n = from.dump(t.name, &mut |row| {
            batch.push(row);
            if batch.len() >= BATCH {
                to.load(t.name, &batch)?;
                batch.clear();
            }
            Ok(())
        })?;
        to.load(t.name, &batch)?;
        report.push((t.name, n));
    }
    to.after_load()?;
    Ok(report)
}

pub fn run(from_url: &str, to_url: &str, force: bool) -> Result<ExitCode> {
    let from = crate::backend::open(from_url).context("--from")?;
    let to = crate::backend::open(to_url).context("--to")?;
    let started = std::time::Instant::now();
    for (table, rows) in copy_catalog(from.as_ref(), to.as_ref(), force)? {
        println!("{table:<16} {rows:>10} rows");
    }
    println!("copied in {:.2} s", started.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}
