//! Groups and request-level policy through the whole gateway, with a fixed clock: rules created
//! through the admin API, requests decided before any forward (403 `insufficient_scope`, RFC
//! 6750 §3.1, audit reasons `policy_denied` / `policy_no_match`), no storage read on the warm
//! path, and group membership changes reaching the isolate's caches.

use isogate_core::http::Response;
use isogate_core::testing::*;
use serde_json::{json, Value};

fn host() -> String {
    format!("payroll.{DOMAIN}")
}

fn body(r: &Response) -> Value {
    serde_json::from_slice(&r.body).unwrap_or(Value::Null)
}

/// `method path` on payroll with `token`: forwarded, or the refusal and its audit reason.
fn send(h: &Harness, token: &str, method: &str, path: &str) -> Result<String, (u16, String)> {
    let auth = format!("Bearer {token}");
    let head = head(method, &host(), path, None, &[("authorization", &auth)]);
    let outcome = h.exchange(&h.gw, &head, None);
    match outcome.result {
        Ok(forward) => Ok(forward.plan.url),
        Err(r) => {
            let line: Value =
                serde_json::from_str(outcome.audit.expect("a line").as_str()).unwrap();
            if r.status == 403 {
                let challenge = r.header("www-authenticate").unwrap_or("");
                assert!(
                    challenge.contains("error=\"insufficient_scope\""),
                    "{challenge}"
                );
                assert_eq!(body(&r)["error"], "insufficient_scope");
            }
            Err((r.status, line["reason"].as_str().unwrap_or("").to_owned()))
        }
    }
}

trait OnIsolate {
    fn call_with_host(&self, gw: &isogate_core::Gateway, token: &str) -> Result<(), ()>;
}

impl OnIsolate for Harness {
    /// `GET /` on payroll, on another isolate.
    fn call_with_host(&self, gw: &isogate_core::Gateway, token: &str) -> Result<(), ()> {
        let auth = format!("Bearer {token}");
        let head = head("GET", &host(), "/", None, &[("authorization", &auth)]);
        self.service_on(gw, &head).map(drop).map_err(drop)
    }
}

fn ok(r: Response, status: u16) -> Value {
    assert_eq!(r.status, status, "{}", String::from_utf8_lossy(&r.body));
    body(&r)
}

/// alice in finance, bob in ops, ci in none; payroll with the given rules; their tokens.
fn payroll(rules: &[&str]) -> (Harness, [String; 3]) {
    let h = Harness::new();
    for g in ["finance", "ops"] {
        ok(
            h.admin("POST", "/admin/v1/groups", Some(json!({ "name": g }))),
            201,
        );
    }
    for (user, groups) in [
        ("alice", vec!["finance"]),
        ("bob", vec!["ops"]),
        ("ci", vec![]),
    ] {
        let r = h.admin(
            "POST",
            "/admin/v1/users",
            Some(json!({ "name": user, "groups": groups })),
        );
        assert_eq!(ok(r, 201)["user"]["groups"], json!(groups));
    }
    // Credentials first: a rule may name one.
    let tokens = ["alice", "bob", "ci"].map(|u| {
        let client = h.create_client(&format!("{u}-cred"), u, &[]);
        h.token_for(&client, None)
    });
    let service = json!({ "name": "payroll", "upstream": UPSTREAM, "rules": rules });
    ok(h.admin("POST", "/admin/v1/services", Some(service)), 201);
    (h, tokens)
}

fn refused(reason: &str) -> Result<String, (u16, String)> {
    Err((403, reason.to_owned()))
}

#[test]
fn rules_by_group_admit_members_and_everyone_else_is_denied_by_default() {
    let (h, [alice, bob, ci]) = payroll(&["allow group=finance"]);
    assert!(send(&h, &alice, "GET", "/payslips").is_ok());
    assert!(send(&h, &alice, "DELETE", "/anything/at/all").is_ok());
    for token in [&bob, &ci] {
        assert_eq!(
            send(&h, token, "GET", "/payslips"),
            refused("policy_no_match")
        );
    }
}

