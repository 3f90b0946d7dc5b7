//! Planning the forward of an authorized request to the service's origin ([`plan_forward`]),
//! and deciding what the client gets for the origin's answer ([`relay`]): which headers go,
//! which are stripped, which identity is attached, when a 502 or 504 replaces the answer.
//! The runtime performs the fetch and streams both bodies; nothing here touches a body.

use crate::error::UpstreamError;
use crate::http::{Method, RequestHead, Response};
use crate::model::Service;
use std::fmt;

/// Identity attached to the forwarded request: what the gateway verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub user: String,
    pub client_id: String,
    pub credential: String,
    pub scope: String,
    /// The token's `jti`, for the origin's audit log.
    pub token_id: String,
}

/// What the runtime should send to the origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardPlan {
    /// The client's method, as sent.
    pub method: Method,
    /// Absolute URL: upstream base + request path + query.
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// Whether the incoming request has a body to stream on (methods other than GET/HEAD).
    pub has_body: bool,
}

/// Prefix of the identity headers. Any the client sent are removed so an origin can trust them.
pub const IDENTITY_HEADER_PREFIX: &str = "x-isogate-";

/// Hop-by-hop headers (RFC 9110 §7.6.1), plus those that must not cross a proxy: `host` (the
/// fetch sets its own), `expect` (a forwarded `100-continue` breaks the runtimes' fetch), and
/// the `proxy-*` family.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
    "host",
];

/// Headers carrying the inbound credential or client-asserted forwarding data.
const INBOUND_CREDENTIAL_AND_FORWARDING: &[&str] = &[
    "authorization",
    "x-octelium-auth",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "forwarded",
];

/// Names listed in `Connection` are hop-by-hop too (RFC 9110 §7.6.1).
fn connection_listed(headers: &[(String, String)]) -> Vec<String> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
        .flat_map(|(_, v)| v.split(',').map(|t| t.trim().to_ascii_lowercase()))
        .filter(|t| !t.is_empty())
        .collect()
}

fn is_hop_by_hop(name: &str, listed: &[String]) -> bool {
    HOP_BY_HOP.contains(&name) || name.starts_with("proxy-") || listed.iter().any(|l| l == name)
}

/// Builds the forward: same method, path, query and end-to-end headers; the credential, any
/// client-sent identity and hop-by-hop headers removed; verified identity and `X-Forwarded-*`
/// added.
pub fn plan_forward(head: &RequestHead, service: &Service, principal: &Principal) -> ForwardPlan {
    let listed = connection_listed(&head.headers);
    let mut headers: Vec<(String, String)> = head
        .headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
        .filter(|(n, _)| {
            !is_hop_by_hop(n, &listed)
                && !INBOUND_CREDENTIAL_AND_FORWARDING.contains(&n.as_str())
                && !n.starts_with(IDENTITY_HEADER_PREFIX)
        })
        .collect();
    let identity = [
        ("x-isogate-user", principal.user.as_str()),
        ("x-isogate-service", service.name.as_str()),
        ("x-isogate-credential", principal.credential.as_str()),
        ("x-isogate-client-id", principal.client_id.as_str()),
        ("x-isogate-scope", principal.scope.as_str()),
        ("x-isogate-token-id", principal.token_id.as_str()),
    ];
    headers.extend(identity.iter().map(|(n, v)| (n.to_string(), v.to_string())));
    // The edge is the trust boundary: what the client claimed about forwarding is replaced, not
    // appended to.
    if let Some(ip) = &head.client_ip {
        headers.push(("x-forwarded-for".into(), ip.clone()));
    }
    headers.push(("x-forwarded-proto".into(), head.scheme.clone()));
    headers.push(("x-forwarded-host".into(), head.host.clone()));

    let mut url = String::with_capacity(service.upstream.len() + head.path.len() + 16);
    url.push_str(&service.upstream);
    url.push_str(if head.path.is_empty() {
        "/"
    } else {
        &head.path
    });
    if let Some(q) = &head.query {
        url.push('?');
        url.push_str(q);
    }
    let has_body = !matches!(head.method, Method::Get | Method::Head);
    ForwardPlan {
        method: head.method.clone(),
        url,
        headers,
        has_body,
    }
}

/// Filters the origin's response headers before they go back to the client: hop-by-hop
/// headers out (the runtime frames the response itself).
fn filter_response_headers(headers: &[(String, String)]) -> Vec<(String, String)> {
    let listed = connection_listed(headers);
    headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
        .filter(|(n, _)| !is_hop_by_hop(n, &listed))
        .collect()
}

/// What became of the fetch the runtime made per a [`ForwardPlan`].
#[derive(Clone, Debug)]
pub enum UpstreamOutcome<'a> {
    /// The origin answered with this status and these headers (its body is the runtime's).
    Responded {
        status: u16,
        headers: &'a [(String, String)],
    },
    /// No response head within the configured timeout.
    TimedOut,
    /// No answer at all.
    Failed(UpstreamFailure),
}

/// Why there is no origin answer to relay, for the runtime's log. Never shown to a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpstreamFailure {
    /// The runtime would not send the planned request (a method or URL it refuses).
    Unsendable(String),
    /// Refused connection, DNS or TLS failure, an invalid response, as the runtime words it.
    Unreachable(String),
    /// The origin answered with a status a plain fetch cannot relay (1xx, `101`).
    UnrelayableStatus(u16),
    /// No response head within the timeout.
    TimedOut,
}

impl fmt::Display for UpstreamFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpstreamFailure::Unsendable(why) => {
                write!(f, "the outbound request could not be built: {why}")
            }
            UpstreamFailure::Unreachable(why) => write!(f, "upstream fetch failed: {why}"),
            UpstreamFailure::UnrelayableStatus(status) => {
                write!(f, "upstream answered {status}, which cannot be relayed")
            }
            UpstreamFailure::TimedOut => f.write_str("upstream response head timed out"),
        }
    }
}

impl std::error::Error for UpstreamFailure {}

/// What the runtime sends the client for the origin's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Relay {
    /// The origin's status and (filtered) headers, and its body streamed through unless
    /// `with_body` is false (a `HEAD` request, `204`, `304`: RFC 9110 §6.4.1, no content).
    Pass {
        status: u16,
        headers: Vec<(String, String)>,
        with_body: bool,
    },
    /// The core's answer instead (502 or 504), and why, for the log (as the step module's
    /// `Diagnostic::Upstream`).
    Replace {
        response: Response,
        diagnostic: UpstreamFailure,
    },
}

/// The response filter, one decision for every runtime: relay the origin's answer, or replace
/// it with 504 (timed out) or 502 (failed, or a status that cannot be relayed).
pub fn relay(outcome: UpstreamOutcome<'_>, request_method: &Method) -> Relay {
    match outcome {
        UpstreamOutcome::Responded { status, headers } => {
            if !(200..=599).contains(&status) {
                let failure = UpstreamFailure::UnrelayableStatus(status);
                return Relay::Replace {
                    response: UpstreamError::Unreachable.to_response(),
                    diagnostic: failure,
                };
            }
            let with_body = *request_method != Method::Head && status != 204 && status != 304;
            Relay::Pass {
                status,
                headers: filter_response_headers(headers),
                with_body,
            }
        }
        UpstreamOutcome::TimedOut => Relay::Replace {
            response: UpstreamError::Timeout.to_response(),
            diagnostic: UpstreamFailure::TimedOut,
        },
        UpstreamOutcome::Failed(failure) => Relay::Replace {
            response: UpstreamError::Unreachable.to_response(),
            diagnostic: failure,
        },
    }
}

#[cfg(test)]
mod tests;
