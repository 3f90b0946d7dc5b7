//! The reason of an audit line, in a fixed vocabulary, and the one place where the core's
//! errors map to it. A new error variant fails to compile here until it has a reason.

use crate::client_assertion::AssertionFailure;
use crate::error::{
    AdminError, BearerError, ClientAuthFailure, ForwardError, GatewayError, ScopeRefusal,
    TokenError, TokenRefusal,
};
use crate::forward::UpstreamFailure;
use crate::token::TokenInvalid;

/// Why a request was refused (or, for a forward, why the origin's answer was replaced).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// A service request without an access token.
    MissingToken,
    /// A token, revocation, introspection or admin request without client authentication.
    MissingCredentials,
    /// The request (or the token in it) cannot be read as sent: RFC 6749 / 6750
    /// `invalid_request`, a broken Basic header, an unsafe path, a body that could not be read.
    Malformed,
    /// The token's signature is invalid, or by a key this gateway does not publish.
    BadSignature,
    /// A JWT that is not an access token (`typ` other than `at+jwt`, `alg` other than EdDSA).
    NotAccessToken,
    /// A token of another issuer or audience.
    WrongIssuer,
    Expired,
    NotYetValid,
    /// The token was revoked (RFC 7009).
    Revoked,
    /// The credential behind the token or secret was deleted, disabled or expired, or its
    /// user was.
    CredentialInactive,
    /// The token's scope does not name the service, or a token request asked for more than
    /// the credential may have (`invalid_scope`).
    Scope,
    /// The service's allowed users do not include the user.
    Policy,
    /// A deny rule of the service's policy matched the request ([`crate::policy`]).
    PolicyDenied,
    /// The service has policy rules and none matched the request (default deny).
    PolicyNoMatch,
    UnknownService,
    /// A host that is neither the root domain nor one of its services.
    UnknownHost,
    /// No such endpoint, or no such admin object.
    NotFound,
    MethodNotAllowed,
    /// A body over the endpoint's limit.
    TooLarge,
    /// No credential has the client id presented.
    UnknownClient,
    /// A wrong client secret, or a wrong (or missing) admin token.
    BadSecret,
    /// A client acting on a token that is not its own (RFC 7009 §2.1).
    UnauthorizedClient,
    UnsupportedGrantType,
    /// A revocation past the credential's bound of unexpired revocations.
    TooManyRevocations,
    /// An admin object of that name exists already.
    Conflict,
    /// The admin API is off (no `ISOGATE_ADMIN_TOKEN`).
    AdminDisabled,
    /// Storage was unavailable (answered 503).
    Unavailable,
    /// The service's stored upstream does not parse (answered 502).
    BadUpstream,
    /// The origin could not be reached or relayed (answered 502).
    UpstreamUnreachable,
    /// The origin did not answer in time (answered 504).
    UpstreamTimeout,
    /// Too many failed authentications (throttled guessing, answered 429).
    TooManyFailures,
    /// Over the credential's request rate on a service (answered 429).
    RateLimited,
    /// The origin's own credential could not be had: a missing secret, a failing token
    /// endpoint (answered 502; `crate::upstream_auth`).
    UpstreamCredential,
    /// A WebSocket handshake on a runtime that cannot carry one (Spin: answered 501).
    WebSocketUnsupported,
    /// The credential is disabled (`isogate update cred --disable`).
    CredentialDisabled,
    /// The credential has expired.
    CredentialExpired,
    /// The secret or token a rotation replaced, after its grace.
    Rotated,
    /// A `--max-uses` credential whose uses are spent.
    UsesExhausted,
    /// A token bound to other services by RFC 8707 `resource` (its `aud`), presented here.
    WrongResource,
    /// A token request's `resource` that is malformed, outside the scope or no service
    /// (RFC 8707 `invalid_target`).
    InvalidTarget,
    /// A DPoP proof (RFC 9449) missing where one is needed, or refused (`invalid_dpop_proof`).
    DpopProof,
    /// A DPoP-bound token presented as a bearer token, or a bearer token under the `DPoP`
    /// scheme.
    DpopBinding,
    /// A `private_key_jwt` client assertion refused: unreadable, by an unknown key, a bad
    /// signature, for another client or audience, expired or too long-lived (RFC 7523 §3).
    BadAssertion,
    /// A client assertion whose `jti` was used before (RFC 7523 §3 item 7).
    ReplayedAssertion,
}

