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
        let read = self
            .db
            .query_checking_schema(sql::SERVICE_REQUEST, &params)
            .await;
        // Every migration this code knows is in the ledger (`version` is its primary key).
        let current = MIGRATION_VERSIONS.len() as i64;
        let up_to_date = matches!(&read, Ok(rows)
            if rows.first().and_then(|r| r.get(LEDGER)) == Some(&SqlValue::Integer(current)));
        let rows = match self.db.schema_checked(up_to_date).await? {
            // The migrations it lacked are applied now: read again.
            true => self.db.query(sql::SERVICE_REQUEST, &params).await?,
            false => read?,
        };
        let row = rows
            .first()
            .ok_or_else(|| StoreError::new("the service request's read returned no row"))?;
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
