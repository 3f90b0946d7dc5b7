//! Revocation end to end: deleting a credential or a user ends it at the token endpoint at
//! once on every isolate (that path always reads storage), on the service path at once on the
//! isolate that made the change (it drops its cache), and on every other isolate within the
//! cache TTL (5000 ms by default) — never sooner than the TTL, never later.
//!
//! Also the access-token credential type, whose token is the credential.

use isogate_core::gateway::Gateway;
use isogate_core::testing::*;
use serde_json::json;

const TTL_MS: u64 = 5_000;

/// What a deletion must do to an outstanding token and to the client that held it.
/// `delete_path` is the admin resource to delete; `client` a credential it revokes.
fn assert_revocation_bounds(h: &Harness, client: &Client, delete_path: &str) {
    let token = h.token_for(client, None);
    let other: Gateway = h.isolate();
    // Both isolates have checked (and cached) the credential.
    authorized(h.call(&token));
    authorized(h.call_with(&other, &token));
    let cached_at = h.now_ms();

    h.advance_ms(1_000);
    let r = h.admin("DELETE", delete_path, None);
    assert_eq!(r.status, 200, "{delete_path}: {}", text(&r));

    // The token endpoint refuses at once, on every isolate.
    for gw in [&h.gw, &other] {
        let r = h.token_on(gw, &post_form(client, None), &[]);
        assert_token_error(&r, 401, "invalid_client");
    }
    // The isolate that deleted refuses the outstanding token at once.
    let r = refused(h.call(&token));
    assert_bearer_error(&r, 401, "invalid_token");
    assert_eq!(
        json_body(&r)["error_description"],
        "the credential behind this token was revoked"
    );

    // Another isolate honours it from its cache up to the TTL, and not one millisecond longer.
    for at in [cached_at + 1_000, cached_at + TTL_MS - 1] {
        h.set_ms(at);
        authorized(h.call_with(&other, &token));
    }
    h.set_ms(cached_at + TTL_MS);
    assert_bearer_error(&refused(h.call_with(&other, &token)), 401, "invalid_token");
    h.advance_ms(60_000);
    assert_bearer_error(&refused(h.call_with(&other, &token)), 401, "invalid_token");
    assert_bearer_error(&refused(h.call(&token)), 401, "invalid_token");
}

#[test]
fn deleted_credential_fails_at_token_endpoint_immediately() {
    let (h, client) = Harness::seeded();
    let other = h.isolate();
    // Warm every cache there is with this client first.
    authorized(h.call_with(&other, &h.token_for_on(&other, &client, None)));
    let r = h.admin("DELETE", "/admin/v1/credentials/root-cred", None);
    assert_eq!(r.status, 200);
    assert_eq!(
        json_body(&r),
        json!({ "deleted": { "credential": "root-cred" } })
    );
    for gw in [&h.gw, &other] {
        for r in [
            h.token_on(gw, &post_form(&client, None), &[]),
            h.token_on(
                gw,
                "grant_type=client_credentials",
                &[(
                    "authorization",
                    &basic(&client.client_id, &client.client_secret),
                )],
            ),
        ] {
            assert_token_error(&r, 401, "invalid_client");
        }
    }
}

#[test]
fn deleted_credential_is_refused_here_at_once_and_elsewhere_within_the_cache_ttl() {
    let (h, client) = Harness::seeded();
    assert_revocation_bounds(&h, &client, "/admin/v1/credentials/root-cred");
}

#[test]
fn deleted_user_is_refused_here_at_once_and_elsewhere_within_the_cache_ttl() {
    let h = Harness::new();
    h.create_user("alice");
    h.create_service(SERVICE, UPSTREAM, &[]);
    let alice = h.create_client("alice-cred", "alice", &[]);
    assert_revocation_bounds(&h, &alice, "/admin/v1/users/alice");
}

