//! The counts of failed authentications ([`crate::throttle`]): the lockouts that apply read
//! with the credential, and a failure counted in one batch.

use super::rows::{int, opt_text, status_from_row};
use super::{sql, SqlDb, SqlValue, Store};
use crate::capability::Now;
use crate::error::StoreError;
use crate::model::CredentialStatus;
use crate::throttle::{Attempt, FailureKey, Lockouts, ThrottleConfig};

fn key_param(key: &Option<FailureKey>) -> SqlValue {
    key.as_ref().map(|k| k.key.as_str()).into()
}

impl<D: SqlDb> Store<'_, D> {
    /// The credential of `client_id` with its user's state (as [`Store::credential_status`];
    /// none for `""`) and the lockouts that apply to the attempt at `now`, in one read.
    pub async fn credential_status_and_lockouts(
        &self,
        client_id: &str,
        attempt: &Attempt,
        now: Now,
    ) -> Result<(Option<CredentialStatus>, Lockouts), StoreError> {
        let (status, lockouts, _) = self.read_attempt(client_id, attempt, now, false).await?;
        Ok((status, lockouts))
    }

    /// As [`Store::credential_status_and_lockouts`], with the credential's registered public
    /// keys (a JWK set's JSON; `None` without): the read of a token request that presents a
    /// client assertion.
    pub async fn credential_status_lockouts_and_keys(
        &self,
        client_id: &str,
        attempt: &Attempt,
        now: Now,
    ) -> Result<(Option<CredentialStatus>, Lockouts, Option<String>), StoreError> {
        self.read_attempt(client_id, attempt, now, true).await
    }

    /// [`Store::credential_status_and_lockouts`], with the keys when `with_keys`.
    pub(crate) async fn read_attempt(
        &self,
        client_id: &str,
        attempt: &Attempt,
        now: Now,
        with_keys: bool,
    ) -> Result<(Option<CredentialStatus>, Lockouts, Option<String>), StoreError> {
        let statement = match with_keys {
            true => sql::CREDENTIAL_STATUS_LOCKOUTS_AND_KEYS,
            false => sql::CREDENTIAL_STATUS_AND_LOCKOUTS,
        };
        let params = [
            client_id.into(),
            key_param(&attempt.pair),
            key_param(&attempt.address),
            key_param(&attempt.client),
            (now.unix_ms() as i64).into(),
        ];
        let rows = self.db.query(statement, &params).await?;
        let row = rows.first().map_or(&[][..], |r| &r[..]);
        let lockouts = Lockouts {
            address: int(row, 0)?,
            pair: int(row, 1)?,
        };
        let credential = &row[2..];
        let Some(status) = status_from_row(credential)? else {
            return Ok((None, lockouts, None));
        };
        let keys = match with_keys {
            true => opt_text(credential, sql::CREDENTIAL_COLUMNS + 2)?,
            false => None,
        };
        Ok((Some(status), lockouts, keys))
    }

    /// Counts one failure against each of the attempt's keys at `now`, atomically, after
    /// pruning the rows that say nothing any more: one batch. A lockout it starts is learned
    /// by the next attempt's read.
    pub async fn record_failure(
        &self,
        attempt: &Attempt,
        config: &ThrottleConfig,
        now: Now,
    ) -> Result<(), StoreError> {
        let now: SqlValue = (now.unix_ms() as i64).into();
        let mut batch = vec![(sql::PRUNE_AUTH_FAILURES, vec![now.clone()])];
        for key in [&attempt.pair, &attempt.address, &attempt.client]
            .into_iter()
            .flatten()
        {
            let name: SqlValue = key.key.as_str().into();
            batch.push((sql::INSERT_AUTH_FAILURE_KEY, vec![name.clone()]));
            let params = [config.window_ms, config.max_lockout_ms, key.limit].map(SqlValue::from);
            let mut count = vec![name, now.clone()];
            count.extend(params);
            batch.push((sql::COUNT_AUTH_FAILURE, count));
        }
        if batch.len() == 1 {
            return Ok(()); // every count is off
        }
        self.db.execute_batch(&batch).await
    }
}
