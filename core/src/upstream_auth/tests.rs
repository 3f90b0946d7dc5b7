//! Upstream credentials: the spec, the header plan, and the whole service flow with a fixed
//! clock and a counting token endpoint.

use super::*;
use crate::audit::Reason;
use crate::testing::{json_body, text, FakeSecrets, Harness, SERVICE_HOST, UPSTREAM};
use serde_json::json;

const TOKEN_URL: &str = "https://auth.example.net/oauth2/token";

fn spec_of(s: &str) -> String {
    UpstreamAuth::parse(s).expect(s).to_string()
}

#[test]
fn each_kind_parses_to_its_canonical_spec_of_names_only() {
    assert_eq!(spec_of("bearer:PAYROLL_TOKEN"), "bearer:PAYROLL_TOKEN");
    assert_eq!(spec_of("basic:payroll_basic"), "basic:payroll_basic");
    assert_eq!(spec_of("header:X-Api-Key:KEY1"), "header:x-api-key:KEY1");
    assert_eq!(
        spec_of(&format!(
            "oauth2-client-credentials:{TOKEN_URL},gw-client,ORIGIN_SECRET"
        )),
        format!("oauth2-client-credentials:{TOKEN_URL},gw-client,ORIGIN_SECRET")
    );
    let with_scope = UpstreamAuth::parse(
        "oauth2-client-credentials:HTTPS://auth.example.net/oauth2/token,gw,S,read write",
    )
    .unwrap();
    assert_eq!(with_scope.kind(), "oauth2-client-credentials");
    assert_eq!(with_scope.secret_name(), "S");
    let UpstreamAuth::ClientCredentials(c) = &with_scope else {
        panic!()
    };
    assert_eq!(c.token_url, "https://auth.example.net/oauth2/token");
    assert_eq!(c.scope.as_deref(), Some("read write"));
}

#[test]
fn specs_that_would_leak_the_gateway_or_break_the_plan_are_refused() {
    for bad in [
        "bearer:ISOGATE_SIGNING_KEY",
        "bearer:isogate_admin_token",
        "bearer:",
        "bearer:1abc",
        "bearer:a__b",
        "bearer:a-b",
        "token:X",
        "bearer",
        "header:X-Isogate-User:S",
        "header:X_Isogate_User:S",
        "header:Host:S",
        "header:Content-Length:S",
        "header:Transfer_Encoding:S",
        "header:X-Forwarded-For:S",
        "header:X-Request-Id:S",
        "header:Bad Name:S",
        "header:S",
        "oauth2-client-credentials:ftp://x/t,c,S",
        "oauth2-client-credentials:https://x/t,c",
        "oauth2-client-credentials:https://x/t,,S",
        "oauth2-client-credentials:https://x/t,c,S,bad\"scope",
        "oauth2-client-credentials:https://x/t,c,S,a  b",
    ] {
        assert!(UpstreamAuth::parse(bad).is_err(), "{bad}");
    }
    // Authorization itself is allowed (a custom scheme in the secret).
    assert!(UpstreamAuth::parse("header:Authorization:S").is_ok());
}

#[test]
fn injected_header_replaces_every_client_spelling_of_its_name() {
    let mut headers = vec![
        ("x-api-key".to_owned(), "client".to_owned()),
        ("X_Api_Key".to_owned(), "client2".to_owned()),
        ("accept".to_owned(), "*/*".to_owned()),
    ];
    inject(&mut headers, "x-api-key", "origin".into());
    assert_eq!(
        headers,
        vec![
            ("accept".to_owned(), "*/*".to_owned()),
            ("x-api-key".to_owned(), "origin".to_owned()),
        ]
    );
}

