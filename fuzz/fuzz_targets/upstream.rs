//! Service upstream URLs: `model::normalize_upstream`, today's parser (issue #10 Build item 5
//! replaces it with one strict parser; point this target at it when it lands).
//!
//! Invariants: what it accepts is `http://` or `https://`, a non-empty authority without
//! user-info, no query, fragment, whitespace or control character, a numeric port, no trailing
//! slash; normalising is idempotent. With `ISOGATE_FUZZ_STRICT=1`, an accepted URL must also
//! mean the same to a WHATWG URL parser (what the runtimes' `fetch` uses): same scheme, host
//! and port, no user-info, and a request path appended stays under the base path.
#![no_main]

use isogate_core::model::normalize_upstream;
use isogate_fuzz::strict;
use libfuzzer_sys::fuzz_target;
use percent_encoding::percent_decode_str;

fuzz_target!(|input: &str| {
    let Ok(u) = normalize_upstream(input) else {
        return;
    };
    let rest = u
        .strip_prefix("http://")
        .or_else(|| u.strip_prefix("https://"))
        .expect("http or https");
    let authority = rest.split('/').next().unwrap();
    assert!(!authority.is_empty(), "no host in {u:?}");
    assert!(!authority.contains('@'), "user-info in {u:?}");
    assert!(!u.contains(['?', '#']), "query or fragment in {u:?}");
    assert!(!u
        .bytes()
        .any(|b| b.is_ascii_whitespace() || b.is_ascii_control()));
    assert!(!u.ends_with('/'), "trailing slash in {u:?}");
    assert_eq!(
        normalize_upstream(&u).as_deref(),
        Ok(u.as_str()),
        "not idempotent"
    );
    if strict() {
        let parsed =
            url::Url::parse(&u).unwrap_or_else(|e| panic!("{u:?} is no URL to fetch: {e}"));
        assert_eq!(
            format!("{}://", parsed.scheme()),
            &u[..u.len() - rest.len()]
        );
        assert!(
            parsed.username().is_empty() && parsed.password().is_none(),
            "{u:?} has user-info"
        );
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !authority.ends_with(']') => (h, p.parse::<u16>().ok()),
            _ => (authority, None),
        };
        assert_eq!(
            parsed.host_str().map(str::to_ascii_lowercase),
            Some(host.to_ascii_lowercase()),
            "fetch would reach another host than {u:?} names"
        );
        assert_eq!(
            parsed.port_or_known_default(),
            port.or(parsed.port_or_known_default())
        );
        // The base path as fetch reads it (percent-encoding aside) is the one named, and a
        // request path appended stays under it.
        let decode = |p: &str| percent_decode_str(p).decode_utf8_lossy().into_owned();
        let base = &rest[authority.len()..];
        let named = if base.is_empty() { "/" } else { base };
        assert_eq!(
            decode(parsed.path()),
            decode(named),
            "fetch would use another base path than {u:?} names"
        );
        let with_path = url::Url::parse(&format!("{u}/x")).unwrap();
        let under = parsed.path().trim_end_matches('/');
        assert!(
            with_path.path().starts_with(under),
            "{u:?}: a request path escapes the base path"
        );
    }
});
