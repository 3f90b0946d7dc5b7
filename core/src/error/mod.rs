//! Every wire error, one enum per phase, and the one place where each becomes its wire form:
//! RFC 6749 §5.2 on the token, revocation and introspection endpoints, RFC 6750 §3 on
//! services, plain JSON on the admin API, and the gateway's own answers (unknown host,
//! misconfiguration, unreadable body, read-only routes). No `{"error": ...}` body is built
//! anywhere else in the core.
//!
//! Descriptions are lower-case, carry no secret and no internals. Where a storage failure
//! caused an error, the error carries the [`StoreError`] ([`std::error::Error::source`]) so that
//! the runtime can log it (a `Diagnostic` of the step module); the client only ever sees
//! `temporarily_unavailable`.

mod admin;
mod bearer;
mod forward;
mod token;

pub use admin::AdminError;
pub use bearer::{BearerError, Challenge, ScopeRefusal, TokenRefusal};
pub use forward::ForwardError;
pub use token::{ClientAuthFailure, TokenError};

use crate::http::Response;
use serde::{Deserialize, Serialize};
use std::error::Error;
use std::fmt;

/// A storage failure. Its text is for the runtime's log only, never for a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl StoreError {
    pub fn new(message: impl Into<String>) -> StoreError {
        StoreError(message.into())
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "storage error: {}", self.0)
    }
}

impl Error for StoreError {}

/// The JSON body of every error response: `error`, `error_description`, and for RFC 6750
/// `insufficient_scope` the `scope` needed. Public so that clients (the CLI) read errors with
/// the same type the gateway writes them with. Fields are in key order, as serialised.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

fn error_response(status: u16, code: &str, description: &str) -> Response {
    let body = ErrorBody {
        error: code.to_owned(),
        error_description: Some(description.to_owned()),
        scope: None,
    };
    Response::json(status, &body)
}

/// The `error_description` of a throttled authentication (token endpoints and admin API).
fn throttled_description(retry_after_secs: u64) -> String {
    format!("too many failed attempts; retry after {retry_after_secs} s")
}

/// Upstream failures while forwarding (the runtime detects them, `forward::relay`
/// decides, this words them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamError {
    /// Connection refused, DNS failure, TLS failure, an invalid or unrelayable response: 502.
    Unreachable,
    /// No response head within the configured time: 504.
    Timeout,
}

impl UpstreamError {
    fn parts(self) -> (u16, &'static str, &'static str) {
        match self {
            UpstreamError::Unreachable => (
                502,
                "bad_gateway",
                "the service's origin could not be reached",
            ),
            UpstreamError::Timeout => (
                504,
                "gateway_timeout",
                "the service's origin did not answer in time",
            ),
        }
    }

    pub fn to_response(self) -> Response {
        let (status, code, description) = self.parts();
        error_response(status, code, description).with_header("cache-control", "no-store")
    }
}

impl fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (_, code, description) = self.parts();
        write!(f, "{code}: {description}")
    }
}

impl Error for UpstreamError {}

/// The gateway's own answers, before any endpoint runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayError {
    /// 503: the settings do not make a gateway (the log says which; the client learns nothing).
    Misconfigured,
    /// 404: a host that is neither the root domain nor a service of it.
    UnknownHost,
    /// 404: a root-domain path that is no endpoint.
    NoSuchEndpoint,
    /// 400: the runtime could not read the request body (the client went away, or sent a
    /// broken one). The same on every runtime: a truncated body is never handed on.
    UnreadableBody,
    /// 405: metadata, JWKS and health are GET (and HEAD) only.
    ReadOnly,
}

impl GatewayError {
    fn parts(self) -> (u16, &'static str, &'static str) {
        match self {
            GatewayError::Misconfigured => (
                503,
                "temporarily_unavailable",
                "the gateway is not configured; see its log",
            ),
            GatewayError::UnknownHost => (404, "not_found", "unknown host"),
            GatewayError::NoSuchEndpoint => (404, "not_found", "no such endpoint"),
            GatewayError::UnreadableBody => {
                (400, "invalid_request", "the request body could not be read")
            }
            GatewayError::ReadOnly => (405, "method_not_allowed", "use GET"),
        }
    }

    pub fn to_response(self) -> Response {
        let (status, code, description) = self.parts();
        let resp = error_response(status, code, description);
        match self {
            GatewayError::ReadOnly => resp.with_header("allow", "GET, HEAD"),
            _ => resp,
        }
    }
}

impl fmt::Display for GatewayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (_, code, description) = self.parts();
        write!(f, "{code}: {description}")
    }
}

impl Error for GatewayError {}

/// RFC 6750 §3: error_description and scope values are quoted-strings limited to printable
/// ASCII without `"` and `\`.
fn quote_safe(s: &str) -> String {
    s.chars()
        .filter(|c| matches!(c, ' '..='~') && *c != '"' && *c != '\\')
        .collect()
}

#[cfg(test)]
mod tests;