#[test]
fn the_issues_payroll_policy_decides_by_group_user_method_and_path_first_match_first() {
    let (h, [alice, bob, ci]) = payroll(&[
        "deny paths=/admin/*",
        "allow group=finance",
        "allow user=ci methods=GET,HEAD paths=/reports/*",
    ]);
    // First match: the deny comes first, so finance does not reach /admin/... either.
    assert_eq!(
        send(&h, &alice, "GET", "/admin/users"),
        refused("policy_denied")
    );
    assert!(send(&h, &alice, "POST", "/payslips/2026").is_ok());
    // ci: GET and HEAD under /reports/, nothing else.
    let url = send(&h, &ci, "GET", "/reports/q1").unwrap();
    assert!(url.ends_with("/reports/q1"), "{url}");
    assert!(send(&h, &ci, "HEAD", "/reports/q1/summary").is_ok());
    for (method, path) in [
        ("POST", "/reports/q1"),
        ("GET", "/reports"),
        ("GET", "/reports/"),
        ("GET", "/payslips"),
        ("GET", "/Reports/q1"),
        ("GET", "/reports%2Fq1"),
    ] {
        assert_eq!(
            send(&h, &ci, method, path),
            refused("policy_no_match"),
            "{method} {path}"
        );
    }
    // ci's admin attempts meet the deny however the path is spelled.
    for path in [
        "/admin/x",
        "//admin/x",
        "/ADMIN/x",
        "/admin%2Fx",
        "/admin;a=b/x",
        "/%61dmin/x",
    ] {
        assert_eq!(
            send(&h, &ci, "GET", path),
            refused("policy_denied"),
            "{path}"
        );
    }
    // Dot segments never get that far: 400 before the token is looked at.
    for path in [
        "/reports/../admin",
        "/reports/%2e%2e/admin",
        "/reports/..;/admin",
    ] {
        assert_eq!(
            send(&h, &ci, "GET", path),
            Err((400, "malformed".into())),
            "{path}"
        );
    }
    assert_eq!(
        send(&h, &bob, "GET", "/reports/q1"),
        refused("policy_no_match")
    );

    // The same rules with the allow first: finance reaches /admin/.
    let (h, [alice, _, ci]) = payroll(&["allow group=finance", "deny paths=/admin/*", "allow any"]);
    assert!(send(&h, &alice, "GET", "/admin/users").is_ok());
    assert_eq!(
        send(&h, &ci, "GET", "/admin/users"),
        refused("policy_denied")
    );
    assert!(send(&h, &ci, "GET", "/anything").is_ok());
}

#[test]
fn methods_are_exact_for_allow_and_case_blind_for_deny() {
    let (h, [alice, ..]) = payroll(&["deny methods=DELETE", "allow methods=GET"]);
    assert!(send(&h, &alice, "GET", "/").is_ok());
    assert_eq!(send(&h, &alice, "delete", "/x"), refused("policy_denied"));
    assert_eq!(send(&h, &alice, "get", "/x"), refused("policy_no_match"));
}

#[test]
fn rules_by_credential_and_scope() {
    let (h, [alice, bob, _]) =
        payroll(&["allow credential=bob-cred", "allow scope=service:payroll"]);
    assert!(send(&h, &bob, "GET", "/").is_ok());
    // alice's token holds service:* (her credential has no ceiling): not service:payroll.
    assert_eq!(send(&h, &alice, "GET", "/"), refused("policy_no_match"));
    let narrow = h.create_client("alice-narrow", "alice", &["service:payroll"]);
    let token = h.token_for(&narrow, None);
    assert!(send(&h, &token, "GET", "/").is_ok());
}

#[test]
fn allowed_users_still_apply_before_the_rules() {
    let h = Harness::new();
    h.create_user("alice");
    h.create_user("bob");
    let service = json!({ "name": "payroll", "upstream": UPSTREAM, "allowed_users": ["alice"],
        "rules": ["deny paths=/admin", "allow any"] });
    ok(h.admin("POST", "/admin/v1/services", Some(service)), 201);
    let alice = h.token_for(&h.create_client("a", "alice", &[]), None);
    let bob = h.token_for(&h.create_client("b", "bob", &[]), None);
    assert!(send(&h, &alice, "GET", "/x").is_ok());
    assert_eq!(send(&h, &alice, "GET", "/admin"), refused("policy_denied"));
    assert_eq!(send(&h, &bob, "GET", "/x"), refused("policy"));
}

#[test]
fn a_warm_request_with_a_ten_rule_policy_and_groups_makes_no_storage_read() {
    let mut rules: Vec<String> = (0..9).map(|i| format!("deny paths=/p{i}/*")).collect();
    rules.push("allow group=finance methods=GET paths=/reports".into());
    let rules: Vec<&str> = rules.iter().map(String::as_str).collect();
    let (h, [alice, bob, _]) = payroll(&rules);
    assert!(send(&h, &alice, "GET", "/reports/q1").is_ok());
    assert_eq!(
        send(&h, &bob, "GET", "/reports/q1"),
        refused("policy_no_match")
    );
    let before = h.db.statements.get();
    for _ in 0..3 {
        assert!(send(&h, &alice, "GET", "/reports/q1").is_ok());
        assert_eq!(
            send(&h, &bob, "GET", "/reports/q1"),
            refused("policy_no_match")
        );
    }
    assert_eq!(h.db.statements.get(), before, "warm requests read nothing");
}

