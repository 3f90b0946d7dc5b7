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
//!   [`check_path`](crate::path::check_path) refuses (dot segments, backslashes); trailing `/`s
//!   are dropped, so `/base/` and `/base` are one upstream;
//! - no user-info (`user@host` says nothing about which host), no query or fragment (the
//!   request's own would be appended after them), no whitespace, control or non-ASCII byte
//!   (an IDN host is written in its `xn--` form, a path byte above 0x7F as `%XX`).
//!
//! [`parse_upstream`] is a total function over `&str`: every input is parsed or refused with an
//! [`InvalidUpstream`], never a panic (the fuzz target calls it on arbitrary bytes).

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

/// [`parse_upstream`] without the copy: the parts, borrowed from `text`.
pub fn parse_upstream_ref(text: &str) -> Result<UpstreamRef<'_>, InvalidUpstream> {
    let bytes = text.as_bytes();
    if bytes.iter().any(|&b| b <= b' ' || b >= 0x7f) {
        return Err(InvalidUpstream::Whitespace);
    }
    let (scheme, rest) = match text.find("://") {
        Some(4) if text[..4].eq_ignore_ascii_case("http") => (Scheme::Http, &text[7..]),
        Some(5) if text[..5].eq_ignore_ascii_case("https") => (Scheme::Https, &text[8..]),
        _ => return Err(InvalidUpstream::NotHttp),
    };
    if rest.contains(['?', '#']) {
        return Err(InvalidUpstream::QueryOrFragment);
    }
    if rest.contains('\\') {
        return Err(InvalidUpstream::Backslash);
    }
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    if authority.is_empty() {
        return Err(InvalidUpstream::NoHost);
    }
    if authority.contains('@') {
        return Err(InvalidUpstream::UserInfo);
    }
    check_authority(authority)?;
    let base_path = path.trim_end_matches('/');
    check_base_path(base_path)?;
    Ok(UpstreamRef {
        scheme,
        authority,
        base_path,
    })
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
        check_host_name(host)?;
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

/// A DNS name of LDH labels, or a dotted quad when its last label is a number.
fn check_host_name(host: &str) -> Result<(), InvalidUpstream> {
    if host.is_empty() {
        return Err(InvalidUpstream::NoHost);
    }
    if host.len() > 253 {
        return Err(InvalidUpstream::BadHost);
    }
    let ldh = |label: &str| {
        let b = label.as_bytes();
        (1..=63).contains(&b.len())
            && b[0] != b'-'
            && b[b.len() - 1] != b'-'
            && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
    };
    if !host.split('.').all(ldh) {
        return Err(InvalidUpstream::BadHost);
    }
    let last = host.rsplit('.').next().unwrap_or("");
    let numeric = last.bytes().all(|b| b.is_ascii_digit())
        || last.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("0x"));
    if numeric && !is_dotted_quad(host) {
        return Err(InvalidUpstream::BadHost);
    }
    Ok(())
}

/// Four decimal octets 0-255, none with a leading zero.
fn is_dotted_quad(host: &str) -> bool {
    let mut octets = 0;
    for part in host.split('.') {
        octets += 1;
        let canonical = part.len() == 1 || !part.starts_with('0');
        if octets > 4 || !canonical || part.len() > 3 || part.parse::<u8>().is_err() {
            return false;
        }
    }
    octets == 4
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
mod tests;
