//! One file's ingest run: hash the file, skip it if its content was already ingested, then
//! stream it through read → map (a reader thread) → normalize → hash (one thread per core)
//! and apply batches on the calling thread in file order, one transaction each. A failure in
//! a batch rolls that batch back and marks the run failed; batches already committed stay,
//! and a re-run converges because every record is classified against the stored content
//! hash.

use crate::mapping::FieldMap;
use crate::read::{self, Format, Item};
use crate::record::{RawRecord, RawValue, RecordContext};
use crate::rejects::{Reject, RejectsWriter};
use crossbeam_channel::bounded;
use preciso_core::domain::{IngestCounts, IngestStatus, Offer, StoreAliases, StoreId};
use preciso_core::hash::to_hex;
use preciso_core::ports::{CatalogStore, NewIngestFile, SeenName, StoreError, StoreRecords};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("{path}: cannot tell the format from the extension; pass --format json|jsonl|csv")]
    UnknownFormat { path: String },
    /// The file cannot hold offers (a CSV whose header names no known field); nothing was
    /// written, not even a ledger row.
    #[error("{path}: {reason}")]
    NotOfferData { path: String, reason: String },
    #[error("{path}: {source}")]
    Store { path: String, source: StoreError },
    #[error("{path}: cancelled after the last committed batch")]
    Cancelled { path: String },
}

/// A file to ingest: where its bytes are and the name the ledger and rejects give it.
#[derive(Debug, Clone)]
pub struct IngestSource {
    pub path: PathBuf,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub format: Option<Format>,
    pub dry_run: bool,
    pub force: bool,
    pub batch_size: usize,
    /// Where rejects files go (one per run that rejected something).
    pub rejects_dir: PathBuf,
    pub fields: FieldMap,
    pub context: RecordContext,
    /// Checked between batches: when set, the run stops after the batch in flight, is
    /// recorded as failed, and a later run converges (a scheduled job's timeout).
    pub cancel: Option<Arc<AtomicBool>>,
    /// A deliberate backfill of old scrapes (`ingest --backfill`): observations older than
    /// what is stored are recorded as backfilled, not as out-of-order arrivals.
    pub backfill: bool,
}

/// How a file's run ended.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportStatus {
    Done,
    /// The same content was already ingested (and `force` was not set).
    Skipped,
    DryRun,
    Failed,
}

impl ReportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportStatus::Done => "done",
            ReportStatus::Skipped => "skipped",
            ReportStatus::DryRun => "dry_run",
            ReportStatus::Failed => "failed",
        }
    }
}

impl std::fmt::Display for ReportStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// What one run did; printed as the summary and returned by the API.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, serde::Serialize)]
pub struct IngestReport {
    pub file: String,
    pub sha256: String,
    pub size: u64,
    pub format: Option<Format>,
    pub status: ReportStatus,
    pub ledger_id: Option<i64>,
    pub counts: IngestCounts,
    /// Keys (JSON) or columns (CSV) that matched no field, summed over records.
    pub unknown_fields: u64,
    /// Optional fields dropped, by `field/code`.
    pub warnings: BTreeMap<String, u64>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub rejects_file: Option<PathBuf>,
    /// The first few rejects, so a dry run or an API caller sees why without the file.
    pub reject_samples: Vec<Reject>,
    pub duration_secs: f64,
    pub records_per_sec: f64,
    pub error: Option<String>,
}

const REJECT_SAMPLES: usize = 5;

/// What a normalizing thread sends per batch.
struct Batch {
    /// The normalizing thread that built it, which also frees its offers afterwards.
    worker: usize,
    offers: Vec<Offer>,
    counts: IngestCounts,
    rejects: Vec<Reject>,
    warnings: Vec<String>,
    unknown_fields: u64,
    /// Store names as records wrote them: name → (store, records).
    names: Names,
    /// Per store: records accepted and rejected (a reject counted for the store it names).
    stores: StoreTally,
}

