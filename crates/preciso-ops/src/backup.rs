//! Portable backups (docs/OPERATIONS.md O15–O21): one zstd-compressed file of JSON lines, readable
//! by any backend. The stream is a header line (`{"preciso_backup": FORMAT_VERSION}`), then per
//! table a `{"table", "columns"}` line, its rows as JSON arrays and an `{"end", "rows",
//! "sha256"}` line (the hash covers the row lines), and last the manifest (format and schema
//! version, source backend, creation time, per-table counts and hashes). A backup appears atomically: it is written under a temporary name and
//! renamed once complete and synced. Reading checks every part against its hash and the
//! manifest and stops at the first mismatch.

use chrono::{DateTime, Datelike, Utc};
use preciso_core::hash::to_hex;
use preciso_core::ports::{Catalog, Cell, StoreError, TableLoader};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

/// The version of this file format; readers refuse newer ones.
pub const FORMAT_VERSION: u32 = 1;
/// File name suffix of backups.
pub const EXTENSION: &str = ".preciso-backup.zst";
/// zstd level: fast enough to back up while serving, ~5–8× smaller than the raw rows.
const LEVEL: i32 = 3;
/// Rows handed to a loader at a time.
const LOAD_CHUNK: usize = 5000;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{path}: {reason}")]
    Corrupt { path: String, reason: String },
    #[error("{path}: backup format {found} is newer than this build reads ({FORMAT_VERSION})")]
    NewerFormat { path: String, found: u32 },
    #[error(
        "{path}: backup of schema {backup}, this build has schema {ours}; restore it with a build of that schema"
    )]
    SchemaMismatch { path: String, backup: String, ours: String },
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io { path: path.display().to_string(), source }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TablePart {
    pub name: String,
    pub rows: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    pub app_version: String,
    /// The schema of the build that wrote it (`schema_version`: its last migration by SQLite's
    /// list, whichever the backend), which a restore must match.
    pub schema_version: String,
    pub backend: String,
    pub created_at: DateTime<Utc>,
    pub tables: Vec<TablePart>,
}

/// Where the backup comes from, for its manifest.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub app_version: &'a str,
    pub schema_version: &'a str,
    pub backend: &'a str,
}

impl Manifest {
    /// Rows of every table.
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }
}

/// A backup on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupFile {
    pub path: PathBuf,
    pub created_at: DateTime<Utc>,
    pub size: u64,
    /// When `backup verify` last restored it successfully (a `.verified` file beside it).
    pub verified_at: Option<DateTime<Utc>>,
}

fn cell_json(c: &Cell) -> Value {
    match c {
        Cell::Null => Value::Null,
        Cell::Int(i) => json!(i),
        Cell::Text(t) => json!(t),
        Cell::Bytes(b) => json!({ "hex": to_hex(b) }),
    }
}

fn json_cell(v: &Value) -> Option<Cell> {
    Some(match v {
        Value::Null => Cell::Null,
        Value::Number(n) => Cell::Int(n.as_i64()?),
        Value::String(s) => Cell::Text(s.clone()),
        Value::Object(o) => {
            let hex = o.get("hex")?.as_str()?;
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
                .collect::<Option<Vec<u8>>>()?;
            Cell::Bytes(bytes)
        }
        _ => return None,
    })
}

fn file_name(at: DateTime<Utc>) -> String {
    format!("preciso-{}{EXTENSION}", at.format("%Y%m%dT%H%M%S%3fZ"))
}

/// Writes a backup of `catalog` into `dir` and returns it. Nothing named like a backup exists
/// until the file is complete.
pub fn create(
    catalog: &dyn Catalog,
    dir: &Path,
    source: &Source<'_>,
    now: DateTime<Utc>,
) -> Result<(BackupFile, Manifest), BackupError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    sweep_stale_temporaries(dir);
    let final_path = dir.join(file_name(now));
    let tmp = dir.join(format!(".{}.tmp", file_name(now)));
    let result = write_stream(catalog, &tmp, source, now);
    let manifest = match result {
        Ok(m) => m,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    std::fs::rename(&tmp, &final_path).map_err(io(&final_path))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    let size = std::fs::metadata(&final_path).map_err(io(&final_path))?.len();
    Ok((BackupFile { path: final_path, created_at: now, size, verified_at: None }, manifest))
}

