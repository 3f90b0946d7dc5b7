//! The service side end to end (RFC 6750 bearer usage, RFC 9068 validation): where a token may
//! come from, what each refusal looks like on the wire, and how scopes and service policy
//! narrow what a valid token reaches.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use isogate_core::keys::{Ed25519, PortableEd25519, SigningKey, VerifyingKey};
use isogate_core::testing::*;
use isogate_core::Gateway;
use std::cell::Cell;

/// `token` with one claim replaced, under its original signature.
fn tampered(token: &str, claim: &str, value: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims = jwt_part(token, 1);
    claims[claim] = value.into();
    format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap()),
        parts[2]
    )
}

#[test]
fn rfc6750_3_1_request_without_a_token_gets_a_bare_challenge() {
    let (h, _) = Harness::seeded();
    // No credential at all, or one in a scheme this gateway does not take, or one for a host
    // that does not exist: all are "no token", answered with a challenge and no error code.
    let cases: &[(&str, &[(&str, &str)])] = &[
        ("no headers", &[]),
        (
            "basic credentials",
            &[("authorization", "Basic cm9vdDpzZWNyZXQ=")],
        ),
        (
            "another scheme",
            &[("authorization", "Digest username=\"root\"")],
        ),
        ("empty x-octelium-auth", &[("x-octelium-auth", "  ")]),
    ];
    for (case, headers) in cases {
        let r = refused(h.service(SERVICE_HOST, headers));
        assert_eq!(r.status, 401, "{case}");
        assert_eq!(
            r.header("www-authenticate"),
            Some(
                "Bearer realm=\"isogate\", resource_metadata=\"https://my-api.example.com/.well-known/oauth-protected-resource\""
            ),
            "{case}"
        );
        assert_eq!(r.header("cache-control"), Some("no-store"), "{case}");
        assert!(
            !r.header("www-authenticate").unwrap().contains("error="),
            "{case}"
        );
    }
    // The same for a service that does not exist: no probing of names without a token.
    let r = refused(h.service("nope.example.com", &[]));
    assert_eq!(r.status, 401);
}

#[test]
fn rfc6750_3_1_bad_tokens_are_401_invalid_token() {
    let (h, client) = Harness::seeded();
    let good = h.token_for(&client, None);

    let other_subject = tampered(&good, "sub", "alice");
    let wider_scope = tampered(&good, "scope", "service:* service:my-api");

    // A token from a deployment with another signing key, and one from another issuer that
    // shares this key: neither is ours.
    let other_key = Harness::with_settings(&[(
        "ISOGATE_SIGNING_KEY",
        Some(&URL_SAFE_NO_PAD.encode([9u8; 32])),
    )]);
    other_key.create_service(SERVICE, UPSTREAM, &[]);
    let other_key_token = other_key.token_for(&other_key.create_client("c", "root", &[]), None);
    let other_iss = Harness::with_settings(&[("ISOGATE_ISSUER", Some("https://other.example"))]);
    let other_iss_token = other_iss.token_for(&other_iss.create_client("c", "root", &[]), None);

    // A JWT with another `typ` (say an ID token) signed by nobody.
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT","kid":"x"}"#);
    let unsigned = format!("{header}.{}.", good.split('.').nth(1).unwrap());

    let cases: &[(&str, &str)] = &[
        ("garbage", "not-a-token"),
        ("three dots of nothing", "a.b.c"),
        ("four parts", &format!("{good}.x")),
        ("tampered sub claim", &other_subject),
        ("tampered scope claim", &wider_scope),
        ("truncated signature", &good[..good.len() - 4]),
        ("unknown key", &other_key_token),
        ("another issuer", &other_iss_token),
        ("alg none", &unsigned),
        ("oversized", &"a".repeat(5000)),
    ];
    for (case, token) in cases {
        let r = refused(h.call(token));
        assert_bearer_error(&r, 401, "invalid_token");
        assert!(!text(&r).contains(token), "{case}: the token is echoed");
    }
    authorized(h.call(&good));
}

