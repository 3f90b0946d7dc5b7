//! Storage: one small trait, [`SqlDb`], that each runtime implements over its SQL database
//! (Cloudflare D1; Spin SQLite; an in-memory SQLite in the core's tests), and [`Store`], which
//! holds every query the gateway makes, written once for all of them.
//!
//! The schema is `infra/migrations/*.sql`, shared verbatim by D1 and Spin.

use crate::error::StoreError;
use crate::model::{Credential, CredentialKind, CredentialStatus, Service, User};

/// The migrations, in order, for runtimes that apply them themselves (Spin, tests).
pub const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_init", include_str!("../../infra/migrations/0001_init.sql")),
    ("0002_revoked_tokens", include_str!("../../infra/migrations/0002_revoked_tokens.sql")),
];

/// A value bound to or read from a statement.
#[derive(Clone, Debug, PartialEq)]
pub enum SqlValue {
    Null,
    Integer(i64),
    Text(String),
}

impl From<&str> for SqlValue {
    fn from(s: &str) -> Self {
        SqlValue::Text(s.to_owned())
    }
}
impl From<String> for SqlValue {
    fn from(s: String) -> Self {
        SqlValue::Text(s)
    }
}
impl From<i64> for SqlValue {
    fn from(v: i64) -> Self {
        SqlValue::Integer(v)
    }
}
impl From<bool> for SqlValue {
    fn from(v: bool) -> Self {
        SqlValue::Integer(v as i64)
    }
}
impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(SqlValue::Null, Into::into)
    }
}

/// A runtime's SQL database. Rows come back as values in the statement's column order.
#[allow(async_fn_in_trait)] // the runtimes are single-threaded wasm; no Send bound is wanted
pub trait SqlDb {
    async fn query(&self, sql: &str, params: &[SqlValue]) -> Result<Vec<Vec<SqlValue>>, StoreError>;
    /// Runs a statement and returns how many rows it changed.
    async fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<u64, StoreError>;
    /// Runs statements in order, atomically where the runtime can (D1 batches are transactions).
    async fn execute_batch(&self, statements: &[(&str, Vec<SqlValue>)]) -> Result<(), StoreError>;
}

/// Whether an insert created the record or found the name taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    Created,
    AlreadyExists,
}

/// Every query the gateway makes.
pub struct Store<'a, D: SqlDb> {
    db: &'a D,
}

const CREDENTIAL_COLUMNS: &str = "c.client_id, c.name, c.user_name, c.kind, c.secret_hash, c.scopes, c.expires_at, c.enabled, c.created_at";

impl<'a, D: SqlDb> Store<'a, D> {
    pub fn new(db: &'a D) -> Self {
        Store { db }
    }

    /// Applies the shared migrations (idempotent). For runtimes without a migration tool.
    pub async fn apply_migrations(&self) -> Result<(), StoreError> {
        // Runtimes that start an instance per request (Spin) call this on every first storage
        // use: one read when the schema is already there, instead of every statement.
        let present = self
            .db
            .query("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('users', 'services', 'credentials', 'revoked_tokens')", &[])
            .await?;
        if present.first().and_then(|r| r.first()) == Some(&SqlValue::Integer(4)) {
            return Ok(());
        }
        for (_, sql) in MIGRATIONS {
            for statement in split_sql(sql) {
                self.db.execute(&statement, &[]).await?;
            }
        }
        Ok(())
    }

    pub async fn user(&self, name: &str) -> Result<Option<User>, StoreError> {
        let rows = self.db.query("SELECT name, enabled, created_at FROM users WHERE name = ?1", &[name.into()]).await?;
        rows.into_iter().next().map(|r| user_from_row(&r)).transpose()
    }

    pub async fn users(&self) -> Result<Vec<User>, StoreError> {
        let rows = self.db.query("SELECT name, enabled, created_at FROM users ORDER BY name", &[]).await?;
        rows.iter().map(|r| user_from_row(r)).collect()
    }

    pub async fn insert_user(&self, user: &User) -> Result<Inserted, StoreError> {
        let changed = self
            .db
            .execute(
                "INSERT OR IGNORE INTO users (name, enabled, created_at) VALUES (?1, ?2, ?3)",
                &[user.name.as_str().into(), user.enabled.into(), user.created_at.into()],
            )
            .await?;
        Ok(if changed == 0 { Inserted::AlreadyExists } else { Inserted::Created })
    }

