//! Every wire error, one enum per phase, and the one place where each becomes its wire form:
//! RFC 6749 §5.2 on the token, revocation and introspection endpoints, RFC 6750 §3 on
//! services, plain JSON on the admin API, and the gateway's own answers (unknown host,
//! misconfiguration, unreadable body, read-only routes). No `{"error": ...}` body is built
//! anywhere else in the core.
//!
//! Descriptions are lower-case, carry no secret and no internals. Where a storage failure
//! caused an error, the error carries the [`StoreError`] ([`std::error::Error::source`]) so that
//! the runtime can log it (see [`crate::step::Diagnostic`]); the client only ever sees
//! `temporarily_unavailable`.

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
    let body = ErrorBody { error: code.to_owned(), error_description: Some(description.to_owned()), scope: None };
    Response::json(status, &body)
}

/// Token endpoint errors (RFC 6749 §5.2), plus the HTTP-level refusals that precede parsing.
/// The revocation (RFC 7009 §2.2.1) and introspection (RFC 7662 §2.3) endpoints use them too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// 405: the endpoint takes POST only (§3.2).
    MethodNotAllowed,
    /// 413: the body is over the limit.
    PayloadTooLarge,
    /// `invalid_request`: malformed, repeated or misplaced parameters.
    InvalidRequest(String),
    /// `invalid_client`: authentication failed. `basic_attempted` selects the 401 challenge.
    InvalidClient { description: String, basic_attempted: bool },
    /// `unauthorized_client`: this credential may not do this.
    UnauthorizedClient(String),
    /// `unsupported_grant_type`.
    UnsupportedGrantType,
    /// `invalid_scope`.
    InvalidScope(String),
    /// Storage unavailable: `temporarily_unavailable`, 503.
    Unavailable(StoreError),
}

impl TokenError {
    pub fn invalid_request(d: impl Into<String>) -> Self {
        TokenError::InvalidRequest(d.into())
    }

    fn parts(&self) -> (u16, &'static str, &str) {
        match self {
            TokenError::MethodNotAllowed => (405, "invalid_request", "the token endpoint accepts POST only"),
            TokenError::PayloadTooLarge => (413, "invalid_request", "the request body is too large"),
            TokenError::InvalidRequest(d) => (400, "invalid_request", d),
            TokenError::InvalidClient { description, .. } => (401, "invalid_client", description),
            TokenError::UnauthorizedClient(d) => (400, "unauthorized_client", d),
            TokenError::UnsupportedGrantType => {
                (400, "unsupported_grant_type", "only grant_type=client_credentials is supported")
            }
            TokenError::InvalidScope(d) => (400, "invalid_scope", d),
            TokenError::Unavailable(_) => (503, "temporarily_unavailable", "try again shortly"),
        }
    }

    pub fn to_response(&self, realm: &str) -> Response {
        let (status, code, description) = self.parts();
        let resp = error_response(status, code, description).no_store();
        match self {
            TokenError::MethodNotAllowed => resp.with_header("allow", "POST"),
            // §5.2: a client that tried the Authorization header gets a 401 with a challenge for
            // the scheme it used.
            TokenError::InvalidClient { basic_attempted: true, .. } => {
                resp.with_header("www-authenticate", format!("Basic realm=\"{realm}\", charset=\"UTF-8\""))
            }
            TokenError::Unavailable(_) => resp.with_header("retry-after", "1"),
            _ => resp,
        }
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (_, code, description) = self.parts();
        write!(f, "{code}: {description}")
    }
}

impl Error for TokenError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            TokenError::Unavailable(e) => Some(e),
            _ => None,
        }
    }
}

impl From<StoreError> for TokenError {
    fn from(e: StoreError) -> Self {
        TokenError::Unavailable(e)
    }
}

