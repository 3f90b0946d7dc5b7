//! RFC 6750 §3 refusals on service hosts.

use super::{quote_safe, ErrorBody, ForwardError, StoreError};
use crate::dpop::{DpopAlg, DpopInvalid, ProofFailure};
use crate::http::Response;
use crate::rate_limit::Limited;
use crate::token::TokenInvalid;
use crate::upstream_auth::OriginCredentialError;
use std::error::Error;
use std::fmt;

/// Service-side refusals (RFC 6750 §3, §3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BearerError {
    /// No credential at all: 401 with a bare challenge (§3.1: no error code).
    Missing,
    /// `invalid_request`, 400: the credential was sent in a way that is not accepted.
    InvalidRequest(String),
    /// `invalid_token`, 401: malformed, badly signed, expired or revoked.
    InvalidToken(TokenRefusal),
    /// `invalid_dpop_proof`, 401 with a `DPoP` challenge (RFC 9449 §7.1, §12.2): the proof of
    /// a DPoP-bound token is missing or refused.
    InvalidDpopProof(DpopInvalid),
    /// `insufficient_scope`, 403: valid token, but its scope or the service's policy refuses;
    /// `scope` is the scope the request needs (§3.1).
    InsufficientScope {
        refusal: ScopeRefusal,
        scope: String,
    },
    /// 404: no such service.
    UnknownService,
    /// `rate_limited`, 429 (RFC 6585 §4): the credential is past the service's rate limit.
    /// No challenge: the token is good, and retrying later with it will work.
    RateLimited(Limited),
    /// 503: storage unavailable.
    Unavailable(StoreError),
    /// 400 or 502: the request cannot be forwarded as sent (answered as [`ForwardError`]).
    Forward(ForwardError),
    /// 502: the origin's own credential could not be had (a missing secret, a failing token
    /// endpoint: [`crate::upstream_auth`]). The client learns nothing; the log says which.
    UpstreamCredential(OriginCredentialError),
}

/// Why a bearer token is refused (`invalid_token`): typed, so that the audit log names the
/// reason without reading the wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    /// The token itself does not validate (RFC 9068 §4).
    Invalid(TokenInvalid),
    /// The credential behind it was deleted, or its user deleted or disabled.
    CredentialInactive,
    /// The credential behind it is disabled (`isogate update cred --disable`).
    CredentialDisabled,
    /// The credential behind it has expired.
    CredentialExpired,
    /// A rotation of its credential replaced it, and the grace is over ([`crate::lifecycle`]).
    Superseded,
    /// The token was revoked (RFC 7009).
    Revoked,
    /// Its `scope` claim does not parse (only a token signed outside this code carries one).
    BadScope,
    /// Its `aud` names other services (RFC 8707 resource indicators): refused here whatever
    /// its scope.
    OtherResource,
    /// A DPoP-bound token (`cnf.jkt`) sent as a bearer token (RFC 9449 §7.2: refused).
    DpopBoundAsBearer,
    /// A token without `cnf.jkt` sent under the `DPoP` scheme (RFC 9449 §7.1).
    NotDpopBound,
}

impl TokenRefusal {
    pub fn description(self) -> &'static str {
        match self {
            TokenRefusal::Invalid(why) => why.description(),
            TokenRefusal::CredentialInactive => "the credential behind this token was revoked",
            TokenRefusal::CredentialDisabled => "the credential behind this token is disabled",
            TokenRefusal::CredentialExpired => "the credential behind this token has expired",
            TokenRefusal::Superseded => {
                "the access token was replaced by a rotation of its credential"
            }
            TokenRefusal::Revoked => "the access token was revoked",
            TokenRefusal::BadScope => "the access token has an invalid scope",
            TokenRefusal::OtherResource => "the access token is for another resource",
            TokenRefusal::DpopBoundAsBearer => {
                "the access token is DPoP-bound: send it as Authorization: DPoP with a DPoP proof"
            }
            TokenRefusal::NotDpopBound => "the access token is not DPoP-bound",
        }
    }
}

/// Why a valid token may not reach a service (`insufficient_scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeRefusal {
    /// The token's scope does not name the service.
    NotInScope,
    /// The service's policy (its allowed users) does not admit the token's user.
    Policy,
    /// A deny rule of the service's policy matched the request.
    DeniedByRule,
    /// The service has policy rules and none admits the request (default deny).
    NoRuleMatched,
}

impl ScopeRefusal {
    pub fn description(self) -> &'static str {
        match self {
            ScopeRefusal::NotInScope => "the access token's scope does not include this service",
            ScopeRefusal::Policy => "this service's policy does not admit this user",
            ScopeRefusal::DeniedByRule | ScopeRefusal::NoRuleMatched => {
                "this service's policy does not admit this request"
            }
        }
    }
}

impl BearerError {
    fn parts(&self) -> (u16, &'static str, &str) {
        match self {
            BearerError::Missing => (401, "unauthorized", "an access token is required"),
            BearerError::InvalidRequest(d) => (400, "invalid_request", d),
            BearerError::InvalidToken(why) => (401, "invalid_token", why.description()),
            BearerError::InvalidDpopProof(why) => (401, "invalid_dpop_proof", why.description()),
            BearerError::InsufficientScope { refusal, .. } => {
                (403, "insufficient_scope", refusal.description())
            }
            BearerError::UnknownService => (404, "not_found", "no such service"),
            BearerError::RateLimited(_) => (
                429,
                "rate_limited",
                "this credential is over the service's rate limit; retry after Retry-After seconds",
            ),
            BearerError::Unavailable(_) => (503, "temporarily_unavailable", "try again shortly"),
            BearerError::Forward(_) => (400, "invalid_request", "the request cannot be forwarded"),
            BearerError::UpstreamCredential(_) => (502, "bad_gateway", "the origin is unavailable"),
        }
    }

