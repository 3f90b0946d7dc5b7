//! Spin SQLite (`fermyon:spin/sqlite@2.0.0`, database `default`) behind the core's [`SqlDb`].
//!
//! The schema is the shared `infra/migrations/*.sql` (also what `spin up --sqlite @...` runs).
//! Hosted Spin (SpinKube, cloud) has no such flag, so the component applies the migrations
//! itself, once per instance before its first storage use: the ones its database lacks, by the
//! `isogate_schema` ledger (one query when the schema is current; see `Store::apply_migrations`).
//! A forwarded request's one read counts the ledger itself, so it needs no query of its own
//! (`SelfMigrating`, in the core). Requests the core answers without storage (discovery, JWKS,
//! cache hits on the service path) open nothing.

use isogate_core::error::StoreError;
use isogate_core::store::{SelfMigrating, SqlDb, SqlValue};
use spin_sdk::sqlite::{Connection, Value};
use std::cell::OnceCell;
use std::sync::atomic::AtomicBool;

/// Whether this instance knows its schema is current (Spin may reuse instances).
static SCHEMA_READY: AtomicBool = AtomicBool::new(false);

/// The database as the core uses it: the core applies the schema before the instance's first
/// statement, or only when a service request's one read says it must ([`SelfMigrating`]).
pub type SpinDb = SelfMigrating<'static, RawDb>;

/// Opens nothing yet: the connection is opened on first use.
pub fn open() -> SpinDb {
    SelfMigrating::new(
        RawDb {
            conn: OnceCell::new(),
        },
        &SCHEMA_READY,
    )
}

/// The `default` database, opened lazily, with no schema handling.
pub struct RawDb {
    conn: OnceCell<Connection>,
}

fn store_error(e: spin_sdk::sqlite::Error) -> StoreError {
    StoreError(format!("spin sqlite: {e}"))
}

fn bind(values: &[SqlValue]) -> Vec<Value> {
    values
        .iter()
        .map(|v| match v {
            SqlValue::Null => Value::Null,
            SqlValue::Integer(i) => Value::Integer(*i),
            SqlValue::Text(s) => Value::Text(s.clone()),
        })
        .collect()
}

fn from_sqlite(v: Value) -> SqlValue {
    match v {
        Value::Null => SqlValue::Null,
        Value::Integer(i) => SqlValue::Integer(i),
        // The schema has no REAL columns; an integral real (e.g. from arithmetic) is an integer,
        // as D1's JavaScript numbers are on Workers.
        Value::Real(f) => SqlValue::Integer(f as i64),
        Value::Text(s) => SqlValue::Text(s),
        Value::Blob(b) => SqlValue::Text(String::from_utf8_lossy(&b).into_owned()),
    }
}

impl RawDb {
    fn conn(&self) -> Result<&Connection, StoreError> {
        if let Some(conn) = self.conn.get() {
            return Ok(conn);
        }
        let conn = Connection::open_default().map_err(store_error)?;
        Ok(self.conn.get_or_init(|| conn))
    }

    fn run(&self, sql: &str, params: &[Value]) -> Result<Vec<Vec<SqlValue>>, StoreError> {
        let result = self.conn()?.execute(sql, params).map_err(store_error)?;
        Ok(result
            .rows
            .into_iter()
            .map(|row| row.values.into_iter().map(from_sqlite).collect())
            .collect())
    }
}

impl SqlDb for RawDb {
    async fn query(
        &self,
        sql: &str,
        params: &[SqlValue],
    ) -> Result<Vec<Vec<SqlValue>>, StoreError> {
        self.run(sql, &bind(params))
    }

    async fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<u64, StoreError> {
        self.run(sql, &bind(params))?;
        // Spin's interface returns rows, not a change count; `changes()` on the same connection
        // is the count of the statement just run.
        let rows = self.run("SELECT changes()", &[])?;
        match rows.first().and_then(|r| r.first()) {
            Some(SqlValue::Integer(n)) => Ok(u64::try_from(*n).unwrap_or(0)),
            _ => Err(StoreError(
                "spin sqlite: changes() returned no count".into(),
            )),
        }
    }

    async fn execute_batch(&self, statements: &[(&str, Vec<SqlValue>)]) -> Result<(), StoreError> {
        self.run("BEGIN", &[])?;
        for (sql, params) in statements {
            if let Err(e) = self.run(sql, &bind(params)) {
                // The statement's error is the one worth reporting; a failed rollback leaves
                // nothing committed either.
                let _ = self.run("ROLLBACK", &[]);
                return Err(e);
            }
        }
        if let Err(e) = self.run("COMMIT", &[]) {
            let _ = self.run("ROLLBACK", &[]);
            return Err(e);
        }
        Ok(())
    }
}
