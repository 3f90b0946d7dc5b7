//! `private_key_jwt` client authentication (RFC 7523 §2.2, §3; RFC 7521 §4.2) through the
//! admin API and the token endpoint, on a fixed clock: each algorithm, each claim rule, the
//! `jti` spent once on every isolate, the refusals counted by the throttle, the lifecycle that
//! applies to a credential without a secret.

use isogate_core::audit::AuditLine;
use isogate_core::jws::JwsAlg;
use isogate_core::keys::PortableEd25519;
use isogate_core::store::SqlValue;
use isogate_core::testing::*;
use isogate_core::Gateway;
use serde_json::{json, Value};

const TOKEN_ENDPOINT: &str = "https://example.com/oauth2/token";

/// Creates a private-key-jwt credential of root registering `public_key`; its client id.
fn create_key_client(h: &Harness, name: &str, public_key: Value) -> String {
    let body =
        json!({"name": name, "user": "root", "type": "private-key-jwt", "public_key": public_key});
    let r = h.admin("POST", "/admin/v1/credentials", Some(body));
    assert_eq!(r.status, 201, "create {name}: {}", text(&r));
    let created = json_body(&r);
    assert!(created.get("client_secret").is_none(), "no secret exists");
    created["client_id"].as_str().unwrap().to_owned()
}

fn assertion_form(client_id: Option<&str>, assertion: &str) -> String {
    let mut form = format!(
        "grant_type=client_credentials&client_assertion_type={}&client_assertion={}",
        form_encode(JWT_BEARER),
        form_encode(assertion)
    );
    if let Some(id) = client_id {
        form.push_str(&format!("&client_id={}", form_encode(id)));
    }
    form
}

/// A token request with `assertion` on `gw`: the response and its audit line.
fn present_on(
    h: &Harness,
    gw: &Gateway,
    client_id: Option<&str>,
    assertion: &str,
) -> (isogate_core::http::Response, Value) {
    let form = assertion_form(client_id, assertion);
    let head = head(
        "POST",
        DOMAIN,
        "/oauth2/token",
        None,
        &[("content-type", "application/x-www-form-urlencoded")],
    );
    let outcome = h.exchange_with(gw, &PortableEd25519, head, Some(form.as_bytes()));
    let line: Option<AuditLine> = outcome.audit;
    let line = serde_json::from_str(line.expect("an audit line").as_str()).unwrap();
    (outcome.result.expect_err("answered"), line)
}

fn present(h: &Harness, assertion: &str) -> (isogate_core::http::Response, Value) {
    present_on(h, &h.gw, None, assertion)
}

/// An assertion of `client_id` for `aud`, valid for 60 s from now, with `jti`.
fn signed(h: &Harness, key: &ClientKey, client_id: &str, aud: &str, jti: &str) -> String {
    key.sign(
        &assertion_claims(client_id, aud, h.now_secs(), 60, jti),
        &json!({}),
    )
}

fn refused_as(r: &isogate_core::http::Response, line: &Value, reason: &str) {
    assert_token_error(r, 401, "invalid_client");
    assert_eq!(line["reason"], reason, "{line}");
}

#[test]
fn rfc7523_2_2_each_algorithm_authenticates_a_token_request() {
    let (h, _) = Harness::seeded_with(&NO_THROTTLE);
    for (i, alg) in JwsAlg::ALL.into_iter().enumerate() {
        let key = ClientKey::new(alg, 3, "k1");
        let id = create_key_client(&h, &format!("key-{i}"), key.public_jwk());
        let (r, line) = present(&h, &signed(&h, &key, &id, ISSUER, "jti-1"));
        assert_eq!(r.status, 200, "{alg:?}: {}", text(&r));
        assert_eq!(line["outcome"], "token_issued");
        let token = json_body(&r)["access_token"].as_str().unwrap().to_owned();
        assert_eq!(jwt_part(&token, 1)["client_id"], id.as_str());
        authorized(h.call(&token));
    }
}

