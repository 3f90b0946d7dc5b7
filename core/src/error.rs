//! Errors, one enum per phase, and the one place where each becomes its wire form:
//! RFC 6749 §5.2 on the token endpoint, RFC 6750 §3 on services, plain JSON on the admin API.
//! Descriptions are lower-case, carry no secret and no internals.

use crate::http::Response;
use serde_json::json;
use std::fmt;

/// A storage failure. Its text is for the runtime's log only, never for a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "storage error: {}", self.0)
    }
}

/// Token endpoint errors (RFC 6749 §5.2), plus the HTTP-level refusals that precede parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    /// 405: the token endpoint takes POST only (§3.2).
    MethodNotAllowed,
    /// 413: the body is over the limit.
    PayloadTooLarge,
    /// `invalid_request`: malformed, repeated or misplaced parameters.
    InvalidRequest(String),
    /// `invalid_client`: authentication failed. `basic_attempted` selects the 401 challenge.
    InvalidClient { description: String, basic_attempted: bool },
    /// `unauthorized_client`: this credential may not use this grant.
    UnauthorizedClient(String),
    /// `unsupported_grant_type`.
    UnsupportedGrantType,
    /// `invalid_scope`.
    InvalidScope(String),
    /// Storage unavailable: `temporarily_unavailable`, 503.
    Unavailable,
}

impl TokenError {
    pub fn invalid_request(d: impl Into<String>) -> Self {
        TokenError::InvalidRequest(d.into())
    }

    pub fn to_response(&self, realm: &str) -> Response {
        let (status, code, description): (u16, &str, String) = match self {
            TokenError::MethodNotAllowed => (405, "invalid_request", "the token endpoint accepts POST only".into()),
            TokenError::PayloadTooLarge => (413, "invalid_request", "the request body is too large".into()),
            TokenError::InvalidRequest(d) => (400, "invalid_request", d.clone()),
            TokenError::InvalidClient { description, .. } => (401, "invalid_client", description.clone()),
            TokenError::UnauthorizedClient(d) => (400, "unauthorized_client", d.clone()),
            TokenError::UnsupportedGrantType => {
                (400, "unsupported_grant_type", "only grant_type=client_credentials is supported".into())
            }
            TokenError::InvalidScope(d) => (400, "invalid_scope", d.clone()),
            TokenError::Unavailable => (503, "temporarily_unavailable", "try again shortly".into()),
        };
        let mut resp = Response::json(status, &json!({ "error": code, "error_description": description })).no_store();
        match self {
            TokenError::MethodNotAllowed => resp = resp.with_header("allow", "POST"),
            // §5.2: a client that tried the Authorization header gets a 401 with a challenge for
            // the scheme it used.
            TokenError::InvalidClient { basic_attempted: true, .. } => {
                resp = resp.with_header("www-authenticate", format!("Basic realm=\"{realm}\", charset=\"UTF-8\""))
            }
            TokenError::Unavailable => resp = resp.with_header("retry-after", "1"),
            _ => {}
        }
        resp
    }
}

impl From<StoreError> for TokenError {
    fn from(_: StoreError) -> Self {
        TokenError::Unavailable
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
    Unavailable,
}

impl BearerError {
    pub fn invalid_token(d: impl Into<String>) -> Self {
        BearerError::InvalidToken(d.into())
    }

    pub fn to_response(&self, realm: &str) -> Response {
        let challenge = |params: &str| {
            if params.is_empty() {
                format!("Bearer realm=\"{realm}\"")
            } else {
                format!("Bearer realm=\"{realm}\", {params}")
            }
        };
        let (status, challenge_value, body) = match self {
            BearerError::Missing => (401, Some(challenge("")), json!({ "error": "unauthorized", "error_description": "an access token is required" })),
            BearerError::InvalidRequest(d) => (
                400,
                Some(challenge(&format!("error=\"invalid_request\", error_description=\"{}\"", quote_safe(d)))),
                json!({ "error": "invalid_request", "error_description": d }),
            ),
            BearerError::InvalidToken(d) => (
                401,
                Some(challenge(&format!("error=\"invalid_token\", error_description=\"{}\"", quote_safe(d)))),
                json!({ "error": "invalid_token", "error_description": d }),
            ),
            BearerError::InsufficientScope { description, scope } => (
                403,
                Some(challenge(&format!(
                    "error=\"insufficient_scope\", error_description=\"{}\", scope=\"{}\"",
                    quote_safe(description),
                    quote_safe(scope)
                ))),
                json!({ "error": "insufficient_scope", "error_description": description, "scope": scope }),
            ),
            BearerError::UnknownService => (404, None, json!({ "error": "not_found", "error_description": "no such service" })),
            BearerError::Unavailable => (503, None, json!({ "error": "temporarily_unavailable", "error_description": "try again shortly" })),
        };
        let mut resp = Response::json(status, &body).with_header("cache-control", "no-store");
        if let Some(c) = challenge_value {
            resp = resp.with_header("www-authenticate", c);
        }
        resp
    }
}

impl From<StoreError> for BearerError {
    fn from(_: StoreError) -> Self {
        BearerError::Unavailable
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
    /// 503: the admin API is not configured, or storage is unavailable.
    Unavailable(String),
}

impl AdminError {
    pub fn to_response(&self, realm: &str) -> Response {
        let (status, code, d): (u16, &str, String) = match self {
            AdminError::Unauthorized => (401, "unauthorized", "a valid admin credential is required".into()),
            AdminError::NotFound(d) => (404, "not_found", d.clone()),
            AdminError::Conflict(d) => (409, "already_exists", d.clone()),
            AdminError::BadRequest(d) => (400, "invalid_request", d.clone()),
            AdminError::MethodNotAllowed(_) => (405, "method_not_allowed", "method not allowed on this resource".into()),
            AdminError::PayloadTooLarge => (413, "invalid_request", "the request body is too large".into()),
            AdminError::Unavailable(d) => (503, "temporarily_unavailable", d.clone()),
        };
        let mut resp = Response::json(status, &json!({ "error": code, "error_description": d })).no_store();
        match self {
            AdminError::Unauthorized => resp = resp.with_header("www-authenticate", format!("Bearer realm=\"{realm}-admin\"")),
            AdminError::MethodNotAllowed(allow) => resp = resp.with_header("allow", *allow),
            _ => {}
        }
        resp
    }
}

impl From<StoreError> for AdminError {
    fn from(_: StoreError) -> Self {
        AdminError::Unavailable("storage is unavailable; try again shortly".into())
    }
}

/// Upstream failures while forwarding (the runtime detects them; the core words them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamError {
    /// Connection refused, DNS failure, TLS failure, an invalid response: 502.
    Unreachable,
    /// No response head within the configured time: 504.
    Timeout,
}

impl UpstreamError {
    pub fn to_response(self) -> Response {
        let (status, code, d) = match self {
            UpstreamError::Unreachable => (502, "bad_gateway", "the service's origin could not be reached"),
            UpstreamError::Timeout => (504, "gateway_timeout", "the service's origin did not answer in time"),
        };
        Response::json(status, &json!({ "error": code, "error_description": d })).with_header("cache-control", "no-store")
    }
}

/// RFC 6750 §3: error_description and scope values are quoted-strings limited to printable
/// ASCII without `"` and `\`.
fn quote_safe(s: &str) -> String {
    s.chars().filter(|c| matches!(c, ' '..='~') && *c != '"' && *c != '\\').collect()
}
