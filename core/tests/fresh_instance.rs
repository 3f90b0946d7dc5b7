//! A forwarded request on an instance that has nothing cached and does not know its schema, as
//! Spin gives every request of a wasi:http 0.2 component: one SQL statement, the credential,
//! this token's revocation, the service and the schema's ledger in one read
//! (`Store::service_request`), whatever the answer. The schema is applied only when that read
//! says it lacks migrations (`SelfMigrating`, what the Spin adapter's database is).

use isogate_core::capability::{Capabilities, InstanceMemory, NoOriginSecrets};
use isogate_core::http::Response;
use isogate_core::jws::PortableJws;
use isogate_core::keys::PortableEd25519;
use isogate_core::store::SelfMigrating;
use isogate_core::testing::*;
use isogate_core::{Forward, Step};
use std::sync::atomic::AtomicBool;

/// One `GET /` with `token` on `host`, on a fresh instance over `db`: its result and how many
/// statements it ran.
fn on_fresh_instance(h: &Harness, host: &str, token: &str) -> (Result<Forward, Response>, usize) {
    let schema_known = AtomicBool::new(false);
    let db = SelfMigrating::new(&h.db, &schema_known);
    let caps = Capabilities {
        db: &db,
        ed25519: &PortableEd25519,
        random: &FixedRandom(9),
        memory: InstanceMemory::Kept,
        secrets: &NoOriginSecrets,
        jws: &PortableJws,
    };
    let gw = h.isolate();
    let auth = format!("Bearer {token}");
    let request = head("GET", host, "/", None, &[("authorization", &auth)]);
    let before = h.db.statements.get();
    let result = match block_on(gw.start(caps, request, h.clock())) {
        Step::Forward(forward) => Ok(forward),
        Step::Respond { response, .. } => Err(response),
        Step::NeedBody { .. } => panic!("a service request without a body asked for one"),
    };
    (result, h.db.statements.get() - before)
}

#[test]
fn a_forwarded_request_on_a_fresh_instance_costs_one_statement() {
    let (h, client) = Harness::seeded();
    let token = h.token_for(&client, None);
    for _ in 0..3 {
        let (result, statements) = on_fresh_instance(&h, SERVICE_HOST, &token);
        authorized(result);
        assert_eq!(
            statements, 1,
            "credential, revocation, service and schema in one read"
        );
    }
}

#[test]
fn every_refusal_the_one_read_decides_costs_one_statement_and_answers_as_before() {
    let (h, client) = Harness::seeded();
    h.create_user("bob");
    let bob = h.create_client("bob-cred", "bob", &[]);
    let narrow = h.create_client("narrow", "root", &["service:other-api"]);
    let bob_token = h.token_for(&bob, None);
    let narrow_token = h.token_for(&narrow, None);
    let revoked = h.token_for(&client, None);
    // Revoked as `/oauth2/revoke` records it (its endpoint has tests of its own).
    let jti = jwt_part(&revoked, 1)["jti"].as_str().unwrap().to_owned();
    h.db.exec_raw(&format!(
        "INSERT INTO revoked_tokens (jti, client_id, expires_at) VALUES ('{jti}', '{}', {})",
        client.client_id,
        h.now_secs() + 3600
    ));
    let token = h.token_for(&client, None);
    let expect = |host: &str, token: &str, status: u16, code: &str| {
        let (result, statements) = on_fresh_instance(&h, host, token);
        let r = refused(result);
        assert_eq!(r.status, status, "{host} {code}");
        assert_eq!(json_body(&r)["error"], code, "{host}");
        assert_eq!(statements, 1, "{host} {code}");
    };
    expect(SERVICE_HOST, &revoked, 401, "invalid_token");
    expect("no-such-api.example.com", &token, 404, "not_found");
    expect(SERVICE_HOST, &narrow_token, 403, "insufficient_scope");
    // The user disabled, the credential disabled, expired, deleted: each refused at once.
    h.db.exec_raw("UPDATE isogate_users SET enabled = 0 WHERE name = 'bob'");
    expect(SERVICE_HOST, &bob_token, 401, "invalid_token");
    h.db.exec_raw("UPDATE isogate_users SET enabled = 1 WHERE name = 'bob'");
    authorized(on_fresh_instance(&h, SERVICE_HOST, &bob_token).0);
    let disable = serde_json::json!({ "enabled": false });
    assert_eq!(
        h.admin("PATCH", "/admin/v1/credentials/bob-cred", Some(disable))
            .status,
        200
    );
    expect(SERVICE_HOST, &bob_token, 401, "invalid_token");
    let expired = h.now_secs() - 1;
    h.db.exec_raw(&format!(
        "UPDATE isogate_credentials SET enabled = 1, expires_at = {expired} WHERE name = 'bob-cred'"
    ));
    expect(SERVICE_HOST, &bob_token, 401, "invalid_token");
    assert_eq!(
        h.admin("DELETE", "/admin/v1/credentials/bob-cred", None)
            .status,
        200
    );
    expect(SERVICE_HOST, &bob_token, 401, "invalid_token");
}

#[test]
fn a_fresh_instance_on_a_schema_lacking_a_migration_applies_it_then_forwards() {
    let (h, client) = Harness::seeded();
    let token = h.token_for(&client, None);
    // 0010 undone: the read succeeds (it reads none of 0010's tables) but counts 10 of 11.
    h.db.exec_raw(
        "DROP TABLE isogate_used_assertions; DROP TABLE isogate_credential_keys; \
         DELETE FROM isogate_schema WHERE version = 10;",
    );
    let (result, statements) = on_fresh_instance(&h, SERVICE_HOST, &token);
    authorized(result);
    assert_eq!(
        statements, 4,
        "the read, the ledger, the migration's batch, the read again"
    );
    assert_eq!(
        h.db.raw("SELECT COUNT(*) FROM isogate_credential_keys"),
        vec![vec![0.into()]]
    );
    let (result, statements) = on_fresh_instance(&h, SERVICE_HOST, &token);
    authorized(result);
    assert_eq!(statements, 1);
    // 0009 undone: the read itself fails (it joins 0009's table); the same repair.
    h.db.exec_raw(
        "DROP TABLE isogate_credential_dpop; DELETE FROM isogate_schema WHERE version = 9;",
    );
    let (result, statements) = on_fresh_instance(&h, SERVICE_HOST, &token);
    authorized(result);
    assert_eq!(statements, 4);
}

#[test]
fn a_fresh_instance_that_cannot_read_its_database_answers_503_naming_no_internals() {
    let (h, client) = Harness::seeded();
    let token = h.token_for(&client, None);
    h.db.down.set(true);
    let (result, _) = on_fresh_instance(&h, SERVICE_HOST, &token);
    let r = refused(result);
    assert_eq!(r.status, 503);
    assert_eq!(json_body(&r)["error"], "temporarily_unavailable");
    assert!(!String::from_utf8_lossy(&r.body).contains("simulated"));
}
