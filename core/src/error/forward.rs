//! Service requests the gateway will not forward as sent (RFC 6750 §3.1 `invalid_request`
//! wording, no challenge: they are refused whatever the credential), and the one forward
//! failure found before any fetch: a stored upstream that no longer parses.

use super::{error_response, UpstreamError};
use crate::http::{Method, Response};
use crate::path::UnsafePath;
use crate::upstream::InvalidUpstream;
use std::error::Error;
use std::fmt;

const WEBSOCKET_UNSUPPORTED: &str =
    "this gateway runs on spin, whose wasi:http has no upgrade: websockets are not available here";

/// Why a service request is not forwarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardError {
    /// 400: the path could resolve out of the service's base path (see [`crate::path`]).
    UnsafePath(UnsafePath),
    /// 400: `Content-Length` is repeated or not a decimal number (RFC 9110 §8.6).
    InvalidContentLength,
    /// 400: the runtime's HTTP client cannot send content with this method (Fetch refuses it
    /// with GET and HEAD); forwarding the request without it would be another request.
    BodyNotSendable(Method),
    /// 400: the runtime's HTTP client cannot send content of unknown length with this method
    /// (wasi:http over hyper, with GET, HEAD and CONNECT); a `Content-Length` would do.
    ChunkedBodyNotSendable(Method),
    /// 400: `Sec-WebSocket-Key` without `Upgrade: websocket` (RFC 6455 §4.1 asks for both)
    /// where the runtime shows `Upgrade`: the client asked for no upgrade.
    NotAnUpgrade,
    /// 501 `websocket_unsupported`: the runtime cannot carry a WebSocket (wasi:http, Spin, has
    /// no upgrade). Answered after the token checks, never forwarded.
    WebSocketUnsupported,
    /// 502: the service's stored upstream does not parse (stored before the strict parser, or
    /// behind the admin API's back). The log says why; the client learns nothing.
    InvalidUpstream(InvalidUpstream),
}

impl ForwardError {
    /// What a client is told with the 400, or `None` for the 502 (which says nothing).
    fn client_description(&self) -> Option<&'static str> {
        match self {
            ForwardError::UnsafePath(why) => Some(why.rule()),
            ForwardError::InvalidContentLength => {
                Some("content-length must be a single decimal number")
            }
            ForwardError::BodyNotSendable(_) => Some(
                "this gateway cannot forward content with GET or HEAD; send it with another method",
            ),
            ForwardError::ChunkedBodyNotSendable(_) => Some(
                "this gateway cannot forward chunked content with GET or HEAD; send it with a content-length",
            ),
            ForwardError::NotAnUpgrade => Some(
                "a websocket handshake needs upgrade: websocket (rfc 6455 section 4.1)",
            ),
            ForwardError::WebSocketUnsupported => Some(WEBSOCKET_UNSUPPORTED),
            ForwardError::InvalidUpstream(_) => None,
        }
    }

    pub fn to_response(&self) -> Response {
        if let ForwardError::WebSocketUnsupported = self {
            return error_response(501, "websocket_unsupported", WEBSOCKET_UNSUPPORTED)
                .with_header("cache-control", "no-store");
        }
        match self.client_description() {
            Some(description) => error_response(400, "invalid_request", description)
                .with_header("cache-control", "no-store"),
            None => UpstreamError::Unreachable.to_response(),
        }
    }
}

impl fmt::Display for ForwardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self, self.client_description()) {
            (ForwardError::InvalidUpstream(why), _) => {
                write!(f, "the service's stored upstream is invalid: {why}")
            }
            (ForwardError::WebSocketUnsupported, _) => {
                write!(f, "websocket_unsupported: {WEBSOCKET_UNSUPPORTED}")
            }
            (_, description) => write!(f, "invalid_request: {}", description.unwrap_or("")),
        }
    }
}

impl Error for ForwardError {}

impl From<UnsafePath> for ForwardError {
    fn from(why: UnsafePath) -> Self {
        ForwardError::UnsafePath(why)
    }
}
