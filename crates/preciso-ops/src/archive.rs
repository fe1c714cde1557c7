//! The raw-file archive (docs/OPERATIONS.md O29–O34): every ingested file stored once, content-
//! addressed, under `raw/{store}/{yyyy}/{mm}/{dd}/{sha256}.{ext}` in an object store (a local
//! directory or S3-compatible, through the `object_store` crate), and reconciled against the
//! ingest ledger like `rclone check`: objects missing from the archive, objects the ledger does
//! not know (orphans), and size (or, deep, hash) mismatches. The ledger row gets its
//! `archive_key` only after the stored object's size (and the uploaded bytes' SHA-256) match.
//!
//! The object store API is async; the rest of Preciso's operations are blocking. Each call
//! runs on the archive's own small runtime from a fresh scoped thread, so it is safe from any
//! thread, inside a Tokio runtime's blocking pool included.

use futures_util::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{Attribute, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use preciso_core::domain::{IngestFile, IngestStatus};
use preciso_core::hash::to_hex;
use preciso_core::ports::{Catalog, StoreError};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where raw files live in the store.
pub const PREFIX: &str = "raw";
/// The user-metadata key holding an object's SHA-256.
const SHA256_METADATA: &str = "sha256";
/// Uploads in flight during a sync.
const SYNC_WORKERS: usize = 4;
/// Attempts per upload during a sync (exponential backoff between them).
const ATTEMPTS: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("archive {0}: {1}")]
    Store(String, #[source] object_store::Error),
    #[error("{0}")]
    Catalog(#[from] StoreError),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{0}")]
    Invalid(String),
}

/// An object store holding the raw files.
pub struct Archive {
    store: Arc<dyn ObjectStore>,
    /// Taken only by `Drop`.
    runtime: Option<tokio::runtime::Runtime>,
    /// `file:///…` or `s3://bucket`, for messages and the status document.
    pub location: String,
    /// Whether objects carry user metadata (S3, memory; not a local directory): uploads then
    /// record their SHA-256 as `x-amz-meta-sha256` (docs/OPERATIONS.md O31).
    metadata: bool,
}

/// The archive may be dropped inside an async context (a server shutting down), where a
/// runtime must not block: it is shut down in the background instead.
impl Drop for Archive {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// What storing a file did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    Created,
    /// The key was there already (content-addressed: the same bytes).
    AlreadyThere,
}

/// How an archive URL is shown (status document, logs): `s3://BUCKET` as given, a directory
/// as `file://DIR`.
pub fn location_of(url: &str) -> String {
    if url.starts_with("s3://") {
        url.to_string()
    } else {
        format!("file://{}", url.strip_prefix("file://").unwrap_or(url))
    }
}

impl Archive {
    /// `s3://BUCKET` (endpoint, region and credentials from the `AWS_*` environment, e.g.
    /// `AWS_ENDPOINT_URL`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`), `file:///DIR` or a directory.
    pub fn open(url: &str) -> Result<Archive, ArchiveError> {
        if let Some(bucket) = url.strip_prefix("s3://") {
            let bucket = bucket.trim_end_matches('/');
            if bucket.is_empty() || bucket.contains('/') {
                return Err(ArchiveError::Invalid(format!(
                    "{url}: expected s3://BUCKET (prefixes inside a bucket are not supported)"
                )));
            }
            // Bounded retries and timeouts: an outage fails a call in seconds (the caller,
            // e.g. `archive sync`, retries with its own backoff) instead of minutes.
            let retry = object_store::RetryConfig {
                max_retries: 3,
                retry_timeout: Duration::from_secs(20),
                ..Default::default()
            };
            let client = object_store::ClientOptions::new()
                .with_connect_timeout(Duration::from_secs(3))
                .with_timeout(Duration::from_secs(120));
            let mut builder = AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_retry(retry)
                .with_client_options(client);
            if std::env::var("AWS_ENDPOINT_URL").is_ok_and(|e| e.starts_with("http://")) {
                builder = builder.with_allow_http(true);
            }
            let store = builder.build().map_err(|e| ArchiveError::Store(url.into(), e))?;
            return Archive::with_store(Arc::new(store), url.to_string(), true);
        }
        let dir = PathBuf::from(url.strip_prefix("file://").unwrap_or(url));
        std::fs::create_dir_all(&dir)
            .map_err(|source| ArchiveError::Io { path: dir.display().to_string(), source })?;
        let store = LocalFileSystem::new_with_prefix(&dir)
            .map_err(|e| ArchiveError::Store(dir.display().to_string(), e))?;
        Archive::with_store(Arc::new(store), location_of(url), false)
    }

    /// An archive in memory (tests, and the conformance suite's third backend).
    pub fn in_memory() -> Result<Archive, ArchiveError> {
        Archive::with_store(
            Arc::new(object_store::memory::InMemory::new()),
            "memory://".into(),
            true,
        )
    }

    fn with_store(
        store: Arc<dyn ObjectStore>,
        location: String,
        metadata: bool,
    ) -> Result<Archive, ArchiveError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("archive")
            .enable_all()
            .build()
            .map_err(|source| ArchiveError::Io { path: location.clone(), source })?;
        Ok(Archive { store, runtime: Some(runtime), location, metadata })
    }

    fn block<T: Send>(&self, f: impl Future<Output = T> + Send) -> T {
        let runtime = self.runtime.as_ref().expect("present until drop");
        std::thread::scope(|s| {
            s.spawn(|| runtime.block_on(f)).join().unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    }

    fn err(&self, e: object_store::Error) -> ArchiveError {
        ArchiveError::Store(self.location.clone(), e)
    }

    /// Stores `bytes` at `key` unless something is there already (create-if-absent,
    /// docs/OPERATIONS.md O29).
    pub fn put_if_absent(&self, key: &str, bytes: Vec<u8>) -> Result<Stored, ArchiveError> {
        let path = ObjectPath::from(key);
        let sha256 = sha256_hex(&bytes);
        let payload = PutPayload::from(bytes);
        let mut opts = PutOptions::from(PutMode::Create);
        if self.metadata {
            opts.attributes.insert(Attribute::Metadata(SHA256_METADATA.into()), sha256.into());
        }
        match self.block(self.store.put_opts(&path, payload.clone(), opts)) {
            Ok(_) => Ok(Stored::Created),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(Stored::AlreadyThere),
            // A store without conditional writes: the key names the content, so checking
            // first and writing the same bytes in a race is harmless.
            Err(object_store::Error::NotImplemented { .. }) => {
                if self.size(key)?.is_some() {
                    return Ok(Stored::AlreadyThere);
                }
                self.block(self.store.put(&path, payload)).map_err(|e| self.err(e))?;
                Ok(Stored::Created)
            }
            Err(e) => Err(self.err(e)),
        }
    }

    /// The object's size, `None` when absent.
    pub fn size(&self, key: &str) -> Result<Option<u64>, ArchiveError> {
        match self.block(self.store.head(&ObjectPath::from(key))) {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err(e)),
        }
    }

    /// Keys and sizes under `prefix`.
    pub fn list(&self, prefix: &str) -> Result<Vec<(String, u64)>, ArchiveError> {
        let prefix = ObjectPath::from(prefix);
        self.block(async {
            let mut out = Vec::new();
            let mut stream = self.store.list(Some(&prefix));
            while let Some(meta) = stream.next().await {
                let meta = meta.map_err(|e| self.err(e))?;
                out.push((meta.location.to_string(), meta.size));
            }
            out.sort();
            Ok(out)
        })
    }

    /// SHA-256 of the object, read as a stream.
    pub fn sha256(&self, key: &str) -> Result<String, ArchiveError> {
        let path = ObjectPath::from(key);
        self.block(async {
            let got = self.store.get(&path).await.map_err(|e| self.err(e))?;
            let mut stream = got.into_stream();
            let mut hasher = Sha256::new();
            while let Some(chunk) = stream.next().await {
                hasher.update(chunk.map_err(|e| self.err(e))?);
            }
            Ok(to_hex(&hasher.finalize()))
        })
    }

    /// The SHA-256 recorded in the object's metadata at upload, where the store keeps metadata.
    pub fn recorded_sha256(&self, key: &str) -> Result<Option<String>, ArchiveError> {
        let path = ObjectPath::from(key);
        let got = self.block(self.store.get(&path)).map_err(|e| self.err(e))?;
        Ok(got.attributes.get(&Attribute::Metadata(SHA256_METADATA.into())).map(|v| v.to_string()))
    }

    pub fn delete(&self, key: &str) -> Result<(), ArchiveError> {
        self.block(self.store.delete(&ObjectPath::from(key))).map_err(|e| self.err(e))
    }
}

/// The key of a ledger row's raw file: `raw/{store}/{yyyy}/{mm}/{dd}/{sha256}.{ext}`, the store
/// being the run's (`mixed` when the file carried several), the date the day it was received.
pub fn key_for(file: &IngestFile) -> String {
    let store = file.store.as_ref().map_or("mixed", |s| s.as_str());
    let day = chrono::DateTime::from_timestamp(file.received_at, 0).unwrap_or_default();
    let ext = Path::new(&file.name)
        .extension()
        .and_then(|e| e.to_str())
        .filter(|e| e.len() <= 8 && e.chars().all(|c| c.is_ascii_alphanumeric()))
        .map_or_else(|| "bin".to_string(), str::to_ascii_lowercase);
    format!("{PREFIX}/{store}/{}/{}.{ext}", day.format("%Y/%m/%d"), file.sha256)
}

/// Hex SHA-256 of a byte string (how the ledger names content).
pub fn sha256_hex(bytes: &[u8]) -> String {
    to_hex(&Sha256::digest(bytes))
}

fn read_checked(path: &Path, file: &IngestFile) -> Result<Vec<u8>, ArchiveError> {
    let bytes = std::fs::read(path)
        .map_err(|source| ArchiveError::Io { path: path.display().to_string(), source })?;
    let sha = to_hex(&Sha256::digest(&bytes));
    if sha != file.sha256 || bytes.len() as u64 != file.size {
        return Err(ArchiveError::Invalid(format!(
            "{}: {} bytes with sha256 {sha}, the ledger recorded {} bytes with {}",
            path.display(),
            bytes.len(),
            file.size,
            file.sha256
        )));
    }
    Ok(bytes)
}

/// Stores the raw file of a completed ingest and records its key in the ledger once the
/// stored object's size matches (docs/OPERATIONS.md O33). Returns the key.
pub fn archive_file(
    archive: &Archive,
    catalog: &dyn Catalog,
    file: &IngestFile,
    local: &Path,
) -> Result<(String, Stored), ArchiveError> {
    let key = key_for(file);
    let bytes = read_checked(local, file)?;
    let stored = archive.put_if_absent(&key, bytes)?;
    match archive.size(&key)? {
        Some(size) if size == file.size => {}
        other => {
            return Err(ArchiveError::Invalid(format!(
                "{key}: the archive holds {other:?} bytes, the ledger {} (left unarchived)",
                file.size
            )));
        }
    }
    catalog.mark_archived(file.id, &key)?;
    Ok((key, stored))
}

/// The three sets of `archive verify` (and the fourth with `--deep`), as keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Reconciliation {
    pub checked: u64,
    pub missing_in_archive: Vec<String>,
    pub orphan_in_archive: Vec<String>,
    pub size_mismatch: Vec<String>,
    /// Only with `deep`: objects whose content no longer hashes to their key.
    pub hash_mismatch: Vec<String>,
    pub deep: bool,
}

