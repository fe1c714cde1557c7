//! Whole-table dump and load for SQLite (`preciso copy`, portable backups).

use crate::{SqliteCatalog, backend};
use preciso_core::ports::{CatalogDump, Cell, StoreError};
use preciso_sql::tables::{TABLES, insert_one, select_all, table};
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

fn value(c: &Cell) -> Value {
    match c {
        Cell::Null => Value::Null,
        Cell::Int(i) => Value::Integer(*i),
        Cell::Text(t) => Value::Text(t.clone()),
        Cell::Bytes(b) => Value::Blob(b.clone()),
    }
}

impl CatalogDump for SqliteCatalog {
    fn dump(
        &self,
        name: &str,
        sink: &mut dyn FnMut(Vec<Cell>) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        let t = spec(name)?;
        self.with_conn_err(|c| {
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
        })
    }

    fn load(&self, name: &str, rows: &[Vec<Cell>]) -> Result<(), StoreError> {
        let t = spec(name)?;
        self.with_conn_err(|c| {
            c.execute_batch("BEGIN IMMEDIATE").map_err(backend)?;
            let result = (|| {
                let mut stmt = c.prepare_cached(&insert_one(t))?;
                for row in rows {
                    stmt.execute(rusqlite::params_from_iter(row.iter().map(value)))?;
                }
                Ok::<_, rusqlite::Error>(())
            })();
            match result {
                Ok(()) => c.execute_batch("COMMIT").map_err(backend),
                Err(e) => {
                    let _ = c.execute_batch("ROLLBACK");
                    Err(backend(e))
                }
            }
        })
    }

    fn clear(&self) -> Result<(), StoreError> {
        let sql: String = TABLES.iter().rev().map(|t| format!("DELETE FROM {};", t.name)).collect();
        self.with_reader(|c| c.execute_batch(&format!("BEGIN IMMEDIATE; {sql} COMMIT;")))
    }

    fn after_load(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