#[test]
fn rfc7521_4_2_client_id_is_optional_and_must_match_the_assertion() {
    let (h, _) = Harness::seeded_with(&NO_THROTTLE);
    let key = ClientKey::new(JwsAlg::EdDSA, 3, "k1");
    let id = create_key_client(&h, "key", key.public_jwk());
    let (r, _) = present_on(&h, &h.gw, Some(&id), &signed(&h, &key, &id, ISSUER, "a"));
    assert_eq!(r.status, 200, "{}", text(&r));
    let other = create_key_client(
        &h,
        "other",
        ClientKey::new(JwsAlg::EdDSA, 4, "k").public_jwk(),
    );
    let (r, line) = present_on(&h, &h.gw, Some(&other), &signed(&h, &key, &id, ISSUER, "b"));
    refused_as(&r, &line, "bad_assertion");
}

#[test]
fn rfc7523_3_7_a_jti_is_used_once_on_every_isolate() {
    let (h, _) = Harness::seeded_with(&NO_THROTTLE);
    let key = ClientKey::new(JwsAlg::ES256, 3, "k1");
    let id = create_key_client(&h, "key", key.public_jwk());
    let assertion = signed(&h, &key, &id, TOKEN_ENDPOINT, "once");
    assert_eq!(present(&h, &assertion).0.status, 200);
    let (r, line) = present(&h, &assertion);
    refused_as(&r, &line, "replayed_assertion");
    // Another isolate sharing the database: the same unique key.
    let (r, line) = present_on(&h, &h.isolate(), None, &assertion);
    refused_as(&r, &line, "replayed_assertion");
    // Another jti is another assertion.
    assert_eq!(
        present(&h, &signed(&h, &key, &id, ISSUER, "twice"))
            .0
            .status,
        200
    );
}

#[test]
fn rfc7523_3_7_a_spent_jti_is_pruned_only_after_its_assertion_expired() {
    let (h, _) = Harness::seeded_with(&NO_THROTTLE);
    let key = ClientKey::new(JwsAlg::EdDSA, 3, "k1");
    let id = create_key_client(&h, "key", key.public_jwk());
    assert_eq!(
        present(&h, &signed(&h, &key, &id, ISSUER, "j")).0.status,
        200
    );
    let rows = |h: &Harness| h.db.raw("SELECT COUNT(*) FROM isogate_used_assertions")[0][0].clone();
    assert_eq!(rows(&h), SqlValue::Integer(1));
    // Past exp + leeway, the old row goes with the next insert.
    h.advance_ms(91_000);
    assert_eq!(
        present(&h, &signed(&h, &key, &id, ISSUER, "k")).0.status,
        200
    );
    assert_eq!(rows(&h), SqlValue::Integer(1));
}

#[test]
fn rfc7523_3_3_aud_is_the_issuer_or_the_token_endpoint_as_a_string_or_in_an_array() {
    let (h, _) = Harness::seeded_with(&NO_THROTTLE);
    let key = ClientKey::new(JwsAlg::RS256, 3, "k1");
    let id = create_key_client(&h, "key", key.public_jwk());
    let now = h.now_secs();
    let with_aud = |aud: Value, jti: &str| {
        let mut claims = assertion_claims(&id, "", now, 60, jti);
        claims["aud"] = aud;
        key.sign(&claims, &json!({}))
    };
    for (i, aud) in [
        json!(ISSUER),
        json!(TOKEN_ENDPOINT),
        json!(["https://elsewhere.example", TOKEN_ENDPOINT]),
    ]
    .into_iter()
    .enumerate()
    {
        let (r, _) = present(&h, &with_aud(aud.clone(), &format!("ok-{i}")));
        assert_eq!(r.status, 200, "{aud}: {}", text(&r));
    }
    for (i, aud) in [
        json!("https://elsewhere.example"),
        json!(["https://elsewhere.example"]),
        json!("https://example.com/"),
        json!(null),
    ]
    .into_iter()
    .enumerate()
    {
        let (r, line) = present(&h, &with_aud(aud.clone(), &format!("bad-{i}")));
        refused_as(&r, &line, "bad_assertion");
    }
}