impl Reconciliation {
    pub fn is_clean(&self) -> bool {
        self.missing_in_archive.is_empty()
            && self.orphan_in_archive.is_empty()
            && self.size_mismatch.is_empty()
            && self.hash_mismatch.is_empty()
    }
}

/// Every completed ledger row, keyed by its archive key.
fn expected(catalog: &dyn Catalog) -> Result<BTreeMap<String, IngestFile>, ArchiveError> {
    let mut out = BTreeMap::new();
    let page = 1000;
    let mut offset = 0;
    loop {
        let rows = catalog.ingest_files(page, offset)?;
        let n = rows.len();
        for f in rows.into_iter().filter(|f| f.status == IngestStatus::Done) {
            out.insert(key_for(&f), f);
        }
        if n < page as usize {
            return Ok(out);
        }
        offset += u64::from(page);
    }
}

/// Compares the ledger with the archive (docs/OPERATIONS.md O30, O31). `deep` re-reads every object
/// and checks its SHA-256 (never the ETag, which is not a content hash for multipart or encrypted
/// objects).
pub fn verify(
    archive: &Archive,
    catalog: &dyn Catalog,
    deep: bool,
) -> Result<Reconciliation, ArchiveError> {
    verify_sampled(archive, catalog, if deep { 100 } else { 0 })
}

