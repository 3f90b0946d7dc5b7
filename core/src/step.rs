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
use crate::error::{ForwardError, GatewayError, StoreError};
use crate::forward::{ForwardPlan, UpstreamFailure};
use crate::http::{RequestHead, Response};
use crate::mint::Minter;
use crate::oauth;
use crate::service::ServiceCaches;
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
    NeedBody { limit: usize, resume: Resume<'g> },
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

/// The root-domain endpoints that read a body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Token,
    Revoke,
    Introspect,
    Admin,
}

/// The parts of the isolate's state a resumed request may use.
#[derive(Clone, Copy)]
pub(crate) struct Parts<'g> {
    pub config: &'g GatewayConfig,
    pub minter: &'g Minter,
    pub verifier: &'g Verifier,
    pub caches: &'g ServiceCaches,
}

/// A root-domain request waiting for its body.
pub struct Resume<'g> {
    pub(crate) endpoint: Endpoint,
    pub(crate) head: RequestHead,
    pub(crate) now: Now,
    pub(crate) parts: Parts<'g>,
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
        } = self;
        let realm = &parts.config.realm;
        let answer = match endpoint {
            Endpoint::Token => oauth::token_endpoint(parts.minter, caps, &head, &body, now).await,
            Endpoint::Revoke => {
                let max = parts.config.max_revocations_per_credential;
                oauth::revocation_endpoint(
                    parts.verifier,
                    parts.caches,
                    max,
                    caps,
                    &head,
                    &body,
                    now,
                )
                .await
            }
            Endpoint::Introspect => {
                oauth::introspection_endpoint(parts.verifier, caps, &head, &body, now).await
            }
            Endpoint::Admin => {
                let ctx = AdminContext {
                    admin_token: parts.config.admin_token.as_deref(),
                    realm,
                    minter: parts.minter,
                    caches: parts.caches,
                };
                return match admin::handle(&ctx, caps, &head, &body, now).await {
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