    pub fn to_response(&self, challenge: &Challenge<'_>) -> Response {
        match self {
            BearerError::Forward(e) => return e.to_response(),
            // The same answer as any unreachable origin: nothing about the credential.
            BearerError::UpstreamCredential(_) => {
                return super::UpstreamError::Unreachable.to_response()
            }
            _ => {}
        }
        let (status, code, description) = self.parts();
        let header = match self {
            // §3.1: no error code for a request without a token.
            BearerError::Missing => Some(challenge.header(None)),
            // RFC 9449 §7.1: the DPoP scheme's own challenge, naming the algorithms, for a
            // proof refused and for a token sent under the wrong scheme (a bound token as
            // bearer, §7.2, or a bearer token under DPoP).
            BearerError::InvalidDpopProof(_)
            | BearerError::InvalidToken(
                TokenRefusal::DpopBoundAsBearer | TokenRefusal::NotDpopBound,
            ) => Some(challenge.dpop_header(code, description)),
            BearerError::InvalidRequest(_) | BearerError::InvalidToken(_) => {
                Some(challenge.header(Some((code, description, None))))
            }
            BearerError::InsufficientScope { scope, .. } => {
                Some(challenge.header(Some((code, description, Some(scope)))))
            }
            BearerError::UnknownService
            | BearerError::RateLimited(_)
            | BearerError::Unavailable(_)
            | BearerError::Forward(_)
            | BearerError::UpstreamCredential(_) => None,
        };
        let scope = match self {
            BearerError::InsufficientScope { scope, .. } => Some(scope.clone()),
            _ => None,
        };
        let body = ErrorBody {
            error: code.to_owned(),
            error_description: Some(description.to_owned()),
            scope,
        };
        let mut resp = Response::json(status, &body).with_header("cache-control", "no-store");
        if let BearerError::RateLimited(limited) = self {
            for (name, value) in limited.headers() {
                resp = resp.with_header(name, value);
            }
        }
        match header {
            Some(c) => resp.with_header("www-authenticate", c),
            None => resp,
        }
    }
}

/// What every challenge of a service says besides its error, and the one place a
/// `WWW-Authenticate` value for a service is written (RFC 6750 §3): the realm and, on a
/// service host, the URL of the service's protected resource metadata (RFC 9728 §5.1:
/// `resource_metadata`, so that a client holding no token, or the wrong one, finds out where
/// to get the right one). Another scheme's parameters (DPoP's `algs`, RFC 9449 §7.1) belong
/// here too.
#[derive(Clone, Copy, Debug)]
pub struct Challenge<'a> {
    pub realm: &'a str,
    /// `<service URL>/.well-known/oauth-protected-resource` ([`crate::resource::ServiceUrls`]).
    pub resource_metadata: Option<&'a str>,
}

impl<'a> Challenge<'a> {
    /// A challenge with the realm alone (no metadata to point at).
    pub fn realm(realm: &'a str) -> Challenge<'a> {
        Challenge {
            realm,
            resource_metadata: None,
        }
    }

    /// The `Bearer` challenge: `error` is (code, description, scope needed), absent for a
    /// request without a token (§3.1). Values are limited to what a quoted-string may hold
    /// (§3: printable ASCII without `"` and `\`).
    fn header(&self, error: Option<(&str, &str, Option<&str>)>) -> String {
        let mut v = format!("Bearer realm=\"{}\"", quote_safe(self.realm));
        let mut param = |name: &str, value: &str| {
            v.push_str(", ");
            v.push_str(name);
            v.push_str("=\"");
            v.push_str(&quote_safe(value));
            v.push('"');
        };
        if let Some((code, description, scope)) = error {
            param("error", code);
            param("error_description", description);
            if let Some(scope) = scope {
                param("scope", scope);
            }
        }
        if let Some(url) = self.resource_metadata {
            param("resource_metadata", url);
        }
        v
    }

    /// The `DPoP` challenge (RFC 9449 §7.1): the error, the algorithms a proof may use
    /// (`algs`), and the metadata URL as on a `Bearer` one.
    fn dpop_header(&self, code: &str, description: &str) -> String {
        let mut v = format!(
            "DPoP error=\"{}\", error_description=\"{}\", algs=\"{}\"",
            quote_safe(code),
            quote_safe(description),
            DpopAlg::challenge_list()
        );
        if let Some(url) = self.resource_metadata {
            v.push_str(", resource_metadata=\"");
            v.push_str(&quote_safe(url));
            v.push('"');
        }
        v
    }
}

impl fmt::Display for BearerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let BearerError::Forward(e) = self {
            return e.fmt(f);
        }
        let (_, code, description) = self.parts();
        write!(f, "{code}: {description}")
    }
}

impl Error for BearerError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            BearerError::Unavailable(e) => Some(e),
            BearerError::Forward(e) => Some(e),
            BearerError::UpstreamCredential(e) => Some(e),
            _ => None,
        }
    }
}

impl From<StoreError> for BearerError {
    fn from(e: StoreError) -> Self {
        BearerError::Unavailable(e)
    }
}

impl From<ForwardError> for BearerError {
    fn from(e: ForwardError) -> Self {
        BearerError::Forward(e)
    }
}

impl From<ProofFailure> for BearerError {
    fn from(e: ProofFailure) -> Self {
        match e {
            ProofFailure::Invalid(why) => BearerError::InvalidDpopProof(why),
            ProofFailure::Unavailable(e) => BearerError::Unavailable(e),
        }
    }
}