/// Removes `.preciso-….tmp` files older than a day: backups a killed process never finished.
fn sweep_stale_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().unwrap_or_default().as_secs() > 86_400);
        if old && name.starts_with(".preciso-") && name.ends_with(".tmp") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

fn write_stream(
    catalog: &dyn Catalog,
    tmp: &Path,
    source: &Source<'_>,
    now: DateTime<Utc>,
) -> Result<Manifest, BackupError> {
    // Owner-only: a backup holds users' emails and API-key hashes.
    let file = {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(tmp)
    }
    .map_err(io(tmp))?;
    let enc = zstd::Encoder::new(file, LEVEL).map_err(io(tmp))?;
    let mut out = BufWriter::new(enc);
    let header = json!({ "preciso_backup": FORMAT_VERSION });
    writeln!(out, "{header}").map_err(io(tmp))?;
    let mut parts: Vec<TablePart> = Vec::new();
    let mut current: Option<(String, Sha256, u64)> = None;
    let mut write_err: Option<std::io::Error> = None;
    let mut finish = |out: &mut BufWriter<_>, cur: Option<(String, Sha256, u64)>| {
        if let Some((name, hasher, rows)) = cur {
            let sha256 = to_hex(&hasher.finalize());
            writeln!(out, "{}", json!({ "end": name, "rows": rows, "sha256": sha256 }))?;
            parts.push(TablePart { name, rows, sha256 });
        }
        Ok::<_, std::io::Error>(())
    };
    let counts = catalog.snapshot(&mut |table, row| {
        let starts = current.as_ref().is_none_or(|(name, _, _)| name != table);
        let step = (|| {
            if starts {
                finish(&mut out, current.take())?;
                writeln!(out, "{}", json!({ "table": table }))?;
                current = Some((table.to_string(), Sha256::new(), 0));
            }
            let line = Value::Array(row.iter().map(cell_json).collect()).to_string();
            if let Some((_, hasher, rows)) = current.as_mut() {
                hasher.update(line.as_bytes());
                hasher.update(b"\n");
                *rows += 1;
            }
            writeln!(out, "{line}")
        })();
        step.map_err(|e| {
            let msg = e.to_string();
            write_err = Some(e);
            StoreError::Backend(format!("writing the backup: {msg}"))
        })
    });
    if let Some(e) = write_err {
        return Err(io(tmp)(e));
    }
    let counts = counts?;
    finish(&mut out, current.take()).map_err(io(tmp))?;
    // Tables with no rows still get their (empty) part, so the manifest lists every table.
    for (name, rows) in counts {
        if !parts.iter().any(|p| p.name == name) {
            debug_assert_eq!(rows, 0);
            let empty = to_hex(&Sha256::new().finalize());
            writeln!(out, "{}", json!({ "table": name })).map_err(io(tmp))?;
            writeln!(out, "{}", json!({ "end": name, "rows": 0, "sha256": empty }))
                .map_err(io(tmp))?;
            parts.push(TablePart { name, rows: 0, sha256: empty });
        }
    }
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        app_version: source.app_version.to_string(),
        schema_version: source.schema_version.to_string(),
        backend: source.backend.to_string(),
        created_at: now,
        tables: parts,
    };
    writeln!(out, "{}", json!({ "manifest": manifest })).map_err(io(tmp))?;
    let enc = out.into_inner().map_err(|e| io(tmp)(e.into_error()))?;
    let file = enc.finish().map_err(io(tmp))?;
    file.sync_all().map_err(io(tmp))?;
    Ok(manifest)
}

/// Receives the rows a backup holds: table name and cells.
pub type RowVisitor<'a> = dyn FnMut(&str, Vec<Cell>) -> Result<(), BackupError> + 'a;

