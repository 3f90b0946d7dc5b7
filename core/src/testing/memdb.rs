//! [`MemDb`]: the store's real statements on an in-memory SQLite.

use crate::error::StoreError;
use crate::store::{Migration, SqlDb, SqlValue, Store};
use rusqlite::types::Value as SqliteValue;
use rusqlite::Connection;
use std::cell::{Cell, RefCell};

/// [`SqlDb`] over an in-memory `rusqlite::Connection` with the real migrations, a switch to
/// simulate an outage and counters of statements run and rows read (to pin "the hot path
/// makes no storage read" and "a read does not grow with other clients' data").
pub struct MemDb {
    conn: RefCell<Connection>,
    /// While set, every statement fails as an unavailable database would.
    pub down: Cell<bool>,
    /// Statements run so far (queries, executes and batches).
    pub statements: Cell<usize>,
    /// Rows returned by queries so far.
    pub rows_read: Cell<usize>,
}

impl MemDb {
    /// A fresh database with the real migrations applied, as the Spin component applies them.
    pub fn migrated() -> MemDb {
        let db = MemDb::empty();
        super::block_on(Store::new(&db).apply_migrations()).expect("migrations apply");
        db
    }

    /// A database with no schema.
    pub fn empty() -> MemDb {
        let conn = Connection::open_in_memory().expect("sqlite opens");
        MemDb {
            conn: RefCell::new(conn),
            down: Cell::new(false),
            statements: Cell::new(0),
            rows_read: Cell::new(0),
        }
    }

    /// A database with the given migration files run as `spin up --sqlite @FILE` or
    /// `wrangler d1 migrations apply` run them (each file as one script): e.g. the schema of
    /// an older release, to upgrade.
    pub fn with_migrations(migrations: &[Migration]) -> MemDb {
        let db = MemDb::empty();
        for m in migrations {
            db.exec_raw(m.sql);
        }
        db
    }

    fn begin(&self) -> Result<(), StoreError> {
        if self.down.get() {
            return Err(StoreError::new("database unavailable (simulated)"));
        }
        self.statements.set(self.statements.get() + 1);
        Ok(())
    }

    /// Runs SQL directly, bypassing the gateway: for arranging faults (triggers and the like).
    pub fn exec_raw(&self, sql: &str) {
        self.conn.borrow().execute_batch(sql).expect("raw sql runs");
    }

    /// Raw rows of a statement, bypassing the gateway: for asserting what is stored.
    pub fn raw(&self, sql: &str) -> Vec<Vec<SqlValue>> {
        let conn = self.conn.borrow();
        let mut stmt = conn.prepare(sql).expect("raw sql prepares");
        let n = stmt.column_count();
        stmt.query_map([], |row| {
            (0..n)
                .map(|i| row.get::<_, SqliteValue>(i))
                .collect::<Result<Vec<_>, _>>()
        })
        .expect("raw sql runs")
        .map(|r| {
            r.expect("row")
                .into_iter()
                .map(|v| from_sqlite(v).expect("known type"))
                .collect()
        })
        .collect()
    }
}

fn to_sqlite(v: &SqlValue) -> SqliteValue {
    match v {
        SqlValue::Null => SqliteValue::Null,
        SqlValue::Integer(i) => SqliteValue::Integer(*i),
        SqlValue::Text(s) => SqliteValue::Text(s.clone()),
    }
}

fn from_sqlite(v: SqliteValue) -> Result<SqlValue, StoreError> {
    match v {
        SqliteValue::Null => Ok(SqlValue::Null),
        SqliteValue::Integer(i) => Ok(SqlValue::Integer(i)),
        SqliteValue::Text(s) => Ok(SqlValue::Text(s)),
        other => Err(StoreError::new(format!(
            "unsupported column type {other:?}"
        ))),
    }
}

fn sql_err(e: rusqlite::Error) -> StoreError {
    StoreError::new(e.to_string())
}

impl SqlDb for MemDb {
    async fn query(
        &self,
        sql: &str,
        params: &[SqlValue],
    ) -> Result<Vec<Vec<SqlValue>>, StoreError> {
        self.begin()?;
        let conn = self.conn.borrow();
        let mut stmt = conn.prepare(sql).map_err(sql_err)?;
        let n = stmt.column_count();
        let rows = stmt
            .query_map(
                rusqlite::params_from_iter(params.iter().map(to_sqlite)),
                |row| {
                    (0..n)
                        .map(|i| row.get::<_, SqliteValue>(i))
                        .collect::<Result<Vec<_>, _>>()
                },
            )
            .map_err(sql_err)?;
        let mut out = Vec::new();
        for row in rows {
            out.push(
                row.map_err(sql_err)?
                    .into_iter()
                    .map(from_sqlite)
                    .collect::<Result<Vec<_>, _>>()?,
            );
        }
        self.rows_read.set(self.rows_read.get() + out.len());
        Ok(out)
    }

    async fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<u64, StoreError> {
        self.begin()?;
        let conn = self.conn.borrow();
        conn.execute(
            sql,
            rusqlite::params_from_iter(params.iter().map(to_sqlite)),
        )
        .map_err(sql_err)?;
        Ok(conn.changes())
    }

    async fn execute_batch(&self, statements: &[(&str, Vec<SqlValue>)]) -> Result<(), StoreError> {
        self.begin()?;
        let mut conn = self.conn.borrow_mut();
        // Atomic like a D1 batch: any failure rolls the whole batch back (on drop).
        let tx = conn.transaction().map_err(sql_err)?;
        for (sql, params) in statements {
            tx.execute(
                sql,
                rusqlite::params_from_iter(params.iter().map(to_sqlite)),
            )
            .map_err(sql_err)?;
        }
        tx.commit().map_err(sql_err)
    }
}
