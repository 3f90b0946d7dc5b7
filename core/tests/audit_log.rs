//! The audit log of a scripted session, through `Gateway::start` as the runtimes drive it:
//! admin changes, a token issued, a forward, a scope and a policy denial, a revocation and the
//! revoked token refused, a wrong secret; each line checked field by field, and none holding a
//! secret, a token, a query string or a body that was sent.

use isogate_core::audit::AuditLine;
use isogate_core::forward::UpstreamOutcome;
use isogate_core::http::RequestHead;
use isogate_core::testing::*;
use isogate_core::Now;
use serde_json::{json, Value};

/// Markers sent where the log must not repeat them.
const QUERY_MARKER: &str = "q-marker-8c1f";
const BODY_MARKER: &str = "body-marker-77d2";

fn parse(line: Option<AuditLine>) -> Value {
    let line = line.expect("an audit line");
    serde_json::from_str(line.as_str()).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
}

/// The request, answered; its response and its line.
fn answered(h: &Harness, head: RequestHead, body: &[u8]) -> (isogate_core::http::Response, Value) {
    let outcome = h.exchange_with(
        &h.gw,
        &isogate_core::keys::PortableEd25519,
        head,
        Some(body),
    );
    let response = outcome.result.expect_err("answered, not forwarded");
    (response, parse(outcome.audit))
}

/// Checks `line`'s fields: every pair of `expected`, and no other field than those listed
/// plus the ones every line has.
#[track_caller]
fn assert_fields(line: &Value, expected: Value) {
    let line = line.as_object().unwrap();
    let expected = expected.as_object().unwrap();
    for (key, value) in expected {
        assert_eq!(line.get(key), Some(value), "{key} in {line:?}");
    }
    for key in line.keys() {
        let always = [
            "log",
            "time",
            "request_id",
            "host",
            "method",
            "path",
            "status",
        ];
        assert!(
            always.contains(&key.as_str()) || key == "duration_ms" || expected.contains_key(key),
            "unexpected field {key} in {line:?}"
        );
    }
    assert_eq!(line["log"], "audit");
    assert_eq!(line["time"], "2023-11-14T22:13:20.000Z");
}

