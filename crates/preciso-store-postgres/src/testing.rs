//! Throwaway databases for tests on a real server: `PRECISO_TEST_PG_URL` names a server whose
//! user may create databases (CI sets it). Each `TempDb` is a fresh, empty database, dropped
//! when the guard goes. Without the variable `create` says the test is skipped.

use std::sync::atomic::{AtomicU32, Ordering};

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A database created for one test.
pub struct TempDb {
    admin_url: String,
    name: String,
    /// The URL of the fresh database (the admin URL's server, user and options).
    pub url: String,
}

impl TempDb {
    /// A fresh database named after `tag`, or `None` (with a line on stderr saying what is
    /// skipped) when `PRECISO_TEST_PG_URL` is unset.
    pub fn create(tag: &str) -> Option<TempDb> {
        let Ok(admin_url) = std::env::var("PRECISO_TEST_PG_URL") else {
            eprintln!("skipped: PRECISO_TEST_PG_URL is not set (PostgreSQL {tag} tests)");
            return None;
        };
        let name =
            format!("preciso_{tag}_{}_{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed));
        // Two statements: CREATE DATABASE may not run inside the implicit transaction of one
        // multi-statement query.
        for sql in [
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!("CREATE DATABASE {name}"),
        ] {
            off_runtime(&admin_url, &sql).expect("PRECISO_TEST_PG_URL must be reachable");
        }
        let url = with_database(&admin_url, &name);
        Some(TempDb { admin_url, name, url })
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let _ = off_runtime(&self.admin_url, &sql);
    }
}

/// Runs `sql` on a plain thread: the synchronous client may not run inside an async test.
fn off_runtime(url: &str, sql: &str) -> Result<(), String> {
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut client = crate::connect(url).map_err(|e| e.to_string())?;
            client.batch_execute(sql).map_err(|e| crate::backend(e).to_string())
        })
        .join()
        .unwrap_or_else(|_| Err("panicked".into()))
    })
}

/// Whether `table` has a column named `column`.
pub fn has_column(client: &mut postgres::Client, table: &str, column: &str) -> bool {
    client
        .query_one(
            "SELECT count(*) > 0 FROM information_schema.columns
             WHERE table_name = $1 AND column_name = $2",
            &[&table, &column],
        )
        .expect("information_schema is readable")
        .get(0)
}

/// `postgres://…/db?opts` → the same server and options with another database name.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}
