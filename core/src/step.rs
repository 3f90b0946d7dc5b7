//! The request state machine, in the manner of rustls' `ConnectionState`: each call tells the
//! runtime exactly what to do next, and the runtime does only that.
//!
//! ```text
//! Gateway::start(head, now) ─► Respond   { response, diagnostic, audit }  send it (log the
//!                           │                                           diagnostic, print the
//!                           │                                           audit line)
//!                           ├► NeedBody  { limit, resume }            read ≤ limit + 1 bytes, then
//!                           │      resume.finish(Body) ─► Respond     resume.finish(Complete | Unreadable)
//!                           └► Forward   { plan, timeout_ms, record } fetch the origin, relay per
//!                                                                     record.relay (forward::relay)
//! ```
//!
//! A runtime adapter is one loop over [`Step`]; no routing or error wording happens outside
//! the core. A [`Diagnostic`] says what the runtime should log (never a secret): a settings
//! error, the storage failure behind a 503, an upstream failure. The audit line
//! ([`crate::audit`]) is finished with the runtime's clock when the answer goes out.

mod resume;

pub use resume::Resume;
pub(crate) use resume::{Endpoint, Parts};

use crate::audit::{AuditContext, AuditRecord, Entry, ForwardRecord, Reason, REQUEST_ID_HEADER};
use crate::config::ConfigError;
use crate::error::{ForwardError, StoreError};
use crate::forward::{ForwardPlan, OutboundClient, UpstreamFailure};
use crate::http::Response;
use std::error::Error;
use std::fmt;

/// What the runtime does next with a request.
#[derive(Debug)]
pub enum Step<'g> {
    /// Send this response; log the diagnostic, if any; print the audit line
    /// ([`AuditRecord::finish`]), if any.
    Respond {
        response: Response,
        diagnostic: Option<Diagnostic>,
        audit: AuditRecord,
    },
    /// Read the request body, at most `limit + 1` bytes (enough for the core to tell "too
    /// large" without the runtime ever holding an unbounded body), then [`Resume::finish`].
    NeedBody { limit: usize, resume: Resume<'g> },
    /// Fetch the origin per the plan and relay its answer ([`crate::forward::relay`]).
    Forward(Forward),
}

/// An authorized service request: what to send the origin, how long to wait for its
/// response head before answering 504, and its audit record, which decides the relay
/// ([`ForwardRecord::relay`]).
#[derive(Clone, Debug)]
pub struct Forward {
    pub plan: ForwardPlan,
    pub timeout_ms: u64,
    pub record: ForwardRecord,
}

impl Forward {
    /// This forward, or, when the runtime's `client` cannot send its plan, the answer instead
    /// (a 400, audited as a denial; [`ForwardPlan::refusal_for`]).
    pub fn sendable_by<'g>(self, client: OutboundClient) -> Step<'g> {
        match self.plan.unsendable_by(client) {
            None => Step::Forward(self),
            Some(refused) => {
                let (response, audit) = self
                    .record
                    .refuse(refused.to_response(), Reason::from(&refused));
                Step::Respond {
                    response,
                    diagnostic: None,
                    audit,
                }
            }
        }
    }
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

impl Diagnostic {
    /// What to log about an error, from its `source`: the storage failure behind a 503, or
    /// the unusable upstream behind a 502. (Taking the source rather than the error keeps each
    /// error type's call static: no `dyn Error` of the endpoint errors is ever made.)
    pub(crate) fn behind(source: Option<&(dyn Error + 'static)>) -> Option<Diagnostic> {
        match source.and_then(|s| s.downcast_ref::<ForwardError>()) {
            Some(e @ ForwardError::InvalidUpstream(_)) => Some(Diagnostic::Upstream(
                UpstreamFailure::Unsendable(e.to_string()),
            )),
            _ => source
                .and_then(|s| s.downcast_ref::<StoreError>())
                .cloned()
                .map(Diagnostic::Storage),
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

    /// A response that is no decision (discovery, health): no audit line.
    pub(crate) fn respond(response: Response) -> Self {
        Step::Respond {
            response,
            diagnostic: None,
            audit: AuditRecord::none(),
        }
    }

    /// A decided answer: the request id on the response, the audit record of `entry`, and
    /// what to log ([`Diagnostic::behind`] an error).
    pub(crate) fn answer(
        audit: &AuditContext,
        entry: &Entry<'_>,
        response: Response,
        diagnostic: Option<Diagnostic>,
    ) -> Self {
        Step::Respond {
            response: response.with_header(REQUEST_ID_HEADER, audit.request_id()),
            diagnostic,
            audit: audit.record(entry),
        }
    }
}