/// `verify` re-reading `sample_percent` of the present objects (0: none, 100: all), chosen by
/// their hash, so a sample is stable for a given archive.
pub fn verify_sampled(
    archive: &Archive,
    catalog: &dyn Catalog,
    sample_percent: u8,
) -> Result<Reconciliation, ArchiveError> {
    Ok(reconcile(archive, catalog, sample_percent)?.0)
}

/// `verify_sampled`, also returning the ledger it compared against (keyed by archive key).
fn reconcile(
    archive: &Archive,
    catalog: &dyn Catalog,
    sample_percent: u8,
) -> Result<(Reconciliation, BTreeMap<String, IngestFile>), ArchiveError> {
    let deep = sample_percent > 0;
    // The listing first, then the ledger: a file archived in between shows as present or, at
    // worst, missing (retried), never as an orphan.
    let present: HashMap<String, u64> = archive.list(PREFIX)?.into_iter().collect();
    let expected = expected(catalog)?;
    // Keys the ledger recorded are known too, whatever `key_for` says today.
    let recorded: std::collections::HashSet<&str> =
        expected.values().filter_map(|f| f.archive_key.as_deref()).collect();
    let mut r = Reconciliation { deep, checked: expected.len() as u64, ..Default::default() };
    for (key, file) in &expected {
        match present.get(key) {
            None => r.missing_in_archive.push(key.clone()),
            Some(&size) if size != file.size => r.size_mismatch.push(key.clone()),
            Some(_)
                if sampled(&file.sha256, sample_percent) && archive.sha256(key)? != file.sha256 =>
            {
                r.hash_mismatch.push(key.clone())
            }
            Some(_) => {}
        }
    }
    let mut orphans: Vec<String> = present
        .keys()
        .filter(|k| !expected.contains_key(*k) && !recorded.contains(k.as_str()))
        .cloned()
        .collect();
    orphans.sort();
    r.orphan_in_archive = orphans;
    Ok((r, expected))
}

