//! The `preciso` binary: parse the command line, load settings, dispatch. Everything else
//! lives in the library crates and in `commands/`.

mod backend;
mod cli;
mod commands;
mod ops;
mod settings;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    quiet_on_closed_stdout();
    let cli = cli::Cli::parse();
    let serving = matches!(cli.command, cli::Command::Serve(_) | cli::Command::Demo(_));
    init_logging(if serving { "info" } else { "warn" });
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `preciso runs list | head` closes stdout early; `println!` then panics. Exit quietly with
/// the status a shell gives a process killed by SIGPIPE instead of printing a panic.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.contains("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}

/// JSON log lines on stderr; `PRECISO_LOG` sets the filter (default `info` when serving,
/// `warn` for other commands).
fn init_logging(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PRECISO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .json()
        // message, request_id and the other fields at the top level of each line (O27).
        .flatten_event(true)
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
