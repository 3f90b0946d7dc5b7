//! Services as OAuth 2.0 protected resources: their metadata (RFC 9728), the challenges that
//! point at it (RFC 9728 §5.1), and tokens restricted to some of them by resource indicators
//! (RFC 8707), through the gateway with a real SQLite store and a fixed clock.

use isogate_core::audit::AuditLine;
use isogate_core::http::Response;
use isogate_core::testing::*;
use isogate_core::Forward;
use serde_json::{json, Value};

const METADATA: &str = "/.well-known/oauth-protected-resource";
const MY_API: &str = "https://my-api.example.com";
const OTHER: &str = "other";
const OTHER_HOST: &str = "other.example.com";

fn parse(line: Option<AuditLine>) -> Value {
    let line = line.expect("an audit line");
    serde_json::from_str(line.as_str()).unwrap()
}

/// A token request of `client` with these extra form parameters, each already encoded.
fn token_with(h: &Harness, client: &Client, extra: &[(&str, &str)]) -> Response {
    let mut form = post_form(client, None);
    for (name, value) in extra {
        form.push_str(&format!("&{name}={}", form_encode(value)));
    }
    h.token(&form, &[])
}

fn access_token(r: &Response) -> String {
    assert_eq!(r.status, 200, "{}", text(r));
    json_body(r)["access_token"].as_str().unwrap().to_owned()
}