#[test]
fn rfc7523_3_4_exp_is_required_and_at_most_five_minutes_ahead() {
    let (h, _) = Harness::seeded_with(&NO_THROTTLE);
    let key = ClientKey::new(JwsAlg::EdDSA, 3, "k1");
    let id = create_key_client(&h, "key", key.public_jwk());
    let now = h.now_secs();
    let claims = |exp: Option<i64>, jti: &str| {
        let mut c = assertion_claims(&id, ISSUER, now, 0, jti);
        match exp {
            Some(exp) => c["exp"] = exp.into(),
            None => drop(c.as_object_mut().unwrap().remove("exp")),
        }
        key.sign(&c, &json!({}))
    };
    assert_eq!(present(&h, &claims(Some(now + 300), "five")).0.status, 200);
    for (exp, jti) in [
        (None, "none"),
        (Some(now - 31), "past"),
        (Some(now + 331), "long"),
    ] {
        let (r, line) = present(&h, &claims(exp, jti));
        refused_as(&r, &line, "bad_assertion");
    }
    // Expired by the clock: the same assertion, 2 minutes later.
    let late = signed(&h, &key, &id, ISSUER, "late");
    h.advance_ms(120_000);
    let (r, line) = present(&h, &late);
    refused_as(&r, &line, "bad_assertion");
}

#[test]
fn rfc7523_3_5_and_6_nbf_and_iat_in_the_future_are_refused() {
    let (h, _) = Harness::seeded_with(&NO_THROTTLE);
    let key = ClientKey::new(JwsAlg::EdDSA, 3, "k1");
    let id = create_key_client(&h, "key", key.public_jwk());
    let now = h.now_secs();
    for claim in ["nbf", "iat"] {
        let mut c = assertion_claims(&id, ISSUER, now, 60, claim);
        c[claim] = (now + 120).into();
        let (r, line) = present(&h, &key.sign(&c, &json!({})));
        refused_as(&r, &line, "bad_assertion");
    }
}

#[test]
fn rfc7523_3_1_and_2_iss_and_sub_must_both_be_the_client_id() {
    let (h, _) = Harness::seeded_with(&NO_THROTTLE);
    let key = ClientKey::new(JwsAlg::ES256, 3, "k1");
    let id = create_key_client(&h, "key", key.public_jwk());
    let now = h.now_secs();
    for (claim, jti) in [("iss", "a"), ("sub", "b")] {
        let mut c = assertion_claims(&id, ISSUER, now, 60, jti);
        c[claim] = "someone-else".into();
        // The sub names the credential looked up: send the client id to look up this one.
        let (r, line) = present_on(&h, &h.gw, Some(&id), &key.sign(&c, &json!({})));
        refused_as(&r, &line, "bad_assertion");
    }
}

#[test]
fn rfc7515_a_signature_by_another_key_or_algorithm_is_refused() {
    let (h, _) = Harness::seeded_with(&NO_THROTTLE);
    let key = ClientKey::new(JwsAlg::ES256, 3, "k1");
    let id = create_key_client(&h, "key", key.public_jwk());
    // Another key under the registered kid.
    let thief = ClientKey::new(JwsAlg::ES256, 9, "k1");
    let (r, line) = present(&h, &signed(&h, &thief, &id, ISSUER, "a"));
    refused_as(&r, &line, "bad_assertion");
    // An algorithm no registered key has, an unknown kid, alg none.
    let ed = ClientKey::new(JwsAlg::EdDSA, 3, "k1");
    let (r, line) = present(&h, &signed(&h, &ed, &id, ISSUER, "b"));
    refused_as(&r, &line, "bad_assertion");
    let other_kid = ClientKey::new(JwsAlg::ES256, 3, "k2");
    let (r, line) = present(&h, &signed(&h, &other_kid, &id, ISSUER, "c"));
    refused_as(&r, &line, "bad_assertion");
    let none = key.sign(
        &assertion_claims(&id, ISSUER, h.now_secs(), 60, "d"),
        &json!({"alg": "none"}),
    );
    let (r, line) = present(&h, &none);
    refused_as(&r, &line, "bad_assertion");
    // Nothing was spent by the forgeries: the genuine assertion with jti "a" still works.
    assert_eq!(
        present(&h, &signed(&h, &key, &id, ISSUER, "a")).0.status,
        200
    );
}

