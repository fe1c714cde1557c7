//! `preciso config example|show`.

use crate::settings::env::{ALIASES, RESERVED, variable_for};
use crate::settings::{EXAMPLE, Settings};
use anyhow::Result;
use std::process::ExitCode;

pub fn example() -> Result<ExitCode> {
    print!("{EXAMPLE}");
    println!("\n# Environment variables: every key above as PRECISO_<SECTION>__<KEY>, e.g.");
    println!("#   {} = 0", variable_for("http.rate_limit_per_minute"));
    println!("#   {} = \"0 3 * * *\"", variable_for("jobs.backup.cron"));
    println!("# (top-level keys as PRECISO_<KEY>: PRECISO_DATA_DIR). Tables keyed by names a");
    println!("# variable cannot spell ([stores.falabella-co]) are file-only. Short names:");
    for (var, key) in ALIASES {
        println!("#   {var:<32} {key}");
    }
    println!("# Read where they are used:");
    for (var, what) in RESERVED {
        println!("#   {var:<32} {what}");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn show(settings: &Settings) -> Result<ExitCode> {
    let mut shown = settings.clone();
    if shown.database_url.is_some() {
        shown.database_url = Some("<redacted>".into());
    }
    if shown.redis_url.is_some() {
        shown.redis_url = Some("<redacted>".into());
    }
    print!("{}", toml::to_string_pretty(&shown)?);
    Ok(ExitCode::SUCCESS)
}
