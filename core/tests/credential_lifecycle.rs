//! Credential lifecycle (issue #13) through the admin API, the token endpoint and a service, on
//! a fixed clock: rotation with a grace (the old secret works inside it and fails after it; an
//! access-token credential's old token likewise), disable and enable, a new expiry, a narrowed
//! scope, `max_uses`; each refusal with its audit reason, each change seen by the isolate that
//! made it at once and by another within the cache TTL.

use isogate_core::audit::AuditLine;
use isogate_core::keys::PortableEd25519;
use isogate_core::testing::*;
use serde_json::{json, Value};

const CRED: &str = "/admin/v1/credentials/root-cred";
const TTL_MS: u64 = 5_000;

fn parse(line: Option<AuditLine>) -> Value {
    serde_json::from_str(line.expect("an audit line").as_str()).unwrap()
}

/// A token request for `client`, answered: its response and its audit line.
fn token_request(h: &Harness, client: &Client) -> (isogate_core::http::Response, Value) {
    let form = post_form(client, None);
    let head = head(
        "POST",
        DOMAIN,
        "/oauth2/token",
        None,
        &[("content-type", "application/x-www-form-urlencoded")],
    );
    let outcome = h.exchange_with(&h.gw, &PortableEd25519, head, Some(form.as_bytes()));
    let response = outcome.result.expect_err("answered");
    (response, parse(outcome.audit))
}

/// A service request with `token`, refused: its response and its audit line's reason.
fn service_refusal(h: &Harness, token: &str) -> (isogate_core::http::Response, Value) {
    let auth = format!("Bearer {token}");
    let head = head("GET", SERVICE_HOST, "/", None, &[("authorization", &auth)]);
    let outcome = h.exchange_with(&h.gw, &PortableEd25519, head, None);
    let response = outcome.result.expect_err("refused");
    let line = parse(outcome.audit);
    (response, line["reason"].clone())
}

fn rotate(h: &Harness, path: &str, grace: Option<&str>) -> Value {
    let body = grace.map(|g| json!({ "grace": g }));
    let r = h.admin("POST", &format!("{path}/rotate"), body);
    assert_eq!(r.status, 200, "rotate {path}: {}", text(&r));
    json_body(&r)
}

fn update(h: &Harness, path: &str, body: Value) -> Value {
    let r = h.admin("PATCH", path, Some(body));
    assert_eq!(r.status, 200, "update {path}: {}", text(&r));
    json_body(&r)["credential"].clone()
}

fn with_secret(client: &Client, secret: &str) -> Client {
    Client {
        client_secret: secret.to_owned(),
        ..client.clone()
    }
}

#[test]
fn the_old_secret_works_inside_the_grace_and_fails_after_it() {
    let (h, old) = Harness::seeded_with(&NO_THROTTLE);
    let rotated = rotate(&h, CRED, Some("60s"));
    let new = with_secret(&old, rotated["client_secret"].as_str().unwrap());
    assert_ne!(new.client_secret, old.client_secret);
    assert_eq!(
        rotated["client_id"],
        old.client_id.as_str(),
        "same client id"
    );
    assert_eq!(rotated["credential"]["state"], "rotating");
    let grace_end = h.now_secs() + 60;
    assert_eq!(rotated["credential"]["grace_until"], grace_end);

    // Inside the grace: both secrets get tokens; the old one's never outlives the grace.
    h.advance_ms(59_000);
    let r = h.token(&post_form(&old, None), &[]);
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(json_body(&r)["expires_in"], 1, "capped at the grace's end");
    let of_old_secret = json_body(&r)["access_token"].as_str().unwrap().to_owned();
    authorized(h.call(&of_old_secret));
    let fresh = h.token_for(&new, None);

    // From the grace's end on: the old secret is refused, as any wrong secret reads.
    h.set_ms(grace_end as u64 * 1000);
    let (r, line) = token_request(&h, &old);
    assert_token_error(&r, 401, "invalid_client");
    assert_eq!(
        json_body(&r)["error_description"],
        "client authentication failed"
    );
    assert_eq!(
        (&line["outcome"], &line["reason"]),
        (&json!("token_refused"), &json!("rotated"))
    );
    authorized(h.call(&fresh));
    // Its token ends with the grace, without the 30 s clock-skew leeway expiry checks allow.
    let (r, reason) = service_refusal(&h, &of_old_secret);
    assert_bearer_error(&r, 401, "invalid_token");
    assert_eq!(reason, "rotated");
    h.token_for(&new, None);
    let listed = json_body(&h.admin("GET", CRED, None));
    assert_eq!(listed["credential"]["state"], "active");
}

