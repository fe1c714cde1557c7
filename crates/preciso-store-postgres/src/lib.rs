//! PostgreSQL adapter of the storage port: the production backend. Same schema and migration
//! names as SQLite; reads run the shared portable SQL of `preciso-sql`; ingest batches are
//! set-based upserts (`INSERT … SELECT FROM UNNEST(…) ON CONFLICT`), one round trip per table
//! per batch, inside one transaction.

mod accounts;
mod analyses;
mod best;
mod bulk;
mod dump;
mod identity;
mod migrate;
mod quality;
mod read;
mod runs;
mod session;
mod store;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tls;

use postgres::types::{ToSql, Type};
use postgres::{Client, Row, Statement};
use preciso_core::ports::StoreError;
use preciso_pool::Pool;
use preciso_sql::{Param, SqlRow};
use std::collections::HashMap;
use std::ops::{Deref, DerefMut};

pub use identity::TRENDS_LOCK;
pub use migrate::MIGRATIONS;

/// At most this many pooled connections per process; further callers wait for one. Ingest
/// runs and the leader lock use their own connections.
pub const MAX_CONNECTIONS: usize = 16;

pub struct PgCatalog {
    connector: tls::Connector,
    pool: Pool<PgConn>,
    /// Opened read-only (`open_read_only`): its sessions refuse writes.
    read_only: bool,
}

/// The longest a statement of a pooled connection (API reads, small writes) may run; ingest
/// sessions, backups and restores run without one.
const STATEMENT_TIMEOUT: &str = "30s";

/// Statements a pooled connection keeps prepared, at most (a new one beyond this empties the
/// cache). Read SQL texts vary with the filters given and with the length of value lists
/// (ids of a page, preferred stores and brands, search words), not with the values.
const CACHED_STATEMENTS: usize = 256;

/// A pooled connection with its prepared statements: a read is then one round trip (bind and
/// execute) instead of two, and PostgreSQL can reuse its plan instead of planning every
/// request (planning the best-prices page took longer than running it).
pub(crate) struct PgConn {
    client: Client,
    statements: HashMap<String, Statement>,
}

impl PgConn {
    fn new(client: Client) -> Self {
        PgConn { client, statements: HashMap::new() }
    }

    /// Runs `sql` (with `$n` placeholders) planned for these values: a statement prepared for
    /// this execution alone. A cached statement may settle on a generic plan after five
    /// executions, blind to which category, brand or price bound it serves — and the catalog's
    /// are skewed (a category holds 100 or 100,000 offers): at 1M offers a top-level category
    /// by rating with a price bound took 75–124 ms on the generic plan, 10–12 ms planned for
    /// its values (docs/DECISIONS.md). The parameters' types are sent with them, so parse,
    /// bind, describe and execute go in one round trip (`query_typed`) with no named statement
    /// to prepare or close: a `query` of the text prepared one first, a round trip more.
    pub(crate) fn query_planned(
        &mut self,
        sql: &str,
        params: &[Param],
    ) -> Result<Vec<Row>, StoreError> {
        let bound = bind(params);
        let typed: Vec<(&(dyn ToSql + Sync), Type)> =
            bound.iter().zip(params).map(|(b, p)| (b.as_ref(), param_type(p))).collect();
        self.client.query_typed(sql, &typed).map_err(backend)
    }

    /// Runs `sql` (with `$n` placeholders) as a prepared statement of this connection: for
    /// lookups whose plan does not depend on the values (by id, by product).
    pub(crate) fn query_cached(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        let cached = self.statements.contains_key(sql);
        match self.run_prepared(sql, params) {
            // A schema change (another replica's migration) can invalidate a prepared
            // statement: prepared again, it runs once more.
            Err(e) if cached && invalidated(&e) => {
                self.statements.remove(sql);
                self.run_prepared(sql, params).map_err(backend)
            }
            result => result.map_err(backend),
        }
    }

