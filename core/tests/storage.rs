//! The gateway against its storage: what it reads on each path, what a client sees when the
//! database is down, and that multi-statement changes are all-or-nothing.

mod support;

use isogate_core::store::{SqlValue, Store};
use support::*;

#[test]
fn storage_outage_is_503_temporarily_unavailable_and_names_no_internals() {
    let (h, client) = Harness::seeded();
    let token = h.token_for(&client, None);
    h.db.down.set(true);

    let r = h.token(&post_form(&client, None), &[]);
    assert_token_error(&r, 503, "temporarily_unavailable");
    assert_eq!(r.header("retry-after"), Some("1"));

    let r = h.admin("GET", "/admin/v1/users", None);
    assert_admin_error(&r, 503, "temporarily_unavailable");

    // A cold isolate cannot check the credential: 503, not a refusal of the token.
    let r = refused(h.call_with(&h.isolate(), &token));
    assert_eq!(r.status, 503);
    assert_eq!(json_body(&r)["error"], "temporarily_unavailable");
    assert_eq!(r.header("www-authenticate"), None);

    for r in [h.token(&post_form(&client, None), &[]), h.admin("GET", "/admin/v1/users", None), refused(h.call_with(&h.isolate(), &token))] {
        assert!(!text(&r).contains("simulated") && !text(&r).to_lowercase().contains("sql"), "{}", text(&r));
    }

    // What needs no storage is still answered: syntax first, then signatures.
    assert_token_error(&h.root(&head("GET", DOMAIN, "/oauth2/token", None, &[]), b""), 405, "invalid_request");
    assert_eq!(refused(h.service(SERVICE_HOST, &[])).status, 401);
    assert_bearer_error(&refused(h.call("x.y.z")), 401, "invalid_token");
    assert_eq!(h.root(&head("GET", DOMAIN, "/oauth2/jwks", None, &[]), b"").status, 200);
}

#[test]
fn warm_caches_serve_the_service_path_without_storage_reads() {
    let (h, client) = Harness::seeded();
    let token = h.token_for(&client, None);
    // A fresh isolate: the first request loads credential and service...
    let gw = h.isolate();
    let before = h.db.statements.get();
    authorized(h.call_with(&gw, &token));
    assert_eq!(h.db.statements.get() - before, 3, "one read each for the credential, the revoked-token set and the service");
    // ...and later ones within the TTL read nothing, so they pass even with the database down.
    let warmed_at = h.now_ms();
    h.db.down.set(true);
    let before = h.db.statements.get();
    for _ in 0..3 {
        h.advance_ms(1_000);
        authorized(h.call_with(&gw, &token));
    }
    assert_eq!(h.db.statements.get(), before);
    h.set_ms(warmed_at + 4_999);
    authorized(h.call_with(&gw, &token));
    // Once the entries age out, the isolate has to ask storage again.
    h.set_ms(warmed_at + 5_000);
    assert_eq!(refused(h.call_with(&gw, &token)).status, 503);
    h.db.down.set(false);
    authorized(h.call_with(&gw, &token));
}

#[test]
fn token_endpoint_makes_exactly_one_storage_read_per_authenticated_request() {
    let (h, client) = Harness::seeded();
    for (case, form) in [("success", post_form(&client, None)), ("failure", format!("grant_type=client_credentials&client_id={}&client_secret=x", client.client_id))] {
        for _ in 0..2 {
            let before = h.db.statements.get();
            h.token(&form, &[]);
            assert_eq!(h.db.statements.get() - before, 1, "{case}: exactly the credential read");
        }
    }
    // A request refused on its syntax touches nothing.
    let before = h.db.statements.get();
    h.token("grant_type=client_credentials&client_id=a&client_id=b&client_secret=c", &[]);
    assert_eq!(h.db.statements.get(), before);
}

#[test]
fn failed_user_deletion_is_atomic_and_revokes_nothing() {
    let h = Harness::new();
    h.create_user("alice");
    h.create_service(SERVICE, UPSTREAM, &[]);
    let alice = h.create_client("alice-cred", "alice", &[]);
    let token = h.token_for(&alice, None);
    authorized(h.call(&token));
    // The second statement of the deletion batch fails after the first has run.
    h.db.exec_raw("CREATE TRIGGER keep_alice BEFORE DELETE ON users WHEN old.name = 'alice' BEGIN SELECT RAISE(ABORT, 'kept'); END;");
    let r = h.admin("DELETE", "/admin/v1/users/alice", None);
    assert_admin_error(&r, 503, "temporarily_unavailable");
    assert_eq!(h.db.raw("SELECT name FROM credentials WHERE user_name = 'alice'"), vec![vec![SqlValue::Text("alice-cred".into())]]);
    assert_eq!(h.admin("GET", "/admin/v1/users/alice", None).status, 200);
    authorized(h.call(&token));
    h.token_for(&alice, None);
}

#[test]
fn migrations_are_idempotent_and_seed_root_once() {
    let (h, _) = Harness::seeded();
    let before = h.snapshot();
    for _ in 0..2 {
        pollster::block_on(Store::new(&h.db).apply_migrations()).unwrap();
    }
    assert_eq!(h.snapshot(), before);
    assert_eq!(h.db.raw("SELECT name, enabled, created_at FROM users WHERE name = 'root'"), vec![vec![SqlValue::Text("root".into()), SqlValue::Integer(1), SqlValue::Integer(0)]]);
}