/// Service-side refusals (RFC 6750 §3, §3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BearerError {
    /// No credential at all: 401 with a bare challenge (§3.1: no error code).
    Missing,
    /// `invalid_request`, 400: the credential was sent in a way that is not accepted.
    InvalidRequest(String),
    /// `invalid_token`, 401: malformed, badly signed, expired or revoked.
    InvalidToken(String),
    /// `insufficient_scope`, 403: valid token, but its scope or the service's policy refuses.
    InsufficientScope { description: String, scope: String },
    /// 404: no such service.
    UnknownService,
    /// 503: storage unavailable.
    Unavailable(StoreError),
}

impl BearerError {
    pub fn invalid_token(d: impl Into<String>) -> Self {
        BearerError::InvalidToken(d.into())
    }

    fn parts(&self) -> (u16, &'static str, &str) {
        match self {
            BearerError::Missing => (401, "unauthorized", "an access token is required"),
            BearerError::InvalidRequest(d) => (400, "invalid_request", d),
            BearerError::InvalidToken(d) => (401, "invalid_token", d),
            BearerError::InsufficientScope { description, .. } => (403, "insufficient_scope", description),
            BearerError::UnknownService => (404, "not_found", "no such service"),
            BearerError::Unavailable(_) => (503, "temporarily_unavailable", "try again shortly"),
        }
    }

    pub fn to_response(&self, realm: &str) -> Response {
        let (status, code, description) = self.parts();
        // §3: the challenge repeats the error code (none for a missing token, §3.1), with
        // values restricted to what a quoted-string may hold.
        let challenge = match self {
            BearerError::Missing => Some(format!("Bearer realm=\"{realm}\"")),
            BearerError::InvalidRequest(_) | BearerError::InvalidToken(_) => Some(format!(
                "Bearer realm=\"{realm}\", error=\"{code}\", error_description=\"{}\"",
                quote_safe(description)
            )),
            BearerError::InsufficientScope { scope, .. } => Some(format!(
                "Bearer realm=\"{realm}\", error=\"{code}\", error_description=\"{}\", scope=\"{}\"",
                quote_safe(description),
                quote_safe(scope)
            )),
            BearerError::UnknownService | BearerError::Unavailable(_) => None,
        };
        let scope = match self {
            BearerError::InsufficientScope { scope, .. } => Some(scope.clone()),
            _ => None,
        };
        let body = ErrorBody { error: code.to_owned(), error_description: Some(description.to_owned()), scope };
        let resp = Response::json(status, &body).with_header("cache-control", "no-store");
        match challenge {
            Some(c) => resp.with_header("www-authenticate", c),
            None => resp,
        }
    }
}

impl fmt::Display for BearerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (_, code, description) = self.parts();
        write!(f, "{code}: {description}")
    }
}

impl Error for BearerError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            BearerError::Unavailable(e) => Some(e),
            _ => None,
        }
    }
}

impl From<StoreError> for BearerError {
    fn from(e: StoreError) -> Self {
        BearerError::Unavailable(e)
    }
}

/// Admin API errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminError {
    /// 401: no or wrong admin credential.
    Unauthorized,
    /// 404.
    NotFound(String),
    /// 409: the name is taken.
    Conflict(String),
    /// 400.
    BadRequest(String),
    /// 405, with the methods the resource allows.
    MethodNotAllowed(&'static str),
    /// 413.
    PayloadTooLarge,
    /// 503: no admin credential is configured.
    Disabled,
    /// 503: storage is unavailable.
    Unavailable(StoreError),
    /// 503: every client id tried was taken (a broken random source).
    ClientIdsExhausted,
}

