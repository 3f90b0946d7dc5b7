//! DPoP (RFC 9449) end to end through the core, with a fixed clock: a token request with a
//! proof gets a token bound to the key (§5, §6), a service takes it only with a fresh proof
//! for the very request (§4.3, §7.1), and every way a proof can be wrong is refused with
//! `invalid_dpop_proof` (§7.1, §12.2).

use isogate_core::capability::InstanceMemory;
use isogate_core::testing::*;
use serde_json::json;

const TOKEN_URL: &str = "https://example.com/oauth2/token";
const SERVICE_URL: &str = "https://my-api.example.com/";

fn now(h: &Harness) -> i64 {
    h.now_secs()
}

/// A token request of `client` with `proof` (client_secret_post).
fn token_request(
    h: &Harness,
    client: &Client,
    proof: Option<&str>,
) -> isogate_core::http::Response {
    let headers: Vec<(&str, &str)> = proof.map(|p| ("dpop", p)).into_iter().collect();
    h.token(&post_form(client, None), &headers)
}

/// A DPoP-bound token for `client`, bound to `key`.
fn dpop_token(h: &Harness, client: &Client, key: &DpopKey) -> String {
    let proof = key.proof("POST", TOKEN_URL, now(h), None);
    let r = token_request(h, client, Some(&proof));
    assert_eq!(r.status, 200, "{}", text(&r));
    json_body(&r)["access_token"].as_str().unwrap().to_owned()
}

/// `GET /` on my-api with the token under `scheme` and the given proofs.
fn call(h: &Harness, scheme: &str, token: &str, proofs: &[&str]) -> Result<Forward, Response> {
    let auth = format!("{scheme} {token}");
    let mut headers = vec![("authorization", auth.as_str())];
    headers.extend(proofs.iter().map(|p| ("dpop", *p)));
    h.service(SERVICE_HOST, &headers)
}

use isogate_core::http::Response;
use isogate_core::Forward;

/// §7.1 and §12.2: 401 `invalid_dpop_proof` with the DPoP scheme's challenge naming the
/// algorithms.
#[track_caller]
fn assert_proof_refused(r: &Response, why: &str) {
    assert_eq!(r.status, 401, "{why}: {}", text(r));
    assert_eq!(json_body(r)["error"], "invalid_dpop_proof", "{why}");
    let challenge = r.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with("DPoP error=\"invalid_dpop_proof\"")
            && challenge.contains("algs=\"EdDSA Ed25519 ES256\"")
            // RFC 9728 §5.1: every challenge of a service names its metadata.
            && challenge.ends_with("resource_metadata=\"https://my-api.example.com/.well-known/oauth-protected-resource\""),
        "{why}: {challenge}"
    );
}

#[test]
fn rfc9449_5_a_token_request_with_a_proof_gets_a_dpop_token_bound_to_the_key() {
    let (h, client) = Harness::seeded();
    let key = DpopKey::new(1);
    let r = token_request(
        &h,
        &client,
        Some(&key.proof("POST", TOKEN_URL, now(&h), None)),
    );
    assert_eq!(r.status, 200, "{}", text(&r));
    let body = json_body(&r);
    // §5.1: the token type is DPoP; §6.1: cnf.jkt is the RFC 7638 thumbprint of the key.
    assert_eq!(body["token_type"], "DPoP");
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(
        jwt_part(token, 1)["cnf"],
        json!({ "jkt": key.thumbprint() })
    );
    // Without a proof: a bearer token, no cnf.
    let r = token_request(&h, &client, None);
    assert_eq!(json_body(&r)["token_type"], "Bearer");
    let bearer = json_body(&r)["access_token"].as_str().unwrap().to_owned();
    assert!(jwt_part(&bearer, 1).get("cnf").is_none());
}

#[test]
fn rfc9449_5_1_metadata_advertises_the_proof_algorithms() {
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
    assert_eq!(
        json_body(&r)["dpop_signing_alg_values_supported"],
        json!(["EdDSA", "Ed25519", "ES256"])
    );
}

