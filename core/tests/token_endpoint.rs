//! The token endpoint end to end (RFC 6749 §4.4 client credentials): admin API seeding, the
//! request as a client sends it, the response as a client reads it, and the token it carries
//! through the service check to the forward plan.

use isogate_core::testing::*;

#[test]
fn rfc6749_4_4_client_credentials_issue_a_bearer_token() {
    let (h, client) = Harness::seeded();
    let by_post = post_form(&client, None);
    let basic_header = basic(&client.client_id, &client.client_secret);
    // (how the client authenticates, form body, extra headers)
    type Case<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>);
    let cases: &[Case] = &[
        ("client_secret_post", &by_post, vec![]),
        (
            "client_secret_basic",
            "grant_type=client_credentials",
            vec![("authorization", &basic_header)],
        ),
        // §2.3.1 allows client_id in the body alongside Basic if it is the same.
        (
            "client_secret_basic + same client_id in body",
            &format!(
                "grant_type=client_credentials&client_id={}",
                client.client_id
            ),
            vec![("authorization", &basic_header)],
        ),
    ];
    for (method, form, headers) in cases {
        let r = h.token(form, headers);
        assert_eq!(r.status, 200, "{method}: {}", text(&r));
        // §5.1: the response is JSON and must not be cached.
        assert_eq!(
            r.header("content-type"),
            Some("application/json"),
            "{method}"
        );
        assert_eq!(r.header("cache-control"), Some("no-store"), "{method}");
        assert_eq!(r.header("pragma"), Some("no-cache"), "{method}");
        assert_eq!(r.header("www-authenticate"), None, "{method}");
        let body = json_body(&r);
        assert_eq!(body["token_type"], "Bearer", "{method}");
        assert_eq!(body["expires_in"], 3600, "{method}");
        assert!(
            body.get("refresh_token").is_none(),
            "§4.4.3: no refresh token for client credentials"
        );

        // RFC 9068: a JWT access token with typ at+jwt, for root, from this issuer.
        let token = body["access_token"].as_str().unwrap();
        let header = jwt_part(token, 0);
        assert_eq!(header["typ"], "at+jwt", "{method}");
        assert_eq!(header["alg"], "EdDSA", "{method}");
        let claims = jwt_part(token, 1);
        assert_eq!(claims["iss"], ISSUER);
        assert_eq!(claims["aud"], ISSUER);
        assert_eq!(claims["sub"], "root");
        assert_eq!(claims["client_id"], client.client_id.as_str());
        assert_eq!(claims["iat"], h.now_secs());
        assert_eq!(claims["exp"], h.now_secs() + 3600);
        assert_eq!(claims["scope"], "service:*");
    }
}

#[test]
fn each_issued_token_has_its_own_jti() {
    let (h, client) = Harness::seeded();
    let a = jwt_part(&h.token_for(&client, None), 1)["jti"].clone();
    let b = jwt_part(&h.token_for(&client, None), 1)["jti"].clone();
    assert!(a.is_string() && b.is_string());
    assert_ne!(a, b);
}

#[test]
fn issued_token_passes_the_service_check_and_plans_the_forward() {
    let (h, client) = Harness::seeded();
    let token = h.token_for(&client, None);
    let auth = format!("Bearer {token}");
    let request = head(
        "POST",
        SERVICE_HOST,
        "/v1/items/a%20b",
        Some("x=1&y=two"),
        &[
            ("authorization", &auth),
            ("accept", "application/json"),
            ("x-isogate-user", "admin"),
            ("x-forwarded-for", "10.0.0.1"),
            ("content-length", "2"),
        ],
    );
    let a = authorized(h.service_on(&h.gw, &request));
    assert_eq!(a.plan.url, "http://127.0.0.1:9000/v1/items/a%20b?x=1&y=two");
    assert_eq!(a.plan.method, isogate_core::http::Method::Post);
    // The client sent a body (RFC 9112 §6.3): it goes, with its length.
    assert!(a.plan.has_body);
    assert_eq!(forwarded(&a, "content-length"), vec!["2"]);
    // The verified identity replaces anything the client claimed.
    assert_eq!(forwarded(&a, "x-isogate-user"), vec!["root"]);
    assert_eq!(forwarded(&a, "x-isogate-service"), vec![SERVICE]);
    assert_eq!(
        forwarded(&a, "x-isogate-client-id"),
        vec![client.client_id.as_str()]
    );
    assert_eq!(forwarded(&a, "x-isogate-credential"), vec!["root-cred"]);
    assert_eq!(forwarded(&a, "x-forwarded-for"), vec!["203.0.113.7"]);
    assert_eq!(forwarded(&a, "accept"), vec!["application/json"]);
    // The inbound credential never reaches the origin.
    assert!(forwarded(&a, "authorization").is_empty());
    assert!(forwarded(&a, "x-octelium-auth").is_empty());
    assert!(
        !a.plan.headers.iter().any(|(_, v)| v.contains(&token)),
        "the token leaked into a forwarded header"
    );
    assert_eq!(forwarded(&a, "x-isogate-scope"), vec!["service:*"]);
    assert_eq!(
        forwarded(&a, "x-isogate-token-id"),
        vec![jwt_part(&token, 1)["jti"].as_str().unwrap()]
    );
    assert_eq!(forwarded(&a, "x-forwarded-proto"), vec!["https"]);
    assert_eq!(forwarded(&a, "x-forwarded-host"), vec![SERVICE_HOST]);
    assert_eq!(a.timeout_ms, 30_000, "the default upstream timeout");

    // A GET without a query keeps the path and has no `?`.
    let a = authorized(h.service_on(
        &h.gw,
        &head(
            "GET",
            SERVICE_HOST,
            "/health",
            None,
            &[("authorization", &auth)],
        ),
    ));
    assert_eq!(a.plan.url, "http://127.0.0.1:9000/health");
    assert!(!a.plan.has_body);
}