fn sampled(sha256: &str, percent: u8) -> bool {
    let bucket = u8::from_str_radix(sha256.get(..2).unwrap_or("00"), 16).unwrap_or(0);
    u32::from(bucket) * 100 < u32::from(percent.min(100)) * 256
}

/// What `archive sync` did (or, dry, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    /// Keys this sync stored (or, dry, would store).
    pub uploaded: Vec<String>,
    /// Keys another writer stored first (a concurrent sync): already there, size checked.
    pub already_there: Vec<String>,
    /// Missing keys whose raw file is nowhere under the local sources.
    pub not_found_locally: Vec<String>,
    pub failed: Vec<(String, String)>,
    pub orphans_deleted: Vec<String>,
    pub dry_run: bool,
}

/// Local raw files by SHA-256, for the sizes wanted (hashing only files of a wanted size).
fn local_files(sources: &[PathBuf], sizes: &[u64]) -> HashMap<String, PathBuf> {
    let mut found = HashMap::new();
    let mut stack: Vec<PathBuf> = sources.to_vec();
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(path);
            } else if sizes.contains(&meta.len())
                && let Ok(bytes) = std::fs::read(&path)
            {
                found.insert(to_hex(&Sha256::digest(&bytes)), path);
            }
        }
    }
    found
}

