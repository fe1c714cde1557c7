//! Throughput of read → map → normalize → hash alone, without a database: the ceiling the
//! end-to-end ingest can reach. `cargo bench -p preciso-ingest --bench normalize -- FILE`
//! (without FILE it generates 200,000 records in memory first).

use preciso_ingest::read::{Format, Item, items};
use preciso_ingest::{FieldMap, GenOptions, RecordContext, generate};
use std::collections::HashMap;
use std::io::{BufReader, Cursor};
use std::time::Instant;

fn main() {
    let path = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let data = match &path {
        Some(p) => std::fs::read(p).expect("readable input file"),
        None => {
            let mut buf = Vec::new();
            generate(&GenOptions { offers: 200_000, ..GenOptions::default() }, &mut buf)
                .expect("generate");
            buf
        }
    };
    let format =
        path.as_deref().and_then(|p| Format::from_path(p.as_ref())).unwrap_or(Format::Jsonl);
    let fields = FieldMap::default();
    let ctx = RecordContext {
        default_store: None,
        default_currency: None,
        store_currency: HashMap::new(),
        store_timezone: HashMap::new(),
        store_aliases: Default::default(),
        default_timezone: chrono_tz::UTC,
        ingest_time: 1_800_000_000,
    };
    let started = Instant::now();
    let (mut ok, mut rejected) = (0u64, 0u64);
    for item in items(format, BufReader::new(Cursor::new(&data)), &fields) {
        match item.expect("in-memory read") {
            Item::Record(raw) => match ctx.normalize(&raw) {
                Ok(_) => ok += 1,
                Err(_) => rejected += 1,
            },
            Item::Unreadable { .. } => rejected += 1,
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let total = ok + rejected;
    println!(
        "read+normalize+hash: {total} records ({ok} valid, {rejected} rejected) in {secs:.2} s = {:.0} records/s ({:.0} MB/s)",
        total as f64 / secs,
        data.len() as f64 / secs / 1e6
    );
}
