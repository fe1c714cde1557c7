//! Users with preferences and API keys (hashed) on SQLite: the `Accounts` port; rows are
//! mapped by `preciso_sql`'s shared mappers.

use crate::SqliteRow;
use preciso_core::ports::{Accounts, ApiKeyRecord, StoreError};
use preciso_core::query::{NewUser, Page, PageRequest, Preferences, User};
use preciso_sql::{KEY_COLUMNS, USER_COLUMNS, key_from_row, user_from_row};
use rusqlite::{Connection, OptionalExtension, Row, params};

fn user_row(r: &Row<'_>) -> rusqlite::Result<User> {
    // Written only by `encode`, so it parses; an unreadable value shows as no preferences.
    user_from_row(&SqliteRow(r), decode)
}

fn encode(p: &Preferences) -> String {
    serde_json::to_string(p).unwrap_or_else(|_| "{}".into())
}

fn decode(s: &str) -> Preferences {
    serde_json::from_str(s).unwrap_or_default()
}

fn conflict_or_backend(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            StoreError::Conflict("a user with this email already exists".into())
        }
        _ => crate::backend(e),
    }
}

pub(crate) fn create(c: &Connection, u: &NewUser, p: &Preferences) -> Result<User, StoreError> {
    c.execute(
        "INSERT INTO users (name, email, preferences, created_at, updated_at)
         VALUES (?1, ?2, ?3, strftime('%s','now'), strftime('%s','now'))",
        params![u.name, u.email, encode(p)],
    )
    .map_err(conflict_or_backend)?;
    get(c, c.last_insert_rowid()).map_err(crate::backend)?.ok_or(StoreError::NotFound)
}

pub(crate) fn get(c: &Connection, id: i64) -> rusqlite::Result<Option<User>> {
    c.prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"))?
        .query_row([id], user_row)
        .optional()
}

pub(crate) fn list(c: &Connection, page: PageRequest) -> rusqlite::Result<Page<User>> {
    let items = c
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY id LIMIT ?1 OFFSET ?2"
        ))?
        .query_map(params![page.limit, page.offset() as i64], user_row)?
        .collect::<Result<Vec<_>, _>>()?;
    let total: i64 = c.query_row("SELECT count(*) FROM users", [], |r| r.get(0))?;
    Ok(Page::new(items, page, total as u64))
}

pub(crate) fn update(
    c: &Connection,
    id: i64,
    u: &NewUser,
    p: &Preferences,
) -> Result<Option<User>, StoreError> {
    let n = c
        .execute(
            "UPDATE users SET name = ?2, email = ?3, preferences = ?4, updated_at = strftime('%s','now')
             WHERE id = ?1",
            params![id, u.name, u.email, encode(p)],
        )
        .map_err(conflict_or_backend)?;
    if n == 0 {
        return Ok(None);
    }
    get(c, id).map_err(crate::backend)
}

fn key_row(r: &Row<'_>) -> rusqlite::Result<ApiKeyRecord> {
    key_from_row(&SqliteRow(r))
}

pub(crate) fn create_key(
    c: &Connection,
    name: &str,
    prefix: &str,
    hash: &str,
    scopes: &[String],
) -> rusqlite::Result<ApiKeyRecord> {
    c.execute(
        "INSERT INTO api_keys (name, prefix, key_hash, scopes, created_at)
         VALUES (?1, ?2, ?3, ?4, strftime('%s','now'))",
        params![name, prefix, hash, scopes.join(",")],
    )?;
    c.query_row(
        &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = ?1"),
        [c.last_insert_rowid()],
        key_row,
    )
}

pub(crate) fn keys(c: &Connection) -> rusqlite::Result<Vec<ApiKeyRecord>> {
    c.prepare(&format!("SELECT {KEY_COLUMNS} FROM api_keys ORDER BY id"))?
        .query_map([], key_row)?
        .collect()
}

pub(crate) fn key_by_hash(c: &Connection, hash: &str) -> rusqlite::Result<Option<ApiKeyRecord>> {
    c.prepare_cached(&format!(
        "SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = ?1 AND revoked_at IS NULL"
    ))?
    .query_row([hash], key_row)
    .optional()
}

impl Accounts for crate::SqliteCatalog {
    fn create_user(&self, user: &NewUser, prefs: &Preferences) -> Result<User, StoreError> {
        self.with_conn_err(|c| create(c, user, prefs))
    }

    fn user(&self, id: i64) -> Result<Option<User>, StoreError> {
        self.with_reader(|c| get(c, id))
    }

    fn users(&self, page: PageRequest) -> Result<Page<User>, StoreError> {
        self.with_reader(|c| list(c, page))
    }

    fn update_user(
        &self,
        id: i64,
        user: &NewUser,
        prefs: &Preferences,
    ) -> Result<Option<User>, StoreError> {
        self.with_conn_err(|c| update(c, id, user, prefs))
    }

    fn delete_user(&self, id: i64) -> Result<bool, StoreError> {
        self.with_reader(|c| c.execute("DELETE FROM users WHERE id = ?1", [id]).map(|n| n > 0))
    }

    fn create_api_key(
        &self,
        name: &str,
        prefix: &str,
        key_hash: &str,
        scopes: &[String],
    ) -> Result<ApiKeyRecord, StoreError> {
        self.with_reader(|c| create_key(c, name, prefix, key_hash, scopes))
    }

    fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.with_reader(keys)
    }

    fn revoke_api_key(&self, id: i64) -> Result<bool, StoreError> {
        self.with_reader(|c| {
            c.execute(
                "UPDATE api_keys SET revoked_at = strftime('%s','now') WHERE id = ?1 AND revoked_at IS NULL",
                params![id],
            )
            .map(|n| n > 0)
        })
    }

    fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.with_reader(|c| key_by_hash(c, key_hash))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preferences_round_trip() {
        let p = Preferences {
            stores: vec!["exito".into(), "jumbo".into()],
            brands: vec!["Samsung".into()],
            categories: vec![],
            budget: Some(2_000_000),
        };
        assert_eq!(decode(&encode(&p)), p);
        assert_eq!(decode(&encode(&Preferences::default())), Preferences::default());
    }
}
