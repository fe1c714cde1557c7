//! `preciso config example|show`.

use crate::settings::{ENV_VARS, EXAMPLE, Settings};
use anyhow::Result;
use std::process::ExitCode;

pub fn example() -> Result<ExitCode> {
    print!("{EXAMPLE}");
    println!("\n# Environment variables:");
    for (var, what) in ENV_VARS {
        println!("#   {var:<28} {what}");
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
