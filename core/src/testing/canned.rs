//! [`CannedDb`]: fixed records behind the store's read statements, matched by exact SQL.

use crate::capability::Now;
use crate::error::StoreError;
use crate::model::{CredentialStatus, Service};
use crate::store::{
    credential_read_row, group_ids_cell, service_read_row, sql, SqlDb, SqlValue, MIGRATIONS,
};
use crate::throttle::{Counts, FailureCount};
use std::cell::Cell;
use std::collections::HashSet;

/// Answers the reads of the token endpoint and the service flow from fixed records: the
/// credential status (with the failure counts of throttled guessing), service and
/// revoked-token statements ([`sql`]), compared exactly, so a changed query fails loudly
/// instead of being answered by guess. Writes are refused. Counts reads, so a caller can
/// assert the hot path made none.
#[derive(Default)]
pub struct CannedDb {
    credentials: Vec<CredentialStatus>,
    services: Vec<Service>,
    revoked: HashSet<String>,
    failures: Vec<(String, FailureCount)>,
    reads: Cell<u64>,
}

impl CannedDb {
    pub fn new() -> CannedDb {
        CannedDb::default()
    }

    pub fn with_credential(mut self, status: CredentialStatus) -> CannedDb {
        self.credentials.push(status);
        self
    }

    pub fn with_service(mut self, service: Service) -> CannedDb {
        self.services.push(service);
        self
    }

    pub fn with_revoked_token(mut self, jti: &str) -> CannedDb {
        self.revoked.insert(jti.to_owned());
        self
    }

    /// `n` revoked tokens of some other client (ids `flood-0`...): a revocation flood.
    pub fn with_revocation_flood(mut self, n: usize) -> CannedDb {
        self.revoked.extend((0..n).map(|i| format!("flood-{i}")));
        self
    }

    /// A stored failure count (`isogate_auth_failures`) for `key`.
    pub fn with_failure_count(mut self, key: &str, count: FailureCount) -> CannedDb {
        self.failures.push((key.to_owned(), count));
        self
    }

    /// The count of the key bound as `param` (none: no row).
    fn failure_count(&self, param: Option<&SqlValue>) -> FailureCount {
        self.failures
            .iter()
            .find(|(key, _)| matches!(param, Some(SqlValue::Text(p)) if p == key))
            .map_or_else(FailureCount::default, |(_, c)| *c)
    }

    /// Read statements answered so far.
    pub fn reads(&self) -> u64 {
        self.reads.get()
    }
}

fn text_param(params: &[SqlValue]) -> &str {
    match params.first() {
        Some(SqlValue::Text(key)) => key,
        _ => "",
    }
}

impl SqlDb for CannedDb {
    async fn query(
        &self,
        sql: &str,
        params: &[SqlValue],
    ) -> Result<Vec<Vec<SqlValue>>, StoreError> {
        self.reads.set(self.reads.get() + 1);
        match sql {
            sql::CREDENTIAL_STATUS => {
                let client_id = text_param(params);
                let rows = self
                    .credentials
                    .iter()
                    .filter(|s| s.credential.client_id == client_id);
                Ok(rows
                    .map(|s| {
                        let mut row = credential_read_row(&s.credential);
                        row.push(s.user_enabled.into());
                        row.push(group_ids_cell(&s.groups));
                        row
                    })
                    .collect())
            }
            sql::CREDENTIAL_STATUS_AND_LOCKOUTS => {
                let counts = Counts {
                    pair: self.failure_count(params.get(1)),
                    address: self.failure_count(params.get(2)),
                    client: self.failure_count(params.get(3)),
                };
                let now = match params.get(4) {
                    Some(SqlValue::Integer(ms)) => Now::from_unix_ms(*ms as u64),
                    _ => return Err(StoreError::new("CannedDb: no time bound")),
                };
                let lockouts = counts.lockouts(now);
                let mut row = vec![lockouts.address.into(), lockouts.pair.into()];
                let client_id = text_param(params);
                match self
                    .credentials
                    .iter()
                    .find(|s| s.credential.client_id == client_id)
                {
                    Some(s) => {
                        row.extend(credential_read_row(&s.credential));
                        row.push(s.user_enabled.into());
                        row.push(group_ids_cell(&s.groups));
                    }
                    None => row.extend(vec![SqlValue::Null; sql::CREDENTIAL_COLUMNS + 2]),
                }
                Ok(vec![row])
            }
            sql::SERVICE => {
                let name = text_param(params);
                Ok(self
                    .services
                    .iter()
                    .filter(|s| s.name == name)
                    .map(service_read_row)
                    .collect())
            }
            // One row: the credential (NULLs without), the revocation, the ledger (current),
            // the service (NULLs without).
            sql::SERVICE_REQUEST => {
                let param = |i: usize| match params.get(i) {
                    Some(SqlValue::Text(t)) => t.as_str(),
                    _ => "",
                };
                let mut row = match self
                    .credentials
                    .iter()
                    .find(|s| s.credential.client_id == param(1))
                {
                    Some(s) => {
                        let mut row = credential_read_row(&s.credential);
                        row.push(s.user_enabled.into());
                        row.push(group_ids_cell(&s.groups));
                        row
                    }
                    None => vec![SqlValue::Null; sql::CREDENTIAL_COLUMNS + 2],
                };
                row.push(match self.revoked.contains(param(0)) {
                    true => 1.into(),
                    false => SqlValue::Null,
                });
                row.push((MIGRATIONS.len() as i64).into());
                match self.services.iter().find(|s| s.name == param(2)) {
                    Some(s) => row.extend(service_read_row(s)),
                    None => row.extend(vec![SqlValue::Null; 8]),
                }
                Ok(vec![row])
            }
            // A primary-key lookup, as in SQLite: its cost does not grow with the table.
            sql::IS_TOKEN_REVOKED => Ok(if self.revoked.contains(text_param(params)) {
                vec![vec![1.into()]]
            } else {
                vec![]
            }),
            other => Err(StoreError::new(format!("CannedDb does not answer {other}"))),
        }
    }

    async fn execute(&self, sql: &str, _params: &[SqlValue]) -> Result<u64, StoreError> {
        Err(StoreError::new(format!("CannedDb is read-only: {sql}")))
    }

    async fn execute_batch(&self, _statements: &[(&str, Vec<SqlValue>)]) -> Result<(), StoreError> {
        Err(StoreError::new("CannedDb is read-only"))
    }
}
