//! Planning the forward of an authorized request to the service's origin ([`plan_forward`]),
//! and deciding what the client gets for the origin's answer ([`relay`]): which headers go,
//! which are stripped, which identity is attached, whether a body goes, when a 400, 502 or
//! 504 replaces the forward or the answer. The runtime performs the fetch and streams both
//! bodies; nothing here touches a body.
//!
//! The boundary an origin can rely on:
//!
//! - nothing the client sent that names the gateway's identity, a proxy's, or forwarding
//!   data reaches it, whatever the spelling of the header name (module `headers`);
//! - `X-Forwarded-For/-Proto/-Host` and RFC 7239 `Forwarded` are the gateway's;
//! - the body goes exactly when the client sent one, and `Content-Length` only with its body
//!   (RFC 9112 §6.3), so the origin never waits for bytes that are not coming, nor reads the
//!   next request as this one's body;
//! - the path stays under the upstream's base path ([`crate::path`]), every byte of path and
//!   query otherwise as sent;
//! - an origin's cookies stay host-only ([`without_domain`]);
//! - a WebSocket handshake crosses as one ([`websocket`]), without the token's subprotocol.

mod cookie;
mod framing;
mod headers;
pub mod websocket;

pub use cookie::without_domain;
pub use framing::check_request;

use crate::error::{ForwardError, UpstreamError};
use crate::http::{Method, RequestHead, Response};
use crate::model::Service;
use crate::path::check_path;
use crate::upstream::{parse_upstream_ref, Scheme};
use framing::framing;
use headers::{
    client_address, connection_listed, forwarded_element, is_hop_by_hop, is_listed, is_named,
    is_stripped,
};
use std::fmt;
use websocket::WebSocketUpgrade;

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
    /// Absolute URL: upstream base + request path + query. Read its parts with
    /// [`ForwardPlan::scheme`], [`authority`](ForwardPlan::authority) and
    /// [`path_and_query`](ForwardPlan::path_and_query) rather than splitting it again.
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// Whether the request's body goes too: exactly when the client sent one
    /// (`Content-Length` > 0 or any `Transfer-Encoding`), whatever the method.
    pub has_body: bool,
    /// Whether that body's length is unknown (the client sent it chunked).
    chunked: bool,
    /// A WebSocket handshake ([`websocket`]): the runtime opens a WebSocket to the origin
    /// and relays it, or refuses ([`ForwardPlan::unsendable_by`]).
    /// Boxed: plans move by value in steps, and most are no handshake.
    pub websocket: Option<Box<WebSocketUpgrade>>,
    scheme: Scheme,
    /// Where the path starts in `url` (the authority starts after `scheme://`).
    path_start: usize,
}

impl ForwardPlan {
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The upstream's `host[:port]`.
    pub fn authority(&self) -> &str {
        &self.url[self.scheme.as_str().len() + 3..self.path_start]
    }

    /// Base path + request path, and `?query` when the request had one.
    pub fn path_and_query(&self) -> &str {
        &self.url[self.path_start..]
    }

    /// The answer to send instead of the forward when `client` cannot send the plan as made
    /// (the runtime adapter says which client it has); `None` when it can. Sending the request
    /// without its body would be another request, so it is refused (400), never sent so.
    pub fn refusal_for(&self, client: OutboundClient) -> Option<Response> {
        self.unsendable_by(client)
            .map(|refused| refused.to_response())
    }

    /// Why `client` cannot send the plan as made, if it cannot ([`ForwardPlan::refusal_for`]).
    pub fn unsendable_by(&self, client: OutboundClient) -> Option<ForwardError> {
        let method = &self.method;
        if let Some(upgrade) = &self.websocket {
            return upgrade.unsendable_by(client);
        }
        match client {
            OutboundClient::Fetch
                if self.has_body && matches!(method, Method::Get | Method::Head) =>
            {
                Some(ForwardError::BodyNotSendable(method.clone()))
            }
            OutboundClient::WasiHttp
                if self.chunked
                    && matches!(method, Method::Get | Method::Head | Method::Connect) =>
            {
                Some(ForwardError::ChunkedBodyNotSendable(method.clone()))
            }
            _ => None,
        }
    }
}

/// The HTTP client a runtime forwards with, as its adapter declares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboundClient {
    /// Fetch (Workers): a `Request` with GET or HEAD cannot have a body (Fetch, "new
    /// Request(input, init)": a TypeError). Opens WebSockets (`Upgrade: websocket`).
    Fetch,
    /// wasi:http (Spin, over wasmtime-wasi-http and hyper): content with any method, except
    /// content of unknown length with GET, HEAD or CONNECT, which hyper sends as no content
    /// at all (`Content-Length: 0` framing), and which a guest cannot mark as chunked
    /// (`Transfer-Encoding` is a forbidden header in wasi:http). No upgrade at all: wasi:http
    /// has none, so no WebSocket.
    WasiHttp,
}