#[test]
fn rfc9449_6_2_introspection_shows_the_binding() {
    let (h, client) = Harness::seeded();
    let token = dpop_token(&h, &client, &DpopKey::new(1));
    let form = format!("{}&token={token}", post_form(&client, None));
    let r = h.root(
        &head(
            "POST",
            DOMAIN,
            "/oauth2/introspect",
            None,
            &[("content-type", "application/x-www-form-urlencoded")],
        ),
        form.as_bytes(),
    );
    let body = json_body(&r);
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    assert_eq!(body["cnf"]["jkt"], DpopKey::new(1).thumbprint());
}

#[test]
fn rfc9449_7_1_a_bound_token_passes_with_a_proof_for_the_request_and_neither_reaches_the_origin() {
    let (h, client) = Harness::seeded();
    let key = DpopKey::new(1);
    let token = dpop_token(&h, &client, &key);
    let proof = key.proof("GET", SERVICE_URL, now(&h), Some(&token));
    let forward = authorized(call(&h, "DPoP", &token, &[&proof]));
    // The scheme is compared without case (RFC 9110 §11.1).
    let proof = key.proof("GET", SERVICE_URL, now(&h), Some(&token));
    authorized(call(&h, "dpop", &token, &[&proof]));
    for stripped in ["dpop", "authorization"] {
        assert!(
            forwarded(&forward, stripped).is_empty(),
            "{stripped} reached the origin"
        );
    }
    assert!(!format!("{:?}", forward.plan.headers).contains(&token));
}

#[test]
fn rfc9449_4_3_htu_ignores_the_query_and_a_default_port() {
    let (h, client) = Harness::seeded();
    let key = DpopKey::new(1);
    let token = dpop_token(&h, &client, &key);
    let auth = format!("DPoP {token}");
    let proof = key.proof(
        "GET",
        "https://my-api.example.com:443/a/b",
        now(&h),
        Some(&token),
    );
    let with_query = head(
        "GET",
        SERVICE_HOST,
        "/a/b",
        Some("x=1"),
        &[("authorization", &auth), ("dpop", &proof)],
    );
    authorized(h.service_on(&h.gw, &with_query));
}

#[test]
fn rfc9449_4_3_each_check_of_a_proof_refuses_it() {
    let (h, client) = Harness::seeded();
    let key = DpopKey::new(1);
    let other = DpopKey::new(2);
    let token = dpop_token(&h, &client, &key);
    let t = now(&h);
    let mut no_ath = key.claims("GET", SERVICE_URL, t, None);
    no_ath["jti"] = "no-ath".into();
    let private = json!({ "typ": "dpop+jwt", "alg": "EdDSA", "jwk": key.private_jwk() });
    let mut wrong_typ = key.header();
    wrong_typ["typ"] = "jwt".into();
    let mut alg_none = key.header();
    alg_none["alg"] = "none".into();
    let mut hs256 = key.header();
    hs256["alg"] = "HS256".into();
    let mut rsa_key = key.header();
    rsa_key["jwk"] = json!({ "kty": "RSA", "n": "AQAB", "e": "AQAB" });
    let good = key.proof("GET", SERVICE_URL, t, Some(&token));
    let mut forged = good.clone();
    forged.replace_range(forged.len() - 4.., "AAAA");
    let cases: Vec<(&str, String)> = vec![
        // step 8 and 9: another method, another URL
        ("htm", key.proof("POST", SERVICE_URL, t, Some(&token))),
        (
            "htu: another service",
            key.proof("GET", "https://other.example.com/", t, Some(&token)),
        ),
        (
            "htu: another path",
            key.proof("GET", "https://my-api.example.com/x", t, Some(&token)),
        ),
        (
            "htu: http",
            key.proof("GET", "http://my-api.example.com/", t, Some(&token)),
        ),
        // step 11: iat outside ±60 s
        (
            "iat: stale",
            key.proof("GET", SERVICE_URL, t - 61, Some(&token)),
        ),
        (
            "iat: future",
            key.proof("GET", SERVICE_URL, t + 61, Some(&token)),
        ),
        // step 12: ath of another token, or none
        (
            "ath",
            key.proof("GET", SERVICE_URL, t, Some("another-token")),
        ),
        ("no ath", key.sign(&key.header(), &no_ath)),
        // §7.1: another key than the token's
        ("jkt", other.proof("GET", SERVICE_URL, t, Some(&token))),
        // step 7: a private key in the jwk
        (
            "private jwk",
            key.sign(&private, &key.claims("GET", SERVICE_URL, t, Some(&token))),
        ),
        // steps 4 and 5: typ, alg
        (
            "typ",
            key.sign(&wrong_typ, &key.claims("GET", SERVICE_URL, t, Some(&token))),
        ),
        (
            "alg none",
            key.sign(&alg_none, &key.claims("GET", SERVICE_URL, t, Some(&token))),
        ),
        (
            "alg HS256",
            key.sign(&hs256, &key.claims("GET", SERVICE_URL, t, Some(&token))),
        ),
        (
            "RSA jwk",
            key.sign(&rsa_key, &key.claims("GET", SERVICE_URL, t, Some(&token))),
        ),
        // step 6: the signature
        ("signature", forged),
        // step 2: not a JWT
        ("malformed", "not.a.jwt".into()),
        ("two parts", "eyJ0.eyJ0".into()),
    ];
    for (why, proof) in &cases {
        assert_proof_refused(&refused(call(&h, "DPoP", &token, &[proof])), why);
    }
    // Step 1: exactly one DPoP header.
    assert_proof_refused(&refused(call(&h, "DPoP", &token, &[])), "missing proof");
    let a = key.proof("GET", SERVICE_URL, t, Some(&token));
    let b = key.proof("GET", SERVICE_URL, t, Some(&token));
    assert_proof_refused(&refused(call(&h, "DPoP", &token, &[&a, &b])), "two proofs");
    // None of them spent the good proof.
    authorized(call(&h, "DPoP", &token, &[&good]));
}

