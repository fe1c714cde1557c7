//! Users with preferences and API keys (hashed) on PostgreSQL: the `Accounts` port. Row
//! mappings are the shared ones of `preciso_sql` (`user_from_row`, `key_from_row`).

use crate::{PgCatalog, PgRow, backend, now};
use preciso_core::ports::{Accounts, ApiKeyRecord, StoreError};
use preciso_core::query::{NewUser, Page, PageRequest, Preferences, User};
use preciso_sql::{KEY_COLUMNS, USER_COLUMNS, key_from_row, user_from_row};

fn decode_prefs(s: &str) -> Preferences {
    serde_json::from_str(s).unwrap_or_default()
}

fn encode_prefs(p: &Preferences) -> String {
    serde_json::to_string(p).unwrap_or_else(|_| "{}".into())
}

fn conflict(e: postgres::Error, message: &str) -> StoreError {
    match backend(e) {
        StoreError::Conflict(_) => StoreError::Conflict(message.to_string()),
        other => other,
    }
}

impl Accounts for PgCatalog {
    fn create_user(&self, u: &NewUser, p: &Preferences) -> Result<User, StoreError> {
        self.with_client(|c| {
            let t = now();
            let row = c
                .query_one(
                    &format!("INSERT INTO users (name, email, preferences, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING {USER_COLUMNS}"),
                    &[&u.name, &u.email, &encode_prefs(p), &t],
                )
                .map_err(|e| conflict(e, "a user with this email already exists"))?;
            user_from_row(&PgRow(&row), decode_prefs)
        })
    }

    fn user(&self, id: i64) -> Result<Option<User>, StoreError> {
        self.with_client(|c| {
            let rows = c
                .query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"), &[&id])
                .map_err(backend)?;
            rows.first().map(|r| user_from_row(&PgRow(r), decode_prefs)).transpose()
        })
    }

    fn users(&self, page: PageRequest) -> Result<Page<User>, StoreError> {
        self.with_client(|c| {
            let rows = c
                .query(
                    &format!("SELECT {USER_COLUMNS} FROM users ORDER BY id LIMIT $1 OFFSET $2"),
                    &[&i64::from(page.limit), &(page.offset() as i64)],
                )
                .map_err(backend)?;
            let items = rows
                .iter()
                .map(|r| user_from_row(&PgRow(r), decode_prefs))
                .collect::<Result<Vec<_>, _>>()?;
            let total: i64 =
                c.query_one("SELECT count(*) FROM users", &[]).map_err(backend)?.get(0);
            Ok(Page::new(items, page, total as u64))
        })
    }

    fn update_user(
        &self,
        id: i64,
        u: &NewUser,
        p: &Preferences,
    ) -> Result<Option<User>, StoreError> {
        self.with_client(|c| {
            let rows = c
                .query(
                    &format!("UPDATE users SET name = $2, email = $3, preferences = $4, updated_at = $5 WHERE id = $1 RETURNING {USER_COLUMNS}"),
                    &[&id, &u.name, &u.email, &encode_prefs(p), &now()],
                )
                .map_err(|e| conflict(e, "a user with this email already exists"))?;
            rows.first().map(|r| user_from_row(&PgRow(r), decode_prefs)).transpose()
        })
    }

    fn delete_user(&self, id: i64) -> Result<bool, StoreError> {
        self.with_client(|c| {
            Ok(c.execute("DELETE FROM users WHERE id = $1", &[&id]).map_err(backend)? > 0)
        })
    }

    fn create_api_key(
        &self,
        name: &str,
        prefix: &str,
        key_hash: &str,
        scopes: &[String],
    ) -> Result<ApiKeyRecord, StoreError> {
        self.with_client(|c| {
            let row = c
                .query_one(
                    &format!("INSERT INTO api_keys (name, prefix, key_hash, scopes, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING {KEY_COLUMNS}"),
                    &[&name, &prefix, &key_hash, &scopes.join(","), &now()],
                )
                .map_err(backend)?;
            key_from_row(&PgRow(&row))
        })
    }

    fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.with_client(|c| {
            c.query(&format!("SELECT {KEY_COLUMNS} FROM api_keys ORDER BY id"), &[])
                .map_err(backend)?
                .iter()
                .map(|r| key_from_row(&PgRow(r)))
                .collect()
        })
    }

    fn revoke_api_key(&self, id: i64) -> Result<bool, StoreError> {
        self.with_client(|c| {
            Ok(c.execute(
                "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                &[&id, &now()],
            )
            .map_err(backend)?
                > 0)
        })
    }

    fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.with_client(|c| {
            let rows = c.query(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL"), &[&key_hash]).map_err(backend)?;
            rows.first().map(|r| key_from_row(&PgRow(r))).transpose()
        })
    }
}
