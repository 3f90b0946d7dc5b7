//! Unit tests of the upstream parser: the rules one by one (table-driven), the upstreams the
//! older check accepted, and a seeded random search for inputs that break the invariants.

use super::*;

/// The check every stored upstream passed before #10 (`model::normalize_upstream`), kept
/// here to show which of them still parse.
pub(super) fn legacy_normalize_upstream(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))?;
    let authority = rest.split('/').next().unwrap_or("");
    if authority.is_empty()
        || authority.contains('@')
        || url.contains(['?', '#'])
        || url
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return None;
    }
    if let Some((_, port)) = authority.rsplit_once(':') {
        if !authority.ends_with(']') && port.parse::<u16>().is_err() {
            return None;
        }
    }
    Some(url.trim_end_matches('/').to_owned())
}

#[test]
fn canonical_form_is_lower_case_scheme_without_trailing_slash() {
    for (input, canonical, authority, base) in [
        (
            "http://127.0.0.1:9000/",
            "http://127.0.0.1:9000",
            "127.0.0.1:9000",
            "",
        ),
        (
            "https://api.internal/base",
            "https://api.internal/base",
            "api.internal",
            "/base",
        ),
        (
            "HTTPS://api.internal/base//",
            "https://api.internal/base",
            "api.internal",
            "/base",
        ),
        (
            "http://[::1]:9000/x",
            "http://[::1]:9000/x",
            "[::1]:9000",
            "/x",
        ),
        (
            "http://[2001:db8::1]",
            "http://[2001:db8::1]",
            "[2001:db8::1]",
            "",
        ),
    ] {
        let u = parse_upstream(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(
            (u.as_str(), u.authority(), u.base_path()),
            (canonical, authority, base),
            "{input}"
        );
    }
    assert_eq!(parse_upstream("https://h").unwrap().scheme(), Scheme::Https);
}

#[test]
fn each_rule_refuses_with_its_own_reason() {
    use InvalidUpstream::*;
    for (input, why) in [
        ("ftp://x", NotHttp),
        ("127.0.0.1:9000", NotHttp),
        ("http:/x", NotHttp),
        ("httpx://x", NotHttp),
        ("http://", NoHost),
        ("http:///base", NoHost),
        ("http://:80", NoHost),
        ("http://u:p@x", UserInfo),
        ("http://u@x/base", UserInfo),
        ("http://x/?q", QueryOrFragment),
        ("http://x/base#f", QueryOrFragment),
        ("http://x?", QueryOrFragment),
        ("http://x y", Whitespace),
        ("http://x/a b", Whitespace),
        ("http://x\n/x", Whitespace),
        ("http://x/\t", Whitespace),
        ("http://x/\u{7f}", Whitespace),
        ("http://bücher.de", Whitespace),
        ("http://x/ü", Whitespace),
        ("http://x:port", BadPort),
        ("http://x:", BadPort),
        ("http://x:0", BadPort),
        ("http://x:65536", BadPort),
        ("http://x:+80", BadPort),
        ("http://x:1:2", BadPort),
        ("http://[::1]:99999", BadPort),
        ("http://a..b", BadHost),
        ("http://origin.", BadHost),
        ("http://-a.b", BadHost),
        ("http://a-.b", BadHost),
        ("http://my_service:8080", BadHost),
        ("http://127.1", BadHost),
        ("http://0x7f.0.0.1", BadHost),
        ("http://010.0.0.1", BadHost),
        ("http://256.1.1.1", BadHost),
        ("http://1.2.3.4.5", BadHost),
        ("http://1.2.3", BadHost),
        ("http://[::1", BadHost),
        ("http://[::1]x", BadHost),
        ("http://[fe80::1%25eth0]", BadHost),
        ("http://[not-v6]", BadHost),
        ("http://::1", NoHost),
        ("http://x/a\\b", Backslash),
        ("http://good\\@evil", Backslash),
        ("http://x/a/../b", BadPath),
        ("http://x/a/./b", BadPath),
        ("http://x/%2e%2e", BadPath),
        ("http://x/a%2f..%2fb", BadPath),
        ("http://x/a%5cb", BadPath),
        ("http://x/%zz", BadPath),
        ("http://x/%2", BadPath),
        ("http://x/{}", BadPath),
        ("http://x/a|b", BadPath),
        ("http://x/\"", BadPath),
    ] {
        assert_eq!(parse_upstream(input), Err(why), "{input}");
    }
    let long_label = format!("http://{}.x", "a".repeat(64));
    assert_eq!(parse_upstream(&long_label), Err(BadHost));
    let long_name = format!("http://{}x", "a.".repeat(127));
    assert_eq!(parse_upstream(&long_name), Err(BadHost));
}

#[test]
fn the_common_shape_takes_the_fast_path_with_the_exact_parts() {
    for input in [
        "http://127.0.0.1:9000",
        "https://api.internal/base/",
        "HTTPS://a-b.c:65535/x;y=1/@:~",
        "http://localhost",
    ] {
        assert_eq!(
            plain::parse_plain(input).map(Ok),
            Some(parse_exact(input)),
            "{input}"
        );
    }
    for slow in [
        "http://[::1]",
        "http://x/a.b",
        "http://x/%7E",
        "http://0x7f.1",
    ] {
        assert_eq!(plain::parse_plain(slow), None, "{slow}");
    }
}

#[test]
fn hosts_ports_and_base_paths_that_are_valid_parse() {
    for input in [
        "http://localhost",
        "http://a",
        "http://1.example.com",
        "http://xn--bcher-kva.de",
        "http://0.0.0.0:1",
        "http://255.255.255.255:65535",
        "http://[::ffff:192.0.2.1]:80",
        "https://my-service.default.svc.cluster.local:8443/api/v1",
        "http://x/%7Euser/a%2Fb/;v=1/~!$&'()*+,=:@",
        "http://x//double",
        "http://x/a.b/...",
        "http://x:080",
    ] {
        assert!(parse_upstream(input).is_ok(), "{input}");
    }
}

/// Every sane upstream the old check accepted still parses, with the same stored text.
#[test]
fn upstreams_the_older_check_accepted_still_parse_when_sane() {
    for old in [
        "http://127.0.0.1:9000",
        "http://127.0.0.1:9000/",
        "http://127.0.0.1:1",
        "https://api.internal/base",
        "https://api.internal/base/",
        "http://localhost:8080/x/",
        "http://[::1]:9000",
        "http://[2001:db8::1]/x",
        "http://10.0.0.1",
        "https://Example.COM/V1",
        "http://evil.test",
    ] {
        let legacy = legacy_normalize_upstream(old).expect(old);
        assert_eq!(
            parse_upstream(old).map(Upstream::into_string),
            Ok(legacy),
            "{old}"
        );
    }
    // Accepted before, refused now (README, "Forwarding"): each is ambiguous or unsafe.
    for old in [
        "http://x:0",
        "http://my_service:8080",
        "http://origin./",
        "http://127.1",
        "http://bücher.de",
        "http://x/ü",
        "http://x/%zz",
        "http://x/a/../b",
        "http://x/a\\b",
        "http://[::1",
        "http://x/{}",
    ] {
        assert!(legacy_normalize_upstream(old).is_some(), "{old}");
        assert!(parse_upstream(old).is_err(), "{old}");
    }
}
