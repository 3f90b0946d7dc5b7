//! Origins' cookies stay host-only: the `Domain` attribute of a `Set-Cookie` is dropped, so a
//! cookie set by `my-api.<DOMAIN>` goes back only to `my-api.<DOMAIN>` (RFC 6265 §5.3 step 6:
//! without `Domain` the cookie's host-only flag is set). With it, one service could set, or
//! overwrite, cookies for the root domain and every sibling service.

use std::borrow::Cow;

/// RFC 5234 WSP, which RFC 6265 §5.2 trims around attribute names.
fn trim_wsp(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

/// `value` of a `Set-Cookie` header without its `Domain` attributes. The header is split as a
/// user agent splits it (RFC 6265 §5.2: at every `;`; the attribute name is what precedes the
/// first `=`, trimmed, compared case-insensitively); every other byte is kept as it was.
pub fn without_domain(value: &str) -> Cow<'_, str> {
    let is_domain = |attribute: &str| {
        let name = attribute.split('=').next().unwrap_or("");
        trim_wsp(name).eq_ignore_ascii_case("domain")
    };
    // The first part is the name-value pair, never an attribute.
    if !value.split(';').skip(1).any(is_domain) {
        return Cow::Borrowed(value);
    }
    let mut parts = value.split(';');
    let mut out = String::with_capacity(value.len());
    out.push_str(parts.next().unwrap_or(""));
    for attribute in parts.filter(|a| !is_domain(a)) {
        out.push(';');
        out.push_str(attribute);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6265_5_2_3_domain_is_dropped_and_every_other_byte_kept() {
        for (set_cookie, relayed) in [
            ("a=b; Domain=example.com; Path=/", "a=b; Path=/"),
            ("a=b; domain=.example.com", "a=b"),
            ("a=b;DOMAIN=example.com;Secure", "a=b;Secure"),
            (
                "a=b; Path=/;  dOmAiN = example.com ; HttpOnly",
                "a=b; Path=/; HttpOnly",
            ),
            ("a=b; Domain", "a=b"),
            ("a=b; Domain=; Max-Age=5", "a=b; Max-Age=5"),
            ("a=b;\tDomain=x;\tSameSite=Lax", "a=b;\tSameSite=Lax"),
            ("a=b; Domain=x; Domain=y; Path=/p", "a=b; Path=/p"),
        ] {
            assert_eq!(without_domain(set_cookie), relayed, "{set_cookie}");
        }
    }

    #[test]
    fn cookies_without_domain_are_untouched() {
        for set_cookie in [
            "a=b",
            "a=b; Path=/; Secure; HttpOnly; SameSite=Strict",
            "domain=x; Path=/",
            "a=Domain=x",
            "a=b; DomainX=1; X-Domain=2",
            "a=\"b; c\"; Path=/",
            "",
        ] {
            assert!(
                matches!(without_domain(set_cookie), Cow::Borrowed(s) if s == set_cookie),
                "{set_cookie}"
            );
        }
    }
}
