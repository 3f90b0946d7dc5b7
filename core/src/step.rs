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
pub(crate) use resume::{admin_context, admin_refused, Endpoint, Parts};

use crate::audit::{AuditContext, AuditRecord, Entry, ForwardRecord, Reason, REQUEST_ID_HEADER};
use crate::config::ConfigError;
use crate::error::{ForwardError, StoreError};
use crate::forward::{ForwardPlan, OutboundClient, UpstreamFailure};
use crate::http::Response;
use crate::service::session::Session;
use crate::upstream_auth::OriginCredentialError;
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
    /// Boxed: the request head it carries would make every step as large (steps move by
    /// value through the adapters' loop).
    NeedBody {
        limit: usize,
        resume: Box<Resume<'g>>,
    },
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
    /// A WebSocket's: what the runtime re-checks while the connection is open
    /// ([`crate::Gateway::check_connection`]).
    /// Boxed: most forwards have none, and steps move by value.
    pub session: Option<Box<Session>>,
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
        if let Some(e) = source.and_then(|s| s.downcast_ref::<OriginCredentialError>()) {
            return Some(Diagnostic::Upstream(UpstreamFailure::Unsendable(
                e.to_string(),
            )));
        }
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

#[cfg(test)]
mod tests;
