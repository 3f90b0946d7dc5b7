//! WebSocket opening handshakes (RFC 6455 §4) through the gateway.
//!
//! The gateway terminates the client's WebSocket and opens its own to the origin (on Workers:
//! a `fetch` with `Upgrade: websocket`, then a `WebSocketPair` relayed both ways), so the
//! per-connection handshake fields (`Sec-WebSocket-Key`, `-Version`, `-Extensions`, `-Accept`,
//! `Connection`) are each leg's own and never cross: the runtime's WebSocket client makes the
//! origin's. What crosses is `Upgrade: websocket` and the application protocols the client
//! offered (`Sec-WebSocket-Protocol`, RFC 6455 §11.3.4), without the token's.
//!
//! **The token as a subprotocol.** Browsers cannot set `Authorization` on a WebSocket; what
//! they can set is the list of subprotocols. A client offers `isogate.bearer.<token>` among
//! them (`new WebSocket(url, ["isogate.bearer." + token, "chat"])`; a JWT is three base64url
//! parts joined by `.`, all RFC 9110 `tchar`s, so it is a valid protocol token). The gateway
//! takes the token from it, removes it from the list the origin sees (from every request's
//! `Sec-WebSocket-Protocol`, so no token ever reaches an origin that way), and answers the
//! client with the protocol the origin chose among the others.
//!
//! **Which requests are handshakes.** A `GET` whose `Upgrade` lists `websocket`, or that carries
//! `Sec-WebSocket-Key`: wasi:http hosts (Spin, wasmtime) remove `Upgrade` and `Connection`
//! from incoming requests before the component sees them, and the key is what is left of the
//! handshake there.

use super::headers::is_named;
use super::{OutboundClient, Relay, UpstreamFailure, UpstreamOutcome};
use crate::error::{ForwardError, UpstreamError};
use crate::http::{Method, RequestHead};

/// The prefix of the subprotocol that carries an access token.
pub const BEARER_SUBPROTOCOL_PREFIX: &str = "isogate.bearer.";

/// The close code of a connection whose token expired or was revoked, or whose credential or
/// access ended (RFC 6455 §7.4.1: 1008, policy violation).
pub const CLOSE_POLICY: u16 = 1008;
/// The close code when the re-check itself failed (storage unavailable; RFC 6455 §7.4.1: 1011).
pub const CLOSE_UNAVAILABLE: u16 = 1011;

/// A WebSocket handshake, as the plan carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebSocketUpgrade {
    /// The application protocols the client offered, in its order, the token's removed.
    pub protocols: Vec<String>,
    /// Whether the runtime showed the request's `Upgrade: websocket` (wasi:http hides it).
    pub upgrade_header: bool,
}

impl WebSocketUpgrade {
    /// Why `client` cannot send this handshake, if it cannot.
    pub(super) fn unsendable_by(&self, client: OutboundClient) -> Option<ForwardError> {
        match client {
            // Fetch opens the origin's WebSocket from `Upgrade: websocket`; without it the
            // client asked for no upgrade, and answering one would be another request.
            OutboundClient::Fetch if !self.upgrade_header => Some(ForwardError::NotAnUpgrade),
            OutboundClient::Fetch => None,
            OutboundClient::WasiHttp => Some(ForwardError::WebSocketUnsupported),
        }
    }
}

/// The plan's handshake headers: the client's protocols rewritten (on every request that sent
/// some, without the token's: [`forwarded_protocols`]), and `Upgrade: websocket` for a
/// handshake.
pub(super) fn push_handshake(
    head: &RequestHead,
    sent_protocols: bool,
    handshake: bool,
    headers: &mut Vec<(String, String)>,
) {
    if let Some(offered) = sent_protocols.then(|| forwarded_protocols(head)).flatten() {
        headers.push(("sec-websocket-protocol".into(), offered));
    }
    if handshake {
        headers.push(("upgrade".into(), "websocket".into()));
    }
}

/// Per-connection handshake fields: each leg has its own, made by its own WebSocket client.
const PER_CONNECTION: &[&str] = &[
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-extensions",
    "sec-websocket-accept",
];

/// Whether a request header stays out of the forward because the request is a handshake.
pub(super) fn is_per_connection(name: &str) -> bool {
    PER_CONNECTION.iter().any(|rule| is_named(name, rule))
}

fn is_protocol_header(name: &str) -> bool {
    name.len() == 22 && is_named(name, "sec-websocket-protocol")
}