#[test]
fn rfc6750_2_3_token_in_the_query_string_is_refused_and_never_accepted() {
    let (h, client) = Harness::seeded();
    let token = h.token_for(&client, None);
    let auth = format!("Bearer {token}");
    let queries = [
        format!("access_token={token}"),
        format!("x=1&access_token={token}"),
        "access_token=".to_owned(),
    ];
    for query in &queries {
        // Alone: refused with a pointer to the header.
        let r = refused(h.service_on(&h.gw, &head("GET", SERVICE_HOST, "/", Some(query), &[])));
        assert_bearer_error(&r, 400, "invalid_request");
        // With the token in a header as well: §2 "clients MUST NOT use more than one method",
        // and the query would carry the credential on to the origin's URL and logs.
        let r = refused(h.service_on(
            &h.gw,
            &head(
                "GET",
                SERVICE_HOST,
                "/",
                Some(query),
                &[("authorization", &auth)],
            ),
        ));
        assert_bearer_error(&r, 400, "invalid_request");
    }
    // A parameter that merely resembles it is the origin's business.
    let a = authorized(h.service_on(
        &h.gw,
        &head(
            "GET",
            SERVICE_HOST,
            "/",
            Some("my_access_token=1&access_tokens=2"),
            &[("authorization", &auth)],
        ),
    ));
    assert_eq!(
        a.plan.url,
        "http://127.0.0.1:9000/?my_access_token=1&access_tokens=2"
    );
}

#[test]
fn rfc6750_2_1_bearer_scheme_is_case_insensitive_and_x_octelium_auth_is_accepted() {
    let (h, client) = Harness::seeded();
    let token = h.token_for(&client, None);
    let cases: &[(&str, Vec<(String, String)>)] = &[
        (
            "Authorization: Bearer",
            vec![("authorization".into(), format!("Bearer {token}"))],
        ),
        (
            "lower-case scheme",
            vec![("authorization".into(), format!("bearer {token}"))],
        ),
        (
            "upper-case scheme",
            vec![("authorization".into(), format!("BEARER {token}"))],
        ),
        (
            "header name in any case",
            vec![("Authorization".into(), format!("Bearer {token}"))],
        ),
        (
            "surrounding whitespace",
            vec![("authorization".into(), format!("  Bearer   {token}  "))],
        ),
        (
            "X-Octelium-Auth",
            vec![("X-Octelium-Auth".into(), token.clone())],
        ),
        (
            "X-Octelium-Auth beside a Basic header",
            vec![
                ("x-octelium-auth".into(), token.clone()),
                ("authorization".into(), "Basic cm9vdDp4".into()),
            ],
        ),
    ];
    for (case, headers) in cases {
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let a = h
            .service(SERVICE_HOST, &headers)
            .unwrap_or_else(|r| panic!("{case}: {} {}", r.status, text(&r)));
        assert_eq!(forwarded(&a, "x-isogate-user"), vec!["root"], "{case}");
        assert!(
            forwarded(&a, "authorization").is_empty()
                && forwarded(&a, "x-octelium-auth").is_empty(),
            "{case}"
        );
    }
}

#[test]
fn rfc6750_3_1_token_in_more_than_one_place_is_invalid_request() {
    let (h, client) = Harness::seeded();
    let token = h.token_for(&client, None);
    let bearer = format!("Bearer {token}");
    let cases: &[(&str, &[(&str, &str)])] = &[
        (
            "both headers",
            &[("authorization", &bearer), ("x-octelium-auth", &token)],
        ),
        (
            "authorization twice",
            &[("authorization", &bearer), ("authorization", &bearer)],
        ),
        (
            "x-octelium-auth twice",
            &[("x-octelium-auth", &token), ("x-octelium-auth", &token)],
        ),
        ("empty bearer", &[("authorization", "Bearer ")]),
        ("bare scheme", &[("authorization", "Bearer")]),
    ];
    for (case, headers) in cases {
        let r = refused(h.service(SERVICE_HOST, headers));
        assert_bearer_error(&r, 400, "invalid_request");
        assert!(!text(&r).contains(&token), "{case}");
    }
}

#[test]
fn unknown_service_with_a_valid_token_is_404() {
    let (h, client) = Harness::seeded();
    let token = h.token_for(&client, None);
    let r = refused(h.service(
        "nope.example.com",
        &[("authorization", &format!("Bearer {token}"))],
    ));
    assert_eq!(r.status, 404);
    assert_eq!(json_body(&r)["error"], "not_found");
    assert_eq!(r.header("www-authenticate"), None);
    // An invalid token learns nothing about which services exist.
    let r = refused(h.service("nope.example.com", &[("authorization", "Bearer x.y.z")]));
    assert_bearer_error(&r, 401, "invalid_token");
}

#[test]
fn a_narrowly_scoped_token_cannot_probe_which_services_exist() {
    let (h, client) = Harness::seeded();
    h.create_service("other", "http://127.0.0.1:9001", &[]);
    let token = h.token_for(&client, Some("service:my-api"));
    let auth = format!("Bearer {token}");
    let existing = refused(h.service("other.example.com", &[("authorization", &auth)]));
    let missing = refused(h.service("ghost.example.com", &[("authorization", &auth)]));
    assert_eq!((existing.status, missing.status), (403, 403));
    assert_eq!(json_body(&existing)["error"], json_body(&missing)["error"]);
}

