//! The storage contract against PostgreSQL. Runs when `PRECISO_TEST_PG_URL` points at a server
//! whose user may create databases (CI sets it); each test gets a fresh database, dropped
//! after. Without the variable every test prints that it was skipped and passes.

use postgres::{Client, NoTls};
use preciso_store_postgres::PgCatalog;
use std::sync::atomic::{AtomicU32, Ordering};

static SEQ: AtomicU32 = AtomicU32::new(0);

/// Drops the test database when the test ends.
struct TempDb {
    admin_url: String,
    name: String,
}

impl Drop for TempDb {
    fn drop(&mut self) {
        if let Ok(mut c) = Client::connect(&self.admin_url, NoTls) {
            let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

/// `postgres://…/db` → the same server with another database name.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

fn fresh() -> Option<(TempDb, Box<dyn preciso_core::ports::Catalog>)> {
    let Ok(url) = std::env::var("PRECISO_TEST_PG_URL") else {
        eprintln!("skipped: PRECISO_TEST_PG_URL is not set (PostgreSQL contract tests)");
        return None;
    };
    let name =
        format!("preciso_test_{}_{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed));
    let mut admin = Client::connect(&url, NoTls).expect("PRECISO_TEST_PG_URL must be reachable");
    admin.batch_execute(&format!("CREATE DATABASE {name}")).expect("create test database");
    let guard = TempDb { admin_url: url.clone(), name: name.clone() };
    let catalog = PgCatalog::open(&with_database(&url, &name)).expect("open test database");
    Some((guard, Box::new(catalog)))
}

mod contract {
    use super::fresh;
    preciso_core::contract_tests!(fresh());
}

#[test]
fn unreachable_servers_fail_clearly_without_echoing_the_password() {
    let err = PgCatalog::open("postgres://user:s3cret@127.0.0.1:1/db")
        .err()
        .expect("nothing listens on port 1");
    let text = err.to_string();
    assert!(text.contains("cannot connect to PostgreSQL"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
}
