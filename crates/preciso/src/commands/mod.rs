//! Subcommand dispatch. Each command is a module with one `run` entry point.

mod analyze;
mod archive;
pub mod backup;
pub mod clean;
mod config;
mod copy;
mod demo;
mod generate;
mod ingest;
mod jobs;
mod keys;
pub mod logs;
mod normalize;
mod serve;
mod stores;

use crate::cli::{
    ArchiveCommand, BackupCommand, Cli, Command, ConfigCommand, FormatArg, JobsCommand,
    KeysCommand, RunsCommand, StoresCommand,
};
use crate::settings::Settings;
use anyhow::Result;
use preciso_ingest::Format;
use std::process::ExitCode;

pub fn run(cli: Cli) -> Result<ExitCode> {
    let settings = || -> Result<Settings> {
        let mut s = Settings::load(cli.config.as_deref())?;
        if let Some(d) = &cli.data_dir {
            s.data_dir = d.clone();
        }
        if let Some(u) = &cli.database_url {
            s.database_url = Some(u.clone());
        }
        Ok(s)
    };
    match &cli.command {
        Command::Ingest(args) => ingest::run(&settings()?, args),
        Command::Normalize(args) => normalize::run(args),
        Command::Gen(args) => generate::run(args),
        Command::Demo(args) => demo::run(&settings()?, args),
        Command::Analyze(args) => analyze::run(&settings()?, args),
        Command::Serve(args) => {
            let mut s = settings()?;
            if let Some(l) = &args.listen {
                s.http.listen = l.clone();
            }
            serve::run(&s)
        }
        Command::Stores { command, json } => {
            let s = settings()?;
            match command {
                None => {
                    let store = crate::backend::open_read_only(&s.database_url())?;
                    stores::list(store.as_ref(), *json)
                }
                Some(StoresCommand::Merge { from, into, json }) => {
                    let store = crate::backend::open(&s.database_url())?;
                    stores::merge(store.as_ref(), from, into, *json)
                }
            }
        }
        Command::Keys { command } => {
            let s = settings()?;
            let store = crate::backend::open(&s.database_url())?;
            match command {
                KeysCommand::Create { name, scopes } => keys::create(store.as_ref(), name, scopes),
                KeysCommand::List => keys::list(store.as_ref()),
                KeysCommand::Revoke { id } => keys::revoke(store.as_ref(), *id),
            }
        }
        Command::Jobs { command } => {
            let s = settings()?;
            match command {
                JobsCommand::List { json } => jobs::list(&s, *json),
                JobsCommand::Run { name, dry_run, json } => jobs::run(&s, name, *dry_run, *json),
            }
        }
        Command::Runs { command } => {
            let s = settings()?;
            match command {
                RunsCommand::List { job, status, limit, json } => {
                    jobs::runs(&s, job.clone(), status.as_deref(), *limit, *json)
                }
                RunsCommand::Show { id, json } => jobs::show(&s, *id, *json),
            }
        }
        Command::Status { json } => jobs::status(&settings()?, *json),
        Command::Copy { from, to, force } => copy::run(from, to, *force),
        Command::Clean { dry_run, json } => clean::run(&settings()?, *dry_run, *json),
        Command::Logs { tail } => logs::run(&settings()?, *tail as usize),
        Command::Archive { command } => {
            let s = settings()?;
            match command {
                ArchiveCommand::Verify { deep, sample, json } => {
                    let percent = if *deep { sample.unwrap_or(100) } else { 0 };
                    archive::verify(&s, percent, *json)
                }
                ArchiveCommand::Sync { dry_run, delete_orphans, json } => {
                    archive::sync(&s, *dry_run, *delete_orphans, *json)
                }
            }
        }
        Command::Backup { command } => {
            let s = settings()?;
            match command {
                BackupCommand::Create { json } => backup::create_cmd(&s, *json),
                BackupCommand::List { json } => backup::list_cmd(&s, *json),
                BackupCommand::Verify { file, quick, json } => {
                    backup::verify_cmd(&s, file.as_deref(), *quick, *json)
                }
                BackupCommand::Restore { file, to, force } => {
                    backup::restore_cmd(&s, file, to.as_deref(), *force)
                }
                BackupCommand::Prune { dry_run } => backup::prune_cmd(&s, *dry_run),
            }
        }
        Command::Openapi => {
            println!("{}", serde_json::to_string_pretty(preciso_http::openapi::document_json())?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            let s = settings()?;
            let store = crate::backend::open(&s.database_url())?;
            store.migrate()?;
            println!("migrations applied");
            Ok(ExitCode::SUCCESS)
        }
        Command::Config { command: ConfigCommand::Example } => config::example(),
        Command::Config { command: ConfigCommand::Show } => config::show(&settings()?),
    }
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Json => Format::Json,
            FormatArg::Jsonl => Format::Jsonl,
            FormatArg::Csv => Format::Csv,
        }
    }
}
