//! Unit tests of resource identifiers (RFC 8707 §2), audiences (RFC 9068 §4) and the metadata
//! document (RFC 9728 §2).

use super::*;

fn urls() -> ServiceUrls {
    ServiceUrls::new("https://example.com", "example.com")
}

#[test]
fn the_identifier_is_the_service_url_with_the_issuers_scheme() {
    let cases = [
        (
            "https://example.com",
            "example.com",
            "https://my-api.example.com",
        ),
        (
            "http://localhost:8787",
            "localhost:8787",
            "http://my-api.localhost:8787",
        ),
        // A separate issuer host changes only the scheme taken from it.
        (
            "https://auth.example.org",
            "example.com",
            "https://my-api.example.com",
        ),
        (
            "HTTP://localhost:1",
            "localhost:1",
            "http://my-api.localhost:1",
        ),
    ];
    for (issuer, domain, url) in cases {
        let urls = ServiceUrls::new(issuer, domain);
        assert_eq!(urls.of("my-api"), url);
        assert_eq!(
            urls.metadata_url("my-api"),
            format!("{url}/.well-known/oauth-protected-resource")
        );
        assert_eq!(urls.service_of(url), Some("my-api"));
    }
}

#[test]
fn rfc8707_2_a_resource_is_a_service_url_of_this_gateway() {
    let urls = urls();
    for (value, name) in [
        ("https://my-api.example.com", "my-api"),
        // `new URL(...).href` adds the root path; scheme and host compare without case.
        ("https://my-api.example.com/", "my-api"),
        ("HTTPS://My-Api.Example.COM", "my-api"),
    ] {
        assert_eq!(urls.parse_resource(value).as_deref(), Ok(name), "{value}");
    }
}

#[test]
fn rfc8707_2_malformed_or_foreign_resources_are_invalid_target() {
    let urls = urls();
    let cases = [
        ("https://my-api.example.com#x", InvalidTarget::Fragment),
        ("https://my-api.example.com/#", InvalidTarget::Fragment),
        ("https://my-api.example.com?x=1", InvalidTarget::Query),
        ("https://my-api.example.com/?", InvalidTarget::Query),
        ("my-api", InvalidTarget::NotAbsolute),
        ("urn:isogate:my-api", InvalidTarget::NotAbsolute),
        ("https://my-api.example.com/v1", InvalidTarget::Path),
        ("https://my-api.example.com//", InvalidTarget::Path),
        // Plain http on an https deployment, another scheme altogether.
        ("http://my-api.example.com", InvalidTarget::NotOurs),
        ("wss://my-api.example.com", InvalidTarget::NotOurs),
        // The root domain is the authorization server, not a protected resource.
        ("https://example.com", InvalidTarget::NotOurs),
        ("https://evil.com", InvalidTarget::NotOurs),
        (
            "https://my-api.example.com.evil.com",
            InvalidTarget::NotOurs,
        ),
        ("https://a.b.example.com", InvalidTarget::NotOurs),
        ("https://user@my-api.example.com", InvalidTarget::NotOurs),
        ("https://my-api.example.com:443", InvalidTarget::NotOurs),
        ("https://-bad.example.com", InvalidTarget::NotOurs),
        ("https://my%2Dapi.example.com", InvalidTarget::NotOurs),
        ("https://.example.com", InvalidTarget::NotOurs),
    ];
    for (value, why) in cases {
        assert_eq!(urls.parse_resource(value), Err(why), "{value}");
    }
}

#[test]
fn requested_services_are_bounded_deduplicated_and_in_scope() {
    let urls = urls();
    let all = ScopeSet::all_services();
    let url = |n: &str| urls.of(n);
    assert_eq!(requested_services(&urls, &[], &all), Ok(vec![]));
    assert_eq!(
        requested_services(&urls, &[url("b"), url("a"), format!("{}/", url("b"))], &all),
        Ok(vec!["b".to_owned(), "a".to_owned()])
    );
    let only_a = ScopeSet::parse("service:a").unwrap();
    assert_eq!(
        requested_services(&urls, &[url("a"), url("b")], &only_a),
        Err(InvalidTarget::OutOfScope)
    );
    let ten: Vec<String> = (0..MAX_RESOURCES).map(|i| url(&format!("s{i}"))).collect();
    assert_eq!(
        requested_services(&urls, &ten, &all).map(|v| v.len()),
        Ok(10)
    );
    let eleven: Vec<String> = (0..=MAX_RESOURCES).map(|i| url(&format!("s{i}"))).collect();
    assert_eq!(
        requested_services(&urls, &eleven, &all),
        Err(InvalidTarget::TooMany)
    );
}

#[test]
fn rfc9068_4_an_audience_is_the_issuer_or_service_urls_and_nothing_else() {
    let urls = urls();
    let iss = "https://example.com";
    let classify = |aud: &[&str]| TokenAudience::classify(aud.iter().copied(), iss, &urls);
    assert_eq!(classify(&[iss]), Some(TokenAudience::Gateway));
    assert_eq!(
        classify(&["https://a.example.com", "https://b.example.com"]),
        Some(TokenAudience::Services(vec!["a".into(), "b".into()]))
    );
    // The issuer beside a service does not widen it.
    assert_eq!(
        classify(&[iss, "https://a.example.com"]),
        Some(TokenAudience::Services(vec!["a".into()]))
    );
    for foreign in [
        &[][..],
        &["https://other.example"][..],
        &["https://a.example.com", "https://other.example"][..],
        // Only the exact form this gateway writes: no trailing slash, no other case.
        &["https://a.example.com/"][..],
        &["https://A.example.com"][..],
    ] {
        assert_eq!(classify(foreign), None, "{foreign:?}");
    }
    let a = classify(&["https://a.example.com"]).unwrap();
    assert!(a.admits("a") && !a.admits("b"));
    assert!(TokenAudience::Gateway.admits("b"));
}

#[test]
fn rfc9728_2_the_metadata_names_the_resource_its_server_scope_and_bearer_method() {
    let metadata = ResourceMetadata::of(&urls(), "https://example.com", "my-api");
    assert_eq!(
        serde_json::to_string(&metadata).unwrap(),
        r#"{"authorization_servers":["https://example.com"],"bearer_methods_supported":["header"],"dpop_signing_alg_values_supported":["EdDSA","Ed25519","ES256"],"resource":"https://my-api.example.com","scopes_supported":["service:my-api"]}"#
    );
}
