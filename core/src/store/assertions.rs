//! `private_key_jwt` ([`crate::client_assertion`]): a credential's registered public keys, and
//! the `jti`s of the assertions it has used (`infra/migrations/0010_*.sql`).

use super::{sql, SqlDb, Store};
use crate::error::StoreError;

/// Whether [`Store::spend_assertion`] spent the `jti` or found it spent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spent {
    Now,
    /// Used before, and not yet expired: a replay.
    Before,
}

impl<D: SqlDb> Store<'_, D> {
    /// Writes a credential's public keys (a JWK set's JSON, public members only).
    pub async fn set_credential_keys(&self, client_id: &str, jwks: &str) -> Result<(), StoreError> {
        self.db
            .execute(sql::SET_CREDENTIAL_KEYS, &[client_id.into(), jwks.into()])
            .await
            .map(drop)
    }

    /// Spends `jti` of `client_id` until `expires_at` (Unix seconds), after pruning the jtis
    /// expired at `now`. One insert on a unique key: two concurrent requests with the same
    /// `jti`, on any isolates sharing the database, spend it once between them.
    pub async fn spend_assertion(
        &self,
        client_id: &str,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<Spent, StoreError> {
        self.db
            .execute(sql::PRUNE_USED_ASSERTIONS, &[now.into()])
            .await?;
        let params = [client_id.into(), jti.into(), expires_at.into()];
        let rows = self.db.query(sql::SPEND_ASSERTION, &params).await?;
        Ok(if rows.is_empty() {
            Spent::Before
        } else {
            Spent::Now
        })
    }
}
