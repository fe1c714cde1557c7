//! The `preciso` binary: parse the command line, load settings, dispatch. Everything else
//! lives in the library crates and in `commands/`.

mod backend;
mod cli;
mod commands;
mod settings;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_logging();
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// JSON log lines on stderr; `PRECISO_LOG` sets the filter (default `warn` for the CLI).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PRECISO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