#[test]
fn percent_encoded_access_token_query_parameter_is_refused_too() {
    let (h, client) = Harness::seeded();
    let token = h.token_for(&client, None);
    let r = refused(h.service_on(
        &h.gw,
        &head(
            "GET",
            SERVICE_HOST,
            "/",
            Some(&format!("access%5Ftoken={token}")),
            &[],
        ),
    ));
    assert_eq!(r.status, 400);
    assert_eq!(json_body(&r)["error"], "invalid_request");
}

#[test]
fn rfc6750_3_1_scope_narrows_a_token_to_its_services() {
    let (h, client) = Harness::seeded();
    h.create_service("other", "http://127.0.0.1:9001", &[]);
    let narrow = h.token_for(&client, Some("service:other"));
    let r = refused(h.call(&narrow));
    assert_bearer_error(&r, 403, "insufficient_scope");
    let challenge = r.header("www-authenticate").unwrap();
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert!(
        challenge.contains("scope=\"service:my-api\""),
        "§3: the challenge names the scope needed: {challenge}"
    );
    assert_eq!(json_body(&r)["scope"], "service:my-api");
    // The same token reaches its own service.
    let a = authorized(h.service(
        "other.example.com",
        &[("authorization", &format!("Bearer {narrow}"))],
    ));
    assert_eq!(a.plan.url, "http://127.0.0.1:9001/");

    // (scope requested, may reach my-api)
    let cases: &[(&str, bool)] = &[
        ("service:my-api", true),
        ("service:*", true),
        ("service:other service:my-api", true),
        ("service:other", false),
        ("service:my-api2", false),
    ];
    for (scope, reaches) in cases {
        let token = h.token_for(&client, Some(scope));
        match h.call(&token) {
            Ok(a) => {
                assert!(reaches, "{scope} reached my-api");
                assert_eq!(
                    forwarded(&a, "x-isogate-scope"),
                    vec![scope_canonical(scope)]
                );
            }
            Err(r) => {
                assert!(!reaches, "{scope} was refused: {}", text(&r));
                assert_bearer_error(&r, 403, "insufficient_scope");
            }
        }
    }
}

fn scope_canonical(scope: &str) -> &'static str {
    match scope {
        "service:other service:my-api" => "service:my-api service:other",
        "service:my-api" => "service:my-api",
        _ => "service:*",
    }
}

#[test]
fn service_policy_admits_only_its_allowed_users() {
    let h = Harness::new();
    h.create_user("alice");
    h.create_service(SERVICE, UPSTREAM, &["alice"]);
    let root = h.create_client("root-cred", "root", &[]);
    let alice = h.create_client("alice-cred", "alice", &[]);

    let r = refused(h.call(&h.token_for(&root, None)));
    assert_bearer_error(&r, 403, "insufficient_scope");
    assert!(r
        .header("www-authenticate")
        .unwrap()
        .contains("scope=\"service:my-api\""));
    assert_eq!(
        json_body(&r)["error_description"],
        "this service's policy does not admit this user"
    );

    let a = authorized(h.call(&h.token_for(&alice, None)));
    assert_eq!(forwarded(&a, "x-isogate-user"), vec!["alice"]);

    // The policy and the scope both have to agree: alice with a token for another service.
    let r = refused(h.call(&h.token_for(&alice, Some("service:elsewhere"))));
    assert_bearer_error(&r, 403, "insufficient_scope");
}

#[test]
fn rfc9068_expired_token_is_refused_once_past_the_30s_leeway() {
    let (h, client) = Harness::seeded();
    let token = h.token_for(&client, None);
    let exp = jwt_part(&token, 1)["exp"].as_i64().unwrap() as u64;
    assert_eq!(exp, T0_MS / 1000 + 3600);
    // (clock in ms, still accepted)
    let cases: &[(u64, bool)] = &[
        (exp * 1000 - 1, true),
        (exp * 1000, true),              // at exp: within the leeway
        ((exp + 29) * 1000 + 999, true), // the last millisecond of the leeway
        ((exp + 30) * 1000, false),      // exp + 30 s
        ((exp + 3600) * 1000, false),
    ];
    for (now_ms, accepted) in cases {
        h.set_ms(*now_ms);
        match h.call(&token) {
            Ok(_) => assert!(accepted, "accepted at {now_ms}"),
            Err(r) => {
                assert!(!accepted, "refused at {now_ms}: {}", text(&r));
                assert_bearer_error(&r, 401, "invalid_token");
                assert_eq!(
                    json_body(&r)["error_description"],
                    "the access token expired"
                );
            }
        }
    }
    // A fresh token from the same credential works again.
    authorized(h.call(&h.token_for(&client, None)));
}

