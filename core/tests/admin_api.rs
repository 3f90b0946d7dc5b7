//! The admin API end to end (`/admin/v1/...`): who may call it, what every refusal looks like,
//! that secrets are shown exactly once, and that no failed request changes what is stored.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use isogate_core::secret::Secret;
use isogate_core::store::SqlValue;
use isogate_core::testing::*;
use serde_json::{json, Value};

/// Every route of the admin API, with a body that would succeed if the caller were allowed.
fn every_route() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        ("GET", "/admin/v1/users", Value::Null),
        ("GET", "/admin/v1/users/root", Value::Null),
        ("POST", "/admin/v1/users", json!({ "name": "mallory" })),
        ("DELETE", "/admin/v1/users/root", Value::Null),
        ("GET", "/admin/v1/services", Value::Null),
        ("GET", "/admin/v1/services/my-api", Value::Null),
        (
            "POST",
            "/admin/v1/services",
            json!({ "name": "evil", "upstream": "http://evil.test" }),
        ),
        ("DELETE", "/admin/v1/services/my-api", Value::Null),
        ("GET", "/admin/v1/credentials", Value::Null),
        ("GET", "/admin/v1/credentials/root-cred", Value::Null),
        (
            "POST",
            "/admin/v1/credentials",
            json!({ "name": "stolen", "user": "root", "type": "oauth2" }),
        ),
        ("DELETE", "/admin/v1/credentials/root-cred", Value::Null),
        // Refused before anything reveals whether a route exists.
        ("GET", "/admin/v1/nope", Value::Null),
        ("PUT", "/admin/v1/users", Value::Null),
    ]
}

fn body_bytes(v: &Value) -> Vec<u8> {
    if v.is_null() {
        Vec::new()
    } else {
        serde_json::to_vec(v).unwrap()
    }
}

/// Every row of every table, secret hashes included: the strictest "nothing changed".
fn dump(h: &Harness) -> Vec<Vec<Vec<SqlValue>>> {
    [
        "SELECT * FROM isogate_users ORDER BY name",
        "SELECT * FROM isogate_services ORDER BY name",
        "SELECT * FROM isogate_credentials ORDER BY name",
    ]
    .iter()
    .map(|sql| h.db.raw(sql))
    .collect()
}

#[test]
fn admin_api_refuses_a_missing_or_wrong_admin_credential_on_every_route() {
    // Every wrong credential here must read 401: none is throttled (tests/throttled_guessing.rs).
    let (h, _) = Harness::seeded_with(&NO_THROTTLE);
    let before = dump(&h);
    let basic_with_the_right_secret =
        format!("Basic {}", STANDARD.encode(format!("admin:{ADMIN_TOKEN}")));
    let longer = format!("Bearer {ADMIN_TOKEN}x");
    let shorter = format!("Bearer {}", &ADMIN_TOKEN[..ADMIN_TOKEN.len() - 1]);
    let other_case = format!("Bearer {}", ADMIN_TOKEN.to_ascii_uppercase());
    let auths: &[(&str, Option<&str>)] = &[
        ("no authorization", None),
        ("empty", Some("")),
        ("wrong token", Some("Bearer wrong")),
        ("scheme only", Some("Bearer")),
        ("token without a scheme", Some(ADMIN_TOKEN)),
        ("right secret in Basic", Some(&basic_with_the_right_secret)),
        ("longer", Some(&longer)),
        ("shorter", Some(&shorter)),
        ("other case", Some(&other_case)),
    ];
    for (method, path, body) in every_route() {
        for (case, auth) in auths {
            let r = h.admin_raw(method, path, *auth, &body_bytes(&body));
            assert_admin_error(&r, 401, "unauthorized");
            assert_eq!(
                r.header("www-authenticate"),
                Some("Bearer realm=\"isogate-admin\""),
                "{method} {path} {case}"
            );
            assert_eq!(r.header("pragma"), Some("no-cache"));
            assert!(!text(&r).contains(ADMIN_TOKEN), "{case}");
        }
        // The right credential twice is still not one credential.
        let twice = format!("Bearer {ADMIN_TOKEN}");
        let r = h.root(
            &head(
                method,
                DOMAIN,
                path,
                None,
                &[("authorization", &twice), ("authorization", &twice)],
            ),
            &body_bytes(&body),
        );
        assert_admin_error(&r, 401, "unauthorized");
    }
    assert_eq!(
        dump(&h),
        before,
        "a refused admin request changed the store"
    );

    // The scheme is case-insensitive, as everywhere (RFC 9110 §11.1).
    let r = h.admin_raw(
        "GET",
        "/admin/v1/users",
        Some(&format!("bearer {ADMIN_TOKEN}")),
        b"",
    );
    assert_eq!(r.status, 200);
}

