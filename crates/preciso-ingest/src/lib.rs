//! The ingest pipeline (docs/INGEST.md): read files (JSON array, JSONL, CSV) as a stream of raw
//! records, map their fields, normalize and validate them, hash them, and hand batches to the
//! storage port. One thread reads, one per core normalizes and hashes, and the calling thread
//! writes batches in file order, joined by bounded channels so memory stays constant however
//! large the file (`pipeline`).

// `gen` is a reserved word in edition 2024, hence the raw identifier.
pub mod r#gen;
pub mod mapping;
pub mod pipeline;
pub mod read;
pub mod record;
pub mod rejects;

pub use r#gen::{GenFormat, GenOptions, GenStats, generate};
pub use mapping::{Field, FieldMap};
pub use pipeline::{IngestError, IngestOptions, IngestReport, IngestSource, ReportStatus, ingest};
pub use read::Format;
pub use record::{RawRecord, RawValue, RecordContext, RecordError};