/// Reads a backup, checking every table's hash and count and the manifest; rows go to `rows`
/// (table, row) in file order. Stops at the first problem.
pub fn read(path: &Path, rows: &mut RowVisitor<'_>) -> Result<Manifest, BackupError> {
    let corrupt =
        |reason: String| BackupError::Corrupt { path: path.display().to_string(), reason };
    let file = std::fs::File::open(path).map_err(io(path))?;
    let dec = zstd::Decoder::new(file).map_err(io(path))?;
    let mut lines = BufReader::new(dec).lines();
    let mut next = |what: &str| -> Result<String, BackupError> {
        lines
            .next()
            .transpose()
            .map_err(io(path))?
            .ok_or_else(|| corrupt(format!("ends before {what}")))
    };
    let header: Value =
        serde_json::from_str(&next("the header")?).map_err(|e| corrupt(format!("header: {e}")))?;
    let format =
        header["preciso_backup"].as_u64().ok_or_else(|| corrupt("not a Preciso backup".into()))?;
    if format > u64::from(FORMAT_VERSION) {
        return Err(BackupError::NewerFormat {
            path: path.display().to_string(),
            found: u32::try_from(format).unwrap_or(u32::MAX),
        });
    }
    let mut seen: Vec<TablePart> = Vec::new();
    loop {
        let line = next("the manifest")?;
        let v: Value = serde_json::from_str(&line).map_err(|e| corrupt(format!("{e}")))?;
        if let Some(m) = v.get("manifest") {
            let manifest: Manifest =
                serde_json::from_value(m.clone()).map_err(|e| corrupt(format!("manifest: {e}")))?;
            if manifest.tables != seen {
                return Err(corrupt("the manifest does not match the tables read".into()));
            }
            return Ok(manifest);
        }
        let table =
            v["table"].as_str().ok_or_else(|| corrupt(format!("expected a table: {line}")))?;
        let mut hasher = Sha256::new();
        let mut n = 0u64;
        loop {
            let line = next("the end of a table")?;
            if line.starts_with('{') {
                let end: Value =
                    serde_json::from_str(&line).map_err(|e| corrupt(format!("{e}")))?;
                let sha256 = to_hex(&hasher.finalize());
                let part = TablePart {
                    name: table.to_string(),
                    rows: end["rows"].as_u64().unwrap_or(u64::MAX),
                    sha256: end["sha256"].as_str().unwrap_or_default().to_string(),
                };
                if end["end"] != table || part.rows != n || part.sha256 != sha256 {
                    return Err(corrupt(format!(
                        "table {table}: {n} rows with sha256 {sha256}, the backup says {} and {}",
                        part.rows, part.sha256
                    )));
                }
                seen.push(part);
                break;
            }
            hasher.update(line.as_bytes());
            hasher.update(b"\n");
            n += 1;
            let cells: Vec<Value> = serde_json::from_str(&line)
                .map_err(|e| corrupt(format!("table {table}, row {n}: {e}")))?;
            let row =
                cells.iter().map(json_cell).collect::<Option<Vec<Cell>>>().ok_or_else(|| {
                    corrupt(format!("table {table}, row {n}: a value of unknown type"))
                })?;
            rows(table, row)?;
        }
    }
}

/// Checks the hashes only (`backup verify --quick`).
pub fn check_hashes(path: &Path) -> Result<Manifest, BackupError> {
    read(path, &mut |_, _| Ok(()))
}

