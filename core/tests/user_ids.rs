//! Service policies and credentials refer to users by a stable id (issue #10): deleting a
//! user ends its access for good; a user re-created under the same name is someone else.

use isogate_core::testing::*;
use serde_json::json;

const ALICE_ONLY_HOST: &str = "alice-only.example.com";

fn call_host(
    h: &Harness,
    host: &str,
    token: &str,
) -> Result<isogate_core::Forward, isogate_core::http::Response> {
    let auth = format!("Bearer {token}");
    h.service(host, &[("authorization", &auth)])
}

fn assert_policy_refuses(r: Result<isogate_core::Forward, isogate_core::http::Response>) {
    let r = refused(r);
    assert_bearer_error(&r, 403, "insufficient_scope");
    assert_eq!(
        json_body(&r)["error_description"],
        "this service's policy does not admit this user"
    );
}

#[test]
fn a_user_deleted_and_re_created_under_the_same_name_is_still_denied_where_the_old_one_was_admitted(
) {
    let h = Harness::new();
    h.create_user("alice");
    h.create_service("alice-only", UPSTREAM, &["alice"]);
    let old = h.create_client("alice-cred", "alice", &[]);
    authorized(call_host(&h, ALICE_ONLY_HOST, &h.token_for(&old, None)));
    let old_id = json_body(&h.admin("GET", "/admin/v1/users/alice", None))["user"]["id"].clone();

    assert_eq!(h.admin("DELETE", "/admin/v1/users/alice", None).status, 200);
    h.create_user("alice");
    let new_id = json_body(&h.admin("GET", "/admin/v1/users/alice", None))["user"]["id"].clone();
    assert_ne!(new_id, old_id);
    let new = h.create_client("alice-cred-2", "alice", &[]);
    let token = h.token_for(&new, None);

    assert_policy_refuses(call_host(&h, ALICE_ONLY_HOST, &token));
    // On a cold isolate too, and whatever the token's scope says.
    let auth = format!("Bearer {token}");
    let request = head(
        "GET",
        ALICE_ONLY_HOST,
        "/",
        None,
        &[("authorization", &auth)],
    );
    assert_policy_refuses(h.service_on(&h.isolate(), &request));
    // Other services still admit her: she is a user, just not the one the policy names.
    h.create_service(SERVICE, UPSTREAM, &[]);
    authorized(h.call(&token));
    // The policy shows whom it names: the old id, under the name it was granted with.
    assert_eq!(
        json_body(&h.admin("GET", "/admin/v1/services/alice-only", None))["service"]
            ["allowed_user_ids"],
        json!([old_id])
    );
}

#[test]
fn a_service_whose_only_allowed_user_was_deleted_admits_nobody() {
    let h = Harness::new();
    h.create_user("alice");
    h.create_user("bob");
    h.create_service("alice-only", UPSTREAM, &["alice"]);
    let bob = h.create_client("bob-cred", "bob", &[]);
    let root = h.create_client("root-cred", "root", &[]);
    assert_eq!(h.admin("DELETE", "/admin/v1/users/alice", None).status, 200);
    for client in [&bob, &root] {
        assert_policy_refuses(call_host(&h, ALICE_ONLY_HOST, &h.token_for(client, None)));
    }
}

#[test]
fn user_ids_are_never_reused_even_after_deleting_the_newest_user() {
    let h = Harness::new();
    let id = |name: &str| {
        json_body(&h.admin("GET", &format!("/admin/v1/users/{name}"), None))["user"]["id"].clone()
    };
    assert_eq!(id("root"), json!(1));
    h.create_user("alice");
    assert_eq!(id("alice"), json!(2));
    assert_eq!(h.admin("DELETE", "/admin/v1/users/alice", None).status, 200);
    h.create_user("bob");
    assert_eq!(
        id("bob"),
        json!(3),
        "SQLite AUTOINCREMENT never hands out 2 again"
    );
    h.create_user("alice");
    assert_eq!(id("alice"), json!(4));
}
