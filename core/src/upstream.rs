//! Service upstream URLs: the one strict parser, used when a service is created (admin API)
//! and on every forward (the plan is built from the parsed form, which the runtimes use as is).
//!
//! An upstream is `scheme "://" host [":" port] [base-path]`, and nothing else:
//!
//! - scheme `http` or `https` (any case; kept lower-case);
//! - host: a DNS name of LDH labels (RFC 1123 §2.1: letters, digits, inner `-`; 1-63 bytes
//!   each, 253 in all, no empty label, so no trailing dot), an IPv4 address in dotted-quad form
//!   (four decimal octets without leading zeros: `127.1`, `0x7f.0.0.1` and `010.0.0.1` are
//!   what `inet_aton` and WHATWG URL read as *other* addresses), or an IPv6 address in brackets
//!   (RFC 3986 §3.2.2; no zone id). A name whose last label is numeric must be a dotted quad;
//! - port: 1-65535, decimal;
//! - base path: RFC 3986 `pchar`s and `/`, `%XX` escapes, and nothing that
//!   [`check_path`] refuses (dot segments, backslashes); trailing `/`s
//!   are dropped, so `/base/` and `/base` are one upstream;
//! - no user-info (`user@host` says nothing about which host), no query or fragment (the
//!   request's own would be appended after them), no whitespace, control or non-ASCII byte
//!   (an IDN host is written in its `xn--` form, a path byte above 0x7F as `%XX`).
//!
//! [`parse_upstream`] is a total function over `&str`: every input is parsed or refused with an
//! [`InvalidUpstream`], never a panic (the fuzz target calls it on arbitrary bytes).

mod plain;

use crate::path::check_path;
use std::fmt;
use std::net::Ipv6Addr;

/// The scheme of an upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// Why an upstream URL was refused. Every message names the rule, never the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvalidUpstream {
    NotHttp,
    NoHost,
    UserInfo,
    QueryOrFragment,
    /// Whitespace, a control character or a byte outside ASCII.
    Whitespace,
    BadPort,
    BadHost,
    Backslash,
    /// A base path with a dot segment, a byte that is not a path character, or a bad `%XX`.
    BadPath,
}

impl fmt::Display for InvalidUpstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InvalidUpstream::NotHttp => "upstream must be an http:// or https:// URL",
            InvalidUpstream::NoHost => "upstream has no host",
            InvalidUpstream::UserInfo => "upstream must not contain user-info",
            InvalidUpstream::QueryOrFragment => "upstream must not contain a query or fragment",
            InvalidUpstream::Whitespace => {
                "upstream must be ASCII without whitespace or control characters"
            }
            InvalidUpstream::BadPort => "upstream port must be a number from 1 to 65535",
            InvalidUpstream::BadHost => {
                "upstream host must be a DNS name (letters, digits, inner '-'), a dotted-quad IPv4 address or a bracketed IPv6 address"
            }
            InvalidUpstream::Backslash => "upstream must not contain a backslash",
            InvalidUpstream::BadPath => {
                "upstream base path must hold only URL path characters and %XX escapes, and no '.' or '..' segment"
            }
        })
    }
}

impl std::error::Error for InvalidUpstream {}

/// An upstream as parsed, borrowing its text: the form the forward plan is built from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UpstreamRef<'a> {
    pub scheme: Scheme,
    /// `host[:port]`, as written (an IPv6 host with its brackets).
    pub authority: &'a str,
    /// Empty, or `/...` without a trailing `/`.
    pub base_path: &'a str,
}

/// A valid upstream in its canonical text (`UpstreamRef` fields joined: lower-case scheme, no
/// trailing `/`), which is what the admin API stores.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upstream {
    url: String,
    scheme: Scheme,
    /// Where the base path starts in `url`.
    path_start: usize,
}

impl Upstream {
    pub fn as_str(&self) -> &str {
        &self.url
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    pub fn authority(&self) -> &str {
        &self.url[self.scheme.as_str().len() + 3..self.path_start]
    }

    pub fn base_path(&self) -> &str {
        &self.url[self.path_start..]
    }

    pub fn into_string(self) -> String {
        self.url
    }
}

impl fmt::Display for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

/// Parses and validates an upstream URL (see the module documentation), returning its
/// canonical form.
pub fn parse_upstream(text: &str) -> Result<Upstream, InvalidUpstream> {
    let parts = parse_upstream_ref(text)?;
    let scheme = parts.scheme.as_str();
    let mut url =
        String::with_capacity(scheme.len() + 3 + parts.authority.len() + parts.base_path.len());
    url.push_str(scheme);
    url.push_str("://");
    url.push_str(parts.authority);
    let path_start = url.len();
    url.push_str(parts.base_path);
    Ok(Upstream {
        url,
        scheme: parts.scheme,
        path_start,
    })
}

/// [`parse_upstream`] without the copy: the parts, borrowed from `text`. Runs on every
/// forward (the stored text is checked again, since older rows passed a looser check), so
/// the common shape (`http[s]://name-or-ipv4[:port][/plain/path]`) takes one tight pass
/// (`parse_plain`); anything else, valid or not, goes through `parse_exact`, which
/// also says why an upstream is refused. Both accept the same upstreams (tested).
pub fn parse_upstream_ref(text: &str) -> Result<UpstreamRef<'_>, InvalidUpstream> {
    match plain::parse_plain(text) {
        Some(parts) => Ok(parts),
        None => parse_exact(text),
    }
}

