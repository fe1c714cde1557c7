//! `preciso stores [merge FROM INTO]`: the stores with their offer counts and the names
//! records gave each (where a scraper splits one store in two), and the merge that joins
//! them.

use anyhow::{Context, Result};
use preciso_core::domain::StoreId;
use preciso_core::ports::{Catalog, SeenName};
use std::process::ExitCode;

#[derive(serde::Serialize)]
struct Listed {
    id: StoreId,
    name: String,
    offers: u64,
    names_seen: Vec<Seen>,
}

#[derive(serde::Serialize)]
struct Seen {
    name: String,
    records: u64,
}

pub fn list(catalog: &dyn Catalog, json: bool) -> Result<ExitCode> {
    let summaries = catalog.store_summaries()?;
    let names = catalog.store_names()?;
    let listed: Vec<Listed> = catalog
        .stores()?
        .into_iter()
        .map(|s| Listed {
            offers: summaries.iter().find(|x| x.store == s.id).map_or(0, |x| x.offers),
            names_seen: seen(&names, &s.id),
            id: s.id,
            name: s.name,
        })
        .collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&listed)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("{:<24} {:>9}  names seen in records (records)", "store", "offers");
    for s in &listed {
        let seen: Vec<String> =
            s.names_seen.iter().map(|n| format!("{:?} ({})", n.name, n.records)).collect();
        println!("{:<24} {:>9}  {}", s.id.as_str(), s.offers, seen.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}

fn seen(names: &[SeenName], store: &StoreId) -> Vec<Seen> {
    names
        .iter()
        .filter(|n| &n.store == store)
        .map(|n| Seen { name: n.name.clone(), records: n.records })
        .collect()
}

pub fn merge(catalog: &dyn Catalog, from: &str, into: &str, json: bool) -> Result<ExitCode> {
    let from_id = StoreId::parse(from).with_context(|| format!("FROM {from:?}"))?;
    let into_id = StoreId::parse(into).with_context(|| format!("INTO {into:?}"))?;
    let report = match catalog.merge_stores(&from_id, &into_id) {
        Err(preciso_core::ports::StoreError::NotFound) => {
            anyhow::bail!("no store {from_id} (see `preciso stores`)")
        }
        other => other?,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "merged {from_id} into {into_id}: {} offers moved, {} merged with {into_id}'s own, \
             {} ledger rows; records naming {from_id} now land in {into_id}",
            report.moved, report.merged, report.ledger_rows
        );
    }
    Ok(ExitCode::SUCCESS)
}
