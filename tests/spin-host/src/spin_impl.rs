//! `fermyon:spin/{key-value,sqlite,variables}@2.0.0` over SQLite (rusqlite, bundled).

use std::cell::OnceCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::Connection;
use wasmtime::component::Resource;
use wasmtime::error::Context as _;

use crate::args::Args;
use crate::stats::Stats;
use crate::HostState;

pub mod bindings {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "isogate:spin-host/spin-imports",
        with: {
            "fermyon:spin/key-value.store": super::KvStore,
            "fermyon:spin/sqlite.connection": super::SqliteConnection,
        },
    });
}

use bindings::fermyon::spin::{key_value, sqlite, variables};

/// The one store label and database name that exist.
const DEFAULT: &str = "default";

/// Host state shared by all requests (instances).
pub struct Shared {
    kv: Mutex<Connection>,
    db: Database,
    variables: HashMap<String, String>,
    declared_kv_stores: Vec<String>,
    declared_sqlite_databases: Vec<String>,
    log_sql: bool,
    /// `--stats-listen`: what the component asks of the host, counted.
    pub stats: Option<Arc<Stats>>,
}

/// An open key-value store (always `default`).
pub struct KvStore;

/// Where database `default` lives.
enum Database {
    /// A file: every `open` gets a connection of its own, opened on its first statement and
    /// closed when the component drops it (at the latest when its instance ends), as Spin's
    /// local SQLite does (`crates/sqlite-inproc` in spinframework/spin: a new
    /// `rusqlite::Connection` per `open`, rusqlite's defaults, no PRAGMA). So a fresh instance
    /// pays what it pays on Spin: opening the file, reading the schema, preparing each statement.
    File(PathBuf),
    /// In memory: one connection shared by every instance. Spin gives each `open` a new, empty
    /// in-memory database, which no test could seed; `--sqlite-init` and state across requests
    /// need the one database.
    Memory(Mutex<Connection>),
}

/// An open SQLite connection handle (always database `default`): for a file, its own
/// connection once it has run a statement.
pub struct SqliteConnection {
    file: OnceCell<Connection>,
}

fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic while holding the lock cannot leave SQLite in a torn state; keep serving.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn open_db(path: Option<&std::path::Path>) -> rusqlite::Result<Connection> {
    match path {
        Some(p) => Connection::open(p),
        None => Connection::open_in_memory(),
    }
}

impl Shared {
    pub fn open(args: &Args) -> wasmtime::Result<Shared> {
        let db = open_db(args.sqlite_file.as_deref()).context("opening SQLite database")?;
        for file in &args.sqlite_init {
            let sql = std::fs::read_to_string(file)
                .with_context(|| format!("reading --sqlite-init {}", file.display()))?;
            db.execute_batch(&sql)
                .with_context(|| format!("running --sqlite-init {}", file.display()))?;
        }
        let db = match &args.sqlite_file {
            // Closed here: instances open their own.
            Some(path) => Database::File(path.clone()),
            None => Database::Memory(Mutex::new(db)),
        };
        let kv = open_db(args.kv_file.as_deref()).context("opening key-value SQLite file")?;
        // Same table as Spin's own SQLite key-value provider.
        kv.execute_batch(
            "CREATE TABLE IF NOT EXISTS spin_key_value (
                 store TEXT NOT NULL,
                 key TEXT NOT NULL,
                 value BLOB NOT NULL,
                 PRIMARY KEY (store, key)
             )",
        )
        .context("creating the key-value table")?;

        // Spin: `--variable` wins over `SPIN_VARIABLE_<NAME>` environment variables.
        let mut variables = HashMap::new();
        for (k, v) in std::env::vars() {
            if let Some(name) = k.strip_prefix("SPIN_VARIABLE_") {
                let name = name.to_ascii_lowercase();
                if check_variable_name(&name).is_ok() {
                    variables.insert(name, v);
                }
            }
        }
        for (k, v) in &args.variables {
            variables.insert(k.clone(), v.clone());
        }
        Ok(Shared {
            kv: Mutex::new(kv),
            db,
            variables,
            declared_kv_stores: args.declared_kv_stores.clone(),
            declared_sqlite_databases: args.declared_sqlite_databases.clone(),
            log_sql: args.log_sql,
            stats: args.stats_listen.map(|_| Arc::new(Stats::default())),
        })
    }
}

