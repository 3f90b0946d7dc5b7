//! Unit tests of the migrations and the named statements.

use super::*;

#[test]
fn migration_splits_into_its_statements() {
    let statements = split_sql(MIGRATIONS[0].sql);
    assert_eq!(split_sql(MIGRATIONS[1].sql).len(), 2);
    assert_eq!(statements.len(), 5);
    assert!(statements.iter().all(|s| !s.contains("--")));
    assert!(statements[4].starts_with("INSERT OR IGNORE INTO users"));
}

#[test]
fn credential_queries_read_the_columns_the_row_encoder_writes() {
    assert!(sql::CREDENTIAL_STATUS
        .starts_with("SELECT c.client_id, c.name, c.user_id, c.user_name, c.kind, c.secret_hash,"));
    assert!(sql::CREDENTIAL_STATUS.ends_with(
        "c.created_at, c.can_introspect, l.previous_secret_hash, l.rotated_at, l.grace_until, \
         l.previous_rotated_at, l.token_jti, l.previous_token_jti, l.max_uses, l.uses, \
         d.client_id IS NOT NULL, u.enabled, \
         (SELECT group_concat(m.group_id) FROM isogate_group_members m WHERE m.user_id = c.user_id) \
         FROM isogate_credentials c \
         LEFT JOIN isogate_credential_lifecycle l ON l.client_id = c.client_id \
         LEFT JOIN isogate_credential_dpop d ON d.client_id = c.client_id \
         JOIN isogate_users u ON u.id = c.user_id WHERE c.client_id = ?1"
    ));
    // Every credential read joins the lifecycle row: no statement of its own.
    for statement in [
        sql::CREDENTIAL_BY_NAME,
        sql::CREDENTIALS,
        sql::CREDENTIALS_OF_USER,
        sql::CREDENTIAL_STATUS_AND_LOCKOUTS,
    ] {
        assert!(statement.contains("LEFT JOIN isogate_credential_lifecycle l"));
        assert!(statement.contains("LEFT JOIN isogate_credential_dpop d"));
    }
    assert!(sql::INSERT_CREDENTIAL.contains(
        "(client_id, name, user_id, user_name, kind, secret_hash, scopes, expires_at, enabled, \
         created_at, can_introspect)"
    ));
}

#[test]
fn migrations_are_numbered_in_order_and_each_from_0003_records_itself() {
    // Increasing; a number may be skipped while a branch that holds it is unmerged (issue #13
    // reserved 0006-0008 for parallel branches).
    for (i, m) in MIGRATIONS.iter().enumerate() {
        assert!(
            i == 0 || m.version > MIGRATIONS[i - 1].version,
            "{}",
            m.name
        );
        assert!(m.name.starts_with(&format!("{:04}_", m.version)));
        if m.version >= 3 {
            assert!(
                m.sql.contains(&format!("({}, '{}')", m.version, m.name)),
                "{} must add itself to isogate_schema",
                m.name
            );
        }
    }
    assert_eq!(SCHEMA_VERSION, MIGRATIONS[MIGRATIONS.len() - 1].version);
}