type Names = rustc_hash::FxHashMap<String, (StoreId, u64)>;
type StoreTally = rustc_hash::FxHashMap<StoreId, [u64; 2]>;

/// Adds `counts` to a store's tally, keeping at most `cap` stores.
fn tally_store(tally: &mut StoreTally, store: &StoreId, counts: [u64; 2], cap: usize) {
    if let Some(t) = tally.get_mut(store) {
        t[0] += counts[0];
        t[1] += counts[1];
    } else if tally.len() < cap {
        tally.insert(store.clone(), counts);
    }
}

/// Distinct store names kept per batch, and per run (`preciso stores` shows them; a file with
/// more is not this tool's data, and they are not worth the memory).
const NAMES_PER_BATCH: usize = 64;
const NAMES_PER_RUN: usize = 1_000;

/// Hashes a file in one streaming pass.
pub fn file_digest(path: &Path) -> io::Result<(String, u64)> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((to_hex(&hasher.finalize()), size))
}

/// Ingests one file. `progress` receives the number of bytes read so far. Callers that keep
/// metrics add the outcome to theirs (`preciso_ops::Telemetry::ingest_finished`).
pub fn ingest(
    store: &dyn CatalogStore,
    source: &IngestSource,
    opts: &IngestOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<IngestReport, IngestError> {
    let started = Instant::now();
    let path_str = source.name.clone();
    let io_error = |e: io::Error| IngestError::Io { path: path_str.clone(), source: e };
    let store_error = |e: StoreError| IngestError::Store { path: path_str.clone(), source: e };
    let (sha256, size) = file_digest(&source.path).map_err(io_error)?;
    let format = match opts.format.or_else(|| Format::from_path(Path::new(&source.name))) {
        Some(f) => f,
        None => sniff(&source.path)
            .map_err(io_error)?
            .ok_or_else(|| IngestError::UnknownFormat { path: path_str.clone() })?,
    };
    let head = File::open(&source.path).map(BufReader::new).map_err(io_error)?;
    if let Some(reason) = read::not_offer_data(format, head, &opts.fields) {
        return Err(IngestError::NotOfferData { path: path_str, reason });
    }
    let mut report = IngestReport {
        file: source.name.clone(),
        sha256: sha256.clone(),
        size,
        format: Some(format),
        status: ReportStatus::Done,
        ledger_id: None,
        counts: IngestCounts::default(),
        unknown_fields: 0,
        warnings: BTreeMap::new(),
        rejects_file: None,
        reject_samples: Vec::new(),
        duration_secs: 0.0,
        records_per_sec: 0.0,
        error: None,
    };
    if !opts.force
        && let Some(previous) = store.find_ingested(&sha256).map_err(store_error)?
    {
        report.status = ReportStatus::Skipped;
        report.ledger_id = Some(previous.id);
        report.error = Some(format!(
            "same content already ingested as ledger #{} ({}); use --force to ingest again",
            previous.id, previous.name
        ));
        return Ok(finish_timing(report, started));
    }
    let new_file = NewIngestFile {
        name: source.name.clone(),
        sha256,
        size,
        store: opts.context.default_store.clone(),
        received_at: opts.context.ingest_time,
        backfill: opts.backfill,
    };
    let run_opts = run_options(store, opts, &new_file.sha256).map_err(store_error)?;
    let opts = run_opts.as_ref().unwrap_or(opts);
    let mut session = store.begin_ingest(&new_file, opts.dry_run).map_err(store_error)?;
    let ledger_id = (!opts.dry_run).then(|| session.file_id());
    report.ledger_id = ledger_id;
    let rejects_path = opts.rejects_dir.join(rejects_name(&source.name, ledger_id));
    let mut rejects = RejectsWriter::new(rejects_path);
    let mut names = Names::default();
    let mut stores = StoreTally::default();
    let outcome = run_batches(source, format, opts, progress, |batch| {
        for (name, (id, n)) in &batch.names {
            count_name(&mut names, name, id, *n, NAMES_PER_RUN);
        }
        for (id, counts) in &batch.stores {
            tally_store(&mut stores, id, *counts, NAMES_PER_RUN);
        }
        let counts = session.apply_batch(&batch.offers, &batch.counts).map_err(store_error)?;
        let offers = batch.offers;
        report.counts.add(&counts);
        report.unknown_fields += batch.unknown_fields;
        for w in batch.warnings {
            *report.warnings.entry(w).or_default() += 1;
        }
        for r in batch.rejects {
            if !opts.dry_run {
                rejects.write(&r).map_err(io_error)?;
            }
            if report.reject_samples.len() < REJECT_SAMPLES {
                report.reject_samples.push(r);
            }
        }
        Ok(offers)
    });
    report.rejects_file = rejects.finish().map_err(io_error)?;
    let (status, error) = match &outcome {
        Ok(()) => (IngestStatus::Done, None),
        Err(e) => (IngestStatus::Failed, Some(e.to_string())),
    };
    if let Some(ledger) = session.finish(status, error.clone()).map_err(store_error)? {
        report.counts = ledger.counts;
    }
    if let (Some(file_id), false) = (ledger_id, stores.is_empty()) {
        let mut counts: Vec<StoreRecords> = stores
            .into_iter()
            .map(|(store, [accepted, rejected])| StoreRecords { store, accepted, rejected })
            .collect();
        counts.sort_by(|a, b| a.store.cmp(&b.store));
        store
            .record_store_counts(file_id, opts.context.ingest_time, &counts)
            .map_err(store_error)?;
    }
    if !opts.dry_run && !names.is_empty() {
        let seen: Vec<SeenName> = names
            .into_iter()
            .map(|(name, (store, records))| SeenName {
                store,
                name,
                records,
                last_seen: opts.context.ingest_time,
            })
            .collect();
        store.record_store_names(&seen).map_err(store_error)?;
    }
    outcome?;
    report.status = if opts.dry_run { ReportStatus::DryRun } else { ReportStatus::Done };
    Ok(finish_timing(report, started))
}

/// The options of this run, when the catalog changes them: names that merges made aliases of
/// another store (configured names win), and the ingest time of an interrupted earlier run —
/// records without `scraped_at` are observed when their file first arrived, so a re-run
/// stamps them as that run did and an offer the file holds twice keeps one observation, as
/// in a run that was never interrupted.
fn run_options(
    store: &dyn CatalogStore,
    opts: &IngestOptions,
    sha256: &str,
) -> Result<Option<IngestOptions>, StoreError> {
    let merged = store.store_aliases()?;
    let since = store.interrupted_since(sha256)?.filter(|t| *t != opts.context.ingest_time);
    if merged.is_empty() && since.is_none() {
        return Ok(None);
    }
    let mut run = opts.clone();
    if let Some(since) = since {
        run.context.ingest_time = since;
    }
    let mut aliases = StoreAliases::default();
    for (name, target) in &merged {
        aliases.set(name, target);
    }
    run.context.store_aliases = aliases.overridden_by(&opts.context.store_aliases);
    Ok(Some(run))
}

fn finish_timing(mut report: IngestReport, started: Instant) -> IngestReport {
    report.duration_secs = started.elapsed().as_secs_f64();
    if report.duration_secs > 0.0 {
        report.records_per_sec = report.counts.read as f64 / report.duration_secs;
    }
    report
}

fn sniff(path: &Path) -> io::Result<Option<Format>> {
    let mut head = [0u8; 512];
    let n = File::open(path)?.read(&mut head)?;
    Ok(Format::sniff(&head[..n]))
}

/// `rejects/<file stem>.<ledger id>.rejects.jsonl`
fn rejects_name(name: &str, ledger_id: Option<i64>) -> String {
    let stem = Path::new(name).file_stem().and_then(|s| s.to_str()).unwrap_or("stdin");
    let stem = StoreId::parse(stem).map(|s| s.to_string()).unwrap_or_else(|_| "input".into());
    match ledger_id {
        Some(id) => format!("{stem}.{id}.rejects.jsonl"),
        None => format!("{stem}.dry-run.rejects.jsonl"),
    }
}

/// Reads on one thread, normalizes chunks of records on as many threads as there are cores,
/// and runs `apply` on this one, strictly in file order (chunks are re-sequenced here).
/// Normalizing (prices, text folding, SHA-256) costs more than reading, and is what bounds
/// a re-ingest of mostly unchanged offers. `apply` hands the batch's offers back, and the
/// thread that allocated them frees them: a block freed by another thread comes back to its
/// allocator with a cache miss on its next allocation (a tenth of a re-ingest's time).
fn run_batches(
    source: &IngestSource,
    format: Format,
    opts: &IngestOptions,
    progress: &(dyn Fn(u64) + Sync),
    mut apply: impl FnMut(Batch) -> Result<Vec<Offer>, IngestError>,
) -> Result<(), IngestError> {
    let file = File::open(&source.path)
        .map_err(|e| IngestError::Io { path: source.name.clone(), source: e })?;
    let bytes_read = Arc::new(AtomicU64::new(0));
    let reader = BufReader::with_capacity(
        1 << 18,
        CountingReader { inner: file, count: bytes_read.clone() },
    );
    std::thread::scope(|scope| {
        // Channels live inside the scope: when the writer stops early they are dropped before
        // the scope joins, so every blocked sender wakes up with an error and returns.
        let (raw_tx, raw_rx) = bounded::<(u64, io::Result<Vec<Item>>)>(1);
        let (done_tx, done_rx) = bounded::<(u64, io::Result<Batch>)>(1);
        // Records read go back to the reader to be freed, as offers go back to their worker.
        let (read_tx, read_rx) = bounded::<Vec<RawRecord>>(2);
        scope.spawn(move || read_chunks(format, reader, opts, raw_tx, read_rx));
        let mut used_tx = Vec::new();
        for worker in 0..normalize_workers() {
            let (raw_rx, done_tx, read_tx) = (raw_rx.clone(), done_tx.clone(), read_tx.clone());
            let (tx, used_rx) = bounded::<Vec<Offer>>(2);
            used_tx.push(tx);
            scope.spawn(move || {
                for (seq, chunk) in raw_rx {
                    used_rx.try_iter().for_each(drop);
                    let batch = chunk.map(|items| {
                        let mut batch = new_batch(worker, items.len());
                        let mut read = Vec::with_capacity(items.len());
                        for item in items {
                            read.extend(add_item(&mut batch, item, &source.name, &opts.context));
                        }
                        let _ = read_tx.try_send(read);
                        batch
                    });
                    if done_tx.send((seq, batch)).is_err() {
                        return; // the writer stopped
                    }
                }
            });
        }
        drop((raw_rx, done_tx, read_tx));
        let mut pending = BTreeMap::new();
        let mut next = 0u64;
        for (seq, batch) in done_rx {
            pending.insert(seq, batch);
            while let Some(batch) = pending.remove(&next) {
                next += 1;
                if opts.cancel.as_ref().is_some_and(|c| c.load(Ordering::Relaxed)) {
                    return Err(IngestError::Cancelled { path: source.name.clone() });
                }
                let batch =
                    batch.map_err(|e| IngestError::Io { path: source.name.clone(), source: e })?;
                let worker = batch.worker;
                let used = apply(batch)?;
                // When that thread is busy its queue may be full: then the offers go here.
                let _ = used_tx[worker].try_send(used);
                progress(bytes_read.load(Ordering::Relaxed));
            }
        }
        Ok(())
    })
}

/// Splits the file's items into numbered chunks of `batch_size` records. An IO error is sent
/// in sequence, after the chunks before it, and ends the reading.
fn read_chunks(
    format: Format,
    reader: impl io::BufRead,
    opts: &IngestOptions,
    tx: crossbeam_channel::Sender<(u64, io::Result<Vec<Item>>)>,
    read: crossbeam_channel::Receiver<Vec<RawRecord>>,
) {
    let mut seq = 0u64;
    let mut chunk = Vec::with_capacity(opts.batch_size);
    for item in read::items(format, reader, &opts.fields) {
        if chunk.is_empty() {
            read.try_iter().for_each(drop);
        }
        match item {
            Ok(item) => chunk.push(item),
            Err(e) => {
                if !chunk.is_empty() {
                    let _ = tx.send((seq, Ok(std::mem::take(&mut chunk))));
                    seq += 1;
                }
                let _ = tx.send((seq, Err(e)));
                return;
            }
        }
        if chunk.len() >= opts.batch_size {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(opts.batch_size));
            if tx.send((seq, Ok(full))).is_err() {
                return; // the writer stopped
            }
            seq += 1;
        }
    }
    let _ = tx.send((seq, Ok(chunk)));
}

