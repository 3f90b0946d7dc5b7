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
use isogate_core::store::sql::COUNT_REQUEST;
use isogate_core::store::{SelfMigrating, SqlDb, SqlValue};
use spin_sdk::sqlite::{Connection, Value};
use std::cell::{Cell, OnceCell};
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
            relaxed: Cell::new(false),
        },
        &SCHEMA_READY,
    )
}

/// The `default` database, opened lazily, with no schema handling.
pub struct RawDb {
    conn: OnceCell<Connection>,
    /// Whether this connection commits without waiting for the disk (see [`RawDb::run`]).
    relaxed: Cell<bool>,
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

    /// Puts a local database file in WAL journal mode, which stays with the file: a commit is
    /// then one append to the log instead of a rollback journal written, synced and deleted.
    /// Spin opens its local SQLite with SQLite's defaults (rollback journal, `synchronous =
    /// FULL`) and sets no PRAGMA. `PRAGMA journal_mode` cannot run inside a transaction, so this
    /// runs before the migrations' batch. libSQL (sqld, Turso) is in WAL already and refuses
    /// the statement ("unsupported statement"); any failure leaves the mode as it was, which
    /// only costs speed, so it is ignored.
    fn use_wal(&self) {
        let _ = self.run("PRAGMA journal_mode = WAL", &[]);
    }

    fn run(&self, sql: &str, params: &[Value]) -> Result<Vec<Vec<SqlValue>>, StoreError> {
        if sql == COUNT_REQUEST && !self.relaxed.get() {
            // A rate limit counts every request to its service: a synced commit each would make
            // the disk the limit of the service's throughput on Spin (a fresh instance per
            // request; on Workers the counts stay in the isolate). In WAL mode `synchronous =
            // NORMAL` commits without syncing; a crash of the machine or a power loss can forget
            // the last counts (never corrupt the file), a crash of the process forgets nothing.
            // Per connection, so only this instance's connection runs relaxed, and after the
            // count it writes at most a token's verified-token row (an optimisation: losing it
            // costs one more verification); revocations, credentials and the token endpoint's
            // writes keep a synced commit. In rollback
            // mode (WAL refused) NORMAL still syncs, less often; libSQL ignores or refuses it:
            // either is fine.
            self.relaxed.set(true);
            let _ = self.run("PRAGMA synchronous = NORMAL", &[]);
        }
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
        // Migrations (a new database, or an upgrade) are the only batches that write the
        // schema ledger: the one time to choose the journal mode, outside their transaction.
        if statements
            .iter()
            .any(|(sql, _)| sql.contains("INTO isogate_schema"))
        {
            self.use_wal();
        }
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
