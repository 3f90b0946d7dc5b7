//! Which request headers cross to the origin, and the forwarding headers the gateway sets.
//!
//! **Names are compared normalised**: ASCII lower-case, with `_` read as `-`, for every rule.
//! CGI-style stacks (Rack, Django's `META`, PHP's `$_SERVER`, WSGI) map both `X-Isogate-User`
//! and `X-Isogate_User` to `HTTP_X_ISOGATE_USER`, and some servers read `Transfer_Encoding` as
//! `Transfer-Encoding`; a rule that missed one spelling would let a client speak for the
//! gateway. Normalising costs no allocation: a name is folded into a small stack buffer once.

use crate::http::RequestHead;
use std::net::{IpAddr, Ipv4Addr};

/// Names up to this length are compared whole; longer ones can only match a prefix rule.
const NAME_BUF: usize = 48;

/// A header name as the strip rules read it.
pub(super) struct Normalised {
    buf: [u8; NAME_BUF],
    len: usize,
    whole: bool,
}

impl Normalised {
    pub(super) fn new(name: &str) -> Normalised {
        let mut buf = [0u8; NAME_BUF];
        let len = name.len().min(NAME_BUF);
        for (out, &b) in buf.iter_mut().zip(name.as_bytes()) {
            *out = if b == b'_' {
                b'-'
            } else {
                b.to_ascii_lowercase()
            };
        }
        Normalised {
            buf,
            len,
            whole: name.len() <= NAME_BUF,
        }
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// The name, if it was short enough to be compared whole.
    fn whole(&self) -> Option<&[u8]> {
        self.whole.then(|| self.bytes())
    }

    fn starts_with(&self, prefix: &[u8]) -> bool {
        self.bytes().starts_with(prefix)
    }

    pub(super) fn is(&self, name: &[u8]) -> bool {
        self.whole() == Some(name)
    }
}

/// Whether a client's header must not reach the origin. The groups, and why each name is in
/// its group:
///
/// - **hop-by-hop** (RFC 9110 §7.6.1): `connection`, `keep-alive`, `proxy-connection`, `te`,
///   `trailer`, `transfer-encoding`, `upgrade`, `http2-settings`, every `proxy-*`; also
///   `expect` (a forwarded `100-continue` breaks the runtimes' fetch), `host` (the fetch sets
///   the origin's) and `content-length` (re-added by the plan when, and only when, the body
///   goes too: RFC 9112 §6.3). Names listed in `Connection` are stripped by the caller.
/// - **the inbound credential**: `authorization`, `x-octelium-auth`.
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
pub(super) fn is_stripped(name: &Normalised) -> bool {
    const PREFIXES: [&[u8]; 3] = [b"x-isogate-", b"x-forwarded-", b"cf-"];
    if is_hop_by_hop(name) || PREFIXES.iter().any(|p| name.starts_with(p)) {
        return true;
    }
    let Some(whole) = name.whole() else {
        return false;
    };
    matches!(
        whole,
        // framing: re-added by the plan
        b"content-length"
            // the inbound credential
            | b"authorization" | b"x-octelium-auth"
            // forwarding and client addresses
            | b"forwarded" | b"x-real-ip" | b"true-client-ip" | b"client-ip" | b"x-client-ip"
            | b"x-cluster-client-ip" | b"fastly-client-ip" | b"fly-client-ip"
            | b"x-appengine-user-ip" | b"x-azure-clientip" | b"x-azure-socketip"
            | b"x-envoy-external-address" | b"x-original-forwarded-for" | b"x-proxyuser-ip"
            | b"cdn-loop"
            // request-target overrides
            | b"x-original-url" | b"x-rewrite-url"
            // other proxies' identity
            | b"x-pomerium-jwt-assertion" | b"teleport-jwt-assertion"
            | b"x-goog-iap-jwt-assertion" | b"x-goog-authenticated-user-email"
            | b"x-goog-authenticated-user-id" | b"x-amzn-oidc-data" | b"x-amzn-oidc-identity"
            | b"x-amzn-oidc-accesstoken" | b"x-ms-client-principal"
            | b"x-ms-client-principal-id" | b"x-ms-client-principal-name"
            | b"x-ms-client-principal-idp" | b"remote-user" | b"x-remote-user"
            | b"x-auth-request-user" | b"x-auth-request-email" | b"x-auth-request-groups"
            | b"x-auth-request-preferred-username" | b"x-webauth-user"
            // client certificates
            | b"ssl-client-cert" | b"x-ssl-client-cert" | b"x-ssl-client-verify"
            | b"x-ssl-client-s-dn" | b"x-client-cert" | b"x-arr-clientcert"
            | b"x-amzn-mtls-clientcert" | b"x-amzn-mtls-clientcert-leaf"
    )
}

/// Hop-by-hop headers (RFC 9110 §7.6.1), of a request or a response: `connection`,
/// `keep-alive`, `te`, `trailer`, `transfer-encoding`, `upgrade`, `http2-settings`, every
/// `proxy-*`, and `expect` and `host`, which never cross a proxy as sent.
pub(super) fn is_hop_by_hop(name: &Normalised) -> bool {
    name.starts_with(b"proxy-")
        || matches!(
            name.whole(),
            Some(
                b"connection"
                    | b"keep-alive"
                    | b"te"
                    | b"trailer"
                    | b"transfer-encoding"
                    | b"upgrade"
                    | b"http2-settings"
                    | b"expect"
                    | b"host"
            )
        )
}

/// The names listed in `Connection` headers (RFC 9110 §7.6.1), normalised like every other
/// rule. Empty (and allocation-free) without a `Connection` header.
pub(super) fn connection_listed(headers: &[(String, String)]) -> Vec<Normalised> {
    headers
        .iter()
        .filter(|(n, _)| Normalised::new(n).is(b"connection"))
        .flat_map(|(_, v)| v.split(',').map(str::trim))
        .filter(|t| !t.is_empty())
        .map(Normalised::new)
        .collect()
}

pub(super) fn is_listed(name: &Normalised, listed: &[Normalised]) -> bool {
    listed
        .iter()
        .any(|l| l.whole == name.whole && l.bytes() == name.bytes())
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

/// RFC 7230 `tchar`: what an RFC 7239 value may hold unquoted.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
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
