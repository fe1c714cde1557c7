//! The `preciso` binary: parse the command line, load settings, dispatch. Everything else
//! lives in the library crates and in `commands/`.

mod backend;
mod cli;
mod commands;
mod ops;
mod settings;

use clap::Parser;
use std::process::ExitCode;

/// mimalloc returns freed memory to the OS instead of keeping each thread's peak in its own
/// arena (glibc), which matters for a server whose requests come in bursts across many
/// blocking threads. Without transparent huge pages (`no_thp`): memory mimalloc takes from
/// the OS is zeroed 4 KiB at a time as it is touched, not 2 MiB at once. With huge pages the
/// first price analysis after a start spent 60% of its 110 ms zeroing pages (perf:
/// `clear_page_erms`); without them it takes 40 ms (docs/BENCHMARKS.md). On hosts whose THP
/// mode is `always` rather than `madvise`, `MIMALLOC_ALLOW_THP=0` does the same.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    quiet_on_closed_stdout();
    let cli = cli::Cli::parse();
    let serving = matches!(cli.command, cli::Command::Serve(_) | cli::Command::Demo(_));
    let files = if serving { log_dir(&cli) } else { None };
    // Kept to the end: it flushes the file log.
    let _flush = init_logging(if serving { "info" } else { "warn" }, files);
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
            // The reader is gone; there is nothing left worth flushing.
            #[allow(clippy::exit)]
            std::process::exit(141);
        }
        default(info);
    }));
}

/// The file-log directory of a serving process (`log.dir`), if set. Settings errors are left
/// for the command to report.
fn log_dir(cli: &cli::Cli) -> Option<std::path::PathBuf> {
    settings::Settings::load(cli.config.as_deref()).ok()?.log.dir
}

/// JSON log lines on stderr, and into daily files when `files` is set; `PRECISO_LOG` sets the
/// filter (default `info` when serving, `warn` for other commands).
fn init_logging(
    default: &str,
    files: Option<std::path::PathBuf>,
) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    use tracing_subscriber::prelude::*;
    let filter = tracing_subscriber::EnvFilter::try_from_env("PRECISO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // message, request_id and the other fields at the top level of each line
    // (docs/OPERATIONS.md O27); an event inside a request also carries the request's span
    // (`span`: request_id, method, route, key_id) but not the list of enclosing spans.
    let stderr = tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_span_list(false)
        .with_writer(std::io::stderr);
    let (file, guard) = match files.and_then(|d| std::fs::create_dir_all(&d).ok().map(|()| d)) {
        Some(dir) => {
            let appender = tracing_appender::rolling::daily(dir, commands::logs::FILE_PREFIX);
            let (writer, guard) = tracing_appender::non_blocking(appender);
            let layer = tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .with_span_list(false)
                .with_ansi(false)
                .with_writer(writer);
            (Some(layer), Some(guard))
        }
        None => (None, None),
    };
    let _ = tracing_subscriber::registry().with(filter).with(stderr).with(file).try_init();
    guard
}
