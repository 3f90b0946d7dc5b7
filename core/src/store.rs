//! Storage: one small trait, [`SqlDb`], that each runtime implements over its SQL database
//! (Cloudflare D1; Spin SQLite; an in-memory SQLite in the core's tests), and [`Store`], which
//! holds every query the gateway makes, written once for all of them.
//!
//! The schema is `infra/migrations/*.sql`, shared verbatim by D1 and Spin.

use crate::error::StoreError;
use crate::model::{Credential, CredentialStatus, Service, User};

/// The migrations, in order, for runtimes that apply them themselves (Spin, tests).
pub const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_init",
        include_str!("../../infra/migrations/0001_init.sql"),
    ),
    (
        "0002_revoked_tokens",
        include_str!("../../infra/migrations/0002_revoked_tokens.sql"),
    ),
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
    async fn query(&self, sql: &str, params: &[SqlValue])
        -> Result<Vec<Vec<SqlValue>>, StoreError>;
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

mod rows;
pub mod sql;

use rows::{credential_from_row, int, service_from_row, text, user_from_row};
pub use rows::{credential_row, service_row};

/// Every query the gateway makes.
pub struct Store<'a, D: SqlDb> {
    db: &'a D,
}

fn inserted(changed: u64) -> Inserted {
    if changed == 0 {
        Inserted::AlreadyExists
    } else {
        Inserted::Created
    }
}

impl<'a, D: SqlDb> Store<'a, D> {
    pub fn new(db: &'a D) -> Self {
        Store { db }
    }

    /// Applies the shared migrations (idempotent). For runtimes without a migration tool.
    pub async fn apply_migrations(&self) -> Result<(), StoreError> {
        // Runtimes that start an instance per request (Spin) call this on every first storage
        // use: one read when the schema is already there, instead of every statement.
        let present = self.db.query(sql::SCHEMA_TABLES, &[]).await?;
        if present.first().and_then(|r| r.first()) == Some(&SqlValue::Integer(4)) {
            return Ok(());
        }
        for (_, migration) in MIGRATIONS {
            for statement in split_sql(migration) {
                self.db.execute(&statement, &[]).await?;
            }
        }
        Ok(())
    }

    pub async fn user(&self, name: &str) -> Result<Option<User>, StoreError> {
        let rows = self.db.query(sql::USER, &[name.into()]).await?;
        rows.into_iter()
            .next()
            .map(|r| user_from_row(&r))
            .transpose()
    }

    pub async fn users(&self) -> Result<Vec<User>, StoreError> {
        let rows = self.db.query(sql::USERS, &[]).await?;
        rows.iter().map(|r| user_from_row(r)).collect()
    }

    pub async fn insert_user(&self, user: &User) -> Result<Inserted, StoreError> {
        let params = [
            user.name.as_str().into(),
            user.enabled.into(),
            user.created_at.into(),
        ];
        Ok(inserted(self.db.execute(sql::INSERT_USER, &params).await?))
    }

    /// Deletes a user and, in the same batch, its credentials. Returns the client ids revoked.
    pub async fn delete_user(&self, name: &str) -> Result<Option<Vec<String>>, StoreError> {
        if self.user(name).await?.is_none() {
            return Ok(None);
        }
        let revoked = self
            .credentials_of(name)
            .await?
            .into_iter()
            .map(|c| c.client_id)
            .collect();
        self.db
            .execute_batch(&[
                (sql::DELETE_USER_CREDENTIALS, vec![name.into()]),
                (sql::DELETE_USER, vec![name.into()]),
            ])
            .await?;
        Ok(Some(revoked))
    }

    pub async fn service(&self, name: &str) -> Result<Option<Service>, StoreError> {
        let rows = self.db.query(sql::SERVICE, &[name.into()]).await?;
        rows.into_iter()
            .next()
            .map(|r| service_from_row(&r))
            .transpose()
    }

