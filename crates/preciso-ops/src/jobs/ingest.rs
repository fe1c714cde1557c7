//! The `ingest` and `ingest-full` jobs: an orchestrated flow over a drop directory: pick up files that stopped
//! changing → ingest each through the pipeline → move it to `processed/YYYY/MM/DD/` or to
//! `failed/` with a `.error.txt` beside it. A file leaves the inbox only after its ingest
//! finished, so a kill at any point loses nothing, and the next run converges (content hashes
//! and idempotent upserts make a repeat a no-op). A database error keeps the file in the inbox
//! and fails the run as retryable; an unreadable file goes to `failed/` at once.

use crate::job::{Job, JobContext, JobFailure, timed_step};
use chrono::Datelike;
use preciso_core::ports::Catalog;
use preciso_core::runs::{StepReport, StepStatus};
use preciso_ingest::{IngestError, IngestOptions, IngestSource, ingest};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub struct DropDirJob {
    pub catalog: Arc<dyn Catalog>,
    pub inbox: PathBuf,
    /// A file is picked once unmodified for this long (it is not being written).
    pub stable_for: Duration,
    /// The pipeline settings (mapping, batch size, rejects dir…) of every run.
    pub options: IngestOptions,
    /// The daily full run: also retries `failed/` and re-applies content already ingested.
    pub full: bool,
    /// Where ingested raw files are archived before they move to `processed/`
    /// (docs/OPERATIONS.md O29, O33).
    pub archive: Option<Arc<crate::archive::Archive>>,
}

/// What happened to one picked file.
enum FileOutcome {
    /// Ingested (or already ingested): the content's SHA-256.
    Done(String),
    /// Kept in the inbox: the database failed, a retry may succeed.
    Transient(String),
    /// Moved to `failed/`.
    Failed(String),
    /// Stopped by a timeout; kept in the inbox.
    Cancelled,
}

impl DropDirJob {
    pub fn processed_dir(&self) -> PathBuf {
        self.inbox.join("processed")
    }

    pub fn failed_dir(&self) -> PathBuf {
        self.inbox.join("failed")
    }

    /// Files ready to ingest, oldest name first.
    fn pick(&self) -> std::io::Result<Vec<PathBuf>> {
        let mut dirs = vec![self.inbox.clone()];
        if self.full {
            dirs.push(self.failed_dir());
        }
        let now = SystemTime::now();
        let mut files = Vec::new();
        for dir in dirs {
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            for entry in entries {
                let entry = entry?;
                let meta = entry.metadata()?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let in_progress = name.starts_with('.')
                    || [".tmp", ".part", ".partial", ".error.txt"]
                        .iter()
                        .any(|s| name.ends_with(s));
                let age = now.duration_since(meta.modified()?).unwrap_or_default();
                if meta.is_file() && !in_progress && age >= self.stable_for {
                    files.push(entry.path());
                }
            }
        }
        files.sort();
        Ok(files)
    }

    fn ingest_one(&self, path: &Path, ctx: &JobContext, report: &mut StepReport) -> FileOutcome {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let mut opts = self.options.clone();
        opts.dry_run = ctx.dry_run;
        opts.force = self.full;
        opts.context.ingest_time = ctx.now().timestamp();
        opts.cancel = Some(ctx.cancel.clone());
        let source = IngestSource { path: path.to_path_buf(), name };
        let outcome = ingest(self.catalog.as_ref(), &source, &opts, &|_| {});
        if let Some(telemetry) = ctx.telemetry() {
            telemetry.ingest_finished(outcome.as_ref().ok());
        }
        match outcome {
            Ok(r) => {
                let c = r.counts;
                for (name, n) in [
                    ("read", c.read),
                    ("inserted", c.inserted),
                    ("updated", c.updated),
                    ("unchanged", c.unchanged),
                    ("duplicate", c.duplicate),
                    ("rejected", c.rejected),
                ] {
                    report.counts.insert(name.into(), n);
                }
                FileOutcome::Done(r.sha256)
            }
            Err(IngestError::Cancelled { .. }) => FileOutcome::Cancelled,
            Err(e @ IngestError::Store { .. }) => FileOutcome::Transient(e.to_string()),
            Err(e) => FileOutcome::Failed(e.to_string()),
        }
    }