/// Replaces `target`'s catalog with the backup, in one transaction: a bad part or a load
/// error leaves the target as it was. The backup's schema must be this build's.
pub fn restore(
    path: &Path,
    target: &dyn Catalog,
    schema_version: &str,
) -> Result<Manifest, BackupError> {
    let mut manifest = None;
    let mut failure: Option<BackupError> = None;
    let replaced = target.replace_all(&mut |loader: &mut dyn TableLoader| {
        let mut pending: Vec<Vec<Cell>> = Vec::with_capacity(LOAD_CHUNK);
        let mut pending_table = String::new();
        let outcome = read(path, &mut |table, row| {
            if table != pending_table {
                if !pending.is_empty() {
                    loader.load(&pending_table, &pending)?;
                    pending.clear();
                }
                pending_table = table.to_string();
            }
            pending.push(row);
            if pending.len() >= LOAD_CHUNK {
                loader.load(table, &pending)?;
                pending.clear();
            }
            Ok(())
        })
        .and_then(|m| {
            if m.schema_version != schema_version {
                return Err(BackupError::SchemaMismatch {
                    path: path.display().to_string(),
                    backup: m.schema_version.clone(),
                    ours: schema_version.to_string(),
                });
            }
            if !pending.is_empty() {
                loader.load(&pending_table, &pending)?;
            }
            Ok(m)
        });
        match outcome {
            Ok(m) => {
                manifest = Some(m);
                Ok(())
            }
            Err(e) => {
                let msg = e.to_string();
                failure = Some(e);
                Err(StoreError::Backend(msg))
            }
        }
    });
    if let Some(e) = failure {
        return Err(e);
    }
    replaced?;
    manifest.ok_or_else(|| BackupError::Corrupt {
        path: path.display().to_string(),
        reason: "no manifest".into(),
    })
}

/// A file beside a backup: `{backup}{suffix}`.
fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

fn in_use_marker(path: &Path) -> PathBuf {
    sidecar(path, ".inuse")
}

/// Marks a backup as being verified or restored for as long as it lives: pruning (by any
/// process) leaves it alone (docs/OPERATIONS.md O19).
pub struct InUse(PathBuf);

impl InUse {
    /// Best effort: a backup directory that cannot take the marker (read-only) still lets
    /// the backup be verified or restored.
    pub fn mark(path: &Path) -> InUse {
        let marker = in_use_marker(path);
        let _ = std::fs::write(&marker, format!("{}\n", std::process::id()));
        InUse(marker)
    }
}

/// A marker protects a backup for a day at most: one left by a killed process expires.
const IN_USE_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(86_400);

fn in_use(path: &Path) -> bool {
    std::fs::metadata(in_use_marker(path))
        .and_then(|m| m.modified())
        .is_ok_and(|t| t.elapsed().unwrap_or_default() < IN_USE_MAX_AGE)
}

impl Drop for InUse {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn verified_marker(path: &Path) -> PathBuf {
    sidecar(path, ".verified")
}

/// Records a successful restore drill of `path` (read back by `list`).
pub fn mark_verified(path: &Path, at: DateTime<Utc>) -> Result<(), BackupError> {
    let marker = verified_marker(path);
    std::fs::write(&marker, format!("{}\n", at.to_rfc3339())).map_err(io(&marker))
}

/// The backups in `dir`, newest first.
pub fn list(dir: &Path) -> Result<Vec<BackupFile>, BackupError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(dir)(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stamp) = name.strip_prefix("preciso-").and_then(|n| n.strip_suffix(EXTENSION))
        else {
            continue;
        };
        let Ok(naive) = chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%S%3fZ") else {
            continue;
        };
        let path = entry.path();
        let verified_at = std::fs::read_to_string(verified_marker(&path))
            .ok()
            .and_then(|s| DateTime::parse_from_rfc3339(s.trim()).ok())
            .map(|d| d.with_timezone(&Utc));
        let Ok(meta) = entry.metadata() else { continue }; // removed while listing
        let size = meta.len();
        out.push(BackupFile { path, created_at: naive.and_utc(), size, verified_at });
    }
    out.sort_by_key(|b| std::cmp::Reverse(b.created_at));
    Ok(out)
}

/// restic's `forget` policy: keep the newest `last`, and the newest backup of each of the most
/// recent `daily` days, `weekly` ISO weeks and `monthly` months that have a backup; the rules
/// are ORed. All zero keeps everything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeepPolicy {
    pub last: u32,
    pub daily: u32,
    pub weekly: u32,
    pub monthly: u32,
}

/// A time bucket of the policy (year and day, ISO week or month), tagged by kind.
type Bucket = fn(&DateTime<Utc>) -> (i32, u32, u32);

impl KeepPolicy {
    pub fn is_empty(&self) -> bool {
        *self == KeepPolicy::default()
    }