#[test]
fn rfc6749_2_3_a_secret_and_an_assertion_together_are_invalid_request() {
    let (h, client) = Harness::seeded_with(&NO_THROTTLE);
    let key = ClientKey::new(JwsAlg::EdDSA, 3, "k1");
    let id = create_key_client(&h, "key", key.public_jwk());
    let assertion = signed(&h, &key, &id, ISSUER, "a");
    let form = format!(
        "{}&client_secret={}",
        assertion_form(Some(&id), &assertion),
        client.client_secret
    );
    assert_token_error(&h.token(&form, &[]), 400, "invalid_request");
    let basic_header = basic(&client.client_id, &client.client_secret);
    let r = h.token(
        &assertion_form(None, &assertion),
        &[("authorization", &basic_header)],
    );
    assert_token_error(&r, 400, "invalid_request");
    // Half an assertion is malformed, and another assertion type is no authentication.
    let half = format!("grant_type=client_credentials&client_assertion={assertion}");
    assert_token_error(&h.token(&half, &[]), 400, "invalid_request");
    let saml = format!(
        "grant_type=client_credentials&client_assertion_type={}&client_assertion=x",
        form_encode("urn:ietf:params:oauth:client-assertion-type:saml2-bearer")
    );
    assert_token_error(&h.token(&saml, &[]), 401, "invalid_client");
    // None of it spent the jti.
    assert_eq!(present(&h, &assertion).0.status, 200);
}

#[test]
fn a_private_key_jwt_credential_has_no_secret_and_an_oauth2_one_takes_no_assertion() {
    let (h, client) = Harness::seeded_with(&NO_THROTTLE);
    let key = ClientKey::new(JwsAlg::EdDSA, 3, "k1");
    let id = create_key_client(&h, "key", key.public_jwk());
    // A secret for it: there is none that matches.
    let r = h.token(
        &format!("grant_type=client_credentials&client_id={id}&client_secret=x"),
        &[],
    );
    assert_token_error(&r, 401, "invalid_client");
    // An assertion naming an oauth2 credential.
    let forged = signed(&h, &key, &client.client_id, ISSUER, "a");
    let (r, line) = present(&h, &forged);
    refused_as(&r, &line, "bad_assertion");
}

#[test]
fn rfc6749_10_10_failed_assertions_are_counted_by_the_throttle() {
    let (h, _) = Harness::seeded();
    let key = ClientKey::new(JwsAlg::EdDSA, 3, "k1");
    let id = create_key_client(&h, "key", key.public_jwk());
    let thief = ClientKey::new(JwsAlg::EdDSA, 9, "k1");
    let mut statuses = vec![];
    for i in 0..12 {
        let (r, _) = present(&h, &signed(&h, &thief, &id, ISSUER, &format!("t{i}")));
        statuses.push(r.status);
    }
    assert!(statuses.contains(&401), "{statuses:?}");
    assert_eq!(*statuses.last().unwrap(), 429, "{statuses:?}");
    // Locked: even the genuine key waits (the lockout is per client id and address).
    let (r, line) = present(&h, &signed(&h, &key, &id, ISSUER, "genuine"));
    assert_eq!(
        (r.status, line["reason"].as_str()),
        (429, Some("too_many_failures"))
    );
}

#[test]
fn lifecycle_disable_expiry_and_max_uses_apply_and_rotation_is_refused() {
    let (h, _) = Harness::seeded_with(&NO_THROTTLE);
    let key = ClientKey::new(JwsAlg::EdDSA, 3, "k1");
    let body = json!({"name": "key", "user": "root", "type": "private-key-jwt",
        "public_key": {"keys": [key.public_jwk()]}, "max_uses": 2, "expire_in": "1h"});
    let r = h.admin("POST", "/admin/v1/credentials", Some(body));
    assert_eq!(r.status, 201, "{}", text(&r));
    let id = json_body(&r)["client_id"].as_str().unwrap().to_owned();
    assert_eq!(
        present(&h, &signed(&h, &key, &id, ISSUER, "1")).0.status,
        200
    );
    let disable = json!({"enabled": false});
    assert_eq!(
        h.admin("PATCH", "/admin/v1/credentials/key", Some(disable))
            .status,
        200
    );
    let (r, line) = present(&h, &signed(&h, &key, &id, ISSUER, "2"));
    refused_as(&r, &line, "credential_disabled");
    let enable = json!({"enabled": true});
    assert_eq!(
        h.admin("PATCH", "/admin/v1/credentials/key", Some(enable))
            .status,
        200
    );
    // The disabled attempt spent no jti; uses: 2 of 2, then none left.
    assert_eq!(
        present(&h, &signed(&h, &key, &id, ISSUER, "2")).0.status,
        200
    );
    let (r, line) = present(&h, &signed(&h, &key, &id, ISSUER, "3"));
    refused_as(&r, &line, "uses_exhausted");
    let r = h.admin("POST", "/admin/v1/credentials/key/rotate", None);
    assert_admin_error(&r, 400, "invalid_request");
    // Expired after its hour.
    let body = json!({"name": "brief", "user": "root", "type": "private-key-jwt",
        "public_key": key.public_jwk(), "expire_in": "1m"});
    let r = h.admin("POST", "/admin/v1/credentials", Some(body));
    let brief = json_body(&r)["client_id"].as_str().unwrap().to_owned();
    h.advance_ms(61_000);
    let (r, line) = present(&h, &signed(&h, &key, &brief, ISSUER, "4"));
    refused_as(&r, &line, "credential_expired");
}