fn get(h: &Harness, host: &str, path: &str, headers: &[(&str, &str)]) -> Result<Forward, Response> {
    h.service_on(&h.gw, &head("GET", host, path, None, headers))
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// Services `my-api` and `other`, and root's credential without a scope ceiling.
fn two_services() -> (Harness, Client) {
    let (h, client) = Harness::seeded();
    h.create_service(OTHER, UPSTREAM, &[]);
    (h, client)
}

#[test]
fn rfc9728_3_a_service_answers_its_metadata_itself_without_a_token() {
    let (h, _) = Harness::seeded();
    // No token, a bad token, a query: the same document, never forwarded.
    for headers in [&[][..], &[("authorization", "Bearer not-a-token")][..]] {
        let r = refused(get(&h, SERVICE_HOST, METADATA, headers));
        assert_eq!(r.status, 200, "{}", text(&r));
        assert_eq!(r.header("cache-control"), Some("public, max-age=300"));
        assert_eq!(
            json_body(&r),
            json!({
                "resource": MY_API,
                "authorization_servers": [ISSUER],
                "scopes_supported": ["service:my-api"],
                "bearer_methods_supported": ["header"],
                // RFC 9449 §5.1 (as RFC 9728 §2 names it): DPoP proofs are accepted here.
                "dpop_signing_alg_values_supported": ["EdDSA", "Ed25519", "ES256"],
            })
        );
    }
    let with_query = head("GET", SERVICE_HOST, METADATA, Some("x=1"), &[]);
    assert_eq!(refused(h.service_on(&h.gw, &with_query)).status, 200);
    // HEAD too; other methods are refused, not forwarded.
    let r = refused(h.service_on(&h.gw, &head("HEAD", SERVICE_HOST, METADATA, None, &[])));
    assert_eq!(r.status, 200);
    let r = refused(h.service_on(&h.gw, &head("POST", SERVICE_HOST, METADATA, None, &[])));
    assert_eq!((r.status, r.header("allow")), (405, Some("GET, HEAD")));
    // Only the exact path: below it is the origin's (with a token, as ever).
    let r = refused(get(&h, SERVICE_HOST, &format!("{METADATA}/x"), &[]));
    assert_eq!(r.status, 401);
}

#[test]
fn rfc9728_3_an_unknown_service_has_no_metadata() {
    let (h, _) = Harness::seeded();
    let outcome = h.exchange(
        &h.gw,
        &head("GET", "nope.example.com", METADATA, None, &[]),
        None,
    );
    let r = outcome.result.unwrap_err();
    assert_eq!(r.status, 404, "{}", text(&r));
    assert_eq!(json_body(&r)["error"], "not_found");
    assert_eq!(parse(outcome.audit)["reason"], "unknown_service");
    // A service deleted is gone from it too (within the cache TTL on other isolates).
    let r = h.admin("DELETE", "/admin/v1/services/my-api", None);
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(refused(get(&h, SERVICE_HOST, METADATA, &[])).status, 404);
}

#[test]
fn rfc9728_3_the_metadata_reads_the_service_from_the_cache() {
    let (h, _) = Harness::seeded();
    let isolate = h.isolate();
    let fetch = || h.service_on(&isolate, &head("GET", SERVICE_HOST, METADATA, None, &[]));
    assert_eq!(refused(fetch()).status, 200);
    let before = h.db.statements.get();
    for _ in 0..5 {
        assert_eq!(refused(fetch()).status, 200);
    }
    assert_eq!(
        h.db.statements.get(),
        before,
        "a warm metadata request reads storage"
    );
}

#[test]
fn rfc9728_5_1_every_challenge_of_a_service_names_its_metadata() {
    let (h, client) = Harness::seeded_with(&NO_THROTTLE);
    let expected = format!("resource_metadata=\"{MY_API}{METADATA}\"");
    let narrow = h.create_client("narrow", "root", &["service:b"]);
    let narrow_token = h.token_for(&narrow, None);
    // (case, the Authorization header if any, status)
    let cases = [
        ("no token", None, 401),
        ("bad token", Some(bearer("x.y.z")), 401),
        ("empty bearer", Some("Bearer ".to_owned()), 400),
        ("out of scope", Some(bearer(&narrow_token)), 403),
    ];
    for (case, authorization, status) in cases {
        let headers: Vec<(&str, &str)> = authorization
            .iter()
            .map(|v| ("authorization", v.as_str()))
            .collect();
        let r = refused(get(&h, SERVICE_HOST, "/", &headers));
        assert_eq!(r.status, status, "{case}: {}", text(&r));
        let challenge = r.header("www-authenticate").unwrap();
        assert!(
            challenge.starts_with("Bearer realm=\"isogate\""),
            "{case}: {challenge}"
        );
        assert!(challenge.ends_with(&expected), "{case}: {challenge}");
    }
    // A bare challenge is still bare of an error code (RFC 6750 §3.1).
    let r = refused(get(&h, SERVICE_HOST, "/", &[]));
    assert_eq!(
        r.header("www-authenticate"),
        Some(format!("Bearer realm=\"isogate\", {expected}").as_str())
    );
    authorized(h.call(&h.token_for(&client, None)));
}

#[test]
fn rfc8707_2_a_token_for_a_resource_has_exactly_that_audience_and_works_there() {
    let (h, client) = two_services();
    let token = access_token(&token_with(&h, &client, &[("resource", MY_API)]));
    assert_eq!(jwt_part(&token, 1)["aud"], MY_API);
    authorized(h.call(&token));
    // With the root path a URL parser adds: the same audience.
    let token = access_token(&token_with(
        &h,
        &client,
        &[("resource", &format!("{MY_API}/"))],
    ));
    assert_eq!(jwt_part(&token, 1)["aud"], MY_API);
}

#[test]
fn rfc8707_2_a_resource_bound_token_is_refused_at_another_service_whatever_its_scope() {
    let (h, client) = two_services();
    // Scope service:* reaches `other`, the audience does not.
    let token = access_token(&token_with(&h, &client, &[("resource", MY_API)]));
    assert_eq!(jwt_part(&token, 1)["scope"], "service:*");
    let auth = bearer(&token);
    let outcome = h.exchange(
        &h.gw,
        &head("GET", OTHER_HOST, "/", None, &[("authorization", &auth)]),
        None,
    );
    let r = outcome.result.unwrap_err();
    assert_bearer_error(&r, 401, "invalid_token");
    assert_eq!(
        json_body(&r)["error_description"],
        "the access token is for another resource"
    );
    assert!(r.header("www-authenticate").unwrap().contains(
        "resource_metadata=\"https://other.example.com/.well-known/oauth-protected-resource\""
    ));
    let line = parse(outcome.audit);
    assert_eq!(
        (&line["outcome"], &line["reason"]),
        (&json!("denied"), &json!("wrong_resource"))
    );
    // Not even an unknown service's 404 for it: the audience decides before any read.
    let r = refused(get(
        &h,
        "nope.example.com",
        "/",
        &[("authorization", &auth)],
    ));
    assert_bearer_error(&r, 401, "invalid_token");
    // The same token at its own service still works.
    authorized(h.call(&token));
}

#[test]
fn rfc8707_2_several_resources_give_an_array_audience_good_at_each_of_them() {
    let (h, client) = two_services();
    h.create_service("third", UPSTREAM, &[]);
    let other = "https://other.example.com";
    let r = token_with(
        &h,
        &client,
        &[
            ("resource", MY_API),
            ("resource", other),
            ("resource", MY_API),
        ],
    );
    let token = access_token(&r);
    assert_eq!(jwt_part(&token, 1)["aud"], json!([MY_API, other]));
    let auth = bearer(&token);
    authorized(h.call(&token));
    authorized(get(&h, OTHER_HOST, "/", &[("authorization", &auth)]));
    let r = refused(get(
        &h,
        "third.example.com",
        "/",
        &[("authorization", &auth)],
    ));
    assert_bearer_error(&r, 401, "invalid_token");
}

#[test]
fn rfc8707_2_without_resource_tokens_keep_the_issuers_audience() {
    let (h, client) = two_services();
    let token = h.token_for(&client, None);
    assert_eq!(jwt_part(&token, 1)["aud"], ISSUER);
    authorized(h.call(&token));
    let auth = bearer(&token);
    authorized(get(&h, OTHER_HOST, "/", &[("authorization", &auth)]));
}

#[test]
fn rfc8707_2_malformed_foreign_or_unknown_resources_are_invalid_target() {
    let (h, client) = two_services();
    let eleven: Vec<String> = (0..11).map(|_| MY_API.to_owned()).collect();
    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        (
            "fragment",
            vec!["https://my-api.example.com#top"],
            "fragment",
        ),
        ("query", vec!["https://my-api.example.com?v=1"], "query"),
        ("path", vec!["https://my-api.example.com/v1"], "path"),
        ("relative", vec!["my-api"], "absolute"),
        (
            "plain http",
            vec!["http://my-api.example.com"],
            "not a service URL",
        ),
        (
            "another host",
            vec!["https://my-api.evil.com"],
            "not a service URL",
        ),
        ("the issuer", vec![ISSUER], "not a service URL"),
        (
            "unknown service",
            vec!["https://nope.example.com"],
            "names no service",
        ),
        (
            "one good, one bad",
            vec![MY_API, "https://nope.example.com"],
            "names no service",
        ),
        (
            "too many",
            eleven.iter().map(String::as_str).collect(),
            "at most 10",
        ),
    ];
    for (case, resources, description) in cases {
        let extra: Vec<(&str, &str)> = resources.iter().map(|r| ("resource", *r)).collect();
        let r = token_with(&h, &client, &extra);
        assert_token_error(&r, 400, "invalid_target");
        let said = json_body(&r)["error_description"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(said.contains(description), "{case}: {said}");
        // The value is never echoed.
        assert!(
            !text(&r).contains("evil") && !text(&r).contains("nope"),
            "{case}"
        );
    }
    // The audit line says why.
    let form = format!(
        "{}&resource={}",
        post_form(&client, None),
        form_encode("https://nope.example.com")
    );
    let outcome = h.exchange(
        &h.gw,
        &head(
            "POST",
            DOMAIN,
            "/oauth2/token",
            None,
            &[("content-type", "application/x-www-form-urlencoded")],
        ),
        Some(form.as_bytes()),
    );
    assert_eq!(parse(outcome.audit)["reason"], "invalid_target");
}

#[test]
fn rfc8707_2_a_resource_the_scope_does_not_reach_is_invalid_target() {
    let (h, _) = two_services();
    // The credential's ceiling, and a narrower requested scope: both bound the resources.
    let narrow = h.create_client("narrow", "root", &["service:my-api"]);
    let r = token_with(&h, &narrow, &[("resource", "https://other.example.com")]);
    assert_token_error(&r, 400, "invalid_target");
    assert_eq!(
        json_body(&r)["error_description"],
        "resource is outside the granted scope"
    );
    // Outside the scope and unknown read the same: no probing of names the scope does not reach.
    let r = token_with(&h, &narrow, &[("resource", "https://nope.example.com")]);
    assert_eq!(
        json_body(&r)["error_description"],
        "resource is outside the granted scope"
    );
    let wide = h.create_client("wide", "root", &[]);
    let r = token_with(
        &h,
        &wide,
        &[
            ("scope", "service:my-api"),
            ("resource", "https://other.example.com"),
        ],
    );
    assert_token_error(&r, 400, "invalid_target");
    // A scope beyond the ceiling is still invalid_scope, judged first.
    let r = token_with(
        &h,
        &narrow,
        &[("scope", "service:other"), ("resource", MY_API)],
    );
    assert_token_error(&r, 400, "invalid_scope");
    // In scope: granted.
    let token = access_token(&token_with(&h, &narrow, &[("resource", MY_API)]));
    authorized(h.call(&token));
}

#[test]
fn rfc8707_2_resources_are_judged_only_after_the_client_is_authenticated() {
    let (h, client) = two_services();
    let wrong = Client {
        client_secret: "wrong".into(),
        ..client
    };
    let r = token_with(&h, &wrong, &[("resource", "https://nope.example.com#x")]);
    assert_token_error(&r, 401, "invalid_client");
}

#[test]
fn rfc7662_2_2_introspection_shows_the_audience_and_rfc7009_revokes_a_bound_token() {
    let (h, client) = two_services();
    let other = "https://other.example.com";
    let one = access_token(&token_with(&h, &client, &[("resource", MY_API)]));
    let two = access_token(&token_with(
        &h,
        &client,
        &[("resource", MY_API), ("resource", other)],
    ));
    let post = |path: &str, token: &str| {
        let form = format!(
            "{}&token={token}",
            post_form(&client, None).replace("grant_type=client_credentials&", "")
        );
        h.root(
            &head(
                "POST",
                DOMAIN,
                path,
                None,
                &[("content-type", "application/x-www-form-urlencoded")],
            ),
            form.as_bytes(),
        )
    };
    let r = post("/oauth2/introspect", &one);
    assert_eq!(
        (
            json_body(&r)["active"].clone(),
            json_body(&r)["aud"].clone()
        ),
        (json!(true), json!(MY_API))
    );
    let r = post("/oauth2/introspect", &two);
    assert_eq!(json_body(&r)["aud"], json!([MY_API, other]));
    let r = post("/oauth2/introspect", &h.token_for(&client, None));
    assert_eq!(json_body(&r)["aud"], ISSUER);
    assert_eq!(post("/oauth2/revoke", &one).status, 200);
    assert_bearer_error(&refused(h.call(&one)), 401, "invalid_token");
    assert_eq!(
        json_body(&post("/oauth2/introspect", &one))["active"],
        false
    );
}
