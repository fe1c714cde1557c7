//! Bytes as a scraped file, in each format, through the reader and normalization: every
//! item is a record or an unreadable piece, every record normalizes or is rejected, and
//! nothing panics (a bad record must never stop a run).
#![no_main]

use libfuzzer_sys::fuzz_target;
use preciso_ingest::read::{Format, Item, items};
use preciso_ingest::{FieldMap, RecordContext};
use std::collections::HashMap;

fuzz_target!(|data: &[u8]| {
    let fields = FieldMap::default();
    let ctx = RecordContext {
        default_store: None,
        default_currency: Some(preciso_core::domain::Currency::COP),
        store_currency: HashMap::new(),
        store_aliases: Default::default(),
        store_timezone: HashMap::new(),
        default_timezone: chrono_tz::America::Bogota,
        ingest_time: 1_800_000_000,
    };
    for format in [Format::Jsonl, Format::Json, Format::Csv] {
        for item in items(format, data, &fields) {
            let Ok(item) = item else { break };
            if let Item::Record(raw) = item {
                assert!(raw.number >= 1 && raw.line >= 1);
                let _ = ctx.normalize(&raw);
            }
        }
    }
});