#[test]
fn rfc7517_registration_refuses_private_keys_and_unsupported_keys() {
    let h = Harness::new();
    let mut private = ClientKey::new(JwsAlg::ES256, 3, "k1").public_jwk();
    private["d"] = "c2VjcmV0".into();
    for (public_key, kind) in [
        (Some(private), "private-key-jwt"),
        (
            Some(json!({"kty": "oct", "k": "c2VjcmV0"})),
            "private-key-jwt",
        ),
        (None, "private-key-jwt"),
        (
            Some(ClientKey::new(JwsAlg::EdDSA, 3, "k").public_jwk()),
            "oauth2",
        ),
    ] {
        let mut body = json!({"name": "key", "user": "root", "type": kind});
        if let Some(k) = public_key {
            body["public_key"] = k;
        }
        let r = h.admin("POST", "/admin/v1/credentials", Some(body));
        assert_admin_error(&r, 400, "invalid_request");
        assert!(!text(&r).contains("c2VjcmV0"), "{}", text(&r));
    }
}

#[test]
fn rfc8414_metadata_advertises_private_key_jwt_and_its_algorithms() {
    let h = Harness::new();
    let r = h.root(
        &head(
            "GET",
            DOMAIN,
            "/.well-known/oauth-authorization-server",
            None,
            &[],
        ),
        b"",
    );
    let m = json_body(&r);
    for endpoint in ["token", "revocation", "introspection"] {
        let methods = &m[format!("{endpoint}_endpoint_auth_methods_supported")];
        assert!(
            methods
                .as_array()
                .unwrap()
                .contains(&json!("private_key_jwt")),
            "{m}"
        );
        assert_eq!(
            m[format!("{endpoint}_endpoint_auth_signing_alg_values_supported")],
            json!(["EdDSA", "Ed25519", "ES256", "RS256"])
        );
    }
}