    /// Archives the raw file of the completed run with this content (no archive: nothing).
    fn archive(&self, sha256: &str, path: &Path, step: &mut StepReport) -> Result<(), String> {
        let Some(archive) = &self.archive else { return Ok(()) };
        let file = self
            .catalog
            .find_ingested(sha256)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("no completed ledger row for sha256 {sha256}"))?;
        let (key, stored) =
            crate::archive::archive_file(archive, self.catalog.as_ref(), &file, path)
                .map_err(|e| e.to_string())?;
        let counter =
            if stored == crate::archive::Stored::Created { "archived" } else { "already_archived" };
        step.counts.insert(counter.into(), 1);
        tracing::debug!(key, "raw file archived");
        Ok(())
    }

    fn destination(&self, dir: &Path, path: &Path) -> PathBuf {
        let name = path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        let mut target = dir.join(&name);
        let mut n = 1;
        while target.exists() {
            target = dir.join(format!("{}.{n}", name.to_string_lossy()));
            n += 1;
        }
        target
    }

    fn move_to(&self, dir: &Path, path: &Path, reason: Option<&str>) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        let target = self.destination(dir, path);
        std::fs::rename(path, &target)?;
        if let Some(reason) = reason {
            let mut note = target.clone().into_os_string();
            note.push(".error.txt");
            std::fs::write(note, format!("{reason}\n"))?;
        }
        Ok(target)
    }
}

impl Job for DropDirJob {
    fn run(&self, ctx: &JobContext) -> Result<Vec<StepReport>, JobFailure> {
        let mut steps = Vec::new();
        let (mut pick, picked) = timed_step("pick", |_| {
            self.pick().map_err(|e| format!("{}: {e}", self.inbox.display()))
        });
        let files = match picked {
            Ok(files) => files,
            Err(error) => {
                steps.push(pick);
                return Err(JobFailure { error, steps, retryable: true });
            }
        };
        pick.counts.insert("files".into(), files.len() as u64);
        steps.push(pick);
        let today = ctx.now();
        let processed = self.processed_dir().join(format!(
            "{:04}/{:02}/{:02}",
            today.year(),
            today.month(),
            today.day()
        ));
        let mut transient = None;
        let mut failed = 0;
        for path in files {
            let label =
                path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let (mut step, outcome) = timed_step(&format!("ingest {label}"), |report| {
                Ok(self.ingest_one(&path, ctx, report))
            });
            let outcome = outcome.unwrap_or(FileOutcome::Failed("unknown".into()));
            if ctx.dry_run {
                step.planned.push(format!("move {label} to {}", processed.display()));
                steps.push(step);
                continue;
            }
            match outcome {
                FileOutcome::Done(sha256) => {
                    if let Err(e) = self.archive(&sha256, &path, &mut step) {
                        step.status = StepStatus::Failed;
                        step.error = Some(format!(
                            "ingested, but archiving failed (archive sync will retry from processed/): {e}"
                        ));
                        transient = Some(e);
                    }
                    if let Err(e) = self.move_to(&processed, &path, None) {
                        step.status = StepStatus::Failed;
                        step.error =
                            Some(format!("ingested, but moving to processed/ failed: {e}"));
                        transient = Some(e.to_string());
                    }
                }
                FileOutcome::Cancelled => {
                    step.status = StepStatus::Compensated;
                    step.error =
                        Some("cancelled by the timeout; the file stays in the inbox".into());
                    steps.push(step);
                    return Err(JobFailure { error: "cancelled".into(), steps, retryable: false });
                }
                FileOutcome::Transient(e) => {
                    step.status = StepStatus::Failed;
                    step.error = Some(format!("{e}; the file stays in the inbox for a retry"));
                    transient = Some(e);
                }
                FileOutcome::Failed(e) => {
                    failed += 1;
                    step.status = StepStatus::Failed;
                    if let Err(m) = self.move_to(&self.failed_dir(), &path, Some(&e)) {
                        step.error = Some(format!("{e}; moving to failed/ also failed: {m}"));
                    } else {
                        step.error = Some(format!("{e}; moved to failed/"));
                    }
                }
            }
            steps.push(step);
        }
        if let Some(e) = transient {
            return Err(JobFailure { error: e, steps, retryable: true });
        }
        if failed > 0 {
            let error = format!("{failed} file(s) could not be ingested and were moved to failed/");
            return Err(JobFailure { error, steps, retryable: false });
        }
        Ok(steps)
    }
}
