//! The schema's migrations (`infra/migrations`), and applying the ones a database lacks, for
//! runtimes without a migration tool (Spin; the tests). D1 has `wrangler d1 migrations apply`.

use super::{single_int, sql, SqlDb, SqlValue, Store};
use crate::error::StoreError;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

/// One file of `infra/migrations`.
#[derive(Clone, Copy, Debug)]
pub struct Migration {
    /// The file's number, as the ledger (`isogate_schema`, from 0003 on) records it.
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// The migrations, in order, for runtimes that apply them themselves (Spin, tests). Each file
/// from 0003 on records itself in the `isogate_schema` ledger.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_init",
        sql: include_str!("../../../infra/migrations/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "0002_revoked_tokens",
        sql: include_str!("../../../infra/migrations/0002_revoked_tokens.sql"),
    },
    Migration {
        version: 3,
        name: "0003_stable_user_ids",
        sql: include_str!("../../../infra/migrations/0003_stable_user_ids.sql"),
    },
    Migration {
        version: 4,
        name: "0004_auth_failures",
        sql: include_str!("../../../infra/migrations/0004_auth_failures.sql"),
    },
    Migration {
        version: 5,
        name: "0005_service_rate_limit",
        sql: include_str!("../../../infra/migrations/0005_service_rate_limit.sql"),
    },
    Migration {
        version: 6,
        name: "0006_groups_policy",
        sql: include_str!("../../../infra/migrations/0006_groups_policy.sql"),
    },
    Migration {
        version: 7,
        name: "0007_credential_lifecycle",
        sql: include_str!("../../../infra/migrations/0007_credential_lifecycle.sql"),
    },
    Migration {
        version: 8,
        name: "0008_upstream_auth",
        sql: include_str!("../../../infra/migrations/0008_upstream_auth.sql"),
    },
    Migration {
        version: 9,
        name: "0009_dpop",
        sql: include_str!("../../../infra/migrations/0009_dpop.sql"),
    },
    Migration {
        version: 10,
        name: "0010_client_assertions",
        sql: include_str!("../../../infra/migrations/0010_client_assertions.sql"),
    },
    Migration {
        version: 11,
        name: "0011_verified_tokens",
        sql: include_str!("../../../infra/migrations/0011_verified_tokens.sql"),
    },
];

/// The versions of [`MIGRATIONS`], computed at compile time: what a service request's read
/// checks the ledger against ([`super::sql::SERVICE_REQUEST`]) without bringing the migrations'
/// text into a runtime that never applies them (Workers).
pub const MIGRATION_VERSIONS: [i64; MIGRATIONS.len()] = {
    let mut versions = [0; MIGRATIONS.len()];
    let mut i = 0;
    while i < versions.len() {
        versions[i] = MIGRATIONS[i].version;
        i += 1;
    }
    versions
};

/// The schema version this code reads and writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].version;

impl<D: SqlDb> Store<'_, D> {
    /// Applies the migrations this database lacks, in one transaction. For runtimes without a
    /// migration tool (Spin; the tests). Runtimes that start an instance per request call
    /// this on every first storage use: one read when the schema is current.
    pub async fn apply_migrations(&self) -> Result<(), StoreError> {
        let applied: Vec<i64> = match self.db.query(sql::SCHEMA_VERSION, &[]).await {
            Ok(rows) => rows
                .iter()
                .map(|r| single_int(std::slice::from_ref(r)).map(|v| v.unwrap_or(0)))
                .collect::<Result<_, _>>()?,
            // No ledger yet: a database of 0001/0002 (or none). Its tables say which.
            Err(_) => match single_int(&self.db.query(sql::LEGACY_SCHEMA_TABLES, &[]).await?)? {
                Some(4) => vec![1, 2],
                Some(3) => vec![1],
                _ => vec![],
            },
        };
        // Each one the ledger lacks, in order, whatever newer ones it holds.
        let missing = |m: &&Migration| !applied.contains(&m.version);
        if !MIGRATIONS.iter().any(|m| missing(&m)) {
            return Ok(());
        }
        let statements: Vec<String> = MIGRATIONS
            .iter()
            .filter(missing)
            .flat_map(|m| split_sql(m.sql))
            .collect();
        let batch: Vec<(&str, Vec<SqlValue>)> =
            statements.iter().map(|s| (s.as_str(), vec![])).collect();
        self.db.execute_batch(&batch).await
    }
}

/// Splits a migration file into statements (on `;` at line ends, outside comments). Our
/// migrations contain no `;` inside strings or triggers; keep it that way.
pub fn split_sql(sql: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        let code = line.split("--").next().unwrap_or("");
        current.push_str(code);
        current.push('\n');
        if code.trim_end().ends_with(';') {
            let s = current.trim().trim_end_matches(';').trim().to_owned();
            if !s.is_empty() {
                statements.push(s);
            }
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        statements.push(current.trim().to_owned());
    }
    statements
}

/// A database whose runtime has no migration tool (Spin; hosted Spin cannot run `spin up
/// --sqlite`): the migrations it lacks are applied before an instance's first statement, one
/// read of the ledger when the schema is current ([`Store::apply_migrations`]), except for a
/// read that counts the ledger itself ([`SqlDb::query_checking_schema`]: a service request's),
/// which runs first and costs no read more unless it says migrations are missing. `ready` is
/// the instance's: set once the schema is known to be current.
pub struct SelfMigrating<'a, D> {
    db: D,
    ready: &'a AtomicBool,
}

impl<'a, D: SqlDb> SelfMigrating<'a, D> {
    pub fn new(db: D, ready: &'a AtomicBool) -> Self {
        SelfMigrating { db, ready }
    }

    async fn ensure_schema(&self) -> Result<(), StoreError> {
        if self.ready.load(Relaxed) {
            return Ok(());
        }
        Store::new(&self.db).apply_migrations().await?;
        self.ready.store(true, Relaxed);
        Ok(())
    }
}

impl<D: SqlDb> SqlDb for SelfMigrating<'_, D> {
    async fn query(
        &self,
        sql: &str,
        params: &[SqlValue],
    ) -> Result<Vec<Vec<SqlValue>>, StoreError> {
        self.ensure_schema().await?;
        self.db.query(sql, params).await
    }

    async fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<u64, StoreError> {
        self.ensure_schema().await?;
        self.db.execute(sql, params).await
    }

    async fn execute_batch(&self, statements: &[(&str, Vec<SqlValue>)]) -> Result<(), StoreError> {
        self.ensure_schema().await?;
        self.db.execute_batch(statements).await
    }

    async fn query_checking_schema(
        &self,
        sql: &str,
        params: &[SqlValue],
    ) -> Result<Vec<Vec<SqlValue>>, StoreError> {
        self.db.query(sql, params).await
    }

    async fn schema_checked(&self, current: bool) -> Result<bool, StoreError> {
        if current {
            self.ready.store(true, Relaxed);
            return Ok(false);
        }
        // Known current already: the read failed for another reason (503, as any other).
        if self.ready.load(Relaxed) {
            return Ok(false);
        }
        self.ensure_schema().await?;
        Ok(true)
    }
}