/// Uploads the missing raw files found under `sources` with `SYNC_WORKERS` at a time, each
/// retried with backoff; deletes orphans only when asked (docs/OPERATIONS.md O32). A second run
/// right after uploads nothing.
pub fn sync(
    archive: &Archive,
    catalog: &dyn Catalog,
    sources: &[PathBuf],
    dry_run: bool,
    delete_orphans: bool,
) -> Result<SyncReport, ArchiveError> {
    let (state, expected) = reconcile(archive, catalog, 0)?;
    let wanted: Vec<&IngestFile> =
        state.missing_in_archive.iter().filter_map(|k| expected.get(k)).collect();
    let sizes: Vec<u64> = wanted.iter().map(|f| f.size).collect();
    let local = local_files(sources, &sizes);
    let mut report = SyncReport { dry_run, ..Default::default() };
    let mut queue: Vec<(&IngestFile, PathBuf)> = Vec::new();
    for f in wanted {
        match local.get(&f.sha256) {
            Some(p) => queue.push((f, p.clone())),
            None => report.not_found_locally.push(key_for(f)),
        }
    }
    if dry_run {
        report.uploaded = queue.iter().map(|(f, _)| key_for(f)).collect();
        if delete_orphans {
            report.orphans_deleted = state.orphan_in_archive.clone();
        }
        return Ok(report);
    }
    let queue = Mutex::new(queue);
    let results = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..SYNC_WORKERS {
            s.spawn(|| {
                loop {
                    let Some((file, path)) = queue.lock().unwrap_or_else(|p| p.into_inner()).pop()
                    else {
                        return;
                    };
                    let outcome = with_retries(|| archive_file(archive, catalog, file, &path));
                    results
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push((key_for(file), outcome));
                }
            });
        }
    });
    for (key, outcome) in results.into_inner().unwrap_or_else(|p| p.into_inner()) {
        match outcome {
            Ok((_, Stored::Created)) => report.uploaded.push(key),
            Ok((_, Stored::AlreadyThere)) => report.already_there.push(key),
            Err(e) => report.failed.push((key, e.to_string())),
        }
    }
    report.uploaded.sort();
    // Orphans are deleted only after a sync without errors (docs/OPERATIONS.md O32), and only those
    // a fresh reconciliation still finds (files archived during the sync are not orphans).
    if delete_orphans && report.failed.is_empty() {
        let now = verify(archive, catalog, false)?;
        for key in &now.orphan_in_archive {
            archive.delete(key)?;
            report.orphans_deleted.push(key.clone());
        }
    }
    Ok(report)
}

fn with_retries<T>(mut f: impl FnMut() -> Result<T, ArchiveError>) -> Result<T, ArchiveError> {
    let mut attempt = 1;
    loop {
        match f() {
            Ok(v) => return Ok(v),
            // A mismatch will not fix itself; only store and I/O errors are retried.
            Err(e @ ArchiveError::Invalid(_)) => return Err(e),
            Err(e) if attempt >= ATTEMPTS => return Err(e),
            Err(_) => {
                std::thread::sleep(Duration::from_millis(200 * (1 << attempt)));
                attempt += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sample_takes_the_requested_share_of_hashes() {
        let share =
            |percent| (0..=255u8).filter(|b| sampled(&format!("{b:02x}00"), percent)).count();
        assert_eq!((share(0), share(1), share(5), share(50), share(100)), (0, 3, 13, 128, 256));
    }

    #[test]
    fn keys_are_content_addressed_by_store_and_day() {
        let file = IngestFile {
            id: 1,
            name: "Exito Export.JSONL".into(),
            sha256: "ab".repeat(32),
            size: 10,
            store: preciso_core::domain::StoreId::parse("exito").ok(),
            received_at: 1_795_000_000,
            finished_at: None,
            status: IngestStatus::Done,
            counts: Default::default(),
            archive_key: None,
            error: None,
        };
        assert_eq!(key_for(&file), format!("raw/exito/2026/11/18/{}.jsonl", "ab".repeat(32)));
        let odd = IngestFile { name: "upload".into(), store: None, ..file };
        assert!(key_for(&odd).starts_with("raw/mixed/") && key_for(&odd).ends_with(".bin"));
    }
}