#[test]
fn a_token_verified_once_is_not_a_pass_for_lookalikes_or_after_expiry() {
    // The isolate remembers verified tokens (by digest) to skip the signature check on reuse;
    // that must not let through anything the full check would refuse.
    let (h, client) = Harness::seeded();
    let good = h.token_for(&client, None);
    authorized(h.call(&good));
    authorized(h.call(&good));

    // The cached token's own signature under another subject or another scope, and the token
    // with bytes appended.
    let lookalikes = [
        tampered(&good, "sub", "alice"),
        tampered(&good, "scope", "service:other"),
        format!("{good}A"),
        format!("{good}."),
    ];
    for lookalike in lookalikes {
        let r = refused(h.call(&lookalike));
        assert_bearer_error(&r, 401, "invalid_token");
    }
    authorized(h.call(&good));

    // Past expiry the cached token is refused like any other.
    let exp = jwt_part(&good, 1)["exp"].as_i64().unwrap() as u64;
    h.set_ms((exp + 30) * 1000);
    let r = refused(h.call(&good));
    assert_eq!(
        json_body(&r)["error_description"],
        "the access token expired"
    );
}

/// An Ed25519 that counts its verifications and can be told to refuse every signature, to see
/// what the gateway asks of the runtime's implementation.
struct CountingEd25519 {
    verifications: Cell<u32>,
    refuse: bool,
}

impl Ed25519 for CountingEd25519 {
    async fn sign(&self, key: &SigningKey, message: &[u8]) -> [u8; 64] {
        PortableEd25519.sign(key, message).await
    }

    async fn verify(&self, key: &VerifyingKey, message: &[u8], signature: &[u8; 64]) -> bool {
        self.verifications.set(self.verifications.get() + 1);
        !self.refuse && PortableEd25519.verify(key, message, signature).await
    }
}

#[test]
fn the_runtime_ed25519_checks_each_token_once_per_isolate_and_its_verdict_is_final() {
    let (h, client) = Harness::seeded();
    let token = h.token_for(&client, None);
    let auth = format!("Bearer {token}");
    let head = head("GET", SERVICE_HOST, "/", None, &[("authorization", &auth)]);
    let call =
        |gw: &Gateway, ed: &CountingEd25519| h.exchange_with(gw, ed, head.clone(), None).result;

    let refusing = CountingEd25519 {
        verifications: Cell::new(0),
        refuse: true,
    };
    let gw = h.isolate();
    let r = refused(call(&gw, &refusing));
    assert_eq!(
        json_body(&r)["error_description"],
        "the access token signature is invalid"
    );
    refused(call(&gw, &refusing));
    assert_eq!(
        refusing.verifications.get(),
        2,
        "a refused token is never remembered"
    );

    let counting = CountingEd25519 {
        verifications: Cell::new(0),
        refuse: false,
    };
    for _ in 0..3 {
        authorized(call(&gw, &counting));
    }
    assert_eq!(
        counting.verifications.get(),
        1,
        "a verified token is not verified again"
    );
}

#[test]
fn rfc9068_token_issued_in_the_future_beyond_the_leeway_is_refused() {
    let (h, client) = Harness::seeded();
    let token = h.token_for(&client, None);
    h.set_ms(T0_MS - 30_000);
    authorized(h.call(&token));
    h.set_ms(T0_MS - 31_000);
    let r = refused(h.call(&token));
    assert_bearer_error(&r, 401, "invalid_token");
    assert_eq!(
        json_body(&r)["error_description"],
        "the access token is not valid yet"
    );
}

#[test]
fn token_lifetime_follows_isogate_token_ttl() {
    let h = Harness::with_settings(&[("ISOGATE_TOKEN_TTL", Some("15m"))]);
    h.create_service(SERVICE, UPSTREAM, &[]);
    let client = h.create_client("c", "root", &[]);
    let r = h.token(&post_form(&client, None), &[]);
    assert_eq!(json_body(&r)["expires_in"], 900);
}

