//! The rejects file: one JSON line per rejected record with its file, line, record number,
//! the failing fields and reasons, and the record's source text, so nothing is lost and a
//! scraper author can fix and re-send exactly those records. Created only when needed.

use crate::record::RecordError;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// One rejected record.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, serde::Serialize)]
pub struct Reject {
    pub file: String,
    pub line: u64,
    pub record: u64,
    /// The first failing field and its reason, for a quick grep; all of them are in `errors`.
    pub field: Option<&'static str>,
    pub reason: String,
    pub errors: Vec<RecordError>,
    pub source: String,
}

impl Reject {
    pub fn new(
        file: &str,
        line: u64,
        record: u64,
        errors: Vec<RecordError>,
        source: String,
    ) -> Self {
        let (field, reason) = errors
            .first()
            .map(|e| (e.field, e.message.clone()))
            .unwrap_or((None, String::from("rejected")));
        Reject { file: file.to_string(), line, record, field, reason, errors, source }
    }
}

/// Writes rejects lazily to `path`; the file exists only if a record was rejected.
pub struct RejectsWriter {
    path: PathBuf,
    out: Option<BufWriter<File>>,
}

impl RejectsWriter {
    pub fn new(path: PathBuf) -> Self {
        RejectsWriter { path, out: None }
    }

    pub fn write(&mut self, reject: &Reject) -> io::Result<()> {
        if self.out.is_none() {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            self.out = Some(BufWriter::new(File::create(&self.path)?));
        }
        let out = self.out.as_mut().expect("opened above");
        serde_json::to_writer(&mut *out, reject)?;
        out.write_all(b"\n")
    }

    /// Flushes and returns the path if anything was written.
    pub fn finish(self) -> io::Result<Option<PathBuf>> {
        match self.out {
            Some(mut out) => {
                out.flush()?;
                Ok(Some(self.path))
            }
            None => Ok(None),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