#[test]
fn deleting_a_user_revokes_every_credential_it_holds_and_no_other() {
    let h = Harness::new();
    h.create_user("alice");
    h.create_service(SERVICE, UPSTREAM, &[]);
    let a1 = h.create_client("alice-1", "alice", &[]);
    let a2 = h.create_client("alice-2", "alice", &["service:my-api"]);
    let root = h.create_client("root-cred", "root", &[]);
    let t1 = h.token_for(&a1, None);
    let t2 = h.token_for(&a2, None);
    let troot = h.token_for(&root, None);
    for t in [&t1, &t2, &troot] {
        authorized(h.call(t));
    }

    let r = h.admin("DELETE", "/admin/v1/users/alice", None);
    assert_eq!(r.status, 200);
    assert_eq!(
        json_body(&r),
        json!({ "deleted": { "user": "alice", "credentials_revoked": 2 } })
    );

    for (client, token) in [(&a1, &t1), (&a2, &t2)] {
        assert_token_error(
            &h.token(&post_form(client, None), &[]),
            401,
            "invalid_client",
        );
        assert_bearer_error(&refused(h.call(token)), 401, "invalid_token");
    }
    authorized(h.call(&troot));
    h.token_for(&root, None);
    // Nothing of alice's is left behind.
    let creds = json_body(&h.admin("GET", "/admin/v1/credentials", None));
    let names: Vec<&str> = creds["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["root-cred"]);
    assert_eq!(h.admin("GET", "/admin/v1/users/alice", None).status, 404);
    assert_eq!(
        h.db.raw("SELECT count(*) FROM isogate_credentials WHERE user_name = 'alice'")[0][0],
        isogate_core::store::SqlValue::Integer(0)
    );

    // A new user under the old name does not bring the old credentials or tokens back.
    h.create_user("alice");
    assert_bearer_error(&refused(h.call(&t1)), 401, "invalid_token");
    assert_token_error(&h.token(&post_form(&a1, None), &[]), 401, "invalid_client");
}

#[test]
fn recreated_credential_of_the_same_name_does_not_revive_old_tokens() {
    let (h, old) = Harness::seeded();
    let old_token = h.token_for(&old, None);
    assert_eq!(
        h.admin("DELETE", "/admin/v1/credentials/root-cred", None)
            .status,
        200
    );
    let new = h.create_client("root-cred", "root", &[]);
    assert_ne!(new.client_id, old.client_id);
    assert_ne!(new.client_secret, old.client_secret);
    assert_bearer_error(&refused(h.call(&old_token)), 401, "invalid_token");
    assert_token_error(&h.token(&post_form(&old, None), &[]), 401, "invalid_client");
    authorized(h.call(&h.token_for(&new, None)));
}

#[test]
fn cache_ttl_setting_bounds_revocation_latency_on_other_isolates() {
    // (ISOGATE_CACHE_TTL_MS, how long another isolate may still honour a deleted credential)
    for (setting, ttl_ms) in [("0", 0u64), ("1500", 1_500), ("60000", 60_000)] {
        let h = Harness::with_settings(&[("ISOGATE_CACHE_TTL_MS", Some(setting))]);
        h.create_service(SERVICE, UPSTREAM, &[]);
        let client = h.create_client("c", "root", &[]);
        let token = h.token_for(&client, None);
        let other = h.isolate();
        authorized(h.call_with(&other, &token));
        let cached_at = h.now_ms();
        assert_eq!(
            h.admin("DELETE", "/admin/v1/credentials/c", None).status,
            200
        );
        if ttl_ms > 0 {
            h.set_ms(cached_at + ttl_ms - 1);
            authorized(h.call_with(&other, &token));
        }
        h.set_ms(cached_at + ttl_ms);
        assert_bearer_error(&refused(h.call_with(&other, &token)), 401, "invalid_token");
    }
}

#[test]
fn access_token_credential_is_used_directly_as_the_bearer() {
    let (h, _) = Harness::seeded();
    let r = h.admin(
        "POST",
        "/admin/v1/credentials",
        Some(json!({ "name": "pat", "user": "root", "type": "access-token", "expire_in": "30d" })),
    );
    assert_eq!(r.status, 201, "{}", text(&r));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let body = json_body(&r);
    assert!(
        body.get("client_secret").is_none(),
        "an access-token credential has no secret"
    );
    let token = body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned();
    let thirty_days = 30 * 86_400;
    assert_eq!(body["credential"]["type"], "access-token");
    assert_eq!(body["credential"]["expires_at"], h.now_secs() + thirty_days);

    let header = jwt_part(&token, 0);
    assert_eq!(header["typ"], "at+jwt");
    let claims = jwt_part(&token, 1);
    assert_eq!(claims["exp"], h.now_secs() + thirty_days);
    assert_eq!(claims["iat"], h.now_secs());
    assert_eq!(claims["sub"], "root");
    assert_eq!(claims["client_id"], body["client_id"]);
    assert_eq!(claims["scope"], "service:*");

    let a = authorized(h.call(&token));
    assert_eq!(forwarded(&a, "x-isogate-credential"), vec!["pat"]);
    assert_eq!(forwarded(&a, "x-isogate-user"), vec!["root"]);
    authorized(h.service(SERVICE_HOST, &[("x-octelium-auth", &token)]));

    // Valid to the last second of the credential; dead from its expiry on, leeway or not.
    let exp_ms = (h.now_secs() + thirty_days) as u64 * 1000;
    h.set_ms(exp_ms - 1);
    authorized(h.call(&token));
    h.set_ms(exp_ms);
    assert_bearer_error(&refused(h.call(&token)), 401, "invalid_token");
}

#[test]
fn access_token_credential_takes_its_scopes_and_a_one_year_default_lifetime() {
    let (h, _) = Harness::seeded();
    h.create_service("other", UPSTREAM, &[]);
    let r = h.admin("POST", "/admin/v1/credentials", Some(json!({ "name": "pat", "user": "root", "type": "access-token", "scopes": ["service:other"] })));
    assert_eq!(r.status, 201, "{}", text(&r));
    let token = json_body(&r)["access_token"].as_str().unwrap().to_owned();
    let claims = jwt_part(&token, 1);
    assert_eq!(claims["exp"], h.now_secs() + 365 * 86_400);
    assert_eq!(claims["scope"], "service:other");
    assert_bearer_error(&refused(h.call(&token)), 403, "insufficient_scope");
    authorized(h.service(
        "other.example.com",
        &[("authorization", &format!("Bearer {token}"))],
    ));
}

#[test]
fn deleted_access_token_credential_is_refused_at_once() {
    let (h, _) = Harness::seeded();
    let r = h.admin(
        "POST",
        "/admin/v1/credentials",
        Some(json!({ "name": "pat", "user": "root", "type": "access-token", "expire_in": "30d" })),
    );
    let token = json_body(&r)["access_token"].as_str().unwrap().to_owned();
    authorized(h.call(&token));
    assert_eq!(
        h.admin("DELETE", "/admin/v1/credentials/pat", None).status,
        200
    );
    assert_bearer_error(&refused(h.call(&token)), 401, "invalid_token");
}

#[test]
fn oauth2_credential_expiry_caps_token_lifetime_and_ends_the_exchange() {
    let (h, _) = Harness::seeded();
    let r = h.admin(
        "POST",
        "/admin/v1/credentials",
        Some(json!({ "name": "short", "user": "root", "type": "oauth2", "expire_in": "10m" })),
    );
    assert_eq!(r.status, 201);
    let body = json_body(&r);
    let client = Client {
        name: "short".into(),
        client_id: body["client_id"].as_str().unwrap().into(),
        client_secret: body["client_secret"].as_str().unwrap().into(),
    };
    // (seconds after creation, expires_in, or None when the credential is dead)
    let cases: &[(u64, Option<i64>)] = &[
        (0, Some(600)),
        (300, Some(300)),
        (599, Some(1)),
        (600, None),
        (7200, None),
    ];
    let mut tokens = Vec::new();
    for (after, expires_in) in cases {
        h.set_ms(T0_MS + after * 1000);
        let r = h.token(&post_form(&client, None), &[]);
        match expires_in {
            Some(secs) => {
                assert_eq!(r.status, 200, "+{after}s: {}", text(&r));
                let b = json_body(&r);
                assert_eq!(b["expires_in"], *secs, "+{after}s");
                tokens.push(b["access_token"].as_str().unwrap().to_owned());
            }
            None => assert_token_error(&r, 401, "invalid_client"),
        }
    }
    // Once the credential has expired, no token it issued opens a service, even inside the
    // JWT leeway.
    h.set_ms(T0_MS + 600_000);
    for t in &tokens {
        assert_bearer_error(&refused(h.call(t)), 401, "invalid_token");
    }
}

#[test]
fn credential_or_user_disabled_in_the_database_is_refused_within_the_cache_ttl() {
    // Records disabled in the database directly (an operator's SQL console): nothing tells the
    // isolates, so the cache TTL is the bound here too.
    for (case, sql) in [
        (
            "credential disabled",
            "UPDATE isogate_credentials SET enabled = 0 WHERE name = 'root-cred'",
        ),
        (
            "user disabled",
            "UPDATE isogate_users SET enabled = 0 WHERE name = 'root'",
        ),
        (
            "credential expired",
            "UPDATE isogate_credentials SET expires_at = 1700000000 WHERE name = 'root-cred'",
        ),
    ] {
        let (h, client) = Harness::seeded();
        let token = h.token_for(&client, None);
        authorized(h.call(&token));
        let cached_at = h.now_ms();
        h.db.exec_raw(sql);
        assert_token_error(
            &h.token(&post_form(&client, None), &[]),
            401,
            "invalid_client",
        );
        h.set_ms(cached_at + TTL_MS - 1);
        assert!(h.call(&token).is_ok(), "{case}: refused inside the TTL");
        h.set_ms(cached_at + TTL_MS);
        assert_bearer_error(&refused(h.call(&token)), 401, "invalid_token");
    }
}
