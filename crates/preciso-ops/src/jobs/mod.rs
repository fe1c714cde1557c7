//! The built-in jobs, one module each (`JobKind` names them and holds their defaults in
//! `registry`). `JobDeps` is everything they need, assembled once by the binary from its
//! settings; `JobKind::build` turns a kind into its job. The CLI commands that do what a job
//! does (`preciso clean`, `preciso backup create|verify|prune`) call the same functions.

pub mod analyze;
pub mod archive_verify;
pub mod backup;
pub mod backup_verify;
pub mod cleanup;
pub mod ingest;
pub mod status;

use crate::archive::Archive;
use crate::status::StatusInputs;
use preciso_core::ports::Catalog;
use preciso_ingest::IngestOptions;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What the built-in jobs run against.
#[derive(Clone)]
pub struct JobDeps {
    pub catalog: Arc<dyn Catalog>,
    /// The raw-file archive, when archiving is on.
    pub archive: Option<Arc<Archive>>,
    /// The drop directory the ingest jobs read.
    pub inbox: PathBuf,
    /// A dropped file is picked once unmodified this long.
    pub stable_for: Duration,
    /// The pipeline settings of every ingest run.
    pub ingest: IngestOptions,
    /// Where the status job writes `status.json`, and what it reports.
    pub status_path: PathBuf,
    pub status: StatusInputs,
    pub backups: backup::BackupPlace,
    pub drill: backup_verify::Drill,
    pub retention: cleanup::Retention,
    /// The quality checks with their settings (the `analyze` job).
    pub quality: Vec<preciso_core::quality::config::CheckConfig>,
}
