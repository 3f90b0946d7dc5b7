//! The statements of a credential's lifecycle ([`crate::lifecycle`]): update, rotation, use
//! limits. Their row is read with the credential (`sql::credential_columns`), never apart.

use super::{sql, SqlDb, SqlValue, Store};
use crate::error::StoreError;
use crate::model::{Credential, Lifecycle};
use crate::secret::SecretHash;

impl<D: SqlDb> Store<'_, D> {
    /// Writes `c`'s state, expiry and scope ceiling (`isogate update cred`).
    pub async fn update_credential(&self, c: &Credential) -> Result<bool, StoreError> {
        let params = [
            c.client_id.as_str().into(),
            c.enabled.into(),
            c.expires_at.into(),
            c.scopes.to_string().into(),
        ];
        Ok(self.db.execute(sql::UPDATE_CREDENTIAL, &params).await? > 0)
    }

    /// Writes a rotation of `client_id`: its new secret's hash (`None`: an access-token
    /// credential) and the rotation's part of `lifecycle`, in one batch (a transaction on D1 and
    /// Spin): never a new secret without the grace of the old one, nor the reverse.
    pub async fn rotate_credential(
        &self,
        client_id: &str,
        secret_hash: Option<&SecretHash>,
        lifecycle: &Lifecycle,
    ) -> Result<(), StoreError> {
        let id: SqlValue = client_id.into();
        let l = lifecycle;
        let rotation = vec![
            id.clone(),
            l.previous_secret_hash.as_ref().map(|h| h.as_str()).into(),
            l.rotated_at.into(),
            l.grace_until.into(),
            l.previous_rotated_at.into(),
            l.token_jti.as_deref().into(),
            l.previous_token_jti.as_deref().into(),
        ];
        let secret = vec![id, secret_hash.map(|h| h.as_str()).into()];
        self.db
            .execute_batch(&[
                (sql::SET_SECRET_HASH, secret),
                (sql::SET_ROTATION, rotation),
            ])
            .await
    }

    /// Gives a new credential its use limit.
    pub async fn set_max_uses(&self, client_id: &str, max_uses: i64) -> Result<(), StoreError> {
        let params = [client_id.into(), max_uses.into()];
        self.db.execute(sql::SET_MAX_USES, &params).await.map(drop)
    }

    /// Spends one of the credential's uses; `false` when none is left. Atomic across isolates.
    pub async fn use_credential(&self, client_id: &str) -> Result<bool, StoreError> {
        let rows = self
            .db
            .query(sql::USE_CREDENTIAL, &[client_id.into()])
            .await?;
        Ok(!rows.is_empty())
    }
}