/// The handshake this request is, if it is one (module doc: which requests are).
pub fn handshake(head: &RequestHead) -> Option<WebSocketUpgrade> {
    if head.method != Method::Get {
        return None;
    }
    let mut upgrade_header = false;
    let mut key = false;
    for (name, value) in &head.headers {
        if name.len() == 7 && is_named(name, "upgrade") {
            upgrade_header |= value
                .split(',')
                .any(|p| p.trim().eq_ignore_ascii_case("websocket"));
        } else if name.len() == 17 && is_named(name, "sec-websocket-key") {
            key = true;
        }
    }
    (upgrade_header || key).then(|| WebSocketUpgrade {
        protocols: offered(head).map(str::to_owned).collect(),
        upgrade_header,
    })
}

/// Every protocol of the request's `Sec-WebSocket-Protocol` fields, in order.
fn protocols(head: &RequestHead) -> impl Iterator<Item = &str> {
    head.headers
        .iter()
        .filter(|(name, _)| is_protocol_header(name))
        .flat_map(|(_, value)| value.split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty())
}

/// The protocols offered to the origin: all but the token's.
fn offered(head: &RequestHead) -> impl Iterator<Item = &str> {
    protocols(head).filter(|p| !is_bearer(p))
}

fn is_bearer(protocol: &str) -> bool {
    protocol
        .get(..BEARER_SUBPROTOCOL_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(BEARER_SUBPROTOCOL_PREFIX))
}

/// The token a handshake carries as `isogate.bearer.<token>`: `Ok(None)` without one (or when
/// the request is no handshake: the form is only a credential where browsers need it), an
/// error when there are several or it is empty.
pub fn bearer_subprotocol(head: &RequestHead) -> Result<Option<&str>, &'static str> {
    if head.method != Method::Get {
        return Ok(None);
    }
    let mut tokens = protocols(head)
        .filter(|p| is_bearer(p))
        .map(|p| &p[BEARER_SUBPROTOCOL_PREFIX.len()..]);
    match (tokens.next(), tokens.next()) {
        (None, _) => Ok(None),
        (Some(_), Some(_)) => Err("offer one isogate.bearer subprotocol only"),
        (Some(""), None) => Err("the bearer token is empty"),
        (Some(token), None) => Ok(Some(token)),
    }
}

/// The `Sec-WebSocket-Protocol` the origin gets in place of the client's: the offered
/// protocols without the token's, or none when nothing is left. On every request, handshake or
/// not: a token in that field never reaches an origin.
pub(super) fn forwarded_protocols(head: &RequestHead) -> Option<String> {
    let mut out = String::new();
    for p in offered(head) {
        if !out.is_empty() {
            out.push_str(", ");
        }
        out.push_str(p);
    }
    (!out.is_empty()).then_some(out)
}

/// Whether `name` is `Sec-WebSocket-Protocol`, which the plan rewrites ([`forwarded_protocols`]).
pub(super) fn is_protocol(name: &str) -> bool {
    is_protocol_header(name)
}

/// What the client's `101` says for the origin's, when the origin upgraded: the protocol it
/// chose, which must be one the client offered (RFC 6455 §4.1, the client fails the connection
/// otherwise), or `Err` with why not.
pub fn chosen_protocol(
    offered: &[String],
    origin_headers: &[(String, String)],
) -> Result<Option<String>, String> {
    let mut chosen = origin_headers
        .iter()
        .filter(|(name, _)| is_protocol_header(name))
        .map(|(_, value)| value.trim());
    match (chosen.next(), chosen.next()) {
        (None, _) => Ok(None),
        (Some(p), None) if offered.iter().any(|o| o == p) => Ok(Some(p.to_owned())),
        _ => Err("the origin's WebSocket chose a subprotocol the client did not offer".into()),
    }
}

/// The response filter of a WebSocket handshake ([`super::relay`] for the others): the
/// origin's `101` becomes [`Relay::Upgrade`] when it chose a protocol the client offered (else
/// 502); any other answer (the origin refused the upgrade: 4xx, or no WebSocket there) is
/// relayed as an answer to a `GET`.
pub fn relay_upgrade(outcome: UpstreamOutcome<'_>, offered: &[String]) -> Relay {
    let UpstreamOutcome::Responded {
        status: 101,
        headers,
    } = outcome
    else {
        return super::relay(outcome, &Method::Get);
    };
    match chosen_protocol(offered, headers) {
        Ok(protocol) => {
            let mut headers = super::filter_response_headers(headers);
            headers.retain(|(name, _)| !name.starts_with("sec-websocket-"));
            if let Some(protocol) = protocol {
                headers.push(("sec-websocket-protocol".into(), protocol));
            }
            Relay::Upgrade { headers }
        }
        Err(why) => Relay::Replace {
            response: UpstreamError::Unreachable.to_response(),
            diagnostic: UpstreamFailure::Unreachable(why),
        },
    }
}

#[cfg(test)]
mod tests;
