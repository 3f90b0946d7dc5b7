//! Storage: one small trait, [`SqlDb`], that each runtime implements over its SQL database
//! (Cloudflare D1; Spin SQLite; an in-memory SQLite in the core's tests), and [`Store`], which
//! holds every query the gateway makes, written once for all of them.
//!
//! The schema is `infra/migrations/*.sql`, shared verbatim by D1 and Spin.

use crate::error::StoreError;
use crate::model::{
    Credential, CredentialStatus, RateLimit, Rule, Service, UpstreamAuth, User, UserId,
};

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

    /// Runs `sql`, a read that counts the schema's ledger itself ([`sql::SERVICE_REQUEST`]). A
    /// database that checks the schema before an instance's first statement ([`SelfMigrating`])
    /// runs this one without that check; the caller then says what the read found
    /// ([`SqlDb::schema_checked`]).
    async fn query_checking_schema(
        &self,
        sql: &str,
        params: &[SqlValue],
    ) -> Result<Vec<Vec<SqlValue>>, StoreError> {
        self.query(sql, params).await
    }

    /// What a [`SqlDb::query_checking_schema`] read found: the schema `current`, or not (or the
    /// read failed). `true` when the database has just applied the migrations it lacked, so the
    /// read is worth running again. By default `false`: the schema is a tool's business (D1:
    /// `wrangler d1 migrations apply`), and a read that failed answers 503 as any other.
    async fn schema_checked(&self, current: bool) -> Result<bool, StoreError> {
        let _ = current;
        Ok(false)
    }
}

/// A borrowed database is the database (e.g. one instance's [`SelfMigrating`] over a shared one).
impl<D: SqlDb> SqlDb for &D {
    async fn query(
        &self,
        sql: &str,
        params: &[SqlValue],
    ) -> Result<Vec<Vec<SqlValue>>, StoreError> {
        (**self).query(sql, params).await
    }

    async fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<u64, StoreError> {
        (**self).execute(sql, params).await
    }

    async fn execute_batch(&self, statements: &[(&str, Vec<SqlValue>)]) -> Result<(), StoreError> {
        (**self).execute_batch(statements).await
    }

    async fn query_checking_schema(
        &self,
        sql: &str,
        params: &[SqlValue],
    ) -> Result<Vec<Vec<SqlValue>>, StoreError> {
        (**self).query_checking_schema(sql, params).await
    }

    async fn schema_checked(&self, current: bool) -> Result<bool, StoreError> {
        (**self).schema_checked(current).await
    }
}

/// What [`Store::revoke_token`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    Now,
    /// The token was revoked before: nothing to do.
    Already,
    /// Its client holds as many revocations as it may: nothing recorded.
    BoundReached,
}

/// Whether an insert created the record or found the name taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    Created,
    AlreadyExists,
}

mod assertions;
mod counts;
mod failures;
mod groups;
mod lifecycle;
mod migrations;
mod request;
mod rows;
pub mod sql;

pub use assertions::Spent;
pub use migrations::{split_sql, Migration, SelfMigrating, MIGRATIONS, SCHEMA_VERSION};
pub use request::ServiceRequestRead;

