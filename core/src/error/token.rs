//! RFC 6749 §5.2 errors of the token, revocation and introspection endpoints.

use super::{error_response, throttled_description, StoreError};
use crate::client_assertion::AssertionFailure;
use crate::dpop::{DpopInvalid, ProofFailure};
use crate::federation::FederationFailure;
use crate::http::Response;
use crate::resource::InvalidTarget;
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
    /// `invalid_client`: authentication failed (401, always with a `Basic` challenge).
    /// `basic_attempted` says which method the client tried.
    InvalidClient {
        failure: ClientAuthFailure,
        basic_attempted: bool,
    },
    /// `unauthorized_client`: this credential may not do this.
    UnauthorizedClient(String),
    /// `unsupported_grant_type`.
    UnsupportedGrantType,
    /// `invalid_scope`.
    InvalidScope(String),
    /// `invalid_target` (RFC 8707 §2): a `resource` parameter that is malformed, outside the
    /// granted scope, or no service of this gateway.
    InvalidTarget(InvalidTarget),
    /// 400 `invalid_request` at the revocation endpoint: the client holds as many unexpired
    /// revocations as one credential may. RFC 7009 §2.2.1 answers errors in the RFC 6749
    /// §5.2 form, whose codes are 400s (429 is no OAuth error and clients treat it as a
    /// transport failure); `invalid_request` is the nearest code, and the description says
    /// the remedy. It is not transient enough for a retry loop: room comes back only as the
    /// revoked tokens expire.
    TooManyRevocations,
    /// 429 `invalid_client` (RFC 6585 §4): too many failed authentications for this client id
    /// or address (see `crate::throttle`); refused before the secret is looked at.
    Throttled {
        retry_after_secs: u64,
        description: String,
    },
    /// 400 `invalid_dpop_proof` (RFC 9449 §5, §12.2): the token request's DPoP proof is
    /// refused, or missing for a credential that requires one.
    InvalidDpopProof(DpopInvalid),
    /// Storage unavailable: `temporarily_unavailable`, 503.
    Unavailable(StoreError),
}

/// Why client authentication (RFC 6749 §2.3) failed: typed for the audit log. A client is told
/// no more than §5.2 needs: an unknown client id, a wrong secret and an inactive credential
/// all read the same to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuthFailure {
    /// No client authentication at all.
    Missing,
    /// Client authentication that cannot be read (a broken `Authorization: Basic`, another
    /// scheme); the description says what is wrong with it.
    Malformed(&'static str),
    /// No credential has this client id.
    UnknownClient,
    /// The secret is not the credential's.
    BadSecret,
    /// The right secret, but its user is disabled, or it is no oauth2 credential.
    Inactive,
    /// The right secret of a disabled credential (`isogate update cred --disable`).
    Disabled,
    /// The right secret of an expired credential.
    Expired,
    /// The secret a rotation replaced, after its grace (`isogate rotate cred`).
    Rotated,
    /// A `--max-uses` credential whose uses are spent.
    UsedUp,
    /// A `private_key_jwt` assertion refused (RFC 7521 §4.2.1), and why; or one presented
    /// for a credential that takes none.
    Assertion(AssertionFailure),
    /// A federated credential's external token refused ([`crate::federation`]), and why.
    Federation(FederationFailure),
}

impl ClientAuthFailure {
    pub fn description(self) -> &'static str {
        match self {
            ClientAuthFailure::Missing => {
                "client authentication is required (client_secret_basic, client_secret_post or \
                 private_key_jwt)"
            }
            ClientAuthFailure::Malformed(why) => why,
            ClientAuthFailure::UnknownClient
            | ClientAuthFailure::BadSecret
            | ClientAuthFailure::Inactive
            | ClientAuthFailure::Disabled
            | ClientAuthFailure::Expired
            | ClientAuthFailure::Rotated
            | ClientAuthFailure::UsedUp
            | ClientAuthFailure::Assertion(_)
            | ClientAuthFailure::Federation(_) => "client authentication failed",
        }
    }
}

impl TokenError {
    pub fn invalid_request(d: impl Into<String>) -> Self {
        TokenError::InvalidRequest(d.into())
    }

    /// The refusal of an attempt throttled for `retry_after_secs` more seconds.
    pub fn throttled(retry_after_secs: u64) -> Self {
        TokenError::Throttled {
            retry_after_secs,
            description: throttled_description(retry_after_secs),
        }
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
            TokenError::InvalidClient { failure, .. } => {
                (401, "invalid_client", failure.description())
            }
            TokenError::UnauthorizedClient(d) => (400, "unauthorized_client", d),
            TokenError::UnsupportedGrantType => (
                400,
                "unsupported_grant_type",
                "only grant_type=client_credentials is supported",
            ),
            TokenError::InvalidScope(d) => (400, "invalid_scope", d),
            TokenError::InvalidTarget(why) => (400, "invalid_target", why.description()),
            TokenError::TooManyRevocations => (
                400,
                "invalid_request",
                "too many revoked tokens for this client; delete and recreate the credential \
                 to end all of its tokens at once",
            ),
            TokenError::Throttled { description, .. } => (429, "invalid_client", description),
            TokenError::InvalidDpopProof(why) => (400, "invalid_dpop_proof", why.description()),
            TokenError::Unavailable(_) => (503, "temporarily_unavailable", "try again shortly"),
        }
    }

    pub fn to_response(&self, realm: &str) -> Response {
        let (status, code, description) = self.parts();
        let resp = error_response(status, code, description).no_store();
        match self {
            TokenError::MethodNotAllowed => resp.with_header("allow", "POST"),
            // RFC 9110 §15.5.2: every 401 carries a challenge. RFC 6749 §5.2 asks for one
            // for the scheme a client used in `Authorization`; a client that used
            // `client_secret_post` gets the same one, naming the HTTP scheme these endpoints
            // accept (the form is not an HTTP authentication scheme).
            TokenError::InvalidClient { .. } => resp.with_header(
                "www-authenticate",
                format!("Basic realm=\"{realm}\", charset=\"UTF-8\""),
            ),
            TokenError::Unavailable(_) => resp.with_header("retry-after", "1"),
            // RFC 6585 §4, RFC 9110 §10.2.3: when trying again can succeed.
            TokenError::Throttled {
                retry_after_secs, ..
            } => resp.with_header("retry-after", format!("{retry_after_secs}")),
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

impl From<ProofFailure> for TokenError {
    fn from(e: ProofFailure) -> Self {
        match e {
            ProofFailure::Invalid(why) => TokenError::InvalidDpopProof(why),
            ProofFailure::Unavailable(e) => TokenError::Unavailable(e),
        }
    }
}