impl Reason {
    /// Every reason, in the order the README lists them.
    pub const ALL: &'static [Reason] = &[
        Reason::MissingToken,
        Reason::MissingCredentials,
        Reason::Malformed,
        Reason::BadSignature,
        Reason::NotAccessToken,
        Reason::WrongIssuer,
        Reason::Expired,
        Reason::NotYetValid,
        Reason::Revoked,
        Reason::CredentialInactive,
        Reason::Scope,
        Reason::Policy,
        Reason::PolicyDenied,
        Reason::PolicyNoMatch,
        Reason::UnknownService,
        Reason::UnknownHost,
        Reason::NotFound,
        Reason::MethodNotAllowed,
        Reason::TooLarge,
        Reason::UnknownClient,
        Reason::BadSecret,
        Reason::UnauthorizedClient,
        Reason::UnsupportedGrantType,
        Reason::TooManyRevocations,
        Reason::Conflict,
        Reason::AdminDisabled,
        Reason::Unavailable,
        Reason::BadUpstream,
        Reason::UpstreamUnreachable,
        Reason::UpstreamTimeout,
        Reason::TooManyFailures,
        Reason::RateLimited,
        Reason::UpstreamCredential,
        Reason::WebSocketUnsupported,
        Reason::CredentialDisabled,
        Reason::CredentialExpired,
        Reason::Rotated,
        Reason::UsesExhausted,
        Reason::WrongResource,
        Reason::InvalidTarget,
        Reason::DpopProof,
        Reason::DpopBinding,
        Reason::BadAssertion,
        Reason::ReplayedAssertion,
    ];

    /// The reason's word in the log (the words in declaration order).
    pub fn as_str(self) -> &'static str {
        const WORDS: [&str; Reason::ALL.len()] = [
            "missing_token",
            "missing_credentials",
            "malformed",
            "bad_signature",
            "not_access_token",
            "wrong_issuer",
            "expired",
            "not_yet_valid",
            "revoked",
            "credential_inactive",
            "scope",
            "policy",
            "policy_denied",
            "policy_no_match",
            "unknown_service",
            "unknown_host",
            "not_found",
            "method_not_allowed",
            "too_large",
            "unknown_client",
            "bad_secret",
            "unauthorized_client",
            "unsupported_grant_type",
            "too_many_revocations",
            "conflict",
            "admin_disabled",
            "unavailable",
            "bad_upstream",
            "upstream_unreachable",
            "upstream_timeout",
            "too_many_failures",
            "rate_limited",
            "upstream_credential",
            "websocket_unsupported",
            "credential_disabled",
            "credential_expired",
            "rotated",
            "uses_exhausted",
            "wrong_resource",
            "invalid_target",
            "dpop_proof",
            "dpop_binding",
            "bad_assertion",
            "replayed_assertion",
        ];
        WORDS[self as usize]
    }
}

impl From<TokenInvalid> for Reason {
    fn from(why: TokenInvalid) -> Reason {
        match why {
            TokenInvalid::Malformed => Reason::Malformed,
            TokenInvalid::WrongType => Reason::NotAccessToken,
            TokenInvalid::UnknownKey | TokenInvalid::BadSignature => Reason::BadSignature,
            TokenInvalid::WrongIssuer | TokenInvalid::WrongAudience => Reason::WrongIssuer,
            TokenInvalid::Expired => Reason::Expired,
            TokenInvalid::NotYetValid => Reason::NotYetValid,
        }
    }
}

impl From<&BearerError> for Reason {
    fn from(e: &BearerError) -> Reason {
        match e {
            BearerError::Missing => Reason::MissingToken,
            BearerError::InvalidRequest(_) => Reason::Malformed,
            BearerError::InvalidToken(why) => match why {
                TokenRefusal::Invalid(why) => Reason::from(*why),
                TokenRefusal::CredentialInactive => Reason::CredentialInactive,
                TokenRefusal::CredentialDisabled => Reason::CredentialDisabled,
                TokenRefusal::CredentialExpired => Reason::CredentialExpired,
                TokenRefusal::Superseded => Reason::Rotated,
                TokenRefusal::Revoked => Reason::Revoked,
                TokenRefusal::BadScope => Reason::Malformed,
                TokenRefusal::OtherResource => Reason::WrongResource,
                TokenRefusal::DpopBoundAsBearer | TokenRefusal::NotDpopBound => Reason::DpopBinding,
            },
            BearerError::InvalidDpopProof(_) => Reason::DpopProof,
            BearerError::InsufficientScope { refusal, .. } => match refusal {
                ScopeRefusal::NotInScope => Reason::Scope,
                ScopeRefusal::Policy => Reason::Policy,
                ScopeRefusal::DeniedByRule => Reason::PolicyDenied,
                ScopeRefusal::NoRuleMatched => Reason::PolicyNoMatch,
            },
            BearerError::UnknownService => Reason::UnknownService,
            BearerError::Unavailable(_) => Reason::Unavailable,
            BearerError::Forward(e) => Reason::from(e),
            BearerError::RateLimited(_) => Reason::RateLimited,
            BearerError::UpstreamCredential(_) => Reason::UpstreamCredential,
        }
    }
}