#[test]
fn tokens_issued_before_a_rotation_end_with_its_grace_on_services() {
    let (h, client) = Harness::seeded_with(&NO_THROTTLE);
    let before = h.token_for(&client, None);
    h.advance_ms(1_000); // the rotation is in a later second than the token's `iat`
    rotate(&h, CRED, Some("30s"));
    authorized(h.call(&before));
    h.advance_ms(29_999);
    authorized(h.call(&before));
    h.advance_ms(1);
    let (r, reason) = service_refusal(&h, &before);
    assert_bearer_error(&r, 401, "invalid_token");
    assert_eq!(reason, "rotated");
}

#[test]
fn a_grace_of_zero_refuses_the_old_secret_at_once_and_the_default_is_an_hour() {
    let (h, old) = Harness::seeded_with(&NO_THROTTLE);
    let rotated = rotate(&h, CRED, Some("0"));
    assert_eq!(rotated["credential"]["state"], "active");
    let (r, line) = token_request(&h, &old);
    assert_eq!((r.status, &line["reason"]), (401, &json!("rotated")));

    let other = h.create_client("second", "root", &[]);
    let rotated = rotate(&h, "/admin/v1/credentials/second", None);
    assert_eq!(rotated["credential"]["grace_until"], h.now_secs() + 3600);
    h.advance_ms(3_599_000);
    h.token_for(&other, None);
    h.advance_ms(1_000);
    assert_token_error(
        &h.token(&post_form(&other, None), &[]),
        401,
        "invalid_client",
    );
}

#[test]
fn rotating_again_ends_the_previous_grace_at_once() {
    let (h, first) = Harness::seeded_with(&NO_THROTTLE);
    let second = rotate(&h, CRED, Some("1h"));
    let second = with_secret(&first, second["client_secret"].as_str().unwrap());
    let third = rotate(&h, CRED, Some("1h"));
    let third = with_secret(&first, third["client_secret"].as_str().unwrap());
    assert_token_error(
        &h.token(&post_form(&first, None), &[]),
        401,
        "invalid_client",
    );
    h.token_for(&second, None);
    h.token_for(&third, None);
}

