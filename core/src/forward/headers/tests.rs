//! Unit tests of the strip rules and the forwarding headers, at the level of one name or one
//! value (the forward plan's own tests check them in a whole plan).

use super::*;

fn stripped(name: &str) -> bool {
    is_stripped(name)
}

#[test]
fn names_are_compared_lower_case_with_underscores_as_hyphens() {
    for name in [
        "X-Isogate-User",
        "X-Isogate_User",
        "x_isogate_user",
        "X_ISOGATE_ANYTHING",
        "Authorization",
        "AUTHORIZATION",
        "x_octelium_auth",
        "Transfer_Encoding",
        "content_length",
        "Proxy_Authorization",
        "x_forwarded_for",
        "X-FORWARDED_PREFIX",
        "cf_connecting_ip",
        "x_real_ip",
    ] {
        assert!(stripped(name), "{name} would reach the origin");
    }
    for name in [
        "accept",
        "x_custom",
        "X-Isogate",
        "x-isogateuser",
        "user-agent",
        "cookie",
    ] {
        assert!(!stripped(name), "{name} was stripped");
    }
}

#[test]
fn rfc9110_7_6_1_hop_by_hop_headers_are_stripped() {
    for name in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-anything",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "http2-settings",
        "expect",
        "host",
    ] {
        assert!(stripped(name), "{name}");
        assert!(is_hop_by_hop(name), "{name}");
    }
    assert!(!is_hop_by_hop("content-length"));
}

#[test]
fn every_forwarding_and_client_ip_header_is_stripped() {
    for name in [
        "Forwarded",
        "X-Forwarded-For",
        "X-Forwarded-Proto",
        "X-Forwarded-Host",
        "X-Forwarded-Port",
        "X-Forwarded-Prefix",
        "X-Forwarded-Ssl",
        "X-Forwarded-Scheme",
        "X-Forwarded-Server",
        "X-Forwarded-Client-Cert",
        "X-Real-IP",
        "True-Client-IP",
        "CF-Connecting-IP",
        "CF-Connecting-IPv6",
        "CF-IPCountry",
        "CF-Ray",
        "CF-Visitor",
        "CF-Worker",
        "Cf-Access-Jwt-Assertion",
        "CDN-Loop",
        "X-Client-IP",
        "X-Cluster-Client-IP",
        "Fastly-Client-IP",
        "Fly-Client-IP",
        "X-Original-Forwarded-For",
        "X-ProxyUser-Ip",
        "Client-IP",
        "X-AppEngine-User-IP",
        "X-Azure-ClientIP",
        "X-Azure-SocketIP",
        "X-Envoy-External-Address",
        "X-Original-URL",
        "X-Rewrite-URL",
    ] {
        assert!(stripped(name), "{name}");
    }
}

#[test]
fn other_proxies_identity_assertions_are_stripped() {
    for name in [
        "X-Pomerium-Jwt-Assertion",
        "Teleport-Jwt-Assertion",
        "X-Goog-IAP-JWT-Assertion",
        "X-Goog-Authenticated-User-Email",
        "X-Amzn-Oidc-Data",
        "X-MS-CLIENT-PRINCIPAL-NAME",
        "Remote-User",
        "X-Remote-User",
        "X-Auth-Request-Email",
        "X-WEBAUTH-USER",
        "X-SSL-Client-Cert",
        "X-Client-Cert",
        "X-ARR-ClientCert",
        "X-Amzn-Mtls-Clientcert-Leaf",
    ] {
        assert!(stripped(name), "{name}");
    }
}