    fn run_prepared(
        &mut self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, postgres::Error> {
        let statement = match self.statements.get(sql) {
            Some(s) => s.clone(),
            None => {
                let s = self.client.prepare(sql)?;
                if self.statements.len() >= CACHED_STATEMENTS {
                    self.statements.clear();
                }
                self.statements.insert(sql.to_string(), s.clone());
                s
            }
        };
        self.client.query(&statement, params)
    }
}

/// "cached plan must not change result type" and "prepared statement does not exist".
fn invalidated(e: &postgres::Error) -> bool {
    use postgres::error::SqlState;
    e.code().is_some_and(|c| {
        *c == SqlState::FEATURE_NOT_SUPPORTED || *c == SqlState::INVALID_SQL_STATEMENT_NAME
    })
}

impl Deref for PgConn {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl DerefMut for PgConn {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.client
    }
}

/// A driver error as the port's: lost connections, a server shutting down or refusing
/// connections, and statement timeouts are `Unavailable` (a retry may succeed).
pub(crate) fn backend(e: postgres::Error) -> StoreError {
    use postgres::error::SqlState;
    let transient = [
        SqlState::ADMIN_SHUTDOWN,
        SqlState::CRASH_SHUTDOWN,
        SqlState::CANNOT_CONNECT_NOW,
        SqlState::TOO_MANY_CONNECTIONS,
        SqlState::QUERY_CANCELED,
    ];
    match e.as_db_error() {
        Some(db) if db.code() == &SqlState::UNIQUE_VIOLATION => {
            StoreError::Conflict(db.message().to_string())
        }
        Some(db) if transient.contains(db.code()) => {
            StoreError::Unavailable(format!("{}: {}", db.code().code(), db.message()))
        }
        Some(db) => StoreError::Backend(format!("{}: {}", db.code().code(), db.message())),
        None if e.is_closed()
            || std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>()) =>
        {
            StoreError::Unavailable(e.to_string())
        }
        None => StoreError::Backend(e.to_string()),
    }
}