#[test]
fn rfc7009_revocation_takes_an_assertion_whose_aud_is_the_revocation_endpoint() {
    let (h, _) = Harness::seeded_with(&NO_THROTTLE);
    let key = ClientKey::new(JwsAlg::EdDSA, 3, "k1");
    let id = create_key_client(&h, "key", key.public_jwk());
    let (r, _) = present(&h, &signed(&h, &key, &id, ISSUER, "t"));
    let token = json_body(&r)["access_token"].as_str().unwrap().to_owned();
    let assertion = signed(&h, &key, &id, "https://example.com/oauth2/revoke", "r");
    let form = format!(
        "token={token}&client_assertion_type={}&client_assertion={assertion}",
        form_encode(JWT_BEARER)
    );
    let r = h.root(
        &head(
            "POST",
            DOMAIN,
            "/oauth2/revoke",
            None,
            &[("content-type", "application/x-www-form-urlencoded")],
        ),
        form.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_bearer_error(&refused(h.call(&token)), 401, "invalid_token");
}

/// RFC 7591 §2 `jwks_uri`: the client publishes its keys; the gateway fetches them once per
/// cache lifetime, finds a rotated key (a new `kid`) by fetching again, and refuses with
/// `invalid_client` when the keys cannot be fetched. The registration takes a key or a URL.
#[test]
fn rfc7591_2_jwks_uri_keys_are_fetched_cached_and_refreshed_for_a_new_kid() {
    const JWKS_URI: &str = "https://ci.example.net/jwks.json";
    let secrets = FakeSecrets::default();
    let h = Harness::with_settings(&NO_THROTTLE).with_secrets(secrets.clone());
    let old = ClientKey::new(JwsAlg::ES256, 5, "k1");
    let jwks = |keys: &[&ClientKey]| {
        json!({"keys": keys.iter().map(|k| k.public_jwk()).collect::<Vec<_>>()}).to_string()
    };
    secrets.publish(JWKS_URI, Some(jwks(&[&old])));
    let body = json!({"name": "published", "user": "root", "type": "private-key-jwt", "jwks_uri": JWKS_URI});
    let r = h.admin("POST", "/admin/v1/credentials", Some(body));
    assert_eq!(r.status, 201, "{}", text(&r));
    let id = json_body(&r)["client_id"].as_str().unwrap().to_owned();

    let (r, _) = present(&h, &signed(&h, &old, &id, ISSUER, "a"));
    assert_eq!(r.status, 200, "{}", text(&r));
    let (r, _) = present(&h, &signed(&h, &old, &id, ISSUER, "b"));
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(secrets.document_fetches.get(), 1, "the keys are cached");

    // The client rotates: a new key under a new kid, published at the same URL.
    let new = ClientKey::new(JwsAlg::EdDSA, 6, "k2");
    secrets.publish(JWKS_URI, Some(jwks(&[&old, &new])));
    h.advance_ms(isogate_core::federation::REFRESH_INTERVAL_MS);
    let (r, _) = present(&h, &signed(&h, &new, &id, ISSUER, "c"));
    assert_eq!(r.status, 200, "the rotated key is found: {}", text(&r));
    assert_eq!(secrets.document_fetches.get(), 2);
    // A key of another client's is still refused, and a replayed jti too.
    let stranger = ClientKey::new(JwsAlg::EdDSA, 7, "k3");
    let (r, line) = present(&h, &signed(&h, &stranger, &id, ISSUER, "d"));
    refused_as(&r, &line, "bad_assertion");
    let (r, line) = present(&h, &signed(&h, &new, &id, ISSUER, "c"));
    refused_as(&r, &line, "replayed_assertion");

    // A key the client no longer publishes is refused once the cache has expired.
    secrets.publish(JWKS_URI, Some(jwks(&[&old])));
    h.advance_ms(isogate_core::federation::MAX_TTL_MS);
    let (r, line) = present(&h, &signed(&h, &new, &id, ISSUER, "e"));
    refused_as(&r, &line, "bad_assertion");
    // Keys that cannot be fetched at all: invalid_client. (A failed fetch keeps serving the
    // keys cached before it, like a federated issuer's: an outage of the client's server does
    // not lock it out at once.)
    let gone = "https://gone.example.net/jwks.json";
    let body = json!({"name": "gone", "user": "root", "type": "private-key-jwt", "jwks_uri": gone});
    let r = h.admin("POST", "/admin/v1/credentials", Some(body));
    let gone_id = json_body(&r)["client_id"].as_str().unwrap().to_owned();
    let (r, line) = present(&h, &signed(&h, &old, &gone_id, ISSUER, "f"));
    refused_as(&r, &line, "bad_assertion");

    // Registration: a key or a URL, not both, not neither, and only a fetchable URL.
    for (body, why) in [
        (
            json!({"jwks_uri": JWKS_URI, "public_key": old.public_jwk()}),
            "both",
        ),
        (json!({}), "neither"),
        (
            json!({"jwks_uri": "http://ci.example.net/jwks.json"}),
            "plain http",
        ),
        (
            json!({"jwks_uri": "https://ci.example.net/jwks.json#x"}),
            "fragment",
        ),
    ] {
        let mut body = body;
        body["name"] = "refused".into();
        body["user"] = "root".into();
        body["type"] = "private-key-jwt".into();
        let r = h.admin("POST", "/admin/v1/credentials", Some(body));
        assert_eq!(r.status, 400, "{why}: {}", text(&r));
    }
    let body = json!({"name": "o", "user": "root", "type": "oauth2", "jwks_uri": JWKS_URI});
    assert_eq!(
        h.admin("POST", "/admin/v1/credentials", Some(body)).status,
        400
    );
}
