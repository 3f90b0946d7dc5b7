//! RFC 7009 token revocation and RFC 7662 introspection, through the gateway with a real
//! SQLite store and a fixed clock.

use isogate_core::http::Response;
use isogate_core::testing::*;

fn client_post(h: &Harness, path: &str, client: &Client, extra: &str) -> Response {
    let body = format!(
        "client_id={}&client_secret={}&{extra}",
        form_encode(&client.client_id),
        form_encode(&client.client_secret)
    );
    h.root(
        &head(
            "POST",
            DOMAIN,
            path,
            None,
            &[("content-type", "application/x-www-form-urlencoded")],
        ),
        body.as_bytes(),
    )
}

fn introspect(h: &Harness, client: &Client, token: &str) -> serde_json::Value {
    let r = client_post(h, "/oauth2/introspect", client, &format!("token={token}"));
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    json_body(&r)
}

#[test]
fn rfc7009_revoked_token_is_refused_here_at_once_and_elsewhere_within_the_cache_ttl() {
    let (h, client) = Harness::seeded();
    let token = h.token_for(&client, None);
    let other_isolate = h.isolate();
    authorized(h.call_with(&other_isolate, &token));
    let revoked_at = h.now_ms();
    let r = client_post(
        &h,
        "/oauth2/revoke",
        &client,
        &format!("token={token}&token_type_hint=access_token"),
    );
    assert_eq!(r.status, 200, "{}", text(&r));
    assert_bearer_error(&refused(h.call(&token)), 401, "invalid_token");
    // The other isolate looked the token up before the revocation ("not revoked", cached):
    // bounded by the TTL.
    h.set_ms(revoked_at + 4_999);
    authorized(h.call_with(&other_isolate, &token));
    h.set_ms(revoked_at + 5_000);
    assert_bearer_error(
        &refused(h.call_with(&other_isolate, &token)),
        401,
        "invalid_token",
    );
    // Other tokens of the same credential are untouched.
    authorized(h.call(&h.token_for(&client, None)));
}

#[test]
fn rfc7009_2_2_unknown_and_malformed_tokens_answer_200() {
    let (h, client) = Harness::seeded();
    for token in ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30."] {
        let r = client_post(&h, "/oauth2/revoke", &client, &format!("token={token}"));
        assert_eq!(r.status, 200, "{token}");
    }
}

#[test]
fn rfc7009_2_1_a_client_may_revoke_only_its_own_tokens() {
    let (h, client) = Harness::seeded();
    let other = h.create_client("other-client", "root", &[]);
    let token = h.token_for(&client, None);
    let r = client_post(&h, "/oauth2/revoke", &other, &format!("token={token}"));
    assert_token_error(&r, 400, "unauthorized_client");
    authorized(h.call(&token));
}

#[test]
fn rfc7009_2_1_revocation_requires_client_authentication() {
    let (h, client) = Harness::seeded();
    let token = h.token_for(&client, None);
    let wrong = Client {
        client_secret: "wrong".into(),
        ..client.clone()
    };
    assert_token_error(
        &client_post(&h, "/oauth2/revoke", &wrong, &format!("token={token}")),
        401,
        "invalid_client",
    );
    let r = h.root(
        &head(
            "POST",
            DOMAIN,
            "/oauth2/revoke",
            None,
            &[("content-type", "application/x-www-form-urlencoded")],
        ),
        format!("token={token}").as_bytes(),
    );
    assert_token_error(&r, 401, "invalid_client");
    assert_token_error(
        &client_post(&h, "/oauth2/revoke", &client, ""),
        400,
        "invalid_request",
    );
    authorized(h.call(&token));
}

#[test]
fn rfc7662_active_token_is_described() {
    let (h, client) = Harness::seeded();
    let token = h.token_for(&client, Some("service:my-api"));
    let v = introspect(&h, &client, &token);
    assert_eq!(v["active"], true);
    assert_eq!(v["scope"], "service:my-api");
    assert_eq!(v["client_id"], client.client_id.as_str());
    assert_eq!(v["sub"], "root");
    assert_eq!(v["username"], "root");
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["iss"], ISSUER);
    assert_eq!(v["exp"], h.now_secs() + 3600);
}

#[test]
fn rfc7662_2_2_inactive_tokens_answer_active_false_and_nothing_else() {
    let (h, client) = Harness::seeded();
    let resource_server = h.create_resource_server("resource-server");
    let revoked = h.token_for(&client, None);
    assert_eq!(
        client_post(&h, "/oauth2/revoke", &client, &format!("token={revoked}")).status,
        200
    );
    let expiring = h.token_for(&client, None);
    assert_eq!(introspect(&h, &resource_server, &expiring)["active"], true);
    let doomed_client = h.create_client("doomed", "root", &[]);
    let of_deleted_credential = h.token_for(&doomed_client, None);
    assert_eq!(
        h.admin("DELETE", "/admin/v1/credentials/doomed", None)
            .status,
        200
    );

    let only_inactive = serde_json::json!({ "active": false });
    for token in [revoked.as_str(), of_deleted_credential.as_str(), "garbage"] {
        assert_eq!(
            introspect(&h, &resource_server, token),
            only_inactive,
            "{token}"
        );
    }
    h.advance_ms(3_700_000);
    assert_eq!(introspect(&h, &resource_server, &expiring), only_inactive);
}

#[test]
fn rfc7662_4_a_client_learns_only_about_its_own_tokens_unless_it_may_introspect() {
    let (h, client) = Harness::seeded();
    let other = h.create_client("other-client", "root", &[]);
    let resource_server = h.create_resource_server("resource-server");
    let token = h.token_for(&client, Some("service:my-api"));
    // Another client's token: the same answer as an invalid one, nothing of its claims.
    assert_eq!(
        introspect(&h, &other, &token),
        serde_json::json!({ "active": false })
    );
    assert_eq!(introspect(&h, &client, &token)["active"], true);
    let v = introspect(&h, &resource_server, &token);
    assert_eq!(
        (v["active"].clone(), v["client_id"].clone()),
        (true.into(), client.client_id.as_str().into())
    );
    // The right is part of the credential, as the admin API shows it.
    let right = |name: &str| {
        json_body(&h.admin("GET", &format!("/admin/v1/credentials/{name}"), None))["credential"]
            ["can_introspect"]
            .clone()
    };
    assert_eq!(
        (right("resource-server"), right("other-client")),
        (true.into(), false.into())
    );
}

#[test]
fn rfc7662_2_1_introspection_requires_client_authentication() {
    let (h, client) = Harness::seeded();
    let token = h.token_for(&client, None);
    let wrong = Client {
        client_secret: "wrong".into(),
        ..client.clone()
    };
    assert_token_error(
        &client_post(&h, "/oauth2/introspect", &wrong, &format!("token={token}")),
        401,
        "invalid_client",
    );
}

#[test]
fn rfc8414_metadata_lists_revocation_and_introspection() {
    let (h, _) = Harness::seeded();
    let v = json_body(&h.root(
        &head(
            "GET",
            DOMAIN,
            "/.well-known/oauth-authorization-server",
            None,
            &[],
        ),
        b"",
    ));
    assert_eq!(v["revocation_endpoint"], format!("{ISSUER}/oauth2/revoke"));
    assert_eq!(
        v["introspection_endpoint"],
        format!("{ISSUER}/oauth2/introspect")
    );
    let methods = serde_json::json!([
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt"
    ]);
    assert_eq!(v["revocation_endpoint_auth_methods_supported"], methods);
    assert_eq!(v["introspection_endpoint_auth_methods_supported"], methods);
}
