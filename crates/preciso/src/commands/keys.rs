//! `preciso keys create|list|revoke`: API keys are random, shown once, stored as SHA-256.

use anyhow::{Context, Result, bail};
use preciso_core::hash::to_hex;
use preciso_core::ports::Catalog;
use std::io::Read;
use std::process::ExitCode;

const SCOPES: &[&str] = &preciso_http::layers::auth::Scope::NAMES;

/// A new key: `pk_` and 48 hex digits (192 bits from the OS's random source).
fn new_key() -> Result<String> {
    let mut bytes = [0u8; 24];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom")?;
    Ok(format!("pk_{}", to_hex(&bytes)))
}

pub fn create(catalog: &dyn Catalog, name: &str, scopes: &str) -> Result<ExitCode> {
    let scopes: Vec<String> =
        scopes.split(',').map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty()).collect();
    if scopes.is_empty() || scopes.iter().any(|s| !SCOPES.contains(&s.as_str())) {
        bail!("--scopes must be a comma-separated list of {}", SCOPES.join(", "));
    }
    if name.trim().is_empty() {
        bail!("--name must not be empty");
    }
    let key = new_key()?;
    let record = catalog.create_api_key(
        name.trim(),
        &key[..10],
        &preciso_core::hash::api_key_hash(&key),
        &scopes,
    )?;
    println!(
        "created key #{} {:?} with scopes {}",
        record.id,
        record.name,
        record.scopes.join(",")
    );
    println!("{key}");
    eprintln!("store it now: the key is not shown again (only its hash is kept)");
    Ok(ExitCode::SUCCESS)
}

pub fn list(catalog: &dyn Catalog) -> Result<ExitCode> {
    println!("{:>4}  {:<20} {:<12} {:<18} status", "id", "name", "prefix", "scopes");
    for k in catalog.api_keys()? {
        let status = if k.revoked_at.is_some() { "revoked" } else { "active" };
        println!(
            "{:>4}  {:<20} {:<12} {:<18} {status}",
            k.id,
            k.name,
            k.prefix,
            k.scopes.join(",")
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn revoke(catalog: &dyn Catalog, id: i64) -> Result<ExitCode> {
    if catalog.revoke_api_key(id)? {
        println!("revoked key #{id}");
        Ok(ExitCode::SUCCESS)
    } else {
        bail!("no active key #{id}")
    }
}
