//! A seeded random search for upstreams that break the parser's invariants (the fuzz target
//! of issue #10 item 9 calls [`parse_upstream`] too; this runs in every `cargo test`).

use super::tests::legacy_normalize_upstream;
use super::*;

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
        if let Some(plain) = plain::parse_plain(&text) {
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
