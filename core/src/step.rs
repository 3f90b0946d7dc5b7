//! The request state machine, in the manner of rustls' `ConnectionState`: each call tells the
//! runtime exactly what to do next, and the runtime does only that.
//!
//! ```text
//! Gateway::start(head, now) ─► Respond   { response, diagnostic }     send it (log the diagnostic)
//!                           ├► NeedBody  { limit, resume }            read ≤ limit + 1 bytes, then
//!                           │      resume.finish(Body) ─► Respond     resume.finish(Complete | Unreadable)
//!                           └► Forward   { plan, timeout_ms }         fetch the origin, relay per
//!                                                                     forward::relay
//! ```
//!
//! A runtime adapter is one loop over [`Step`]; no routing or error wording happens outside
//! the core. A [`Diagnostic`] says what the runtime should log (never a secret): a settings
//! error, the storage failure behind a 503, an upstream failure.

use crate::admin::{self, AdminContext};
use crate::capability::{Capabilities, Ed25519, Now, SqlDb};
use crate::config::{ConfigError, GatewayConfig};
use crate::error::{AdminError, ForwardError, GatewayError, StoreError, TokenError};
use crate::forward::{ForwardPlan, UpstreamFailure};
use crate::http::{Method, RequestHead, Response};
use crate::mint::Minter;
use crate::oauth;
use crate::service::ServiceCaches;
use crate::throttle::AuthThrottle;
use crate::token_request::MAX_TOKEN_REQUEST_BYTES;
use crate::verify::Verifier;
use std::error::Error;
use std::fmt;

/// What the runtime does next with a request.
#[derive(Debug)]
pub enum Step<'g> {
    /// Send this response; log the diagnostic, if any.
    Respond {
        response: Response,
        diagnostic: Option<Diagnostic>,
    },
    /// Read the request body, at most `limit + 1` bytes (enough for the core to tell "too
    /// large" without the runtime ever holding an unbounded body), then [`Resume::finish`].
    /// Boxed: the request head it carries would make every step as large (steps move by
    /// value through the adapters' loop).
    NeedBody {
        limit: usize,
        resume: Box<Resume<'g>>,
    },
    /// Fetch the origin per the plan and relay its answer ([`crate::forward::relay`]).
    Forward(Forward),
}

/// An authorized service request: what to send the origin, and how long to wait for its
/// response head before answering 504.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Forward {
    pub plan: ForwardPlan,
    pub timeout_ms: u64,
}

/// The request body as the runtime read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// The body, or its first `limit + 1` bytes.
    Complete(Vec<u8>),
    /// The runtime could not read it (the client went away, or sent a broken body). Answered
    /// 400 on every runtime: a truncated body is never judged as if it were complete.
    Unreadable,
}

/// What the runtime should log about a step. Its `Display` starts with `isogate: ` and never
/// contains a secret (settings are named, not shown; storage and upstream errors are the
/// runtime's own words, which carry no bound values).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Diagnostic {
    /// The settings do not make a gateway; answered 503 until they do.
    Config(ConfigError),
    /// Storage failed; answered 503 `temporarily_unavailable`.
    Storage(StoreError),
    /// The origin could not be reached or relayed; answered 502 or 504.
    Upstream(UpstreamFailure),
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Diagnostic::Config(e) => write!(f, "isogate: configuration error: {e}"),
            Diagnostic::Storage(e) => write!(f, "isogate: {e}"),
            Diagnostic::Upstream(e) => write!(f, "isogate: {e}"),
        }
    }
}

impl Error for Diagnostic {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Diagnostic::Config(e) => Some(e),
            Diagnostic::Storage(e) => Some(e),
            Diagnostic::Upstream(e) => Some(e),
        }
    }
}

impl From<UpstreamFailure> for Diagnostic {
    fn from(failure: UpstreamFailure) -> Self {
        Diagnostic::Upstream(failure)
    }
}

impl Step<'_> {
    /// What to log about this step, if anything.
    pub fn diagnostic(&self) -> Option<&Diagnostic> {
        match self {
            Step::Respond { diagnostic, .. } => diagnostic.as_ref(),
            _ => None,
        }
    }

    pub(crate) fn respond(response: Response) -> Self {
        Step::Respond {
            response,
            diagnostic: None,
        }
    }

    /// An error's response, with the storage failure or unusable upstream behind it (its
    /// `source`) as diagnostic.
    pub(crate) fn refuse(error: &dyn Error, response: Response) -> Self {
        let source = error.source();
        let diagnostic = match source.and_then(|s| s.downcast_ref::<ForwardError>()) {
            Some(e @ ForwardError::InvalidUpstream(_)) => Some(Diagnostic::Upstream(
                UpstreamFailure::Unsendable(e.to_string()),
            )),
            _ => source
                .and_then(|s| s.downcast_ref::<StoreError>())
                .cloned()
                .map(Diagnostic::Storage),
        };
        Step::Respond {
            response,
            diagnostic,
        }
    }
}

/// The most bytes of a request body a runtime reads and throws away when it answers without
/// the body: a refusal, a 413 from the declared length, a route that takes no body, or what is
/// left past the limit of one that does.
///
/// Why read at all: an HTTP/1.1 server answering while the body is still arriving must either
/// consume the rest or close the connection (RFC 9112 §9.6), and closing a socket with unread
/// bytes in it makes the kernel reset the connection, which can destroy the answer before the
/// client reads it. A small body is cheaper to drain than a new connection; a larger one is
/// not worth the gateway's time, and the runtime closes the connection instead.
pub const DRAIN_LIMIT_BYTES: usize = 64 * 1024;