/// Every rule, in the order the refusals are reported (see the module documentation).
fn parse_exact(text: &str) -> Result<UpstreamRef<'_>, InvalidUpstream> {
    let bytes = text.as_bytes();
    let (scheme, start) = if starts_with_ignore_case(bytes, b"http://") {
        (Scheme::Http, 7)
    } else if starts_with_ignore_case(bytes, b"https://") {
        (Scheme::Https, 8)
    } else if bytes.iter().any(|&b| b <= b' ' || b >= 0x7f) {
        return Err(InvalidUpstream::Whitespace);
    } else {
        return Err(InvalidUpstream::NotHttp);
    };
    // One pass: where the authority ends, and the bytes no part may hold. Whitespace is
    // reported first, then query or fragment, backslash, user-info.
    let (mut authority_end, mut at, mut query, mut backslash) = (None, false, false, false);
    for (i, &b) in bytes.iter().enumerate().skip(start) {
        match b {
            0..=b' ' | 0x7f.. => return Err(InvalidUpstream::Whitespace),
            b'?' | b'#' => query = true,
            b'\\' => backslash = true,
            b'/' if authority_end.is_none() => authority_end = Some(i),
            b'@' if authority_end.is_none() => at = true,
            _ => {}
        }
    }
    if query {
        return Err(InvalidUpstream::QueryOrFragment);
    }
    if backslash {
        return Err(InvalidUpstream::Backslash);
    }
    let authority_end = authority_end.unwrap_or(bytes.len());
    let authority = &text[start..authority_end];
    if authority.is_empty() {
        return Err(InvalidUpstream::NoHost);
    }
    if at {
        return Err(InvalidUpstream::UserInfo);
    }
    check_authority(authority)?;
    let base_path = text[authority_end..].trim_end_matches('/');
    if !base_path.is_empty() {
        check_base_path(base_path)?;
    }
    Ok(UpstreamRef {
        scheme,
        authority,
        base_path,
    })
}

fn starts_with_ignore_case(bytes: &[u8], prefix: &[u8]) -> bool {
    bytes
        .get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

fn check_authority(authority: &str) -> Result<(), InvalidUpstream> {
    let port = if let Some(inner) = authority.strip_prefix('[') {
        let (v6, after) = inner.split_once(']').ok_or(InvalidUpstream::BadHost)?;
        // `Ipv6Addr` refuses a zone id (`%25eth0`) and anything else that is not an address.
        v6.parse::<Ipv6Addr>()
            .map_err(|_| InvalidUpstream::BadHost)?;
        match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or(InvalidUpstream::BadHost)?),
        }
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        check_host_name(host.as_bytes())?;
        port
    };
    match port {
        None => Ok(()),
        Some(p)
            if (1..=5).contains(&p.len())
                && p.bytes().all(|b| b.is_ascii_digit())
                && p.parse::<u16>().is_ok_and(|n| n > 0) =>
        {
            Ok(())
        }
        Some(_) => Err(InvalidUpstream::BadPort),
    }
}

/// A DNS name of LDH labels, or a dotted quad when its last label is a number (all digits,
/// or `0x...`: what WHATWG URL and `inet_aton` read as an address). One pass.
fn check_host_name(host: &[u8]) -> Result<(), InvalidUpstream> {
    if host.is_empty() {
        return Err(InvalidUpstream::NoHost);
    }
    if host.len() > 253 {
        return Err(InvalidUpstream::BadHost);
    }
    // How many labels, whether each was a canonical decimal octet, and whether the last one
    // was numeric.
    let (mut start, mut labels, mut all_octets, mut last_numeric) = (0, 0, true, false);
    for end in 0..=host.len() {
        if let Some(&b) = host.get(end).filter(|&&b| b != b'.') {
            if !(b.is_ascii_alphanumeric() || b == b'-') {
                return Err(InvalidUpstream::BadHost);
            }
            continue;
        }
        let label = &host[start..end];
        if label.is_empty()
            || label.len() > 63
            || label[0] == b'-'
            || label[label.len() - 1] == b'-'
        {
            return Err(InvalidUpstream::BadHost);
        }
        let digits = label.iter().all(u8::is_ascii_digit);
        let octet = digits
            && label.len() <= 3
            && (label.len() == 1 || label[0] != b'0')
            && (label.len() < 3 || label <= b"255".as_slice());
        all_octets &= octet;
        last_numeric = digits || (label.len() > 1 && label[..2].eq_ignore_ascii_case(b"0x"));
        labels += 1;
        start = end + 1;
    }
    if last_numeric && !(labels == 4 && all_octets) {
        return Err(InvalidUpstream::BadHost);
    }
    Ok(())
}

fn check_base_path(path: &str) -> Result<(), InvalidUpstream> {
    let b = path.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            // RFC 3986 §3.3: pchar = unreserved / pct-encoded / sub-delims / ":" / "@"
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => {}
            b'-' | b'.' | b'_' | b'~' | b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' => {}
            b'+' | b',' | b';' | b'=' | b':' | b'@' | b'/' => {}
            b'%' if b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit) =>
            {
                i += 2
            }
            _ => return Err(InvalidUpstream::BadPath),
        }
        i += 1;
    }
    check_path(path).map_err(|_| InvalidUpstream::BadPath)
}

#[cfg(test)]
mod random_tests;
#[cfg(test)]
mod tests;