#[test]
fn a_scripted_session_leaves_one_line_per_decision_and_no_secret() {
    let h = Harness::new();
    let mut lines = Vec::new();
    let admin = |method: &str, path: &str, body: Option<Value>| {
        let bytes = body
            .map(|b| serde_json::to_vec(&b).unwrap())
            .unwrap_or_default();
        let auth = format!("Bearer {ADMIN_TOKEN}");
        let headers = [
            ("content-type", "application/json"),
            ("authorization", &auth),
        ];
        answered(&h, head(method, DOMAIN, path, None, &headers), &bytes)
    };
    let admin_id = isogate_core::audit::admin_credential_id(ADMIN_TOKEN);

    // Admin changes: who (the admin credential's id), what, which object.
    let (r, line) = admin("POST", "/admin/v1/users", Some(json!({"name": "alice"})));
    assert_eq!(r.status, 201);
    assert_fields(
        &line,
        json!({"outcome": "admin_change", "admin": admin_id, "action": "create",
               "object": "user", "name": "alice", "status": 201, "path": "/admin/v1/users"}),
    );
    lines.push(line);
    for (name, allowed) in [(SERVICE, json!([])), ("payroll", json!(["alice"]))] {
        let body = json!({"name": name, "upstream": UPSTREAM, "allowed_users": allowed});
        assert_eq!(
            admin("POST", "/admin/v1/services", Some(body)).0.status,
            201
        );
    }
    let (r, line) = admin(
        "POST",
        "/admin/v1/credentials",
        Some(json!({"name": "ci", "user": "alice", "type": "oauth2"})),
    );
    let created = json_body(&r);
    let (client_id, secret) = (
        created["client_id"].as_str().unwrap().to_owned(),
        created["client_secret"].as_str().unwrap().to_owned(),
    );
    assert_fields(
        &line,
        json!({"outcome": "admin_change", "admin": admin_id, "action": "create",
               "object": "credential", "name": "ci"}),
    );
    lines.push(line);
    let root = h.create_client("root-cred", "root", &[]);

    // A token issued: the credential, its user and client id, the new token's jti.
    let form = |secret: &str, extra: &str| {
        format!("grant_type=client_credentials&client_id={client_id}&client_secret={secret}{extra}")
    };
    let token_head = || {
        let headers = [("content-type", "application/x-www-form-urlencoded")];
        head("POST", DOMAIN, "/oauth2/token", None, &headers)
    };
    let (r, line) = answered(&h, token_head(), form(&secret, "").as_bytes());
    let token = json_body(&r)["access_token"].as_str().unwrap().to_owned();
    let jti = jwt_part(&token, 1)["jti"].as_str().unwrap().to_owned();
    assert_fields(
        &line,
        json!({"outcome": "token_issued", "user": "alice", "credential": "ci",
               "client_id": client_id, "jti": jti, "status": 200, "path": "/oauth2/token"}),
    );
    assert_eq!(
        line["request_id"].as_str().unwrap().len(),
        22,
        "a random id"
    );
    assert_eq!(r.header("x-request-id"), line["request_id"].as_str());
    lines.push(line);

    // A forward: the line is finished with the origin's status when it has answered.
    let bearer = format!("Bearer {token}");
    let service_head = head(
        "POST",
        SERVICE_HOST,
        "/items/7",
        Some(&format!("page=2&{QUERY_MARKER}=1")),
        &[
            ("authorization", &bearer),
            ("x-request-id", "client-id-1"),
            ("content-length", "16"),
        ],
    );
    let forward = authorized(h.exchange(&h.gw, &service_head, None).result);
    let ids: Vec<_> = forward
        .plan
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("x-request-id"))
        .collect();
    assert_eq!(
        ids,
        [&("x-request-id".to_owned(), "client-id-1".to_owned())]
    );
    let origin = [];
    let answered_at = Now::from_unix_ms(h.now_ms() + 25);
    let (_, line) = forward.record.relay(
        UpstreamOutcome::Responded {
            status: 201,
            headers: &origin,
        },
        answered_at,
    );
    let line = parse(line);
    assert_fields(
        &line,
        json!({"outcome": "forwarded", "service": SERVICE, "host": SERVICE_HOST,
               "method": "POST", "path": "/items/7", "user": "alice", "credential": "ci",
               "client_id": client_id, "jti": jti, "status": 201, "origin_status": 201,
               "duration_ms": 25, "request_id": "client-id-1"}),
    );
    lines.push(line);

    // A scope denial, and a policy denial (root is not among payroll's allowed users).
    let narrow = h.token_for(
        &Client {
            name: "ci".into(),
            client_id: client_id.clone(),
            client_secret: secret.clone(),
        },
        Some("service:payroll"),
    );
    let narrow_jti = jwt_part(&narrow, 1)["jti"].as_str().unwrap().to_owned();
    let call = |host: &str, token: &str| {
        let auth = format!("Bearer {token}");
        let outcome = h.exchange(
            &h.gw,
            &head("GET", host, "/", None, &[("authorization", &auth)]),
            None,
        );
        (outcome.result.expect_err("refused"), parse(outcome.audit))
    };
    let (r, line) = call(SERVICE_HOST, &narrow);
    assert_eq!(r.status, 403);
    assert_fields(
        &line,
        json!({"outcome": "denied", "reason": "scope", "service": SERVICE, "user": "alice",
               "credential": "ci", "client_id": client_id, "jti": narrow_jti, "status": 403}),
    );
    lines.push(line);
    let root_token = h.token_for(&root, None);
    let (r, line) = call("payroll.example.com", &root_token);
    assert_eq!(r.status, 403);
    assert_fields(
        &line,
        json!({"outcome": "denied", "reason": "policy", "service": "payroll", "user": "root",
               "credential": "root-cred", "client_id": root.client_id,
               "jti": jwt_part(&root_token, 1)["jti"], "status": 403}),
    );
    lines.push(line);

    // A revocation, then the revoked token refused.
    let revoke_head = head(
        "POST",
        DOMAIN,
        "/oauth2/revoke",
        None,
        &[("content-type", "application/x-www-form-urlencoded")],
    );
    let revoke = format!("client_id={client_id}&client_secret={secret}&token={token}");
    let (r, line) = answered(&h, revoke_head, revoke.as_bytes());
    assert_eq!(r.status, 200);
    assert_fields(
        &line,
        json!({"outcome": "token_revoked", "user": "alice", "credential": "ci",
               "client_id": client_id, "jti": jti, "status": 200}),
    );
    lines.push(line);
    let (r, line) = call(SERVICE_HOST, &token);
    assert_eq!(r.status, 401);
    assert_fields(
        &line,
        json!({"outcome": "denied", "reason": "revoked", "service": SERVICE, "user": "alice",
               "credential": "ci", "client_id": client_id, "jti": jti, "status": 401}),
    );
    lines.push(line);

    // A wrong secret: the client id as presented, nothing of the secret.
    let wrong = format!("wrong-{BODY_MARKER}");
    let (r, line) = answered(&h, token_head(), form(&wrong, "").as_bytes());
    assert_eq!(r.status, 401);
    assert_fields(
        &line,
        json!({"outcome": "token_refused", "reason": "bad_secret", "client_id": client_id,
               "status": 401}),
    );
    lines.push(line);

    // Admin delete.
    let (r, line) = admin("DELETE", "/admin/v1/credentials/ci", None);
    assert_eq!(r.status, 200);
    assert_fields(
        &line,
        json!({"outcome": "admin_change", "admin": admin_id, "action": "delete",
               "object": "credential", "name": "ci", "path": "/admin/v1/credentials/ci"}),
    );
    lines.push(line);

    let all: String = lines.iter().map(|l| l.to_string() + "\n").collect();
    for secret_thing in [
        secret.as_str(),
        token.as_str(),
        narrow.as_str(),
        root.client_secret.as_str(),
        ADMIN_TOKEN,
        QUERY_MARKER,
        BODY_MARKER,
        "page=2",
    ] {
        assert!(
            !all.contains(secret_thing),
            "{secret_thing} in the log:\n{all}"
        );
    }
}