#[test]
fn an_access_token_credentials_old_token_stops_at_the_grace_end_and_the_new_one_works() {
    let h = Harness::with_settings(&NO_THROTTLE);
    h.create_service(SERVICE, UPSTREAM, &[]);
    let body = json!({ "name": "bot", "user": "root", "type": "access-token" });
    let r = h.admin("POST", "/admin/v1/credentials", Some(body));
    let old = json_body(&r)["access_token"].as_str().unwrap().to_owned();
    authorized(h.call(&old));
    let other = h.isolate();
    authorized(h.call_with(&other, &old));

    // In the same second as the creation: told apart by jti, not by time.
    let rotated = rotate(&h, "/admin/v1/credentials/bot", Some("10s"));
    assert!(rotated.get("client_secret").is_none());
    let new = rotated["access_token"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    authorized(h.call(&old));
    authorized(h.call(&new));
    h.advance_ms(10_000);
    let (r, reason) = service_refusal(&h, &old);
    assert_bearer_error(&r, 401, "invalid_token");
    assert_eq!(
        json_body(&r)["error_description"],
        "the access token was replaced by a rotation of its credential"
    );
    assert_eq!(reason, "rotated");
    authorized(h.call(&new));
    // Another isolate, whose cached record is older than the rotation, refuses the old token
    // once its cache lifetime is over.
    refused(h.call_with(&other, &old));

    // A second rotation: the first token stays refused, the second is in the new grace.
    let newest = rotate(&h, "/admin/v1/credentials/bot", Some("10s"));
    let newest = newest["access_token"].as_str().unwrap().to_owned();
    refused(h.call(&old));
    authorized(h.call(&new));
    authorized(h.call(&newest));
    h.advance_ms(10_000);
    refused(h.call(&new));
    authorized(h.call(&newest));
}

#[test]
fn a_disabled_credential_is_refused_everywhere_until_enabled_again() {
    let (h, client) = Harness::seeded_with(&NO_THROTTLE);
    let token = h.token_for(&client, None);
    let other = h.isolate();
    authorized(h.call_with(&other, &token));
    let cached_at = h.now_ms();

    let view = update(&h, CRED, json!({ "enabled": false }));
    assert_eq!(
        (&view["state"], &view["enabled"]),
        (&json!("disabled"), &json!(false))
    );
    let (r, line) = token_request(&h, &client);
    assert_token_error(&r, 401, "invalid_client");
    assert_eq!(line["reason"], "credential_disabled");
    // Its still-unexpired token: refused at once here, within the TTL on another isolate.
    let (r, reason) = service_refusal(&h, &token);
    assert_bearer_error(&r, 401, "invalid_token");
    assert_eq!(reason, "credential_disabled");
    h.set_ms(cached_at + TTL_MS - 1);
    authorized(h.call_with(&other, &token));
    h.set_ms(cached_at + TTL_MS);
    refused(h.call_with(&other, &token));

    let view = update(&h, CRED, json!({ "enabled": true }));
    assert_eq!(view["state"], "active");
    authorized(h.call(&token));
    h.token_for(&client, None);
}

#[test]
fn expire_in_ends_the_credential_at_the_token_endpoint_and_on_services() {
    let (h, client) = Harness::seeded_with(&NO_THROTTLE);
    let view = update(&h, CRED, json!({ "expire_in": "90s" }));
    let expiry = h.now_secs() + 90;
    assert_eq!(view["expires_at"], expiry);
    // A token issued now never outlives the credential.
    let r = h.token(&post_form(&client, None), &[]);
    assert_eq!(json_body(&r)["expires_in"], 90);
    let token = json_body(&r)["access_token"].as_str().unwrap().to_owned();
    h.advance_ms(89_000);
    authorized(h.call(&token));
    h.advance_ms(1_000);
    let (r, line) = token_request(&h, &client);
    assert_eq!(
        (r.status, &line["reason"]),
        (401, &json!("credential_expired"))
    );
    let view = json_body(&h.admin("GET", CRED, None));
    assert_eq!(view["credential"]["state"], "expired");
    let view = update(&h, CRED, json!({ "expire_in": "never" }));
    assert_eq!(
        (&view["expires_at"], &view["state"]),
        (&Value::Null, &json!("active"))
    );
    h.token_for(&client, None);
}

#[test]
fn an_expired_credentials_unexpired_token_is_refused_on_services() {
    let h = Harness::with_settings(&NO_THROTTLE);
    h.create_service(SERVICE, UPSTREAM, &[]);
    let body = json!({ "name": "bot", "user": "root", "type": "access-token" });
    let r = h.admin("POST", "/admin/v1/credentials", Some(body));
    let token = json_body(&r)["access_token"].as_str().unwrap().to_owned();
    update(
        &h,
        "/admin/v1/credentials/bot",
        json!({ "expire_in": "1h" }),
    );
    h.advance_ms(3_599_000);
    authorized(h.call(&token));
    h.advance_ms(1_000);
    let (r, reason) = service_refusal(&h, &token);
    assert_bearer_error(&r, 401, "invalid_token");
    assert_eq!(reason, "credential_expired");
}

#[test]
fn a_narrowed_scope_applies_to_tokens_already_issued() {
    let (h, client) = Harness::seeded_with(&NO_THROTTLE);
    let token = h.token_for(&client, None);
    authorized(h.call(&token));
    let view = update(&h, CRED, json!({ "scopes": ["service:other"] }));
    assert_eq!(view["scopes"], json!(["service:other"]));
    assert_bearer_error(&refused(h.call(&token)), 403, "insufficient_scope");
    let r = h.token(&post_form(&client, Some("service:my-api")), &[]);
    assert_token_error(&r, 400, "invalid_scope");
    update(&h, CRED, json!({ "scopes": [] }));
    authorized(h.call(&token));
}

#[test]
fn max_uses_admits_that_many_token_requests_then_refuses() {
    let (h, _) = Harness::seeded_with(&NO_THROTTLE);
    let body = json!({ "name": "boot", "user": "root", "type": "oauth2", "max_uses": 2 });
    let r = h.admin("POST", "/admin/v1/credentials", Some(body));
    assert_eq!(r.status, 201, "{}", text(&r));
    let created = json_body(&r);
    assert_eq!(created["credential"]["max_uses"], 2);
    let boot = Client {
        name: "boot".into(),
        client_id: created["client_id"].as_str().unwrap().into(),
        client_secret: created["client_secret"].as_str().unwrap().into(),
    };
    let token = h.token_for(&boot, None);
    h.token_for(&boot, None);
    let (r, line) = token_request(&h, &boot);
    assert_token_error(&r, 401, "invalid_client");
    assert_eq!(line["reason"], "uses_exhausted");
    // Its tokens stay valid; the view says why no more come.
    authorized(h.call(&token));
    let view = json_body(&h.admin("GET", "/admin/v1/credentials/boot", None));
    assert_eq!(
        (&view["credential"]["uses"], &view["credential"]["state"]),
        (&json!(2), &json!("used-up"))
    );
    // A refused request (a wrong scope) spends no use: checked on a fresh credential.
    let body = json!({ "name": "once", "user": "root", "type": "oauth2", "max_uses": 1,
                       "scopes": ["service:my-api"] });
    let created = json_body(&h.admin("POST", "/admin/v1/credentials", Some(body)));
    let once = Client {
        name: "once".into(),
        client_id: created["client_id"].as_str().unwrap().into(),
        client_secret: created["client_secret"].as_str().unwrap().into(),
    };
    let r = h.token(&post_form(&once, Some("service:other")), &[]);
    assert_token_error(&r, 400, "invalid_scope");
    h.token_for(&once, None);
    assert_token_error(
        &h.token(&post_form(&once, None), &[]),
        401,
        "invalid_client",
    );
}

#[test]
fn lifecycle_requests_are_validated_and_audited_as_admin_changes() {
    let (h, _) = Harness::seeded();
    for (method, path, body, status) in [
        ("PATCH", CRED, json!({}), 400),
        ("PATCH", CRED, json!({ "enabled": "no" }), 400),
        ("PATCH", CRED, json!({ "expire_in": "soon" }), 400),
        ("PATCH", CRED, json!({ "scopes": ["nope"] }), 400),
        ("PATCH", CRED, json!({ "secret": "x" }), 400),
        (
            "PATCH",
            "/admin/v1/credentials/nobody",
            json!({ "enabled": false }),
            404,
        ),
        (
            "POST",
            "/admin/v1/credentials/nobody/rotate",
            json!({}),
            404,
        ),
        (
            "POST",
            "/admin/v1/credentials/root-cred/rotate",
            json!({ "grace": "32d" }),
            400,
        ),
        (
            "POST",
            "/admin/v1/credentials/root-cred/rotate",
            json!({ "grace": "x" }),
            400,
        ),
        (
            "GET",
            "/admin/v1/credentials/root-cred/rotate",
            json!({}),
            405,
        ),
    ] {
        let r = h.admin(method, path, Some(body.clone()));
        assert_eq!(r.status, status, "{method} {path} {body}: {}", text(&r));
    }
    let body = json!({ "name": "t", "user": "root", "type": "access-token", "max_uses": 1 });
    assert_eq!(
        h.admin("POST", "/admin/v1/credentials", Some(body)).status,
        400
    );
    let body = json!({ "name": "z", "user": "root", "type": "oauth2", "max_uses": 0 });
    assert_eq!(
        h.admin("POST", "/admin/v1/credentials", Some(body)).status,
        400
    );

    for (method, path, body, action) in [
        (
            "POST",
            format!("{CRED}/rotate"),
            json!({ "grace": "1m" }),
            "rotate",
        ),
        (
            "PATCH",
            CRED.to_owned(),
            json!({ "enabled": false }),
            "update",
        ),
    ] {
        let bytes = serde_json::to_vec(&body).unwrap();
        let auth = format!("Bearer {ADMIN_TOKEN}");
        let head = head(method, DOMAIN, &path, None, &[("authorization", &auth)]);
        let outcome = h.exchange_with(&h.gw, &PortableEd25519, head, Some(&bytes));
        let line = parse(outcome.audit);
        assert_eq!(
            (
                &line["outcome"],
                &line["action"],
                &line["object"],
                &line["name"]
            ),
            (
                &json!("admin_change"),
                &json!(action),
                &json!("credential"),
                &json!("root-cred")
            )
        );
        assert!(!line.to_string().contains("client_secret"));
    }
}

#[test]
fn a_database_that_got_0008_before_0007_gets_0007_too() {
    use isogate_core::store::{Store, MIGRATIONS};
    // Issue #13's migrations merged out of number order: a database upgraded by a build that
    // had 0008 and not 0007 holds the newer one and lacks the older one.
    let without_0007: Vec<_> = MIGRATIONS
        .iter()
        .copied()
        .filter(|m| m.version != 7)
        .collect();
    let db = MemDb::with_migrations(&without_0007);
    assert!(db
        .raw("SELECT name FROM sqlite_master WHERE name = 'isogate_credential_lifecycle'")
        .is_empty());
    block_on(Store::new(&db).apply_migrations()).unwrap();
    assert_eq!(
        db.raw("SELECT COUNT(*) FROM isogate_credential_lifecycle"),
        vec![vec![isogate_core::store::SqlValue::Integer(0)]]
    );
    assert_eq!(
        db.raw("SELECT COUNT(*) FROM isogate_schema WHERE version = 7"),
        vec![vec![isogate_core::store::SqlValue::Integer(1)]]
    );
}
