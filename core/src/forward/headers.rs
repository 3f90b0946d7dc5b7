//! Which request headers cross to the origin, and the forwarding headers the gateway sets.
//!
//! **Names are compared normalised**: ASCII lower-case, with `_` read as `-`, for every rule.
//! CGI-style stacks (Rack, Django's `META`, PHP's `$_SERVER`, WSGI) map both `X-Isogate-User`
//! and `X-Isogate_User` to `HTTP_X_ISOGATE_USER`, and some servers read `Transfer_Encoding` as
//! `Transfer-Encoding`; a rule that missed one spelling would let a client speak for the
//! gateway. Folding costs no allocation: names are compared byte by byte, folded on the fly.

use crate::http::RequestHead;
use std::net::{IpAddr, Ipv4Addr};

/// A name byte as the strip rules read it.
const fn fold(b: u8) -> u8 {
    if b == b'_' {
        b'-'
    } else {
        b.to_ascii_lowercase()
    }
}

/// Whether `name` is `rule` (given folded) once folded.
fn is(name: &[u8], rule: &[u8]) -> bool {
    name.len() == rule.len() && name.iter().zip(rule).all(|(&n, &r)| fold(n) == r)
}

fn starts_with(name: &[u8], prefix: &[u8]) -> bool {
    name.get(..prefix.len())
        .is_some_and(|head| is(head, prefix))
}

/// Whether two names are one once folded (a `Connection` token and a header name).
pub(super) fn same_name(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| fold(x) == fold(y))
}

/// `name` is the header `rule` (given lower-case, with `-`), whatever its spelling.
pub(super) fn is_named(name: &str, rule: &str) -> bool {
    is(name.as_bytes(), rule.as_bytes())
}