/// Spin's rule for variable names: lowercase ASCII letters, digits and single underscores,
/// starting with a letter and not ending with an underscore.
pub fn check_variable_name(name: &str) -> Result<(), String> {
    let ok = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.contains("__")
        && !name.ends_with('_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid variable name {name:?}: use lowercase letters, digits and single \
             underscores, starting with a letter"
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// key-value

impl key_value::Host for HostState {}

impl key_value::HostStore for HostState {
    fn open(&mut self, label: String) -> Result<Resource<KvStore>, key_value::Error> {
        if label != DEFAULT {
            return Err(if self.shared.declared_kv_stores.contains(&label) {
                key_value::Error::NoSuchStore
            } else {
                // Spin's answer for a label missing from the component's `key_value_stores`.
                key_value::Error::AccessDenied
            });
        }
        self.table
            .push(KvStore)
            .map_err(|_| key_value::Error::StoreTableFull)
    }

    fn get(
        &mut self,
        _self_: Resource<KvStore>,
        key: String,
    ) -> Result<Option<Vec<u8>>, key_value::Error> {
        self.count_kv();
        let kv = lock(&self.shared.kv);
        let mut stmt = kv
            .prepare_cached("SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2")
            .map_err(kv_err)?;
        let mut rows = stmt.query([DEFAULT, key.as_str()]).map_err(kv_err)?;
        match rows.next().map_err(kv_err)? {
            Some(row) => Ok(Some(row.get::<_, Vec<u8>>(0).map_err(kv_err)?)),
            None => Ok(None),
        }
    }

    fn set(
        &mut self,
        _self_: Resource<KvStore>,
        key: String,
        value: Vec<u8>,
    ) -> Result<(), key_value::Error> {
        self.count_kv();
        lock(&self.shared.kv)
            .execute(
                "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT(store, key) DO UPDATE SET value = excluded.value",
                rusqlite::params![DEFAULT, key, value],
            )
            .map_err(kv_err)?;
        Ok(())
    }

    fn delete(&mut self, _self_: Resource<KvStore>, key: String) -> Result<(), key_value::Error> {
        self.count_kv();
        lock(&self.shared.kv)
            .execute(
                "DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2",
                [DEFAULT, key.as_str()],
            )
            .map_err(kv_err)?;
        Ok(())
    }

    fn exists(&mut self, self_: Resource<KvStore>, key: String) -> Result<bool, key_value::Error> {
        Ok(self.get(self_, key)?.is_some())
    }

    fn get_keys(&mut self, _self_: Resource<KvStore>) -> Result<Vec<String>, key_value::Error> {
        self.count_kv();
        let kv = lock(&self.shared.kv);
        let mut stmt = kv
            .prepare_cached("SELECT key FROM spin_key_value WHERE store = ?1")
            .map_err(kv_err)?;
        let keys = stmt
            .query_map([DEFAULT], |row| row.get::<_, String>(0))
            .map_err(kv_err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(kv_err)?;
        Ok(keys)
    }

    fn drop(&mut self, rep: Resource<KvStore>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

impl HostState {
    fn count_kv(&self) {
        if let Some(stats) = &self.shared.stats {
            stats.kv();
        }
    }
}

fn kv_err(e: rusqlite::Error) -> key_value::Error {
    key_value::Error::Other(e.to_string())
}

// ---------------------------------------------------------------------------------------------
// sqlite

impl sqlite::Host for HostState {}

impl sqlite::HostConnection for HostState {
    fn open(&mut self, database: String) -> Result<Resource<SqliteConnection>, sqlite::Error> {
        if database != DEFAULT {
            return Err(
                if self.shared.declared_sqlite_databases.contains(&database) {
                    sqlite::Error::NoSuchDatabase
                } else {
                    // Spin's answer for a database missing from the component's `sqlite_databases`.
                    sqlite::Error::AccessDenied
                },
            );
        }
        self.table
            .push(SqliteConnection {
                file: OnceCell::new(),
            })
            .map_err(|e| sqlite::Error::Io(e.to_string()))
    }

    fn execute(
        &mut self,
        self_: Resource<SqliteConnection>,
        statement: String,
        parameters: Vec<sqlite::Value>,
    ) -> Result<sqlite::QueryResult, sqlite::Error> {
        let Ok(connection) = self.table.get(&self_) else {
            return Err(sqlite::Error::InvalidConnection);
        };
        if let Some(stats) = &self.shared.stats {
            stats.sqlite(&statement);
        }
        if self.shared.log_sql {
            // The statement text only: parameters may be secrets' hashes or tokens' ids.
            eprintln!("isogate-spin-host: sql: {}", statement.replace('\n', " "));
        }
        let io = |e: rusqlite::Error| sqlite::Error::Io(e.to_string());
        match &self.shared.db {
            Database::File(path) => {
                let db = match connection.file.get() {
                    Some(db) => db,
                    None => {
                        let db = Connection::open(path).map_err(io)?;
                        connection.file.get_or_init(|| db)
                    }
                };
                execute(db, &statement, parameters).map_err(io)
            }
            Database::Memory(db) => execute(&lock(db), &statement, parameters).map_err(io),
        }
    }

    fn drop(&mut self, rep: Resource<SqliteConnection>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

/// Like Spin's in-process SQLite: one statement, positional parameters, every row of the result
/// with all its columns.
fn execute(
    db: &Connection,
    statement: &str,
    parameters: Vec<sqlite::Value>,
) -> rusqlite::Result<sqlite::QueryResult> {
    let mut stmt = db.prepare_cached(statement)?;
    let columns: Vec<String> = stmt.column_names().into_iter().map(String::from).collect();
    let column_count = columns.len();
    let params = parameters.into_iter().map(|v| match v {
        sqlite::Value::Integer(i) => SqlValue::Integer(i),
        sqlite::Value::Real(r) => SqlValue::Real(r),
        sqlite::Value::Text(t) => SqlValue::Text(t),
        sqlite::Value::Blob(b) => SqlValue::Blob(b),
        sqlite::Value::Null => SqlValue::Null,
    });
    let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let mut values = Vec::with_capacity(column_count);
        for i in 0..column_count {
            values.push(match row.get_ref(i)? {
                ValueRef::Null => sqlite::Value::Null,
                ValueRef::Integer(i) => sqlite::Value::Integer(i),
                ValueRef::Real(r) => sqlite::Value::Real(r),
                ValueRef::Text(t) => sqlite::Value::Text(
                    String::from_utf8(t.to_vec())
                        .map_err(|e| rusqlite::Error::Utf8Error(e.utf8_error()))?,
                ),
                ValueRef::Blob(b) => sqlite::Value::Blob(b.to_vec()),
            });
        }
        out.push(sqlite::RowResult { values });
    }
    Ok(sqlite::QueryResult { columns, rows: out })
}

// ---------------------------------------------------------------------------------------------
// variables

impl variables::Host for HostState {
    fn get(&mut self, name: String) -> Result<String, variables::Error> {
        check_variable_name(&name).map_err(variables::Error::InvalidName)?;
        self.shared
            .variables
            .get(&name)
            .cloned()
            .ok_or_else(|| variables::Error::Undefined(format!("no variable for {name:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execute_all_value_kinds() {
        let db = Connection::open_in_memory().unwrap();
        execute(
            &db,
            "CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB, n)",
            vec![],
        )
        .unwrap();
        let ins = execute(
            &db,
            "INSERT INTO t VALUES (?, ?, ?, ?, ?)",
            vec![
                sqlite::Value::Integer(-7),
                sqlite::Value::Real(1.5),
                sqlite::Value::Text("é".into()),
                sqlite::Value::Blob(vec![0, 255]),
                sqlite::Value::Null,
            ],
        )
        .unwrap();
        assert!(ins.columns.is_empty() && ins.rows.is_empty());
        let res = execute(
            &db,
            "SELECT * FROM t WHERE i = ?",
            vec![sqlite::Value::Integer(-7)],
        )
        .unwrap();
        assert_eq!(res.columns, ["i", "r", "s", "b", "n"]);
        assert_eq!(res.rows.len(), 1);
        let v = &res.rows[0].values;
        assert!(matches!(v[0], sqlite::Value::Integer(-7)));
        assert!(matches!(v[1], sqlite::Value::Real(r) if r == 1.5));
        assert!(matches!(&v[2], sqlite::Value::Text(s) if s == "é"));
        assert!(matches!(&v[3], sqlite::Value::Blob(b) if b == &[0, 255]));
        assert!(matches!(v[4], sqlite::Value::Null));
        assert!(execute(&db, "SELECT nope FROM t", vec![]).is_err());
    }

    #[test]
    fn variable_names() {
        assert!(check_variable_name("issuer_url").is_ok());
        assert!(check_variable_name("a1").is_ok());
        for bad in ["", "1a", "A", "a__b", "a_", "a-b"] {
            assert!(check_variable_name(bad).is_err(), "{bad}");
        }
    }
}