impl PgCatalog {
    /// Connects, applies migrations, and keeps the connection for reuse. The URL is never
    /// echoed in errors (it may hold a password).
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let connector = tls::Connector::new(url).map_err(StoreError::Open)?;
        let mut client = connect_with(&connector)?;
        migrate::apply(&mut client)?;
        // Indexes and keys an initial load that crashed left unbuilt. A build that fails (it
        // says why) leaves the catalog serving reads, which need no key; each run tries again.
        if let Err(e) = bulk::restore(&mut client, &connector, false) {
            tracing::error!(error = %e, "could not build what an initial load deferred");
            // A fresh connection: the failed build's one may still hold its lock.
            client = connect_with(&connector)?;
        }
        // Marks left by a run that crashed, or by the migration that created the summary.
        best::refresh(&mut client)?;
        identity::refresh_trends(&mut client)?;
        session::refresh_market_if_marked(&mut client)?;
        bounded(&mut client, false)?;
        let pool =
            Pool::new(MAX_CONNECTIONS, vec![PgConn::new(client)], |c: &PgConn| !c.is_closed());
        Ok(PgCatalog { connector, pool, read_only: false })
    }

    /// Connects without writing anything (no migrations, no repairs), its sessions read-only:
    /// status and the other read-only commands.
    pub fn open_read_only(url: &str) -> Result<Self, StoreError> {
        let connector = tls::Connector::new(url).map_err(StoreError::Open)?;
        let mut client = connect_with(&connector)?;
        migrate::check_current(&mut client)?;
        bounded(&mut client, true)?;
        let pool =
            Pool::new(MAX_CONNECTIONS, vec![PgConn::new(client)], |c: &PgConn| !c.is_closed());
        Ok(PgCatalog { connector, pool, read_only: true })
    }

    /// Runs `f` on a pooled connection, whose statements time out after `STATEMENT_TIMEOUT`.
    pub(crate) fn with_client<T>(
        &self,
        f: impl FnOnce(&mut PgConn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.pool.get(|| {
            let mut client = connect_with(&self.connector)?;
            bounded(&mut client, self.read_only)?;
            Ok::<_, StoreError>(PgConn::new(client))
        })?;
        f(&mut conn)
    }

    /// `with_client` without the statement timeout, for whole-catalog work (dumps, loads).
    pub(crate) fn with_unbounded_client<T>(
        &self,
        f: impl FnOnce(&mut PgConn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.with_client(|c| {
            c.batch_execute("SET statement_timeout = 0").map_err(backend)?;
            let result = f(c);
            bounded(c, self.read_only)?;
            result
        })
    }

    pub(crate) fn pool_stats(&self) -> preciso_core::ports::PoolStats {
        self.pool.stats()
    }

    pub(crate) fn new_client(&self) -> Result<Client, StoreError> {
        connect_with(&self.connector)
    }
}

/// `postgres::Client` closes its connection by blocking on its own runtime, which panics
/// inside an async runtime; the pool is therefore dropped on a plain thread.
impl Drop for PgCatalog {
    fn drop(&mut self) {
        let clients = self.pool.drain_idle();
        if !clients.is_empty() {
            let _ =
                std::thread::Builder::new().name("pg-close".into()).spawn(move || drop(clients));
        }
    }
}

/// One connection to the URL's server, TLS as its `sslmode` says (see `tls`).
pub fn connect(url: &str) -> Result<Client, StoreError> {
    connect_with(&tls::Connector::new(url).map_err(StoreError::Open)?)
}

fn connect_with(connector: &tls::Connector) -> Result<Client, StoreError> {
    connector
        .connect()
        .map_err(|e| StoreError::Unavailable(format!("cannot connect to PostgreSQL: {e}")))
}

/// A pooled session: statements time out; a read-only catalog's sessions refuse writes; no JIT
/// compilation (PostgreSQL compiles any statement its planner costs above `jit_above_cost`,
/// ~7 ms at each execution: a ranked page that reads 5,000 offers at 1M took 170 ms with it).
fn bounded(client: &mut Client, read_only: bool) -> Result<(), StoreError> {
    let mode = if read_only { "on" } else { "off" };
    client
        .batch_execute(&format!(
            "SET statement_timeout = '{STATEMENT_TIMEOUT}'; SET default_transaction_read_only = {mode};
             SET jit = off"
        ))
        .map_err(backend)
}

/// Parameters as the driver wants them.
pub(crate) fn bind(params: &[Param]) -> Vec<Box<dyn ToSql + Sync>> {
    params
        .iter()
        .map(|p| -> Box<dyn ToSql + Sync> {
            match p {
                Param::Int(i) => Box::new(*i),
                Param::Text(t) => Box::new(t.clone()),
                Param::NullInt => Box::new(None::<i64>),
                Param::NullText => Box::new(None::<String>),
            }
        })
        .collect()
}

/// The PostgreSQL type each kind of `Param` binds as (the types `bind`'s values accept).
fn param_type(p: &Param) -> Type {
    match p {
        Param::Int(_) | Param::NullInt => Type::INT8,
        Param::Text(_) | Param::NullText => Type::TEXT,
    }
}

pub(crate) fn refs(boxed: &[Box<dyn ToSql + Sync>]) -> Vec<&(dyn ToSql + Sync)> {
    boxed.iter().map(|b| b.as_ref()).collect()
}

pub(crate) struct PgRow<'a>(pub &'a Row);

impl SqlRow for PgRow<'_> {
    type Error = StoreError;
    fn int(&self, i: usize) -> Result<i64, StoreError> {
        self.0.try_get(i).map_err(backend)
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        self.0.try_get(i).map_err(backend)
    }
    fn text(&self, i: usize) -> Result<String, StoreError> {
        self.0.try_get(i).map_err(backend)
    }
    fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        self.0.try_get(i).map_err(backend)
    }
    fn opt_bytes(&self, i: usize) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.try_get(i).map_err(backend)
    }
    fn invalid(&self, i: usize, what: String) -> StoreError {
        StoreError::Backend(format!("column {i}: {what}"))
    }
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