/// Normalizing threads: one per core (the reader and the writer mostly wait on them or on
/// the database), at most 4.
fn normalize_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

fn new_batch(worker: usize, capacity: usize) -> Batch {
    Batch {
        worker,
        offers: Vec::with_capacity(capacity),
        counts: IngestCounts::default(),
        rejects: Vec::new(),
        warnings: Vec::new(),
        unknown_fields: 0,
        names: Names::default(),
        stores: StoreTally::default(),
    }
}

/// Normalizes one item into the batch; returns the record when it is done with it.
fn add_item(batch: &mut Batch, item: Item, file: &str, ctx: &RecordContext) -> Option<RawRecord> {
    batch.counts.read += 1;
    match item {
        Item::Record(raw) => {
            batch.unknown_fields += u64::from(raw.unknown_keys);
            match ctx.normalize(&raw) {
                Ok(n) => {
                    note_name(&mut batch.names, &raw, &n.offer.store);
                    tally_store(&mut batch.stores, &n.offer.store, [1, 0], NAMES_PER_RUN);
                    batch.warnings.extend(
                        n.warnings
                            .iter()
                            .map(|w| format!("{}/{}", w.field.unwrap_or("record"), w.code)),
                    );
                    batch.offers.push(n.offer);
                    Some(raw)
                }
                Err(errors) => {
                    batch.counts.rejected += 1;
                    if let Ok(store) = ctx.store(&raw) {
                        tally_store(&mut batch.stores, &store, [0, 1], NAMES_PER_RUN);
                    }
                    let (line, number) = (raw.line, raw.number);
                    batch.rejects.push(Reject::new(file, line, number, errors, raw.into_source()));
                    None
                }
            }
        }
        Item::Unreadable { line, number, source, error } => {
            batch.counts.rejected += 1;
            batch.rejects.push(Reject::new(file, line, number, vec![error], source));
            None
        }
    }
}

/// Counts the store name the record wrote (not a `--store` default) under its store.
fn note_name(names: &mut Names, raw: &RawRecord, store: &StoreId) {
    if let Some(RawValue::Text(text)) = raw.get(crate::mapping::Field::Store) {
        count_name(names, text.trim(), store, 1, NAMES_PER_BATCH);
    }
}

/// Adds `n` records to a name, keeping at most `cap` names.
fn count_name(names: &mut Names, name: &str, store: &StoreId, n: u64, cap: usize) {
    if let Some(seen) = names.get_mut(name) {
        seen.1 += n;
    } else if names.len() < cap && !name.is_empty() {
        names.insert(name.to_string(), (store.clone(), n));
    }
}

struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}
