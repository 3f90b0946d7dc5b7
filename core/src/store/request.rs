//! A service request's one read on an instance with nothing cached: the credential, whether the
//! token was revoked and the service, in one statement ([`sql::SERVICE_REQUEST`]), which also
//! counts the schema's ledger, so that a database that applies the migrations itself
//! ([`super::SelfMigrating`], Spin) needs no read of its own for them.

use super::migrations::MIGRATION_VERSIONS;
use super::rows::{service_from_row, status_from_row};
use super::{sql, SqlDb, SqlValue, Store};
use crate::error::StoreError;
use crate::model::{CredentialStatus, Service};

/// What [`Store::service_request`] read: what [`Store::credential_status`],
/// [`Store::is_token_revoked`] and [`Store::service`] would have, in one statement.
#[derive(Debug)]
pub struct ServiceRequestRead {
    pub status: Option<CredentialStatus>,
    pub revoked: bool,
    pub service: Option<Service>,
}

/// Where [`sql::SERVICE_REQUEST`]'s columns after the credential's (and its user's two) are.
const REVOKED: usize = sql::CREDENTIAL_COLUMNS + 2;
const LEDGER: usize = REVOKED + 1;
const SERVICE: usize = LEDGER + 1;
/// [`sql::SERVICE_REQUEST_REMEMBERING`]'s last column, after the service's eight.
#[cfg(feature = "instance-per-request")]
const VERIFIED_BEFORE: usize = SERVICE + 8;

impl<D: SqlDb> Store<'_, D> {
    /// The credential `client_id` (with its user's state), whether token `jti` was revoked and
    /// the service `service`, in one statement. If the read says the schema lacks migrations
    /// (or fails) on a database that applies them itself, it applies them and reads again.
    pub async fn service_request(
        &self,
        jti: &str,
        client_id: &str,
        service: &str,
    ) -> Result<ServiceRequestRead, StoreError> {
        let params = [
            jti.into(),
            client_id.into(),
            service.into(),
            migration_versions().into(),
        ];
        let rows = self
            .read_service_request(sql::SERVICE_REQUEST, &params)
            .await?;
        service_request_from_row(first_row(&rows)?)
    }

    /// [`Store::service_request`], in the same one statement also whether the token was
    /// verified before under `remembered_as` ([`crate::verify::Unverified::remembered_as`],
    /// `isogate_verified_tokens`): for an instance that remembers nothing itself (Spin).
    #[cfg(feature = "instance-per-request")]
    pub(crate) async fn service_request_remembering(
        &self,
        (jti, client_id, service): (&str, &str, &str),
        remembered_as: &str,
    ) -> Result<(ServiceRequestRead, bool), StoreError> {
        let params = [
            jti.into(),
            client_id.into(),
            service.into(),
            migration_versions().into(),
            remembered_as.into(),
        ];
        let rows = self
            .read_service_request(sql::SERVICE_REQUEST_REMEMBERING, &params)
            .await?;
        let row = first_row(&rows)?;
        // Skipping a signature check rests on this cell: it must be the last one and hold the
        // very digest asked for, so a column added to the statement without moving
        // VERIFIED_BEFORE fails closed (a full check) instead of reading some service column.
        let verified_before = row.len() == VERIFIED_BEFORE + 1
            && matches!(row.get(VERIFIED_BEFORE), Some(SqlValue::Text(d)) if d == remembered_as);
        Ok((service_request_from_row(row)?, verified_before))
    }

    /// Remembers that the token `remembered_as` names, expiring at `expires_at` (unix seconds),
    /// was verified, after forgetting the tokens expired at `cutoff`
    /// ([`crate::token::expiry_cutoff`]): rows only for tokens that can still be accepted.
    #[cfg(feature = "instance-per-request")]
    pub(crate) async fn remember_verified_token(
        &self,
        remembered_as: &str,
        expires_at: i64,
        cutoff: i64,
    ) -> Result<(), StoreError> {
        // Run as queries: no change count is wanted, and Spin's `execute` pays a statement for
        // one (`SELECT changes()`).
        self.db
            .query(sql::PRUNE_VERIFIED_TOKENS, &[cutoff.into()])
            .await?;
        let params = [remembered_as.into(), expires_at.into()];
        self.db
            .query(sql::REMEMBER_VERIFIED_TOKEN, &params)
            .await
            .map(drop)
    }

    /// The rows of `read_sql` ([`sql::SERVICE_REQUEST`] or a read with its columns first),
    /// applying the migrations first if the database does that and the schema lacks some.
    async fn read_service_request(
        &self,
        read_sql: &str,
        params: &[SqlValue],
    ) -> Result<Vec<Vec<SqlValue>>, StoreError> {
        let read = self.db.query_checking_schema(read_sql, params).await;
        // Every migration this code knows is in the ledger (`version` is its primary key).
        let current = MIGRATION_VERSIONS.len() as i64;
        let up_to_date = matches!(&read, Ok(rows)
            if rows.first().and_then(|r| r.get(LEDGER)) == Some(&SqlValue::Integer(current)));
        let rows = match self.db.schema_checked(up_to_date).await? {
            // The migrations it lacked are applied now: read again.
            true => self.db.query(read_sql, params).await?,
            false => read?,
        };
        Ok(rows)
    }
}

#[inline(always)]
fn first_row(rows: &[Vec<SqlValue>]) -> Result<&[SqlValue], StoreError> {
    rows.first()
        .map(Vec::as_slice)
        .ok_or_else(|| StoreError::new("the service request's read returned no row"))
}

#[inline(always)]
fn service_request_from_row(row: &[SqlValue]) -> Result<ServiceRequestRead, StoreError> {
    let service = match row.get(SERVICE) {
        None | Some(SqlValue::Null) => None,
        Some(_) => Some(service_from_row(&row[SERVICE..])?),
    };
    Ok(ServiceRequestRead {
        status: status_from_row(&row[..REVOKED])?,
        revoked: !matches!(row.get(REVOKED), None | Some(SqlValue::Null)),
        service,
    })
}

/// [`MIGRATION_VERSIONS`] as a JSON list (`[1,2,...]`), for [`sql::SERVICE_REQUEST`].
fn migration_versions() -> String {
    let mut list = String::from("[");
    for (i, version) in MIGRATION_VERSIONS.iter().enumerate() {
        if i > 0 {
            list.push(',');
        }
        list.push_str(&version.to_string());
    }
    list.push(']');
    list
}