#[test]
fn rfc6749_5_1_scope_is_returned_only_when_it_differs_from_the_request() {
    let (h, client) = Harness::seeded();
    // (scope parameter, expected `scope` member of the response)
    let cases: &[(Option<&str>, Option<&str>)] = &[
        (None, Some("service:*")),      // omitted: the whole grant, said
        (Some(""), Some("service:*")),  // §3.1: empty = omitted
        (Some("service:my-api"), None), // exactly as requested
        (Some("service:*"), None),
        (
            Some("service:my-api service:my-api"),
            Some("service:my-api"),
        ), // canonical form differs
        (Some("service:b service:a"), Some("service:a service:b")),
    ];
    for (scope, expected) in cases {
        let r = h.token(&post_form(&client, *scope), &[]);
        assert_eq!(r.status, 200, "{scope:?}: {}", text(&r));
        let body = json_body(&r);
        assert_eq!(
            body.get("scope").and_then(|s| s.as_str()),
            *expected,
            "scope {scope:?}"
        );
        let granted = expected.or(*scope).unwrap();
        assert_eq!(
            jwt_part(body["access_token"].as_str().unwrap(), 1)["scope"],
            granted,
            "scope {scope:?}"
        );
    }
}

#[test]
fn rfc6749_5_2_failed_client_authentication_is_invalid_client() {
    let h = Harness::new();
    h.create_service(SERVICE, UPSTREAM, &[]);
    let client = h.create_client("root-cred", "root", &[]);
    let r = h.admin(
        "POST",
        "/admin/v1/credentials",
        Some(serde_json::json!({ "name": "pat", "user": "root", "type": "access-token" })),
    );
    assert_eq!(r.status, 201);
    let pat = json_body(&r);
    let pat_id = pat["client_id"].as_str().unwrap().to_owned();
    let pat_token = pat["access_token"].as_str().unwrap().to_owned();

    let id = client.client_id.as_str();
    let secret = client.client_secret.as_str();
    let wrong = format!("{secret}x");
    // (case, client id, client secret)
    let cases: &[(&str, &str, &str)] = &[
        ("wrong secret", id, &wrong),
        ("secret of another length", id, "x"),
        ("unknown client id", "zzzz-zzzz", secret),
        (
            "access-token credential with the other client's secret",
            &pat_id,
            secret,
        ),
        (
            "access-token credential with its token as the secret",
            &pat_id,
            &pat_token,
        ),
        (
            "client id differs in case",
            &id.to_ascii_uppercase(),
            secret,
        ),
    ];
    for (case, cid, csecret) in cases {
        let post = h.token(
            &format!(
                "grant_type=client_credentials&client_id={}&client_secret={}",
                form_encode(cid),
                form_encode(csecret)
            ),
            &[],
        );
        assert_token_error(&post, 401, "invalid_client");
        // RFC 9110 §15.5.2: every 401 carries a challenge, for client_secret_post too (§5.2
        // requires it only for the Authorization header): the HTTP scheme the endpoint accepts.
        assert_eq!(
            post.header("www-authenticate"),
            Some("Basic realm=\"isogate\", charset=\"UTF-8\""),
            "{case} (post)"
        );

        let by_basic = h.token(
            "grant_type=client_credentials",
            &[("authorization", &basic(cid, csecret))],
        );
        assert_token_error(&by_basic, 401, "invalid_client");
        assert_eq!(
            by_basic.header("www-authenticate"),
            Some("Basic realm=\"isogate\", charset=\"UTF-8\""),
            "{case} (basic)"
        );

        // Every failure reads the same: the client cannot tell an unknown id from a wrong secret.
        assert_eq!(
            json_body(&post)["error_description"],
            "client authentication failed",
            "{case}"
        );
    }

    // No authentication at all, or only half of it: invalid_client, a 401 with the challenge
    // (RFC 9110 §15.5.2).
    for form in [
        "grant_type=client_credentials",
        &format!("grant_type=client_credentials&client_id={id}"),
    ] {
        let r = h.token(form, &[]);
        assert_token_error(&r, 401, "invalid_client");
        assert_eq!(
            r.header("www-authenticate"),
            Some("Basic realm=\"isogate\", charset=\"UTF-8\""),
            "{form}"
        );
    }
}