#[test]
fn rfc9449_11_1_a_proof_is_accepted_once_on_either_kind_of_runtime() {
    for memory in [InstanceMemory::Kept, InstanceMemory::PerRequest] {
        let h = Harness::new().with_memory(memory);
        h.create_service(SERVICE, UPSTREAM, &[]);
        let client = h.create_client("c", "root", &[]);
        let key = DpopKey::new(1);
        let token = dpop_token(&h, &client, &key);
        let proof = key.proof("GET", SERVICE_URL, now(&h), Some(&token));
        authorized(call(&h, "DPoP", &token, &[&proof]));
        assert_proof_refused(&refused(call(&h, "DPoP", &token, &[&proof])), "{memory:?}");
        // At the token endpoint too.
        let proof = key.proof("POST", TOKEN_URL, now(&h), None);
        assert_eq!(token_request(&h, &client, Some(&proof)).status, 200);
        let r = token_request(&h, &client, Some(&proof));
        assert_token_error(&r, 400, "invalid_dpop_proof");
        // A fresh proof still passes.
        let proof = key.proof("GET", SERVICE_URL, now(&h), Some(&token));
        authorized(call(&h, "DPoP", &token, &[&proof]));
    }
}

#[test]
fn rfc9449_7_2_a_bound_token_sent_as_a_bearer_token_is_refused() {
    let (h, client) = Harness::seeded();
    let key = DpopKey::new(1);
    let token = dpop_token(&h, &client, &key);
    let proof = key.proof("GET", SERVICE_URL, now(&h), Some(&token));
    for (name, value) in [
        ("authorization", format!("Bearer {token}")),
        ("x-octelium-auth", token.clone()),
    ] {
        let r = refused(h.service(SERVICE_HOST, &[(name, &value), ("dpop", &proof)]));
        assert_eq!(r.status, 401, "{name}: {}", text(&r));
        assert_eq!(json_body(&r)["error"], "invalid_token");
        assert!(r.header("www-authenticate").unwrap().starts_with("DPoP "));
    }
    // And a bearer token is no DPoP token.
    let bearer = h.token_for(&client, None);
    let proof = key.proof("GET", SERVICE_URL, now(&h), Some(&bearer));
    let r = refused(call(&h, "DPoP", &bearer, &[&proof]));
    assert_eq!(
        (r.status, json_body(&r)["error"].clone()),
        (401, json!("invalid_token"))
    );
    // A bearer token with a stray proof is still a bearer token.
    authorized(call(&h, "Bearer", &bearer, &[&proof]));
}