    /// Which of `created` (newest first) to keep, position by position.
    pub fn keep(&self, created: &[DateTime<Utc>]) -> Vec<bool> {
        if self.is_empty() {
            return vec![true; created.len()];
        }
        let mut keep = vec![false; created.len()];
        for k in keep.iter_mut().take(self.last as usize) {
            *k = true;
        }
        let buckets: [(u32, Bucket); 3] = [
            (self.daily, |t| (t.year(), t.ordinal(), 0)),
            (self.weekly, |t| (t.iso_week().year(), t.iso_week().week(), 1)),
            (self.monthly, |t| (t.year(), t.month(), 2)),
        ];
        for (count, bucket) in buckets {
            let mut seen = Vec::new();
            for (i, t) in created.iter().enumerate() {
                if seen.len() as u32 >= count {
                    break;
                }
                let b = bucket(t);
                if !seen.contains(&b) {
                    seen.push(b);
                    keep[i] = true;
                }
            }
        }
        keep
    }
}

/// The backups `policy` drops, oldest last; `protect` (the backup just written) and backups
/// marked `InUse` (being verified or restored) are never among them.
pub fn to_prune(
    backups: &[BackupFile],
    policy: &KeepPolicy,
    protect: Option<&Path>,
) -> Vec<BackupFile> {
    let created: Vec<DateTime<Utc>> = backups.iter().map(|b| b.created_at).collect();
    policy
        .keep(&created)
        .into_iter()
        .zip(backups)
        .filter(|(keep, b)| !keep && protect != Some(b.path.as_path()) && !in_use(&b.path))
        .map(|(_, b)| b.clone())
        .collect()
}

/// Deletes what `to_prune` lists (with their `.verified` markers); returns them.
pub fn prune(
    dir: &Path,
    policy: &KeepPolicy,
    protect: Option<&Path>,
) -> Result<Vec<BackupFile>, BackupError> {
    let doomed = to_prune(&list(dir)?, policy, protect);
    for b in &doomed {
        match std::fs::remove_file(&b.path) {
            // Pruned meanwhile by another process (the cleanup job and a backup at once).
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            other => other.map_err(io(&b.path))?,
        }
        let _ = std::fs::remove_file(verified_marker(&b.path));
    }
    Ok(doomed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn restic_policy_keeps_last_and_one_per_bucket_with_backups() {
        // Newest first: two on Mar 10, one on Mar 9, one on Mar 2 (previous ISO week), Feb 20.
        let created = [
            t("2026-03-10T12:00:00Z"),
            t("2026-03-10T03:00:00Z"),
            t("2026-03-09T03:00:00Z"),
            t("2026-03-02T03:00:00Z"),
            t("2026-02-20T03:00:00Z"),
        ];
        let keep = |p: KeepPolicy| p.keep(&created);
        assert_eq!(keep(KeepPolicy::default()), [true; 5], "an empty policy deletes nothing");
        assert_eq!(
            keep(KeepPolicy { last: 2, ..Default::default() }),
            [true, true, false, false, false]
        );
        // Days with backups: Mar 10 (its newest), Mar 9, Mar 2 — the empty days between count not.
        assert_eq!(
            keep(KeepPolicy { daily: 3, ..Default::default() }),
            [true, false, true, true, false]
        );
        assert_eq!(
            keep(KeepPolicy { weekly: 2, ..Default::default() }),
            [true, false, false, true, false]
        );
        assert_eq!(
            keep(KeepPolicy { monthly: 2, ..Default::default() }),
            [true, false, false, false, true]
        );
        // Rules are ORed.
        assert_eq!(
            keep(KeepPolicy { last: 1, monthly: 2, daily: 2, ..Default::default() }),
            [true, false, true, false, true]
        );
    }

    #[test]
    fn cells_round_trip_through_json() {
        for c in [
            Cell::Null,
            Cell::Int(-7),
            Cell::Text("ñandú \"x\"".into()),
            Cell::Bytes(vec![0, 255, 16]),
        ] {
            assert_eq!(json_cell(&cell_json(&c)), Some(c));
        }
        assert_eq!(json_cell(&json!(1.5)), None);
    }
}
