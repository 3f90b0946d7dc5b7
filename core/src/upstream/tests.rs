//! Unit tests of the upstream parser: the rules one by one (table-driven), the upstreams the
//! older check accepted, and a seeded random search for inputs that break the invariants.

use super::*;

/// The check every stored upstream passed before #10 (`model::normalize_upstream`), kept
/// here to show which of them still parse.
fn legacy_normalize_upstream(url: &str) -> Option<String> {
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
            parse_plain(input).map(Ok),
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
        assert_eq!(parse_plain(slow), None, "{slow}");
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

/// SplitMix64: a seeded generator, so every failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn pick<'a>(&mut self, (valid, invalid): (&[&'a str], &[&'a str])) -> &'a str {
        let from = if self.next() % 4 == 0 { invalid } else { valid };
        from[(self.next() % from.len() as u64) as usize]
    }
}

/// Fragments of upstreams: (valid, invalid) for each part; valid ones are picked 3 times in 4.
const SCHEMES: (&[&str], &[&str]) = (
    &["http://", "https://", "HTTP://"],
    &["ftp://", "http:/", "", "http:///"],
);
const HOSTS: (&[&str], &[&str]) = (
    &[
        "origin",
        "a.b",
        "127.0.0.1",
        "[::1]",
        "xn--d",
        "[2001:db8::1]",
    ],
    &[
        "[fe80::1%25e]",
        "a..b",
        "-a",
        "a_b",
        "127.1",
        "0x7f.0.0.1",
        "256.1.1.1",
        "",
        "u:p@h",
        "h@",
        "a.",
        "[::1",
        "1.2.3.4.5",
        "ü",
    ],
);
const PORTS: (&[&str], &[&str]) = (
    &["", ":80", ":65535", ":08"],
    &[":0", ":65536", ":", ":x", ":1:2"],
);
const PATHS: (&[&str], &[&str]) = (
    &[
        "", "/", "/base", "/base/", "/a%2fb", "/;x", "//x", "/@x", "/:x", "/a.b/...",
    ],
    &[
        "/a/../b",
        "/%2e%2e",
        "/a%2F..%2Fb",
        "/a\\b",
        "/ü",
        "/a b",
        "/a?q",
        "/a#f",
        "/%zz",
        "/..;/x",
        "/%5c",
    ],
);
/// Bytes for mutations: separators and the characters each rule is about.
const BYTES: &[u8] = b"/:@?#[]%.\\ \t\n;-_0aZ9%2e2f5c\x00\x7f";

/// Arbitrary inputs never panic, and whatever parses is canonical, was acceptable to the old
/// check, and keeps its authority when a request path is appended.
#[test]
fn seeded_random_upstreams_keep_the_parser_invariants() {
    let mut rng = Rng(0x1505_6A7E);
    let mut accepted = 0;
    for _ in 0..20_000 {
        let mut input: Vec<u8> = [
            rng.pick(SCHEMES),
            rng.pick(HOSTS),
            rng.pick(PORTS),
            rng.pick(PATHS),
        ]
        .concat()
        .into_bytes();
        for _ in 0..rng.next() % 3 {
            let at = (rng.next() % (input.len() as u64 + 1)) as usize;
            let byte = BYTES[(rng.next() % BYTES.len() as u64) as usize];
            match rng.next() % 3 {
                0 => input.insert(at, byte),
                1 if at < input.len() => input[at] = byte,
                _ if at < input.len() => {
                    input.remove(at);
                }
                _ => {}
            }
        }
        let Ok(text) = String::from_utf8(input) else {
            continue;
        };
        // The fast path accepts nothing the exact parser refuses, with the same parts.
        if let Some(plain) = parse_plain(&text) {
            assert_eq!(
                Ok(plain),
                parse_exact(&text),
                "{text:?}: the two parsers differ"
            );
        }
        assert_eq!(parse_upstream_ref(&text), parse_exact(&text), "{text:?}");
        let Ok(u) = parse_upstream(&text) else {
            continue;
        };
        accepted += 1;
        assert_eq!(
            parse_upstream(u.as_str()).as_ref(),
            Ok(&u),
            "{text:?}: not canonical"
        );
        if text.starts_with("http://") || text.starts_with("https://") {
            assert!(
                legacy_normalize_upstream(&text).is_some(),
                "{text:?}: looser than before"
            );
        }
        let authority = u.authority();
        assert!(
            !authority.is_empty() && !authority.contains(['@', '\\', '/', '?', '#', '%']),
            "{text:?}: authority {authority:?}"
        );
        let joined = format!("{u}/x?y");
        let split = crate::http::split_url(&joined);
        assert_eq!(
            split.authority, authority,
            "{text:?}: a request path moved the host"
        );
        assert_eq!(split.path, format!("{}/x", u.base_path()), "{text:?}");
    }
    assert!(
        accepted > 1_000,
        "the generator rarely makes valid upstreams ({accepted})"
    );
}
