//! Readers: turn a byte stream into raw records, one at a time, whatever the file size.
//! Each format reports where a record starts (line and record number) so rejects can name
//! it, and an unreadable record never stops the ones after it where the format allows.

mod csv;
mod json;

use crate::mapping::FieldMap;
use crate::record::{RawRecord, RecordError};
use std::io::BufRead;
use std::path::Path;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Json,
    Jsonl,
    Csv,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s.to_ascii_lowercase().as_str() {
            "json" => Some(Format::Json),
            "jsonl" | "ndjson" => Some(Format::Jsonl),
            "csv" | "tsv" => Some(Format::Csv),
            _ => None,
        }
    }

    pub fn from_path(path: &Path) -> Option<Format> {
        Format::parse(path.extension()?.to_str()?)
    }

    /// Guesses from the first non-blank byte: `[` JSON array, `{` JSON Lines, `<` markup
    /// (HTML, XML: not a data file, `None`), else CSV.
    pub fn sniff(head: &[u8]) -> Option<Format> {
        let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
        match head.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'[') => Some(Format::Json),
            Some(b'{') => Some(Format::Jsonl),
            Some(b'<') => None,
            _ => Some(Format::Csv),
        }
    }
}

/// One item of a file: a record, or a piece of the file that could not be read as one.
// Records dominate and move once each; boxing them would add an allocation per record.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Item {
    Record(RawRecord),
    Unreadable { line: u64, number: u64, source: String, error: RecordError },
}

/// Records larger than this are rejected while they are read: a reader keeps at most this many
/// bytes of a record, so one runaway line or value cannot exhaust memory.
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// The reject of a record over `MAX_RECORD_BYTES` (its source is not kept either).
fn too_large(line: u64, number: u64) -> Item {
    let error = crate::record::RecordError::new(
        None,
        "too_large",
        format!("record exceeds {MAX_RECORD_BYTES} bytes"),
    );
    Item::Unreadable { line, number, source: String::new(), error }
}

/// Why a file cannot hold offers at all, judged from its start: a CSV whose header names no
/// known field (an HTML page, a report, the word `null`). `None` when it may.
pub fn not_offer_data(format: Format, reader: impl BufRead, fields: &FieldMap) -> Option<String> {
    match format {
        Format::Csv => match csv::CsvReader::new(reader, fields).next() {
            Some(Err(e)) if e.kind() == std::io::ErrorKind::InvalidData => Some(e.to_string()),
            _ => None,
        },
        Format::Json | Format::Jsonl => None,
    }
}

/// A streaming iterator over a file's items. IO errors end the iteration with `Err`.
pub fn items<'a, R: BufRead + 'a>(
    format: Format,
    reader: R,
    fields: &'a FieldMap,
) -> Box<dyn Iterator<Item = std::io::Result<Item>> + 'a> {
    match format {
        Format::Json => Box::new(json::ArrayReader::new(reader, fields)),
        Format::Jsonl => Box::new(json::LinesReader::new(reader, fields)),
        Format::Csv => Box::new(csv::CsvReader::new(reader, fields)),
    }
}
