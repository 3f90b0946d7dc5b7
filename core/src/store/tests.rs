//! Unit tests of the migrations and the named statements.

use super::*;

#[test]
fn migration_splits_into_its_statements() {
    let statements = split_sql(MIGRATIONS[0].1);
    assert_eq!(split_sql(MIGRATIONS[1].1).len(), 2);
    assert_eq!(statements.len(), 5);
    assert!(statements.iter().all(|s| !s.contains("--")));
    assert!(statements[4].starts_with("INSERT OR IGNORE INTO users"));
}

#[test]
fn credential_queries_read_the_columns_the_row_encoder_writes() {
    assert!(sql::CREDENTIAL_STATUS
        .starts_with("SELECT c.client_id, c.name, c.user_name, c.kind, c.secret_hash,"));
    assert!(sql::INSERT_CREDENTIAL
        .contains("(client_id, name, user_name, kind, secret_hash, scopes, expires_at"));
}
