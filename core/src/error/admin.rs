//! Admin API errors.

use super::{error_response, throttled_description, StoreError};
use crate::http::Response;
use std::error::Error;
use std::fmt;

/// Admin API errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminError {
    /// 401: no or wrong admin credential.
    Unauthorized,
    /// 429 `too_many_requests` (RFC 6585 §4): too many wrong admin credentials from this
    /// address; refused before the credential is looked at.
    Throttled {
        retry_after_secs: u64,
        description: String,
    },
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
    /// The refusal of an attempt throttled for `retry_after_secs` more seconds.
    pub fn throttled(retry_after_secs: u64) -> Self {
        AdminError::Throttled {
            retry_after_secs,
            description: throttled_description(retry_after_secs),
        }
    }

    fn parts(&self) -> (u16, &'static str, &str) {
        match self {
            AdminError::Unauthorized => {
                (401, "unauthorized", "a valid admin credential is required")
            }
            AdminError::Throttled { description, .. } => (429, "too_many_requests", description),
            AdminError::NotFound(d) => (404, "not_found", d),
            AdminError::Conflict(d) => (409, "already_exists", d),
            AdminError::BadRequest(d) => (400, "invalid_request", d),
            AdminError::MethodNotAllowed(_) => (
                405,
                "method_not_allowed",
                "method not allowed on this resource",
            ),
            AdminError::PayloadTooLarge => {
                (413, "invalid_request", "the request body is too large")
            }
            AdminError::Disabled => (
                503,
                "temporarily_unavailable",
                "the admin API is disabled: set ISOGATE_ADMIN_TOKEN",
            ),
            AdminError::Unavailable(_) => (
                503,
                "temporarily_unavailable",
                "storage is unavailable; try again shortly",
            ),
            AdminError::ClientIdsExhausted => (
                503,
                "temporarily_unavailable",
                "could not allocate a client id; try again",
            ),
        }
    }

    pub fn to_response(&self, realm: &str) -> Response {
        let (status, code, description) = self.parts();
        let resp = error_response(status, code, description).no_store();
        match self {
            AdminError::Unauthorized => resp.with_header(
                "www-authenticate",
                format!("Bearer realm=\"{realm}-admin\""),
            ),
            AdminError::MethodNotAllowed(allow) => resp.with_header("allow", *allow),
            AdminError::Throttled {
                retry_after_secs, ..
            } => resp.with_header("retry-after", format!("{retry_after_secs}")),
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
