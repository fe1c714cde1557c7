//! The ingest pipeline (docs/INGEST.md): read files (JSON array, JSONL, CSV) as a stream of raw
//! records, map their fields, normalize and validate them, hash them, and hand batches to the
//! storage port. Reading and normalizing run on one thread, writing on another, joined by a
//! bounded channel so memory stays constant however large the file.

// `gen` is a reserved word in edition 2024, hence the raw identifier.
pub mod r#gen;
pub mod mapping;
pub mod pipeline;
pub mod read;
pub mod record;
pub mod rejects;
pub mod totals;

pub use r#gen::{GenFormat, GenOptions, GenStats, generate};
pub use mapping::{Field, FieldMap};
pub use pipeline::{IngestError, IngestOptions, IngestReport, IngestSource, ingest};
pub use read::Format;
pub use record::{RawRecord, RawValue, RecordContext, RecordError};