#[test]
fn rfc9449_5_token_endpoint_refusals_are_400_invalid_dpop_proof() {
    let (h, client) = Harness::seeded();
    let key = DpopKey::new(1);
    let t = now(&h);
    let private = json!({ "typ": "dpop+jwt", "alg": "EdDSA", "jwk": key.private_jwk() });
    for (why, proof) in [
        (
            "htu",
            key.proof("POST", "https://example.com/oauth2/other", t, None),
        ),
        ("htm", key.proof("GET", TOKEN_URL, t, None)),
        ("iat", key.proof("POST", TOKEN_URL, t - 120, None)),
        (
            "private jwk",
            key.sign(&private, &key.claims("POST", TOKEN_URL, t, None)),
        ),
        ("malformed", "x".to_owned()),
    ] {
        let r = token_request(&h, &client, Some(&proof));
        assert_token_error(&r, 400, "invalid_dpop_proof");
        assert!(r.header("www-authenticate").is_none(), "{why}");
    }
}

#[test]
fn rfc9449_11_1_an_unauthenticated_token_request_spends_no_proof() {
    let (h, client) = Harness::seeded_with(&NO_THROTTLE);
    let key = DpopKey::new(1);
    let proof = key.proof("POST", TOKEN_URL, now(&h), None);
    let wrong = Client {
        client_secret: "wrong".into(),
        ..client.clone()
    };
    assert_eq!(token_request(&h, &wrong, Some(&proof)).status, 401);
    assert_eq!(token_request(&h, &client, Some(&proof)).status, 200);
}

#[test]
fn require_dpop_credential_refuses_token_requests_without_a_proof() {
    let h = Harness::new();
    h.create_service(SERVICE, UPSTREAM, &[]);
    let body = json!({ "name": "bound", "user": "root", "type": "oauth2", "require_dpop": true });
    let r = h.admin("POST", "/admin/v1/credentials", Some(body));
    assert_eq!(r.status, 201, "{}", text(&r));
    assert_eq!(json_body(&r)["credential"]["require_dpop"], true);
    let client = Client {
        name: "bound".into(),
        client_id: json_body(&r)["client_id"].as_str().unwrap().into(),
        client_secret: json_body(&r)["client_secret"].as_str().unwrap().into(),
    };
    let r = token_request(&h, &client, None);
    assert_token_error(&r, 400, "invalid_dpop_proof");
    let key = DpopKey::new(3);
    let token = dpop_token(&h, &client, &key);
    let proof = key.proof("GET", SERVICE_URL, now(&h), Some(&token));
    authorized(call(&h, "DPoP", &token, &[&proof]));
    // An access-token credential is a bearer token: it cannot require DPoP.
    let body =
        json!({ "name": "at", "user": "root", "type": "access-token", "require_dpop": true });
    let r = h.admin("POST", "/admin/v1/credentials", Some(body));
    assert_admin_error(&r, 400, "invalid_request");
}

#[test]
fn dpop_failures_have_their_audit_reason() {
    let (h, client) = Harness::seeded();
    let key = DpopKey::new(1);
    let token = dpop_token(&h, &client, &key);
    let auth = format!("DPoP {token}");
    let outcome = h.exchange(
        &h.gw,
        &head("GET", SERVICE_HOST, "/", None, &[("authorization", &auth)]),
        None,
    );
    let line = outcome.audit.expect("an audit line");
    assert!(
        line.as_str().contains("\"reason\":\"dpop_proof\""),
        "{}",
        line.as_str()
    );
    let bearer = format!("Bearer {token}");
    let outcome = h.exchange(
        &h.gw,
        &head(
            "GET",
            SERVICE_HOST,
            "/",
            None,
            &[("authorization", &bearer)],
        ),
        None,
    );
    let line = outcome.audit.expect("an audit line");
    assert!(
        line.as_str().contains("\"reason\":\"dpop_binding\""),
        "{}",
        line.as_str()
    );
}

#[test]
fn rfc9864_the_fully_specified_ed25519_name_is_accepted_as_eddsa() {
    // openid-client v6 (oauth4webapi) signs proofs of an Ed25519 key with `alg: Ed25519`.
    let (h, client) = Harness::seeded();
    let key = DpopKey::new(1);
    let mut header = key.header();
    header["alg"] = "Ed25519".into();
    let proof = key.sign(&header, &key.claims("POST", TOKEN_URL, now(&h), None));
    let r = token_request(&h, &client, Some(&proof));
    assert_eq!(json_body(&r)["token_type"], "DPoP", "{}", text(&r));
    let token = json_body(&r)["access_token"].as_str().unwrap().to_owned();
    let proof = key.sign(
        &header,
        &key.claims("GET", SERVICE_URL, now(&h), Some(&token)),
    );
    authorized(call(&h, "DPoP", &token, &[&proof]));
}