#[test]
fn admin_api_is_disabled_without_an_admin_token() {
    for setting in [None, Some(""), Some("   ")] {
        let h = Harness::with_settings(&[("ISOGATE_ADMIN_TOKEN", setting)]);
        for (method, path, body) in every_route() {
            for auth in [None, Some("Bearer "), Some("Bearer anything")] {
                let r = h.admin_raw(method, path, auth, &body_bytes(&body));
                assert_admin_error(&r, 503, "temporarily_unavailable");
            }
        }
        assert_eq!(
            h.db.raw("SELECT count(*) FROM isogate_users")[0][0],
            SqlValue::Integer(1)
        );
    }
}

#[test]
fn admin_lists_and_reads_return_exactly_what_was_created() {
    let h = Harness::new();
    h.create_user("alice");
    h.create_user("bob");
    let r = h.admin("POST", "/admin/v1/services", Some(json!({ "name": "my-api", "upstream": "http://127.0.0.1:9000/", "allowed_users": ["bob", "alice", "bob"] })));
    assert_eq!(r.status, 201);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let created = json_body(&r)["service"].clone();
    assert_eq!(
        created,
        json!({ "name": "my-api", "upstream": "http://127.0.0.1:9000", "allowed_user_ids": [2, 3], "allowed_users": ["alice", "bob"], "created_at": h.now_secs(), "rate_limit": null, "rules": [], "upstream_auth": null })
    );
    h.create_service("other", "https://api.internal/base", &[]);
    let cred = h.create_client("alice-cred", "alice", &["service:other", "service:my-api"]);

    let (users, services, credentials) = h.snapshot();
    let t = h.now_secs();
    assert_eq!(
        users,
        json!({ "users": [
            { "id": 2, "name": "alice", "enabled": true, "created_at": t, "groups": [] },
            { "id": 3, "name": "bob", "enabled": true, "created_at": t, "groups": [] },
            { "id": 1, "name": "root", "enabled": true, "created_at": 0, "groups": [] },
        ] })
    );
    assert_eq!(
        services,
        json!({ "services": [
            created,
            { "name": "other", "upstream": "https://api.internal/base", "allowed_user_ids": [], "allowed_users": [], "created_at": t, "rate_limit": null, "rules": [], "upstream_auth": null },
        ] })
    );
    let expected_cred = json!({
        "name": "alice-cred", "user": "alice", "user_id": 2, "type": "oauth2", "client_id": cred.client_id,
        "scopes": ["service:my-api", "service:other"], "expires_at": null, "enabled": true, "created_at": t,
        "can_introspect": false, "state": "active", "grace_until": null, "rotated_at": null,
        "max_uses": null, "uses": 0,
    });
    assert_eq!(credentials, json!({ "credentials": [expected_cred] }));

    for (path, expected) in [
        (
            "/admin/v1/users/alice",
            json!({ "user": { "id": 2, "name": "alice", "enabled": true, "created_at": t, "groups": [] } }),
        ),
        ("/admin/v1/services/my-api", json!({ "service": created })),
        (
            "/admin/v1/credentials/alice-cred",
            json!({ "credential": expected_cred }),
        ),
    ] {
        let r = h.admin("GET", path, None);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("cache-control"), Some("no-store"), "{path}");
        assert_eq!(json_body(&r), expected, "{path}");
    }
}