/// Whether the forward plan sets or strips a header of this name itself (hop-by-hop, framing,
/// `Host`, identity, forwarding, `X-Request-Id`...), compared folded: an upstream credential
/// ([`crate::upstream_auth`]) may not use one, except `Authorization`, which is stripped from
/// the client precisely so that the gateway may set the origin's.
pub fn is_gateway_owned(name: &str) -> bool {
    is_stripped(name) && !is_named(name, "authorization")
}

/// Whether two header names are one, compared as every strip rule compares them (folded).
pub fn same_header(a: &str, b: &str) -> bool {
    headers::same_name(a, b)
}

/// Prefix of the identity headers. Any the client sent are removed so an origin can trust them.
pub const IDENTITY_HEADER_PREFIX: &str = "x-isogate-";

/// Builds the forward: same method, path, query and end-to-end headers; the credential,
/// client-sent identity, forwarding and hop-by-hop headers removed (names compared
/// normalised: module `headers`); verified identity, `X-Forwarded-*` and `Forwarded` added; the
/// body and `Content-Length` per the client's framing. Refused when the path is unsafe, the
/// framing invalid, or the stored upstream does not parse.
pub fn plan_forward(
    head: &RequestHead,
    service: &Service,
    principal: &Principal,
) -> Result<ForwardPlan, ForwardError> {
    check_path(&head.path)?;
    let framing = framing(head)?;
    let upstream = parse_upstream_ref(&service.upstream).map_err(ForwardError::InvalidUpstream)?;

    let listed = connection_listed(&head.headers);
    let upgrade = websocket::handshake(head);
    let mut headers: Vec<(String, String)> = Vec::with_capacity(head.headers.len() + 12);
    let mut protocols = false;
    for (name, value) in &head.headers {
        if is_stripped(name) || is_listed(name, &listed) {
            continue;
        }
        if websocket::is_protocol(name) {
            protocols = true;
        } else if upgrade.is_none() || !websocket::is_per_connection(name) {
            headers.push((name.to_ascii_lowercase(), value.clone()));
        }
    }
    websocket::push_handshake(head, protocols, upgrade.is_some(), &mut headers);
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
    let client = client_address(head);
    if let Some((ip, _)) = client {
        headers.push(("x-forwarded-for".into(), ip.to_owned()));
    }
    headers.push(("x-forwarded-proto".into(), head.scheme.clone()));
    headers.push(("x-forwarded-host".into(), head.host.clone()));
    headers.push(("forwarded".into(), forwarded_element(client, head)));
    if let Some(length) = framing.content_length {
        headers.push(("content-length".into(), length.to_owned()));
    }

    let scheme = upstream.scheme.as_str();
    let path = if head.path.is_empty() {
        "/"
    } else {
        &head.path
    };
    let query_len = head.query.as_ref().map_or(0, |q| q.len() + 1);
    let mut url = String::with_capacity(
        scheme.len()
            + 3
            + upstream.authority.len()
            + upstream.base_path.len()
            + path.len()
            + query_len,
    );
    url.push_str(scheme);
    url.push_str("://");
    url.push_str(upstream.authority);
    let path_start = url.len();
    url.push_str(upstream.base_path);
    url.push_str(path);
    if let Some(q) = &head.query {
        url.push('?');
        url.push_str(q);
    }
    Ok(ForwardPlan {
        method: head.method.clone(),
        url,
        headers,
        has_body: framing.has_body,
        chunked: framing.chunked,
        websocket: upgrade.map(Box::new),
        scheme: upstream.scheme,
        path_start,
    })
}

/// Filters the origin's response headers before they go back to the client: hop-by-hop
/// headers out (the runtime frames the response itself), `Domain` out of every `Set-Cookie`.
// Not inlined: the relay of a WebSocket's 101 calls it too (one copy in the wasm).
#[inline(never)]
fn filter_response_headers(headers: &[(String, String)]) -> Vec<(String, String)> {
    let listed = connection_listed(headers);
    // One more: the request id the audit record adds (crate::audit::ForwardRecord::relay).
    let mut out = Vec::with_capacity(headers.len() + 1);
    for (name, value) in headers {
        if is_hop_by_hop(name) || is_listed(name, &listed) {
            continue;
        }
        let value = if is_named(name, "set-cookie") {
            without_domain(value).into_owned()
        } else {
            value.clone()
        };
        out.push((name.to_ascii_lowercase(), value));
    }
    out
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
    /// The origin accepted the WebSocket (`101`): answer the client's handshake with these
    /// headers (the subprotocol the origin chose, the request id) and relay the two
    /// WebSockets both ways ([`websocket`]).
    Upgrade { headers: Vec<(String, String)> },
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
mod relay_tests;
#[cfg(test)]
mod tests;