impl AdminError {
    fn parts(&self) -> (u16, &'static str, &str) {
        match self {
            AdminError::Unauthorized => (401, "unauthorized", "a valid admin credential is required"),
            AdminError::NotFound(d) => (404, "not_found", d),
            AdminError::Conflict(d) => (409, "already_exists", d),
            AdminError::BadRequest(d) => (400, "invalid_request", d),
            AdminError::MethodNotAllowed(_) => (405, "method_not_allowed", "method not allowed on this resource"),
            AdminError::PayloadTooLarge => (413, "invalid_request", "the request body is too large"),
            AdminError::Disabled => {
                (503, "temporarily_unavailable", "the admin API is disabled: set ISOGATE_ADMIN_TOKEN")
            }
            AdminError::Unavailable(_) => (503, "temporarily_unavailable", "storage is unavailable; try again shortly"),
            AdminError::ClientIdsExhausted => {
                (503, "temporarily_unavailable", "could not allocate a client id; try again")
            }
        }
    }

    pub fn to_response(&self, realm: &str) -> Response {
        let (status, code, description) = self.parts();
        let resp = error_response(status, code, description).no_store();
        match self {
            AdminError::Unauthorized => resp.with_header("www-authenticate", format!("Bearer realm=\"{realm}-admin\"")),
            AdminError::MethodNotAllowed(allow) => resp.with_header("allow", *allow),
            _ => resp,
        }
    }
}

impl fmt::Display for AdminError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (_, code, description) = self.parts();
        write!(f, "{code}: {description}")
    }
}

impl Error for AdminError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            AdminError::Unavailable(e) => Some(e),
            _ => None,
        }
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        AdminError::Unavailable(e)
    }
}

/// Upstream failures while forwarding (the runtime detects them, [`crate::forward::relay`]
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
            UpstreamError::Unreachable => (502, "bad_gateway", "the service's origin could not be reached"),
            UpstreamError::Timeout => (504, "gateway_timeout", "the service's origin did not answer in time"),
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
            GatewayError::Misconfigured => {
                (503, "temporarily_unavailable", "the gateway is not configured; see its log")
            }
            GatewayError::UnknownHost => (404, "not_found", "unknown host"),
            GatewayError::NoSuchEndpoint => (404, "not_found", "no such endpoint"),
            GatewayError::UnreadableBody => (400, "invalid_request", "the request body could not be read"),
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
    s.chars().filter(|c| matches!(c, ' '..='~') && *c != '"' && *c != '\\').collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(r: &Response) -> String {
        String::from_utf8(r.body.clone()).unwrap()
    }

    #[test]
    fn error_bodies_are_byte_identical_to_the_published_wire_form() {
        let r = GatewayError::UnreadableBody.to_response();
        assert_eq!(body(&r), r#"{"error":"invalid_request","error_description":"the request body could not be read"}"#);
        let r = BearerError::InsufficientScope { description: "no".into(), scope: "service:a".into() }.to_response("r");
        assert_eq!(body(&r), r#"{"error":"insufficient_scope","error_description":"no","scope":"service:a"}"#);
        assert_eq!(r.header("www-authenticate"), Some(r#"Bearer realm="r", error="insufficient_scope", error_description="no", scope="service:a""#));
        let r = GatewayError::ReadOnly.to_response();
        assert_eq!((r.status, r.header("allow")), (405, Some("GET, HEAD")));
    }

    #[test]
    fn storage_failures_are_the_source_and_never_on_the_wire() {
        let e = TokenError::from(StoreError::new("d1: no such table: credentials"));
        assert_eq!(e.source().map(|s| s.to_string()).as_deref(), Some("storage error: d1: no such table: credentials"));
        assert!(!body(&e.to_response("r")).contains("d1"));
        assert!(BearerError::from(StoreError::new("x")).source().is_some());
        assert!(AdminError::from(StoreError::new("x")).source().is_some());
        assert!(TokenError::UnsupportedGrantType.source().is_none());
    }

    #[test]
    fn rfc6750_3_challenge_values_are_quoted_string_safe() {
        let r = BearerError::InvalidToken("a \"quoted\" \\ value\n".into()).to_response("r");
        assert_eq!(r.header("www-authenticate"), Some(r#"Bearer realm="r", error="invalid_token", error_description="a quoted  value""#));
    }
}