#[test]
fn client_secret_is_shown_only_in_the_creation_response() {
    let (h, client) = Harness::seeded();
    let hash = Secret::new(client.client_secret.as_str())
        .hash()
        .as_str()
        .to_owned();
    // Stored: the hash, never the secret.
    let rows = h.db.raw("SELECT * FROM isogate_credentials");
    assert_eq!(rows.len(), 1);
    assert!(rows[0].contains(&SqlValue::Text(hash.clone())));
    assert!(!rows[0]
        .iter()
        .any(|v| matches!(v, SqlValue::Text(s) if s.contains(&client.client_secret))));

    let token = h.token(&post_form(&client, None), &[]);
    for r in [
        h.admin("GET", "/admin/v1/credentials/root-cred", None),
        h.admin("GET", "/admin/v1/credentials", None),
        h.admin("GET", "/admin/v1/users/root", None),
        token,
        h.admin(
            "POST",
            "/admin/v1/credentials",
            Some(json!({ "name": "root-cred", "user": "root", "type": "oauth2" })),
        ),
        h.admin("DELETE", "/admin/v1/credentials/root-cred", None),
    ] {
        let body = text(&r);
        assert!(
            !body.contains(&client.client_secret),
            "the secret was shown again: {body}"
        );
        assert!(!body.contains(&hash), "the secret's hash was shown: {body}");
        assert!(
            !body.contains("client_secret") && !body.contains("secret_hash"),
            "{body}"
        );
    }
}

#[test]
fn duplicate_names_are_409_already_exists() {
    let (h, _) = Harness::seeded();
    h.create_user("alice");
    let before = dump(&h);
    let cases: &[(&str, Value)] = &[
        ("/admin/v1/users", json!({ "name": "root" })), // the seeded user
        ("/admin/v1/users", json!({ "name": "alice" })),
        (
            "/admin/v1/services",
            json!({ "name": "my-api", "upstream": "http://127.0.0.1:9999" }),
        ),
        (
            "/admin/v1/credentials",
            json!({ "name": "root-cred", "user": "root", "type": "oauth2" }),
        ),
        (
            "/admin/v1/credentials",
            json!({ "name": "root-cred", "user": "alice", "type": "access-token" }),
        ),
    ];
    for (path, body) in cases {
        let r = h.admin("POST", path, Some(body.clone()));
        assert_admin_error(&r, 409, "already_exists");
    }
    assert_eq!(dump(&h), before);
}

#[test]
fn unknown_records_and_routes_are_404() {
    let (h, _) = Harness::seeded();
    let before = dump(&h);
    let cases: &[(&str, &str)] = &[
        ("GET", "/admin/v1/users/ghost"),
        ("DELETE", "/admin/v1/users/ghost"),
        ("GET", "/admin/v1/services/ghost"),
        ("DELETE", "/admin/v1/services/ghost"),
        ("GET", "/admin/v1/credentials/ghost"),
        ("DELETE", "/admin/v1/credentials/ghost"),
        ("GET", "/admin/v1/nope"),
        ("GET", "/admin/v1/"),
        ("GET", "/admin/v1/users/root/credentials"),
        ("GET", "/admin/v2/users"),
        ("GET", "/admin/"),
    ];
    for (method, path) in cases {
        let r = h.admin(method, path, None);
        assert_admin_error(&r, 404, "not_found");
    }
    // The credential's client id is not its name.
    let client_id = json_body(&h.admin("GET", "/admin/v1/credentials/root-cred", None))
        ["credential"]["client_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_admin_error(
        &h.admin(
            "DELETE",
            &format!("/admin/v1/credentials/{client_id}"),
            None,
        ),
        404,
        "not_found",
    );
    assert_eq!(dump(&h), before);
}

#[test]
fn unsupported_methods_are_405() {
    let (h, _) = Harness::seeded();
    for (method, path) in [
        ("PUT", "/admin/v1/users"),
        ("DELETE", "/admin/v1/users"),
        ("POST", "/admin/v1/users/root"),
        ("PATCH", "/admin/v1/services/my-api"),
        ("PUT", "/admin/v1/credentials/root-cred"),
    ] {
        assert_admin_error(
            &h.admin(method, path, Some(json!({}))),
            405,
            "method_not_allowed",
        );
    }
}

