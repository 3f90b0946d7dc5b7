//! The rate counts of runtimes that cannot keep them in memory (Spin): one UPSERT per request
//! to a service with a limit ([`crate::rate_limit`] says what is counted and decided).

use super::rows::count_from_row;
use super::{sql, SqlDb, SqlValue, Store};
use crate::error::StoreError;
use crate::rate_limit::{Count, RateLimit};

impl<D: SqlDb> Store<'_, D> {
    /// Counts one request of `client_id` to `service` at `now_ms` under `limit`: one UPSERT, and
    /// the count it returns ([`RateLimit::count`], computed by the database).
    pub async fn count_request(
        &self,
        service: &str,
        client_id: &str,
        limit: RateLimit,
        now_ms: u64,
    ) -> Result<Count, StoreError> {
        let ms = |v: u64| SqlValue::Integer(i64::try_from(v).unwrap_or(i64::MAX));
        let params = [
            service.into(),
            client_id.into(),
            ms(limit.window().ms()),
            ms(limit.window_end(client_id, now_ms)),
            ms(now_ms),
        ];
        let rows = self.db.query(sql::COUNT_REQUEST, &params).await?;
        let row = rows
            .first()
            .ok_or_else(|| StoreError::new("the rate count returned no row"))?;
        count_from_row(row)
    }
}