#[test]
fn rfc6749_5_2_grant_type_other_than_client_credentials_is_unsupported_grant_type() {
    let (h, client) = Harness::seeded();
    let auth = format!(
        "client_id={}&client_secret={}",
        client.client_id,
        form_encode(&client.client_secret)
    );
    for grant in [
        "password",
        "authorization_code",
        "refresh_token",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "CLIENT_CREDENTIALS",
    ] {
        let r = h.token(&format!("grant_type={}&{auth}", form_encode(grant)), &[]);
        assert_token_error(&r, 400, "unsupported_grant_type");
    }
    // The client is authenticated first: a stranger learns nothing about grant types.
    let r = h.token(
        "grant_type=password&client_id=zzzz-zzzz&client_secret=nope",
        &[],
    );
    assert_token_error(&r, 401, "invalid_client");
    // A missing grant_type is a malformed request.
    let r = h.token(&auth, &[]);
    assert_token_error(&r, 400, "invalid_request");
}

#[test]
fn rfc6749_3_3_scope_beyond_the_credential_ceiling_is_invalid_scope() {
    let h = Harness::new();
    h.create_service("a", UPSTREAM, &[]);
    h.create_service("b", UPSTREAM, &[]);
    let client = h.create_client("only-a", "root", &["service:a"]);
    // (requested scope, expected status, expected error or granted scope)
    let cases: &[(Option<&str>, u16, &str)] = &[
        (Some("service:b"), 400, "invalid_scope"),
        (Some("service:*"), 400, "invalid_scope"),
        (Some("service:a service:b"), 400, "invalid_scope"),
        (Some("service:a"), 200, "service:a"),
        (None, 200, "service:a"),
    ];
    for (scope, status, expected) in cases {
        let r = h.token(&post_form(&client, *scope), &[]);
        if *status == 200 {
            assert_eq!(r.status, 200, "{scope:?}: {}", text(&r));
            assert_eq!(
                jwt_part(json_body(&r)["access_token"].as_str().unwrap(), 1)["scope"],
                *expected
            );
        } else {
            assert_token_error(&r, *status, expected);
        }
    }
    // The ceiling holds at the service too: the token granted without a scope reaches only a.
    let token = h.token_for(&client, None);
    let ok = h.service(
        "a.example.com",
        &[("authorization", &format!("Bearer {token}"))],
    );
    authorized(ok);
    let no = refused(h.service(
        "b.example.com",
        &[("authorization", &format!("Bearer {token}"))],
    ));
    assert_bearer_error(&no, 403, "insufficient_scope");
}

#[test]
fn rfc6749_3_3_malformed_scope_is_invalid_scope() {
    let (h, client) = Harness::seeded();
    for scope in [
        "openid",
        "service:",
        "service:My_Api",
        "service:a.b",
        "svc:my-api",
        "service:\"x\"",
        "service:a\\b",
        "service:*x",
        "service:my-api\u{e9}",
    ] {
        let r = h.token(&post_form(&client, Some(scope)), &[]);
        assert_token_error(&r, 400, "invalid_scope");
    }
}