#[test]
fn malformed_admin_requests_are_400_and_change_nothing() {
    let (h, _) = Harness::seeded();
    h.create_user("alice");
    let before = dump(&h);
    let long = "a".repeat(65);
    let long_label = "a".repeat(64);
    let raw: &[(&str, &[u8])] = &[
        ("/admin/v1/users", b""),
        ("/admin/v1/users", b"not json"),
        ("/admin/v1/users", b"{\"name\":"),
        ("/admin/v1/users", b"[]"),
        ("/admin/v1/users", b"\xff\xfe"),
        ("/admin/v1/services", b"{}"),
        ("/admin/v1/credentials", b"null"),
    ];
    for (path, body) in raw {
        let r = h.admin_raw("POST", path, Some(&format!("Bearer {ADMIN_TOKEN}")), body);
        assert_admin_error(&r, 400, "invalid_request");
    }
    let cases: Vec<(&str, Value)> = vec![
        // users: names, types, unknown fields
        ("/admin/v1/users", json!({})),
        ("/admin/v1/users", json!({ "name": "" })),
        ("/admin/v1/users", json!({ "name": "-alice" })),
        ("/admin/v1/users", json!({ "name": "a b" })),
        ("/admin/v1/users", json!({ "name": "a/b" })),
        ("/admin/v1/users", json!({ "name": long })),
        ("/admin/v1/users", json!({ "name": 5 })),
        ("/admin/v1/users", json!({ "name": "carol", "admin": true })),
        // services: names
        (
            "/admin/v1/services",
            json!({ "name": "My-Api", "upstream": UPSTREAM }),
        ),
        (
            "/admin/v1/services",
            json!({ "name": "a.b", "upstream": UPSTREAM }),
        ),
        (
            "/admin/v1/services",
            json!({ "name": "-a", "upstream": UPSTREAM }),
        ),
        (
            "/admin/v1/services",
            json!({ "name": "", "upstream": UPSTREAM }),
        ),
        (
            "/admin/v1/services",
            json!({ "name": long_label, "upstream": UPSTREAM }),
        ),
        ("/admin/v1/services", json!({ "name": "svc" })),
        // services: upstreams
        (
            "/admin/v1/services",
            json!({ "name": "svc", "upstream": "ftp://127.0.0.1" }),
        ),
        (
            "/admin/v1/services",
            json!({ "name": "svc", "upstream": "127.0.0.1:9000" }),
        ),
        (
            "/admin/v1/services",
            json!({ "name": "svc", "upstream": "http://" }),
        ),
        (
            "/admin/v1/services",
            json!({ "name": "svc", "upstream": "http://user:pw@host" }),
        ),
        (
            "/admin/v1/services",
            json!({ "name": "svc", "upstream": "http://host/?q=1" }),
        ),
        (
            "/admin/v1/services",
            json!({ "name": "svc", "upstream": "http://host/#f" }),
        ),
        (
            "/admin/v1/services",
            json!({ "name": "svc", "upstream": "http://host:port" }),
        ),
        (
            "/admin/v1/services",
            json!({ "name": "svc", "upstream": "http://host /x" }),
        ),
        (
            "/admin/v1/services",
            json!({ "name": "svc", "upstream": "http://host\n/x" }),
        ),
        // services: policy naming a user who does not exist
        (
            "/admin/v1/services",
            json!({ "name": "svc", "upstream": UPSTREAM, "allowed_users": ["ghost"] }),
        ),
        (
            "/admin/v1/services",
            json!({ "name": "svc", "upstream": UPSTREAM, "allowed_users": ["alice", "ghost"] }),
        ),
        // credentials
        (
            "/admin/v1/credentials",
            json!({ "name": "c", "user": "ghost", "type": "oauth2" }),
        ),
        (
            "/admin/v1/credentials",
            json!({ "name": "c", "user": "root", "type": "password" }),
        ),
        (
            "/admin/v1/credentials",
            json!({ "name": "c", "user": "root" }),
        ),
        (
            "/admin/v1/credentials",
            json!({ "name": "bad name", "user": "root", "type": "oauth2" }),
        ),
        (
            "/admin/v1/credentials",
            json!({ "name": "c", "user": "root", "type": "oauth2", "scopes": ["openid"] }),
        ),
        (
            "/admin/v1/credentials",
            json!({ "name": "c", "user": "root", "type": "oauth2", "scopes": ["service:My_Api"] }),
        ),
        (
            "/admin/v1/credentials",
            json!({ "name": "c", "user": "root", "type": "oauth2", "expire_in": "5y" }),
        ),
        (
            "/admin/v1/credentials",
            json!({ "name": "c", "user": "root", "type": "oauth2", "expire_in": "0s" }),
        ),
        (
            "/admin/v1/credentials",
            json!({ "name": "c", "user": "root", "type": "access-token", "expire_in": "-1d" }),
        ),
        (
            "/admin/v1/credentials",
            json!({ "name": "c", "user": "root", "type": "oauth2", "secret": "chosen" }),
        ),
    ];
    for (path, body) in &cases {
        let r = h.admin("POST", path, Some(body.clone()));
        assert_admin_error(&r, 400, "invalid_request");
    }
    assert_eq!(dump(&h), before, "a 400 changed the store");
}