#[test]
fn group_membership_changes_reach_this_isolate_at_once_and_others_within_the_cache_lifetime() {
    let (h, [_, bob, _]) = payroll(&["allow group=finance"]);
    let other = h.isolate();
    let call_other = |token: &str| h.call_with_host(&other, token);
    assert_eq!(send(&h, &bob, "GET", "/"), refused("policy_no_match"));
    assert!(
        call_other(&bob).is_err(),
        "the other isolate caches bob outside finance"
    );

    let change = json!({ "add": ["bob"] });
    let group = ok(
        h.admin("PATCH", "/admin/v1/groups/finance", Some(change)),
        200,
    );
    assert_eq!(group["group"]["members"], json!(["alice", "bob"]));
    assert!(
        send(&h, &bob, "GET", "/").is_ok(),
        "at once where the change was made"
    );
    assert!(call_other(&bob).is_err(), "still cached elsewhere");
    h.advance_ms(5_001); // ISOGATE_CACHE_TTL_MS's default
    assert!(
        call_other(&bob).is_ok(),
        "after the cache lifetime everywhere"
    );

    let change = json!({ "remove": ["bob"] });
    ok(
        h.admin("PATCH", "/admin/v1/groups/finance", Some(change)),
        200,
    );
    assert_eq!(send(&h, &bob, "GET", "/"), refused("policy_no_match"));
}

#[test]
fn admin_refuses_bad_rules_unknown_names_and_deleting_a_group_rules_name() {
    let (h, _) = payroll(&["allow group=finance"]);
    for (rules, says) in [
        (json!(["allow group=nope"]), "group \"nope\""),
        (json!(["allow user=nobody"]), "user \"nobody\""),
        (json!(["allow credential=none"]), "credential \"none\""),
        (json!(["permit any"]), "allow or deny"),
        (json!(["allow methods=get"]), "upper case"),
        (json!(["allow paths=/a/"]), "empty segment"),
        (json!(["allow"]), "no condition"),
    ] {
        let service = json!({ "name": "bad", "upstream": UPSTREAM, "rules": rules });
        let r = h.admin("POST", "/admin/v1/services", Some(service));
        let b = ok(r, 400);
        let description = b["error_description"].as_str().unwrap();
        assert!(description.contains(says), "{rules}: {description}");
    }
    let r = h.admin(
        "POST",
        "/admin/v1/users",
        Some(json!({ "name": "x", "groups": ["nope"] })),
    );
    ok(r, 400);
    ok(
        h.admin("POST", "/admin/v1/groups", Some(json!({ "name": "ops" }))),
        409,
    );

    // A rule names finance: deleting it would leave a rule about nobody (409).
    let r = ok(h.admin("DELETE", "/admin/v1/groups/finance", None), 409);
    assert!(r["error_description"].as_str().unwrap().contains("payroll"));
    ok(h.admin("DELETE", "/admin/v1/services/payroll", None), 200);
    ok(h.admin("DELETE", "/admin/v1/groups/finance", None), 200);
    ok(h.admin("GET", "/admin/v1/groups/finance", None), 404);
    let users = ok(h.admin("GET", "/admin/v1/users/alice", None), 200);
    assert_eq!(users["user"]["groups"], json!([]));
}

#[test]
fn the_service_view_shows_the_rules_in_order_with_ids_and_names() {
    let (h, _) = payroll(&[
        "deny paths=/admin/*",
        "allow group=finance user=ci methods=GET",
    ]);
    let view = ok(h.admin("GET", "/admin/v1/services/payroll", None), 200);
    let groups = ok(h.admin("GET", "/admin/v1/groups", None), 200);
    let finance = &groups["groups"][0];
    assert_eq!(finance["name"], "finance");
    assert_eq!(finance["members"], json!(["alice"]));
    let id = finance["id"].as_i64().unwrap();
    assert_eq!(
        view["service"]["rules"],
        json!([
            "deny paths=/admin/*",
            format!("allow group=finance#{id} user=ci#4 methods=GET"),
        ])
    );
}
