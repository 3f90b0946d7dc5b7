//! RFC 6749 §5.2 errors of the token, revocation and introspection endpoints.

use super::{error_response, StoreError};
use crate::http::Response;
use std::error::Error;
use std::fmt;

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
    InvalidClient {
        description: String,
        basic_attempted: bool,
    },
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
            TokenError::MethodNotAllowed => (
                405,
                "invalid_request",
                "the token endpoint accepts POST only",
            ),
            TokenError::PayloadTooLarge => {
                (413, "invalid_request", "the request body is too large")
            }
            TokenError::InvalidRequest(d) => (400, "invalid_request", d),
            TokenError::InvalidClient { description, .. } => (401, "invalid_client", description),
            TokenError::UnauthorizedClient(d) => (400, "unauthorized_client", d),
            TokenError::UnsupportedGrantType => (
                400,
                "unsupported_grant_type",
                "only grant_type=client_credentials is supported",
            ),
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
            TokenError::InvalidClient {
                basic_attempted: true,
                ..
            } => resp.with_header(
                "www-authenticate",
                format!("Basic realm=\"{realm}\", charset=\"UTF-8\""),
            ),
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
