//! The signed identity assertion through the gateway: what every forward carries, that it
//! checks against the published JWKS, that a client cannot supply one, that it is refused as
//! an access token (RFC 8725 §3.12), and that an isolate reuses it and re-signs it on time.

use isogate_core::assertion::{
    verify_assertion, ASSERTION_LIFETIME_SECS, ASSERTION_TYP, RESIGN_MARGIN_SECS,
};
use isogate_core::keys::{KeySet, PortableEd25519, VerifyingKey};
use isogate_core::testing::*;
use isogate_core::{Forward, Now};

const AUD: &str = "https://my-api.example.com";

/// The keys as an origin gets them: from the gateway's JWKS document.
fn published_keys(h: &Harness) -> KeySet {
    let r = h.root(
        &head("GET", DOMAIN, "/.well-known/jwks.json", None, &[]),
        b"",
    );
    assert_eq!(r.status, 200);
    let jwks = json_body(&r);
    let keys = jwks["keys"].as_array().unwrap().iter().map(|k| {
        let key = VerifyingKey::from_jwk_x(k["x"].as_str().unwrap()).unwrap();
        assert_eq!(key.kid, k["kid"].as_str().unwrap());
        key
    });
    KeySet::new(keys.collect())
}

fn the_assertion(f: &Forward) -> String {
    let values = forwarded(f, "x-isogate-assertion");
    assert_eq!(values.len(), 1, "exactly one assertion: {values:?}");
    values[0].to_owned()
}

#[test]
fn every_forward_carries_one_assertion_of_the_verified_identity_and_none_from_the_client() {
    let (h, client) = Harness::seeded();
    let token = h.token_for(&client, Some("service:my-api"));
    let auth = format!("Bearer {token}");
    // A client (or anyone in front of the gateway) offering its own assertion, in two cases.
    let forged = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhZG1pbiJ9.AAAA";
    let f = authorized(h.service(
        SERVICE_HOST,
        &[
            ("authorization", &auth),
            ("x-isogate-assertion", forged),
            ("X-ISOGATE-ASSERTION", forged),
        ],
    ));
    let assertion = the_assertion(&f);
    assert_ne!(assertion, forged);

    let header = jwt_part(&assertion, 0);
    assert_eq!(header["typ"], ASSERTION_TYP);
    assert_eq!(header["alg"], "EdDSA");
    let claims = block_on(verify_assertion(
        &PortableEd25519,
        &assertion,
        &published_keys(&h),
        ISSUER,
        AUD,
        h.clock(),
    ))
    .expect("the origin's check passes");
    let access = jwt_part(&token, 1);
    assert_eq!(header["kid"], jwt_part(&token, 0)["kid"], "the same key");
    assert_eq!(
        (claims.sub.as_str(), claims.client_id.as_str()),
        ("root", client.client_id.as_str())
    );
    assert_eq!(
        (claims.credential.as_str(), claims.scope.as_str()),
        ("root-cred", "service:my-api")
    );
    assert_eq!(claims.jti, access["jti"].as_str().unwrap());
    assert_eq!(
        (claims.iat, claims.exp),
        (h.now_secs(), h.now_secs() + ASSERTION_LIFETIME_SECS)
    );
    // The plain headers stay, for origins on a private network, and say the same.
    assert_eq!(forwarded(&f, "x-isogate-user"), vec!["root"]);
    assert_eq!(
        forwarded(&f, "x-isogate-token-id"),
        vec![claims.jti.as_str()]
    );
}

#[test]
fn the_assertion_never_outlives_the_access_token() {
    let (h, client) = Harness::seeded();
    let token = h.token_for(&client, None);
    let token_exp = jwt_part(&token, 1)["exp"].as_i64().unwrap();
    h.set_ms((token_exp - 100) as u64 * 1000);
    let assertion = the_assertion(&authorized(h.call(&token)));
    assert_eq!(jwt_part(&assertion, 1)["exp"], token_exp);
}

#[test]
fn rfc8725_3_12_an_assertion_presented_as_a_bearer_token_is_invalid_token() {
    let (h, client) = Harness::seeded();
    let token = h.token_for(&client, None);
    let assertion = the_assertion(&authorized(h.call(&token)));
    let r = refused(h.call(&assertion));
    assert_bearer_error(&r, 401, "invalid_token");
    assert_eq!(
        json_body(&r)["error_description"],
        "the token is not an access token (typ at+jwt, alg EdDSA)"
    );
    // Nor is it active for introspection.
    let body = format!(
        "client_id={}&client_secret={}&token={assertion}",
        form_encode(&client.client_id),
        form_encode(&client.client_secret)
    );
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let r = h.root(
        &head("POST", DOMAIN, "/oauth2/introspect", None, &form),
        body.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(json_body(&r), serde_json::json!({ "active": false }));
}

#[test]
fn an_access_token_is_refused_as_an_assertion_by_the_origins_check() {
    let (h, client) = Harness::seeded();
    let token = h.token_for(&client, None);
    // Its own issuer and audience, the published key: only its type is wrong.
    let r = block_on(verify_assertion(
        &PortableEd25519,
        &token,
        &published_keys(&h),
        ISSUER,
        ISSUER,
        h.clock(),
    ));
    assert_eq!(r.unwrap_err(), isogate_core::token::TokenInvalid::WrongType);
}

#[test]
fn each_service_gets_an_assertion_addressed_to_it() {
    let (h, client) = Harness::seeded();
    h.create_service("other", UPSTREAM, &[]);
    let token = h.token_for(&client, None);
    let auth = format!("Bearer {token}");
    let f = authorized(h.service("other.example.com", &[("authorization", &auth)]));
    let other = the_assertion(&f);
    assert_eq!(jwt_part(&other, 1)["aud"], "https://other.example.com");
    let r = block_on(verify_assertion(
        &PortableEd25519,
        &other,
        &published_keys(&h),
        ISSUER,
        AUD,
        h.clock(),
    ));
    assert_eq!(
        r.unwrap_err(),
        isogate_core::token::TokenInvalid::WrongAudience
    );
}

#[test]
fn an_isolate_forwards_the_same_assertion_until_a_minute_before_it_expires() {
    let (h, client) = Harness::seeded();
    let token = h.token_for(&client, None);
    let first = the_assertion(&authorized(h.call(&token)));
    let reuse_secs = (ASSERTION_LIFETIME_SECS - RESIGN_MARGIN_SECS) as u64;
    h.advance_ms(reuse_secs * 1000 - 1);
    assert_eq!(the_assertion(&authorized(h.call(&token))), first);
    // Another isolate signs its own.
    let other = h.isolate();
    let elsewhere = the_assertion(&authorized(h.call_with(&other, &token)));
    assert_ne!(jwt_part(&elsewhere, 1)["iat"], jwt_part(&first, 1)["iat"]);
    h.advance_ms(1);
    let resigned = the_assertion(&authorized(h.call(&token)));
    assert_ne!(resigned, first);
    assert_eq!(jwt_part(&resigned, 1)["iat"], h.now_secs());
    let at = Now::from_unix_ms(h.now_ms());
    let claims = block_on(verify_assertion(
        &PortableEd25519,
        &resigned,
        &published_keys(&h),
        ISSUER,
        AUD,
        at,
    ))
    .unwrap();
    assert_eq!(claims.exp - claims.iat, ASSERTION_LIFETIME_SECS);
}