#[test]
fn admin_body_over_64_kib_is_413() {
    let (h, _) = Harness::seeded();
    let big = format!("{{\"name\":\"{}\"}}", "a".repeat(64 * 1024));
    let r = h.admin_raw(
        "POST",
        "/admin/v1/users",
        Some(&format!("Bearer {ADMIN_TOKEN}")),
        big.as_bytes(),
    );
    assert_admin_error(&r, 413, "invalid_request");
    // Without the admin credential the size does not matter: 401 first.
    let r = h.admin_raw("POST", "/admin/v1/users", None, big.as_bytes());
    assert_admin_error(&r, 401, "unauthorized");
}

#[test]
fn client_id_collisions_are_retried_then_refused_as_unavailable_not_as_conflict() {
    // A random source stuck at zero makes the same client id every time.
    let h = Harness::new().with_rng(FixedRandom(0));
    let first = h.create_client("first", "root", &[]);
    assert_eq!(first.client_id, "aaaa-aaaa");
    let before = dump(&h);
    let r = h.admin(
        "POST",
        "/admin/v1/credentials",
        Some(json!({ "name": "second", "user": "root", "type": "oauth2" })),
    );
    assert_admin_error(&r, 503, "temporarily_unavailable");
    assert_eq!(dump(&h), before);
    // The name is checked before the id: a duplicate name is still a 409.
    let r = h.admin(
        "POST",
        "/admin/v1/credentials",
        Some(json!({ "name": "first", "user": "root", "type": "oauth2" })),
    );
    assert_admin_error(&r, 409, "already_exists");
}