use rows::{credential_from_row, opt_int, service_from_row, user_from_row};
pub use rows::{
    credential_read_row, credential_row, group_ids_cell, rules_cell, service_read_row, service_row,
};

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

    /// Inserts a user (its `id` is ignored: the database assigns one, never reused). The new
    /// user, or `None` if the name is taken.
    pub async fn insert_user(
        &self,
        name: &str,
        enabled: bool,
        created_at: i64,
    ) -> Result<Option<User>, StoreError> {
        let params = [name.into(), enabled.into(), created_at.into()];
        let rows = self.db.query(sql::INSERT_USER, &params).await?;
        Ok(single_int(&rows)?.map(|id| User {
            id,
            name: name.to_owned(),
            enabled,
            created_at,
            groups: vec![],
        }))
    }

    /// Deletes a user and, in the same batch, its credentials. Returns the client ids revoked.
    /// Services keep the user's id in their policies: it admits nobody from now on.
    pub async fn delete_user(&self, name: &str) -> Result<Option<Vec<String>>, StoreError> {
        let Some(user) = self.user(name).await? else {
            return Ok(None);
        };
        let revoked = self
            .credentials_of(user.id)
            .await?
            .into_iter()
            .map(|c| c.client_id)
            .collect();
        self.db
            .execute_batch(&[
                (sql::DELETE_USER_CREDENTIAL_LIFECYCLES, vec![user.id.into()]),
                (sql::DELETE_USER_CREDENTIAL_DPOP, vec![user.id.into()]),
                (sql::DELETE_USER_CREDENTIAL_KEYS, vec![user.id.into()]),
                (sql::DELETE_USER_CREDENTIALS, vec![user.id.into()]),
                (sql::DELETE_USER_MEMBERSHIPS, vec![user.id.into()]),
                (sql::DELETE_USER, vec![user.id.into()]),
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

    /// Inserts a service, then its rate limit (a row of its own: see
    /// `infra/migrations/0005_service_rate_limit.sql`), `NULL` for none, which also clears one a
    /// deletion stopped half-way left behind.
    pub async fn insert_service(&self, service: &Service) -> Result<Inserted, StoreError> {
        let created = inserted(
            self.db
                .execute(sql::INSERT_SERVICE, &service_row(service))
                .await?,
        );
        if created == Inserted::Created {
            self.set_rate_limit(&service.name, service.rate_limit)
                .await?;
            self.set_upstream_auth(&service.name, service.upstream_auth.as_ref())
                .await?;
            self.set_rules(&service.name, &service.rules).await?;
        }
        Ok(created)
    }

    /// Sets a service's rules (a row of their own, like the rate limit; `NULL`: none).
    async fn set_rules(&self, service: &str, rules: &[Rule]) -> Result<(), StoreError> {
        let params = [service.into(), rules_cell(rules)];
        self.db
            .execute(sql::SET_SERVICE_POLICY, &params)
            .await
            .map(drop)
    }

    /// Deletes a service, then clears its rate limit (a limit without its service applies to
    /// nothing; creating the name again writes it anew).
    pub async fn delete_service(&self, name: &str) -> Result<bool, StoreError> {
        let deleted = self.db.execute(sql::DELETE_SERVICE, &[name.into()]).await? > 0;
        self.set_rate_limit(name, None).await?;
        self.set_upstream_auth(name, None).await?;
        self.set_rules(name, &[]).await?;
        Ok(deleted)
    }

    /// Writes a service's upstream credential (its spec: names only, never a secret's value;
    /// `infra/migrations/0008_upstream_auth.sql`), or clears it (`None`).
    async fn set_upstream_auth(
        &self,
        service: &str,
        auth: Option<&UpstreamAuth>,
    ) -> Result<(), StoreError> {
        let changed = match auth {
            Some(a) => {
                let params = [service.into(), a.to_string().into()];
                self.db
                    .execute(sql::SET_SERVICE_UPSTREAM_AUTH, &params)
                    .await
            }
            None => {
                self.db
                    .execute(sql::DELETE_SERVICE_UPSTREAM_AUTH, &[service.into()])
                    .await
            }
        };
        changed.map(drop)
    }

    async fn set_rate_limit(
        &self,
        service: &str,
        limit: Option<RateLimit>,
    ) -> Result<(), StoreError> {
        let params = [service.into(), limit.map(|l| l.to_string()).into()];
        self.db
            .execute(sql::SET_SERVICE_RATE_LIMIT, &params)
            .await
            .map(drop)
    }

    /// A credential with its user's state, by client id: the one read the token endpoint and
    /// (on a cache miss) the service check make. A credential whose user is gone is not found.
    /// The statement is the token endpoint's, with no throttle key (one statement and one row
    /// decoder for both, which the worker's size needs more than the service path needs the
    /// narrower query).
    pub async fn credential_status(
        &self,
        client_id: &str,
    ) -> Result<Option<CredentialStatus>, StoreError> {
        let nothing = crate::throttle::Attempt::default();
        let (status, _) = self
            .credential_status_and_lockouts(client_id, &nothing, crate::Now::from_unix_ms(0))
            .await?;
        Ok(status)
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

    pub async fn credentials_of(&self, user: UserId) -> Result<Vec<Credential>, StoreError> {
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

    /// Records an access token as revoked until `expires_at`, unless its client already holds
    /// `max_per_client` revocations of tokens that could still pass the expiry check (`exp`
    /// not before `refused_before`; see `token::expiry_cutoff`). First prunes the rows of
    /// tokens that would be refused anyway.
    pub async fn revoke_token(
        &self,
        jti: &str,
        client_id: &str,
        expires_at: i64,
        refused_before: i64,
        max_per_client: u64,
    ) -> Result<Revoked, StoreError> {
        self.db
            .execute(sql::PRUNE_REVOKED_TOKENS, &[refused_before.into()])
            .await?;
        let max = i64::try_from(max_per_client).unwrap_or(i64::MAX);
        let params = [
            jti.into(),
            client_id.into(),
            expires_at.into(),
            refused_before.into(),
            max.into(),
        ];
        if self.db.execute(sql::INSERT_REVOKED_TOKEN, &params).await? > 0 {
            return Ok(Revoked::Now);
        }
        // Nothing inserted: revoked before, or the bound is reached.
        Ok(if self.is_token_revoked(jti).await? {
            Revoked::Already
        } else {
            Revoked::BoundReached
        })
    }

    /// Makes a new credential refuse token requests without a DPoP proof.
    pub async fn set_require_dpop(&self, client_id: &str) -> Result<(), StoreError> {
        self.db
            .execute(sql::SET_REQUIRE_DPOP, &[client_id.into()])
            .await
            .map(drop)
    }

    /// Records a DPoP proof accepted at `now` (Unix seconds; RFC 9449 §11.1), first pruning
    /// the proofs past their window: `false` when it was recorded before, by any instance
    /// sharing this database. For runtimes without instance memory ([`crate::dpop`]).
    pub async fn first_use_of_proof(
        &self,
        replay_key: &[u8; 32],
        remember_until: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        use base64::Engine as _;
        self.db
            .execute(sql::PRUNE_DPOP_PROOFS, &[now.into()])
            .await?;
        let key = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(replay_key);
        let params = [key.into(), remember_until.into()];
        let rows = self.db.query(sql::INSERT_DPOP_PROOF, &params).await?;
        Ok(!rows.is_empty())
    }

    pub async fn is_token_revoked(&self, jti: &str) -> Result<bool, StoreError> {
        Ok(!self
            .db
            .query(sql::IS_TOKEN_REVOKED, &[jti.into()])
            .await?
            .is_empty())
    }

    pub async fn delete_credential(&self, name: &str) -> Result<bool, StoreError> {
        // Its lifecycle row first (found through the credential): one left behind by a
        // deletion stopped half-way would be harmless, as no other credential has its id.
        self.db
            .execute(sql::DELETE_CREDENTIAL_LIFECYCLE, &[name.into()])
            .await?;
        self.db
            .execute(sql::DELETE_CREDENTIAL_DPOP, &[name.into()])
            .await?;
        self.db
            .execute(sql::DELETE_CREDENTIAL_KEYS, &[name.into()])
            .await?;
        Ok(self
            .db
            .execute(sql::DELETE_CREDENTIAL, &[name.into()])
            .await?
            > 0)
    }
}

/// The one integer of a one-row, one-column result (`COUNT`, `MAX`, `RETURNING id`), `None`
/// for no row or NULL.
pub(crate) fn single_int(rows: &[Vec<SqlValue>]) -> Result<Option<i64>, StoreError> {
    match rows.first() {
        None => Ok(None),
        Some(row) => opt_int(row, 0),
    }
}

#[cfg(test)]
mod tests;