/// What the runtime does with a request body that the answer did not need
/// ([`leftover_body`]), before it sends the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leftover {
    /// Read and discard at most `at_most` more bytes; if the body goes on past them, cancel
    /// (or drop) it.
    Drain { at_most: usize },
    /// Do not start on it: it is declared larger than [`DRAIN_LIMIT_BYTES`]. The runtime's
    /// HTTP server discards it or closes the connection after the answer. (Starting to read a
    /// body and cancelling it half way is what `wrangler dev`'s proxy cannot survive; leaving
    /// it unread is safe everywhere.)
    Abandon,
}

/// What to do with the unread rest of a request body, from its `Content-Length` (the raw
/// header value, when there is exactly one; the runtime has already checked the framing).
/// Without one, the body is chunked or absent, and draining finds out which.
pub fn leftover_body(content_length: Option<&str>) -> Leftover {
    match content_length.map(crate::http::content_length) {
        Some(Some(declared)) if declared > DRAIN_LIMIT_BYTES as u64 => Leftover::Abandon,
        Some(None) => Leftover::Abandon,
        _ => Leftover::Drain {
            at_most: DRAIN_LIMIT_BYTES,
        },
    }
}

/// The root-domain endpoints that read a body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Token,
    Revoke,
    Introspect,
    Admin,
}

impl Endpoint {
    /// The most body bytes the endpoint accepts.
    pub(crate) fn limit(self) -> usize {
        match self {
            Endpoint::Admin => admin::MAX_ADMIN_BODY_BYTES,
            _ => MAX_TOKEN_REQUEST_BYTES,
        }
    }

    /// What the endpoint refuses from the head alone, so that no byte of the body is read for
    /// it: the wrong method (OAuth endpoints), a declared length over the limit. The same
    /// checks, in the same order, as after reading, so a chunked body gets the same answer as
    /// one whose length was declared. (The admin credential is checked before these, and
    /// before the body, by the gateway: [`admin::authorize`] reads storage.)
    pub(crate) fn refuse_before_body(
        self,
        head: &RequestHead,
        parts: &Parts<'_>,
    ) -> Option<Response> {
        let too_large = head
            .declared_length()
            .is_some_and(|n| n > self.limit() as u64);
        let realm = &parts.config.realm;
        if self == Endpoint::Admin {
            let refused = too_large.then_some(AdminError::PayloadTooLarge);
            return refused.map(|e| e.to_response(realm));
        }
        let refused = if head.method != Method::Post {
            Some(TokenError::MethodNotAllowed)
        } else {
            too_large.then_some(TokenError::PayloadTooLarge)
        };
        refused.map(|e| e.to_response(realm))
    }
}

pub(crate) fn admin_context<'g>(parts: &Parts<'g>) -> AdminContext<'g> {
    AdminContext {
        admin_token: parts.config.admin_token.as_deref(),
        realm: &parts.config.realm,
        minter: parts.minter,
        caches: parts.caches,
        throttle: parts.throttle,
    }
}

/// The parts of the isolate's state a resumed request may use.
#[derive(Clone, Copy)]
pub(crate) struct Parts<'g> {
    pub config: &'g GatewayConfig,
    pub minter: &'g Minter,
    pub verifier: &'g Verifier,
    pub caches: &'g ServiceCaches,
    pub throttle: &'g AuthThrottle,
}

/// A root-domain request waiting for its body.
pub struct Resume<'g> {
    pub(crate) endpoint: Endpoint,
    pub(crate) head: RequestHead,
    pub(crate) now: Now,
    pub(crate) parts: Parts<'g>,
    /// The admin credential's check, passed before the body was read (admin requests only).
    pub(crate) authorized: Option<admin::Authorized>,
}

impl fmt::Debug for Resume<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resume")
            .field("endpoint", &self.endpoint)
            .field("path", &self.head.path)
            .finish_non_exhaustive()
    }
}

impl<'g> Resume<'g> {
    /// Runs the endpoint on the body the runtime read.
    pub async fn finish<D: SqlDb, E: Ed25519>(
        self,
        caps: Capabilities<'_, D, E>,
        body: Body,
    ) -> Step<'g> {
        let body = match body {
            Body::Complete(body) => body,
            Body::Unreadable => return Step::respond(GatewayError::UnreadableBody.to_response()),
        };
        let Resume {
            endpoint,
            head,
            now,
            parts,
            authorized,
        } = self;
        let realm = &parts.config.realm;
        let answer = match endpoint {
            Endpoint::Token => {
                oauth::token_endpoint(parts.minter, parts.throttle, caps, &head, &body, now).await
            }
            Endpoint::Revoke => {
                let max = parts.config.max_revocations_per_credential;
                let (verifier, caches, throttle) = (parts.verifier, parts.caches, parts.throttle);
                oauth::revocation_endpoint(verifier, caches, max, throttle, caps, &head, &body, now)
                    .await
            }
            Endpoint::Introspect => {
                let (verifier, throttle) = (parts.verifier, parts.throttle);
                oauth::introspection_endpoint(verifier, throttle, caps, &head, &body, now).await
            }
            Endpoint::Admin => {
                let ctx = admin_context(&parts);
                let Some(authorized) = authorized else {
                    return Step::respond(AdminError::Unauthorized.to_response(realm));
                };
                return match admin::handle(&ctx, caps, &head, &body, now, authorized).await {
                    Ok(response) => Step::respond(response),
                    Err(e) => Step::refuse(&e, e.to_response(realm)),
                };
            }
        };
        match answer {
            Ok(response) => Step::respond(response),
            Err(e) => Step::refuse(&e, e.to_response(realm)),
        }
    }
}

#[cfg(test)]
mod tests;
