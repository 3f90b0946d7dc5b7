//! Storage: one small trait, [`SqlDb`], that each runtime implements over its SQL database
//! (Cloudflare D1; Spin SQLite; an in-memory SQLite in the core's tests), and [`Store`], which
//! holds every query the gateway makes, written once for all of them.
//!
//! The schema is `infra/migrations/*.sql`, shared verbatim by D1 and Spin.

use crate::error::StoreError;
use crate::model::{Credential, CredentialKind, CredentialStatus, Service, User};
use crate::scope::ScopeSet;
use crate::secret::SecretHash;

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

pub mod sql;

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
        rows.into_iter().next().map(|r| user_from_row(&r)).transpose()
    }

    pub async fn users(&self) -> Result<Vec<User>, StoreError> {
        let rows = self.db.query(sql::USERS, &[]).await?;
        rows.iter().map(|r| user_from_row(r)).collect()
    }

    pub async fn insert_user(&self, user: &User) -> Result<Inserted, StoreError> {
        let params = [user.name.as_str().into(), user.enabled.into(), user.created_at.into()];
        Ok(inserted(self.db.execute(sql::INSERT_USER, &params).await?))
    }

    /// Deletes a user and, in the same batch, its credentials. Returns the client ids revoked.
    pub async fn delete_user(&self, name: &str) -> Result<Option<Vec<String>>, StoreError> {
        if self.user(name).await?.is_none() {
            return Ok(None);
        }
        let revoked = self.credentials_of(name).await?.into_iter().map(|c| c.client_id).collect();
        self.db
            .execute_batch(&[(sql::DELETE_USER_CREDENTIALS, vec![name.into()]), (sql::DELETE_USER, vec![name.into()])])
            .await?;
        Ok(Some(revoked))
    }

    pub async fn service(&self, name: &str) -> Result<Option<Service>, StoreError> {
        let rows = self.db.query(sql::SERVICE, &[name.into()]).await?;
        rows.into_iter().next().map(|r| service_from_row(&r)).transpose()
    }

    pub async fn services(&self) -> Result<Vec<Service>, StoreError> {
        let rows = self.db.query(sql::SERVICES, &[]).await?;
        rows.iter().map(|r| service_from_row(r)).collect()
    }

    pub async fn insert_service(&self, service: &Service) -> Result<Inserted, StoreError> {
        Ok(inserted(self.db.execute(sql::INSERT_SERVICE, &service_row(service)).await?))
    }

    pub async fn delete_service(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.db.execute(sql::DELETE_SERVICE, &[name.into()]).await? > 0)
    }

    /// A credential with its user's state, by client id: the one read the token endpoint and
    /// (on a cache miss) the service check make. A credential whose user is gone is not found.
    pub async fn credential_status(&self, client_id: &str) -> Result<Option<CredentialStatus>, StoreError> {
        let rows = self.db.query(sql::CREDENTIAL_STATUS, &[client_id.into()]).await?;
        let Some(row) = rows.into_iter().next() else { return Ok(None) };
        let credential = credential_from_row(&row)?;
        let user_enabled = int(&row, 9)? != 0;
        Ok(Some(CredentialStatus { credential, user_enabled }))
    }

    pub async fn credential_by_name(&self, name: &str) -> Result<Option<Credential>, StoreError> {
        let rows = self.db.query(sql::CREDENTIAL_BY_NAME, &[name.into()]).await?;
        rows.into_iter().next().map(|r| credential_from_row(&r)).transpose()
    }

    pub async fn credentials(&self) -> Result<Vec<Credential>, StoreError> {
        let rows = self.db.query(sql::CREDENTIALS, &[]).await?;
        rows.iter().map(|r| credential_from_row(r)).collect()
    }

    pub async fn credentials_of(&self, user: &str) -> Result<Vec<Credential>, StoreError> {
        let rows = self.db.query(sql::CREDENTIALS_OF_USER, &[user.into()]).await?;
        rows.iter().map(|r| credential_from_row(r)).collect()
    }

    /// Inserts a credential. `AlreadyExists` if the name (or, astronomically unlikely, the
    /// random client id) is taken.
    pub async fn insert_credential(&self, c: &Credential) -> Result<Inserted, StoreError> {
        Ok(inserted(self.db.execute(sql::INSERT_CREDENTIAL, &credential_row(c)).await?))
    }

    /// Records an access token as revoked until `expires_at`, pruning rows of tokens whose
    /// `exp` is before `refused_before` (they would be refused anyway; see
    /// `token::expiry_cutoff`).
    pub async fn revoke_token(&self, jti: &str, client_id: &str, expires_at: i64, refused_before: i64) -> Result<(), StoreError> {
        self.db
            .execute_batch(&[
                (sql::PRUNE_REVOKED_TOKENS, vec![refused_before.into()]),
                (sql::INSERT_REVOKED_TOKEN, vec![jti.into(), client_id.into(), expires_at.into()]),
            ])
            .await
    }

    /// Ids of revoked tokens that could still pass the expiry check: `exp` not before
    /// `refused_before` (see `token::expiry_cutoff`).
    pub async fn revoked_token_ids(&self, refused_before: i64) -> Result<Vec<String>, StoreError> {
        let rows = self.db.query(sql::REVOKED_TOKEN_IDS, &[refused_before.into()]).await?;
        rows.iter().map(|r| text(r, 0)).collect()
    }

    pub async fn is_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        Ok(!self.db.query(sql::IS_TOKEN_REVOKED, &[jti.into()]).await?.is_empty())
    }

    pub async fn delete_credential(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.db.execute(sql::DELETE_CREDENTIAL, &[name.into()]).await? > 0)
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
    StoreError::new(format!("unexpected value in column {what}"))
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

/// A credential as the columns of [`sql::INSERT_CREDENTIAL`], in order: what is inserted and
/// what the credential queries read back (a fake database answers with these rows).
pub fn credential_row(c: &Credential) -> Vec<SqlValue> {
    vec![
        c.client_id.as_str().into(),
        c.name.as_str().into(),
        c.user.as_str().into(),
        c.kind.as_str().into(),
        c.secret_hash.as_ref().map(|h| h.as_str()).into(),
        c.scopes.to_string().into(),
        c.expires_at.into(),
        c.enabled.into(),
        c.created_at.into(),
    ]
}

/// A service as the columns of [`sql::INSERT_SERVICE`]: what is inserted and what the service
/// queries read back.
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
        secret_hash: opt_text(row, 4)?.map(SecretHash),
        // Stored scopes were validated on the way in: one that does not parse is a corrupt row.
        scopes: ScopeSet::parse(&text(row, 5)?).map_err(|_| corrupt("scopes"))?,
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

    #[test]
    fn credential_queries_read_the_columns_the_row_encoder_writes() {
        assert!(sql::CREDENTIAL_STATUS.starts_with("SELECT c.client_id, c.name, c.user_name, c.kind, c.secret_hash,"));
        assert!(sql::INSERT_CREDENTIAL.contains("(client_id, name, user_name, kind, secret_hash, scopes, expires_at"));
    }
}