#[test]
fn rfc9449_es256_a_p256_key_gets_a_bound_token_and_passes_a_service() {
    // openid-client v6's `randomDPoPKeyPair()` makes an ES256 (P-256) key by default.
    let (h, client) = Harness::seeded();
    let key = DpopKey::es256(1);
    assert_eq!(key.header()["alg"], "ES256");
    let token = dpop_token(&h, &client, &key);
    // RFC 7638 §3.2: the thumbprint of an EC key hashes crv, kty, x, y in that order.
    let jwk = key.jwk();
    let canonical = format!(
        r#"{{"crv":"P-256","kty":"EC","x":{},"y":{}}}"#,
        jwk["x"], jwk["y"]
    );
    use base64::Engine as _;
    use sha2::Digest as _;
    let jkt = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(canonical.as_bytes()));
    assert_eq!(jwt_part(&token, 1)["cnf"], json!({ "jkt": jkt }));
    assert_eq!(key.thumbprint(), jkt);
    let proof = key.proof("GET", SERVICE_URL, now(&h), Some(&token));
    authorized(call(&h, "DPoP", &token, &[&proof]));
}

#[test]
fn rfc9449_es256_a_wrong_signature_or_key_is_refused() {
    let (h, client) = Harness::seeded();
    let key = DpopKey::es256(1);
    let token = dpop_token(&h, &client, &key);
    let t = now(&h);
    let good = key.proof("GET", SERVICE_URL, t, Some(&token));
    // RFC 7518 §3.4: the signature is r || s; another one, or the DER form, is no signature.
    let mut forged = good.clone();
    forged.replace_range(forged.len() - 4.., "AAAA");
    let (input, _) = good.rsplit_once('.').unwrap();
    let short = format!("{input}.{}", "A".repeat(84)); // 63 bytes
    let claims = || key.claims("GET", SERVICE_URL, t, Some(&token));
    let mut okp_jwk = key.header();
    okp_jwk["jwk"] = DpopKey::new(1).jwk();
    let mut eddsa_ec = key.header();
    eddsa_ec["alg"] = "EdDSA".into();
    let mut p384 = key.header();
    p384["jwk"]["crv"] = "P-384".into();
    let private = json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": key.private_jwk() });
    // A P-256 key's proof signed by another P-256 key (the jwk names the token's key).
    let other = DpopKey::es256(2);
    let signature = "the DPoP proof's signature is invalid";
    let bad_key = "the DPoP proof's jwk is not a supported public key";
    let cases: Vec<(&str, String, &str)> = vec![
        ("signature", forged, signature),
        ("63-byte signature", short, signature),
        (
            "signed by another key",
            other.sign(&key.header(), &claims()),
            signature,
        ),
        (
            "ES256 with an OKP jwk",
            key.sign(&okp_jwk, &claims()),
            bad_key,
        ),
        (
            "EdDSA with an EC jwk",
            key.sign(&eddsa_ec, &claims()),
            bad_key,
        ),
        ("P-384 jwk", key.sign(&p384, &claims()), bad_key),
        (
            "private jwk",
            key.sign(&private, &claims()),
            "the DPoP proof's jwk contains a private key",
        ),
        (
            "another key",
            other.proof("GET", SERVICE_URL, t, Some(&token)),
            "the DPoP proof is not signed by the token's key",
        ),
    ];
    for (why, proof, description) in &cases {
        let r = refused(call(&h, "DPoP", &token, &[proof]));
        assert_proof_refused(&r, why);
        assert_eq!(json_body(&r)["error_description"], *description, "{why}");
    }
    authorized(call(&h, "DPoP", &token, &[&good]));
    // At the token endpoint too: a forged ES256 proof gets no token.
    let mut forged = key.proof("POST", TOKEN_URL, t, None);
    forged.replace_range(forged.len() - 4.., "AAAA");
    let r = token_request(&h, &client, Some(&forged));
    assert_eq!(r.status, 400, "{}", text(&r));
    assert_eq!(json_body(&r)["error"], "invalid_dpop_proof");
}