impl From<&ForwardError> for Reason {
    fn from(e: &ForwardError) -> Reason {
        match e {
            ForwardError::UnsafePath(_)
            | ForwardError::InvalidContentLength
            | ForwardError::BodyNotSendable(_)
            | ForwardError::ChunkedBodyNotSendable(_)
            | ForwardError::NotAnUpgrade => Reason::Malformed,
            ForwardError::WebSocketUnsupported => Reason::WebSocketUnsupported,
            ForwardError::InvalidUpstream(_) => Reason::BadUpstream,
        }
    }
}

impl From<&TokenError> for Reason {
    fn from(e: &TokenError) -> Reason {
        match e {
            TokenError::MethodNotAllowed => Reason::MethodNotAllowed,
            TokenError::PayloadTooLarge => Reason::TooLarge,
            TokenError::InvalidRequest(_) => Reason::Malformed,
            TokenError::InvalidClient { failure, .. } => match failure {
                ClientAuthFailure::Missing => Reason::MissingCredentials,
                ClientAuthFailure::Malformed(_) => Reason::Malformed,
                ClientAuthFailure::UnknownClient => Reason::UnknownClient,
                ClientAuthFailure::BadSecret => Reason::BadSecret,
                ClientAuthFailure::Inactive => Reason::CredentialInactive,
                ClientAuthFailure::Disabled => Reason::CredentialDisabled,
                ClientAuthFailure::Expired => Reason::CredentialExpired,
                ClientAuthFailure::Rotated => Reason::Rotated,
                ClientAuthFailure::UsedUp => Reason::UsesExhausted,
                ClientAuthFailure::Assertion(AssertionFailure::Replayed) => {
                    Reason::ReplayedAssertion
                }
                ClientAuthFailure::Assertion(_) => Reason::BadAssertion,
                ClientAuthFailure::Federation(_) => Reason::BadAssertion,
            },
            TokenError::UnauthorizedClient(_) => Reason::UnauthorizedClient,
            TokenError::UnsupportedGrantType => Reason::UnsupportedGrantType,
            TokenError::InvalidScope(_) => Reason::Scope,
            TokenError::InvalidTarget(_) => Reason::InvalidTarget,
            TokenError::TooManyRevocations => Reason::TooManyRevocations,
            TokenError::Unavailable(_) => Reason::Unavailable,
            TokenError::Throttled { .. } => Reason::TooManyFailures,
            TokenError::InvalidDpopProof(_) => Reason::DpopProof,
        }
    }
}

impl From<&AdminError> for Reason {
    fn from(e: &AdminError) -> Reason {
        match e {
            AdminError::Unauthorized => Reason::BadSecret,
            AdminError::NotFound(_) => Reason::NotFound,
            AdminError::Conflict(_) => Reason::Conflict,
            AdminError::BadRequest(_) => Reason::Malformed,
            AdminError::MethodNotAllowed(_) => Reason::MethodNotAllowed,
            AdminError::PayloadTooLarge => Reason::TooLarge,
            AdminError::Disabled => Reason::AdminDisabled,
            AdminError::Unavailable(_) | AdminError::ClientIdsExhausted => Reason::Unavailable,
            AdminError::Throttled { .. } => Reason::TooManyFailures,
        }
    }
}

impl From<GatewayError> for Reason {
    fn from(e: GatewayError) -> Reason {
        match e {
            GatewayError::Misconfigured => Reason::Unavailable,
            GatewayError::UnknownHost => Reason::UnknownHost,
            GatewayError::NoSuchEndpoint => Reason::NotFound,
            GatewayError::UnreadableBody => Reason::Malformed,
            GatewayError::ReadOnly => Reason::MethodNotAllowed,
        }
    }
}

impl From<&UpstreamFailure> for Reason {
    fn from(failure: &UpstreamFailure) -> Reason {
        match failure {
            UpstreamFailure::TimedOut => Reason::UpstreamTimeout,
            UpstreamFailure::Unsendable(_)
            | UpstreamFailure::Unreachable(_)
            | UpstreamFailure::UnrelayableStatus(_) => Reason::UpstreamUnreachable,
        }
    }
}
