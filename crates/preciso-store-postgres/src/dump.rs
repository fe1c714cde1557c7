//! Whole-table dump and load for PostgreSQL. Dumps stream through a portal; loads insert
//! multi-row VALUES in chunks, with NULLs typed from the prepared statement's parameters.

use crate::{PgCatalog, backend};
use postgres::types::{ToSql, Type};
use postgres::{IsolationLevel, Transaction};
use preciso_core::ports::{CatalogDump, Cell, RowSink, StoreError, TableLoader};
use preciso_sql::numbered;
use preciso_sql::tables::{TABLES, TableSpec, check_widths, select_all, table};

fn spec(name: &str) -> Result<&'static TableSpec, StoreError> {
    table(name).ok_or_else(|| StoreError::Backend(format!("unknown table {name}")))
}

pub(crate) fn read_cell(row: &postgres::Row, i: usize) -> Result<Cell, StoreError> {
    let ty = row.columns()[i].type_();
    let cell = if *ty == Type::INT8 {
        row.try_get::<_, Option<i64>>(i).map_err(backend)?.map(Cell::Int)
    } else if *ty == Type::INT4 {
        row.try_get::<_, Option<i32>>(i).map_err(backend)?.map(|v| Cell::Int(v.into()))
    } else if *ty == Type::BYTEA {
        row.try_get::<_, Option<Vec<u8>>>(i).map_err(backend)?.map(Cell::Bytes)
    } else {
        row.try_get::<_, Option<String>>(i).map_err(backend)?.map(Cell::Text)
    };
    Ok(cell.unwrap_or(Cell::Null))
}

pub(crate) fn bind_cell(c: &Cell, ty: &Type) -> Box<dyn ToSql + Sync> {
    match c {
        Cell::Int(i) => Box::new(*i),
        Cell::Text(t) => Box::new(t.clone()),
        Cell::Bytes(b) => Box::new(b.clone()),
        Cell::Null if *ty == Type::INT8 => Box::new(None::<i64>),
        Cell::Null if *ty == Type::BYTEA => Box::new(None::<Vec<u8>>),
        Cell::Null => Box::new(None::<String>),
    }
}

/// Rows per INSERT: keeps parameters well under PostgreSQL's 65535.
const CHUNK: usize = 1000;

fn insert_rows(
    tx: &mut Transaction<'_>,
    t: &TableSpec,
    rows: &[Vec<Cell>],
) -> Result<(), StoreError> {
    check_widths(t, rows)?;
    for chunk in rows.chunks(CHUNK) {
        let one = format!("({})", vec!["?"; t.columns.len()].join(", "));
        let sql = numbered(&format!(
            "INSERT INTO {} ({}) VALUES {}",
            t.name,
            t.columns.join(", "),
            vec![one; chunk.len()].join(", ")
        ));
        let stmt = tx.prepare(&sql).map_err(backend)?;
        let types = stmt.params().to_vec();
        let boxed: Vec<Box<dyn ToSql + Sync>> = chunk
            .iter()
            .flatten()
            .zip(types.iter())
            .map(|(cell, ty)| bind_cell(cell, ty))
            .collect();
        let refs: Vec<&(dyn ToSql + Sync)> = boxed.iter().map(|b| b.as_ref()).collect();
        tx.execute(&stmt, &refs).map_err(backend)?;
    }
    Ok(())
}

/// Streams one table through a portal of `tx`.
fn stream(
    tx: &mut Transaction<'_>,
    t: &TableSpec,
    sink: &mut dyn FnMut(Vec<Cell>) -> Result<(), StoreError>,
) -> Result<u64, StoreError> {
    let portal = tx.bind(&select_all(t), &[]).map_err(backend)?;
    let mut n = 0;
    loop {
        let rows = tx.query_portal(&portal, 5000).map_err(backend)?;
        if rows.is_empty() {
            return Ok(n);
        }
        for r in &rows {
            sink((0..t.columns.len()).map(|i| read_cell(r, i)).collect::<Result<_, _>>()?)?;
            n += 1;
        }
    }
}

const SEQUENCED: [&str; 4] = ["ingest_files", "users", "api_keys", "analyses"];

fn reset_sequences(tx: &mut Transaction<'_>) -> Result<(), StoreError> {
    for t in SEQUENCED {
        tx.batch_execute(&format!(
            "SELECT setval(pg_get_serial_sequence('{t}', 'id'), coalesce((SELECT max(id) FROM {t}), 0) + 1, false)"
        ))
        .map_err(backend)?;
    }
    Ok(())
}

struct Loader<'a, 'b>(&'a mut Transaction<'b>);