#[test]
fn created_service_is_reachable_at_once_on_the_creating_isolate_and_within_the_ttl_elsewhere() {
    let h = Harness::new();
    let client = h.create_client("c", "root", &[]);
    let token = h.token_for(&client, None);
    let other = h.isolate();
    // Both isolates learn that my-api does not exist (and cache it).
    assert_eq!(refused(h.call(&token)).status, 404);
    assert_eq!(refused(h.call_with(&other, &token)).status, 404);
    let cached_at = h.now_ms();
    h.advance_ms(1000);
    h.create_service(SERVICE, UPSTREAM, &[]);
    // The creating isolate forgot its "no such service" at once.
    authorized(h.call(&token));
    // Another isolate answers from its cache until the TTL, then sees the service.
    h.set_ms(cached_at + 4_999);
    assert_eq!(refused(h.call_with(&other, &token)).status, 404);
    h.set_ms(cached_at + 5_000);
    authorized(h.call_with(&other, &token));
}

#[test]
fn deleted_service_is_gone_at_once_on_the_deleting_isolate_and_within_the_ttl_elsewhere() {
    let (h, client) = Harness::seeded();
    let token = h.token_for(&client, None);
    let other = h.isolate();
    authorized(h.call(&token));
    authorized(h.call_with(&other, &token));
    let cached_at = h.now_ms();
    h.advance_ms(10);
    let r = h.admin("DELETE", "/admin/v1/services/my-api", None);
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(refused(h.call(&token)).status, 404);
    h.set_ms(cached_at + 4_999);
    authorized(h.call_with(&other, &token));
    h.set_ms(cached_at + 5_000);
    assert_eq!(refused(h.call_with(&other, &token)).status, 404);
}

#[test]
fn key_rotation_keeps_tokens_of_the_previous_key_valid_until_they_expire() {
    let (h, client) = Harness::seeded();
    let old_token = h.token_for(&client, None);
    let old_x = {
        let jwks = json_body(&h.root(&head("GET", DOMAIN, "/oauth2/jwks", None, &[]), b""));
        jwks["keys"][0]["x"].as_str().unwrap().to_owned()
    };
    let mut rotated = h.settings.clone();
    rotated.insert(
        "ISOGATE_SIGNING_KEY".into(),
        URL_SAFE_NO_PAD.encode([8u8; 32]),
    );
    let without_previous = gateway(&rotated);
    rotated.insert("ISOGATE_EXTRA_PUBLIC_KEYS".into(), old_x);
    let with_previous = gateway(&rotated);

    assert_bearer_error(
        &refused(h.call_with(&without_previous, &old_token)),
        401,
        "invalid_token",
    );
    authorized(h.call_with(&with_previous, &old_token));
    // New tokens carry the new key and validate on the rotated gateway.
    let new_token = h.token_for_on(&with_previous, &client, None);
    assert_ne!(
        jwt_part(&new_token, 0)["kid"],
        jwt_part(&old_token, 0)["kid"]
    );
    authorized(h.call_with(&with_previous, &new_token));
    // ...but not on an isolate still on the old key alone.
    assert_bearer_error(&refused(h.call(&new_token)), 401, "invalid_token");

    // The old token stays valid to the last second of its lifetime (and leeway), then expires
    // like any other.
    let old_exp = jwt_part(&old_token, 1)["exp"].as_i64().unwrap() as u64;
    h.set_ms((old_exp + 29) * 1000 + 999);
    authorized(h.call_with(&with_previous, &old_token));
    h.set_ms((old_exp + 30) * 1000);
    let r = refused(h.call_with(&with_previous, &old_token));
    assert_eq!(
        json_body(&r)["error_description"],
        "the access token expired"
    );
}

#[test]
fn service_hosts_route_case_insensitively_and_on_default_ports() {
    let (h, client) = Harness::seeded();
    let auth = format!("Bearer {}", h.token_for(&client, None));
    for host in [
        "my-api.example.com",
        "MY-API.Example.COM",
        "my-api.example.com.",
        "my-api.example.com:443",
        "my-api.example.com:80",
    ] {
        let a = h
            .service(host, &[("authorization", &auth)])
            .unwrap_or_else(|r| panic!("{host}: {}", text(&r)));
        assert_eq!(a.plan.url, "http://127.0.0.1:9000/", "{host}");
    }
    // Only one label under the domain, and only the default ports, name a service.
    for host in [
        "my-api.example.com:8443",
        "a.my-api.example.com",
        "my-api.example.org",
        "my_api.example.com",
        "example.com.evil.test",
    ] {
        assert_eq!(
            h.gw.route(&head("GET", host, "/", None, &[])),
            isogate_core::Route::UnknownHost,
            "{host}"
        );
    }
}