#[test]
fn rfc6749_4_4_2_token_request_is_client_secret_basic_form_encoded() {
    let UpstreamAuth::ClientCredentials(c) = UpstreamAuth::parse(&format!(
        "oauth2-client-credentials:{TOKEN_URL},gw:1,S,read write"
    ))
    .unwrap() else {
        panic!()
    };
    let fetch = c.token_request("s3cr%t");
    assert_eq!(fetch.url, TOKEN_URL);
    assert_eq!(fetch.body, "grant_type=client_credentials&scope=read+write");
    // RFC 6749 §2.3.1: each part form-urlencoded before Basic.
    let basic = base64::engine::general_purpose::STANDARD.encode("gw%3A1:s3cr%25t");
    assert!(fetch
        .headers
        .contains(&("authorization".into(), format!("Basic {basic}"))));
    assert!(!format!("{fetch:?}").contains(&basic), "Debug redacts");
}

fn reply(status: u16, body: serde_json::Value) -> TokenReply {
    TokenReply {
        status,
        body: body.to_string().into_bytes(),
    }
}

#[test]
fn rfc6749_5_1_token_reply_must_be_a_bearer_token() {
    let now = crate::Now::from_unix_ms(1_000_000);
    let ok = origin_token::read_token_reply(
        &reply(200, json!({"access_token": "t", "token_type": "bearer"})),
        now,
    );
    assert!(ok.is_ok());
    let mac = reply(200, json!({"access_token": "t", "token_type": "mac"}));
    assert!(origin_token::read_token_reply(&mac, now).is_err());
    let refused = reply(
        401,
        json!({"error": "invalid_client", "error_description": "SECRET"}),
    );
    let words = origin_token::read_token_reply(&refused, now).unwrap_err();
    assert_eq!(words, "answered 401 invalid_client");
    let injected = reply(
        200,
        json!({"access_token": "t\r\nx: y", "token_type": "Bearer"}),
    );
    assert!(origin_token::read_token_reply(&injected, now).is_err());
}

/// A seeded deployment whose service `my-api` sends the origin `spec`.
fn with_upstream_auth(spec: &str, secrets: FakeSecrets) -> (Harness, String) {
    let h = Harness::new().with_secrets(secrets);
    let body = json!({ "name": "my-api", "upstream": UPSTREAM, "upstream_auth": spec });
    let r = h.admin("POST", "/admin/v1/services", Some(body));
    assert_eq!(r.status, 201, "{}", text(&r));
    let client = h.create_client("root-cred", "root", &[]);
    let token = h.token_for(&client, None);
    (h, token)
}

fn origin_values(h: &Harness, token: &str, name: &str, extra: &[(&str, &str)]) -> Vec<String> {
    let auth = format!("Bearer {token}");
    let mut headers = vec![("authorization", auth.as_str())];
    headers.extend_from_slice(extra);
    let forward = h.service(SERVICE_HOST, &headers).expect("forwarded");
    forward
        .plan
        .headers
        .iter()
        .filter(|(n, _)| crate::forward::same_header(n, name))
        .map(|(_, v)| v.clone())
        .collect()
}

#[test]
fn bearer_basic_and_header_kinds_reach_the_origin_once_whatever_the_client_sends() {
    let secrets = FakeSecrets::with(&[("TOK", "origin-bearer\n"), ("CRED", "svc:pa ss")]);
    let (h, token) = with_upstream_auth("bearer:TOK", secrets.clone());
    let forged = [
        ("X_Octelium_Auth", "Bearer forged"),
        ("Authorization_", "Bearer forged"),
        ("Proxy-Authorization", "Bearer forged"),
    ];
    assert_eq!(
        origin_values(&h, &token, "authorization", &forged),
        ["Bearer origin-bearer"]
    );
    // The gateway token in X-Octelium-Auth, a second credential in Authorization (not Bearer,
    // so not read as the gateway's): stripped, the origin's set once.
    let octelium = h
        .service(
            SERVICE_HOST,
            &[
                ("x-octelium-auth", &token),
                ("authorization", "Basic Zm9yZ2Vk"),
            ],
        )
        .expect("forwarded");
    let sent: Vec<_> = octelium
        .plan
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("authorization") || n.contains("octelium"))
        .collect();
    assert_eq!(
        sent,
        [&(
            "authorization".to_owned(),
            "Bearer origin-bearer".to_owned()
        )]
    );

    let (h, token) = with_upstream_auth("basic:CRED", secrets.clone());
    assert_eq!(
        origin_values(&h, &token, "authorization", &[]),
        [format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("svc:pa ss")
        )]
    );

    let (h, token) = with_upstream_auth("header:X-Api-Key:TOK", secrets);
    let forged = [("X-API-KEY", "forged"), ("x_api_key", "forged")];
    assert_eq!(
        origin_values(&h, &token, "x-api-key", &forged),
        ["origin-bearer"]
    );
    // The client's own Authorization (its gateway token) is still stripped.
    assert!(origin_values(&h, &token, "authorization", &[]).is_empty());
}

