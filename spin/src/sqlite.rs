//! Spin SQLite (`fermyon:spin/sqlite@2.0.0`, database `default`) behind the core's [`SqlDb`].
//!
//! The schema is the shared `infra/migrations/*.sql` (also what `spin up --sqlite @...` runs).
//! Hosted Spin (SpinKube, cloud) has no such flag, so the component applies the migrations
//! itself, once per instance before its first storage use: the ones its database lacks, by the
//! `isogate_schema` ledger (one query when the schema is current; see `Store::apply_migrations`). Requests the core
//! answers without storage (discovery, JWKS, cache hits on the service path) open nothing.

use isogate_core::error::StoreError;
use isogate_core::store::{SqlDb, SqlValue, Store};
use spin_sdk::sqlite::{Connection, Value};
use std::cell::{Cell, OnceCell};

thread_local! {
    /// Whether this instance has applied the migrations (Spin may reuse instances).
    static SCHEMA_READY: Cell<bool> = const { Cell::new(false) };
}

/// The database as the core uses it: the schema is ensured before the first statement.
pub struct SpinDb {
    raw: RawDb,
}

impl SpinDb {
    /// Opens nothing yet: the connection is opened on first use.
    pub fn new() -> SpinDb {
        SpinDb {
            raw: RawDb {
                conn: OnceCell::new(),
            },
        }
    }

    async fn ensure_schema(&self) -> Result<(), StoreError> {
        if SCHEMA_READY.get() {
            return Ok(());
        }
        // Not through `self`, which would come back here.
        Store::new(&Migrating(&self.raw)).apply_migrations().await?;
        SCHEMA_READY.set(true);
        Ok(())
    }
}

impl SqlDb for SpinDb {
    async fn query(
        &self,
        sql: &str,
        params: &[SqlValue],
    ) -> Result<Vec<Vec<SqlValue>>, StoreError> {
        self.ensure_schema().await?;
        self.raw.query(sql, params).await
    }

    async fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<u64, StoreError> {
        self.ensure_schema().await?;
        self.raw.execute(sql, params).await
    }

    async fn execute_batch(&self, statements: &[(&str, Vec<SqlValue>)]) -> Result<(), StoreError> {
        self.ensure_schema().await?;
        self.raw.execute_batch(statements).await
    }
}

/// The raw database while the migrations run: their change counts are never read, so the
/// `SELECT changes()` round trip is skipped (this runs on every instance's first storage use).
struct Migrating<'a>(&'a RawDb);

impl SqlDb for Migrating<'_> {
    async fn query(
        &self,
        sql: &str,
        params: &[SqlValue],
    ) -> Result<Vec<Vec<SqlValue>>, StoreError> {
        self.0.query(sql, params).await
    }

    async fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<u64, StoreError> {
        self.0.run(sql, &bind(params))?;
        Ok(0)
    }

    async fn execute_batch(&self, statements: &[(&str, Vec<SqlValue>)]) -> Result<(), StoreError> {
        self.0.execute_batch(statements).await
    }
}

/// The `default` database, opened lazily, with no schema handling.
struct RawDb {
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