impl TableLoader for Loader<'_, '_> {
    fn load(&mut self, name: &str, rows: &[Vec<Cell>]) -> Result<(), StoreError> {
        insert_rows(self.0, spec(name)?, rows)
    }
}

impl CatalogDump for PgCatalog {
    fn dump(
        &self,
        name: &str,
        sink: &mut dyn FnMut(Vec<Cell>) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        let t = spec(name)?;
        self.with_unbounded_client(|c| {
            let mut tx = c.transaction().map_err(backend)?;
            let n = stream(&mut tx, t, sink)?;
            tx.commit().map_err(backend)?;
            Ok(n)
        })
    }

    fn load(&self, name: &str, rows: &[Vec<Cell>]) -> Result<(), StoreError> {
        let t = spec(name)?;
        self.with_unbounded_client(|c| {
            let mut tx = c.transaction().map_err(backend)?;
            crate::bulk::batch_turn(&mut tx)?;
            insert_rows(&mut tx, t, rows)?;
            tx.commit().map_err(backend)
        })
    }

    fn clear(&self) -> Result<(), StoreError> {
        let names: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
        self.with_unbounded_client(|c| {
            let mut tx = c.transaction().map_err(backend)?;
            crate::bulk::batch_turn(&mut tx)?;
            tx.batch_execute(&format!(
                "TRUNCATE {} CASCADE; DROP TABLE IF EXISTS bulk_products",
                names.join(", ")
            ))
            .map_err(backend)?;
            // The derived tables stay until `after_load` rebuilds them: marked stale meanwhile
            // (the price spans the listings read must not outlive the offers they describe).
            tx.batch_execute(preciso_sql::market::MARK).map_err(backend)?;
            tx.commit().map_err(backend)
        })
    }

    fn after_load(&self) -> Result<(), StoreError> {
        self.with_unbounded_client(|c| {
            let mut tx = c.transaction().map_err(backend)?;
            reset_sequences(&mut tx)?;
            // Derived too: the copied products start at one offer each, and the drops' daily
            // counts are not copied.
            crate::best::recount(&mut tx, None)?;
            tx.batch_execute(&preciso_sql::trend::rebuild_days()).map_err(backend)?;
            tx.commit().map_err(backend)?;
            // The market summary is derived, not copied: built from the loaded offers.
            crate::session::refresh_market(c)?;
            // As after a restore (`replace_all`): a copied catalog was read on guesses until
            // autovacuum came by (`relpages` 0; a top-level category's best prices with a price
            // bound took 1 s at 1M offers instead of 44 ms).
            c.batch_execute("VACUUM (ANALYZE)").map_err(backend)
        })
    }

    fn snapshot(&self, sink: &mut RowSink<'_>) -> Result<Vec<(String, u64)>, StoreError> {
        // One REPEATABLE READ snapshot for every table: a backup during an ingest sees whole
        // batches only.
        self.with_unbounded_client(|c| {
            let mut tx = c
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .map_err(backend)?;
            let mut counts = Vec::new();
            for t in TABLES {
                let n = stream(&mut tx, t, &mut |row| sink(t.name, row))?;
                counts.push((t.name.to_string(), n));
            }
            tx.commit().map_err(backend)?;
            Ok(counts)
        })
    }

    fn replace_all(
        &self,
        fill: &mut dyn FnMut(&mut dyn TableLoader) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        // DELETE, children first, rather than TRUNCATE: TRUNCATE locks every table against
        // readers until the commit; DELETE lets them read the old catalog meanwhile.
        let deletes: String =
            TABLES.iter().rev().map(|t| format!("DELETE FROM {};", t.name)).collect();
        self.with_unbounded_client(|c| {
            let mut tx = c.transaction().map_err(backend)?;
            // Not under an initial load (its tables lack their keys until its end).
            crate::bulk::batch_turn(&mut tx)?;
            // With the products a killed load set aside: they belong to no offer restored.
            tx.batch_execute(&format!("{deletes} DROP TABLE IF EXISTS bulk_products;"))
                .map_err(backend)?;
            fill(&mut Loader(&mut tx))?;
            reset_sequences(&mut tx)?;
            // Each product's offer count is derived: the restored products start at one.
            crate::best::recount(&mut tx, None)?;
            tx.batch_execute(&preciso_sql::trend::rebuild_days()).map_err(backend)?;
            // The market summary is derived, not copied: built from the loaded offers.
            crate::session::rebuild_market(&mut tx, None)?;
            tx.commit().map_err(backend)?;
            // Statistics and the visibility map for what was loaded, as after an ingest run:
            // without them the first readers of a copied catalog were planned on guesses
            // (`relpages` 0, no column statistics) and read every offer's page from the heap.
            c.batch_execute("VACUUM (ANALYZE)").map_err(backend)
        })
    }
}
