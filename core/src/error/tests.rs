//! Unit tests of the wire forms.

use super::*;

fn body(r: &Response) -> String {
    String::from_utf8(r.body.clone()).unwrap()
}

#[test]
fn error_bodies_are_byte_identical_to_the_published_wire_form() {
    let r = GatewayError::UnreadableBody.to_response();
    assert_eq!(
        body(&r),
        r#"{"error":"invalid_request","error_description":"the request body could not be read"}"#
    );
    let r = BearerError::InsufficientScope {
        refusal: ScopeRefusal::Policy,
        scope: "service:a".into(),
    }
    .to_response(&Challenge::realm("r"));
    assert_eq!(
        body(&r),
        r#"{"error":"insufficient_scope","error_description":"this service's policy does not admit this user","scope":"service:a"}"#
    );
    assert_eq!(
        r.header("www-authenticate"),
        Some(
            r#"Bearer realm="r", error="insufficient_scope", error_description="this service's policy does not admit this user", scope="service:a""#
        )
    );
    let r = GatewayError::ReadOnly.to_response();
    assert_eq!((r.status, r.header("allow")), (405, Some("GET, HEAD")));
}

#[test]
fn storage_failures_are_the_source_and_never_on_the_wire() {
    let e = TokenError::from(StoreError::new("d1: no such table: credentials"));
    assert_eq!(
        e.source().map(|s| s.to_string()).as_deref(),
        Some("storage error: d1: no such table: credentials")
    );
    assert!(!body(&e.to_response("r")).contains("d1"));
    assert!(BearerError::from(StoreError::new("x")).source().is_some());
    assert!(AdminError::from(StoreError::new("x")).source().is_some());
    assert!(TokenError::UnsupportedGrantType.source().is_none());
}

#[test]
fn rfc6750_3_challenge_values_are_quoted_string_safe() {
    assert_eq!(quote_safe("a \"quoted\" \\ value\n"), "a quoted  value");
    let r = BearerError::InvalidRequest("a \"quoted\" \\ value\n".into())
        .to_response(&Challenge::realm("r"));
    assert_eq!(
        r.header("www-authenticate"),
        Some(r#"Bearer realm="r", error="invalid_request", error_description="a quoted  value""#)
    );
}