#[test]
fn failed_requests_leave_the_store_exactly_as_created() {
    let h = Harness::new();
    h.create_user("alice");
    h.create_service(SERVICE, UPSTREAM, &[]);
    h.create_service("private", "http://127.0.0.1:9002", &["alice"]);
    let root = h.create_client("root-cred", "root", &["service:my-api"]);
    let alice = h.create_client("alice-cred", "alice", &[]);
    let pat = h.admin(
        "POST",
        "/admin/v1/credentials",
        Some(json!({ "name": "pat", "user": "alice", "type": "access-token", "expire_in": "30d" })),
    );
    assert_eq!(pat.status, 201);
    let snapshot = h.snapshot();
    let rows = dump(&h);
    let names = |v: &Value, key: &str| {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["name"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&snapshot.0, "users"), ["alice", "root"]);
    assert_eq!(names(&snapshot.1, "services"), ["my-api", "private"]);
    assert_eq!(
        names(&snapshot.2, "credentials"),
        ["alice-cred", "pat", "root-cred"]
    );

    let token = h.token_for(&root, None);
    let wrong = format!("Bearer {ADMIN_TOKEN}-not");
    // A batch of every kind of failure.
    let admin_failures: Vec<(&str, &str, Option<&str>, Vec<u8>)> = vec![
        ("DELETE", "/admin/v1/users/alice", Some(&wrong), vec![]),
        ("DELETE", "/admin/v1/services/my-api", None, vec![]),
        (
            "DELETE",
            "/admin/v1/credentials/root-cred",
            Some("Basic eDp5"),
            vec![],
        ),
        (
            "POST",
            "/admin/v1/users",
            Some(&wrong),
            br#"{"name":"mallory"}"#.to_vec(),
        ),
        (
            "POST",
            "/admin/v1/users",
            None,
            br#"{"name":"alice"}"#.to_vec(),
        ),
    ];
    for (method, path, auth, body) in &admin_failures {
        assert_eq!(h.admin_raw(method, path, *auth, body).status, 401);
    }
    for (method, path, body) in [
        ("POST", "/admin/v1/users", json!({ "name": "alice" })),
        ("POST", "/admin/v1/users", json!({ "name": "bad name" })),
        (
            "POST",
            "/admin/v1/services",
            json!({ "name": "private", "upstream": UPSTREAM }),
        ),
        (
            "POST",
            "/admin/v1/services",
            json!({ "name": "new", "upstream": "ftp://x" }),
        ),
        (
            "POST",
            "/admin/v1/services",
            json!({ "name": "new", "upstream": UPSTREAM, "allowed_users": ["ghost"] }),
        ),
        (
            "POST",
            "/admin/v1/credentials",
            json!({ "name": "pat", "user": "root", "type": "oauth2" }),
        ),
        (
            "POST",
            "/admin/v1/credentials",
            json!({ "name": "new", "user": "ghost", "type": "oauth2" }),
        ),
        (
            "POST",
            "/admin/v1/credentials",
            json!({ "name": "new", "user": "root", "type": "oauth2", "scopes": ["x"] }),
        ),
        ("DELETE", "/admin/v1/users/ghost", Value::Null),
        ("DELETE", "/admin/v1/services/ghost", Value::Null),
        ("DELETE", "/admin/v1/credentials/ghost", Value::Null),
        (
            "PUT",
            "/admin/v1/users/alice",
            json!({ "name": "alice", "enabled": false }),
        ),
    ] {
        let r = h.admin(method, path, Some(body).filter(|b| !b.is_null()));
        assert!(
            (400..500).contains(&r.status),
            "{method} {path}: {}",
            r.status
        );
    }
    // Token endpoint and service failures, which must not touch storage's contents either.
    for r in [
        h.token(&format!("grant_type=client_credentials&client_id={}&client_secret=wrong", root.client_id), &[]),
        h.token(&post_form(&root, Some("service:private")), &[]),
        h.token(&post_form(&alice, Some("openid")), &[]),
        h.token(&format!("grant_type=password&client_id={}&client_secret={}", alice.client_id, alice.client_secret), &[]),
        h.token("client_id=x'; DROP TABLE credentials; --&client_secret=x&grant_type=client_credentials", &[]),
    ] {
        assert!((400..500).contains(&r.status), "{}", text(&r));
    }
    assert_eq!(
        refused(h.service(
            "private.example.com",
            &[("authorization", &format!("Bearer {token}"))]
        ))
        .status,
        403
    );
    assert_eq!(
        refused(h.service(SERVICE_HOST, &[("authorization", "Bearer garbage")])).status,
        401
    );
    // root-cred is scoped to my-api: a missing service outside its scope is 403, like a real one.
    assert_eq!(
        refused(h.service(
            "ghost.example.com",
            &[("authorization", &format!("Bearer {token}"))]
        ))
        .status,
        403
    );

    assert_eq!(
        h.snapshot(),
        snapshot,
        "the admin API lists something other than what was created"
    );
    assert_eq!(dump(&h), rows, "a failed request changed a stored row");
    // And what was created still works.
    authorized(h.call(&h.token_for(&root, None)));
    authorized(h.service(
        "private.example.com",
        &[(
            "authorization",
            &format!("Bearer {}", h.token_for(&alice, None)),
        )],
    ));
}
