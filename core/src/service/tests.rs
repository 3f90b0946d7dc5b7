//! Unit tests of bearer extraction (RFC 6750 §2) and the access decision.

use super::*;
use crate::testing::head;

#[test]
fn rfc6750_2_bearer_comes_from_one_header_only() {
    assert_eq!(
        extract_bearer(&head(
            "GET",
            "h",
            "/",
            None,
            &[("authorization", "Bearer  t ")]
        )),
        Ok("t")
    );
    assert_eq!(
        extract_bearer(&head("GET", "h", "/", None, &[("x-octelium-auth", "t")])),
        Ok("t")
    );
    let both = head(
        "GET",
        "h",
        "/",
        None,
        &[("authorization", "Bearer t"), ("x-octelium-auth", "t")],
    );
    assert!(matches!(
        extract_bearer(&both),
        Err(BearerError::InvalidRequest(_))
    ));
    assert_eq!(
        extract_bearer(&head(
            "GET",
            "h",
            "/",
            None,
            &[("authorization", "Basic x")]
        )),
        Err(BearerError::Missing)
    );
}

#[test]
fn rfc6750_2_3_access_token_query_parameter_is_refused_even_percent_encoded() {
    for q in ["access_token=t", "a=1&access%5Ftoken=t", "access_token"] {
        assert!(
            matches!(
                extract_bearer(&head("GET", "h", "/", Some(q), &[])),
                Err(BearerError::InvalidRequest(_))
            ),
            "{q}"
        );
    }
    assert_eq!(
        extract_bearer(&head("GET", "h", "/", Some("my_access_token=1"), &[])),
        Err(BearerError::Missing)
    );
}

/// A GET / by `user` holding `scopes`, in no group.
fn request(user: i64, scopes: &ScopeSet) -> policy::Request<'_> {
    policy::Request {
        user,
        groups: &[],
        client_id: "c",
        scopes,
        method: "GET",
        path: "/",
    }
}

#[test]
fn service_policy_admits_only_its_allowed_users_by_id() {
    const ALICE: i64 = 3;
    const BOB: i64 = 4;
    let service = Service {
        name: "s".into(),
        upstream: "http://o".into(),
        allowed_user_ids: vec![ALICE],
        allowed_users: vec!["alice".into()],
        created_at: 0,
        rate_limit: None,
        upstream_auth: None,
        rules: vec![],
    };
    let all = ScopeSet::all_services();
    assert_eq!(decide_access(&request(ALICE, &all), &service), Ok(()));
    assert!(matches!(
        decide_access(&request(BOB, &all), &service),
        Err(BearerError::InsufficientScope { .. })
    ));
    let other = ScopeSet::parse("service:t").unwrap();
    assert!(matches!(
        decide_access(&request(ALICE, &other), &service),
        Err(BearerError::InsufficientScope { .. })
    ));
    // A policy whose only user was deleted admits nobody, not everybody; nor does the id 0
    // that the 0003 migration gives names that had no user.
    let orphaned = Service {
        allowed_user_ids: vec![0],
        ..service
    };
    assert!(decide_access(&request(BOB, &all), &orphaned).is_err());
}

#[test]
fn allowed_users_are_checked_before_the_rules_and_rules_refuse_with_their_own_reason() {
    const ALICE: i64 = 3;
    const BOB: i64 = 4;
    let rules = vec![
        policy::parse_rule("deny paths=/admin").unwrap(),
        policy::parse_rule("allow methods=GET").unwrap(),
    ];
    let service = Service {
        name: "s".into(),
        upstream: "http://o".into(),
        allowed_user_ids: vec![ALICE],
        allowed_users: vec!["alice".into()],
        created_at: 0,
        rate_limit: None,
        upstream_auth: None,
        rules,
    };
    let all = ScopeSet::all_services();
    let refusal = |r: &policy::Request<'_>| match decide_access(r, &service) {
        Err(BearerError::InsufficientScope { refusal, scope }) => {
            assert_eq!(scope, "service:s");
            Some(refusal)
        }
        Err(e) => panic!("{e:?}"),
        Ok(()) => None,
    };
    assert_eq!(refusal(&request(ALICE, &all)), None);
    // An allow rule does not let in a user the allowed users leave out.
    assert_eq!(refusal(&request(BOB, &all)), Some(ScopeRefusal::Policy));
    let admin = policy::Request {
        path: "/admin/x",
        ..request(ALICE, &all)
    };
    assert_eq!(refusal(&admin), Some(ScopeRefusal::DeniedByRule));
    let post = policy::Request {
        method: "POST",
        ..request(ALICE, &all)
    };
    assert_eq!(refusal(&post), Some(ScopeRefusal::NoRuleMatched));
}