#[test]
fn every_listed_name_and_prefix_is_stripped_in_every_spelling() {
    for name in HOP_BY_HOP.iter().chain(STRIPPED) {
        let upper = name.to_ascii_uppercase();
        let underscored = name.replace('-', "_");
        for spelling in [name.to_string(), upper, underscored] {
            assert!(stripped(&spelling), "{spelling}");
            // One byte more or less is another name.
            assert!(
                !stripped(&format!("{spelling}z")) || name.starts_with("proxy"),
                "{spelling}z"
            );
            assert!(!stripped(&spelling[1..]), "{}", &spelling[1..]);
        }
    }
    for prefix in STRIPPED_PREFIXES {
        assert!(
            stripped(&format!("{prefix}{}", "a".repeat(100))),
            "{prefix}..."
        );
        assert!(
            !stripped(&prefix[..prefix.len() - 1]),
            "{prefix} without its last byte"
        );
    }
}

#[test]
fn rfc9110_7_6_1_connection_lists_are_normalised_too() {
    let headers = vec![
        (
            "Connection".to_string(),
            "close, X_Hop , ,x-other".to_string(),
        ),
        ("connection".to_string(), "Keep-Alive".to_string()),
    ];
    let listed = connection_listed(&headers);
    for name in ["x-hop", "X-HOP", "x_hop", "X-Other", "keep-alive"] {
        assert!(is_listed(name, &listed), "{name}");
    }
    assert!(!is_listed("x-kept", &listed));
    assert!(connection_listed(&[("accept".into(), "*/*".into())]).is_empty());
}

fn head(client_ip: Option<&str>, scheme: &str, host: &str) -> RequestHead {
    RequestHead {
        client_ip: client_ip.map(str::to_owned),
        scheme: scheme.into(),
        host: host.into(),
        ..Default::default()
    }
}

fn forwarded(client_ip: Option<&str>, scheme: &str, host: &str) -> String {
    let head = head(client_ip, scheme, host);
    forwarded_element(client_address(&head), &head)
}

#[test]
fn rfc7239_4_forwarded_has_for_proto_and_host() {
    assert_eq!(
        forwarded(Some("203.0.113.7"), "https", "my-api.example.com"),
        "for=203.0.113.7;proto=https;host=my-api.example.com"
    );
    // A host with a port is no token (`:`): quoted.
    assert_eq!(
        forwarded(Some("203.0.113.7"), "http", "my-api.localhost:8787"),
        "for=203.0.113.7;proto=http;host=\"my-api.localhost:8787\""
    );
}

#[test]
fn rfc7239_6_ipv6_nodes_are_bracketed_and_quoted() {
    assert_eq!(
        forwarded(Some("2001:db8:cafe::17"), "https", "h"),
        "for=\"[2001:db8:cafe::17]\";proto=https;host=h"
    );
    assert_eq!(
        forwarded(Some("::ffff:192.0.2.1"), "https", "h"),
        "for=\"[::ffff:192.0.2.1]\";proto=https;host=h"
    );
}

#[test]
fn a_client_address_the_runtime_cannot_vouch_for_is_left_out() {
    // On Workers the address comes from a header, which a local runtime takes from the client:
    // whatever is not one address is no address (and cannot inject a Forwarded parameter).
    for bogus in [
        "1.1.1.1;proto=http",
        "1.2.3.4, 5.6.7.8",
        "unknown",
        "",
        "[::1]",
        "010.0.0.1",
    ] {
        let h = head(Some(bogus), "https", "h");
        assert_eq!(client_address(&h), None, "{bogus}");
        assert_eq!(forwarded_element(None, &h), "proto=https;host=h");
    }
    assert_eq!(forwarded(None, "https", "h"), "proto=https;host=h");
    assert_eq!(
        client_address(&head(Some(" 203.0.113.7 "), "https", "h")).map(|(t, _)| t),
        Some("203.0.113.7")
    );
}

#[test]
fn rfc7239_4_values_that_are_not_tokens_are_quoted_strings() {
    assert_eq!(
        forwarded(None, "https", "a\"b\\c"),
        "proto=https;host=\"a\\\"b\\\\c\""
    );
    assert_eq!(forwarded(None, "", "h\u{1}i"), "proto=\"\";host=\"hi\"");
}
