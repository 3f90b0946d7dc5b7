//! The gateway against its storage: what it reads on each path, what a client sees when the
//! database is down, and that multi-statement changes are all-or-nothing.

use isogate_core::store::{SqlValue, Store};
use isogate_core::testing::*;
use isogate_core::Diagnostic;

/// The client secret `Harness::seeded()` creates (the random source is seeded), and its stored
/// hash as computed by coreutils: `printf 'isogate-secret-v1:%s' "$SECRET" | sha256sum`.
const SEEDED_CLIENT_SECRET: &str = "lW7rLyYy170D8WayM-PvKFKfDxNXZ1JHlONKDv_hHFg";
const SEEDED_SECRET_HASH: &str = "c19e29f76052b7c0e91d49cd164e4cc345267ec1cf13d9b543447f2adf665871";

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

    // The client learns nothing of the cause; the runtime is handed it to log.
    let token_request = head(
        "POST",
        DOMAIN,
        "/oauth2/token",
        None,
        &[("content-type", "application/x-www-form-urlencoded")],
    );
    let admin_request = head(
        "GET",
        DOMAIN,
        "/admin/v1/users",
        None,
        &[("authorization", &format!("Bearer {ADMIN_TOKEN}"))],
    );
    let service_request = head(
        "GET",
        SERVICE_HOST,
        "/",
        None,
        &[("authorization", &format!("Bearer {token}"))],
    );
    let form = post_form(&client, None);
    for (request, body) in [
        (&token_request, Some(form.as_bytes())),
        (&admin_request, Some(&b""[..])),
        (&service_request, None),
    ] {
        let outcome = h.exchange(&h.isolate(), request, body);
        let r = refused(outcome.result);
        assert!(
            !text(&r).contains("simulated") && !text(&r).to_lowercase().contains("sql"),
            "{}",
            text(&r)
        );
        let diagnostic = outcome
            .diagnostic
            .unwrap_or_else(|| panic!("{}: no diagnostic", request.path));
        assert!(
            matches!(diagnostic, Diagnostic::Storage(_)),
            "{diagnostic:?}"
        );
        assert_eq!(
            diagnostic.to_string(),
            "isogate: storage error: database unavailable (simulated)"
        );
    }

    // What needs no storage is still answered: syntax first, then signatures.
    assert_token_error(
        &h.root(&head("GET", DOMAIN, "/oauth2/token", None, &[]), b""),
        405,
        "invalid_request",
    );
    assert_eq!(refused(h.service(SERVICE_HOST, &[])).status, 401);
    assert_bearer_error(&refused(h.call("x.y.z")), 401, "invalid_token");
    assert_eq!(
        h.root(&head("GET", DOMAIN, "/oauth2/jwks", None, &[]), b"")
            .status,
        200
    );
}

#[test]
fn warm_caches_serve_the_service_path_without_storage_reads() {
    let (h, client) = Harness::seeded();
    let token = h.token_for(&client, None);
    // A fresh isolate: the first request loads credential and service...
    let gw = h.isolate();
    let before = h.db.statements.get();
    authorized(h.call_with(&gw, &token));
    assert_eq!(
        h.db.statements.get() - before,
        1,
        "one read for the credential, this token's revocation and the service"
    );
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
fn token_endpoint_makes_one_storage_read_per_request_and_one_write_per_failure() {
    let (h, client) = Harness::seeded();
    let wrong_secret = format!(
        "grant_type=client_credentials&client_id={}&client_secret=x",
        client.client_id
    );
    // (case, form, expected status, statements: the credential read with the failure counts,
    // and for a failure the batch that counts it)
    for (case, form, status, statements) in [
        ("success", post_form(&client, None), 200, 1),
        ("failure", wrong_secret, 401, 2),
    ] {
        for _ in 0..2 {
            let before = h.db.statements.get();
            let r = h.token(&form, &[]);
            assert_eq!(r.status, status, "{case}: {}", text(&r));
            assert_eq!(h.db.statements.get() - before, statements, "{case}");
        }
    }
    // A request refused on its syntax touches nothing.
    let before = h.db.statements.get();
    let r = h.token(
        "grant_type=client_credentials&client_id=a&client_id=b&client_secret=c",
        &[],
    );
    assert_token_error(&r, 400, "invalid_request");
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
    h.db.exec_raw("CREATE TRIGGER keep_alice BEFORE DELETE ON isogate_users WHEN old.name = 'alice' BEGIN SELECT RAISE(ABORT, 'kept'); END;");
    let r = h.admin("DELETE", "/admin/v1/users/alice", None);
    assert_admin_error(&r, 503, "temporarily_unavailable");
    assert_eq!(
        h.db.raw("SELECT name FROM isogate_credentials WHERE user_name = 'alice'"),
        vec![vec![SqlValue::Text("alice-cred".into())]]
    );
    assert_eq!(h.admin("GET", "/admin/v1/users/alice", None).status, 200);
    authorized(h.call(&token));
    h.token_for(&alice, None);
}

#[test]
fn stored_secret_hash_is_sha256_of_the_domain_separated_secret() {
    // The seeded random source makes the secret known; its hash was computed outside Rust:
    //   printf 'isogate-secret-v1:<secret>' | sha256sum
    let (h, client) = Harness::seeded();
    assert_eq!(client.client_secret, SEEDED_CLIENT_SECRET);
    let stored =
        h.db.raw("SELECT secret_hash FROM isogate_credentials WHERE name = 'root-cred'");
    assert_eq!(
        stored,
        vec![vec![SqlValue::Text(SEEDED_SECRET_HASH.into())]]
    );
}

#[test]
fn migrations_are_idempotent_and_seed_root_once() {
    let (h, _) = Harness::seeded();
    let before = h.snapshot();
    for _ in 0..2 {
        block_on(Store::new(&h.db).apply_migrations()).unwrap();
    }
    assert_eq!(h.snapshot(), before);
    assert_eq!(
        h.db.raw("SELECT name, enabled, created_at FROM isogate_users WHERE name = 'root'"),
        vec![vec![
            SqlValue::Text("root".into()),
            SqlValue::Integer(1),
            SqlValue::Integer(0)
        ]]
    );
}