    /// Deletes a user and, in the same batch, its credentials. Returns the client ids revoked.
    pub async fn delete_user(&self, name: &str) -> Result<Option<Vec<String>>, StoreError> {
        if self.user(name).await?.is_none() {
            return Ok(None);
        }
        let revoked = self.credentials_of(name).await?.into_iter().map(|c| c.client_id).collect();
        self.db
            .execute_batch(&[
                ("DELETE FROM credentials WHERE user_name = ?1", vec![name.into()]),
                ("DELETE FROM users WHERE name = ?1", vec![name.into()]),
            ])
            .await?;
        Ok(Some(revoked))
    }

    pub async fn service(&self, name: &str) -> Result<Option<Service>, StoreError> {
        let rows = self
            .db
            .query("SELECT name, upstream, allowed_users, created_at FROM services WHERE name = ?1", &[name.into()])
            .await?;
        rows.into_iter().next().map(|r| service_from_row(&r)).transpose()
    }

    pub async fn services(&self) -> Result<Vec<Service>, StoreError> {
        let rows = self.db.query("SELECT name, upstream, allowed_users, created_at FROM services ORDER BY name", &[]).await?;
        rows.iter().map(|r| service_from_row(r)).collect()
    }

    pub async fn insert_service(&self, service: &Service) -> Result<Inserted, StoreError> {
        let changed = self
            .db
            .execute(
                "INSERT OR IGNORE INTO services (name, upstream, allowed_users, created_at) VALUES (?1, ?2, ?3, ?4)",
                &service_row(service),
            )
            .await?;
        Ok(if changed == 0 { Inserted::AlreadyExists } else { Inserted::Created })
    }

    pub async fn delete_service(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.db.execute("DELETE FROM services WHERE name = ?1", &[name.into()]).await? > 0)
    }

    /// A credential with its user's state, by client id: the one read the token endpoint and
    /// (on a cache miss) the service check make. A credential whose user is gone is not found.
    pub async fn credential_status(&self, client_id: &str) -> Result<Option<CredentialStatus>, StoreError> {
        let sql = format!(
            "SELECT {CREDENTIAL_COLUMNS}, u.enabled FROM credentials c JOIN users u ON u.name = c.user_name WHERE c.client_id = ?1"
        );
        let rows = self.db.query(&sql, &[client_id.into()]).await?;
        let Some(row) = rows.into_iter().next() else { return Ok(None) };
        let credential = credential_from_row(&row)?;
        let user_enabled = int(&row, 9)? != 0;
        Ok(Some(CredentialStatus { credential, user_enabled }))
    }

    pub async fn credential_by_name(&self, name: &str) -> Result<Option<Credential>, StoreError> {
        let sql = format!("SELECT {CREDENTIAL_COLUMNS} FROM credentials c WHERE c.name = ?1");
        let rows = self.db.query(&sql, &[name.into()]).await?;
        rows.into_iter().next().map(|r| credential_from_row(&r)).transpose()
    }

    pub async fn credentials(&self) -> Result<Vec<Credential>, StoreError> {
        let sql = format!("SELECT {CREDENTIAL_COLUMNS} FROM credentials c ORDER BY c.name");
        let rows = self.db.query(&sql, &[]).await?;
        rows.iter().map(|r| credential_from_row(r)).collect()
    }

    pub async fn credentials_of(&self, user: &str) -> Result<Vec<Credential>, StoreError> {
        let sql = format!("SELECT {CREDENTIAL_COLUMNS} FROM credentials c WHERE c.user_name = ?1 ORDER BY c.name");
        let rows = self.db.query(&sql, &[user.into()]).await?;
        rows.iter().map(|r| credential_from_row(r)).collect()
    }

    /// Inserts a credential. `AlreadyExists` if the name (or, astronomically unlikely, the
    /// random client id) is taken.
    pub async fn insert_credential(&self, c: &Credential) -> Result<Inserted, StoreError> {
        let changed = self
            .db
            .execute(
                "INSERT OR IGNORE INTO credentials (client_id, name, user_name, kind, secret_hash, scopes, expires_at, enabled, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                &credential_row(c),
            )
            .await?;
        Ok(if changed == 0 { Inserted::AlreadyExists } else { Inserted::Created })
    }

    /// Records an access token as revoked until `expires_at`, pruning rows of tokens that have
    /// expired since (they would be refused anyway).
    pub async fn revoke_token(&self, jti: &str, client_id: &str, expires_at: i64, now: i64) -> Result<(), StoreError> {
        self.db
            .execute_batch(&[
                ("DELETE FROM revoked_tokens WHERE expires_at < ?1", vec![(now - crate::token::CLOCK_LEEWAY_SECS).into()]),
                (
                    "INSERT OR IGNORE INTO revoked_tokens (jti, client_id, expires_at) VALUES (?1, ?2, ?3)",
                    vec![jti.into(), client_id.into(), expires_at.into()],
                ),
            ])
            .await
    }

    /// Ids of revoked tokens that could still pass the expiry check at `now`.
    pub async fn revoked_token_ids(&self, now: i64) -> Result<Vec<String>, StoreError> {
        let rows = self
            .db
            .query("SELECT jti FROM revoked_tokens WHERE expires_at >= ?1", &[(now - crate::token::CLOCK_LEEWAY_SECS).into()])
            .await?;
        rows.iter().map(|r| text(r, 0)).collect()
    }

    pub async fn is_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        Ok(!self.db.query("SELECT 1 FROM revoked_tokens WHERE jti = ?1", &[jti.into()]).await?.is_empty())
    }

    pub async fn delete_credential(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.db.execute("DELETE FROM credentials WHERE name = ?1", &[name.into()]).await? > 0)
    }
}