#[test]
fn rfc6749_3_2_token_endpoint_takes_a_form_post_only() {
    let (h, client) = Harness::seeded();
    let form = post_form(&client, None);
    let r = h.root(&head("GET", DOMAIN, "/oauth2/token", None, &[]), b"");
    assert_token_error(&r, 405, "invalid_request");
    assert_eq!(r.header("allow"), Some("POST"));

    for content_type in ["application/json", "text/plain", ""] {
        let r = h.root(
            &head(
                "POST",
                DOMAIN,
                "/oauth2/token",
                None,
                &[("content-type", content_type)],
            ),
            form.as_bytes(),
        );
        assert_token_error(&r, 400, "invalid_request");
    }
    // Parameters in the URL would land in logs: refused even when the body is complete.
    let r = h.root(
        &head(
            "POST",
            DOMAIN,
            "/oauth2/token",
            Some("client_secret=x"),
            &[("content-type", "application/x-www-form-urlencoded")],
        ),
        form.as_bytes(),
    );
    assert_token_error(&r, 400, "invalid_request");
    // Repeated parameters and two authentication methods are malformed.
    let r = h.token(&format!("{form}&grant_type=client_credentials"), &[]);
    assert_token_error(&r, 400, "invalid_request");
    let r = h.token(
        &form,
        &[(
            "authorization",
            &basic(&client.client_id, &client.client_secret),
        )],
    );
    assert_token_error(&r, 400, "invalid_request");
    // Over the size limit.
    let big = format!("{form}&pad={}", "a".repeat(9000));
    assert_token_error(&h.token(&big, &[]), 413, "invalid_request");
}

#[test]
fn token_endpoint_errors_never_echo_the_secret() {
    let (h, client) = Harness::seeded();
    let wrong = format!("{}-wrong", client.client_secret);
    for r in [
        h.token(
            &format!(
                "grant_type=client_credentials&client_id={}&client_secret={wrong}",
                client.client_id
            ),
            &[],
        ),
        h.token(
            "grant_type=client_credentials",
            &[("authorization", &basic(&client.client_id, &wrong))],
        ),
        h.token(
            &format!(
                "grant_type=password&{}",
                &post_form(&client, None)["grant_type=client_credentials&".len()..]
            ),
            &[],
        ),
    ] {
        assert!(r.status >= 400);
        assert!(!text(&r).contains(&client.client_secret), "{}", text(&r));
    }
}

#[test]
fn rfc8414_metadata_and_jwks_describe_the_tokens_issued() {
    let (h, client) = Harness::seeded();
    let meta = h.root(
        &head(
            "GET",
            DOMAIN,
            "/.well-known/oauth-authorization-server",
            None,
            &[],
        ),
        b"",
    );
    assert_eq!(meta.status, 200);
    // RFC 8707 resource indicators (tests/protected_resources.rs).
    assert_eq!(json_body(&meta)["resource_indicators_supported"], true);
    let meta = json_body(&meta);
    assert_eq!(meta["issuer"], ISSUER);
    assert_eq!(meta["token_endpoint"], "https://example.com/oauth2/token");
    assert_eq!(
        meta["grant_types_supported"],
        serde_json::json!(["client_credentials"])
    );

    let jwks = h.root(&head("GET", DOMAIN, "/oauth2/jwks", None, &[]), b"");
    assert_eq!(jwks.status, 200);
    let jwks = json_body(&jwks);
    let token = h.token_for(&client, None);
    let kid = jwt_part(&token, 0)["kid"].clone();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kid"], kid);
    assert_eq!(keys[0]["kty"], "OKP");
    assert_eq!(keys[0]["crv"], "Ed25519");
    assert!(
        keys[0].get("d").is_none(),
        "the private key is never published"
    );

    let post = h.root(&head("POST", DOMAIN, "/oauth2/jwks", None, &[]), b"");
    assert_eq!(post.status, 405);
}

#[test]
fn an_unreadable_request_body_is_400_invalid_request_never_a_judged_truncation() {
    // The runtime could not read the body (the client went away mid-body): the core answers
    // 400 whatever bytes may have arrived, on the token endpoint and the admin API alike.
    let (h, client) = Harness::seeded();
    let form_type = ("content-type", "application/x-www-form-urlencoded");
    let admin_auth = format!("Bearer {ADMIN_TOKEN}");
    for request in [
        head("POST", DOMAIN, "/oauth2/token", None, &[form_type]),
        head("POST", DOMAIN, "/oauth2/revoke", None, &[form_type]),
        head(
            "POST",
            DOMAIN,
            "/admin/v1/users",
            None,
            &[("authorization", &admin_auth)],
        ),
    ] {
        let outcome = h.exchange(&h.gw, &request, None);
        let r = refused(outcome.result);
        assert_eq!(
            (r.status, json_body(&r)["error"].as_str()),
            (400, Some("invalid_request")),
            "{}",
            request.path
        );
        assert_eq!(
            json_body(&r)["error_description"],
            "the request body could not be read"
        );
        assert!(outcome.diagnostic.is_none());
    }
    // The credential is untouched by the aborted request.
    h.token_for(&client, None);
}