/// Names compared whole, bucketed by length at compile time so that a lookup compares a
/// name with the few listed names of its length only (most differ in their first byte).
struct ByLength {
    buckets: [[&'static str; BUCKET]; LONGEST + 1],
}

const LONGEST: usize = 40;
const BUCKET: usize = 8;

impl ByLength {
    const fn new(lists: &[&[&'static str]]) -> ByLength {
        let mut buckets = [[""; BUCKET]; LONGEST + 1];
        let mut l = 0;
        while l < lists.len() {
            let names = lists[l];
            let mut i = 0;
            while i < names.len() {
                let len = names[i].len();
                assert!(
                    len > 0 && len <= LONGEST,
                    "a listed name is longer than LONGEST"
                );
                let mut slot = 0;
                while !buckets[len][slot].is_empty() {
                    slot += 1;
                    assert!(slot < BUCKET, "more listed names of one length than BUCKET");
                }
                buckets[len][slot] = names[i];
                i += 1;
            }
            l += 1;
        }
        ByLength { buckets }
    }

    fn contains(&self, name: &[u8]) -> bool {
        let (Some(bucket), Some(&first)) = (self.buckets.get(name.len()), name.first()) else {
            return false;
        };
        let first = fold(first);
        bucket
            .iter()
            .take_while(|rule| !rule.is_empty())
            .any(|rule| rule.as_bytes()[0] == first && is(name, rule.as_bytes()))
    }
}

/// See [`is_hop_by_hop`].
pub(super) const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "http2-settings",
    "expect",
    "host",
];

/// The names [`is_stripped`] compares whole (besides [`HOP_BY_HOP`]); its doc says why.
pub(super) const STRIPPED: &[&str] = &[
    // framing: re-added by the plan
    "content-length",
    // the request id: the gateway's (the client's own only when acceptable: crate::audit)
    "x-request-id",
    // the inbound credential, and its DPoP proof (RFC 9449)
    "authorization",
    "x-octelium-auth",
    "dpop",
    // forwarding and client addresses
    "forwarded",
    "x-real-ip",
    "true-client-ip",
    "client-ip",
    "x-client-ip",
    "x-cluster-client-ip",
    "fastly-client-ip",
    "fly-client-ip",
    "x-appengine-user-ip",
    "x-azure-clientip",
    "x-azure-socketip",
    "x-envoy-external-address",
    "x-original-forwarded-for",
    "x-proxyuser-ip",
    "cdn-loop",
    // request-target overrides
    "x-original-url",
    "x-rewrite-url",
    // other proxies' identity
    "x-pomerium-jwt-assertion",
    "teleport-jwt-assertion",
    "x-goog-iap-jwt-assertion",
    "x-goog-authenticated-user-email",
    "x-goog-authenticated-user-id",
    "x-amzn-oidc-data",
    "x-amzn-oidc-identity",
    "x-amzn-oidc-accesstoken",
    "x-ms-client-principal",
    "x-ms-client-principal-id",
    "x-ms-client-principal-name",
    "x-ms-client-principal-idp",
    "remote-user",
    "x-remote-user",
    "x-auth-request-user",
    "x-auth-request-email",
    "x-auth-request-groups",
    "x-auth-request-preferred-username",
    "x-webauth-user",
    // client certificates
    "ssl-client-cert",
    "x-ssl-client-cert",
    "x-ssl-client-verify",
    "x-ssl-client-s-dn",
    "x-client-cert",
    "x-arr-clientcert",
    "x-amzn-mtls-clientcert",
    "x-amzn-mtls-clientcert-leaf",
];

/// The prefixes [`is_stripped`] strips.
pub(super) const STRIPPED_PREFIXES: &[&str] = &["x-isogate-", "x-forwarded-", "cf-", "proxy-"];

static HOP_BY_HOP_NAMES: ByLength = ByLength::new(&[HOP_BY_HOP]);
static STRIPPED_NAMES: ByLength = ByLength::new(&[HOP_BY_HOP, STRIPPED]);

/// Whether `name` starts with one of [`STRIPPED_PREFIXES`] (each tried only when its first
/// byte matches).
fn has_stripped_prefix(name: &[u8]) -> bool {
    let Some(first) = name.first().map(|&b| fold(b)) else {
        return false;
    };
    STRIPPED_PREFIXES
        .iter()
        .any(|p| p.as_bytes()[0] == first && starts_with(name, p.as_bytes()))
}

/// Whether a client's header must not reach the origin. The groups, and why each name is in
/// its group:
///
/// - **hop-by-hop** (RFC 9110 §7.6.1): `connection`, `keep-alive`, `proxy-connection`, `te`,
///   `trailer`, `transfer-encoding`, `upgrade`, `http2-settings`, every `proxy-*`; also
///   `expect` (a forwarded `100-continue` breaks the runtimes' fetch), `host` (the fetch sets
///   the origin's) and `content-length` (re-added by the plan when, and only when, the body
///   goes too: RFC 9112 §6.3). Names listed in `Connection` are stripped by the caller.
/// - **the inbound credential**: `authorization`, `x-octelium-auth`, and `dpop` (a DPoP
///   proof, RFC 9449: bound to this request, of no use to the origin, and with the
///   credential's `ath` in it).
/// - **identity the gateway asserts**: every `x-isogate-*`.
/// - **forwarding and client-address claims**, which frameworks trust for URLs, schemes and
///   IP decisions: `forwarded` (RFC 7239), every `x-forwarded-*` (For, Proto, Host, Port,
///   Prefix, Ssl, Scheme, Server, Client-Cert, User, ...: Spring, Rails, Symfony, Express,
///   ASP.NET, Envoy), `x-real-ip` (nginx `realip`), `true-client-ip` (Akamai, Cloudflare),
///   `client-ip`, `x-client-ip`, `x-cluster-client-ip` (Rack's and Rails' `remote_ip`
///   candidates), `fastly-client-ip`, `fly-client-ip`, `x-appengine-user-ip`,
///   `x-azure-clientip`, `x-azure-socketip`, `x-envoy-external-address`,
///   `x-original-forwarded-for` (ingress-nginx), `x-proxyuser-ip` (Google), `cdn-loop`
///   (RFC 8586: a client's value can make the platform refuse the subrequest as a loop), and
///   every `cf-*` (`CF-Connecting-IP`, `-IPv6`, `CF-IPCountry`, `CF-Ray`, `CF-Visitor`,
///   `CF-Worker`, `Cf-Access-Jwt-Assertion`, ...: Cloudflare's statements about a request,
///   which on Workers its edge sets on the way in and its fetch sets again on the way out;
///   one a client sent must never be mistaken for them);
/// - **request-target overrides**: `x-original-url`, `x-rewrite-url` (IIS, Symfony before
///   CVE-2018-14773): they would route the origin to a path the gateway did not check;
/// - **identity asserted by other proxies**, which an origin built for one of them trusts:
///   `x-pomerium-jwt-assertion`, `teleport-jwt-assertion`, `x-goog-iap-jwt-assertion`,
///   `x-goog-authenticated-user-email`, `x-goog-authenticated-user-id`, `x-amzn-oidc-data`,
///   `x-amzn-oidc-identity`, `x-amzn-oidc-accesstoken`, `x-ms-client-principal`,
///   `x-ms-client-principal-id`, `x-ms-client-principal-name`, `x-ms-client-principal-idp`,
///   `remote-user`, `x-remote-user`, `x-auth-request-user`, `x-auth-request-email`,
///   `x-auth-request-groups`, `x-auth-request-preferred-username`, `x-webauth-user`; and
///   mTLS client-certificate headers: `ssl-client-cert`, `x-ssl-client-cert`,
///   `x-ssl-client-verify`, `x-ssl-client-s-dn`, `x-client-cert`, `x-arr-clientcert`,
///   `x-amzn-mtls-clientcert`, `x-amzn-mtls-clientcert-leaf`.
///
/// No list of names can be complete; the gateway's signed assertion is what an origin on the
/// public internet should trust. What is not listed passes unchanged.
pub(super) fn is_stripped(name: &str) -> bool {
    let b = name.as_bytes();
    has_stripped_prefix(b) || STRIPPED_NAMES.contains(b)
}

/// Hop-by-hop headers (RFC 9110 §7.6.1), of a request or a response: `connection`,
/// `keep-alive`, `te`, `trailer`, `transfer-encoding`, `upgrade`, `http2-settings`, every
/// `proxy-*`, and `expect` and `host`, which never cross a proxy as sent.
pub(super) fn is_hop_by_hop(name: &str) -> bool {
    let b = name.as_bytes();
    starts_with(b, b"proxy-") || HOP_BY_HOP_NAMES.contains(b)
}

/// The names listed in `Connection` headers (RFC 9110 §7.6.1), compared like every other
/// rule ([`same_name`]). Empty (and allocation-free) without a `Connection` header.
pub(super) fn connection_listed(headers: &[(String, String)]) -> Vec<&str> {
    headers
        .iter()
        .filter(|(n, _)| n.len() == 10 && n.eq_ignore_ascii_case("connection"))
        .flat_map(|(_, v)| v.split(',').map(str::trim))
        .filter(|t| !t.is_empty())
        .collect()
}

pub(super) fn is_listed(name: &str, listed: &[&str]) -> bool {
    listed.iter().any(|l| same_name(l, name))
}

/// The client's address, if the runtime's value is one (on Workers it comes from a header,
/// which a local runtime may take from the client as sent).
pub(super) fn client_address(head: &RequestHead) -> Option<(&str, IpAddr)> {
    let text = head.client_ip.as_deref()?.trim();
    // Most addresses are IPv4; parse that first, it is the cheaper parser.
    let ip = match text.parse::<Ipv4Addr>() {
        Ok(v4) => IpAddr::V4(v4),
        Err(_) => text.parse().ok()?,
    };
    Some((text, ip))
}

/// RFC 9110 §5.6.2 `tchar`: what an RFC 7239 value may hold unquoted.
fn is_tchar(b: u8) -> bool {
    matches!(b, b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'!' | b'#' | b'$' | b'%' | b'&'
        | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~')
}

/// Appends `value` as an RFC 7239 §4 value: a token as is, anything else a quoted-string
/// (`"` and `\` escaped, control characters dropped).
fn push_value(out: &mut String, value: &str) {
    if !value.is_empty() && value.bytes().all(is_tchar) {
        out.push_str(value);
        return;
    }
    out.push('"');
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() && c != '\t' => {}
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The RFC 7239 `Forwarded` element for this hop: `for` (the client's address; an IPv6 one
/// bracketed and quoted, §6), `proto`, `host`. `for` is left out when the runtime does not
/// know the address.
pub(super) fn forwarded_element(client: Option<(&str, IpAddr)>, head: &RequestHead) -> String {
    let mut out = String::with_capacity(64 + head.host.len());
    if let Some((text, ip)) = client {
        out.push_str("for=");
        match ip {
            IpAddr::V4(_) => out.push_str(text),
            IpAddr::V6(_) => {
                out.push_str("\"[");
                out.push_str(text);
                out.push_str("]\"");
            }
        }
        out.push(';');
    }
    out.push_str("proto=");
    push_value(&mut out, &head.scheme);
    out.push_str(";host=");
    push_value(&mut out, &head.host);
    out
}

#[cfg(test)]
mod tests;
