//! Whole-table dump and load for SQLite (`preciso copy`, portable backups). A backup snapshot
//! is `VACUUM INTO` a temporary file (the online, consistent copy SQLite offers) streamed table
//! by table; a whole-catalog replacement is one transaction.

use crate::{SqliteCatalog, backend};
use preciso_core::ports::{CatalogDump, Cell, RowSink, StoreError, TableLoader};
use preciso_sql::tables::{TABLES, TableSpec, check_widths, insert_one, select_all, table};
use rusqlite::Connection;
use rusqlite::types::{Value, ValueRef};

fn spec(name: &str) -> Result<&'static preciso_sql::tables::TableSpec, StoreError> {
    table(name).ok_or_else(|| StoreError::Backend(format!("unknown table {name}")))
}

pub(crate) fn cell(v: ValueRef<'_>) -> Cell {
    match v {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(i) => Cell::Int(i),
        // The schema has no REAL columns; a float here would be a foreign row, kept as text.
        ValueRef::Real(f) => Cell::Text(f.to_string()),
        ValueRef::Text(t) => Cell::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Cell::Bytes(b.to_vec()),
    }
}

pub(crate) fn value(c: &Cell) -> Value {
    match c {
        Cell::Null => Value::Null,
        Cell::Int(i) => Value::Integer(*i),
        Cell::Text(t) => Value::Text(t.clone()),
        Cell::Bytes(b) => Value::Blob(b.clone()),
    }
}

/// Streams one table's rows from `c`.
fn stream(
    c: &Connection,
    t: &TableSpec,
    sink: &mut dyn FnMut(Vec<Cell>) -> Result<(), StoreError>,
) -> Result<u64, StoreError> {
    let mut stmt = c.prepare(&select_all(t)).map_err(backend)?;
    let mut rows = stmt.query([]).map_err(backend)?;
    let mut n = 0;
    while let Some(r) = rows.next().map_err(backend)? {
        let cells = (0..t.columns.len())
            .map(|i| r.get_ref(i).map(cell))
            .collect::<Result<Vec<_>, _>>()
            .map_err(backend)?;
        sink(cells)?;
        n += 1;
    }
    Ok(n)
}

fn insert_rows(c: &Connection, t: &TableSpec, rows: &[Vec<Cell>]) -> Result<(), StoreError> {
    check_widths(t, rows)?;
    let mut stmt = c.prepare_cached(&insert_one(t)).map_err(backend)?;
    for row in rows {
        stmt.execute(rusqlite::params_from_iter(row.iter().map(value))).map_err(backend)?;
    }
    Ok(())
}

/// Removes files named `{prefix}…` in `dir` older than a day: leftovers of a process killed
/// while it wrote one.
/// Creates `path` empty with mode 0600.
fn private_empty_file(path: &std::path::Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path).map(drop)
}

pub(crate) fn sweep_stale(dir: &std::path::Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().unwrap_or_default().as_secs() > 86_400);
        if old && e.file_name().to_string_lossy().starts_with(prefix) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Deletes every dumped table's rows, children first.
fn delete_all_sql() -> String {
    TABLES.iter().rev().map(|t| format!("DELETE FROM {};", t.name)).collect()
}

struct Loader<'c>(&'c Connection);

impl TableLoader for Loader<'_> {
    fn load(&mut self, name: &str, rows: &[Vec<Cell>]) -> Result<(), StoreError> {
        insert_rows(self.0, spec(name)?, rows)
    }
}

impl SqliteCatalog {
    /// `PRAGMA integrity_check` and `foreign_key_check`: the problems found, empty when sound.
    pub fn integrity_problems(&self) -> Result<Vec<String>, StoreError> {
        self.with_reader(|c| {
            let mut problems: Vec<String> = c
                .prepare("PRAGMA integrity_check")?
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .filter(|m| m != "ok")
                .collect();
            let mut fk = c.prepare("PRAGMA foreign_key_check")?;
            let broken = fk.query_map([], |r| {
                Ok(format!(
                    "foreign key: {} row {} -> {}",
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?
                ))
            })?;
            for b in broken {
                problems.push(b?);
            }
            Ok(problems)
        })
    }
}

impl CatalogDump for SqliteCatalog {
    fn dump(
        &self,
        name: &str,
        sink: &mut dyn FnMut(Vec<Cell>) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        let t = spec(name)?;
        self.with_conn_err(|c| stream(c, t, sink))
    }

    fn load(&self, name: &str, rows: &[Vec<Cell>]) -> Result<(), StoreError> {
        let t = spec(name)?;
        self.write_txn(|c| insert_rows(c, t, rows))
    }

    fn clear(&self) -> Result<(), StoreError> {
        self.write_txn(|c| {
            c.execute_batch(&delete_all_sql()).map_err(backend)?;
            // The derived tables stay until `after_load` rebuilds them: marked stale meanwhile
            // (the price spans the listings read must not outlive the offers they describe).
            c.execute(preciso_sql::market::MARK, []).map(drop).map_err(backend)
        })
    }

    fn after_load(&self) -> Result<(), StoreError> {
        self.write_txn(|c| {
            crate::search::rebuild(c).map_err(backend)?;
            // The drops' daily counts are derived, not copied.
            c.execute_batch(&preciso_sql::trend::rebuild_days()).map_err(backend)
        })?;
        // The market summary is derived, not copied: built from the loaded offers.
        self.with_conn_err(crate::stats::refresh_market)
    }

    fn snapshot(&self, sink: &mut RowSink<'_>) -> Result<Vec<(String, u64)>, StoreError> {
        // VACUUM INTO writes a consistent, compacted copy while writers go on; the dump then
        // reads the copy at leisure, holding nothing on the live database.
        let dir = self.path().parent().unwrap_or(std::path::Path::new("."));
        sweep_stale(dir, ".snapshot-");
        let copy = dir.join(format!(".snapshot-{}.sqlite", std::process::id()));
        let _ = std::fs::remove_file(&copy);
        // The copy holds the whole catalog (users' e-mails included): readable by the owner
        // only, whatever the umask. VACUUM INTO accepts an empty file that exists.
        private_empty_file(&copy)
            .map_err(|e| StoreError::Backend(format!("{}: {e}", copy.display())))?;
        let copy_str = copy.to_string_lossy().into_owned();
        self.with_reader(|c| c.execute("VACUUM INTO ?1", [&copy_str]).map(drop))?;
        let result = (|| {
            let snap = Connection::open(&copy).map_err(backend)?;
            let mut counts = Vec::new();
            for t in TABLES {
                let n = stream(&snap, t, &mut |row| sink(t.name, row))?;
                counts.push((t.name.to_string(), n));
            }
            Ok(counts)
        })();
        let _ = std::fs::remove_file(&copy);
        result
    }

    fn replace_all(
        &self,
        fill: &mut dyn FnMut(&mut dyn TableLoader) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.write_txn(|c| {
            c.execute_batch(&delete_all_sql()).map_err(backend)?;
            fill(&mut Loader(c))?;
            crate::search::rebuild(c).map_err(backend)?;
            c.execute_batch(&preciso_sql::trend::rebuild_days()).map_err(backend)?;
            // The market summary is derived, not copied: built from the loaded offers.
            crate::stats::rebuild_market(c)
        })
    }
}