/// Splits a migration file into statements (on `;` at line ends, outside comments). Our
/// migrations contain no `;` inside strings or triggers; keep it that way.
pub fn split_sql(sql: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        let code = line.split("--").next().unwrap_or("");
        current.push_str(code);
        current.push('\n');
        if code.trim_end().ends_with(';') {
            let s = current.trim().trim_end_matches(';').trim().to_owned();
            if !s.is_empty() {
                statements.push(s);
            }
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        statements.push(current.trim().to_owned());
    }
    statements
}

fn corrupt(what: &str) -> StoreError {
    StoreError(format!("unexpected value in column {what}"))
}

fn text(row: &[SqlValue], i: usize) -> Result<String, StoreError> {
    match row.get(i) {
        Some(SqlValue::Text(s)) => Ok(s.clone()),
        _ => Err(corrupt(&i.to_string())),
    }
}

fn opt_text(row: &[SqlValue], i: usize) -> Result<Option<String>, StoreError> {
    match row.get(i) {
        Some(SqlValue::Null) => Ok(None),
        _ => text(row, i).map(Some),
    }
}

fn int(row: &[SqlValue], i: usize) -> Result<i64, StoreError> {
    match row.get(i) {
        Some(SqlValue::Integer(v)) => Ok(*v),
        _ => Err(corrupt(&i.to_string())),
    }
}

fn opt_int(row: &[SqlValue], i: usize) -> Result<Option<i64>, StoreError> {
    match row.get(i) {
        Some(SqlValue::Null) => Ok(None),
        _ => int(row, i).map(Some),
    }
}

fn user_from_row(row: &[SqlValue]) -> Result<User, StoreError> {
    Ok(User { name: text(row, 0)?, enabled: int(row, 1)? != 0, created_at: int(row, 2)? })
}

fn service_from_row(row: &[SqlValue]) -> Result<Service, StoreError> {
    let allowed_users = serde_json::from_str(&text(row, 2)?).map_err(|_| corrupt("allowed_users"))?;
    Ok(Service { name: text(row, 0)?, upstream: text(row, 1)?, allowed_users, created_at: int(row, 3)? })
}

/// A credential as the columns of [`CREDENTIAL_COLUMNS`], in order: what is inserted and what
/// [`credential_from_row`] reads back.
pub fn credential_row(c: &Credential) -> Vec<SqlValue> {
    vec![
        c.client_id.as_str().into(),
        c.name.as_str().into(),
        c.user.as_str().into(),
        c.kind.as_str().into(),
        c.secret_hash.clone().into(),
        c.scopes.as_str().into(),
        c.expires_at.into(),
        c.enabled.into(),
        c.created_at.into(),
    ]
}

/// A service as the columns `name, upstream, allowed_users, created_at`: what is inserted and
/// what [`service_from_row`] reads back.
pub fn service_row(s: &Service) -> Vec<SqlValue> {
    let allowed = serde_json::to_string(&s.allowed_users).expect("a list of strings serializes");
    vec![s.name.as_str().into(), s.upstream.as_str().into(), allowed.into(), s.created_at.into()]
}

fn credential_from_row(row: &[SqlValue]) -> Result<Credential, StoreError> {
    Ok(Credential {
        client_id: text(row, 0)?,
        name: text(row, 1)?,
        user: text(row, 2)?,
        kind: CredentialKind::parse(&text(row, 3)?).ok_or_else(|| corrupt("kind"))?,
        secret_hash: opt_text(row, 4)?,
        scopes: text(row, 5)?,
        expires_at: opt_int(row, 6)?,
        enabled: int(row, 7)? != 0,
        created_at: int(row, 8)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_splits_into_its_statements() {
        let statements = split_sql(MIGRATIONS[0].1);
        assert_eq!(split_sql(MIGRATIONS[1].1).len(), 2);
        assert_eq!(statements.len(), 5);
        assert!(statements.iter().all(|s| !s.contains("--")));
        assert!(statements[4].starts_with("INSERT OR IGNORE INTO users"));
    }
}