#[test]
fn the_origin_gets_one_request_id_whatever_spellings_the_client_sent() {
    let (h, client) = Harness::seeded();
    let auth = format!("Bearer {}", h.token_for(&client, None));
    for sent in [
        &[("x-request-id", "mine-1"), ("x_request_id", "forged")][..],
        &[("X-Request-Id", "two"), ("x-request-id", "ids")][..],
        &[("X_REQUEST_ID", "forged")][..],
    ] {
        let mut headers = vec![("authorization", auth.as_str())];
        headers.extend_from_slice(sent);
        let forward = authorized(
            h.exchange(&h.gw, &head("GET", SERVICE_HOST, "/", None, &headers), None)
                .result,
        );
        let ids: Vec<&str> = forward
            .plan
            .headers
            .iter()
            .filter(|(n, _)| n.replace('_', "-").eq_ignore_ascii_case("x-request-id"))
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(ids.len(), 1, "{sent:?}: {ids:?}");
        assert_eq!(ids[0], forward.record.request_id());
        assert_ne!(ids[0], "forged");
        assert_eq!(ids[0] == "mine-1", sent[0].1 == "mine-1", "{sent:?}");
    }
}

#[test]
fn isogate_audit_off_prints_nothing_but_still_sends_request_ids() {
    let h = Harness::with_settings(&[("ISOGATE_AUDIT", Some("off"))]);
    h.create_service(SERVICE, UPSTREAM, &[]);
    let client = h.create_client("c", "root", &[]);
    let outcome = h.exchange(
        &h.gw,
        &head(
            "POST",
            DOMAIN,
            "/oauth2/token",
            None,
            &[("content-type", "application/x-www-form-urlencoded")],
        ),
        Some(post_form(&client, None).as_bytes()),
    );
    assert!(outcome.audit.is_none());
    let response = outcome.result.unwrap_err();
    assert_eq!(response.status, 200);
    assert_eq!(response.header("x-request-id").map(str::len), Some(22));
}

#[test]
fn isogate_audit_denials_logs_refusals_and_admin_changes_only() {
    let h = Harness::with_settings(&[("ISOGATE_AUDIT", Some("denials"))]);
    let created = h.exchange(
        &h.gw,
        &head(
            "POST",
            DOMAIN,
            "/admin/v1/users",
            None,
            &[("authorization", &format!("Bearer {ADMIN_TOKEN}"))],
        ),
        Some(br#"{"name":"bob"}"#),
    );
    assert_eq!(parse(created.audit)["outcome"], "admin_change");
    let read = h.exchange(
        &h.gw,
        &head(
            "GET",
            DOMAIN,
            "/admin/v1/users",
            None,
            &[("authorization", &format!("Bearer {ADMIN_TOKEN}"))],
        ),
        Some(b""),
    );
    assert!(read.audit.is_none(), "reads are not logged at denials");
    let refused = h.exchange(&h.gw, &head("GET", SERVICE_HOST, "/", None, &[]), None);
    assert_eq!(parse(refused.audit)["reason"], "missing_token");
}

#[test]
fn an_unknown_client_id_is_not_logged_it_may_be_a_misplaced_secret() {
    let h = Harness::new();
    // A client that swapped its id and secret: the "id" is the secret.
    let secret_as_id = format!("s3cret-{BODY_MARKER}");
    let form =
        format!("grant_type=client_credentials&client_id={secret_as_id}&client_secret=aaaa-bbbb");
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
    let line = outcome.audit.expect("a line");
    assert!(!line.as_str().contains(BODY_MARKER), "{line}");
    let v: Value = serde_json::from_str(line.as_str()).unwrap();
    assert_eq!(
        (&v["outcome"], &v["reason"]),
        (&"token_refused".into(), &"unknown_client".into())
    );
    assert!(v.get("client_id").is_none(), "{line}");
}

#[test]
fn discovery_and_health_are_no_decisions_and_get_no_line() {
    let h = Harness::new();
    for path in [
        "/.well-known/oauth-authorization-server",
        "/oauth2/jwks",
        "/healthz",
    ] {
        let outcome = h.exchange(&h.gw, &head("GET", DOMAIN, path, None, &[]), None);
        assert!(outcome.audit.is_none(), "{path}");
    }
    let unknown = h.exchange(&h.gw, &head("GET", "elsewhere.org", "/", None, &[]), None);
    assert_eq!(parse(unknown.audit)["reason"], "unknown_host");
}