#[test]
fn admin_api_shows_the_kind_and_secret_name_never_the_value() {
    let (h, _) = with_upstream_auth("bearer:TOK", FakeSecrets::with(&[("TOK", "VALUE-xyz")]));
    let r = h.admin("GET", "/admin/v1/services/my-api", None);
    assert_eq!(r.status, 200);
    let view = &json_body(&r)["service"]["upstream_auth"];
    assert_eq!(
        *view,
        json!({"kind": "bearer", "secret": "TOK", "spec": "bearer:TOK"})
    );
    assert!(!text(&r).contains("VALUE-xyz"));
    let refused = h.admin(
        "POST",
        "/admin/v1/services",
        Some(json!({"name": "x", "upstream": UPSTREAM, "upstream_auth": "bearer:ISOGATE_ADMIN_TOKEN"})),
    );
    assert_eq!(refused.status, 400, "{}", text(&refused));
}

#[test]
fn missing_secret_is_a_502_naming_the_secret_only_in_the_diagnostic() {
    let (h, token) = with_upstream_auth("bearer:TOK", FakeSecrets::with(&[]));
    let auth = format!("Bearer {token}");
    let head = crate::testing::head("GET", SERVICE_HOST, "/", None, &[("authorization", &auth)]);
    let outcome = h.exchange(&h.gw, &head, None);
    let response = outcome.result.expect_err("not forwarded");
    assert_eq!(response.status, 502);
    assert!(!text(&response).contains("TOK"), "{}", text(&response));
    let diagnostic = outcome.diagnostic.expect("logged").to_string();
    assert!(diagnostic.contains("secret TOK is not set"), "{diagnostic}");
    let line = outcome.audit.expect("audited");
    assert!(line.as_str().contains(Reason::UpstreamCredential.as_str()));
}

#[test]
fn client_credentials_token_is_cached_refreshed_before_expiry_and_refetched_after() {
    let secrets = FakeSecrets::with(&[("OS", "origin-client-secret")]);
    secrets.answer_token("tok-1", Some(600));
    let spec = format!("oauth2-client-credentials:{TOKEN_URL},gw,OS");
    let (h, token) = with_upstream_auth(&spec, secrets.clone());
    for _ in 0..5 {
        assert_eq!(
            origin_values(&h, &token, "authorization", &[]),
            ["Bearer tok-1"]
        );
    }
    assert_eq!(secrets.fetches.get(), 1, "cached");
    // 600 s lifetime: refreshed once less than 60 s remain, before it expires.
    h.advance_ms(539_000);
    assert_eq!(
        origin_values(&h, &token, "authorization", &[]),
        ["Bearer tok-1"]
    );
    secrets.answer_token("tok-2", Some(600));
    h.advance_ms(2_000);
    assert_eq!(
        origin_values(&h, &token, "authorization", &[]),
        ["Bearer tok-2"]
    );
    assert_eq!(secrets.fetches.get(), 2, "one refresh");
    // A failed refresh keeps the still-valid token; an expired one is never sent.
    h.advance_ms(545_000);
    secrets.answer(Err("connection refused".into()));
    assert_eq!(
        origin_values(&h, &token, "authorization", &[]),
        ["Bearer tok-2"]
    );
    h.advance_ms(60_000);
    let r = h.call(&h.token_for(&h.create_client("c2", "root", &[]), None));
    assert_eq!(r.expect_err("no valid token").status, 502);
}