    pub async fn services(&self) -> Result<Vec<Service>, StoreError> {
        let rows = self.db.query(sql::SERVICES, &[]).await?;
        rows.iter().map(|r| service_from_row(r)).collect()
    }

    pub async fn insert_service(&self, service: &Service) -> Result<Inserted, StoreError> {
        Ok(inserted(
            self.db
                .execute(sql::INSERT_SERVICE, &service_row(service))
                .await?,
        ))
    }

    pub async fn delete_service(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.db.execute(sql::DELETE_SERVICE, &[name.into()]).await? > 0)
    }

    /// A credential with its user's state, by client id: the one read the token endpoint and
    /// (on a cache miss) the service check make. A credential whose user is gone is not found.
    pub async fn credential_status(
        &self,
        client_id: &str,
    ) -> Result<Option<CredentialStatus>, StoreError> {
        let rows = self
            .db
            .query(sql::CREDENTIAL_STATUS, &[client_id.into()])
            .await?;
        let Some(row) = rows.into_iter().next() else {
            return Ok(None);
        };
        let credential = credential_from_row(&row)?;
        let user_enabled = int(&row, 9)? != 0;
        Ok(Some(CredentialStatus {
            credential,
            user_enabled,
        }))
    }

    pub async fn credential_by_name(&self, name: &str) -> Result<Option<Credential>, StoreError> {
        let rows = self
            .db
            .query(sql::CREDENTIAL_BY_NAME, &[name.into()])
            .await?;
        rows.into_iter()
            .next()
            .map(|r| credential_from_row(&r))
            .transpose()
    }

    pub async fn credentials(&self) -> Result<Vec<Credential>, StoreError> {
        let rows = self.db.query(sql::CREDENTIALS, &[]).await?;
        rows.iter().map(|r| credential_from_row(r)).collect()
    }

    pub async fn credentials_of(&self, user: &str) -> Result<Vec<Credential>, StoreError> {
        let rows = self
            .db
            .query(sql::CREDENTIALS_OF_USER, &[user.into()])
            .await?;
        rows.iter().map(|r| credential_from_row(r)).collect()
    }

    /// Inserts a credential. `AlreadyExists` if the name (or, astronomically unlikely, the
    /// random client id) is taken.
    pub async fn insert_credential(&self, c: &Credential) -> Result<Inserted, StoreError> {
        Ok(inserted(
            self.db
                .execute(sql::INSERT_CREDENTIAL, &credential_row(c))
                .await?,
        ))
    }

    /// Records an access token as revoked until `expires_at`, pruning rows of tokens whose
    /// `exp` is before `refused_before` (they would be refused anyway; see
    /// `token::expiry_cutoff`).
    pub async fn revoke_token(
        &self,
        jti: &str,
        client_id: &str,
        expires_at: i64,
        refused_before: i64,
    ) -> Result<(), StoreError> {
        self.db
            .execute_batch(&[
                (sql::PRUNE_REVOKED_TOKENS, vec![refused_before.into()]),
                (
                    sql::INSERT_REVOKED_TOKEN,
                    vec![jti.into(), client_id.into(), expires_at.into()],
                ),
            ])
            .await
    }

    /// Ids of revoked tokens that could still pass the expiry check: `exp` not before
    /// `refused_before` (see `token::expiry_cutoff`).
    pub async fn revoked_token_ids(&self, refused_before: i64) -> Result<Vec<String>, StoreError> {
        let rows = self
            .db
            .query(sql::REVOKED_TOKEN_IDS, &[refused_before.into()])
            .await?;
        rows.iter().map(|r| text(r, 0)).collect()
    }

    pub async fn is_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        Ok(!self
            .db
            .query(sql::IS_TOKEN_REVOKED, &[jti.into()])
            .await?
            .is_empty())
    }

    pub async fn delete_credential(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self
            .db
            .execute(sql::DELETE_CREDENTIAL, &[name.into()])
            .await?
            > 0)
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

#[cfg(test)]
mod tests;
