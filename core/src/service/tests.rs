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

#[test]
fn service_policy_admits_only_its_allowed_users_by_id() {
    const ALICE: UserId = 3;
    const BOB: UserId = 4;
    let service = Service {
        name: "s".into(),
        upstream: "http://o".into(),
        allowed_user_ids: vec![ALICE],
        allowed_users: vec!["alice".into()],
        created_at: 0,
        rate_limit: None,
        upstream_auth: None,
    };
    let all = ScopeSet::all_services();
    assert_eq!(decide_access(&all, ALICE, &service), Ok(()));
    assert!(matches!(
        decide_access(&all, BOB, &service),
        Err(BearerError::InsufficientScope { .. })
    ));
    let other = ScopeSet::parse("service:t").unwrap();
    assert!(matches!(
        decide_access(&other, ALICE, &service),
        Err(BearerError::InsufficientScope { .. })
    ));
    // A policy whose only user was deleted admits nobody, not everybody; nor does the id 0
    // that the 0003 migration gives names that had no user.
    let orphaned = Service {
        allowed_user_ids: vec![0],
        ..service
    };
    assert!(decide_access(&all, BOB, &orphaned).is_err());
}
